"""Fits of a simulated mean contribution against ``k``, with standard errors.

Shared by the OLS and logistic-regression checks (docs/math.md §4): the theorems predict
``E[Delta] ~ c k^-alpha`` (``alpha = 2`` on the population loss, ``1`` on a fixed validation
set), so the slope of ``log|mean|`` on ``log k`` is ``-alpha`` (:func:`fit_loglog_slope`).
Before the limit an M-estimator's mean contribution is a series in ``1/k``,
``c_1 / k + c_2 / k^2 + ...`` with ``c_1 = 0`` on the population loss and ``c_1 = c_1(V)`` on a
fixed validation set; :func:`fit_inverse_powers` estimates its coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.stats import norm

from .._checks import check_number
from ..results import Summary

__all__ = ["InversePowerFit", "SlopeFit", "fit_inverse_powers", "fit_loglog_slope",
           "two_term_exponent"]


@dataclass
class SlopeFit:
    """Weighted least-squares fit of ``log|psi(k)| = log|c| + slope * log k``.

    Weights are ``1 / Var(log|psi_hat|)`` with the delta-method variance ``(se / psi)^2`` of the
    Monte Carlo means; the scale is fixed at 1 (the variances are known), so ``se`` is the
    standard error implied by the simulation size alone and intervals are normal. ``alpha =
    -slope``; ``params`` holds ``intercept`` (``log|c|``) and ``slope`` (docs/math.md §4).
    """

    slope: float
    se: float
    intercept: float
    ks: np.ndarray
    results: object = field(repr=False, default=None)

    @property
    def alpha(self) -> float:
        """The decay exponent ``-slope``."""
        return -self.slope

    @property
    def params(self) -> pd.Series:
        """``intercept`` (``log|c|``) and ``slope``."""
        return pd.Series({"intercept": self.intercept, "slope": self.slope}, dtype=float)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Normal ``1 - alpha`` intervals of ``intercept`` and ``slope`` (known variances),
        a DataFrame indexed by parameter with columns ``lower, upper``."""
        alpha = check_number(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
        ci = np.asarray(self.results.conf_int(alpha))
        return pd.DataFrame(ci, index=["intercept", "slope"], columns=["lower", "upper"])

    def summary(self) -> Summary:
        """Estimates, standard errors and 95% intervals (a :class:`scaling_kit.results.Summary`)."""
        table = pd.concat([self.params.rename("estimate"),
                           pd.Series(np.asarray(self.results.bse), index=["intercept", "slope"],
                                     name="std_err"),
                           self.conf_int()], axis=1)
        return Summary(title="Log-log slope: log|mean| = log|c| + slope * log k (WLS)",
                       facts={"sizes": len(self.ks), "alpha = -slope": self.alpha},
                       tables={"parameters": table})


def _series(ks, mean, se):
    """``ks``, ``mean`` and ``se`` as 1-D float arrays of equal length (a mean per size)."""
    ks = np.asarray(ks, dtype=float)
    mean = np.asarray(mean, dtype=float)
    se = np.asarray(se, dtype=float)
    if not (ks.shape == mean.shape == se.shape) or ks.ndim != 1:
        raise ValueError(f"ks, mean and se must be 1-D of equal length; got {ks.shape}, "
                         f"{mean.shape}, {se.shape}.")
    return ks, mean, se


def _check_series_values(ks, mean, se):
    """Sizes finite and positive; means finite; standard errors finite and positive."""
    if not (np.all(np.isfinite(ks)) and np.all(ks > 0)):
        raise ValueError("ks must be finite and positive.")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ValueError("mean must be finite and se finite and positive.")


def fit_loglog_slope(ks, mean, se) -> SlopeFit:
    """Fit ``log|mean| = a + slope * log k`` by WLS with known variances ``(se/mean)^2``
    (statsmodels ``WLS``, fixed scale; docs/math.md §4).

    Raises ValueError if ``mean`` changes sign (a power law in ``|mean|`` is then meaningless) or
    fewer than three sizes are given.
    """
    ks, mean, se = _series(ks, mean, se)
    if ks.size < 3:
        raise ValueError("ks: need at least three dataset sizes to fit a slope with a standard "
                         "error.")
    _check_series_values(ks, mean, se)
    if not (np.all(mean > 0) or np.all(mean < 0)):
        raise ValueError(
            "mean: the mean contribution changes sign over ks; fit a slope on a range where it "
            "does not."
        )
    X = sm.add_constant(np.log(ks))
    w = (mean / se) ** 2
    res = sm.WLS(np.log(np.abs(mean)), X, weights=w).fit(cov_type="fixed scale")
    return SlopeFit(float(res.params[1]), float(res.bse[1]), float(res.params[0]), ks, res)


@dataclass
class InversePowerFit:
    """Weighted least-squares fit of ``mean(k) = sum_j c_j k^-j`` over the given powers ``j``.

    Weights ``1 / se^2`` with the scale fixed at 1 (the Monte Carlo variances are known), so
    standard errors come from the simulation size alone and intervals are normal. ``params``
    is indexed ``c1``, ``c2``, ... by power (docs/math.md §4).
    """

    powers: tuple
    params: pd.Series
    bse: pd.Series
    ks: np.ndarray
    chi2: float
    results: object = field(repr=False, default=None)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Normal ``1 - alpha`` intervals, a DataFrame indexed by coefficient with columns
        ``lower, upper``."""
        alpha = check_number(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
        z = float(norm.isf(alpha / 2))
        return pd.DataFrame({"lower": self.params - z * self.bse,
                             "upper": self.params + z * self.bse})

    def predict(self, ks) -> np.ndarray:
        """``sum_j c_j k^-j`` at ``ks``."""
        ks = np.asarray(ks, dtype=float)
        return sum(c * ks ** -float(j) for j, c in zip(self.powers, self.params))

    def summary(self) -> Summary:
        """Coefficients, standard errors and 95% intervals (a :class:`scaling_kit.results.Summary`)."""
        terms = " + ".join(f"c{j} k^-{j}" for j in self.powers)
        table = pd.concat([self.params.rename("estimate"), self.bse.rename("std_err"),
                           self.conf_int()], axis=1)
        return Summary(title=f"Inverse-power fit: mean = {terms} (WLS, known variances)",
                       facts={"sizes": len(self.ks), "chi2 (residual)": self.chi2,
                              "degrees of freedom": len(self.ks) - len(self.powers)},
                       tables={"parameters": table})


def fit_inverse_powers(ks, mean, se, powers=(1, 2)) -> InversePowerFit:
    """Fit ``mean(k) = sum_j c_j k^-j`` (``j`` in ``powers``) by WLS with known variances ``se^2``.

    An M-estimator's mean contribution is a series in ``1/k`` (docs/math.md §4; Covert et al.
    Theorem A.2): ``c_1 = 0`` on the population loss, ``c_1 = c_1(V)`` on a fixed validation set;
    OLS on the population loss is ``c(z) / k^2`` plus higher powers. Fitting the first terms
    tests the theorem's coefficient directly instead of a slope. ``chi2`` is the weighted sum
    of squared residuals (about ``len(ks) - len(powers)`` when the truncated series fits within
    the Monte Carlo error). The columns are scaled by the geometric mean of ``ks`` internally
    (conditioning only; the estimates are for ``k`` itself).

    Raises ValueError on mismatched shapes, non-positive ``se``, or fewer sizes than powers + 1.
    """
    ks, mean, se = _series(ks, mean, se)
    try:
        powers = tuple(int(j) for j in powers)
    except TypeError:
        raise TypeError(f"powers must be a sequence of positive integers; got {powers!r}.") from None
    if not powers or min(powers) < 1 or len(set(powers)) != len(powers):
        raise ValueError(f"powers must be distinct positive integers; got {powers!r}.")
    if ks.size < len(powers) + 1:
        raise ValueError(f"ks: need at least {len(powers) + 1} dataset sizes to fit "
                         f"{len(powers)} coefficients with a residual check; got {ks.size}.")
    _check_series_values(ks, mean, se)
    k0 = float(np.exp(np.log(ks).mean()))
    X = np.column_stack([(k0 / ks) ** j for j in powers])
    res = sm.WLS(mean, X, weights=se**-2.0).fit(cov_type="fixed scale")
    scale = np.array([k0 ** float(j) for j in powers])
    names = [f"c{j}" for j in powers]
    params = pd.Series(np.asarray(res.params) * scale, index=names, dtype=float)
    bse = pd.Series(np.asarray(res.bse) * scale, index=names, dtype=float)
    chi2 = float(np.sum(((mean - X @ np.asarray(res.params)) / se) ** 2))
    return InversePowerFit(powers, params, bse, ks, chi2, res)


def two_term_exponent(c1, c2, ks) -> np.ndarray:
    """The exponent a log-log fit over ``ks`` measures for ``psi(k) = c1 / k + c2 / k^2``.

    ``-slope`` of the least-squares line of ``log|psi(k)|`` on ``log k`` over ``ks`` (equal
    weights, no noise). Locally the exponent is ``-d log|psi| / d log k = 1 + c2 / (c1 k + c2)``:
    between 1 and 2 when ``c1`` and ``c2`` share a sign (2 while ``|c1| k << |c2|``, 1 after);
    with opposite signs ``psi`` changes sign at ``k* = -c2 / c1``, the exponent is above 2
    before ``k*`` and below 1 after it, and a fit across ``k*`` is meaningless (NaN when ``k*``
    falls in ``[min(ks), max(ks)]``). Theorem A.2 on a fixed validation set:
    ``c1 = c_1(V)``, ``c2`` the ``k^-2`` coefficient (docs/math.md §4.5).

    ``c1`` may be an array (one exponent each); ``c2`` a number; ``ks`` at least two sizes.
    """
    c1 = np.asarray(c1, dtype=float)
    c2 = check_number(c2, "c2")
    ks = np.asarray(ks, dtype=float)
    if ks.ndim != 1 or ks.size < 2 or not np.all(np.isfinite(ks)) or np.any(ks <= 0):
        raise ValueError(f"ks must be at least two finite positive sizes; got {ks!r}.")
    if not np.all(np.isfinite(c1)):
        raise ValueError("c1 must be finite.")
    logk = np.log(ks)
    with np.errstate(divide="ignore"):
        logpsi = np.log(np.abs(c1[..., None] / ks + c2 / ks**2))
    centred = logk - logk.mean()
    slope = (logpsi - logpsi.mean(axis=-1, keepdims=True)) @ centred / (centred @ centred)
    root = np.divide(-c2, c1, out=np.full(c1.shape, -1.0), where=c1 != 0)
    changes = (root >= ks.min()) & (root <= ks.max())
    return np.where(changes, np.nan, -slope)
