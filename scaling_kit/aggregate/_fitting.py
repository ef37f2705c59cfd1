"""Shared machinery of the fitting forms: validation, log-space least squares, uncertainty.

docs/math.md §2. Every form is fitted by least squares on ``log eps`` (relative errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import least_squares
from sklearn.base import BaseEstimator

__all__ = ["FitError"]


class FitError(RuntimeError):
    """A non-linear scaling-law fit failed from every starting point."""



def _check_x(x, what="x"):
    x = np.asarray(x, dtype=float)
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1:
        raise ValueError(f"{what} must be 1-D; got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contains NaN or infinite values.")
    if np.any(x <= 0):
        raise ValueError(f"{what} (dataset sizes) must be positive; got min {x.min()}.")
    return x


def _check_xy(x, y, min_points: int, form: str):
    x = _check_x(x, "x (dataset sizes)")
    y = np.asarray(y, dtype=float)
    if y.ndim == 0:
        y = y.reshape(1)
    if y.shape != x.shape:
        raise ValueError(f"x and y must have the same shape; got {x.shape} and {y.shape}.")
    if not np.all(np.isfinite(y)):
        raise ValueError("y (losses) contains NaN or infinite values.")
    if np.any(y <= 0):
        raise ValueError(
            f"y (losses) must be positive for a log-scale fit; got min {y.min()}. "
            "Use an error or loss, not a score, and drop exact zeros."
        )
    if len(np.unique(x)) < min_points:
        raise ValueError(
            f"{form} has {min_points - 1} parameters and needs at least {min_points} distinct "
            f"sizes (one residual degree of freedom); got {len(np.unique(x))}."
        )
    return x, y


@dataclass
class FitSummary:
    """Parameter table of a fitted form (statsmodels-like ``summary()``)."""

    form: str
    formula: str
    table: pd.DataFrame
    n_obs: int
    log_rmse: float
    aic: float
    bic: float
    fit_info: dict

    def __str__(self) -> str:
        head = (
            f"{self.form}: {self.formula}\n"
            f"n = {self.n_obs}, in-sample log-RMSE = {self.log_rmse:.4g}, "
            f"AIC = {self.aic:.4g}, BIC = {self.bic:.4g}\n"
        )
        info = ", ".join(f"{k} = {v}" for k, v in self.fit_info.items() if k != "costs")
        return head + self.table.to_string(float_format=lambda v: f"{v:.6g}") + f"\n[{info}]"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<pre>{self}</pre>"


class _ScalingForm(BaseEstimator):
    """Shared machinery: validation, log-space objective, uncertainty, derivative, summary.

    Subclasses define ``param_names``, ``formula``, ``_log_f(theta, x)`` (log of the curve at
    public parameters ``theta``) and ``_fit_theta(x, y) -> (theta, info)``.
    """

    param_names: tuple = ()
    formula: str = ""
    display_name: str = ""
    _own_covariance: bool = False

    # ---- public API ---------------------------------------------------------------------
    @classmethod
    def from_params(cls, **params):
        """A form with given parameters (no fit; e.g. to simulate a curve). No intervals."""
        missing = set(cls.param_names) - set(params)
        extra = set(params) - set(cls.param_names)
        if missing or extra:
            raise ValueError(f"{cls.__name__} needs exactly {cls.param_names}; got {params}.")
        obj = cls()
        obj._theta = np.array([float(params[k]) for k in cls.param_names])
        obj.params_ = dict(zip(cls.param_names, obj._theta.tolist(), strict=True))
        obj.cov_ = None
        return obj

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def fit(self, x, y):
        """Fit by least squares on ``log y`` (see the class docstring); returns self."""
        x, y = _check_xy(x, y, self.n_params + 1, type(self).__name__)
        theta, info = self._fit_theta(x, y)
        if not np.all(np.isfinite(theta)):
            raise FitError(f"{type(self).__name__}: the fit produced non-finite parameters.")
        self._theta = np.asarray(theta, dtype=float)
        self.params_ = dict(zip(self.param_names, self._theta.tolist(), strict=True))
        self.fit_info_ = info
        self._finish(x, y)
        return self

    def predict(self, x):
        """The fitted curve ``eps(x)`` at any positive sizes ``x``."""
        self._check_fitted()
        return np.exp(self._log_f(self._theta, _check_x(x)))

    def derivative(self, x):
        """``d eps / d m`` at ``x`` (central difference in log m unless overridden)."""
        self._check_fitted()
        x = _check_x(x)
        h = 1e-5
        lf_p = self._log_f(self._theta, x * math.exp(h))
        lf_m = self._log_f(self._theta, x * math.exp(-h))
        return np.exp(self._log_f(self._theta, x)) * (lf_p - lf_m) / (2 * h) / x

    def difference(self, k, step: float = 1.0):
        """``eps(k) - eps(k + step)``: the mean gain of adding ``step`` points at size ``k``.

        MATH.md Section 2: averaged over z, the marginal contribution equals eps(k) - eps(k+1).
        """
        k = _check_x(k, "k")
        return self.predict(k) - self.predict(k + step)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals ``estimate +- t_{n-p} * se`` (delta method, log-space residuals)."""
        self._check_fitted(need_cov=True)
        t = stats.t.ppf(1 - alpha / 2, self.df_resid_)
        se = np.sqrt(np.clip(np.diag(self.cov_), 0, None))
        return pd.DataFrame(
            {"lower": self._theta - t * se, "upper": self._theta + t * se},
            index=list(self.param_names),
        )

    def predict_interval(self, x, alpha: float = 0.05):
        """Pointwise ``(lower, upper)`` confidence band of the fitted curve (delta method on
        ``log eps``, t quantile with ``n - p`` degrees of freedom)."""
        self._check_fitted(need_cov=True)
        x = _check_x(x)
        lf = self._log_f(self._theta, x)
        G = self._log_f_grad(x)
        se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", G, self.cov_, G), 0, None))
        t = stats.t.ppf(1 - alpha / 2, self.df_resid_)
        return np.exp(lf - t * se), np.exp(lf + t * se)

    @property
    def irreducible_error(self) -> float:
        """The limit of the fitted curve as ``m -> inf`` (0 for the pure power law)."""
        self._check_fitted()
        return float(self._floor(self._theta))

    def irreducible_error_interval(self, alpha: float = 0.05) -> tuple[float, float]:
        """Confidence interval of the irreducible error (``(0, 0)`` for the pure power law)."""
        if self._floor_name is None:
            return (0.0, 0.0)
        ci = self.conf_int(alpha).loc[self._floor_name]
        return float(max(ci["lower"], 0.0)), float(ci["upper"])

    def summary(self, alpha: float = 0.05) -> FitSummary:
        """Estimates, standard errors, ``1 - alpha`` intervals, and whether at a bound."""
        self._check_fitted(need_cov=True)
        ci = self.conf_int(alpha)
        table = pd.DataFrame(
            {
                "estimate": self._theta,
                "std_err": np.sqrt(np.clip(np.diag(self.cov_), 0, None)),
                f"[{alpha / 2:g}": ci["lower"].to_numpy(),
                f"{1 - alpha / 2:g}]": ci["upper"].to_numpy(),
                "at_bound": [p in self.at_bound_ for p in self.param_names],
            },
            index=pd.Index(list(self.param_names), name="param"),
        )
        return FitSummary(
            form=self.display_name,
            formula=self.formula,
            table=table,
            n_obs=self.n_obs_,
            log_rmse=self.log_rmse_,
            aic=self.aic_,
            bic=self.bic_,
            fit_info=self.fit_info_,
        )

    # ---- internals ----------------------------------------------------------------------
    _floor_name: str | None = None

    def _floor(self, theta):
        return 0.0 if self._floor_name is None else theta[self.param_names.index(self._floor_name)]

    def _check_fitted(self, need_cov: bool = False):
        if not hasattr(self, "params_"):
            raise ValueError(f"This {type(self).__name__} is not fitted yet; call fit(x, y).")
        if need_cov and getattr(self, "cov_", None) is None:
            raise ValueError("No uncertainty: this form was built with from_params, not fit.")

    def _log_f_grad(self, x):
        """Jacobian of ``log eps(x)`` w.r.t. the public parameters (central differences)."""
        theta = self._theta
        G = np.empty((len(x), len(theta)))
        for j in range(len(theta)):
            h = 1e-6 * max(abs(theta[j]), 1e-4)
            tp, tm = theta.copy(), theta.copy()
            tp[j] += h
            tm[j] -= h
            G[:, j] = (self._log_f(tp, x) - self._log_f(tm, x)) / (2 * h)
        return G

    def _finish(self, x, y):
        resid = np.log(y) - self._log_f(self._theta, x)
        n, p = len(y), self.n_params
        rss = float(resid @ resid)
        self.n_obs_ = n
        self.df_resid_ = n - p
        self.resid_ = resid
        self.log_rmse_ = math.sqrt(rss / n)
        # Gaussian log-likelihood of the log residuals, as statsmodels' OLS.llf.
        sigma2 = max(rss / n, 1e-300)
        self.llf_ = -0.5 * n * (math.log(2 * math.pi * sigma2) + 1.0)
        self.aic_ = -2 * self.llf_ + 2 * p
        self.bic_ = -2 * self.llf_ + math.log(n) * p
        if not self._own_covariance:  # PowerLaw takes statsmodels' covariance
            G = self._log_f_grad(x)
            scale = np.where(np.abs(self._theta) > 0, np.abs(self._theta), 1.0)
            Gs = G * scale
            s2 = rss / max(n - p, 1)
            self.cov_ = s2 * np.linalg.pinv(Gs.T @ Gs) * np.outer(scale, scale)
        self.bse_ = dict(
            zip(self.param_names, np.sqrt(np.clip(np.diag(self.cov_), 0, None)).tolist(),
                strict=True)
        )

    # ---- robust non-linear fitting --------------------------------------------------------
    def _multistart(self, x, y, starts, internal_log_f, bounds, to_public, jac="2-point"):
        """Polish each internal start with bounded least squares on log residuals."""
        ly = np.log(y)
        results = []
        for z0 in starts:
            z0 = np.clip(z0, bounds[0] + 1e-12, bounds[1] - 1e-12)
            try:
                res = least_squares(
                    lambda z: internal_log_f(z, x) - ly,
                    z0,
                    jac=jac,
                    bounds=bounds,
                    method="trf",
                    x_scale="jac",
                    max_nfev=1000,
                )
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                continue
            if np.all(np.isfinite(res.fun)) and np.all(np.isfinite(res.x)):
                results.append(res)
        if not results:
            raise FitError(
                f"{type(self).__name__}: least squares failed from all {len(starts)} starts. "
                "Check that the curve decreases and has several points per decade, or use a "
                "form with fewer parameters."
            )
        costs = np.array([2 * r.cost for r in results])
        best = results[int(np.argmin(costs))]
        tol = 1e-6 * (1 + costs.min()) + 1e-4 * costs.min()
        lo, hi = bounds
        at_bound = np.isclose(best.x, lo, rtol=0, atol=1e-8) | np.isclose(
            best.x, hi, rtol=0, atol=1e-8
        )
        info = {
            "method": "variable projection grid + least_squares polish (log residuals)",
            "n_starts": len(starts),
            "n_converged": len(results),
            "n_agree": int(np.sum(costs <= costs.min() + tol)),
            "best_rss": float(costs.min()),
            "costs": np.sort(costs).tolist(),
        }
        theta = to_public(best.x)
        # internal parameters map one-to-one (same order) onto the public ones
        self.at_bound_ = [p for p, b in zip(self.param_names, at_bound, strict=True) if b]
        return theta, info


def _top_starts(costs, starts, n):
    costs = np.asarray(costs, dtype=float)
    ok = np.flatnonzero(np.isfinite(costs))
    order = ok[np.argsort(costs[ok], kind="stable")]
    return [starts[i] for i in order[:n]]
