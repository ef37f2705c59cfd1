"""Economics of a fitted curve: the data needed to reach a target error, and the flat zone.

docs/math.md §2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .._checks import check_number

__all__ = ["DataNeeded", "data_needed"]


@dataclass(frozen=True)
class DataNeeded:
    """Data needed to reach ``target`` under a fitted form.

    ``m`` solves ``eps(m) = target``; ``[m_low, m_high]`` is where the pointwise confidence
    band of the curve crosses the target (``m_high = inf`` when the target may lie in the flat
    zone). ``in_flat_zone``: the target is at or below the fitted irreducible error, so no
    amount of data reaches it (fix the model or the labels instead). ``multiplier = m /
    current`` when ``current`` was given. docs/math.md §2 (economics, flat zone).
    """

    target: float
    form: str
    m: float
    m_low: float
    m_high: float
    in_flat_zone: bool
    irreducible_error: float
    irreducible_error_interval: tuple
    multiplier: float
    message: str


def _crossing(fun, lo, hi, n=400):
    """First root of ``fun`` on ``[lo, hi]`` (log sizes): grid scan then brentq."""
    u = np.linspace(lo, hi, n)
    v = np.array([fun(t) for t in u])
    sign = np.sign(v)
    idx = np.flatnonzero((sign[:-1] > 0) & (sign[1:] <= 0))
    if v[0] <= 0:
        return lo
    if len(idx) == 0:
        return math.inf if np.all(v > 0) else math.nan
    i = idx[0]
    if v[i + 1] == 0:
        return u[i + 1]
    return brentq(fun, u[i], u[i + 1], xtol=1e-10)


def data_needed(form, target: float, *, alpha: float = 0.05, current: float | None = None,
                max_size: float = 1e30) -> DataNeeded:
    """How much data a fitted form needs to reach ``target`` error (docs/math.md §2,
    economics), with an interval from the curve's ``1 - alpha`` confidence band.

    ``m`` solves ``eps(m) = target`` on ``[1e-6, max_size]`` (grid scan in ``log m``, then
    Brent); the interval ends solve ``lower(m) = target`` and ``upper(m) = target`` for the
    pointwise band of :meth:`predict_interval`. ``current`` (the data at hand) gives
    ``multiplier = m / current``.
    """
    if not (hasattr(form, "_check_fitted") and hasattr(type(form), "irreducible_error")):
        raise TypeError("form must be a fitted scaling_kit.aggregate form; got "
                        f"{type(form).__name__}.")
    form._check_fitted()
    target = check_number(target, "target", low=0.0, low_open=True)
    alpha = check_number(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    max_size = check_number(max_size, "max_size", low=1.0, low_open=True)
    if current is not None:
        current = check_number(current, "current", low=0.0, low_open=True)
    name = getattr(form, "display_name", type(form).__name__)
    floor = form.irreducible_error
    has_cov = getattr(form, "cov_", None) is not None
    floor_ci = form.irreducible_error_interval(alpha) if has_cov else (floor, floor)
    lo, hi = math.log(1e-6), math.log(max_size)
    lt = math.log(target)

    def point(u):
        return float(form._log_curve(np.array([math.exp(u)]))[0]) - lt

    m = math.exp(_crossing(point, lo, hi)) if target > floor else math.inf
    if has_cov:
        def upper(u):
            return math.log(form.predict_interval(np.array([math.exp(u)]), alpha)[1][0]) - lt

        def lower(u):
            return math.log(form.predict_interval(np.array([math.exp(u)]), alpha)[0][0]) - lt

        m_low = math.exp(_crossing(lower, lo, hi))
        m_high = math.exp(_crossing(upper, lo, hi))
    else:
        m_low = m_high = m
    in_flat = target <= floor
    if in_flat:
        msg = (f"Target {target:.4g} is at or below the fitted irreducible error {floor:.4g}: "
               "in the flat zone more data will not reach it; improve the model or the labels.")
    elif not np.isfinite(m_high):
        msg = (f"About {m:.3g} examples at the estimate, but the target is within the "
               f"uncertainty of the irreducible error ({floor_ci[0]:.4g} .. {floor_ci[1]:.4g}): "
               "it may be unreachable.")
    else:
        msg = f"About {m:.3g} examples ({1 - alpha:.0%} interval {m_low:.3g} .. {m_high:.3g})."
    mult = m / current if current is not None else math.nan
    return DataNeeded(target=target, form=name, m=m, m_low=m_low, m_high=m_high,
                      in_flat_zone=bool(in_flat), irreducible_error=floor,
                      irreducible_error_interval=tuple(floor_ci), multiplier=mult, message=msg)
