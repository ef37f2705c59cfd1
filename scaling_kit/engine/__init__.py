"""The exact contribution engine for L2 logistic regression (docs/engine.md, docs/math.md §7).

For one drawn dataset D shared by many candidate points z not in D, it returns the exact
minimizers of J_D and of every J_{D+z} (scikit-learn's ``LogisticRegression(C)`` objective,
:class:`scaling_kit.logistic.LogisticProblem`) and their test losses, far faster than one fit
per dataset, and verified (:mod:`scaling_kit.engine.guard`):

1. :func:`fit_datasets`: each D to machine precision, and ``H_D^{-1}`` as a preconditioner
   (:mod:`~scaling_kit.engine.datasets`);
2. :func:`solve_candidates_batch`: all D + {z} of a batch of rounds together, by warm-started
   chord steps with an exact low-rank correction and Anderson acceleration
   (:mod:`~scaling_kit.engine.candidates`), with double-precision passes over D
   (:mod:`~scaling_kit.engine.passes`);
3. :func:`test_losses` / :func:`test_log_proba`: losses on the test set.

:func:`standardized_problem` puts the features in standardized coordinates with the matching
per-feature penalty first: the same minimizer and the same predictions (exact, see
:mod:`scaling_kit.logistic`), and well-conditioned Hessians for features of any scale.
"""

from __future__ import annotations

from ..logistic import LogisticProblem, augment, standardization, to_standard_features
from .candidates import solve_candidates, solve_candidates_batch
from .datasets import fit_dataset, fit_datasets
from .guard import ACCEPT_LIMIT
from .passes import test_log_proba, test_losses

__all__ = [
    "ACCEPT_LIMIT",
    "fit_dataset",
    "fit_datasets",
    "solve_candidates",
    "solve_candidates_batch",
    "standardized_problem",
    "test_log_proba",
    "test_losses",
]


def standardized_problem(X_pool, X_test, n_classes, C):
    """``(problem, Xa_pool, Xa_test)`` in standardized coordinates for the engine.

    Features are centred and scaled by the pool's means and standard deviations
    (``x~ = (x - mu) / s``, a constant feature keeps scale 1) and augmented with the intercept
    column; ``problem`` penalizes ``w~_j^2 / (2 C s_j^2)``. Its minimizers are those of
    ``LogisticRegression(C)`` on the original features, reparametrized (``w~ = s w``,
    ``b~ = b + w . mu``), so every test loss and contribution is the same.
    """
    Xa_pool = augment(X_pool)
    shift, scale = standardization(Xa_pool)
    problem = LogisticProblem(Xa_pool.shape[1] - 1, n_classes, C, feature_scale=scale)
    return (problem, to_standard_features(Xa_pool, shift, scale),
            to_standard_features(augment(X_test), shift, scale))
