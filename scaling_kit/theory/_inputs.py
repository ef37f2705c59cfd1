"""Input checks shared by the theory simulations (dataset sizes, covariance matrices).

Scalars, random states and size lists go through :mod:`scaling_kit._checks`; what is specific
to the simulations lives here.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_sizes


def _check_ks(ks, minimum, why):
    """Strictly increasing dataset sizes, each at least ``minimum`` (``why`` says why)."""
    ks = check_sizes(ks, "ks")
    if np.any(np.diff(ks) <= 0):
        raise ValueError(f"ks must be strictly increasing; got {ks.tolist()}.")
    if ks.min() < minimum:
        raise ValueError(f"ks: every k must be at least {minimum} here ({why}); got "
                         f"min(ks) = {ks.min()}.")
    return ks


def _check_cov(cov, name="cov"):
    """A finite, symmetric, positive definite matrix."""
    try:
        cov = np.atleast_2d(np.asarray(cov, dtype=float))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric square matrix; got {cov!r}.") from None
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {cov.shape}.")
    if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T):
        raise ValueError(f"{name} must be finite and symmetric.")
    if np.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError(f"{name} must be positive definite.")
    return cov
