"""Grids and conditional likelihoods of the empirical-Bayes estimator (docs/math.md §5).

Everything here is per point and vectorized over points: the sufficient statistics of the
Gaussian model on a grid of ``(alpha, beta)`` nodes, the closed-form integrals over ``c`` and
``sigma``, the search for each point's grid window, and exact tables of the Student-t log-CDF
that the sign-aware prior needs. See :mod:`.empirical_bayes` for the model.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ._mle import LOG_UPPER
from ._samples import Padded

ALPHA_MAX = float(np.exp(LOG_UPPER))
BETA_SUPPORT = (-2.0, 10.0)
#: scales of the signal-to-noise prior components (per-sample c_ref / sigma_ref), a factor
#: sqrt(10) apart: a half-normal spans about a factor e either way, so the mixture is smooth
TAU = 10.0 ** np.linspace(-2.0, 2.0, 9)
N_ALPHA, N_BETA = 33, 15
_COARSE_BETA = np.linspace(-1.0, 8.0, 10)
_THRESHOLD = 20.0  # grid windows hold every (alpha, beta) within exp(-20) of the best


def chunks(P, per_point, budget=3_000_000):
    """Index blocks of points whose working arrays hold about ``budget`` numbers."""
    step = max(1, int(budget // max(per_point, 1)))
    for start in range(0, P, step):
        yield np.arange(start, min(P, start + step))


def lse(x, axis):
    """``log(sum(exp(x)))`` along ``axis``, without overflow."""
    mx = x.max(axis, keepdims=True)
    return (mx + np.log(np.exp(x - mx).sum(axis, keepdims=True))).squeeze(axis)


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


def cell_stats(d, u, m, alphas, betas):
    """``A, B`` (P, Na, Nb) and ``D`` (P, Nb) at uniform per-point nodes ``alphas`` (P, Na) and
    ``betas`` (P, Nb): ``A = sum F^2 W``, ``B = sum Delta F W``, ``D = sum Delta^2 W`` with
    ``F = exp(-alpha u)``, ``W = exp(beta u)``."""
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


def _floor(R, D):
    """``R`` floored at a relative 1e-14 of ``D`` (a noise-free fit) and at 1e-300."""
    return np.maximum(R, 1e-14 * D + 1e-300)


def flat_loglik(A, B, D, n):
    """Log likelihood of (alpha, beta) with ``c`` flat and ``p(sigma) ∝ 1/sigma`` integrated:
    ``-1/2 log A - (n - 1)/2 log(D - B^2 / A)`` (used to place the grids)."""
    R = _floor(D[:, None, :] - B * B / A, D[:, None, :])
    return -0.5 * np.log(A) - 0.5 * (n[:, None, None] - 1) * np.log(R)


def conditional(A, B, D, n, alphas, betas, shift):
    """Per (alpha, beta, tau) cell, for the symmetric normal prior ``N(0, tau^2 sigma^2)``:
    ``L = -1/2 log(1 + tau^2 A) - n/2 log R`` (log marginal likelihood up to a per-point
    constant), ``Q = A + 1/tau^2``, ``R = D - B^2 / Q`` and the t-statistic of ``c``'s
    conditional posterior ``x = B sqrt(n / (Q R))``.

    The prior is on ``c_ref / sigma_ref`` at ``k_ref``; at the point's own centre ``k0`` its
    variance ratio is ``tau^2 exp((beta - 2 alpha) shift)`` with ``shift = log(k0 / k_ref)``.
    All arrays (P, Na, Nb, M)."""
    inv = (np.exp(2 * alphas * shift[:, None])[:, :, None]
           * np.exp(-betas * shift[:, None])[:, None, :])[..., None] / TAU**2
    A4 = A[..., None]
    L = np.log1p(A4 / inv)
    Q = inv
    Q += A4
    R = np.divide(B[..., None] ** 2, Q)
    np.subtract(D[:, None, :, None], R, out=R)
    R = _floor(R, D[:, None, :, None])
    logR = np.log(R)
    L *= -0.5
    L -= (0.5 * n)[:, None, None, None] * logR
    x = B[..., None] / np.sqrt(Q * R / n[:, None, None, None])
    return L, Q, R, x


class LogT:
    """``log T_nu(x)`` (Student-t log-CDF) for integer ``nu``, from exact tables.

    ``scipy.special.stdtr`` costs about a microsecond per value; the estimator needs it for
    millions of cells. For each ``nu`` the exact values on ``x = -60..60`` (step 1/256) are
    tabulated once and interpolated linearly: the error is at most ``h^2/8 max|g''|`` with
    ``g = log T``; ``|g''|`` is about 1 (Gaussian-like) or less, and the measured error is
    below 2e-6 for nu = 1..5000 (tested against ``stdtr``).
    Beyond the table: ``log T(x) = log T(-60) - nu log(|x| / 60)`` for ``x < -60`` (the t tail
    ``~ |x|^-nu``; such values only ever weight components down to nothing) and
    ``log T(x) = log1p(-T(-x))`` for ``x > 60``.
    """

    _X = np.arange(-60 * 256, 60 * 256 + 1) / 256.0

    def __init__(self):
        self._tables = {}

    def table(self, nu):
        """The values and slopes of ``log T_nu`` on the grid."""
        nu = int(nu)
        if nu not in self._tables:
            # floor at 1e-300: far tails of large nu underflow; they only weight components down
            g = np.log(np.maximum(special.stdtr(nu, self._X), 1e-300))
            self._tables[nu] = (g, np.diff(g))
        return self._tables[nu]

    def _tails(self, nu, x, out, g0):
        low, high = x < -60.0, x > 60.0
        if low.any():
            out[low] = g0 - nu * np.log(-x[low] / 60.0)
        if high.any():
            out[high] = -np.exp(g0 - nu * np.log(x[high] / 60.0))

    @staticmethod
    def _cells(x, n):
        """Cell ``i`` of each ``x`` on the table's grid (step 1/256 on [-60, 60], ``n`` nodes)
        and the fraction ``f`` of the way through it, for linear interpolation."""
        pos = np.clip(x, -60.0, 60.0)
        pos += 60.0
        pos *= 256.0
        i = pos.astype(np.int32)
        np.minimum(i, n - 2, out=i)
        return i, pos - i

    def pair(self, nu, x):
        """``(log T_nu(x), log T_nu(-x))`` for one ``nu`` (int) and an array ``x``."""
        g, dg = self.table(nu)
        x = np.asarray(x, float)
        i, f = self._cells(x, len(g))
        plus = g.take(i)
        plus += dg.take(i) * f
        j = len(g) - 2 - i  # the mirror image of x on the symmetric grid
        minus = g.take(j)
        minus += dg.take(j) * (1.0 - f)
        if x.size and (x.min() < -60.0 or x.max() > 60.0):
            self._tails(nu, x, plus, g[0])
            self._tails(nu, -x, minus, g[0])
        return plus, minus

    def __call__(self, nu, x):
        """``log T_nu(x)`` for one ``nu`` (int) and an array ``x``."""
        g, dg = self.table(nu)
        x = np.asarray(x, float)
        i, f = self._cells(x, len(g))
        out = g.take(i)
        out += dg.take(i) * f
        if x.size and (x.min() < -60.0 or x.max() > 60.0):
            self._tails(nu, x, out, g[0])
        return out

    def by_point(self, nu, x, both=False):
        """``log T_nu(x)`` (or the pair with ``log T_nu(-x)``) with one ``nu`` per point (first
        axis of ``x``)."""
        nu = np.asarray(nu).astype(np.int64)
        fn = self.pair if both else self.__call__
        if np.all(nu == nu[0]):
            return fn(int(nu[0]), x)
        outs = (np.empty(x.shape), np.empty(x.shape)) if both else (np.empty(x.shape),)
        for value in np.unique(nu):
            rows = np.flatnonzero(nu == value)
            res = fn(int(value), x[rows])
            for o, r in zip(outs, res if both else (res,)):
                o[rows] = r
        return outs if both else outs[0]


LOG_T = LogT()


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


def _region(ll, nodes, support):
    """Where ``ll`` (P, N) on the shared ``nodes`` is within ``_THRESHOLD`` of its maximum,
    widened by one node spacing on each side and clipped to ``support``."""
    keep = ll >= ll.max(1, keepdims=True) - _THRESHOLD
    first = np.argmax(keep, 1)
    last = len(nodes) - 1 - np.argmax(keep[:, ::-1], 1)
    step = nodes[1] - nodes[0]
    return (np.maximum(nodes[first] - step, support[0]),
            np.minimum(nodes[last] + step, support[1]))


def design(S: Padded):
    """``(alpha_lo, alpha_hi, beta_lo, beta_hi)`` per point: the windows of the fine grids.

    A coarse grid (9 alpha x 10 beta nodes) locates each point's likelihood (``c`` flat,
    :func:`flat_loglik`); each window is then refined in one dimension at the other
    parameter's best coarse value, zooming into sharp peaks (:func:`_window_1d`)."""
    P = len(S.n)
    out = np.empty((4, P))
    n_max = S.delta.shape[1]
    coarse_a = np.linspace(0.0, ALPHA_MAX, 9)
    for idx in chunks(P, n_max * 20 * 3):
        T = S.subset(idx)
        m = len(idx)
        ll = flat_loglik(*cell_stats(T.delta, T.u, T.mask, np.tile(coarse_a, (m, 1)),
                                     np.tile(_COARSE_BETA, (m, 1))), T.n)
        best = ll.reshape(m, -1).argmax(1)
        b_star = _COARSE_BETA[best % len(_COARSE_BETA)]

        def loglik_alpha(rows, nodes, T=T, b_star=b_star):
            d, u, n = T.delta[rows], T.u[rows], T.n[rows]
            mask = None if T.mask is None else T.mask[rows]
            return flat_loglik(*cell_stats(d, u, mask, nodes, b_star[rows, None]), n)[:, :, 0]

        alo, ahi = _region(lse(ll, 2), coarse_a, (0.0, ALPHA_MAX))
        alo, ahi = _window_1d(loglik_alpha, alo, ahi, (0.0, ALPHA_MAX))
        a_mid = 0.5 * (alo + ahi)

        def loglik_beta(rows, nodes, T=T, a_mid=a_mid):
            d, u, n = T.delta[rows], T.u[rows], T.n[rows]
            mask = None if T.mask is None else T.mask[rows]
            return flat_loglik(*cell_stats(d, u, mask, a_mid[rows, None], nodes), n)[:, 0, :]

        blo, bhi = _region(lse(ll, 1), _COARSE_BETA, BETA_SUPPORT)
        blo, bhi = _window_1d(loglik_beta, blo, bhi, BETA_SUPPORT)
        out[:, idx] = alo, ahi, blo, bhi
    return out


def quadrature_weights(N):
    """Weights of the trapezoid rule with Gregory's end corrections on N >= 7 unit-spaced
    nodes: ``3/8, 7/6, 23/24, 1, ..., 1, 23/24, 7/6, 3/8``. Inside the interval the rule is
    the trapezoid rule (whose error for smooth densities that decay at both ends falls like
    ``exp(-2 pi^2 (sd / h)^2)``); at an end where the density does not vanish (alpha = 0, the
    prior's bound) the corrections make the error O(h^4) instead of the trapezoid's O(h^2)."""
    w = np.ones(N)
    w[:3] = w[-3:][::-1] = (3 / 8, 7 / 6, 23 / 24)
    return w


def nodes(lo, hi, N):
    """Uniform nodes (P, N) on [lo, hi] and their quadrature weights (:func:`quadrature_weights`)."""
    t = np.linspace(0.0, 1.0, N)
    x = lo[:, None] + (hi - lo)[:, None] * t[None, :]
    return x, quadrature_weights(N)[None, :] * ((hi - lo) / (N - 1))[:, None]
