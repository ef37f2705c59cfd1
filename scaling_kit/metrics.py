"""Test losses used to define a marginal contribution (docs/math.md §3; Covert et al. 2024, §2).

Each metric maps class log-probabilities (or probabilities) on a test set to one number; lower
is better, so a contribution ``Delta = loss(D) - loss(D + {z})`` is positive when z helps.

* ``log_loss`` (default): mean true cross-entropy ``-mean_i log p_i[y_i]``;
  equals :func:`sklearn.metrics.log_loss`.
* ``softmax_ce``: the public reference code's metric, ``torch.nn.functional.cross_entropy``
  applied to *probabilities*, i.e. ``-mean_i log softmax(p_i)[y_i]`` (bounded and flat).
* ``error``: 0-1 error rate ``mean_i [argmax p_i != y_i]`` (ties go to the lower class index).
* ``brier``: multiclass Brier score ``mean_i sum_c (p_ic - [y_i = c])^2`` (Brier 1950);
  equals ``sklearn.metrics.brier_score_loss(..., scale_by_half=False)``.

All functions accept leading batch axes: ``logp`` of shape ``(..., n, K)`` gives ``(...)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

__all__ = ["METRICS", "check_metrics", "losses_from_logp", "losses_from_proba"]

METRICS = ("log_loss", "softmax_ce", "error", "brier")


def check_metrics(metric, name: str = "metric") -> tuple:
    """Normalize ``metric`` (a name or a list of names) to a tuple of known names."""
    if isinstance(metric, str):
        names = (metric,)
    elif isinstance(metric, (list, tuple)):
        names = tuple(metric)
    else:
        raise TypeError(f"{name} must be a metric name or a list of names among {METRICS}; "
                        f"got {metric!r} ({type(metric).__name__}).")
    if not names:
        raise ValueError(f"{name}: give at least one metric among {METRICS}.")
    for entry in names:
        if not isinstance(entry, str):
            raise TypeError(f"{name} must hold metric names (strings); got {entry!r}.")
        if entry not in METRICS:
            raise ValueError(f"{name}: unknown metric {entry!r}; choose among {METRICS}.")
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: metrics must not repeat; got {names}.")
    return names


def _check_targets(values, y, name: str):
    """``values`` (..., n, K) with K >= 2 and labels ``y`` (n,) in 0..K-1."""
    if values.ndim < 2 or values.shape[-1] < 2:
        raise ValueError(f"{name} must have shape (..., n, K) with one column per class (K >= 2); "
                         f"got shape {values.shape}.")
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != values.shape[-2]:
        raise ValueError(f"y must be 1-D with one label per row of {name} ({values.shape[-2]}); "
                         f"got shape {y.shape}.")
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels 0..K-1; got dtype {y.dtype}.")
    if y.size == 0:
        raise ValueError("y is empty; losses need at least one test point.")
    if y.min() < 0 or y.max() >= values.shape[-1]:
        raise ValueError(f"y must hold labels 0..{values.shape[-1] - 1} (the columns of {name}); "
                         f"got values in [{y.min()}, {y.max()}].")
    return y


def losses_from_logp(logp, y, metrics) -> dict:
    """Losses from class log-probabilities ``logp`` (..., n, K) and labels ``y`` (n,).

    Returns ``{metric: array of shape (...)}``. ``-inf`` (probability 0) is allowed; NaN and
    ``+inf`` are not.
    """
    logp = np.asarray(logp, dtype=float)
    y = _check_targets(logp, y, "logp")
    if np.isnan(logp).any() or np.isposinf(logp).any():
        raise ValueError("logp contains NaN or +inf; log-probabilities must be <= 0.")
    out = {}
    picked = np.take_along_axis(logp, np.broadcast_to(y[:, None], logp.shape[:-1] + (1,)), axis=-1)[..., 0]
    for name in check_metrics(metrics):
        if name == "log_loss":
            out[name] = -picked.mean(axis=-1)
        elif name == "softmax_ce":
            p = np.exp(logp)
            p_y = np.take_along_axis(p, np.broadcast_to(y[:, None], p.shape[:-1] + (1,)), axis=-1)[..., 0]
            out[name] = np.mean(logsumexp(p, axis=-1) - p_y, axis=-1)
        elif name == "error":
            out[name] = np.mean(np.argmax(logp, axis=-1) != y, axis=-1)
        elif name == "brier":
            p = np.exp(logp)
            onehot = y[:, None] == np.arange(p.shape[-1])
            out[name] = np.mean(np.sum((p - onehot) ** 2, axis=-1), axis=-1)
    return out


def losses_from_proba(proba, y, metrics) -> dict:
    """Losses from probabilities (..., n, K), clipped to [eps, 1 - eps] as scikit-learn's
    ``log_loss`` does (eps = machine epsilon), so an exact zero costs -log(eps) ~ 36."""
    proba = np.asarray(proba, dtype=float)
    _check_targets(proba, y, "proba")
    if np.any(~np.isfinite(proba)):
        raise ValueError("proba contains NaN or infinite values.")
    if proba.size and (proba.min() < -1e-12 or proba.max() > 1.0 + 1e-12):  # a few ulps of slack
        raise ValueError(f"proba must hold probabilities in [0, 1]; got values in "
                         f"[{proba.min():.3g}, {proba.max():.3g}].")
    eps = np.finfo(float).eps
    return losses_from_logp(np.log(np.clip(proba, eps, 1 - eps)), y, metrics)
