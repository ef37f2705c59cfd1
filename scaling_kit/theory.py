"""Theory checks by simulation: exact marginal contributions where the truth is known.

MATH.md Section 3 and Covert et al. (ICML 2024), Appendix A (Theorems A.1 and A.2).

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

**M-estimators** (Theorem A.2), here L2 logistic regression (the objective of
:class:`scaling_kit.learners.ExactLogisticRegression`) on Gaussian features with a known logistic
model. Measured on the population log loss (closed form up to one-dimensional Gauss-Hermite
quadrature), ``grad L(theta*) = 0`` and ``E[Delta] ~ k^-2``; measured on a *fixed* finite
validation set ``V``, ``grad L_V(theta*) != 0`` and

    E_D[Delta_V | V] = c_1(V) / k + O(k^-2),   c_1(V) = grad L_V(theta*)^T H^-1 grad l(z; theta*),

with ``H`` the population Hessian of the per-example loss at ``theta*``. Averaging over
validation sets drawn independently of ``D`` gives back the population contribution exactly
(``E_V[L_V(theta)] = L(theta)``), so the ``k^-1`` regime is a property of one fixed set: we fix
``V`` and average over ``D`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit
from scipy.stats import wishart

from .logistic import LogisticProblem, augment

__all__ = [
    "GaussianLinearModel",
    "GaussianLogisticModel",
    "SlopeFit",
    "SignFlip",
    "OLSContributionResult",
    "LogisticContributionResult",
    "fit_loglog_slope",
    "ols_marginal_contribution",
    "ols_expected_contribution",
    "ols_refit_contribution",
    "ols_coefficient",
    "simulate_ols_contributions",
    "fit_logistic_batch",
    "simulate_logistic_contributions",
]


def _rng(random_state):
    return np.random.default_rng(random_state)


def _check_positive_int(value, name):
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _check_ks(ks, minimum):
    ks = np.asarray(ks)
    if ks.ndim != 1 or ks.size < 1:
        raise ValueError(f"ks must be a non-empty 1-D sequence of dataset sizes; got shape {ks.shape}.")
    if not np.all(np.isfinite(ks)) or np.any(ks != np.round(ks)):
        raise ValueError(f"ks must hold integers; got {ks!r}.")
    ks = ks.astype(int)
    if np.any(ks < minimum):
        raise ValueError(f"every k must be at least {minimum} here; got min(ks) = {ks.min()}.")
    if np.any(np.diff(ks) <= 0):
        raise ValueError("ks must be strictly increasing.")
    return ks


def _check_cov(cov, name="cov"):
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {cov.shape}.")
    if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T):
        raise ValueError(f"{name} must be finite and symmetric.")
    if np.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError(f"{name} must be positive definite.")
    return cov


# =============================================================================================
# Small results shared by both parts
# =============================================================================================
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


# =============================================================================================
# Linear regression (Theorem A.1)
# =============================================================================================
@dataclass(frozen=True)
class GaussianLinearModel:
    """Known truth ``y = x^T coef + eps``, ``x ~ N(0, cov)``, ``eps ~ N(0, noise_std^2)``.

    ``cov`` is the second-moment matrix ``Sigma = E[x x^T]`` used by the population MSE
    (also when a user-given design is simulated, see :func:`simulate_ols_contributions`).
    """

    cov: np.ndarray
    noise_std: float = 1.0
    coef: np.ndarray | None = None

    def __post_init__(self):
        cov = _check_cov(self.cov)
        object.__setattr__(self, "cov", cov)
        if not (np.isfinite(self.noise_std) and self.noise_std > 0):
            raise ValueError(f"noise_std must be positive and finite; got {self.noise_std!r}.")
        coef = np.ones(cov.shape[0]) if self.coef is None else np.asarray(self.coef, dtype=float)
        if coef.shape != (cov.shape[0],) or not np.all(np.isfinite(coef)):
            raise ValueError(f"coef must be finite with shape ({cov.shape[0]},); got {coef.shape}.")
        object.__setattr__(self, "coef", coef)

    @property
    def n_features(self):
        return self.cov.shape[0]

    @property
    def noise_var(self):
        return float(self.noise_std) ** 2

    def sample(self, n, random_state=None):
        """Draw ``n`` points: ``(X (n, p), y (n,))``."""
        n = _check_positive_int(n, "n")
        rng = _rng(random_state)
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
    ``h = x_z^T A^-1 x_z`` (MATH.md Section 3). Shapes as :func:`ols_marginal_contribution`.
    """
    A, _, x_z, e_z = _ols_inputs(A, None, x_z, e_z, cov)
    if not (np.isfinite(noise_std) and noise_std > 0):
        raise ValueError(f"noise_std must be positive and finite; got {noise_std!r}.")
    s2 = float(noise_std) ** 2
    u = _solve_points(A, x_z)
    h = np.einsum("...mp,mp->...m", u, x_z)
    q = np.einsum("...mp,pq,...mq->...m", u, cov, u)
    return (2.0 * s2 / (1.0 + h) - (e_z**2 + s2 * h) / (1.0 + h) ** 2) * q


def ols_coefficient(x_z, e_z, cov, noise_std):
    """Asymptotic coefficient ``c(z) = (2 sigma^2 - e_z^2) * x_z^T Sigma^-1 x_z`` (E[Delta] ~ c k^-2)."""
    cov = _check_cov(cov)
    x_z = np.atleast_2d(np.asarray(x_z, dtype=float))
    e_z = np.atleast_1d(np.asarray(e_z, dtype=float))
    if x_z.shape[1] != cov.shape[0] or e_z.shape != (x_z.shape[0],):
        raise ValueError(f"x_z must be (m, {cov.shape[0]}) and e_z (m,); got {x_z.shape}, {e_z.shape}.")
    lev = np.einsum("mp,mp->m", x_z, np.linalg.solve(cov, x_z.T).T)
    return (2.0 * float(noise_std) ** 2 - e_z**2) * lev


def ols_refit_contribution(X, y, x_z, y_z, model: GaussianLinearModel):
    """Reference: refit OLS on ``D`` and ``D + z`` (``numpy.linalg.lstsq``), return ``Delta``.

    Slow, one dataset, for checking :func:`ols_marginal_contribution`.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    x_z = np.asarray(x_z, dtype=float)
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

    def to_frame(self):
        """Tidy table: one row per (k, point)."""
        n_k, m = self.mean.shape
        return pd.DataFrame(
            {
                "k": np.repeat(self.ks, m),
                "point": np.tile(np.arange(m), n_k),
                "leverage": np.tile(self.leverage, n_k),
                "residual2_over_sigma2": np.tile(self.e_z**2 / self.noise_var, n_k),
                "mean": self.mean.ravel(),
                "se": self.se.ravel(),
                "exact": self.exact.ravel(),
                "asymptotic": self.asymptotic.ravel(),
            }
        )

    def summary(self):
        rows = []
        for j in range(self.mean.shape[1]):
            try:
                fit = self.slope(j)
                slope, se = fit.slope, fit.se
            except ValueError:
                slope, se = np.nan, np.nan
            rows.append(
                {
                    "leverage": self.leverage[j],
                    "e2/sigma2": self.e_z[j] ** 2 / self.noise_var,
                    "c(z)": self.coefficient[j],
                    "slope": slope,
                    "slope se": se,
                    f"k^2 mean @k={self.ks[-1]}": self.mean[-1, j] * self.ks[-1] ** 2,
                }
            )
        return pd.DataFrame(rows)


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
        raise ValueError("model must be a GaussianLinearModel.")
    p = model.n_features
    x_z = np.atleast_2d(np.asarray(x_z, dtype=float))
    e_z = np.atleast_1d(np.asarray(e_z, dtype=float))
    if x_z.shape[1] != p or e_z.shape != (x_z.shape[0],):
        raise ValueError(f"x_z must be (m, {p}) and e_z (m,); got {x_z.shape} and {e_z.shape}.")
    if not (np.all(np.isfinite(x_z)) and np.all(np.isfinite(e_z))):
        raise ValueError("x_z and e_z must be finite.")
    ks = _check_ks(ks, p + 1)
    n_datasets = _check_positive_int(n_datasets, "n_datasets")
    if n_datasets < 2:
        raise ValueError("n_datasets must be at least 2 to estimate a standard error.")
    if design is not None and not callable(design):
        raise ValueError("design must be None (Gaussian) or a callable design(rng, k) -> X (k, p).")
    rng = _rng(random_state)
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
            chunk = _check_positive_int(chunk_size, "chunk_size")
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
    )


# =============================================================================================
# M-estimators: L2 logistic regression (Theorem A.2)
# =============================================================================================
@dataclass(frozen=True)
class GaussianLogisticModel:
    """Known truth ``x ~ N(0, cov)``, ``P(y = 1 | x) = sigmoid(x^T coef + intercept)``.

    ``theta_star = [coef, intercept]`` (augmented, as in :mod:`scaling_kit.learners`) minimizes
    the population log loss. The population quantities are computed exactly up to
    one-dimensional Gauss-Hermite quadrature (``n_quad`` nodes) through Stein's lemma:
    with ``eta = x^T w + b`` and ``s = x^T coef + intercept``,

        L(w, b) = E[softplus(eta)] - b E[sigmoid(s)] - (w^T cov coef) E[sigmoid'(s)],

    ``eta ~ N(b, w^T cov w)``, ``s ~ N(intercept, coef^T cov coef)``.
    """

    coef: np.ndarray
    intercept: float = 0.0
    cov: np.ndarray | None = None
    n_quad: int = 160

    def __post_init__(self):
        coef = np.atleast_1d(np.asarray(self.coef, dtype=float))
        if coef.ndim != 1 or not np.all(np.isfinite(coef)):
            raise ValueError("coef must be a finite 1-D array.")
        object.__setattr__(self, "coef", coef)
        cov = np.eye(coef.size) if self.cov is None else _check_cov(self.cov)
        if cov.shape != (coef.size, coef.size):
            raise ValueError(f"cov must be ({coef.size}, {coef.size}); got {cov.shape}.")
        object.__setattr__(self, "cov", cov)
        if not np.isfinite(self.intercept):
            raise ValueError("intercept must be finite.")
        n_quad = _check_positive_int(self.n_quad, "n_quad")
        t, w = np.polynomial.hermite_e.hermegauss(n_quad)  # probabilists' Hermite: N(0, 1)
        object.__setattr__(self, "_nodes", (t, w / np.sqrt(2 * np.pi)))
        s = self.intercept + np.sqrt(coef @ cov @ coef) * t
        sig = expit(s)
        d1 = sig * (1 - sig)
        d2 = d1 * (1 - 2 * sig)
        d3 = d1 * (1 - 6 * sig + 6 * sig**2)
        moments = tuple(float(self._nodes[1] @ f) for f in (sig, d1, d2, d3))
        object.__setattr__(self, "_moments", moments)

    @property
    def n_features(self):
        return self.coef.size

    @property
    def theta_star(self):
        """Population minimizer, augmented: ``(1, p + 1)``."""
        return np.append(self.coef, self.intercept)[None, :]

    def sample(self, n, random_state=None, size=()):
        """Draw ``n`` points: ``(X (*size, n, p), y (*size, n) in {0, 1})``."""
        n = _check_positive_int(n, "n")
        rng = _rng(random_state)
        shape = tuple(np.atleast_1d(size).astype(int)) if np.size(size) else ()
        X = rng.standard_normal(shape + (n, self.n_features)) @ np.linalg.cholesky(self.cov).T
        y = (rng.random(shape + (n,)) < expit(X @ self.coef + self.intercept)).astype(int)
        return X, y

    def population_loss(self, theta):
        """Population log loss of augmented parameters ``theta`` (..., p+1)."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape[-1] != self.n_features + 1:
            raise ValueError(f"theta must end in {self.n_features + 1} (coef + intercept).")
        w, b = theta[..., :-1], theta[..., -1]
        sd = np.sqrt(np.einsum("...i,ij,...j->...", w, self.cov, w))
        t, q = self._nodes
        soft = np.logaddexp(0.0, b[..., None] + sd[..., None] * t) @ q
        m_sig, m_d1, _, _ = self._moments
        return soft - b * m_sig - (w @ (self.cov @ self.coef)) * m_d1

    def population_hessian(self):
        """``H = E[sigmoid'(s) x~ x~^T]`` at ``theta_star``, ``x~ = [x, 1]`` (Stein's lemma).

        ``E[f(s) x] = cov coef E[f'(s)]`` and
        ``E[f(s) x x^T] = cov E[f(s)] + cov coef coef^T cov E[f''(s)]`` for ``f = sigmoid'``.
        """
        _, m_d1, m_d2, m_d3 = self._moments
        Sb = self.cov @ self.coef
        p = self.n_features
        H = np.empty((p + 1, p + 1))
        H[:p, :p] = m_d1 * self.cov + m_d3 * np.outer(Sb, Sb)
        H[:p, p] = H[p, :p] = m_d2 * Sb
        H[p, p] = m_d1
        return H


def _batched_hessian(problem, Xa, theta, extra=None):
    S = problem.curvature(Xa, theta)  # (B, n)
    H = np.swapaxes(Xa * S[..., None], -1, -2) @ Xa
    if extra is not None:
        xa_z = extra[0]
        sz = problem.curvature(xa_z[None, None, :], theta)[:, 0]  # (B,)
        H = H + sz[:, None, None] * np.outer(xa_z, xa_z)
    H[:, np.arange(problem.d), np.arange(problem.d)] += problem.reg
    return H


def fit_logistic_batch(Xa, y, C, theta0=None, extra=None, *, tol=1e-12, max_iter=100):
    """Fit binary L2 logistic regression on a batch of datasets by damped Newton.

    Same objective as :class:`scaling_kit.learners.ExactLogisticRegression` (sum of log losses
    + ``||w||^2 / (2C)``, intercept unpenalized), evaluated by
    :class:`~scaling_kit.logistic.LogisticProblem`. ``Xa`` (B, n, p+1) augmented features,
    ``y`` (B, n) in {0, 1}; ``extra = (xa_z, y_z)`` adds one more point to every dataset (the
    ``D + z`` fit, best warm-started from ``theta0 = theta_D``). Armijo backtracking while the
    Newton decrement is large, full steps near the optimum, until every step is below ``tol``
    relative to the parameters (machine precision). Returns ``theta`` (B, 1, p+1).
    """
    Xa = np.asarray(Xa, dtype=float)
    y = np.asarray(y)
    if Xa.ndim != 3 or y.shape != Xa.shape[:2]:
        raise ValueError(f"expected Xa (B, n, d) and y (B, n); got {Xa.shape} and {y.shape}.")
    B, _, d = Xa.shape
    problem = LogisticProblem(d - 1, 2, C)
    if theta0 is None:
        theta = np.zeros((B, 1, d))
    else:
        theta = np.array(theta0, dtype=float).reshape(B, 1, d)
    if extra is not None:
        xz_b = extra[0][None, None, :]
        yz_b = np.full((B, 1), extra[1])

    def objective(th, idx):
        f = problem.objective(Xa[idx], y[idx], th)
        if extra is not None:
            f = f + problem.loss_sum(xz_b, yz_b[idx], th)
        return f

    for _ in range(max_iter):
        g = problem.gradient(Xa, y, theta)
        if extra is not None:
            g = g + problem.residual(xz_b, yz_b, theta)[:, 0, :] * extra[0][None, :]
        H = _batched_hessian(problem, Xa, theta, extra)
        step = np.linalg.solve(H, g[..., None])[..., 0]  # (B, d)
        dec = np.einsum("bi,bi->b", g, step)  # Newton decrement squared
        t = np.ones(B)
        far = np.flatnonzero(dec > 1e-8)
        if far.size:  # backtracking only where far from the optimum
            th_far, st_far, tf = theta[far], step[far][:, None, :], np.ones(far.size)
            f0 = objective(th_far, far)
            for _ in range(50):
                bad = objective(th_far - tf[:, None, None] * st_far, far) > f0 - 1e-4 * tf * dec[far]
                if not np.any(bad):
                    break
                tf = np.where(bad, 0.5 * tf, tf)
            t[far] = tf
        theta = theta - t[:, None, None] * step[:, None, :]
        size = np.max(np.abs(step), axis=1)
        if np.all((t == 1.0) & (size <= tol * (1.0 + np.max(np.abs(theta[:, 0, :]), axis=1)))):
            return theta
    raise RuntimeError(
        "Newton did not converge in max_iter iterations (separable data?); "
        "use a smaller C or larger datasets."
    )


@dataclass
class LogisticContributionResult:
    """Simulated logistic-regression contributions (Covert et al. Theorem A.2).

    Attributes
    ----------
    ks : (n_k,) sizes; x_z (p,), y_z the point; validation_sizes (n_v,).
    population, population_se : (n_k,) mean over datasets ``D`` of the population-loss
        contribution (exact up to quadrature) and its standard error.
    validation, validation_se : (n_k, n_v) mean over ``D`` of the contribution measured on one
        *fixed* validation set of each size (nested: prefixes of one fixed pool).
    c1 : (n_v,) predicted ``k^-1`` coefficient ``grad L_V(theta*)^T H^-1 grad l(z; theta*)``
        of each fixed set (Theorem A.2 (1)).
    pointwise_var : (n_k,) variance over validation points ``v`` of
        ``f_k(v) = E_D[l(v; theta_D) - l(v; theta_{D+z})]`` (pool estimate); a validation set of
        ``n`` i.i.d. points has ``E_V[psi_V] = psi_pop`` and ``Var_V[psi_V] = pointwise_var / n``.
    G : ``grad l(z)^T H^-1 grad l(z)`` at ``theta*``; theory: ``pointwise_var ~ G / k^2``.
    n_datasets, n_pool, C, control_variate.
    """

    ks: np.ndarray
    x_z: np.ndarray
    y_z: int
    validation_sizes: np.ndarray
    population: np.ndarray
    population_se: np.ndarray
    validation: np.ndarray
    validation_se: np.ndarray
    c1: np.ndarray
    pointwise_var: np.ndarray
    G: float
    n_datasets: int
    n_pool: int
    C: float
    control_variate: bool

    def typical_magnitude(self, n_val):
        """Root-mean-square over random validation sets of size ``n_val`` of ``E_D[Delta_V]``.

        ``sqrt(psi_pop(k)^2 + pointwise_var(k) / n_val)``; ``n_val`` broadcasts against ``ks``
        (pass ``ks`` itself for a validation set as large as the training set). Decays like
        ``k^-2`` while the first term dominates, like ``n_val^-1/2 k^-1`` after, and like
        ``k^-1.5`` when ``n_val`` grows with ``k``: practice sits in between.
        """
        n_val = np.asarray(n_val, dtype=float)
        if np.any(n_val <= 0):
            raise ValueError("n_val must be positive.")
        return np.sqrt(self.population**2 + self.pointwise_var / n_val)

    def slope(self, which="population", k_range=None) -> SlopeFit:
        """Log-log slope; ``which`` is ``"population"`` or a size in ``validation_sizes``.

        ``k_range=(lo, hi)`` restricts the fit to ``lo <= k <= hi``.
        """
        if which == "population":
            mean, se = self.population, self.population_se
        else:
            idx = np.flatnonzero(self.validation_sizes == which)
            if idx.size != 1:
                raise ValueError(
                    f"which must be 'population' or one of {self.validation_sizes.tolist()}; "
                    f"got {which!r}."
                )
            mean, se = self.validation[:, idx[0]], self.validation_se[:, idx[0]]
        keep = np.ones(len(self.ks), bool)
        if k_range is not None:
            keep = (self.ks >= k_range[0]) & (self.ks <= k_range[1])
        return fit_loglog_slope(self.ks[keep], mean[keep], se[keep])

    def summary(self):
        """One row per evaluation: fitted slope (NaN where the mean changes sign) and c_1."""
        rows = []
        for which in ["population", *self.validation_sizes.tolist()]:
            try:
                fit = self.slope(which)
                slope, se = fit.slope, fit.se
            except ValueError:
                slope, se = np.nan, np.nan
            pop = which == "population"
            rows.append(
                {
                    "measured on": "population" if pop else f"fixed V, |V| = {which}",
                    "slope": slope,
                    "slope se": se,
                    "c1 (k^-1 coef.)": 0.0 if pop else float(self.c1[self.validation_sizes == which][0]),
                }
            )
        return pd.DataFrame(rows)


def simulate_logistic_contributions(
    model: GaussianLogisticModel,
    x_z,
    y_z,
    ks,
    n_datasets=1000,
    *,
    validation_sizes=(100,),
    n_pool=None,
    C=1.0,
    control_variate=True,
    chunk_size=None,
    random_state=None,
) -> LogisticContributionResult:
    """Average exact logistic-regression contributions of ``z`` over random datasets ``D``.

    For each ``k`` and each of ``n_datasets`` datasets ``D`` of size ``k`` drawn from ``model``:
    fit ``theta_D`` (Newton started at ``theta*``) and ``theta_{D+z}`` (warm-started from
    ``theta_D``) to machine precision with :func:`fit_logistic_batch`, and record
    ``Delta = L(theta_D) - L(theta_{D+z})`` for (a) ``L`` = the population log loss
    (:meth:`GaussianLogisticModel.population_loss`) and (b) ``L`` = the mean log loss on a
    fixed validation set ``V`` of each size in ``validation_sizes``: the prefixes of one pool of
    ``n_pool`` points (default ``max(validation_sizes)``) drawn once from ``random_state``.
    What is averaged: ``D`` only; ``z`` and ``V`` are fixed (averaging over ``V`` as well would
    return the population contribution, see the module docstring). The pool also gives the
    spread over validation sets (``pointwise_var``).

    ``control_variate=True`` subtracts the first-order term
    ``-k^-1 S^T H^-1 H_eval H^-1 grad l(z; theta*)`` (``S`` the mean score of ``D`` at
    ``theta*``, ``H_eval`` the Hessian of the evaluation loss at ``theta*``). ``E[S] = 0``
    exactly under the model, so the estimate stays unbiased while its ``O(k^-1.5)`` noise drops
    to ``O(k^-2)``.
    """
    if not isinstance(model, GaussianLogisticModel):
        raise ValueError("model must be a GaussianLogisticModel.")
    p = model.n_features
    x_z = np.asarray(x_z, dtype=float)
    if x_z.shape != (p,) or not np.all(np.isfinite(x_z)):
        raise ValueError(f"x_z must be a finite vector of length {p}; got shape {x_z.shape}.")
    if y_z not in (0, 1):
        raise ValueError(f"y_z must be 0 or 1; got {y_z!r}.")
    ks = _check_ks(ks, 2 * (p + 1))
    n_datasets = _check_positive_int(n_datasets, "n_datasets")
    if n_datasets < 2:
        raise ValueError("n_datasets must be at least 2 to estimate a standard error.")
    sizes = np.atleast_1d(np.asarray(validation_sizes))
    if sizes.size < 1 or np.any(sizes != np.round(sizes)) or np.any(sizes < 1):
        raise ValueError(f"validation_sizes must be positive integers; got {validation_sizes!r}.")
    sizes = sizes.astype(int)
    n_pool = int(sizes.max()) if n_pool is None else _check_positive_int(n_pool, "n_pool")
    if n_pool < max(sizes.max(), 2):
        raise ValueError(f"n_pool must be at least max(validation_sizes) = {sizes.max()} and 2.")
    if not (np.isfinite(C) and C > 0):
        raise ValueError(f"C must be positive and finite; got {C!r}.")
    rng = _rng(random_state)

    problem = LogisticProblem(p, 2, C)
    theta_star = model.theta_star
    xa_z = np.append(x_z, 1.0)
    H = model.population_hessian()
    g_z = problem.residual(xa_z[None, :], np.array([y_z]), theta_star)[0, 0] * xa_z
    Hinv_gz = np.linalg.solve(H, g_z)
    Xv, yv = model.sample(n_pool, rng)
    Va = augment(Xv)
    # per validation point: gradient g_v and control-variate direction H^-1 H_v H^-1 g_z
    g_v = problem.residual(Va, yv, theta_star)[:, 0:1] * Va  # (N, d)
    w_v = problem.curvature(Va, theta_star)
    cv_v = np.linalg.solve(H, (Va * (w_v * (Va @ Hinv_gz))[:, None]).T).T  # (N, d)
    c1 = np.array([g_v[:n].mean(axis=0) @ Hinv_gz for n in sizes])

    pop = np.empty(len(ks))
    pop_se = np.empty(len(ks))
    val = np.empty((len(ks), sizes.size))
    val_se = np.empty((len(ks), sizes.size))
    pvar = np.empty(len(ks))
    chol = np.linalg.cholesky(model.cov)
    for ik, k in enumerate(ks):
        chunk = chunk_size or max(1, min(n_datasets, 1_000_000 // (k * (p + 1))))
        pop_rows, val_rows, f_sum = [], [], np.zeros(n_pool)
        for start in range(0, n_datasets, chunk):
            nb = min(chunk, n_datasets - start)
            X = rng.standard_normal((nb, k, p)) @ chol.T
            y = (rng.random((nb, k)) < expit(X @ model.coef + model.intercept)).astype(int)
            Xa = augment(X)
            th_d = fit_logistic_batch(Xa, y, C, theta0=np.broadcast_to(theta_star, (nb, 1, p + 1)))
            th_dz = fit_logistic_batch(Xa, y, C, theta0=th_d, extra=(xa_z, y_z))
            d_pop = model.population_loss(th_d[:, 0]) - model.population_loss(th_dz[:, 0])
            eta_d, eta_dz = th_d[:, 0] @ Va.T, th_dz[:, 0] @ Va.T  # (nb, N)
            d_v = np.logaddexp(0.0, eta_d) - np.logaddexp(0.0, eta_dz) - yv * (eta_d - eta_dz)
            if control_variate:
                score = np.einsum("bn,bnd->bd", problem.residual(Xa, y, theta_star)[..., 0], Xa) / k
                d_pop = d_pop + (score @ Hinv_gz) / k
                d_v = d_v + (score @ cv_v.T) / k
            f_sum += d_v.sum(axis=0)
            csum = np.cumsum(d_v, axis=1)
            val_rows.append(csum[:, sizes - 1] / sizes)
            pop_rows.append(d_pop)
        d_pop = np.concatenate(pop_rows)
        d_val = np.concatenate(val_rows)
        pop[ik], pop_se[ik] = d_pop.mean(), d_pop.std(ddof=1) / np.sqrt(n_datasets)
        val[ik] = d_val.mean(axis=0)
        val_se[ik] = d_val.std(axis=0, ddof=1) / np.sqrt(n_datasets)
        pvar[ik] = np.var(f_sum / n_datasets, ddof=1)
    return LogisticContributionResult(
        ks=ks,
        x_z=x_z,
        y_z=int(y_z),
        validation_sizes=sizes,
        population=pop,
        population_se=pop_se,
        validation=val,
        validation_se=val_se,
        c1=c1,
        pointwise_var=pvar,
        G=float(g_z @ Hinv_gz),
        n_datasets=n_datasets,
        n_pool=n_pool,
        C=float(C),
        control_variate=bool(control_variate),
    )
