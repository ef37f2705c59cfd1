"""Empirical Bayes for individualized scaling laws: a population prior learned from all points.

Why (docs/math.md §5). With few samples a point's likelihood is flat along the ridge of its
``(c, alpha)`` plane: the exact maximum-likelihood estimate then runs to the boundary of the
parameter box, and the paper's Adam procedure only does better because stopping early from
``alpha = 1`` acts as an implicit prior. Here the prior is explicit and learned from the data:
all points share one population distribution of their parameters, estimated by maximizing the
marginal likelihood of all points' samples, and each point's law is its posterior under it.

The model of point ``i`` (sizes centred at the reference ``k_ref``, ``u = log(k / k_ref)``)::

    Delta_ij | c, alpha, sigma, beta  ~  Normal(c_ref exp(-alpha u_ij), sigma_ref^2 exp(-beta u_ij))
    c_ref | sigma_ref                 ~  sum_m w_m Normal(0, tau_m^2 sigma_ref^2)   (signal-to-noise)
    p(sigma_ref)                      ∝  1 / sigma_ref                               (scale-free)
    alpha                             ~  sum_l pi_l Normal(mu_l, h^2) on [0, e^2]     (smooth, flexible)
    beta                              ~  Normal(mu_beta, s_beta^2)

``c_ref = psi(k_ref)`` is the mean contribution at ``k_ref`` (the geometric mean of all sampled
sizes) and ``c = c_ref k_ref^alpha``. The hyperparameters are the weights ``pi`` (fixed kernel
centres ``mu_l`` on a 0.2 grid, kernel sd ``h`` = 0.2), the weights ``w`` (a scale mixture of
normals on the signal-to-noise ratio ``c_ref / sigma_ref``, ``tau_m`` log-spaced over
1e-2..1e2) and ``(mu_beta, s_beta)``. There is no tuning knob.

How it is computed. Given ``(alpha, beta, tau_m)`` the integrals over ``c`` and ``sigma`` are
closed-form (Normal-inverse-gamma conjugacy). With ``W = exp(beta u)``, ``F = exp(-alpha u)``,
``A = sum F^2 W``, ``B = sum Delta F W``, ``D = sum Delta^2 W`` and ``Q = A + 1/tau^2``::

    log p(Delta_i | alpha, beta, tau) = const_i + beta/2 sum u - 1/2 log(1 + tau^2 A) - n/2 log R,
    R = D - B^2 / Q,
    c_ref | Delta, alpha, beta, tau   ~  Student-t_n(B / Q, R / (n Q)),   sigma^2 ~ InvGamma(n/2, R/2).

So only ``(alpha, beta)`` need numerical integration: on a per-point grid (33 x 11 nodes,
trapezoid rule) placed where the point's likelihood is within ``exp(-20)`` of its maximum (a
coarse-to-fine search), which makes the quadrature accurate from 3 to thousands of samples.
The hyperparameters maximize the summed log marginal likelihood of (up to) 1000 evenly spaced
points by EM, accelerated by SQUAREM (Varadhan and Roland, 2008), with weak hyperpriors (one
pseudo-point: Dirichlet(1 + 1/L) on the weights, one unit pseudo-observation on ``s_beta``)
so that a handful of points still gives a proper prior. Each point's posterior then gives:

* point estimates: the posterior mean of ``alpha``, ``beta`` and ``sigma``; ``predict(k)`` is
  the posterior mean of ``psi(k) = c k^-alpha``; the reported ``c`` is the one whose law passes
  through that posterior mean at ``k_ref`` with the posterior-mean exponent;
* intervals: posterior quantiles of ``alpha`` (grid) and of ``psi(k)`` (a mixture over the
  ``alpha`` grid, refined 4x by interpolation, of Student-t laws matching each node's exact
  conditional mean and variance); ``c`` is ``psi(1)``.

Cost: one pass over the samples per grid node (about 45 exponentials per sample) plus an EM
whose size does not depend on the number of points; about 1 ms per point at 500 samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from ._mle import HALF_LOG_2PI, LOG_UPPER
from ._samples import Padded

__all__ = ["PopulationPrior", "LawPosterior"]

ALPHA_MAX = float(np.exp(LOG_UPPER))
BETA_SUPPORT = (-2.0, 10.0)
_TAU = 10.0 ** np.linspace(-2.0, 2.0, 13)
_CENTRES = np.linspace(0.0, ALPHA_MAX, 38)
_KERNEL_SD = float(_CENTRES[1] - _CENTRES[0])
_N_ALPHA, _N_BETA = 33, 11
_COARSE_BETA = np.linspace(-1.0, 8.0, 10)
_THRESHOLD = 20.0  # grid windows hold every (alpha, beta) within exp(-20) of the best
_N_FIT = 1000  # points used to estimate the prior
_EDGE_MASS = 1e-6  # posterior mass allowed on a window edge that is not a support bound


# --------------------------------------------------------------------------------------------
# sufficient statistics and conditional likelihoods on per-point grids
# --------------------------------------------------------------------------------------------
def _chunks(P, per_point, budget=3_000_000):
    step = max(1, int(budget // max(per_point, 1)))
    for start in range(0, P, step):
        yield np.arange(start, min(P, start + step))


def _powers(u, nodes, sign):
    """``exp(sign * nodes[:, i] * u)`` for uniform per-point nodes (P, N): (P, N, n), by the
    recurrence ``x_i = x_(i-1) exp(sign * step * u)`` (one multiplication per value; the
    relative rounding error grows like i * 1e-16)."""
    P, N = nodes.shape
    out = np.empty((P, N, u.shape[1]))
    np.exp(sign * nodes[:, :1] * u, out=out[:, 0])
    if N > 1:
        ratio = np.exp(sign * (nodes[:, 1:2] - nodes[:, :1]) * u)
        for i in range(1, N):
            np.multiply(out[:, i - 1], ratio, out=out[:, i])
    return out


def _cell_stats(d, u, m, alphas, betas):
    """``A, B`` (P, Na, Nb) and ``D`` (P, Nb) at uniform per-point nodes ``alphas`` (P, Na) and
    ``betas`` (P, Nb): ``A = sum F^2 W``, ``B = sum Delta F W``, ``D = sum Delta^2 W``."""
    W = _powers(u, betas, 1.0)
    if m is not None:
        W *= m[:, None, :]
    F = _powers(u, alphas, -1.0)
    dW = W * d[:, None, :]
    B = F @ dW.transpose(0, 2, 1)
    np.multiply(F, F, out=F)
    A = F @ W.transpose(0, 2, 1)
    D = np.einsum("pbn,pn->pb", dW, d)
    return A, B, D


def _residual(D, B, Q):
    """``R = D - B^2 / Q`` floored at a relative 1e-14 (a noise-free fit) and at 1e-300."""
    return np.maximum(D - B * B / Q, 1e-14 * D + 1e-300)


def _flat_loglik(A, B, D, n):
    """Log likelihood of (alpha, beta) with ``c`` flat and ``p(sigma) ∝ 1/sigma`` integrated."""
    R = _residual(D[:, None, :], B, A)
    return -0.5 * np.log(A) - 0.5 * (n[:, None, None] - 1) * np.log(R)


def _conditional(A, B, D, n, alphas, betas, shift):
    """Per (alpha, beta, tau) cell: ``L = -1/2 log(1 + tau^2 A) - n/2 log R`` (the log marginal
    likelihood up to a per-point constant), ``Q = A + 1/tau^2``, ``R = D - B^2 / Q``.

    The prior is on ``c_ref / sigma_ref`` at ``k_ref``; at the point's own centre ``k0`` its
    variance ratio is ``tau^2 exp((beta - 2 alpha) shift)`` with ``shift = log(k0 / k_ref)``.
    All arrays (P, Na, Nb, M)."""
    inv = (np.exp(2 * alphas * shift[:, None])[:, :, None]
           * np.exp(-betas * shift[:, None])[:, None, :])[..., None] / _TAU**2
    A4 = A[..., None]
    L = np.log1p(A4 / inv)
    Q = inv
    Q += A4
    R = np.divide(B[..., None] ** 2, Q)
    np.subtract(D[:, None, :, None], R, out=R)
    np.maximum(R, 1e-14 * D[:, None, :, None] + 1e-300, out=R)
    L *= -0.5
    L -= (0.5 * n)[:, None, None, None] * np.log(R)
    return L, Q, R


def _lse(x, axis):
    mx = x.max(axis, keepdims=True)
    return (mx + np.log(np.exp(x - mx).sum(axis, keepdims=True))).squeeze(axis)


# --------------------------------------------------------------------------------------------
# grid windows: where each point's likelihood lives
# --------------------------------------------------------------------------------------------
def _window_1d(loglik, lo, hi, support, n_nodes=17, max_levels=8):
    """Per point, the interval where ``loglik`` (a function of (idx, nodes)) is within
    ``_THRESHOLD`` of its maximum, widened by one node spacing on each side. Sharp peaks are
    zoomed into (coarse to fine) until the interval spans at least 5 nodes."""
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    todo = np.arange(len(lo))
    grid = np.linspace(0.0, 1.0, n_nodes)
    for level in range(max_levels):
        if todo.size == 0:
            break
        nodes = lo[todo, None] + (hi[todo] - lo[todo])[:, None] * grid[None, :]
        ll = loglik(todo, nodes)
        step = (hi[todo] - lo[todo]) / (n_nodes - 1)
        keep = ll >= ll.max(1, keepdims=True) - _THRESHOLD
        first = np.argmax(keep, 1)
        last = n_nodes - 1 - np.argmax(keep[:, ::-1], 1)
        rows = np.arange(len(todo))
        lo[todo] = np.maximum(nodes[rows, first] - step, support[0])
        hi[todo] = np.minimum(nodes[rows, last] + step, support[1])
        resolved = (last - first + 1 >= 5) | (level == max_levels - 1)
        todo = todo[~resolved]
    return lo, hi


def _design(S: Padded):
    """``(alpha_lo, alpha_hi, beta_lo, beta_hi)`` per point: windows of the fine grids.

    A coarse grid (9 alpha x 10 beta nodes) locates each point's likelihood; each window is
    then refined in one dimension at the other parameter's best coarse value (zooming into
    sharp peaks, :func:`_window_1d`)."""
    P = len(S.n)
    out = np.empty((4, P))
    n_max = S.delta.shape[1]
    coarse_a = np.linspace(0.0, ALPHA_MAX, 9)
    for idx in _chunks(P, n_max * 20 * 3):
        T = S.subset(idx)
        m = len(idx)
        ll = _flat_loglik(*_cell_stats(T.delta, T.u, T.mask, np.tile(coarse_a, (m, 1)),
                                       np.tile(_COARSE_BETA, (m, 1))), T.n)
        best = ll.reshape(m, -1).argmax(1)
        b_star = _COARSE_BETA[best % len(_COARSE_BETA)]

        def loglik_alpha(rows, nodes, T=T, b_star=b_star):
            d, u, n = T.delta[rows], T.u[rows], T.n[rows]
            mask = None if T.mask is None else T.mask[rows]
            return _flat_loglik(*_cell_stats(d, u, mask, nodes, b_star[rows, None]), n)[:, :, 0]

        # start from the alpha-marginal of the coarse grid: its region, widened by one step
        alo, ahi = _region(_lse(ll, 2), coarse_a, (0.0, ALPHA_MAX))
        alo, ahi = _window_1d(loglik_alpha, alo, ahi, (0.0, ALPHA_MAX))
        a_mid = 0.5 * (alo + ahi)

        def loglik_beta(rows, nodes, T=T, a_mid=a_mid):
            d, u, n = T.delta[rows], T.u[rows], T.n[rows]
            mask = None if T.mask is None else T.mask[rows]
            return _flat_loglik(*_cell_stats(d, u, mask, a_mid[rows, None], nodes), n)[:, 0, :]

        blo, bhi = _region(_lse(ll, 1), _COARSE_BETA, BETA_SUPPORT)
        blo, bhi = _window_1d(loglik_beta, blo, bhi, BETA_SUPPORT)
        out[:, idx] = alo, ahi, blo, bhi
    return out


def _region(ll, nodes, support):
    """Where ``ll`` (P, N) on the shared ``nodes`` is within ``_THRESHOLD`` of its maximum,
    widened by one node spacing on each side and clipped to ``support``."""
    keep = ll >= ll.max(1, keepdims=True) - _THRESHOLD
    first = np.argmax(keep, 1)
    last = len(nodes) - 1 - np.argmax(keep[:, ::-1], 1)
    step = nodes[1] - nodes[0]
    return (np.maximum(nodes[first] - step, support[0]),
            np.minimum(nodes[last] + step, support[1]))


def _nodes(lo, hi, N):
    """Uniform nodes (P, N) on [lo, hi] and their trapezoid weights."""
    t = np.linspace(0.0, 1.0, N)
    nodes = lo[:, None] + (hi - lo)[:, None] * t[None, :]
    w = np.full(N, 1.0)
    w[0] = w[-1] = 0.5
    return nodes, w[None, :] * ((hi - lo) / (N - 1))[:, None]


# --------------------------------------------------------------------------------------------
# the population prior
# --------------------------------------------------------------------------------------------
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
    snr_weights : weights of the normal components of ``c_ref / sigma_ref`` (sds ``snr_scales``).
    beta_mean, beta_sd : the normal prior of beta.
    k_ref : reference size of ``c_ref`` (geometric mean of all sampled sizes).
    log_marginal : summed log marginal likelihood of the points used (up to a constant).
    n_iter : EM evaluations; converged : whether the EM met its tolerance.
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
    snr_scales: np.ndarray = field(default_factory=_TAU.copy)

    def alpha_density(self, alpha) -> np.ndarray:
        """Prior density of alpha."""
        return _kernels(np.asarray(alpha, float)) @ self.alpha_weights

    def beta_density(self, beta) -> np.ndarray:
        return stats.norm.pdf(np.asarray(beta, float), self.beta_mean, self.beta_sd)

    def table(self) -> pd.DataFrame:
        """Mean, sd and 5/50/95% quantiles of the prior of alpha and beta."""
        x = np.linspace(0, ALPHA_MAX, 2001)
        cdf = np.cumsum(self.alpha_density(x))
        cdf /= cdf[-1]
        mean = float(np.sum(self.alpha_weights * _CENTRES))
        q = np.interp([0.05, 0.5, 0.95], cdf, x)
        a_sd = float(np.sqrt(np.sum(self.alpha_weights * (_CENTRES**2 + _KERNEL_SD**2)) - mean**2))
        bq = stats.norm.ppf([0.05, 0.5, 0.95], self.beta_mean, self.beta_sd)
        return pd.DataFrame({"mean": [mean, self.beta_mean], "sd": [a_sd, self.beta_sd],
                             "q05": [q[0], bq[0]], "median": [q[1], bq[1]],
                             "q95": [q[2], bq[2]]}, index=pd.Index(["alpha", "beta"]))


class _EM:
    """EM for the hyperparameters on fixed per-point grids: theta = (pi, w, mu_beta, s_beta)."""

    def __init__(self, S: Padded, alphas, wa, betas, wb, shift):
        self.P = len(S.n)
        self.alphas, self.betas, self.wa, self.wb = alphas, betas, wa, wb
        self.K = _kernels(alphas)  # (P, Na, L)
        L = _conditional(*_cell_stats(S.delta, S.u, S.mask, alphas, betas), S.n, alphas,
                         betas, shift)[0]
        self.top = L.reshape(self.P, -1).max(1)
        L -= self.top[:, None, None, None]
        # (P, Na, Nb, M) in (0, 1]; single precision halves the memory traffic of each EM step
        # (the sums it enters have a relative error ~1e-7, far below the EM's tolerance)
        self.T = np.exp(L).astype(np.float32)
        self.L, self.M = self.K.shape[2], len(_TAU)

    def split(self, theta):
        L, M = self.L, self.M
        return theta[:L], theta[L:L + M], theta[-2], theta[-1]

    def step(self, theta):
        """One EM update; returns (new theta, penalized log marginal likelihood at theta)."""
        pi, w, mu_b, s_b = self.split(theta)
        P, T = self.P, self.T
        Kw = self.K @ pi
        G = Kw * self.wa
        gmax = G.max(1, keepdims=True)
        G = G / gmax
        zb = (self.betas - mu_b) / s_b
        lh = -0.5 * zb * zb
        hmax = lh.max(1, keepdims=True)
        H = np.exp(lh - hmax) * self.wb
        shift = np.log(gmax[:, 0]) + hmax[:, 0] - np.log(np.sqrt(2 * np.pi) * s_b)
        X1 = (T @ w.astype(np.float32)).astype(float)  # (P, Na, Nb)
        GX1 = (G[:, None, :] @ X1)[:, 0, :]
        mi = np.maximum(np.einsum("ib,ib->i", GX1, H), 1e-300)
        ll = float(np.sum(np.log(mi) + self.top + shift))
        ll += (np.sum(np.log(pi)) / self.L + np.sum(np.log(w)) / self.M - np.log(s_b)
               - 0.5 / s_b**2)
        pa = G * (X1 @ H[:, :, None])[:, :, 0] / mi[:, None]
        qb = H * GX1 / mi[:, None]
        GH = (G[:, :, None] * H[:, None, :]).reshape(P, 1, -1).astype(np.float32)
        rm = (GH @ T.reshape(P, -1, self.M))[:, 0, :].astype(float) * w / mi[:, None]
        resp = np.einsum("ia,ial->l", pa / np.maximum(Kw, 1e-300), self.K) * pi
        pi = (resp + 1.0 / self.L) / (P + 1)
        w = (rm.sum(0) + 1.0 / self.M) / (P + 1)
        mu_b = float((qb * self.betas).sum() / P)
        s_b = float(np.sqrt(((qb * (self.betas - mu_b) ** 2).sum() + 1.0) / (P + 1)))
        return np.concatenate([pi, w, [mu_b, s_b]]), ll

    def project(self, theta):
        pi, w, mu_b, s_b = self.split(theta.copy())
        pi = np.maximum(pi, 1e-14)
        w = np.maximum(w, 1e-14)
        return np.concatenate([pi / pi.sum(), w / w.sum(), [mu_b, max(s_b, 1e-3)]])

    def run(self, tol, max_iter):
        """SQUAREM (scheme S3 with the monotone fallback): each cycle is 3 EM evaluations."""
        theta = np.concatenate([np.full(self.L, 1.0 / self.L), np.full(self.M, 1.0 / self.M),
                                [2.0, 2.0]])
        ll_old, n_eval, converged = -np.inf, 0, False
        ll = ll_old
        for _ in range(max_iter):
            th1, _ = self.step(theta)
            th2, ll1 = self.step(th1)
            r = th1 - theta
            v = th2 - th1 - r
            step = min(-np.sqrt((r * r).sum() / max((v * v).sum(), 1e-300)), -1.0)
            th3, ll3 = self.step(self.project(theta - 2 * step * r + step * step * v))
            n_eval += 3
            theta, ll = (th3, ll3) if ll3 >= ll1 else (th2, ll1)
            if abs(ll - ll_old) < tol * self.P:
                converged = True
                break
            ll_old = ll
        return theta, ll, n_eval, converged


# --------------------------------------------------------------------------------------------
# posteriors
# --------------------------------------------------------------------------------------------
@dataclass
class LawPosterior:
    """Each point's posterior, reduced to what predictions and intervals need.

    On the point's alpha nodes ``alphas`` (P, Na): the posterior masses ``weights`` and the
    exact conditional mean ``c_mean`` and variance ``c_var`` of ``c0 = psi(k0)`` (``k0`` the
    point's geometric-mean size, ``log_k0``) given alpha; ``n`` samples (the Student-t degrees
    of freedom); contributions were divided by ``scale``.
    """

    alphas: np.ndarray
    weights: np.ndarray
    c_mean: np.ndarray
    c_var: np.ndarray
    log_k0: np.ndarray
    n: np.ndarray
    scale: np.ndarray

    def _factor(self, k):
        return np.exp(-self.alphas[:, None, :] * (np.log(k)[None, :, None]
                                                  - self.log_k0[:, None, None]))

    def mean(self, k):
        """Posterior mean of ``psi(k)``: (P, len(k))."""
        f = self._factor(k)
        return np.einsum("pa,pka->pk", self.weights * self.c_mean, f) * self.scale[:, None]

    def sd(self, k):
        """Posterior sd of ``psi(k)``: (P, len(k))."""
        f = self._factor(k)
        m1 = np.einsum("pa,pka->pk", self.weights * self.c_mean, f)
        m2 = np.einsum("pa,pka->pk", self.weights * (self.c_var + self.c_mean**2), f * f)
        return np.sqrt(np.maximum(m2 - m1 * m1, 0.0)) * self.scale[:, None]

    def cov_c_alpha(self):
        """Posterior covariance of ``(c, alpha)`` with ``c = psi(1)``: (P, 2, 2)."""
        f = np.exp(self.alphas * self.log_k0[:, None])  # psi(1) = c0 k0^alpha
        w = self.weights
        ea = np.sum(w * self.alphas, 1)
        ec = np.sum(w * self.c_mean * f, 1)
        ec2 = np.sum(w * (self.c_var + self.c_mean**2) * f * f, 1)
        eca = np.sum(w * self.c_mean * f * self.alphas, 1)
        ea2 = np.sum(w * self.alphas**2, 1)
        cov = np.empty((len(w), 2, 2))
        s = self.scale
        cov[:, 0, 0] = np.maximum(ec2 - ec**2, 0) * s**2
        cov[:, 0, 1] = cov[:, 1, 0] = (eca - ec * ea) * s
        cov[:, 1, 1] = np.maximum(ea2 - ea**2, 0)
        return cov

    def alpha_quantiles(self, probs):
        """Quantiles of alpha: (P, len(probs)); the density is linear between nodes."""
        a, p = self.alphas, self.weights
        h = a[:, 1] - a[:, 0]
        w = np.ones(a.shape[1])
        w[0] = w[-1] = 0.5
        f = p / (w[None, :] * np.maximum(h, 1e-300)[:, None])
        seg = 0.5 * (f[:, 1:] + f[:, :-1]) * h[:, None]
        cdf = np.concatenate([np.zeros((len(a), 1)), np.cumsum(seg, 1)], 1)
        tot = np.maximum(cdf[:, -1:], 1e-300)
        cdf, f = cdf / tot, f / tot
        rows = np.arange(len(a))
        out = np.empty((len(a), len(probs)))
        for i, q in enumerate(probs):
            j = np.clip((cdf < q).sum(1) - 1, 0, a.shape[1] - 2)
            c0, f0, f1 = cdf[rows, j], f[rows, j], f[rows, j + 1]
            # solve c0 + f0 t + (f1 - f0) t^2 / (2h) = q for t in [0, h]
            qa, qb, qc = (f1 - f0) / (2 * np.maximum(h, 1e-300)), f0, c0 - q
            disc = np.sqrt(np.maximum(qb * qb - 4 * qa * qc, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.where(np.abs(qa) * h > 1e-9 * np.maximum(qb, 1e-300),
                             2 * (-qc) / (qb + disc), -qc / qb)
            out[:, i] = a[rows, j] + np.clip(np.nan_to_num(t), 0.0, h)
        return out

    def _refined(self, k):
        """Mixture components for ``psi(k)``: weights, locations, t-scales on the alpha grid
        refined by linear interpolation (so that the factor ``(k/k0)^-alpha`` changes by at most
        about 10% between neighbours; up to 8x), negligible components (mass < 1e-12) dropped."""
        a, p = self.alphas, self.weights
        P, Na = a.shape
        jump = np.max(np.abs(np.log(k) - self.log_k0) * (a[:, 1] - a[:, 0]))
        refine = int(np.clip(np.ceil(jump / 0.1), 1, 8))
        t = np.linspace(0, Na - 1, (Na - 1) * refine + 1)
        j = np.minimum(t.astype(int), Na - 2)
        frac = t - j
        w = np.ones(Na)
        w[0] = w[-1] = 0.5
        dens = p / w  # proportional to the density at the nodes (uniform spacing)
        wt = np.ones(len(t))
        wt[0] = wt[-1] = 0.5
        mass = (dens[:, j] * (1 - frac) + dens[:, j + 1] * frac) * wt
        mass /= np.maximum(mass.sum(1, keepdims=True), 1e-300)
        keep = np.argsort(-mass, axis=1)[:, : max(1, int(np.max(np.sum(mass >= 1e-12, 1))))]
        rows = np.arange(P)[:, None]
        mass, jj, ff = mass[rows, keep], j[keep], frac[keep]

        def pick(x):
            return x[rows, jj] * (1 - ff) + x[rows, jj + 1] * ff

        n = self.n[:, None]
        fac = np.exp(-pick(a) * (np.log(k) - self.log_k0[:, None]))
        sd0 = np.sqrt(np.maximum(pick(self.c_var), 0.0))
        return mass, pick(self.c_mean) * fac, sd0 * fac * np.sqrt((n - 2) / n)

    def quantiles(self, k, probs):
        """Quantiles of ``psi(k)`` for one size ``k``: (P, len(probs)).

        The mixture's quantile lies between its components' quantiles; it is found there by
        Newton steps on ``y = asinh(x / s)`` (``s`` the smallest component scale: the mixture
        can span orders of magnitude when ``k`` is far from the data), safeguarded by
        bisection, until the CDF is within 1e-10 of the target probability."""
        mass, loc, sc = self._refined(float(k))
        n = np.broadcast_to(self.n[:, None], loc.shape)
        sc = np.maximum(sc, 1e-300 + 1e-12 * np.abs(loc))
        s0 = sc.min(1)
        const = np.exp(special.gammaln((n + 1) / 2) - special.gammaln(n / 2)) / np.sqrt(n * np.pi)
        out = np.empty((len(loc), len(probs)))
        for i, q in enumerate(probs):
            comp_q = loc + sc * stats.t.ppf(q, n[:, :1])
            lo, hi = np.arcsinh(comp_q.min(1) / s0), np.arcsinh(comp_q.max(1) / s0)
            lo, hi = lo - 1e-9 * (1 + np.abs(lo)), hi + 1e-9 * (1 + np.abs(hi))
            y = 0.5 * (lo + hi)
            todo = np.arange(len(loc))
            for _ in range(200):
                if todo.size == 0:
                    break
                x = s0[todo] * np.sinh(y[todo])
                z = (x[:, None] - loc[todo]) / sc[todo]
                nn = n[todo]
                F = np.sum(mass[todo] * special.stdtr(nn, z), 1) - q
                pdf = np.sum(mass[todo] * const[todo] * (1 + z * z / nn) ** (-(nn + 1) / 2)
                             / sc[todo], 1)
                lo[todo] = np.where(F < 0, y[todo], lo[todo])
                hi[todo] = np.where(F < 0, hi[todo], y[todo])
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    ny = y[todo] - F / (pdf * s0[todo] * np.cosh(y[todo]))
                bad = ~np.isfinite(ny) | (ny <= lo[todo]) | (ny >= hi[todo])
                ny = np.where(bad, 0.5 * (lo[todo] + hi[todo]), ny)
                done = (np.abs(F) <= 1e-10) | (hi[todo] - lo[todo] <= 1e-14 * (1 + np.abs(y[todo])))
                y[todo] = np.where(done, y[todo], ny)
                todo = todo[~done]
            out[:, i] = s0 * np.sinh(y)
        return out * self.scale[:, None]


def _posterior_chunk(T: Padded, alphas, wa, betas, wb, shift, prior: PopulationPrior):
    """Posterior summaries of the points of ``T`` on their grids (all arrays per point)."""
    A, B, D = _cell_stats(T.delta, T.u, T.mask, alphas, betas)
    n = T.n
    W, Q, R = _conditional(A, B, D, n, alphas, betas, shift)
    with np.errstate(divide="ignore"):
        log_g = np.log(prior.alpha_density(alphas) * wa)
        log_h = np.log(prior.beta_density(betas) * wb)
        W += log_g[:, :, None, None]
        W += log_h[:, None, :, None]
        W += np.log(prior.snr_weights)
    top = W.reshape(len(W), -1).max(1)
    W -= top[:, None, None, None]
    np.exp(W, out=W)
    total = W.sum((1, 2, 3))
    W /= total[:, None, None, None]
    pa = W.sum((2, 3))
    pb = W.sum((1, 3))
    safe = np.maximum(pa, 1e-300)
    loc = B[..., None] / Q  # posterior location of c0 in each cell
    c_mean = np.einsum("pabm,pabm->pa", W, loc) / safe
    # E[c0^2 | cell] = loc^2 + Var, Var = R / ((n - 2) Q) (Student-t with n degrees of freedom)
    loc *= loc
    Q *= (n - 2)[:, None, None, None]
    np.divide(R, Q, out=Q)
    loc += Q
    c_var = np.maximum(np.einsum("pabm,pabm->pa", W, loc) / safe - c_mean**2, 0.0)
    # sigma at k = 1 is sigma0 k0^(beta/2), with sigma0^2 | cell ~ InvGamma(n/2, R/2)
    kb = np.exp(0.5 * betas * T.log_k0[:, None])
    const = np.exp(special.gammaln((n - 1) / 2) - special.gammaln(n / 2)) / np.sqrt(2)
    sig1 = const * np.einsum("pabm,pabm,pb->p", W, np.sqrt(R), kb)
    sig2 = np.einsum("pabm,pabm,pb->p", W, R, kb * kb) / (n - 2)
    beta = (pb * betas).sum(1)
    stats_ = {
        "beta": beta,
        "beta_sd": np.sqrt(np.maximum((pb * (betas - beta[:, None]) ** 2).sum(1), 0.0)),
        "sigma": sig1,
        "sigma_sd": np.sqrt(np.maximum(sig2 - sig1**2, 0.0)),
        "log_marginal": top + np.log(total),
    }
    edge_a = np.maximum(np.where(alphas[:, 0] > 0, pa[:, 0], 0.0),
                        np.where(alphas[:, -1] < ALPHA_MAX, pa[:, -1], 0.0))
    edge_b = np.maximum(np.where(betas[:, 0] > BETA_SUPPORT[0], pb[:, 0], 0.0),
                        np.where(betas[:, -1] < BETA_SUPPORT[1], pb[:, -1], 0.0))
    return pa, c_mean, c_var, stats_, edge_a, edge_b


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
    if live.size:
        windows[:, live] = _design(S.subset(live))
    # the prior, from up to _N_FIT evenly spaced points
    if live.size:
        fit = live[np.unique(np.linspace(0, live.size - 1, min(live.size, _N_FIT)).round()
                             .astype(int))]
        a_n, a_w = _nodes(windows[0, fit], windows[1, fit], _N_ALPHA)
        b_n, b_w = _nodes(windows[2, fit], windows[3, fit], _N_BETA)
        em = _EM(S.subset(fit), a_n, a_w, b_n, b_w, shift_all[fit])
        theta, ll, n_eval, em_converged = em.run(tol, max_iter)
        pi, w, mu_b, s_b = em.split(theta)
        del em
    else:
        pi = np.full(len(_CENTRES), 1.0 / len(_CENTRES))
        w = np.full(len(_TAU), 1.0 / len(_TAU))
        mu_b, s_b, ll, n_eval, em_converged = 2.0, 2.0, 0.0, 0, True
    prior = PopulationPrior(pi, w, float(mu_b), float(s_b), float(np.exp(log_kref)), float(ll),
                            int(n_eval), bool(em_converged))
    # posteriors, widening a window where the posterior reaches its edge (at most 4 rounds)
    post = {k: np.zeros((P, _N_ALPHA)) for k in ("weights", "c_mean", "c_var", "alphas")}
    summ = {k: np.zeros(P) for k in ("beta", "beta_sd", "sigma", "sigma_sd", "log_marginal")}
    resolved = np.ones(P, bool)
    todo = live
    n_max = S.delta.shape[1]
    for _ in range(5):
        if todo.size == 0:
            break
        widen = np.zeros(P, bool)
        for idx in _chunks(todo.size, n_max * (_N_ALPHA + _N_BETA) * 2
                           + _N_ALPHA * _N_BETA * len(_TAU) * 8):
            pts = todo[idx]
            a_n, a_w = _nodes(windows[0, pts], windows[1, pts], _N_ALPHA)
            b_n, b_w = _nodes(windows[2, pts], windows[3, pts], _N_BETA)
            pa, cm, cv, st, edge_a, edge_b = _posterior_chunk(S.subset(pts), a_n, a_w, b_n, b_w,
                                                               shift_all[pts], prior)
            post["weights"][pts], post["c_mean"][pts], post["c_var"][pts] = pa, cm, cv
            post["alphas"][pts] = a_n
            for key in summ:
                summ[key][pts] = st[key]
            bad_a, bad_b = edge_a > _EDGE_MASS, edge_b > _EDGE_MASS
            for bad, lo_i, hi_i, sup in ((bad_a, 0, 1, (0.0, ALPHA_MAX)),
                                         (bad_b, 2, 3, BETA_SUPPORT)):
                sel = pts[bad]
                width = windows[hi_i, sel] - windows[lo_i, sel]
                windows[lo_i, sel] = np.maximum(windows[lo_i, sel] - 0.5 * width, sup[0])
                windows[hi_i, sel] = np.minimum(windows[hi_i, sel] + 0.5 * width, sup[1])
            widen[pts[bad_a | bad_b]] = True
        todo = np.flatnonzero(widen)
    resolved[todo] = False
    # degenerate points: the prior of alpha, psi = 0
    if degenerate.any():
        a_n, a_w = _nodes(windows[0, degenerate], windows[1, degenerate], _N_ALPHA)
        g = prior.alpha_density(a_n) * a_w
        post["alphas"][degenerate], post["weights"][degenerate] = a_n, g / g.sum(1, keepdims=True)
        summ["beta"][degenerate], summ["beta_sd"][degenerate] = prior.beta_mean, prior.beta_sd
    posterior = LawPosterior(post["alphas"], post["weights"], post["c_mean"], post["c_var"],
                             S.log_k0.copy(), S.n.copy(), S.scale.copy())
    table = _point_table(S, posterior, summ, prior, degenerate, resolved)
    info = {"prior": prior, "resolved": resolved}
    return table, posterior, prior, info


def _point_table(S, posterior, summ, prior, degenerate, resolved):
    a = posterior.alphas
    alpha = np.sum(posterior.weights * a, 1)
    alpha_sd = np.sqrt(np.maximum(np.sum(posterior.weights * (a - alpha[:, None]) ** 2, 1), 0))
    k_ref = np.array([prior.k_ref])
    psi_ref = posterior.mean(k_ref)[:, 0]
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
