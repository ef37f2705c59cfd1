"""Shared machinery of the fitting forms: validation, log-space least squares, uncertainty.

docs/math.md §2. Every form is fitted by least squares on ``log eps`` (relative errors): with
``r_i = log y_i - log eps(x_i; theta)``, minimize ``sum_i r_i^2``.

Each form works in *internal* parameters ``z`` in which the curve is smooth and well scaled
(logarithms of scale parameters, sizes centred at their geometric mean ``x_ref``) and reports
*public* parameters ``theta = g(z)`` (the formula's). The uncertainty is the Gauss-Newton
(delta-method) covariance of the internal parameters,

    Cov(z) = s^2 (J^T J)^+,   s^2 = RSS / (n - p),   J = d log eps / d z at the data,

mapped to the public parameters by ``Cov(theta) = T Cov(z) T^T`` with ``T = dg/dz``; the
curve's band uses ``Cov(z)`` directly. Both are invariant to the choice of ``z`` when ``g`` is
one-to-one, and computing them in ``z`` avoids finite-difference steps that leave the domain
when a public parameter is tiny (e.g. an amplitude of ``1e-11`` on a flat curve).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import least_squares
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._checks import check_array, check_number
from ..exceptions import ConvergenceWarning
from ..results import Summary

__all__ = ["FitError"]


class FitError(RuntimeError):
    """A non-linear scaling-law fit failed from every starting point (the message says what
    to check); raised instead of returning parameters that were never fitted (docs/math.md
    §2, fitting the forms)."""


# ------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------
def _check_x(x, name="x"):
    """Dataset sizes: a positive, finite 1-D float array (a scalar becomes length 1)."""
    x = check_array(np.atleast_1d(x) if np.ndim(x) == 0 else x, name, ndim=1)
    if np.any(x <= 0):
        raise ValueError(f"{name} (dataset sizes) must be positive; got min {x.min()}.")
    return x


def _check_xy(x, y, min_points: int, form: str):
    """Sizes and losses of one curve, with enough distinct sizes for ``min_points - 1``
    parameters and one residual degree of freedom."""
    x = _check_x(x, "x")
    y = check_array(np.atleast_1d(y) if np.ndim(y) == 0 else y, "y", ndim=1)
    if y.shape != x.shape:
        raise ValueError(f"x and y must have the same shape; got {x.shape} and {y.shape}.")
    if np.any(y <= 0):
        raise ValueError(
            f"y (losses) must be positive for a log-scale fit; got min {y.min()}. "
            "Use an error or loss, not a score, and drop exact zeros."
        )
    if len(np.unique(x)) < min_points:
        raise ValueError(
            f"x: {form} has {min_points - 1} parameters and needs at least {min_points} "
            f"distinct sizes (one residual degree of freedom); got {len(np.unique(x))}."
        )
    return x, y


def _check_init(init, names):
    """A user's starting point: a dict with every public parameter name."""
    if not isinstance(init, dict):
        raise TypeError(f"init must be a dict with keys {names}; got {type(init).__name__}.")
    try:
        values = np.array([float(init[k]) for k in names])
    except KeyError as exc:
        raise ValueError(f"init must be a dict with keys {names}; missing {exc}.") from None
    except (TypeError, ValueError):
        raise TypeError(f"init values must be real numbers; got {init!r}.") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"init values must be finite; got {init!r}.")
    return values


def _check_bounds(bounds, name, *, positive=False):
    try:
        lo, hi = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (low, high) of numbers; got {bounds!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi) or (positive and lo <= 0):
        need = "0 < low < high" if positive else "low < high, both finite"
        raise ValueError(f"{name} must satisfy {need}; got {bounds!r}.")
    return lo, hi


def _top_starts(costs, starts, n):
    """The ``n`` starts of smallest finite cost (stable order)."""
    costs = np.asarray(costs, dtype=float)
    ok = np.flatnonzero(np.isfinite(costs))
    order = ok[np.argsort(costs[ok], kind="stable")]
    return [starts[i] for i in order[:n]]


def _gauss_newton_cov(J, rss, df_resid):
    """``s^2 (J^T J)^+`` with columns equilibrated first (their scales differ by orders of
    magnitude); NaN when ``J`` is not finite."""
    p = J.shape[1]
    if not np.all(np.isfinite(J)):
        return np.full((p, p), np.nan)
    norms = np.linalg.norm(J, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    Js_pinv = np.linalg.pinv(J / norms)
    s2 = rss / max(df_resid, 1)
    return s2 * (Js_pinv @ Js_pinv.T) / np.outer(norms, norms)


# ------------------------------------------------------------------------------------------
# the shared estimator
# ------------------------------------------------------------------------------------------
class _ScalingForm(BaseEstimator):
    """Shared machinery: validation, log-space objective, uncertainty, derivative, summary.

    Subclasses define ``param_names``, ``formula``, ``display_name``, ``_floor_name`` (the
    irreducible-error parameter, or None), the public log-curve ``_log_f(theta, x)`` and, in
    internal parameters ``z`` with ``lu = log(x / x_ref)``: ``_internal_log_f(z, lu)``,
    ``_internal_jac(z, lu)`` (d log eps / dz), ``_to_public(z, x_ref)``,
    ``_public_jacobian(z, x_ref)`` (d theta / dz) and ``_fit_internal(x, y) -> (z, x_ref,
    info)``.
    """

    param_names: tuple = ()
    formula: str = ""
    display_name: str = ""
    _floor_name: str | None = None

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
        obj.params_ = pd.Series(obj._theta, index=list(cls.param_names), dtype=float)
        obj.cov_ = None
        return obj

    @property
    def n_params(self) -> int:
        """Number of parameters of the form."""
        return len(self.param_names)

    def fit(self, x, y):
        """Fit by least squares on ``log y`` (see the class docstring); returns self.

        ``x``: dataset sizes (positive); ``y``: losses at those sizes (positive).
        """
        x, y = _check_xy(x, y, self.n_params + 1, type(self).__name__)
        z, xref, info = self._fit_internal(x, y)
        theta = np.asarray(self._to_public(z, xref), dtype=float)
        if not (np.all(np.isfinite(z)) and np.all(np.isfinite(theta))):
            raise FitError(f"{type(self).__name__}: the fit produced non-finite parameters "
                           f"{dict(zip(self.param_names, theta.tolist(), strict=True))}.")
        self._z, self._xref, self._theta = np.asarray(z, dtype=float), float(xref), theta
        self.params_ = pd.Series(theta, index=list(self.param_names), dtype=float)
        self.fit_info_ = info
        self.converged_ = bool(info.get("converged", True))
        self._finish(x, y)
        if not self.converged_:
            warnings.warn(
                f"{type(self).__name__}: the best least-squares polish stopped at its limit of "
                f"{self._max_nfev_start} + {self._max_nfev} evaluations, in a flat valley of the objective "
                f"({info.get('n_agree')} of {info.get('n_finished')} starts agree on the "
                "residuals); the fitted curve is usable, its parameters along the valley are "
                "not identified (see summary()).",
                ConvergenceWarning, stacklevel=2,
            )
        return self

    def predict(self, x):
        """The fitted curve ``eps(x)`` at any positive sizes ``x``."""
        self._check_fitted()
        return np.exp(self._log_curve(_check_x(x)))

    def derivative(self, x):
        """``d eps / d m`` at ``x`` (central difference in ``log m`` unless overridden)."""
        self._check_fitted()
        x = _check_x(x)
        h = 1e-5
        lf_p = self._log_curve(x * math.exp(h))
        lf_m = self._log_curve(x * math.exp(-h))
        return np.exp(self._log_curve(x)) * (lf_p - lf_m) / (2 * h) / x

    def difference(self, k, step: float = 1.0):
        """``eps(k) - eps(k + step)``: the mean gain of adding ``step`` points at size ``k``.

        docs/math.md §3: averaged over z, the marginal contribution equals eps(k) - eps(k+1).
        """
        k = _check_x(k, "k")
        return self.predict(k) - self.predict(k + step)

    def difference_se(self, k, step: float = 1.0):
        """Standard error of :meth:`difference` ``eps(k) - eps(k + step)`` from the fit's
        uncertainty (delta method, docs/math.md §2 and §3.6).

        With internal parameters ``z`` and ``J(m) = d log eps(m) / dz``, the gradient of
        ``eps(k) - eps(k + step)`` is ``g = eps(k) J(k) - eps(k + step) J(k + step)`` and
        ``se = sqrt(g^T Cov(z) g)`` with the Gauss-Newton covariance of the fit (see the module
        docstring). It reflects the scatter of the fitted points about the form, not a misfit
        of the form itself.
        """
        self._check_fitted(need_cov=True)
        k = _check_x(k, "k")
        step = check_number(step, "step", low=0.0, low_open=True)
        grads = []
        for m in (k, k + step):
            lu = np.log(m / self._xref)
            eps = np.exp(self._internal_log_f(self._z, lu))
            grads.append(eps[:, None] * self._internal_jac(self._z, lu))
        g = grads[0] - grads[1]
        return np.sqrt(np.clip(np.einsum("ij,jk,ik->i", g, self.cov_internal_, g), 0, None))

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald ``1 - alpha`` intervals ``estimate +- t_{n-p} * se`` (delta method on the
        log-space residuals), a DataFrame indexed by parameter with ``lower, upper``."""
        self._check_fitted(need_cov=True)
        alpha = _check_alpha(alpha)
        t = stats.t.ppf(1 - alpha / 2, self.df_resid_)
        se = np.sqrt(np.clip(np.diag(self.cov_), 0, None))
        return pd.DataFrame(
            {"lower": self._theta - t * se, "upper": self._theta + t * se},
            index=list(self.param_names),
        )

    def predict_interval(self, x, alpha: float = 0.05):
        """Pointwise ``(lower, upper)`` ``1 - alpha`` confidence band of the fitted curve
        (delta method on ``log eps`` in the internal parameters, t quantile with ``n - p``
        degrees of freedom)."""
        self._check_fitted(need_cov=True)
        alpha = _check_alpha(alpha)
        x = _check_x(x)
        lu = np.log(x / self._xref)
        lf = self._internal_log_f(self._z, lu)
        G = self._internal_jac(self._z, lu)
        se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", G, self.cov_internal_, G), 0, None))
        t = stats.t.ppf(1 - alpha / 2, self.df_resid_)
        return np.exp(lf - t * se), np.exp(lf + t * se)

    @property
    def irreducible_error(self) -> float:
        """The limit of the fitted curve as ``m -> inf`` (0 for the pure power law)."""
        self._check_fitted()
        return float(self._floor(self._theta))

    def irreducible_error_interval(self, alpha: float = 0.05) -> tuple[float, float]:
        """``1 - alpha`` confidence interval of the irreducible error (``(0, 0)`` for the pure
        power law; clipped at 0 below)."""
        if self._floor_name is None:
            return (0.0, 0.0)
        ci = self.conf_int(alpha).loc[self._floor_name]
        return float(max(ci["lower"], 0.0)), float(ci["upper"])

    def summary(self, alpha: float = 0.05) -> Summary:
        """Estimates, standard errors, ``1 - alpha`` intervals and whether a parameter is at a
        bound of the search (a :class:`scaling_kit.results.Summary`)."""
        self._check_fitted()
        title = f"{self.display_name}: {self.formula}"
        if getattr(self, "cov_", None) is None:
            table = pd.DataFrame({"estimate": self._theta},
                                 index=pd.Index(list(self.param_names), name="param"))
            return Summary(title, tables={"parameters": table},
                           notes=["Built with from_params: no fit, no uncertainty."])
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
        facts = {"n": self.n_obs_, "in-sample log-RMSE": self.log_rmse_, "AIC": self.aic_,
                 "BIC": self.bic_}
        facts.update({k: v for k, v in self.fit_info_.items() if k not in ("costs", "converged")})
        notes = []
        if self.at_bound_:
            notes.append(f"{', '.join(self.at_bound_)} at a bound of the search: the data do "
                         "not pin this parameter down (its interval is not meaningful).")
        if not self.converged_:
            notes.append("The least-squares polish stopped at its evaluation limit (a flat "
                         "valley of the objective); the curve fits, the parameters on the "
                         "valley are not identified.")
        return Summary(title, facts=facts, tables={"parameters": table}, notes=notes)

    # ---- internals ----------------------------------------------------------------------
    def _floor(self, theta):
        return 0.0 if self._floor_name is None else theta[self.param_names.index(self._floor_name)]

    def _check_fitted(self, need_cov: bool = False):
        check_is_fitted(self, "params_")
        if need_cov and getattr(self, "cov_", None) is None:
            raise ValueError("No uncertainty: this form was built with from_params, not fit.")

    def _log_curve(self, x):
        """``log eps(x)``: in the internal parameters after a fit, public ones otherwise."""
        if getattr(self, "_z", None) is not None:
            return self._internal_log_f(self._z, np.log(x / self._xref))
        return self._log_f(self._theta, x)

    def _finish(self, x, y):
        lu = np.log(x / self._xref)
        resid = np.log(y) - self._internal_log_f(self._z, lu)
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
        cov_z = self._internal_cov(lu, rss)
        if not np.all(np.isfinite(cov_z)):
            warnings.warn(
                f"{type(self).__name__}: the curve's Jacobian is not finite at the fit, so no "
                "standard errors or intervals (NaN); the fitted curve itself is usable.",
                ConvergenceWarning, stacklevel=3,
            )
        T = self._public_jacobian(self._z, self._xref)
        self.cov_internal_ = cov_z
        self.cov_ = T @ cov_z @ T.T
        self.bse_ = pd.Series(np.sqrt(np.clip(np.diag(self.cov_), 0, None)),
                              index=list(self.param_names), dtype=float)

    def _internal_cov(self, lu, rss):
        return _gauss_newton_cov(self._internal_jac(self._z, lu), rss, self.df_resid_)

    def _fd_internal_jac(self, z, lu):
        """Central differences of ``_internal_log_f`` in the internal parameters (one-sided
        where a central step leaves the curve's domain)."""
        z = np.asarray(z, dtype=float)
        f0 = self._internal_log_f(z, lu)
        J = np.empty((len(lu), len(z)))
        for j in range(len(z)):
            h = 1e-6 * max(abs(z[j]), 1.0)
            zp, zm = z.copy(), z.copy()
            zp[j] += h
            zm[j] -= h
            fp, fm = self._internal_log_f(zp, lu), self._internal_log_f(zm, lu)
            if np.all(np.isfinite(fp)) and np.all(np.isfinite(fm)):
                J[:, j] = (fp - fm) / (2 * h)
            elif np.all(np.isfinite(fp)):
                J[:, j] = (fp - f0) / h
            else:
                J[:, j] = (f0 - fm) / h
        return J

    # ---- robust non-linear fitting --------------------------------------------------------
    def _multistart(self, lu, y, starts, bounds, jac="2-point"):
        """Polish each internal start with bounded least squares on log residuals.

        Returns ``(z, info)`` for the best polished start; raises :class:`FitError` when none
        gives finite parameters and residuals.
        """
        ly = np.log(y)
        lo, hi = bounds
        jac_fun = (lambda z: self._internal_jac(z, lu)) if jac == "analytic" else jac

        def polish(z0, max_nfev):
            try:
                with np.errstate(all="ignore"):
                    res = least_squares(lambda z: self._internal_log_f(z, lu) - ly, z0,
                                        jac=jac_fun, bounds=bounds, method="trf",
                                        x_scale="jac", max_nfev=max_nfev)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                return None
            ok = np.all(np.isfinite(res.fun)) and np.all(np.isfinite(res.x))
            return res if ok else None

        # every start gets a short budget (most converge in tens of evaluations; the others
        # crawl along a flat valley), then the best one, if unfinished, a long one
        results = []
        for z0 in starts:
            z0 = np.clip(np.asarray(z0, dtype=float), lo + 1e-12, hi - 1e-12)
            if not np.all(np.isfinite(self._internal_log_f(z0, lu))):
                continue
            res = polish(z0, self._max_nfev_start)
            if res is not None:
                results.append(res)
        if not results:
            raise FitError(
                f"{type(self).__name__}: least squares failed from all {len(starts)} starts. "
                "Check that the curve decreases and has several points per decade, or use a "
                "form with fewer parameters."
            )
        costs = np.array([2 * r.cost for r in results])
        i_best = int(np.argmin(costs))
        if results[i_best].status == 0:
            more = polish(results[i_best].x, self._max_nfev)
            if more is not None and more.cost <= results[i_best].cost:
                results[i_best] = more
                costs[i_best] = 2 * more.cost
        best = results[i_best]
        tol = 1e-6 * (1 + costs.min()) + 1e-4 * costs.min()
        at_bound = np.isclose(best.x, lo, rtol=0, atol=1e-8) | np.isclose(best.x, hi, rtol=0,
                                                                          atol=1e-8)
        info = {
            "method": "variable projection grid + least_squares polish (log residuals)",
            "n_starts": len(starts),
            "n_finished": len(results),
            "n_converged": int(sum(r.status > 0 for r in results)),
            "n_agree": int(np.sum(costs <= costs.min() + tol)),
            "best_rss": float(costs.min()),
            "costs": np.sort(costs).tolist(),
            "converged": bool(best.status > 0),
        }
        # internal parameters map one-to-one (same order) onto the public ones
        self.at_bound_ = [p for p, b in zip(self.param_names, at_bound, strict=True) if b]
        return best.x, info

    _max_nfev_start = 200
    _max_nfev = 1000


def _check_alpha(alpha):
    """A significance level in (0, 1)."""
    return check_number(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
