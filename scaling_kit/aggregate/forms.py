"""The four fitting forms of an aggregate learning curve (docs/math.md §2).

* :class:`PowerLaw`: ``eps = a m^b`` (Hestness et al. 2017; OLS on logs with statsmodels);
* :class:`OffsetPowerLaw`: ``eps = eps_inf + a m^b`` (irreducible error);
* :class:`M4Law`: Alabdulmohsin et al. 2022,
  ``(eps - eps_inf) / (eps_0 - eps)^alpha = beta m^c``;
* :class:`BrokenPowerLaw`: Caballero et al. 2022 with one break,
  ``eps = a + b m^(-c0) (1 + (m/d)^(1/f))^(-c1 f)``.

Every form is a scikit-learn style estimator: keyword-only ``__init__``, ``fit(x, y)`` returns
self, ``params_`` (a Series by parameter name), ``cov_``, ``predict(x)`` for any ``x > 0``,
``conf_int(alpha=0.05)``, ``summary()``. All are fitted by least squares on ``log eps``
(relative errors; for the pure power law this is exactly OLS on logs). Non-linear forms do not
rely on one starting point: the linear parameters are profiled out (variable projection,
non-negative least squares) on a grid of the non-linear ones, and the best grid points (plus an
optional user ``init``) are polished with bounded :func:`scipy.optimize.least_squares`;
``fit_info_`` reports how many polished starts agree with the optimum, and a :class:`FitError`
is raised when none converges.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.special import expit, log_expit

from .._checks import check_int, check_number
from ._fitting import (
    FitError,
    _check_alpha,
    _check_bounds,
    _check_init,
    _check_x,
    _ScalingForm,
    _top_starts,
)

__all__ = ["BrokenPowerLaw", "FORMS", "FitError", "M4Law", "OffsetPowerLaw", "PowerLaw",
           "default_forms"]


class PowerLaw(_ScalingForm):
    """Pure power law ``eps(m) = a m^b`` (Hestness et al. 2017; docs/math.md §2).

    Fitted by OLS of ``log eps`` on ``log m`` with statsmodels (``result_`` holds the
    statsmodels results). ``params_ = {"a": ..., "b": ...}``; the interval of ``a`` is
    ``exp`` of the t-interval of ``log a``. The derivative is ``a b m^(b-1)``.
    """

    param_names = ("a", "b")
    formula = "eps = a * m^b"
    display_name = "power law"

    def _log_f(self, theta, x):
        a, b = theta
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a) + b * np.log(x)

    # internal parameters (log a, b) at x_ref = 1: the statsmodels regression itself
    def _internal_log_f(self, z, lu):
        return z[0] + z[1] * lu

    def _internal_jac(self, z, lu):
        return np.column_stack([np.ones_like(lu), lu])

    def _to_public(self, z, xref):
        return np.array([math.exp(z[0]), z[1]])

    def _public_jacobian(self, z, xref):
        return np.diag([math.exp(z[0]), 1.0])

    def _fit_internal(self, x, y):
        import statsmodels.api as sm

        res = sm.OLS(np.log(y), sm.add_constant(np.log(x))).fit()
        self.result_ = res
        self.at_bound_ = []
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = float(res.rsquared) if res.centered_tss > 0 else math.nan
        return np.asarray(res.params, dtype=float), 1.0, {"method": "OLS on logs (statsmodels)",
                                                          "r_squared": r2}

    def _internal_cov(self, lu, rss):
        return np.asarray(self.result_.cov_params(), dtype=float)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """``1 - alpha`` t-intervals of ``log a`` (exponentiated) and ``b`` from statsmodels."""
        self._check_fitted(need_cov=True)
        ci = np.asarray(self.result_.conf_int(_check_alpha(alpha)))
        return pd.DataFrame(
            {"lower": [math.exp(ci[0, 0]), ci[1, 0]], "upper": [math.exp(ci[0, 1]), ci[1, 1]]},
            index=list(self.param_names),
        )

    def derivative(self, x):
        """``d eps / d m = a b m^(b-1)``."""
        self._check_fitted()
        x = _check_x(x)
        a, b = self._theta
        return a * b * x ** (b - 1)


class OffsetPowerLaw(_ScalingForm):
    """Power law with irreducible error ``eps(m) = eps_inf + a m^b`` (docs/math.md §2).

    Fit: minimize ``sum_i (log y_i - log eps(m_i))^2``. For each exponent ``b`` on a grid of
    ``n_grid`` values in ``exponent_bounds``, the linear parameters ``(eps_inf, a) >= 0`` are
    profiled out by non-negative least squares on relative residuals (variable projection);
    the ``n_polish`` best grid points, plus ``init`` (a dict of parameters) if given, are
    polished with bounded least squares on log residuals (analytic Jacobian).
    """

    param_names = ("eps_inf", "a", "b")
    formula = "eps = eps_inf + a * m^b"
    display_name = "power law + offset"
    _floor_name = "eps_inf"

    def __init__(self, *, exponent_bounds=(-5.0, 0.0), n_grid: int = 40, n_polish: int = 6,
                 init=None):
        self.exponent_bounds = exponent_bounds
        self.n_grid = n_grid
        self.n_polish = n_polish
        self.init = init

    def _log_f(self, theta, x):
        e, a, b = theta
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(e + a * x**b)

    def derivative(self, x):
        """``d eps / d m = a b m^(b-1)``."""
        self._check_fitted()
        x = _check_x(x)
        _, a, b = self._theta
        return a * b * x ** (b - 1)

    # internal parameters (eps_inf, log(a x_ref^b), b)
    def _internal_log_f(self, z, lu):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return np.log(z[0] + np.exp(z[1] + z[2] * lu))

    def _internal_jac(self, z, lu):
        with np.errstate(over="ignore", invalid="ignore"):
            q = np.exp(z[1] + z[2] * lu)
            eps = z[0] + q
            return np.column_stack([1.0 / eps, q / eps, q * lu / eps])

    def _to_public(self, z, xref):
        return np.array([z[0], math.exp(z[1] - z[2] * math.log(xref)), z[2]])

    def _public_jacobian(self, z, xref):
        a = math.exp(z[1] - z[2] * math.log(xref))
        return np.array([[1.0, 0.0, 0.0], [0.0, a, -a * math.log(xref)], [0.0, 0.0, 1.0]])

    def _fit_internal(self, x, y):
        lo_b, hi_b = _check_bounds(self.exponent_bounds, "exponent_bounds")
        n_grid = check_int(self.n_grid, "n_grid", low=2)
        n_polish = check_int(self.n_polish, "n_polish", low=1)
        xref = math.exp(np.mean(np.log(x)))
        lu = np.log(x / xref)
        starts, costs = [], []
        for b in np.linspace(lo_b, hi_b, n_grid):
            A = np.column_stack([np.ones_like(lu), np.exp(b * lu)]) / y[:, None]
            (e, a), rn = nnls(A, np.ones_like(y))
            starts.append(np.array([e, math.log(max(a, 1e-12)), b]))
            costs.append(rn)
        starts = _top_starts(costs, starts, n_polish)
        if self.init is not None:
            p = _check_init(self.init, self.param_names)
            starts.append(np.array([p[0], math.log(max(p[1] * xref ** p[2], 1e-300)), p[2]]))
        bounds = (np.array([0.0, -np.inf, lo_b]), np.array([np.inf, np.inf, hi_b]))
        z, info = self._multistart(lu, y, starts, bounds, jac="analytic")
        return z, xref, info


class M4Law(_ScalingForm):
    """Alabdulmohsin et al. (2022) M4: ``(eps - eps_inf) / (eps_0 - eps)^alpha = beta m^c``.

    ``eps_inf`` is the irreducible error, ``eps_0`` the small-data (random-guess) level,
    ``c < 0`` the power-law exponent (docs/math.md §2). ``eps(m)`` is the unique root in
    ``(eps_inf, eps_0)`` of the implicit equation (increasing left-hand side for
    ``alpha > 0``), found elementwise by safeguarded Newton iterations on the
    logit of ``s = (eps - eps_inf) / (eps_0 - eps_inf)``. ``alpha = 1`` gives the sigmoid in
    ``log m`` with all three regions.

    Fit: a grid over ``(eps_inf, eps_0, alpha)`` in which ``(log beta, c)`` are profiled out
    by OLS of ``log(y - eps_inf) - alpha log(eps_0 - y)`` on ``log m`` (the model's
    linearization), ranked by the log-space objective; the ``n_polish`` best (plus ``init``)
    are polished with bounded least squares and an implicit-function Jacobian. ``eps_0`` is
    searched up to ``max_plateau`` times the largest loss: a curve without a small-data
    plateau does not identify it (the fit then reports ``eps_0`` at that bound), and without a
    bound the search would drift along that flat valley.
    """

    param_names = ("eps_inf", "eps_0", "alpha", "beta", "c")
    formula = "(eps - eps_inf) / (eps_0 - eps)^alpha = beta * m^c"
    display_name = "M4"
    _floor_name = "eps_inf"

    def __init__(self, *, alpha_bounds=(0.01, 10.0), exponent_bounds=(-5.0, 0.0),
                 max_plateau: float = 1e3, n_polish: int = 6, init=None):
        self.alpha_bounds = alpha_bounds
        self.exponent_bounds = exponent_bounds
        self.max_plateau = max_plateau
        self.n_polish = n_polish
        self.init = init

    @staticmethod
    def _solve_t(r, alpha):
        """Solve ``h(t) = t + (alpha - 1) softplus(t) = r`` for t (the logit of s).

        ``h`` is increasing with ``h' = 1 + (alpha - 1) expit(t)`` between ``min(1, alpha)``
        and ``max(1, alpha)``, and convex (alpha > 1) or concave (alpha < 1), so Newton's method
        from ``t = r`` converges monotonically after at most one step; a bracket
        ``[-B, B]`` guards it. Vectorized (called at every least-squares evaluation; much faster
        than a general root finder on these tiny arrays); the residual is checked at the end
        (NaN where it is not at rounding level).
        """
        r, alpha = np.broadcast_arrays(np.asarray(r, float), np.asarray(alpha, float))
        B = (np.abs(r) + 2.0) / np.minimum(alpha, 1.0) + 2.0
        t = np.clip(r, -B, B)
        for _ in range(100):
            s = expit(t)
            g = t + (alpha - 1.0) * np.logaddexp(0.0, t) - r
            step = g / (1.0 + (alpha - 1.0) * s)
            t = np.clip(t - step, -B, B)
            if np.all(np.abs(step) <= 1e-14 * (1.0 + np.abs(t))):
                break
        g = t + (alpha - 1.0) * np.logaddexp(0.0, t) - r
        if not np.all(np.abs(g) <= 1e-9 * (1.0 + np.abs(r))):
            return np.full(t.shape, np.nan)
        return t

    def _internal_log_f_and_t(self, z, lu):
        e, lD, alpha, lb, c = z
        r = lb + c * lu + (alpha - 1.0) * lD
        t = self._solve_t(r, alpha)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            eps = e + np.exp(lD + log_expit(t))
            return np.log(eps), t, eps

    # internal parameters (eps_inf, log(eps_0 - eps_inf), alpha, log(beta x_ref^c), c)
    def _internal_log_f(self, z, lu):
        return self._internal_log_f_and_t(z, lu)[0]

    def _log_f(self, theta, x):
        e, e0, alpha, beta, c = theta
        if not (e0 > e and alpha > 0 and beta > 0):
            return np.full(np.shape(x), np.nan)
        z = np.array([e, math.log(e0 - e), alpha, math.log(beta), c])
        return self._internal_log_f(z, np.log(x))

    def _internal_jac(self, z, lu):
        """Implicit-function Jacobian of ``log eps`` (finite differences where not finite)."""
        e, lD, alpha, lb, c = z
        _, t, eps = self._internal_log_f_and_t(z, lu)
        s = expit(t)
        hp = 1.0 + (alpha - 1.0) * s  # dh/dt > 0
        D = math.exp(lD) if lD < 700 else math.inf
        ds = s * (1 - s)
        with np.errstate(over="ignore", invalid="ignore"):
            J = np.column_stack([
                np.ones_like(t),
                D * s + D * ds * (alpha - 1.0) / hp,
                D * ds * (lD - np.logaddexp(0.0, t)) / hp,
                D * ds / hp,
                D * ds * lu / hp,
            ]) / eps[:, None]
        if not np.all(np.isfinite(J)):
            return self._fd_internal_jac(z, lu)
        return J

    def _to_public(self, z, xref):
        e, lD, alpha, lb, c = z
        return np.array([e, e + math.exp(lD), alpha, math.exp(lb - c * math.log(xref)), c])

    def _public_jacobian(self, z, xref):
        e, lD, alpha, lb, c = z
        beta = math.exp(lb - c * math.log(xref))
        T = np.eye(5)
        T[1, :2] = [1.0, math.exp(lD)]
        T[3, 3:] = [beta, -beta * math.log(xref)]
        return T

    def _fit_internal(self, x, y):
        lo_a, hi_a = _check_bounds(self.alpha_bounds, "alpha_bounds", positive=True)
        lo_c, hi_c = _check_bounds(self.exponent_bounds, "exponent_bounds")
        n_polish = check_int(self.n_polish, "n_polish", low=1)
        max_plateau = check_number(self.max_plateau, "max_plateau", low=1.0, low_open=True)
        xref = math.exp(np.mean(np.log(x)))
        lu = np.log(x / xref)
        ly = np.log(y)
        ymin, ymax = y.min(), y.max()
        hi_lD = math.log(max_plateau * ymax)
        starts, costs = [], []
        X = np.column_stack([np.ones_like(lu), lu])
        for fe in (0.0, 0.3, 0.6, 0.8, 0.9, 0.97):
            e = fe * ymin
            for f0 in (1.02, 1.1, 1.3, 1.7, 3.0, 10.0, 100.0, max_plateau):
                e0 = min(e + f0 * (ymax - e), max_plateau * ymax)
                for alpha in (0.1, 0.3, 0.6, 1.0, 2.0):
                    alpha = float(np.clip(alpha, lo_a, hi_a))
                    with np.errstate(divide="ignore", invalid="ignore"):
                        zt = np.log(y - e) - alpha * np.log(e0 - y)
                    if not np.all(np.isfinite(zt)):
                        continue
                    (lb, c), *_ = np.linalg.lstsq(X, zt, rcond=None)
                    c = float(np.clip(c, lo_c, hi_c))
                    z = np.array([e, min(math.log(e0 - e), hi_lD), alpha, lb, c])
                    lf = self._internal_log_f(z, lu)
                    starts.append(z)
                    costs.append(float(np.sum((lf - ly) ** 2)))
        starts = _top_starts(costs, starts, n_polish)
        if self.init is not None:
            p = _check_init(self.init, self.param_names)
            if not (p[1] > p[0] >= 0 and p[2] > 0 and p[3] > 0):
                raise ValueError("init must have eps_0 > eps_inf >= 0, alpha > 0 and beta > 0; "
                                 f"got {self.init!r}.")
            starts.append(np.array([p[0], min(math.log(p[1] - p[0]), hi_lD), p[2],
                                    math.log(p[3]) + p[4] * math.log(xref), p[4]]))
        bounds = (
            np.array([0.0, -np.inf, lo_a, -np.inf, lo_c]),
            np.array([np.inf, hi_lD, hi_a, np.inf, hi_c]),
        )
        z, info = self._multistart(lu, y, starts, bounds, jac="analytic")
        return z, xref, info


class BrokenPowerLaw(_ScalingForm):
    """Broken neural scaling law with one break (Caballero et al. 2022; docs/math.md §2):

    ``eps(m) = a + b m^(-c0) (1 + (m/d)^(1/f))^(-c1 f)``.

    ``a`` is the irreducible error; the log-log slope of ``eps - a`` is ``-c0`` well before the
    break ``d`` and ``-(c0 + c1)`` well after it; ``f > 0`` sets its sharpness. Fit: a grid
    over ``(c0, c1, d, f)`` with ``(a, b) >= 0`` profiled out by non-negative least squares on
    relative residuals (variable projection); the ``n_polish`` best (plus ``init``) are
    polished with bounded least squares on log residuals (analytic Jacobian). The break is
    kept within one e-fold of the data range.
    """

    param_names = ("a", "b", "c0", "c1", "d", "f")
    formula = "eps = a + b * m^(-c0) * (1 + (m/d)^(1/f))^(-c1*f)"
    display_name = "broken power law"
    _floor_name = "a"

    def __init__(self, *, n_polish: int = 8, init=None):
        self.n_polish = n_polish
        self.init = init

    @staticmethod
    def _core(lu, c0, c1, ld, lf):
        f = np.exp(lf)
        return -c0 * lu - c1 * f * np.logaddexp(0.0, (lu - ld) / f)

    def _log_f(self, theta, x):
        a, b, c0, c1, d, f = theta
        if not (b > 0 and d > 0 and f > 0):
            return np.full(np.shape(x), np.nan)
        z = np.array([a, math.log(b), c0, c1, math.log(d), math.log(f)])
        return self._internal_log_f(z, np.log(x))

    # internal parameters (a, log(b x_ref^-c0), c0, c1, log(d / x_ref), log f)
    def _internal_log_f(self, z, lu):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return np.log(z[0] + np.exp(z[1] + self._core(lu, z[2], z[3], z[4], z[5])))

    def _internal_jac(self, z, lu):
        a, lb, c0, c1, ld, lf = z
        f = math.exp(lf)
        s = (lu - ld) / f
        sp = np.logaddexp(0.0, s)
        sig = expit(s)
        with np.errstate(over="ignore", invalid="ignore"):
            q = np.exp(lb - c0 * lu - c1 * f * sp)
            w = q / (a + q)
            J = np.column_stack([
                1.0 / (a + q),
                w,
                -lu * w,
                -f * sp * w,
                c1 * sig * w,
                -c1 * f * (sp - sig * s) * w,
            ])
        if not np.all(np.isfinite(J)):
            return self._fd_internal_jac(z, lu)
        return J

    def _to_public(self, z, xref):
        a, lb, c0, c1, ld, lf = z
        return np.array([a, math.exp(lb + c0 * math.log(xref)), c0, c1,
                         math.exp(ld) * xref, math.exp(lf)])

    def _public_jacobian(self, z, xref):
        a, lb, c0, c1, ld, lf = z
        b = math.exp(lb + c0 * math.log(xref))
        T = np.eye(6)
        T[1, 1:3] = [b, b * math.log(xref)]
        T[4, 4] = math.exp(ld) * xref
        T[5, 5] = math.exp(lf)
        return T

    def _fit_internal(self, x, y):
        n_polish = check_int(self.n_polish, "n_polish", low=1)
        xref = math.exp(np.mean(np.log(x)))
        lu = np.log(x / xref)
        lo_d, hi_d = lu.min() - 1.0, lu.max() + 1.0
        starts, costs = [], []
        for c0 in (0.0, 0.1, 0.25, 0.5, 1.0):
            for c1 in (-0.4, -0.15, 0.1, 0.3, 0.6, 1.0):
                for ld in np.linspace(lu.min() + 0.5, lu.max() - 0.5, 6):
                    for lf in np.log([0.1, 0.5, 2.0]):
                        core = self._core(lu, c0, c1, ld, lf)
                        with np.errstate(over="ignore"):
                            A = np.column_stack([np.ones_like(lu), np.exp(core)]) / y[:, None]
                        if not np.all(np.isfinite(A)):
                            continue
                        (a, b), rn = nnls(A, np.ones_like(y))
                        starts.append(np.array([a, math.log(max(b, 1e-12)), c0, c1, ld, lf]))
                        costs.append(rn)
        starts = _top_starts(costs, starts, n_polish)
        if self.init is not None:
            p = _check_init(self.init, self.param_names)
            if not (p[0] >= 0 and p[1] > 0 and p[4] > 0 and p[5] > 0):
                raise ValueError(f"init must have a >= 0 and b, d, f > 0; got {self.init!r}.")
            starts.append(np.array([p[0], math.log(p[1]) - p[2] * math.log(xref), p[2], p[3],
                                    math.log(p[4] / xref), math.log(p[5])]))
        bounds = (
            np.array([0.0, -np.inf, 0.0, -5.0, lo_d, math.log(0.01)]),
            np.array([np.inf, np.inf, 5.0, 5.0, hi_d, math.log(20.0)]),
        )
        z, info = self._multistart(lu, y, starts, bounds, jac="analytic")
        return z, xref, info


#: The fitting forms by short name (docs/math.md §2).
FORMS = {
    "power law": PowerLaw,
    "power law + offset": OffsetPowerLaw,
    "M4": M4Law,
    "broken power law": BrokenPowerLaw,
}


def default_forms() -> dict:
    """Fresh, unfitted instances of every form in :data:`FORMS` (name -> form): the four
    forms of docs/math.md §2."""
    return {name: cls() for name, cls in FORMS.items()}
