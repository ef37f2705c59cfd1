"""The valuation and point-addition experiment of notebook 05 (Covert et al., ICML 2024,
Sections 4.3-4.4; MATH.md section 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..learners import ExactLogisticRegression
from .addition import point_addition, selection_scores
from .shapley import (
    ShapleyComparison,
    _check_k_range,
    amortized_shapley_estimator,
    compare_shapley_estimators,
    likelihood_shapley_estimator,
    monte_carlo_shapley,
)

__all__ = ["ValuationExperiment", "valuation_experiment"]


# ------------------------------------------------------------------------------------------
# the whole experiment (notebook 05 and the report section)
# ------------------------------------------------------------------------------------------
@dataclass
class ValuationExperiment:
    """Everything notebook 05 shows: Tables 3/4 (``comparison``) and 5-8 (``addition``).

    Attributes
    ----------
    candidates : pool indices of the valued / candidate points.
    truth_samples, estimate_samples : the two independent contribution tables.
    ground_truth : Monte Carlo Shapley values from ``truth_samples`` (log loss).
    comparison : :class:`ShapleyComparison` (estimators from ``estimate_samples``).
    laws : dict ``selection metric -> ScalingLawResults`` fitted on ``truth_samples``.
    scores : dict ``selection metric -> {method: Series}`` (see :func:`selection_scores`).
    addition : dict ``selection metric -> PointAdditionResults``.
    """

    candidates: np.ndarray
    truth_samples: pd.DataFrame
    estimate_samples: pd.DataFrame
    ground_truth: pd.DataFrame
    comparison: ShapleyComparison
    laws: dict
    scores: dict
    addition: dict
    settings: dict = field(default_factory=dict)


def valuation_experiment(dataset, *, n_points: int = 200, k_range=(100, 1000),
                         n_truth: int = 300, n_samples=(10, 20, 50), k0=(100, 1000),
                         n_add: int = 20, n_repeats: int = 100,
                         selection_metrics=("error", "log_loss"), amortized: bool = True,
                         amortized_kwargs=None, learner=None, stratify: bool = True,
                         random_state: int = 0, cache=None, n_jobs: int = 1,
                         progress: bool = False) -> ValuationExperiment:
    """Run the valuation and point-addition experiments of Sections 4.3-4.4 on one dataset.

    1. ``n_points`` candidates drawn from the pool (``random_state``).
    2. Ground truth: ``n_truth`` contributions per candidate with ``k`` uniform on
       ``k_range`` (log loss and every selection metric from the same fits); its Monte Carlo
       mean is the ground-truth Shapley value (log loss).
    3. An independent table of ``max(n_samples)`` contributions per candidate feeds the
       Monte Carlo, likelihood and (``amortized=True``) amortized estimators with the first
       10, 20, 50 ... samples (Tables 3 / 4).
    4. For each selection metric, a likelihood law fitted on the ground-truth samples (the
       paper fits on 500 samples) scores the candidates at every ``k0`` ("Scaling k0"), the
       ground-truth Shapley value in that metric gives "Shapley", and :func:`point_addition`
       adds ``n_add`` points to random datasets of each size ``k0`` (Tables 5-8). The gain is
       measured in accuracy, so the ``"error"`` metric (0-1 loss) values points in the unit
       of the outcome; ``"log_loss"`` is the loss the laws are usually fitted on.
    """
    from ..contributions import sample_contributions
    from ..laws.likelihood import fit_likelihood

    learner = ExactLogisticRegression(C=1.0) if learner is None else learner
    k_lo, k_hi = _check_k_range(k_range)
    n_pool = len(dataset.y_pool)
    if int(n_points) != n_points or not 3 <= n_points < n_pool:
        raise ValueError(f"n_points must be an integer in 3..{n_pool - 1}.")
    ns = sorted({int(n) for n in np.atleast_1d(n_samples)})
    if ns[0] < 3:
        raise ValueError("n_samples must be >= 3 (the likelihood needs 3 samples a point).")
    if int(n_truth) != n_truth or n_truth < ns[-1]:
        raise ValueError("n_truth must be an integer >= max(n_samples).")
    metrics = list(dict.fromkeys(["log_loss", *selection_metrics]))
    rng = np.random.default_rng(np.random.SeedSequence(int(random_state), spawn_key=(0,)))
    candidates = np.sort(rng.choice(n_pool, size=int(n_points), replace=False))
    args = (learner, dataset.X_pool, dataset.y_pool, dataset.X_test, dataset.y_test, candidates)
    common = dict(k_range=(k_lo, k_hi), cache=cache, n_jobs=n_jobs, progress=progress)
    truth_samples = sample_contributions(*args, n_samples=int(n_truth), metric=metrics,
                                         random_state=int(random_state) + 1, **common)
    estimate_samples = sample_contributions(*args, n_samples=ns[-1], metric="log_loss",
                                            random_state=int(random_state) + 2, **common)
    truth = monte_carlo_shapley(truth_samples, delta_col="delta_log_loss")
    estimators = {
        "Monte Carlo": lambda s, delta_col="delta": monte_carlo_shapley(
            s, delta_col=delta_col)["value"],
        "Likelihood": likelihood_shapley_estimator((k_lo, k_hi)),
    }
    if amortized:
        estimators["Amortized"] = amortized_shapley_estimator(
            dataset.X_pool, dataset.y_pool, (k_lo, k_hi),
            **{"random_state": int(random_state), **(amortized_kwargs or {})})
    comparison = compare_shapley_estimators(estimate_samples, truth["value"], (k_lo, k_hi),
                                            n_samples=ns, estimators=estimators)
    laws, scores, addition = {}, {}, {}
    for m in selection_metrics:
        col = f"delta_{m}"
        laws[m] = fit_likelihood(truth_samples, delta_col=col)
        scores[m] = selection_scores(laws[m], k0, shapley=monte_carlo_shapley(
            truth_samples, delta_col=col)["value"])
        addition[m] = point_addition(learner, dataset.X_pool, dataset.y_pool, dataset.X_test,
                                     dataset.y_test, candidates, scores[m], k0, n_add=n_add,
                                     n_repeats=n_repeats, stratify=stratify,
                                     random_state=int(random_state) + 3, progress=progress)
    settings = dict(dataset=getattr(dataset, "name", "custom"), n_points=int(n_points),
                    k_range=(k_lo, k_hi), n_truth=int(n_truth), n_samples=ns,
                    k0=[int(k) for k in np.atleast_1d(k0)], n_add=int(n_add),
                    n_repeats=int(n_repeats),
                    selection_metrics=list(selection_metrics), stratify=stratify)
    return ValuationExperiment(candidates, truth_samples, estimate_samples, truth, comparison,
                               laws, scores, addition, settings)
