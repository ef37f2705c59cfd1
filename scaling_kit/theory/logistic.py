"""Theory check for an M-estimator by simulation: L2 logistic regression (Covert et al.
2024, Theorem A.2).

docs/math.md §4 (M-estimator rates).

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

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from .._checks import check_array, check_int, check_number, check_random_state, check_sizes
from ..logistic import LogisticProblem, augment
from ..results import Summary
from ._inputs import _check_cov, _check_ks
from .slope import SlopeFit, fit_inverse_powers, fit_loglog_slope

__all__ = [
    "GaussianLogisticModel",
    "LogisticContributionResult",
    "simulate_logistic_contributions",
]


@dataclass(frozen=True)
class GaussianLogisticModel:
    """Known truth ``x ~ N(0, cov)``, ``P(y = 1 | x) = sigmoid(x^T coef + intercept)``.

    ``theta_star = [coef, intercept]`` (augmented, as in :mod:`scaling_kit.learners`) minimizes
    the population log loss. The population quantities are computed exactly up to
    one-dimensional Gauss-Hermite quadrature (``n_quad`` nodes) through Stein's lemma:
    with ``eta = x^T w + b`` and ``s = x^T coef + intercept``,

        L(w, b) = E[softplus(eta)] - b E[sigmoid(s)] - (w^T cov coef) E[sigmoid'(s)],

    ``eta ~ N(b, w^T cov w)``, ``s ~ N(intercept, coef^T cov coef)``. Covert et al. Theorem
    A.2; docs/math.md §4.
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
        object.__setattr__(self, "intercept", check_number(self.intercept, "intercept"))
        n_quad = check_int(self.n_quad, "n_quad", low=1)
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
        """Number of features ``p``."""
        return self.coef.size

    @property
    def theta_star(self):
        """Population minimizer, augmented: ``(1, p + 1)``."""
        return np.append(self.coef, self.intercept)[None, :]

    def sample(self, n, random_state=None, size=()):
        """Draw ``n`` points: ``(X (*size, n, p), y (*size, n) in {0, 1})``."""
        n = check_int(n, "n", low=1)
        rng = check_random_state(random_state)
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

    def score(self, X, y):
        """Per-example gradient ``(sigmoid(theta*^T x~) - y) x~`` of the log loss at
        ``theta_star``, ``x~ = [x, 1]``: (..., p+1) for ``X`` (..., p) and ``y`` (...) in {0, 1}.

        Mean zero under the model, covariance ``H`` (:meth:`population_hessian`): the model is
        well specified, so the information equals the Hessian.
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        if X.ndim < 1 or X.shape[-1] != self.n_features or X.shape[:-1] != y.shape:
            raise ValueError(f"X must be (..., {self.n_features}) and y its leading shape; got "
                             f"{X.shape} and {y.shape}.")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinite values.")
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("y must hold labels 0 or 1.")
        Xa = augment(X)
        return (expit(Xa @ self.theta_star[0]) - y)[..., None] * Xa

    def fixed_set_coefficient(self, x_z, y_z, X_V, y_V):
        """Theorem A.2's ``k^-1`` coefficient on a fixed validation set ``V``.

        ``c_1(V) = grad L_V(theta*)^T H^-1 grad l(z; theta*)``, with ``grad L_V`` the mean score
        over ``V`` (:meth:`score`) and ``H`` the population Hessian (Covert et al. Theorem A.2;
        docs/math.md §4.5). Batched: ``X_V`` (..., n, p) and ``y_V`` (..., n) give (...,).
        Over validation sets of ``n`` points drawn from the model, ``c_1(V)`` has mean 0 and
        standard deviation :meth:`fixed_set_coefficient_sd`.
        """
        x_z = check_array(x_z, "x_z", ndim=1)
        if x_z.shape != (self.n_features,):
            raise ValueError(f"x_z must be a vector of length {self.n_features}; got {x_z.shape}.")
        y_z = check_int(y_z, "y_z", low=0, high=1)
        X_V = np.asarray(X_V, dtype=float)
        y_V = np.asarray(y_V)
        if X_V.ndim < 2 or X_V.shape[-1] != self.n_features or y_V.shape != X_V.shape[:-1]:
            raise ValueError(f"X_V must be (..., n, {self.n_features}) and y_V (..., n); got "
                             f"{X_V.shape} and {y_V.shape}.")
        direction = np.linalg.solve(self.population_hessian(), self.score(x_z, y_z))
        return self.score(X_V, y_V).mean(axis=-2) @ direction

    def fixed_set_coefficient_sd(self, x_z, y_z, n):
        """Standard deviation of ``c_1(V)`` over validation sets of ``n`` i.i.d. points:
        ``sqrt(G / n)`` with ``G = grad l(z)^T H^-1 grad l(z)`` at ``theta*``.

        ``c_1(V)`` is a mean of ``n`` i.i.d. terms ``g_v^T H^-1 g_z`` of mean 0 and variance
        ``g_z^T H^-1 Cov(g_v) H^-1 g_z = G`` (``Cov(g_v) = H``, see :meth:`score`);
        docs/math.md §4.5.
        """
        n = check_int(n, "n", low=1)
        g_z = self.score(check_array(x_z, "x_z", ndim=1), check_int(y_z, "y_z", low=0, high=1))
        return float(np.sqrt(g_z @ np.linalg.solve(self.population_hessian(), g_z) / n))


def _fit_batch(problem, Xa, y, theta0, extra=None, *, tol=1e-12, max_iter=100):
    """Exact fits on a batch of datasets by :meth:`LogisticProblem.newton_batch`.

    ``Xa`` (B, n, p+1) augmented features, ``y`` (B, n) in {0, 1}; ``extra = (xa_z, y_z)``
    appends the point z as one more row of every dataset (the ``D + z`` fit, best warm-started
    from ``theta0 = theta_D``). Raises if a fit did not converge (a wrong number otherwise).
    Returns ``theta`` (B, 1, p+1).
    """
    if extra is not None:
        xa_z, y_z = extra
        B = Xa.shape[0]
        Xa = np.concatenate([Xa, np.broadcast_to(xa_z, (B, 1, Xa.shape[-1]))], axis=1)
        y = np.concatenate([y, np.full((B, 1), y_z, dtype=y.dtype)], axis=1)
    theta, _, converged = problem.newton_batch(Xa, y, theta0, tol=tol, max_iter=max_iter)
    if not np.all(converged):
        raise RuntimeError(
            f"Newton did not converge in {max_iter} iterations on {np.sum(~converged)} of "
            f"{converged.size} datasets (separable data?); use a smaller C or larger datasets."
        )
    return theta


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
    params : DataFrame indexed by ``measured_on`` (``"population"`` and each validation size):
        the fitted log-log ``slope`` over all ``ks``, its ``slope_se`` (NaN where the mean
        changes sign) and ``c1``.
    typical_slope : OLS slope of ``log typical_magnitude(ks)`` on ``log k`` (validation sets as
        large as the training set).
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
    params: pd.DataFrame | None = None
    typical_slope: float = np.nan

    def typical_magnitude(self, n_val):
        """Root-mean-square over random validation sets of size ``n_val`` of ``E_D[Delta_V]``.

        ``sqrt(psi_pop(k)^2 + pointwise_var(k) / n_val)``; ``n_val`` broadcasts against ``ks``
        (pass ``ks`` itself for a validation set as large as the training set). Decays like
        ``k^-2`` while the first term dominates, like ``n_val^-1/2 k^-1`` after, and like
        ``k^-1.5`` when ``n_val`` grows with ``k``: practice sits in between.
        """
        n_val = np.asarray(n_val, dtype=float)
        if not np.all(np.isfinite(n_val)) or np.any(n_val <= 0):
            raise ValueError(f"n_val must be positive and finite; got {n_val!r}.")
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

    def slopes(self, k_range=None) -> pd.DataFrame:
        """Log-log slopes of every evaluation over ``lo <= k <= hi`` (``k_range=(lo, hi)``;
        all ``ks`` by default), a DataFrame indexed by ``measured_on``.

        Columns ``slope``, ``slope_se`` (:func:`~scaling_kit.theory.slope.fit_loglog_slope`),
        ``sizes`` (how many ``ks`` fall in the range) and ``sign_change`` (True where the mean
        changes sign in the range: no power law in ``|mean|``, slope NaN). ``-slope`` is the
        exponent a log-log fit over that range measures (docs/math.md §4.5).
        """
        rows = {}
        for which in ["population", *self.validation_sizes.tolist()]:
            if which == "population":
                mean = self.population
            else:
                mean = self.validation[:, int(np.flatnonzero(self.validation_sizes == which)[0])]
            keep = np.ones(len(self.ks), bool)
            if k_range is not None:
                keep = (self.ks >= k_range[0]) & (self.ks <= k_range[1])
            change = bool(np.any(mean[keep] > 0) and np.any(mean[keep] < 0))
            try:
                fit = self.slope(which, k_range=k_range)
                slope, se = fit.slope, fit.se
            except ValueError:
                slope, se = np.nan, np.nan
            rows[which] = {"slope": slope, "slope_se": se, "sizes": int(keep.sum()),
                           "sign_change": change}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("measured_on")

    def fit_series(self, powers=(1, 2, 3)) -> dict:
        """:func:`~scaling_kit.theory.slope.fit_inverse_powers` of every evaluation's mean:
        ``{"population": fit, n: fit for n in validation_sizes}`` (docs/math.md §4.5)."""
        fits = {"population": fit_inverse_powers(self.ks, self.population, self.population_se,
                                                 powers)}
        for i, n in enumerate(self.validation_sizes.tolist()):
            fits[n] = fit_inverse_powers(self.ks, self.validation[:, i], self.validation_se[:, i],
                                         powers)
        return fits

    def series_table(self, powers=(1, 2, 3)) -> pd.DataFrame:
        """The fitted ``k^-1`` coefficient of every evaluation against Theorem A.2.

        One row per ``measured_on``: ``c1`` and ``c1_se`` (from :meth:`fit_series`),
        ``c1_theory`` (0 on the population loss, where ``grad L(theta*) = 0``; ``c_1(V)`` on a
        fixed validation set), ``z = (c1 - c1_theory) / c1_se``, ``c2``, ``c2_se``, and the
        residual ``chi2`` with its degrees of freedom ``dof`` (docs/math.md §4.5).
        """
        powers = tuple(powers)
        if 1 not in powers or 2 not in powers:
            raise ValueError(f"powers must include 1 and 2; got {powers!r}.")
        rows = {}
        for which, fit in self.fit_series(powers).items():
            theory = 0.0 if which == "population" else float(
                self.c1[self.validation_sizes == which][0])
            rows[which] = {"c1": fit.params["c1"], "c1_se": fit.bse["c1"], "c1_theory": theory,
                           "z": (fit.params["c1"] - theory) / fit.bse["c1"],
                           "c2": fit.params["c2"], "c2_se": fit.bse["c2"], "chi2": fit.chi2,
                           "dof": len(self.ks) - len(powers)}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("measured_on")

    def _slope_table(self) -> pd.DataFrame:
        rows = {}
        for which in ["population", *self.validation_sizes.tolist()]:
            try:
                fit = self.slope(which)
                slope, se = fit.slope, fit.se
            except ValueError:
                slope, se = np.nan, np.nan
            c1 = 0.0 if which == "population" else float(
                self.c1[self.validation_sizes == which][0])
            rows[which] = {"slope": slope, "slope_se": se, "c1": c1}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("measured_on")

    def summary(self) -> Summary:
        """One row per evaluation: fitted slope (NaN where the mean changes sign) and c_1
        (a :class:`scaling_kit.results.Summary`; ``summary().table`` is a plain DataFrame)."""
        par = self.params
        table = pd.DataFrame({
            "measured on": ["population" if w == "population" else f"fixed V, |V| = {w}"
                            for w in par.index],
            "slope": par["slope"].to_numpy(),
            "slope se": par["slope_se"].to_numpy(),
            "c1 (k^-1 coef.)": par["c1"].to_numpy(),
        })
        return Summary(
            title="Logistic regression: simulated contributions vs Theorem A.2",
            facts={"ks": ", ".join(str(int(k)) for k in self.ks), "datasets per k":
                   self.n_datasets, "C": self.C, "control variate": self.control_variate,
                   "slope of the RMS over random V with |V| = k": self.typical_slope},
            tables={"slopes": table},
            notes=["Theory: slope -2 on the population loss, -1 on a fixed validation set; "
                   "slope is NaN where the mean changes sign."],
        )


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
    """Average exact logistic-regression contributions of ``z`` over random datasets ``D``
    (Covert et al. Theorem A.2; docs/math.md §4).

    For each ``k`` and each of ``n_datasets`` datasets ``D`` of size ``k`` drawn from ``model``:
    fit ``theta_D`` (Newton started at ``theta*``) and ``theta_{D+z}`` (warm-started from
    ``theta_D``) to machine precision with
    :meth:`scaling_kit.logistic.LogisticProblem.newton_batch`, and record
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
        raise TypeError(f"model must be a GaussianLogisticModel; got {type(model).__name__}.")
    p = model.n_features
    x_z = check_array(x_z, "x_z", ndim=1)
    if x_z.shape != (p,):
        raise ValueError(f"x_z must be a finite vector of length {p}; got shape {x_z.shape}.")
    y_z = check_int(y_z, "y_z", low=0, high=1)
    ks = _check_ks(ks, 2 * (p + 1), "twice the number of parameters, so that the fits exist")
    n_datasets = check_int(n_datasets, "n_datasets", low=2)
    sizes = check_sizes(validation_sizes, "validation_sizes").astype(int)
    n_pool = int(sizes.max()) if n_pool is None else check_int(n_pool, "n_pool", low=1)
    if n_pool < max(sizes.max(), 2):
        raise ValueError(f"n_pool must be at least max(validation_sizes) = {sizes.max()} and 2; "
                         f"got {n_pool}.")
    C = check_number(C, "C", low=0.0, low_open=True)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", low=1)
    rng = check_random_state(random_state)

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
            th_d = _fit_batch(problem, Xa, y, np.broadcast_to(theta_star, (nb, 1, p + 1)))
            th_dz = _fit_batch(problem, Xa, y, th_d, extra=(xa_z, y_z))
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
    result = LogisticContributionResult(
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
    result.params = result._slope_table()
    if len(ks) >= 2:
        tm = result.typical_magnitude(ks)
        result.typical_slope = float(np.polyfit(np.log(ks), np.log(tm), 1)[0])
    return result
