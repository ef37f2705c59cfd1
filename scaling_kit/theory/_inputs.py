"""Input checks shared by the theory simulations (random generators, sizes, covariances)."""

from __future__ import annotations

import numpy as np


def _rng(random_state):
    return np.random.default_rng(random_state)


def _check_positive_int(value, name):
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _check_ks(ks, minimum):
    ks = np.asarray(ks)
    if ks.ndim != 1 or ks.size < 1:
        raise ValueError(f"ks must be a non-empty 1-D sequence of dataset sizes; got shape {ks.shape}.")
    if not np.all(np.isfinite(ks)) or np.any(ks != np.round(ks)):
        raise ValueError(f"ks must hold integers; got {ks!r}.")
    ks = ks.astype(int)
    if np.any(ks < minimum):
        raise ValueError(f"every k must be at least {minimum} here; got min(ks) = {ks.min()}.")
    if np.any(np.diff(ks) <= 0):
        raise ValueError("ks must be strictly increasing.")
    return ks


def _check_cov(cov, name="cov"):
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {cov.shape}.")
    if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T):
        raise ValueError(f"{name} must be finite and symmetric.")
    if np.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError(f"{name} must be positive definite.")
    return cov
