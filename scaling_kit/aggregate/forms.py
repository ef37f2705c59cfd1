"""The four fitting forms of an aggregate learning curve (docs/math.md §2).

* :class:`PowerLaw`: ``eps = a m^b`` (OLS on logs with statsmodels);
* :class:`OffsetPowerLaw`: ``eps = eps_inf + a m^b`` (irreducible error);
* :class:`M4Law`: Alabdulmohsin et al. 2022,
  ``(eps - eps_inf) / (eps_0 - eps)^alpha = beta m^c``;
* :class:`BrokenPowerLaw`: Caballero et al. 2022 with one break,
  ``eps = a + b m^(-c0) (1 + (m/d)^(1/f))^(-c1 f)``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.special import expit, log_expit

from ._fitting import FitError, _check_x, _ScalingForm, _top_starts

__all__ = ["BrokenPowerLaw", "FORMS", "FitError", "M4Law", "OffsetPowerLaw", "PowerLaw",
           "default_forms"]


class PowerLaw(_ScalingForm):
    """Pure power law ``eps(m) = a m^b`` (Hestness et al. 2017; MATH.md Section 1).

    Fitted by OLS of ``log eps`` on ``log m`` with statsmodels (``result_`` holds the
    statsmodels results). ``params_ = {"a": ..., "b": ...}``; the interval of ``a`` is
    ``exp`` of the interval of ``log a``. The derivative is ``a b m^(b-1)``.
    """

    param_names = ("a", "b")
    formula = "eps = a * m^b"
    display_name = "power law"
    _own_covariance = True

    def _log_f(self, theta, x):
        a, b = theta
        with np.errstate(divide="ignore"):
            return np.log(a) + b * np.log(x)

    def _fit_theta(self, x, y):
        import statsmodels.api as sm

        X = sm.add_constant(np.log(x))
        res = sm.OLS(np.log(y), X).fit()
        self.result_ = res
        la, b = res.params
        a = math.exp(la)
        D = np.diag([a, 1.0])  # delta method from (log a, b) to (a, b)
        self.cov_ = D @ res.cov_params() @ D
        self.at_bound_ = []
        return np.array([a, b]), {"method": "OLS on logs (statsmodels)", "r_squared": res.rsquared}

    def fit(self, x, y):
        self.cov_ = None
        return super().fit(x, y)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        self._check_fitted(need_cov=True)
        ci = np.asarray(self.result_.conf_int(alpha))
        return pd.DataFrame(
            {"lower": [math.exp(ci[0, 0]), ci[1, 0]], "upper": [math.exp(ci[0, 1]), ci[1, 1]]},
            index=list(self.param_names),
        )

    def derivative(self, x):
        self._check_fitted()
        x = _check_x(x)
        a, b = self._theta
        return a * b * x ** (b - 1)


class OffsetPowerLaw(_ScalingForm):
    """Power law with irreducible error ``eps(m) = eps_inf + a m^b`` (MATH.md Section 1).

    Fit: minimize ``sum_i (log y_i - log eps(m_i))^2``. For each exponent ``b`` on a grid of
    ``n_grid`` values in ``exponent_bounds``, the linear parameters ``(eps_inf, a) >= 0`` are
    profiled out by non-negative least squares on relative residuals (variable projection);
    the ``n_polish`` best grid points, plus ``init`` (a dict of parameters) if given, are
    polished with bounded least squares on log residuals.
    """

    param_names = ("eps_inf", "a", "b")
    formula = "eps = eps_inf + a * m^b"
    display_name = "power law + offset"
    _floor_name = "eps_inf"
    _internal_names = ("eps_inf", "a", "b")

    def __init__(self, exponent_bounds=(-5.0, 0.0), n_grid: int = 40, n_polish: int = 6,
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
        self._check_fitted()
        x = _check_x(x)
        _, a, b = self._theta
        return a * b * x ** (b - 1)

    def _fit_theta(self, x, y):
        lo_b, hi_b = self.exponent_bounds
        if not lo_b < hi_b:
            raise ValueError(f"exponent_bounds must be (low, high) with low < high; got "
                             f"{self.exponent_bounds}.")
        if int(self.n_grid) < 2 or int(self.n_polish) < 1:
            raise ValueError("n_grid must be >= 2 and n_polish >= 1.")
        xref = math.exp(np.mean(np.log(x)))
        u = x / xref
        lu = np.log(u)
        grid = np.linspace(lo_b, hi_b, int(self.n_grid))
        starts, costs = [], []
        for b in grid:
            A = np.column_stack([np.ones_like(u), np.exp(b * lu)]) / y[:, None]
            (e, a), rn = nnls(A, np.ones_like(y))
            starts.append(np.array([e, math.log(max(a, 1e-12)), b]))
            costs.append(rn)
        starts = _top_starts(costs, starts, int(self.n_polish))
        if self.init is not None:
            p = self._check_init(self.init)
            starts.append(np.array([p[0], math.log(max(p[1] * xref ** p[2], 1e-300)), p[2]]))

        def ilog_f(z, _x):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                return np.log(z[0] + np.exp(z[1] + z[2] * lu))

        bounds = (np.array([0.0, -np.inf, lo_b]), np.array([np.inf, np.inf, hi_b]))

        def to_public(z):
            return np.array([z[0], math.exp(z[1]) * xref ** (-z[2]), z[2]])

        return self._multistart(x, y, starts, ilog_f, bounds, to_public)

    def _check_init(self, init):
        try:
            return np.array([float(init[k]) for k in self.param_names])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"init must be a dict with keys {self.param_names}.") from exc


class M4Law(_ScalingForm):
    """Alabdulmohsin et al. (2022) M4: ``(eps - eps_inf) / (eps_0 - eps)^alpha = beta m^c``.

    ``eps_inf`` is the irreducible error, ``eps_0`` the small-data (random-guess) level,
    ``c < 0`` the power-law exponent (MATH.md Section 1). ``eps(m)`` is the unique root in
    ``(eps_inf, eps_0)`` of the implicit equation (increasing left-hand side for
    ``alpha > 0``), found elementwise by safeguarded Newton iterations on the
    logit of ``s = (eps - eps_inf) / (eps_0 - eps_inf)``. ``alpha = 1`` gives the sigmoid in
    ``log m`` with all three regions.

    Fit: a grid over ``(eps_inf, eps_0, alpha)`` in which ``(log beta, c)`` are profiled out
    by OLS of ``log(y - eps_inf) - alpha log(eps_0 - y)`` on ``log m`` (the model's
    linearization), ranked by the log-space objective; the ``n_polish`` best (plus ``init``)
    are polished with bounded least squares and an implicit-function Jacobian.
    """

    param_names = ("eps_inf", "eps_0", "alpha", "beta", "c")
    formula = "(eps - eps_inf) / (eps_0 - eps)^alpha = beta * m^c"
    display_name = "M4"
    _floor_name = "eps_inf"
    _internal_names = ("eps_inf", "log(eps_0-eps_inf)", "alpha", "log beta", "c")

    def __init__(self, alpha_bounds=(0.01, 10.0), exponent_bounds=(-5.0, 0.0),
                 n_polish: int = 6, init=None):
        self.alpha_bounds = alpha_bounds
        self.exponent_bounds = exponent_bounds
        self.n_polish = n_polish
        self.init = init

    @staticmethod
    def _solve_t(r, alpha):
        """Solve ``h(t) = t + (alpha - 1) softplus(t) = r`` for t (the logit of s).

        ``h`` is increasing with ``h' = 1 + (alpha - 1) expit(t)`` between ``min(1, alpha)``
        and ``max(1, alpha)``, and convex (alpha > 1) or concave (alpha < 1), so Newton's method
        from ``t = r`` converges monotonically after at most one step; a bracket
        ``[-B, B]`` guards it. Vectorized (called at every least-squares evaluation; much faster
        than a general root finder on these tiny arrays); the residual is checked at the end.
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
        eps = e + np.exp(lD + log_expit(t))
        return np.log(eps), t, eps

    def _log_f(self, theta, x):
        e, e0, alpha, beta, c = theta
        if not (e0 > e and alpha > 0 and beta > 0):
            return np.full(np.shape(x), np.nan)
        z = np.array([e, math.log(e0 - e), alpha, math.log(beta), c])
        return self._internal_log_f_and_t(z, np.log(x))[0]

    def _internal_jac(self, z, lu):
        e, lD, alpha, lb, c = z
        _, t, eps = self._internal_log_f_and_t(z, lu)
        s = expit(t)
        hp = 1.0 + (alpha - 1.0) * s  # dh/dt > 0
        D = math.exp(lD)
        dt = {
            "lD": (alpha - 1.0) / hp,
            "alpha": (lD - np.logaddexp(0.0, t)) / hp,
            "lb": 1.0 / hp,
            "c": lu / hp,
        }
        ds = s * (1 - s)
        J = np.column_stack([
            np.ones_like(t),
            D * s + D * ds * dt["lD"],
            D * ds * dt["alpha"],
            D * ds * dt["lb"],
            D * ds * dt["c"],
        ])
        return J / eps[:, None]

    def _fit_theta(self, x, y):
        lo_a, hi_a = self.alpha_bounds
        lo_c, hi_c = self.exponent_bounds
        if not (0 < lo_a < hi_a):
            raise ValueError(f"alpha_bounds must satisfy 0 < low < high; got {self.alpha_bounds}.")
        if not lo_c < hi_c:
            raise ValueError(f"exponent_bounds must be (low, high), low < high; got "
                             f"{self.exponent_bounds}.")
        xref = math.exp(np.mean(np.log(x)))
        lu = np.log(x / xref)
        ly = np.log(y)
        ymin, ymax = y.min(), y.max()
        starts, costs = [], []
        X = np.column_stack([np.ones_like(lu), lu])
        for fe in (0.0, 0.3, 0.6, 0.8, 0.9, 0.97):
            e = fe * ymin
            for f0 in (1.02, 1.1, 1.3, 1.7, 3.0, 10.0):
                e0 = e + f0 * (ymax - e)
                for alpha in (0.1, 0.3, 0.6, 1.0, 2.0):
                    alpha = float(np.clip(alpha, lo_a, hi_a))
                    zt = np.log(y - e) - alpha * np.log(e0 - y)
                    (lb, c), *_ = np.linalg.lstsq(X, zt, rcond=None)
                    c = float(np.clip(c, lo_c, hi_c))
                    z = np.array([e, math.log(e0 - e), alpha, lb, c])
                    lf = self._internal_log_f_and_t(z, lu)[0]
                    starts.append(z)
                    costs.append(float(np.sum((lf - ly) ** 2)))
        starts = _top_starts(costs, starts, int(self.n_polish))
        if self.init is not None:
            try:
                p = [float(self.init[k]) for k in self.param_names]
            except (KeyError, TypeError) as exc:
                raise ValueError(f"init must be a dict with keys {self.param_names}.") from exc
            if not (p[1] > p[0] and p[3] > 0):
                raise ValueError("init must have eps_0 > eps_inf and beta > 0.")
            starts.append(np.array([p[0], math.log(p[1] - p[0]), p[2],
                                    math.log(p[3]) + p[4] * math.log(xref), p[4]]))
        bounds = (
            np.array([0.0, -np.inf, lo_a, -np.inf, lo_c]),
            np.array([np.inf, np.inf, hi_a, np.inf, hi_c]),
        )

        def to_public(z):
            e, lD, alpha, lb, c = z
            return np.array([e, e + math.exp(lD), alpha, math.exp(lb - c * math.log(xref)), c])

        def ilog_f(z, _x):
            return self._internal_log_f_and_t(z, lu)[0]

        return self._multistart(x, y, starts, ilog_f, bounds, to_public,
                                jac=lambda z: self._internal_jac(z, lu))


class BrokenPowerLaw(_ScalingForm):
    """Broken neural scaling law with one break (Caballero et al. 2022; MATH.md Section 1):

    ``eps(m) = a + b m^(-c0) (1 + (m/d)^(1/f))^(-c1 f)``.

    ``a`` is the irreducible error; the log-log slope of ``eps - a`` is ``-c0`` well before the
    break ``d`` and ``-(c0 + c1)`` well after it; ``f > 0`` sets its sharpness. Fit: a grid
    over ``(c0, c1, d, f)`` with ``(a, b) >= 0`` profiled out by non-negative least squares on
    relative residuals (variable projection); the ``n_polish`` best (plus ``init``) are
    polished with bounded least squares on log residuals. The break is kept within one
    e-fold of the data range.
    """

    param_names = ("a", "b", "c0", "c1", "d", "f")
    formula = "eps = a + b * m^(-c0) * (1 + (m/d)^(1/f))^(-c1*f)"
    display_name = "broken power law"
    _floor_name = "a"
    _internal_names = ("a", "log b", "c0", "c1", "log d", "log f")

    def __init__(self, n_polish: int = 8, init=None):
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
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return np.log(a + np.exp(math.log(b) + self._core(np.log(x), c0, c1, math.log(d),
                                                              math.log(f))))

    def _fit_theta(self, x, y):
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
        starts = _top_starts(costs, starts, int(self.n_polish))
        if self.init is not None:
            try:
                p = [float(self.init[k]) for k in self.param_names]
            except (KeyError, TypeError) as exc:
                raise ValueError(f"init must be a dict with keys {self.param_names}.") from exc
            if not (p[1] > 0 and p[4] > 0 and p[5] > 0):
                raise ValueError("init must have b, d, f > 0.")
            starts.append(np.array([p[0], math.log(p[1]) - p[2] * math.log(xref), p[2], p[3],
                                    math.log(p[4] / xref), math.log(p[5])]))
        bounds = (
            np.array([0.0, -np.inf, 0.0, -5.0, lo_d, math.log(0.01)]),
            np.array([np.inf, np.inf, 5.0, 5.0, hi_d, math.log(20.0)]),
        )

        def ilog_f(z, _x):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                return np.log(z[0] + np.exp(z[1] + self._core(lu, z[2], z[3], z[4], z[5])))

        def to_public(z):
            a, lb, c0, c1, ld, lf = z
            return np.array([a, math.exp(lb + c0 * math.log(xref)), c0, c1,
                             math.exp(ld) * xref, math.exp(lf)])

        return self._multistart(x, y, starts, ilog_f, bounds, to_public)


#: The fitting forms by short name.
FORMS = {
    "power law": PowerLaw,
    "power law + offset": OffsetPowerLaw,
    "M4": M4Law,
    "broken power law": BrokenPowerLaw,
}


def default_forms() -> dict:
    """Fresh, unfitted instances of every form in :data:`FORMS`."""
    return {name: cls() for name, cls in FORMS.items()}
