"""The log-log slope of a simulated mean contribution, with its standard error.

Shared by the OLS and logistic-regression checks (docs/math.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import statsmodels.api as sm

__all__ = ["SlopeFit", "fit_loglog_slope"]


@dataclass
class SlopeFit:
    """Weighted least-squares fit of ``log|psi(k)| = log|c| + slope * log k``.

    Weights are ``1 / Var(log|psi_hat|)`` with the delta-method variance ``(se / psi)^2`` of the
    Monte Carlo means; the scale is fixed at 1 (the variances are known), so ``se`` is the
    standard error implied by the simulation size alone. ``alpha = -slope``.
    """

    slope: float
    se: float
    intercept: float
    ks: np.ndarray
    results: object = field(repr=False, default=None)

    @property
    def alpha(self):
        return -self.slope

    def conf_int(self, level=0.95):
        """Normal-approximation confidence interval of the slope."""
        from scipy.stats import norm

        z = norm.ppf(0.5 + level / 2)
        return self.slope - z * self.se, self.slope + z * self.se

    def summary(self):
        return self.results.summary() if self.results is not None else repr(self)


def fit_loglog_slope(ks, mean, se) -> SlopeFit:
    """Fit ``log|mean| = a + slope * log k`` by WLS with known variances ``(se/mean)^2``.

    Raises ValueError if ``mean`` changes sign (a power law in ``|mean|`` is then meaningless) or
    fewer than three sizes are given.
    """
    ks = np.asarray(ks, dtype=float)
    mean = np.asarray(mean, dtype=float)
    se = np.asarray(se, dtype=float)
    if not (ks.shape == mean.shape == se.shape) or ks.ndim != 1:
        raise ValueError(f"ks, mean and se must be 1-D of equal length; got {ks.shape}, {mean.shape}, {se.shape}.")
    if ks.size < 3:
        raise ValueError("need at least three dataset sizes to fit a slope with a standard error.")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ValueError("mean must be finite and se finite and positive.")
    if not (np.all(mean > 0) or np.all(mean < 0)):
        raise ValueError(
            "the mean contribution changes sign over ks; fit a slope on a range where it does not."
        )
    X = sm.add_constant(np.log(ks))
    w = (mean / se) ** 2
    res = sm.WLS(np.log(np.abs(mean)), X, weights=w).fit(cov_type="fixed scale")
    return SlopeFit(float(res.params[1]), float(res.bse[1]), float(res.params[0]), ks, res)
