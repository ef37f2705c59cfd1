"""Empirical Bayes for individualized scaling laws: a population prior learned from all points.

Why (docs/math.md §5). With few samples a point's likelihood is flat along the ridge of its
``(c, alpha)`` plane: the exact maximum-likelihood estimate then runs to the boundary of the
parameter box, and the paper's Adam procedure only does better because stopping early from
``alpha = 1`` acts as an implicit prior. Here the prior is explicit and learned from the data:
all points share one population distribution of their parameters, estimated by maximizing the
marginal likelihood of all points' samples, and each point's law is its posterior under it.

The model of point ``i`` (sizes centred at the reference ``k_ref``, ``u = log(k / k_ref)``)::

    Delta_ij | c, alpha, sigma, beta  ~  Normal(c_ref exp(-alpha u_ij), sigma_ref^2 exp(-beta u_ij))
    c_ref | sigma_ref   ~  sum_m w+_m HalfNormal+(tau_m sigma_ref) + w-_m HalfNormal-(tau_m sigma_ref)
    p(sigma_ref)        ∝  1 / sigma_ref                                   (scale-free)
    alpha               ~  sum_l pi_l Normal(mu_l, h^2) on [0, e^2]         (smooth, flexible)
    beta                ~  Normal(mu_beta, s_beta^2)

``c_ref = psi(k_ref)`` is the mean contribution at ``k_ref`` (the geometric mean of all sampled
sizes) and ``c = c_ref k_ref^alpha``. The hyperparameters are the weights ``pi`` (fixed kernel
centres ``mu_l`` on a 0.2 grid, kernel sd ``h`` = 0.3), the weights ``w+, w-`` (scale mixtures
of half-normals on the signal-to-noise ratio ``c_ref / sigma_ref``, one per sign, so that the
prior learns how many points help and how many hurt; ``tau_m`` log-spaced over 1e-2..1e2) and
``(mu_beta, s_beta)``. There is no tuning knob.

How it is computed. Given ``(alpha, beta, tau_m)`` and the sign, the integrals over ``c`` and
``sigma`` are closed-form (Normal-inverse-gamma conjugacy; a half-normal prior truncates the
Gaussian integral, and averaging the normal CDF over the inverse-gamma ``sigma`` gives a
Student-t CDF). With ``W = exp(beta u)``, ``F = exp(-alpha u)``, ``A = sum F^2 W``,
``B = sum Delta F W``, ``D = sum Delta^2 W``, ``Q = A + 1/tau^2`` and ``R = D - B^2 / Q``::

    log p(Delta_i | alpha, beta, tau, +-) = const_i + beta/2 sum u - 1/2 log(1 + tau^2 A)
                                            - n/2 log R + log 2 + log T_n(+-x),
    x = B sqrt(n / (Q R)),
    c_ref | Delta, alpha, beta, tau, +-  ~  Student-t_n(B / Q, R / (n Q)) truncated to the sign,

with ``T_n`` the Student-t CDF (equal weights on both signs give back the symmetric normal
prior).

So only ``(alpha, beta)`` need numerical integration: on a per-point grid (33 x 15 nodes,
trapezoid rule with Gregory's end corrections) placed where the point's likelihood is within ``exp(-20)`` of its maximum (a
coarse-to-fine search), which makes the quadrature accurate from 3 to thousands of samples.
The hyperparameters maximize the summed log marginal likelihood of (up to) 3000 evenly spaced
points by EM, accelerated by SQUAREM (Varadhan and Roland, 2008), with weak hyperpriors (one
pseudo-point: Dirichlet(1 + 1/L) on the weights, one unit pseudo-observation on ``s_beta``)
so that a handful of points still gives a proper prior. Each point's posterior then gives:

* point estimates: the posterior mean of ``alpha``, ``beta`` and ``sigma``; ``predict(k)`` is
  the posterior mean of ``psi(k) = c k^-alpha``; the reported ``c`` is the one whose law passes
  through that posterior mean at ``k_ref`` with the posterior-mean exponent;
* intervals: posterior quantiles of ``alpha`` (grid) and of ``psi(k)`` (a mixture over the
  ``alpha`` grid, refined by interpolation, of truncated Student-t laws; :mod:`._eb_posterior`);
  ``c`` is ``psi(1)``.

Cost: one multiplication per sample and grid node (48 nodes) plus small matrix products, and
an EM whose size does not depend on the number of points (it uses up to 3000 of them). Measured
by ``benchmarks/estimators.py`` on 1000 points, one core: 1.3-1.8 ms of CPU per point at 10 to
500 samples, against 0.8 (10 samples) to 19 ms (500) for the kit's Adam path of the paper's
procedure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ._eb_grids import (
    ALPHA_MAX,
    BETA_SUPPORT,
    LOG_T,
    N_ALPHA,
    N_BETA,
    TAU,
    cell_stats,
    chunks,
    conditional,
    design,
    nodes,
)
from ._eb_posterior import LawPosterior, posterior_chunk
from ._mle import HALF_LOG_2PI
from ._samples import Padded

__all__ = ["PopulationPrior", "LawPosterior", "fit_empirical_bayes"]

_CENTRES = np.linspace(0.0, ALPHA_MAX, 38)  # every 0.2
#: sd of the alpha kernels: the resolution of the alpha prior. With few samples a point says
#: little about alpha and a finer mixture overfits into lumps that make intervals too narrow
#: (95% intervals covered ~93% at 10 samples with 0.2, ~95% with 0.3); a population whose
#: alphas spread less than this gets wider (conservative) intervals.
_KERNEL_SD = 0.3
_N_FIT = 3000  # points used to estimate the prior (evenly spaced; all if fewer)
_BLOCK = 1000000  # numbers per working array: blocks of points are sized to stay in cache
_EDGE_MASS = 1e-5  # posterior mass allowed on a window edge that is not a support bound


def _kernels(alphas):
    """Density of each alpha kernel (truncated to [0, ALPHA_MAX]) at ``alphas``: (..., L)."""
    Z = stats.norm.cdf((ALPHA_MAX - _CENTRES) / _KERNEL_SD) - stats.norm.cdf(-_CENTRES / _KERNEL_SD)
    return stats.norm.pdf((alphas[..., None] - _CENTRES) / _KERNEL_SD) / (_KERNEL_SD * Z)


@dataclass(frozen=True)
class PopulationPrior:
    """The population distribution of the laws' parameters, estimated from all points.

    Attributes
    ----------
    alpha_weights : weights of the alpha kernels (centres ``alpha_centres``, sd ``kernel_sd``).
    snr_weights : (M, 2) weights of the half-normal components of ``c_ref / sigma_ref`` (scales
        ``snr_scales``), column 0 for positive ``c`` (helpful points), column 1 for negative.
    beta_mean, beta_sd : the normal prior of beta.
    k_ref : reference size of ``c_ref`` (geometric mean of all sampled sizes).
    log_marginal : summed log marginal likelihood of the points used (up to a constant).
    n_iter : passes of the hyperparameter fit over its likelihood array; converged : whether
        it met its tolerance.
    """

    alpha_weights: np.ndarray
    snr_weights: np.ndarray
    beta_mean: float
    beta_sd: float
    k_ref: float
    log_marginal: float
    n_iter: int
    converged: bool
    alpha_centres: np.ndarray = field(default_factory=_CENTRES.copy)
    kernel_sd: float = _KERNEL_SD
    snr_scales: np.ndarray = field(default_factory=TAU.copy)

    @property
    def positive_fraction(self) -> float:
        """Prior probability that a point helps (``c > 0``)."""
        return float(self.snr_weights[:, 0].sum())

    def alpha_density(self, alpha) -> np.ndarray:
        """Prior density of alpha."""
        return _kernels(np.asarray(alpha, float)) @ self.alpha_weights

    def beta_density(self, beta) -> np.ndarray:
        """Prior density of beta."""
        return stats.norm.pdf(np.asarray(beta, float), self.beta_mean, self.beta_sd)

    def table(self) -> pd.DataFrame:
        """Mean, sd and 5/50/95% quantiles of the prior of alpha and beta."""
        x = np.linspace(0, ALPHA_MAX, 2001)
        cdf = np.cumsum(self.alpha_density(x))
        cdf /= cdf[-1]
        mean = float(np.sum(self.alpha_weights * _CENTRES))
        q = np.interp([0.05, 0.5, 0.95], cdf, x)
        a_sd = float(np.sqrt(max(np.sum(self.alpha_weights * (_CENTRES**2 + _KERNEL_SD**2))
                                 - mean**2, 0.0)))
        bq = stats.norm.ppf([0.05, 0.5, 0.95], self.beta_mean, self.beta_sd)
        return pd.DataFrame({"mean": [mean, self.beta_mean], "sd": [a_sd, self.beta_sd],
                             "q05": [q[0], bq[0]], "median": [q[1], bq[1]],
                             "q95": [q[2], bq[2]]}, index=pd.Index(["alpha", "beta"]))


def _squarem(update, x, tol, max_iter):
    """SQUAREM (Varadhan and Roland 2008, scheme S3 with the monotone fallback) for a
    fixed-point map ``update(x) -> (x_new, objective(x))`` of an EM on the simplex (or any
    parameters that ``update`` keeps valid); returns (x, objective, evaluations)."""
    obj_old, n_eval, obj = -np.inf, 0, -np.inf
    for _ in range(max_iter):
        x1, _ = update(x)
        x2, obj1 = update(x1)
        r = x1 - x
        v = x2 - x1 - r
        step = min(-np.sqrt((r * r).sum() / max((v * v).sum(), 1e-300)), -1.0)
        x3, obj3 = update(np.maximum(x - 2 * step * r + step * step * v, 1e-14))
        n_eval += 3
        x, obj = (x3, obj3) if obj3 >= obj1 else (x2, obj1)
        if abs(obj - obj_old) < tol:
            break
        obj_old = obj
    return x, obj, n_eval


def _mixture_weights(A, w, pseudo, tol, max_iter):
    """Maximize ``sum_i log(A_i . w) + pseudo sum_l log w_l`` over the simplex (a concave
    problem: the mixture weights of fixed components with likelihoods ``A`` (P, L)) by EM."""
    P = len(A)

    def update(x):
        x = x / x.sum()
        m = np.maximum(A @ x, 1e-300)
        obj = float(np.sum(np.log(m)) + pseudo * np.sum(np.log(x)))
        new = (x * (A.T @ (1.0 / m)) + pseudo) / (P + pseudo * len(x))
        return new, obj

    x, _, n = _squarem(update, w, tol, max_iter)
    return x / x.sum(), n


class _EM:
    """The hyperparameters on fixed per-point grids, by block-coordinate ascent.

    ``theta = (pi, w+, w-, mu_beta, s_beta)``. The conditional likelihoods of every cell and
    sign are computed once (``T``: (P, Na, Nb, 2M), the M positive then the M negative
    components, scaled per point, in single precision: the sums they enter have a relative
    error ~1e-7, far below the tolerance). Each block (the alpha weights ``pi``, the
    signal-to-noise weights ``w``, the beta prior) is maximized exactly in turn, with the
    others fixed: ``T`` is summed over the other blocks' axes once (one pass), and the block's
    problem (concave for the weights) is solved by SQUAREM-accelerated EM on the small summed
    array. Every block step increases the log marginal likelihood."""

    def __init__(self, S: Padded, alphas, wa, betas, wb, shift, s_floor):
        self.P = len(S.n)
        self.s_floor = s_floor
        self.alphas, self.betas, self.wa, self.wb = alphas, betas, wa, wb
        self.K = _kernels(alphas)  # (P, Na, L)
        self.L, self.M = self.K.shape[2], len(TAU)
        Na, Nb = alphas.shape[1], betas.shape[1]
        self.T = np.empty((self.P, Na, Nb, 2 * self.M), np.float32)
        self.top = np.empty(self.P)
        # in blocks of points whose arrays stay in cache (fresh large arrays cost page faults)
        for idx in chunks(self.P, max(S.delta.shape[1] * (Na + Nb), Na * Nb * self.M),
                          budget=_BLOCK):
            T = S.subset(idx)
            L, _, _, x = conditional(*cell_stats(T.delta, T.u, T.mask, alphas[idx],
                                                 betas[idx]), T.n, alphas[idx], betas[idx],
                                     shift[idx])
            lt_pos, lt_neg = LOG_T.by_point(T.n, x, both=True)
            L = np.concatenate([L + lt_pos, L + lt_neg], axis=3)
            top = L.reshape(len(idx), -1).max(1)
            L -= top[:, None, None, None]
            self.T[idx] = np.exp(L)
            self.top[idx] = top

    def split(self, theta):
        L, M = self.L, self.M
        return theta[:L], theta[L:L + M], theta[L + M:L + 2 * M], theta[-2], theta[-1]

    def start(self):
        """A flat start: uniform weights, beta ~ N(2, 2^2)."""
        return np.concatenate([np.full(self.L, 1.0 / self.L), np.full(2 * self.M, 0.5 / self.M),
                               [2.0, max(2.0, self.s_floor)]])

    def _beta_density(self, mu, s):
        """``N(beta; mu, s)`` times the trapezoid weights, scaled per point: (H, log scale)."""
        z = (self.betas - mu) / s
        lh = -0.5 * z * z
        top = lh.max(1, keepdims=True)
        return np.exp(lh - top) * self.wb, top[:, 0] - np.log(np.sqrt(2 * np.pi) * s)

    def _alpha_density(self, pi):
        G = (self.K @ pi) * self.wa
        top = np.maximum(G.max(1, keepdims=True), 1e-300)
        return G / top, np.log(top[:, 0])

    def loglik(self, theta):
        """Log marginal likelihood of the points (up to a constant) plus the hyperpriors."""
        pi, _, _, mu, s = self.split(theta)
        w = theta[self.L:self.L + 2 * self.M]
        G, lg = self._alpha_density(pi)
        H, lh = self._beta_density(mu, s)
        m = np.einsum("ia,iab,ib->i", G, (self.T @ w.astype(np.float32)).astype(float), H)
        ll = np.sum(np.log(np.maximum(m, 1e-300)) + self.top + lg + lh + np.log(2.0))
        return float(ll + np.sum(np.log(pi)) / self.L + np.sum(np.log(w)) / (2 * self.M)
                     - np.log(s) - 0.5 / s**2)

    def run(self, tol, max_iter, theta):
        """Block-coordinate ascent from ``theta`` until the log marginal likelihood changes by
        less than ``tol`` per point; returns (theta, log likelihood, passes over T, converged)."""
        P, L, M = self.P, self.L, self.M
        pi, _, _, mu, s = self.split(theta)
        w = theta[L:L + 2 * M].copy()
        ll_old, n_pass, converged = self.loglik(theta), 1, False
        ll = ll_old
        inner_tol = 1e-3 * tol * P
        for _ in range(max_iter):
            H, _ = self._beta_density(mu, s)
            G, _ = self._alpha_density(pi)
            # alpha block: per point and kernel, the likelihood summed over beta, tau and sign
            X = np.einsum("iabm,ib->iam", self.T, H.astype(np.float32)).astype(float)  # pass
            n_pass += 1
            A = np.einsum("ia,iam,m,ial->il", self.wa, X, w, self.K)
            pi, _ = _mixture_weights(A / A.max(1, keepdims=True), pi, 1.0 / L, inner_tol, 1000)
            G, _ = self._alpha_density(pi)
            # signal-to-noise block
            B = np.einsum("ia,iam->im", G, X)
            w, _ = _mixture_weights(B / B.max(1, keepdims=True), w, 0.5 / M, inner_tol, 1000)
            # beta block: per point and beta node, summed over alpha, tau and sign
            V = np.einsum("ia,iab->ib", G, (self.T @ w.astype(np.float32)).astype(float))
            n_pass += 1
            V /= V.max(1, keepdims=True)
            mu, s = self._beta_block(V, mu, s, inner_tol)
            theta = np.concatenate([pi, w, [mu, s]])
            ll = self.loglik(theta)
            n_pass += 1
            if abs(ll - ll_old) < tol * P:
                converged = True
                break
            ll_old = ll
        return theta, ll, n_pass, converged

    def _beta_block(self, V, mu, s, tol):
        """EM for the normal prior of beta given the per-node likelihoods ``V`` (P, Nb), with
        one unit pseudo-observation on ``s`` and the floor ``s >= s_floor``."""
        P = len(V)
        obj_old = -np.inf
        for _ in range(1000):
            H, lh = self._beta_density(mu, s)
            q = V * H
            m = np.maximum(q.sum(1), 1e-300)
            obj = np.sum(np.log(m) + lh) - np.log(s) - 0.5 / s**2
            q /= m[:, None]
            mu = float((q * self.betas).sum() / P)
            s = max(float(np.sqrt(((q * (self.betas - mu) ** 2).sum() + 1.0) / (P + 1))),
                    self.s_floor)
            if abs(obj - obj_old) < tol:
                break
            obj_old = obj
        return mu, s


def fit_empirical_bayes(S: Padded, *, tol=1e-6, max_iter=500):
    """Fit the population prior and every point's posterior (see the module docstring).

    Returns ``(table, posterior, prior, info)``: ``table`` has per-point columns ``c, alpha,
    sigma, beta`` (point estimates, original units), ``c_se, alpha_se, sigma_se, beta_se``
    (posterior sds), ``n_samples, nll, n_iter, converged, status``.
    """
    P = len(S.n)
    degenerate = np.all(S.delta == 0, axis=1)
    live = np.flatnonzero(~degenerate)
    log_kref = float(np.sum(S.log_k0 * S.n) / S.n.sum())
    shift_all = S.log_k0 - log_kref
    windows = np.zeros((4, P))
    windows[:, degenerate] = np.array([[0.0], [ALPHA_MAX], [BETA_SUPPORT[0]], [BETA_SUPPORT[1]]])
    M = len(TAU)
    pi = np.full(len(_CENTRES), 1.0 / len(_CENTRES))
    wp = wn = np.full(M, 0.5 / M)
    mu_b, s_b, ll, n_eval, em_converged = 2.0, 2.0, 0.0, 0, True
    prior = None
    if live.size:
        windows[:, live] = design(S.subset(live))
        fit = live[np.unique(np.linspace(0, live.size - 1, min(live.size, _N_FIT)).round()
                             .astype(int))]
        a_n, a_w = nodes(windows[0, fit], windows[1, fit], N_ALPHA)
        b_n, b_w = nodes(windows[2, fit], windows[3, fit], N_BETA)
        # the trapezoid rule cannot integrate a prior narrower than the node spacing (the EM
        # would place a spike on a node and overstate the marginal likelihood), so s_beta is
        # kept at or above the widest beta spacing, about 1.3 likelihood sds of beta: with
        # few samples the beta prior is then nearly flat over each point's likelihood
        s_floor = float(np.max(b_n[:, 1] - b_n[:, 0]))
        em = _EM(S.subset(fit), a_n, a_w, b_n, b_w, shift_all[fit], s_floor)
        theta, ll, n_eval, em_converged = em.run(tol, max_iter, em.start())
        pi, wp, wn, mu_b, s_b = em.split(theta)
        del em
        prior = PopulationPrior(pi, np.column_stack([wp, wn]), float(mu_b), float(s_b),
                                float(np.exp(log_kref)), float(ll), int(n_eval),
                                bool(em_converged))
        windows[:, live] = _restrict(windows[:, live], prior, fit.size)
    if prior is None:
        prior = PopulationPrior(pi, np.column_stack([wp, wn]), float(mu_b), float(s_b),
                                float(np.exp(log_kref)), float(ll), int(n_eval),
                                bool(em_converged))
    # posteriors, widening a window where the posterior reaches its edge (at most 5 rounds)
    part = {k: np.zeros((P, N_ALPHA, 2)) for k in ("mass", "mean", "second", "loc", "tscale")}
    alphas = np.zeros((P, N_ALPHA))
    summ = {k: np.zeros(P) for k in ("beta", "beta_sd", "sigma", "sigma_sd", "log_marginal")}
    todo = live
    n_max = S.delta.shape[1]
    # blocks of points whose arrays (a few MB each) stay in cache
    per_point = max(n_max * (N_ALPHA + N_BETA), N_ALPHA * N_BETA * M)
    for _ in range(5):
        if todo.size == 0:
            break
        widen = np.zeros(P, bool)
        for idx in chunks(todo.size, per_point, budget=_BLOCK):
            pts = todo[idx]
            a_n, a_w = nodes(windows[0, pts], windows[1, pts], N_ALPHA)
            b_n, b_w = nodes(windows[2, pts], windows[3, pts], N_BETA)
            out = posterior_chunk(S.subset(pts), a_n, a_w, b_n, b_w, shift_all[pts], prior)
            alphas[pts] = a_n
            for key in part:
                part[key][pts] = out[key]
            for key in summ:
                summ[key][pts] = out[key]
            for edge, lo_i, hi_i, sup in (("edge_a", 0, 1, (0.0, ALPHA_MAX)),
                                          ("edge_b", 2, 3, BETA_SUPPORT)):
                sel = pts[out[edge] > _EDGE_MASS]
                width = windows[hi_i, sel] - windows[lo_i, sel]
                windows[lo_i, sel] = np.maximum(windows[lo_i, sel] - 0.5 * width, sup[0])
                windows[hi_i, sel] = np.minimum(windows[hi_i, sel] + 0.5 * width, sup[1])
                widen[sel] = True
        todo = np.flatnonzero(widen)
    resolved = np.ones(P, bool)
    resolved[todo] = False
    if degenerate.any():  # the prior of alpha; psi = 0
        a_n, a_w = nodes(windows[0, degenerate], windows[1, degenerate], N_ALPHA)
        g = prior.alpha_density(a_n) * a_w
        alphas[degenerate] = a_n
        part["mass"][degenerate] = 0.0
        part["mass"][degenerate, :, 0] = g / g.sum(1, keepdims=True)
        summ["beta"][degenerate], summ["beta_sd"][degenerate] = prior.beta_mean, prior.beta_sd
    posterior = LawPosterior(alphas, part["mass"], part["mean"], part["second"], part["loc"],
                             part["tscale"], S.log_k0.copy(), S.n.copy(), S.scale.copy())
    table = _point_table(S, posterior, summ, prior, degenerate, resolved)
    info = {"resolved": resolved, "log_marginal": summ["log_marginal"]}
    return table, posterior, prior, info


def _restrict(windows, prior, n_fit):
    """Intersect each point's windows with the prior's region: for alpha where the prior's
    density, less the hyperprior's pseudo-count (1/(n_fit + 1) of the mass spread evenly over
    the kernels), is within exp(-20) of its maximum; for beta ``mu +- sqrt(40) s``, the same
    level. Where both are non-negligible so is the posterior, and the nodes get finer for the
    points whose likelihood is broad. A point whose likelihood lies outside the region keeps
    its window, and the edge check of the posterior pass widens any window whose posterior
    reaches its edge."""
    x = np.linspace(0.0, ALPHA_MAX, 4001)
    floor = 1.0 / (len(prior.alpha_weights) * (n_fit + 1))
    data_part = _kernels(x) @ np.maximum(prior.alpha_weights - floor, 0.0)
    inside = x[data_part >= np.exp(-20.0) * data_part.max()]
    half = np.sqrt(40.0) * prior.beta_sd
    out = windows.copy()
    for (lo_i, hi_i), (plo, phi) in (((0, 1), (inside.min(), inside.max())),
                                     ((2, 3), (prior.beta_mean - half, prior.beta_mean + half))):
        lo, hi = np.maximum(windows[lo_i], plo), np.minimum(windows[hi_i], phi)
        ok = hi > lo + 1e-9
        out[lo_i], out[hi_i] = np.where(ok, lo, windows[lo_i]), np.where(ok, hi, windows[hi_i])
    return out


def _point_table(S, posterior, summ, prior, degenerate, resolved):
    a = posterior.alphas
    w = posterior.alpha_mass
    alpha = np.sum(w * a, 1)
    alpha_sd = np.sqrt(np.maximum(np.sum(w * (a - alpha[:, None]) ** 2, 1), 0))
    psi_ref = posterior.mean(np.array([prior.k_ref]))[:, 0]
    c = psi_ref * prior.k_ref**alpha
    c_sd = posterior.sd(np.array([1.0]))[:, 0]
    sigma = summ["sigma"] * S.scale
    beta = summ["beta"]
    # per-sample negative log-likelihood of the reported law (original units)
    c0 = c * np.exp(-alpha * S.log_k0) / S.scale
    with np.errstate(divide="ignore", invalid="ignore"):
        s0 = sigma * np.exp(-0.5 * beta * S.log_k0) / S.scale
        r = S.delta - c0[:, None] * np.exp(-alpha[:, None] * S.u)
        e = r * r * np.exp(beta[:, None] * S.u)
        if S.mask is not None:
            e *= S.mask
        nll = HALF_LOG_2PI + np.log(s0) + e.sum(1) / S.n / (2 * s0**2) + np.log(S.scale)
    status = np.where(degenerate, "degenerate", np.where(resolved, "ok", "unresolved"))
    return pd.DataFrame(
        {
            "c": np.where(degenerate, 0.0, c),
            "alpha": alpha,
            "sigma": np.where(degenerate, 0.0, sigma),
            "beta": beta,
            "c_se": np.where(degenerate, 0.0, c_sd),
            "alpha_se": alpha_sd,
            "sigma_se": summ["sigma_sd"] * S.scale,
            "beta_se": summ["beta_sd"],
            "n_samples": S.n.astype(int),
            "nll": np.where(degenerate, -np.inf, nll),
            "n_iter": prior.n_iter,
            "converged": (status == "ok") & prior.converged,
            "status": status,
        },
        index=pd.Index(S.points, name="point"),
    )
