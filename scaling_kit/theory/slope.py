"""The log-log slope of a simulated mean contribution, with its standard error.

Shared by the OLS and logistic-regression checks (docs/math.md §4): the theorems predict
``E[Delta] ~ c k^-alpha`` (``alpha = 2`` on the population loss, ``1`` on a fixed validation
set), so the slope of ``log|mean|`` on ``log k`` is ``-alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from .._checks import check_number
from ..results import Summary

__all__ = ["SlopeFit", "fit_loglog_slope"]


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


def fit_loglog_slope(ks, mean, se) -> SlopeFit:
    """Fit ``log|mean| = a + slope * log k`` by WLS with known variances ``(se/mean)^2``
    (statsmodels ``WLS``, fixed scale; docs/math.md §4).

    Raises ValueError if ``mean`` changes sign (a power law in ``|mean|`` is then meaningless) or
    fewer than three sizes are given.
    """
    ks = np.asarray(ks, dtype=float)
    mean = np.asarray(mean, dtype=float)
    se = np.asarray(se, dtype=float)
    if not (ks.shape == mean.shape == se.shape) or ks.ndim != 1:
        raise ValueError(f"ks, mean and se must be 1-D of equal length; got {ks.shape}, "
                         f"{mean.shape}, {se.shape}.")
    if ks.size < 3:
        raise ValueError("ks: need at least three dataset sizes to fit a slope with a standard "
                         "error.")
    if not (np.all(np.isfinite(ks)) and np.all(ks > 0)):
        raise ValueError("ks must be finite and positive.")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ValueError("mean must be finite and se finite and positive.")
    if not (np.all(mean > 0) or np.all(mean < 0)):
        raise ValueError(
            "mean: the mean contribution changes sign over ks; fit a slope on a range where it "
            "does not."
        )
    X = sm.add_constant(np.log(ks))
    w = (mean / se) ** 2
    res = sm.WLS(np.log(np.abs(mean)), X, weights=w).fit(cov_type="fixed scale")
    return SlopeFit(float(res.params[1]), float(res.bse[1]), float(res.params[0]), ks, res)
