"""Test losses used to define a marginal contribution (MATH.md §2; Covert et al. 2024, §2).

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


def check_metrics(metric) -> tuple:
    """Normalize ``metric`` (a name or a list of names) to a tuple of known names."""
    names = (metric,) if isinstance(metric, str) else tuple(metric)
    if not names:
        raise ValueError(f"Give at least one metric among {METRICS}.")
    for name in names:
        if name not in METRICS:
            raise ValueError(f"Unknown metric {name!r}; choose among {METRICS}.")
    if len(set(names)) != len(names):
        raise ValueError(f"Metrics must not repeat; got {names}.")
    return names


def losses_from_logp(logp, y, metrics) -> dict:
    """Losses from class log-probabilities ``logp`` (..., n, K) and labels ``y`` (n,).

    Returns ``{metric: array of shape (...)}``.
    """
    logp = np.asarray(logp, dtype=float)
    y = np.asarray(y)
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
    if proba.shape[-1] < 2:
        raise ValueError("Probabilities need one column per class (at least two).")
    if np.any(~np.isfinite(proba)):
        raise ValueError("Predicted probabilities contain NaN or infinite values.")
    eps = np.finfo(float).eps
    return losses_from_logp(np.log(np.clip(proba, eps, 1 - eps)), y, metrics)
