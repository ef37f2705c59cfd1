"""Theory check for an M-estimator by simulation: L2 logistic regression (Covert et al.
2024, Theorem A.2).

MATH.md Section 3.

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

from ..logistic import LogisticProblem, augment
from ._inputs import _check_cov, _check_ks, _check_positive_int, _rng
from .slope import SlopeFit, fit_loglog_slope

__all__ = [
    "GaussianLogisticModel",
    "LogisticContributionResult",
    "fit_logistic_batch",
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
