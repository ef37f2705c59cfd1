"""The reference definition of a marginal contribution: two independent fits.

``Delta(z, D) = loss(model fit on D) - loss(model fit on D + {z})`` on a held-out test set
(Covert et al. 2024, §2; docs/math.md §3). Positive means z helps.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_problem, check_array, check_int, check_labels, seed_sequence
from ..backends import get_backend
from ..metrics import check_metrics

__all__ = ["check_problem", "exact_contribution"]


def _check_point(x_z, n_features: int) -> np.ndarray:
    x = np.asarray(x_z)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    x = check_array(x, "x_z", ndim=1)
    if x.shape[0] != n_features:
        raise ValueError(f"x_z must have {n_features} features (as X_D); got {x.shape[0]}.")
    return x


def exact_contribution(learner, X_D, y_D, x_z, y_z, X_test, y_test, *, metric="log_loss",
                       n_classes=None, random_state=None):
    """One marginal contribution from its definition: two independent fits.

    ``Delta(z, D) = loss(fit on D) - loss(fit on D + {z})`` on ``(X_test, y_test)``, each fit
    through the learner's backend (:func:`scaling_kit.backends.get_backend`; a random learner
    gets the same seed, from ``random_state``, for both fits). ``metric`` is a name or a list
    (then a dict ``{metric: Delta}`` is returned). Labels are integers ``0..K-1`` with
    ``K = n_classes`` (default ``max(y_D) + 1``); ``y_D`` must contain every class and ``y_z``
    must be one of them.
    """
    metrics = check_metrics(metric)
    backend = get_backend(learner)
    X_D = check_array(X_D, "X_D")
    y_D = check_labels(y_D, "y_D", X_D.shape[0])
    x_z = _check_point(x_z, X_D.shape[1])
    X_test = check_array(X_test, "X_test")
    y_test = check_labels(y_test, "y_test", X_test.shape[0])
    if X_test.shape[1] != X_D.shape[1]:
        raise ValueError(f"X_test has {X_test.shape[1]} features but X_D has {X_D.shape[1]}.")
    K = int(y_D.max() + 1) if n_classes is None else check_int(n_classes, "n_classes", low=2)
    y_z = check_int(y_z, "y_z", low=0)
    if y_z >= K:
        raise ValueError(f"y_z must be a class label 0..{K - 1} (the classes of y_D"
                         f"{'' if n_classes is None else ' / n_classes'}); got {y_z}.")
    missing = np.setdiff1d(np.arange(K), y_D).tolist()
    if missing:
        raise ValueError(f"y_D misses classes {missing} of 0..{K - 1}; the fit on D must see "
                         "every class (a stratified D contains each).")
    if y_D.max() >= K:
        raise ValueError(f"y_D has labels >= n_classes={K}; labels must be 0..{K - 1}.")
    unseen = np.setdiff1d(y_test, np.arange(K)).tolist()
    if unseen:
        raise ValueError(f"y_test has labels {unseen} unseen in y_D (classes 0..{K - 1}).")
    seed = int(seed_sequence(random_state).generate_state(1)[0])
    X_Dz = np.vstack([X_D, x_z])
    y_Dz = np.append(y_D, y_z)
    before = backend.fit_losses(X_D[None], y_D[None], X_test, y_test, K, metrics, seed=seed)
    after = backend.fit_losses(X_Dz[None], y_Dz[None], X_test, y_test, K, metrics, seed=seed)
    deltas = {name: float(before[name][0] - after[name][0]) for name in metrics}
    return deltas[metrics[0]] if isinstance(metric, str) else deltas


def check_problem(X_pool, y_pool, X_test, y_test):
    """Validate a pool and a test set; return ``(X_pool, y_pool, X_test, y_test, K)``.

    Kept for callers written before :func:`scaling_kit._checks.as_problem` (which it calls);
    new code takes ``data`` and calls ``as_problem(data)``.
    """
    p = as_problem((X_pool, y_pool, X_test, y_test))
    return p.X_pool, p.y_pool, p.X_test, p.y_test, p.n_classes
