"""Theory check for linear regression by simulation (Covert et al. 2024, Theorem A.1).

docs/math.md §4 (OLS: Sherman-Morrison, leverage and noise terms, sign flip).

**Linear regression** (Theorem A.1). Data ``y = x^T theta + eps`` with ``E[x x^T] = Sigma`` and
``Var(eps) = sigma^2``; the loss of a fitted ``theta_hat`` is the population MSE

    L(theta_hat) = sigma^2 + (theta_hat - theta)^T Sigma (theta_hat - theta),

so the marginal contribution ``Delta(z, D) = L(theta_D) - L(theta_{D+z})`` of a point
``z = (x_z, y_z)`` with residual ``e_z = y_z - x_z^T theta`` is exact (no test-set noise).
With ``A = X^T X``, ``b = X^T eps``, ``u = A^-1 x_z``, ``h = x_z^T u`` (leverage of ``z`` in
``D + z``'s Gram matrix), ``d = theta_D - theta = A^-1 b`` and ``r = e_z - x_z^T d`` (residual of
``z`` under ``theta_D``), Sherman-Morrison gives ``theta_{D+z} - theta = d + u r / (1 + h)`` and

    Delta = -2 r (u^T Sigma d) / (1 + h) - r^2 (u^T Sigma u) / (1 + h)^2,

a rank-one update, no refit. Averaging over the label noise of ``D`` (design fixed):

    E[Delta | X] = (2 sigma^2 / (1+h) - (e_z^2 + sigma^2 h) / (1+h)^2) * u^T Sigma u,

and with ``A ~ k Sigma``: ``E[Delta] ~ c(z) k^-2``, ``c(z) = (2 sigma^2 - e_z^2) * x_z^T Sigma^-1 x_z``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import wishart

from .._checks import check_array, check_int, check_number, check_random_state
from ..results import Summary
from ._inputs import _check_cov, _check_ks
from ._quadrature import _chi2_mean, _mean_q
from .slope import SlopeFit, fit_loglog_slope

__all__ = [
    "GaussianLinearModel",
    "OLSContributionResult",
    "SignFlip",
    "ols_coefficient",
    "ols_expected_contribution",
    "ols_marginal_contribution",
    "ols_refit_contribution",
    "simulate_ols_contributions",
]


@dataclass(frozen=True)
class GaussianLinearModel:
    """Known truth ``y = x^T coef + eps``, ``x ~ N(0, cov)``, ``eps ~ N(0, noise_std^2)``.

    ``cov`` is the second-moment matrix ``Sigma = E[x x^T]`` used by the population MSE
    ``L(theta_hat) = sigma^2 + (theta_hat - coef)^T Sigma (theta_hat - coef)`` (also when a
    user-given design is simulated, see :func:`simulate_ols_contributions`). Covert et al.
    Theorem A.1; docs/math.md §4.
    """

    cov: np.ndarray
    noise_std: float = 1.0
    coef: np.ndarray | None = None

    def __post_init__(self):
        cov = _check_cov(self.cov)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "noise_std", check_number(self.noise_std, "noise_std", low=0.0,
                                                           low_open=True))
        coef = np.ones(cov.shape[0]) if self.coef is None else np.asarray(self.coef, dtype=float)
        if coef.shape != (cov.shape[0],) or not np.all(np.isfinite(coef)):
            raise ValueError(f"coef must be finite with shape ({cov.shape[0]},); got {coef.shape}.")
        object.__setattr__(self, "coef", coef)

    @property
    def n_features(self):
        """Number of features ``p``."""
        return self.cov.shape[0]

    @property
    def noise_var(self):
        """``sigma^2``."""
        return float(self.noise_std) ** 2

    def sample(self, n, random_state=None):
        """Draw ``n`` points: ``(X (n, p), y (n,))``."""
        n = check_int(n, "n", low=1)
        rng = check_random_state(random_state)
        X = rng.multivariate_normal(np.zeros(self.n_features), self.cov, size=n)
        return X, X @ self.coef + self.noise_std * rng.standard_normal(n)

    def population_loss(self, coef_hat):
        """``sigma^2 + (coef_hat - coef)^T Sigma (coef_hat - coef)``, batched over leading axes."""
        d = np.asarray(coef_hat, dtype=float) - self.coef
        return self.noise_var + np.einsum("...i,ij,...j->...", d, self.cov, d)

    def leverage(self, x):
        """Asymptotic leverage ``x^T Sigma^-1 x`` (batched)."""
        x = np.asarray(x, dtype=float)
        return np.einsum("...i,...i->...", x, np.linalg.solve(self.cov, x[..., None])[..., 0])

    def point(self, leverage, direction=None):
        """A point ``x_z`` with ``x_z^T Sigma^-1 x_z = leverage`` along ``Sigma^{1/2} direction``.

        ``leverage`` may be an array (one row per value); ``direction`` defaults to the first
        coordinate axis.
        """
        lev = np.atleast_1d(np.asarray(leverage, dtype=float))
        if not np.all(np.isfinite(lev)) or np.any(lev < 0):
            raise ValueError("leverage must be finite and non-negative.")
        p = self.n_features
        v = np.eye(p)[0] if direction is None else np.asarray(direction, dtype=float)
        if v.shape != (p,) or not np.any(v != 0):
            raise ValueError(f"direction must be a non-zero vector of length {p}.")
        v = v / np.linalg.norm(v)
        root = np.linalg.cholesky(self.cov)  # L L^T = Sigma, so (L v)^T Sigma^-1 (L v) = |v|^2
        x = np.sqrt(lev)[:, None] * (root @ v)[None, :]
        return x[0] if np.ndim(leverage) == 0 else x

    def expected_contribution(self, x_z, e_z, ks):
        """Exact ``E[Delta]`` over datasets ``D`` of size ``k`` with Gaussian design and noise.

        Averaging the exact ``E[Delta | X]`` (:func:`ols_expected_contribution`) over designs
        ``x ~ N(0, Sigma)`` as well: with ``W = Sigma^-1/2 A Sigma^-1/2 ~ Wishart(k, I_p)`` and
        the block decomposition of ``W^-1``, ``h = lev / s`` and ``q = lev (1 + |beta|^2) / s^2``
        with ``s ~ chi2(k - p + 1)`` independent of ``beta`` (``E|beta|^2 = (p-1)/(k-p)``), so

            E[Delta] = lev (k-1) / ((k-p)(k-p-1)(k-p-3)) * E_{s ~ chi2(k-p-3)}[f(lev / s)],
            f(h) = 2 sigma^2 / (1+h) - (e_z^2 + sigma^2 h) / (1+h)^2,

        where ``lev = x_z^T Sigma^-1 x_z`` and the first factor is ``E[q]`` (the chi-square's
        degrees drop by 4 when ``s^-2`` is absorbed into its density). One-dimensional
        quadrature (``scipy.integrate.quad``, relative accuracy about ``1e-12``); no Monte Carlo.
        Finite for ``k >= p + 4`` only (for smaller ``k``, ``E[q]`` is infinite). As ``k`` grows
        ``k^2 E[Delta] -> c(z)`` (:func:`ols_coefficient`) with relative error
        ``((3p + 3) - lev (3 sigma^2 - 2 e_z^2) / (2 sigma^2 - e_z^2)) / k + O(k^-2)``.
        docs/math.md §4 (Covert et al. Theorem A.1 before the limit).

        Parameters
        ----------
        x_z : (m, p) or (p,) points; e_z : (m,) or scalar, their residuals ``y_z - x_z^T coef``.
        ks : dataset sizes, each at least ``p + 4``.

        Returns
        -------
        (n_k, m) array: ``E[Delta]`` at every size for every point.
        """
        lev, e2 = self._points(x_z, e_z)
        ks = _check_ks(ks, self.n_features + 4, "E[Delta] is infinite for k < p + 4")
        s2 = self.noise_var
        out = np.empty((len(ks), lev.size))
        for ik, k in enumerate(ks):
            for j in range(lev.size):
                bracket = _chi2_mean(  # |bracket| <= 2 s2 + e2 + s2 / 4
                    lambda h, j=j: 2 * s2 / (1 + h) - (e2[j] + s2 * h) / (1 + h) ** 2,
                    lev[j], int(k) - self.n_features - 3, 3 * s2 + e2[j])
                out[ik, j] = _mean_q(lev[j], int(k), self.n_features) * bracket
        return out

    def sign_flip_ratio(self, x_z, ks):
        """Exact root in ``e_z^2 / sigma^2`` of :meth:`expected_contribution` (Gaussian design).

        ``E[Delta]`` is linear in ``e_z^2``, so it vanishes at

            e_z^2 / sigma^2 = E[(2 + h) / (1 + h)^2] / E[1 / (1 + h)^2],   h = lev / s,
            s ~ chi2(k - p - 3),

        a weighted mean of the per-design root ``2 + h`` (docs/math.md §4): about
        ``2 + lev / k`` for large ``k``, and 2 in the limit (Covert et al. Theorem A.1).

        Returns an (n_k, m) array (points as in :meth:`expected_contribution`).
        """
        x_z = np.atleast_2d(np.asarray(x_z, dtype=float))
        lev, _ = self._points(x_z, np.zeros(x_z.shape[0]))
        ks = _check_ks(ks, self.n_features + 4, "E[Delta] is infinite for k < p + 4")
        out = np.empty((len(ks), lev.size))
        for ik, k in enumerate(ks):
            df = int(k) - self.n_features - 3
            for j in range(lev.size):
                num = _chi2_mean(lambda h: (2 + h) / (1 + h) ** 2, lev[j], df, 2.0)
                out[ik, j] = num / _chi2_mean(lambda h: 1 / (1 + h) ** 2, lev[j], df, 1.0)
        return out

    def _points(self, x_z, e_z):
        """Leverages ``(m,)`` and squared residuals ``(m,)`` of checked points."""
        x_z = check_array(np.atleast_2d(np.asarray(x_z, dtype=float)), "x_z")
        e_z = check_array(np.atleast_1d(np.asarray(e_z, dtype=float)), "e_z", ndim=1)
        if x_z.shape[1] != self.n_features or e_z.shape != (x_z.shape[0],):
            raise ValueError(f"x_z must be (m, {self.n_features}) and e_z (m,); got {x_z.shape} "
                             f"and {e_z.shape}.")
        return self.leverage(x_z), e_z**2


def ols_marginal_contribution(A, b, x_z, e_z, cov):
    """Exact population-MSE contribution of ``z`` to ``D`` by a Sherman-Morrison rank-one update.

    ``Delta = -2 r s / (1+h) - r^2 q / (1+h)^2`` with ``u = A^-1 x_z``, ``h = x_z^T u``,
    ``q = u^T Sigma u``, ``d = A^-1 b``, ``s = u^T Sigma d``, ``r = e_z - x_z^T d`` (module
    docstring; Covert et al. Appendix A.1).

    Parameters
    ----------
    A : (..., p, p) Gram matrices ``X^T X`` of the datasets ``D``.
    b : (..., p) vectors ``X^T eps`` (``eps`` = label noise of ``D``).
    x_z : (m, p) points; e_z : (m,) their residuals ``y_z - x_z^T theta``.
    cov : (p, p) ``Sigma = E[x x^T]``.

    Returns
    -------
    (..., m) contributions ``L(theta_D) - L(theta_{D+z})`` (positive = helpful).
    """
    A, b, x_z, e_z = _ols_inputs(A, b, x_z, e_z, cov)
    d = np.linalg.solve(A, b[..., None])[..., 0]  # (..., p)
    u = _solve_points(A, x_z)  # (..., m, p)
    h = np.einsum("...mp,mp->...m", u, x_z)
    Su = u @ cov
    q = np.einsum("...mp,...mp->...m", Su, u)
    s = np.einsum("...mp,...p->...m", Su, d)
    r = e_z - d @ x_z.T
    return -2.0 * r * s / (1.0 + h) - r**2 * q / (1.0 + h) ** 2


def ols_expected_contribution(A, x_z, e_z, cov, noise_std):
    """Exact ``E[Delta | X]`` over the label noise of ``D`` (Covert et al. Theorem A.1).

    ``(2 sigma^2 / (1+h) - (e_z^2 + sigma^2 h) / (1+h)^2) * x_z^T A^-1 Sigma A^-1 x_z`` with
    ``h = x_z^T A^-1 x_z`` (docs/math.md §4). Shapes as :func:`ols_marginal_contribution`.
    """
    A, _, x_z, e_z = _ols_inputs(A, None, x_z, e_z, cov)
    s2 = check_number(noise_std, "noise_std", low=0.0, low_open=True) ** 2
    u = _solve_points(A, x_z)
    h = np.einsum("...mp,mp->...m", u, x_z)
    q = np.einsum("...mp,pq,...mq->...m", u, cov, u)
    return (2.0 * s2 / (1.0 + h) - (e_z**2 + s2 * h) / (1.0 + h) ** 2) * q


def ols_coefficient(x_z, e_z, cov, noise_std):
    """Asymptotic coefficient ``c(z) = (2 sigma^2 - e_z^2) * x_z^T Sigma^-1 x_z``:
    ``E[Delta] ~ c(z) k^-2`` (Covert et al. Theorem A.1; docs/math.md §4)."""
    cov = _check_cov(cov)
    s2 = check_number(noise_std, "noise_std", low=0.0, low_open=True) ** 2
    x_z = check_array(np.atleast_2d(x_z), "x_z")
    e_z = check_array(np.atleast_1d(e_z), "e_z", ndim=1)
    if x_z.shape[1] != cov.shape[0] or e_z.shape != (x_z.shape[0],):
        raise ValueError(f"x_z must be (m, {cov.shape[0]}) and e_z (m,); got {x_z.shape}, {e_z.shape}.")
    lev = np.einsum("mp,mp->m", x_z, np.linalg.solve(cov, x_z.T).T)
    return (2.0 * s2 - e_z**2) * lev


def ols_refit_contribution(X, y, x_z, y_z, model: GaussianLinearModel):
    """Reference: refit OLS on ``D`` and ``D + z`` (``numpy.linalg.lstsq``), return ``Delta``.

    ``Delta = L(theta_D) - L(theta_{D+z})`` with the population MSE of ``model`` (docs/math.md
    §4). Slow, one dataset, for checking :func:`ols_marginal_contribution`.
    """
    if not isinstance(model, GaussianLinearModel):
        raise TypeError(f"model must be a GaussianLinearModel; got {type(model).__name__}.")
    X = check_array(X, "X")
    y = check_array(y, "y", ndim=1)
    x_z = check_array(x_z, "x_z", ndim=1)
    y_z = check_number(y_z, "y_z")
    if X.ndim != 2 or y.shape != (X.shape[0],) or x_z.shape != (X.shape[1],):
        raise ValueError(f"expected X (k, p), y (k,), x_z (p,); got {X.shape}, {y.shape}, {x_z.shape}.")
    if X.shape[0] < X.shape[1]:
        raise ValueError("need at least p points in D for OLS to be defined.")
    theta_d = np.linalg.lstsq(X, y, rcond=None)[0]
    theta_dz = np.linalg.lstsq(np.vstack([X, x_z]), np.append(y, y_z), rcond=None)[0]
    return float(model.population_loss(theta_d) - model.population_loss(theta_dz))


def _solve_points(A, x_z):
    """``A^-1 x_j`` for every point, batched: (..., m, p)."""
    rhs = np.swapaxes(np.broadcast_to(x_z, A.shape[:-2] + x_z.shape), -1, -2)
    return np.swapaxes(np.linalg.solve(A, rhs), -1, -2)


def _ols_inputs(A, b, x_z, e_z, cov):
    cov = _check_cov(cov)
    p = cov.shape[0]
    A = np.asarray(A, dtype=float)
    if A.shape[-2:] != (p, p):
        raise ValueError(f"A must have shape (..., {p}, {p}); got {A.shape}.")
    if b is not None:
        b = np.asarray(b, dtype=float)
        if b.shape != A.shape[:-1]:
            raise ValueError(f"b must have shape {A.shape[:-1]}; got {b.shape}.")
        if not np.all(np.isfinite(b)):
            raise ValueError("b contains NaN or infinite values.")
    x_z = np.atleast_2d(np.asarray(x_z, dtype=float))
    e_z = np.atleast_1d(np.asarray(e_z, dtype=float))
    if x_z.ndim != 2 or x_z.shape[1] != p or e_z.shape != (x_z.shape[0],):
        raise ValueError(f"x_z must be (m, {p}) and e_z (m,); got {x_z.shape} and {e_z.shape}.")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(x_z)) and np.all(np.isfinite(e_z))):
        raise ValueError("A, x_z and e_z must be finite.")
    return A, b, x_z, e_z


@dataclass
class SignFlip:
    """Where the mean contribution changes sign as a function of ``e_z^2 / sigma^2`` at size ``k``.

    ``ratio`` is the simulated root (with standard error ``se``); ``exact`` the root of the exact
    expectation given the simulated designs (``2 + E[h]``-like: ``sigma^2 (2 + h)`` per design);
    ``predicted`` the asymptotic theorem's ``2``.
    """

    k: int
    ratio: float
    se: float
    exact: float
    predicted: float = 2.0


@dataclass
class OLSContributionResult:
    """Simulated OLS contributions (Covert et al. Theorem A.1).

    Attributes
    ----------
    ks : (n_k,) dataset sizes; x_z (m, p), e_z (m,) the points; leverage (m,) = x^T Sigma^-1 x.
    mean, se : (n_k, m) Monte Carlo mean of the exact contribution over datasets ``D`` (design
        *and* label noise drawn afresh for every dataset; antithetic noise pairs count as one
        draw) and its standard error.
    cov_mean : (n_k, m, m) covariance of the means across points (points share the datasets).
    exact, exact_se : (n_k, m) mean over the same designs of ``E[Delta | X]`` (the theorem's exact
        expectation given the design) and its standard error.
    asymptotic : (n_k, m) ``c(z) k^-2``; coefficient (m,) ``c(z)``.
    n_datasets : datasets per size.
    params : DataFrame indexed by point: the fitted log-log ``slope`` of the simulated means
        and its ``slope_se``, and ``exact_slope``, ``exact_slope_se`` of the exact expectations
        (:func:`~scaling_kit.theory.slope.fit_loglog_slope` over all ``ks``; NaN where the mean
        changes sign or fewer than 3 sizes were simulated), ``coefficient`` ``c(z)``.
    """

    ks: np.ndarray
    x_z: np.ndarray
    e_z: np.ndarray
    leverage: np.ndarray
    noise_var: float
    mean: np.ndarray
    se: np.ndarray
    cov_mean: np.ndarray
    exact: np.ndarray
    exact_se: np.ndarray
    asymptotic: np.ndarray
    coefficient: np.ndarray
    n_datasets: int
    design: str
    params: pd.DataFrame

    def slope(self, point=0, which="simulated") -> SlopeFit:
        """Log-log slope of the mean contribution of ``point`` over ``ks``.

        ``which="simulated"`` fits the Monte Carlo means, ``"exact"`` the exact expectations.
        """
        if which == "simulated":
            return fit_loglog_slope(self.ks, self.mean[:, point], self.se[:, point])
        if which == "exact":
            return fit_loglog_slope(self.ks, self.exact[:, point], self.exact_se[:, point])
        raise ValueError(f"which must be 'simulated' or 'exact'; got {which!r}.")

    def sign_flip(self, k_index=-1) -> SignFlip:
        """Root in ``e_z^2 / sigma^2`` of the mean contribution at ``ks[k_index]``.

        Requires all points to share one ``x_z`` and at least two distinct residuals. With
        antithetic noise pairs the simulated mean is exactly linear in ``e_z^2`` (the
        odd-in-noise terms cancel), so the root follows from the two extreme residuals; its
        standard error is by the delta method with the covariance of the two means.
        """
        if not np.allclose(self.x_z, self.x_z[0]):
            raise ValueError("sign_flip needs all points to share x_z (vary only the residual).")
        e2 = self.e_z**2 / self.noise_var
        i, j = int(np.argmin(e2)), int(np.argmax(e2))
        if e2[i] == e2[j]:
            raise ValueError("sign_flip needs at least two distinct residual sizes.")
        d1, d2 = self.mean[k_index, i], self.mean[k_index, j]
        if d1 == d2:
            raise ValueError("the mean contribution does not vary with the residual.")
        root = e2[i] + d1 * (e2[j] - e2[i]) / (d1 - d2)
        # gradient of the root w.r.t. (d1, d2)
        g = np.array([-d2, d1]) * (e2[j] - e2[i]) / (d1 - d2) ** 2
        C = self.cov_mean[k_index][np.ix_([i, j], [i, j])]
        se = float(np.sqrt(g @ C @ g))
        x1, x2 = self.exact[k_index, i], self.exact[k_index, j]
        exact = e2[i] + x1 * (e2[j] - e2[i]) / (x1 - x2)
        return SignFlip(int(self.ks[k_index]), float(root), se, float(exact))

    def compare_expected(self, expected) -> pd.DataFrame:
        """The simulation against exact expectations ``expected`` (n_k, m), one row per point.

        ``expected`` is typically :meth:`GaussianLinearModel.expected_contribution` at
        ``ks`` (exact over Gaussian designs, docs/math.md §4). Columns: ``e2/sigma2``,
        ``coefficient`` ``c(z)``; ``max_abs_z``, the largest ``|mean - expected| / se`` over
        ``ks``; ``slope``, ``slope_se`` of the simulated means and ``expected_slope``, the
        slope of ``expected`` fitted with the same weights (so the two differ only by Monte
        Carlo error, not by the curvature of the finite-k expectation); ``k2_expected`` and
        ``gap``, ``k^2 expected`` at the largest ``k`` and its relative distance to ``c(z)``
        (order ``p / k``). Slopes are NaN where a fit is impossible (fewer than 3 sizes or a
        sign change).
        """
        expected = np.asarray(expected, dtype=float)
        if expected.shape != self.mean.shape:
            raise ValueError(f"expected must have shape {self.mean.shape} (ks x points); got "
                             f"{expected.shape}.")
        rows = []
        for j in range(self.mean.shape[1]):
            row = {"e2/sigma2": self.e_z[j] ** 2 / self.noise_var,
                   "coefficient": self.coefficient[j],
                   "max_abs_z": float(np.max(np.abs(self.mean[:, j] - expected[:, j])
                                             / self.se[:, j]))}
            try:
                fit = fit_loglog_slope(self.ks, self.mean[:, j], self.se[:, j])
                exact = fit_loglog_slope(self.ks, expected[:, j], self.se[:, j])
                row.update(slope=fit.slope, slope_se=fit.se, expected_slope=exact.slope)
            except ValueError:
                row.update(slope=np.nan, slope_se=np.nan, expected_slope=np.nan)
            k2 = float(self.ks[-1]) ** 2 * expected[-1, j]
            row.update(k2_expected=k2, gap=k2 / self.coefficient[j] - 1)
            rows.append(row)
        return pd.DataFrame(rows).rename_axis("point")

    def summary(self) -> Summary:
        """Per point: leverage, ``e_z^2 / sigma^2``, ``c(z)``, fitted slopes and ``k^2`` times the
        mean at the largest k (a :class:`scaling_kit.results.Summary`; the numbers are in
        ``params`` too)."""
        table = self.params.copy()
        table.insert(0, "e2/sigma2", self.e_z**2 / self.noise_var)
        table.insert(0, "leverage", self.leverage)
        table[f"k^2 mean @k={self.ks[-1]}"] = self.mean[-1] * float(self.ks[-1]) ** 2
        return Summary(
            title="OLS: simulated marginal contributions vs Theorem A.1 (E[Delta] ~ c(z) k^-2)",
            facts={"ks": ", ".join(str(int(k)) for k in self.ks),
                   "datasets per k": self.n_datasets, "design": self.design,
                   "sigma^2": self.noise_var},
            tables={"per point": table},
            notes=["slope is NaN where the mean changes sign over ks (no power law in |mean|)."],
        )


def _slope_table(ks, mean, se, exact, exact_se):
    """Per point: WLS log-log slopes of the simulated means and of the exact expectations
    (NaN where a fit is impossible: fewer than 3 sizes, or a sign change)."""
    rows = []
    for j in range(mean.shape[1]):
        row = {}
        for prefix, m, e in (("", mean[:, j], se[:, j]), ("exact_", exact[:, j], exact_se[:, j])):
            try:
                fit = fit_loglog_slope(ks, m, e)
                row[prefix + "slope"], row[prefix + "slope_se"] = fit.slope, fit.se
            except ValueError:
                row[prefix + "slope"], row[prefix + "slope_se"] = np.nan, np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["slope", "slope_se", "exact_slope", "exact_slope_se"]
                        ).rename_axis("point")


def simulate_ols_contributions(
    model: GaussianLinearModel,
    x_z,
    e_z,
    ks,
    n_datasets=2000,
    *,
    design=None,
    antithetic=True,
    chunk_size=None,
    random_state=None,
) -> OLSContributionResult:
    """Average exact OLS contributions of points ``z`` over random datasets ``D`` of each size.

    For every ``k`` in ``ks`` and each of ``n_datasets`` datasets: draw a design ``X`` (k x p)
    and label noise ``eps``; compute the exact population-MSE contribution of every point by
    the rank-one update :func:`ols_marginal_contribution` (Covert et al. Appendix A.1), and the
    exact expectation given the design :func:`ols_expected_contribution`. What is averaged:
    both the design and the noise of ``D`` (the point ``z`` is fixed).

    ``design=None`` (Gaussian ``x ~ N(0, Sigma)``) never forms ``X``: it draws the sufficient
    statistics ``A = X^T X ~ Wishart(k, Sigma)`` (:data:`scipy.stats.wishart`) and
    ``X^T eps | A ~ N(0, sigma^2 A)``, exact in distribution, cost independent of ``k``.
    ``design`` may instead be a callable ``design(rng, k) -> X (k, p)`` (rows i.i.d. with
    ``E[x x^T] = model.cov``), then ``X`` is formed explicitly.

    ``antithetic=True`` pairs every noise draw ``eps`` with ``-eps`` (same design) and averages
    the pair: unbiased, and it removes the ``O(k^-1.5)`` noise term that is odd in ``eps``, so
    the relative Monte Carlo error stays ``O(n_datasets^-1/2)`` at every ``k``.
    """
    if not isinstance(model, GaussianLinearModel):
        raise TypeError(f"model must be a GaussianLinearModel; got {type(model).__name__}.")
    p = model.n_features
    x_z = np.atleast_2d(np.asarray(x_z, dtype=float))
    e_z = np.atleast_1d(np.asarray(e_z, dtype=float))
    if x_z.shape[1] != p or e_z.shape != (x_z.shape[0],):
        raise ValueError(f"x_z must be (m, {p}) and e_z (m,); got {x_z.shape} and {e_z.shape}.")
    if not (np.all(np.isfinite(x_z)) and np.all(np.isfinite(e_z))):
        raise ValueError("x_z and e_z must be finite.")
    ks = _check_ks(ks, p + 1, "OLS on D needs k > p")
    n_datasets = check_int(n_datasets, "n_datasets", low=2)
    if design is not None and not callable(design):
        raise TypeError("design must be None (Gaussian) or a callable design(rng, k) -> X (k, p).")
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", low=1)
    rng = check_random_state(random_state)
    m = x_z.shape[0]
    s = model.noise_std
    mean = np.empty((len(ks), m))
    se = np.empty_like(mean)
    exact = np.empty_like(mean)
    exact_se = np.empty_like(mean)
    cov_mean = np.empty((len(ks), m, m))
    for ik, k in enumerate(ks):
        if chunk_size is None:
            chunk = n_datasets if design is None else max(1, min(n_datasets, 2_000_000 // (k * p)))
        else:
            chunk = chunk_size
        deltas, expects = [], []
        for start in range(0, n_datasets, chunk):
            nb = min(chunk, n_datasets - start)
            if design is None:
                A = wishart.rvs(df=k, scale=model.cov, size=nb, random_state=rng).reshape(nb, p, p)
                xi = rng.standard_normal((nb, p))
                b = s * np.einsum("bij,bj->bi", np.linalg.cholesky(A), xi)
            else:
                X = np.stack([np.asarray(design(rng, k), dtype=float) for _ in range(nb)])
                if X.shape != (nb, k, p) or not np.all(np.isfinite(X)):
                    raise ValueError(f"design(rng, k) must return a finite array of shape ({k}, {p}).")
                A = np.swapaxes(X, -1, -2) @ X
                b = np.einsum("bkp,bk->bp", X, s * rng.standard_normal((nb, k)))
            delta = ols_marginal_contribution(A, b, x_z, e_z, model.cov)
            if antithetic:
                delta = 0.5 * (delta + ols_marginal_contribution(A, -b, x_z, e_z, model.cov))
            deltas.append(delta)
            expects.append(ols_expected_contribution(A, x_z, e_z, model.cov, s))
        delta = np.concatenate(deltas)
        expect = np.concatenate(expects)
        mean[ik] = delta.mean(axis=0)
        se[ik] = delta.std(axis=0, ddof=1) / np.sqrt(n_datasets)
        cov_mean[ik] = np.atleast_2d(np.cov(delta, rowvar=False)) / n_datasets
        exact[ik] = expect.mean(axis=0)
        exact_se[ik] = expect.std(axis=0, ddof=1) / np.sqrt(n_datasets)
    coefficient = ols_coefficient(x_z, e_z, model.cov, s)
    params = _slope_table(ks, mean, se, exact, exact_se).assign(coefficient=coefficient)
    return OLSContributionResult(
        ks=ks,
        x_z=x_z,
        e_z=e_z,
        leverage=model.leverage(x_z),
        noise_var=model.noise_var,
        mean=mean,
        se=se,
        cov_mean=cov_mean,
        exact=exact,
        exact_se=exact_se,
        asymptotic=coefficient[None, :] / ks[:, None].astype(float) ** 2,
        coefficient=coefficient,
        n_datasets=n_datasets,
        design="gaussian (Wishart)" if design is None else "user design",
        params=params,
    )
