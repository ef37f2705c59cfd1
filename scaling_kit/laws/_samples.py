"""Sampled contributions of many points as padded arrays (shared by every estimator of laws).

A fit reads a tidy table (one row per sample: ``point``, ``k`` and a contribution column) or
the three arrays ``point``, ``k``, ``delta``, checks them once (:func:`as_samples`) and packs
them into ``(n_points, n_max)`` arrays (:func:`pad`), one row per point, so that every
estimator is vectorized over points. Two numerical conventions are applied here:

* sizes are centred per point, ``u = log k - mean(log k)``, i.e. at the point's geometric-mean
  size ``k0``, so that powers ``k^-alpha`` stay well scaled (docs/math.md §5);
* contributions are divided by the point's root mean square ``s``. The model
  ``Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)`` is scale-equivariant (``c`` and ``sigma``
  scale with the data, ``alpha`` and ``beta`` do not), so the fit is done on ``Delta / s`` and
  ``c``, ``sigma`` are multiplied back: contributions of size 1e-150 or 1e+150 are fitted as
  accurately as those of size 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import check_array, check_number

__all__: list = []


@dataclass
class Padded:
    """Samples of every point as padded ``(P, n_max)`` arrays (padding has ``mask == 0``)."""

    points: np.ndarray  # (P,) point ids, sorted
    delta: np.ndarray  # (P, n) contributions / scale, 0 where padded
    u: np.ndarray  # (P, n) centred log k, 0 where padded
    mask: np.ndarray | None  # (P, n) 1.0 for real samples; None if no padding
    n: np.ndarray  # (P,) number of samples (float)
    log_k0: np.ndarray  # (P,) mean log k of each point
    scale: np.ndarray  # (P,) root mean square of each point's contributions (1 if all zero)
    k_min: float
    k_max: float

    def subset(self, idx) -> Padded:
        """The points ``idx`` (an index array) as a new :class:`Padded`."""
        mask = None if self.mask is None else self.mask[idx]
        return Padded(self.points[idx], self.delta[idx], self.u[idx], mask, self.n[idx],
                      self.log_k0[idx], self.scale[idx], self.k_min, self.k_max)


def as_samples(data=None, point=None, k=None, delta=None, delta_col="delta"):
    """Validate the tidy table or the three arrays; return flat ``(point, k, delta)``.

    Raises ``TypeError`` for a wrong type and ``ValueError`` for a bad value; each message
    names the argument and says what to do.
    """
    if not isinstance(delta_col, str):
        raise TypeError(f"delta_col must be a column name (str); got {delta_col!r}.")
    if data is not None:
        if not isinstance(data, pd.DataFrame):
            raise TypeError(
                "data must be a pandas DataFrame with columns 'point', 'k' and "
                f"{delta_col!r} (e.g. from sample_contributions); got {type(data).__name__}. "
                "Or pass the arrays point=, k=, delta= instead."
            )
        if point is not None or k is not None or delta is not None:
            raise ValueError("Pass either data (a DataFrame) or the arrays point=, k=, delta=, "
                             "not both.")
        missing = [col for col in ("point", "k", delta_col) if col not in data.columns]
        if missing:
            raise ValueError(
                f"data lacks column(s) {missing}; it has {list(data.columns)}. Use delta_col= "
                "to name the contribution column (e.g. 'delta_error')."
            )
        point, k, delta = (data["point"].to_numpy(), data["k"].to_numpy(),
                           data[delta_col].to_numpy())
    elif point is None or k is None or delta is None:
        raise ValueError("Give data (a tidy DataFrame), or all three arrays point=, k= and "
                         "delta=.")
    point, k, delta = np.asarray(point), np.asarray(k), np.asarray(delta)
    for name, arr in (("point", point), ("k", k), ("delta", delta)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    if not (len(point) == len(k) == len(delta)):
        raise ValueError(
            f"point, k and delta must have the same length; got {len(point)}, {len(k)}, "
            f"{len(delta)}."
        )
    if len(delta) == 0:
        raise ValueError("delta is empty: no samples given. Sample contributions first.")
    for name, arr in (("k", k), ("delta", delta)):
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}.")
    k = k.astype(float)
    delta = delta.astype(float)
    if not np.all(np.isfinite(delta)):
        raise ValueError(
            f"delta has {int(np.sum(~np.isfinite(delta)))} NaN/inf value(s); drop or fix those "
            "samples before fitting."
        )
    if not np.all(np.isfinite(k)):
        raise ValueError("k has NaN/inf values; every sample needs a finite dataset size.")
    if np.any(k <= 0):
        raise ValueError(
            f"k (dataset sizes) must be positive (the law is c k^-alpha); got min k = "
            f"{k.min():g}."
        )
    if pd.isna(point).any():
        raise ValueError("point has missing ids; every sample needs the id of its point.")
    return point, k, delta


def pad(point, k, delta, min_samples=3, check_spread=True) -> Padded:
    """Pack flat samples into per-point rows (see the module docstring)."""
    points, codes, counts = np.unique(point, return_inverse=True, return_counts=True)
    few = counts < min_samples
    if few.any():
        raise ValueError(
            f"{int(few.sum())} point(s) have fewer than {min_samples} samples (e.g. point "
            f"{_plain(points[few][0])} has {counts[few][0]}); the law has four parameters, so each "
            f"point needs at least {min_samples} samples at two or more sizes k. Sample more "
            "or drop those points."
        )
    order = np.argsort(codes, kind="stable")
    codes_s = codes[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(codes_s)) - starts[codes_s]
    P, n_max = len(points), int(counts.max())
    logk = np.zeros((P, n_max))
    dl = np.zeros((P, n_max))
    mask = np.zeros((P, n_max))
    logk[codes_s, pos] = np.log(k[order])
    dl[codes_s, pos] = delta[order]
    mask[codes_s, pos] = 1.0
    n = counts.astype(float)
    log_k0 = logk.sum(1) / n
    u = (logk - log_k0[:, None]) * mask
    # root mean square per point, computed from the largest magnitude to avoid under/overflow
    big = np.max(np.abs(dl), axis=1)
    big = np.where(big > 0, big, 1.0)
    scale = big * np.sqrt(((dl / big[:, None]) ** 2).sum(1) / n)
    scale = np.where(scale > 0, scale, 1.0)
    dl = dl / scale[:, None]
    if np.all(mask == 1.0):
        mask = None  # no padding: skip the masking work
    spread = np.sqrt((u**2).sum(1) / n)
    flat = spread < 1e-12
    if check_spread and flat.any():
        raise ValueError(
            f"{int(flat.sum())} point(s) were sampled at a single dataset size k (e.g. point "
            f"{_plain(points[flat][0])}); the exponent alpha needs samples at two or more k: "
            "sample those points at more sizes, or drop them."
        )
    return Padded(points, dl, u, mask, n, log_k0, scale, float(k.min()), float(k.max()))


def check_method(method, allowed, name: str = "method") -> str:
    """``method`` as one of ``allowed`` (a tuple of names); ``name``: the argument's name."""
    if not isinstance(method, str):
        raise TypeError(f"{name} must be a string, one of {allowed}; got {method!r}.")
    if method not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {method!r}.")
    return method


def check_positive_sizes(k, name="k") -> np.ndarray:
    """Evaluation sizes: a positive number or a 1-D sequence of them (any positive real)."""
    arr = check_array(np.atleast_1d(np.asarray(k)) if not isinstance(k, str) else k, name, ndim=1)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must hold positive dataset sizes; got {arr.tolist()}.")
    return arr


def check_level_alpha(alpha) -> float:
    """The ``alpha`` of ``conf_int(alpha=0.05)``: a number in (0, 1) (1 - confidence level)."""
    return check_number(alpha, "alpha (1 - confidence level, e.g. 0.05)", low=0.0, high=1.0,
                        low_open=True, high_open=True)


def _plain(value):
    """A point label as the user wrote it (``3``, not ``np.int64(3)``)."""
    return value.item() if isinstance(value, np.generic) else value
