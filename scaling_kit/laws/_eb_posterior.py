"""Posteriors of the empirical-Bayes estimator: per-point summaries and intervals.

Given the population prior, each point's posterior lives on its grid of ``(alpha, beta)``
nodes, signal-to-noise components ``tau_m`` and the sign of ``c`` (docs/math.md §5; the model
is in :mod:`.empirical_bayes`). Conditional on a cell, ``c0 = psi(k0)`` (``k0`` the point's
geometric-mean size) is a Student-t with ``n`` degrees of freedom, location ``B/Q`` and scale
``sqrt(R / (n Q))``, truncated to the sign of the cell's prior component. Truncated-t moments
are closed-form: for ``X ~ t_nu`` and ``g(x) = (nu + x^2) f_nu(x)``::

    P(X > -x) = T(x),   E[X 1{X > -x}] = g(x) / (nu - 1),
    E[X^2 1{X > -x}] = (nu T(x) - x g(x)) / (nu - 2)

(and the mirror images for the negative side), so the posterior means and variances of
``alpha``, ``c0`` and every ``psi(k)`` are exact sums over the grid. For intervals each
``(alpha node, sign)`` part is represented by one truncated Student-t whose untruncated parent
matches the part's exact mean and variance of the parent location (law of total variance):
exact where one cell dominates, an approximation where many cells of different shrinkage mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from ._eb_grids import (
    ALPHA_MAX,
    BETA_SUPPORT,
    LOG_T,
    cell_stats,
    conditional,
    quadrature_weights,
)
from ._samples import Padded


def _t_const(nu):
    """``log(nu C_nu)`` with ``C_nu = Gamma((nu+1)/2) / (sqrt(nu pi) Gamma(nu/2))``."""
    return (np.log(nu) + special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)
            - 0.5 * np.log(nu * np.pi))


def posterior_chunk(T: Padded, alphas, wa, betas, wb, shift, prior):
    """Posterior summaries of the points of ``T`` on their grids.

    Returns a dict of per-point arrays: ``mass, mean, second, loc, tscale`` (P, Na, 2) per alpha
    node and sign (+, -), and ``beta, beta_sd, sigma, sigma_sd, log_marginal, edge_a, edge_b``
    (P,). ``sigma`` is in the units of ``T.delta`` at k = 1.
    """
    A, B, D = cell_stats(T.delta, T.u, T.mask, alphas, betas)
    n = T.n
    n4 = n[:, None, None, None]
    L, Q, R, x = conditional(A, B, D, n, alphas, betas, shift)
    lt_pos, lt_neg = LOG_T.by_point(n, x, both=True)
    # for sigma under the sign truncation: T_(n-1) and T_(n-2) at rescaled x (see below)
    lt1 = LOG_T.by_point(n - 1, x * np.sqrt((n4 - 1) / n4), both=True)
    lt2 = LOG_T.by_point(n - 2, x * np.sqrt((n4 - 2) / n4), both=True)
    with np.errstate(divide="ignore"):
        log_g = np.log(prior.alpha_density(alphas) * wa)
        log_h = np.log(prior.beta_density(betas) * wb)
        L += log_g[:, :, None, None] + log_h[:, None, :, None] + np.log(2.0)
        log_w = np.log(prior.snr_weights)
    Wp = L + lt_pos + log_w[:, 0]
    Wn = L + lt_neg + log_w[:, 1]
    top = np.maximum(Wp.reshape(len(L), -1).max(1), Wn.reshape(len(L), -1).max(1))
    Wp = np.exp(Wp - top[:, None, None, None])
    Wn = np.exp(Wn - top[:, None, None, None])
    total = Wp.sum((1, 2, 3)) + Wn.sum((1, 2, 3))
    Wp /= total[:, None, None, None]
    Wn /= total[:, None, None, None]
    mu = B[..., None] / Q  # parent location of c0 in each cell
    s2 = R / (n4 * Q)  # squared parent t-scale
    sc = np.sqrt(s2)
    lg = _t_const(n4) - 0.5 * (n4 - 1) * np.log1p(x * x / n4)
    out = {k: np.empty((len(L), alphas.shape[1], 2)) for k in ("mass", "mean", "second", "loc",
                                                               "tscale")}
    sig1 = np.zeros(len(L))
    sig2 = np.zeros(len(L))
    e_sigma = np.sqrt(R / 2) * np.exp(special.gammaln((n4 - 1) / 2) - special.gammaln(n4 / 2))
    e_sigma2 = R / (n4 - 2)
    kb = np.exp(0.5 * betas * T.log_k0[:, None])[:, None, :, None]
    for j, (W, sign, lt) in enumerate(((Wp, 1.0, lt_pos), (Wn, -1.0, lt_neg))):
        lt_n1, lt_n2 = lt1[j], lt2[j]
        ratio = np.exp(np.minimum(lg - lt, 700.0))  # g(x) / T(+-x)
        r1 = sign * ratio / (n4 - 1)  # E[X | side]
        r2 = (n4 - sign * x * ratio) / (n4 - 2)  # E[X^2 | side]
        mass = W.sum((2, 3))
        safe = np.maximum(mass, 1e-300)
        out["mass"][..., j] = mass
        out["mean"][..., j] = np.einsum("pabm,pabm->pa", W, mu + sc * r1) / safe
        out["second"][..., j] = np.einsum("pabm,pabm->pa", W, mu * mu + 2 * mu * sc * r1
                                          + s2 * r2) / safe
        loc = np.einsum("pabm,pabm->pa", W, mu) / safe
        var = np.einsum("pabm,pabm->pa", W, mu * mu + s2 * n4 / (n4 - 2)) / safe - loc**2
        out["loc"][..., j] = loc
        out["tscale"][..., j] = np.sqrt(np.maximum(var, 0.0) * (n[:, None] - 2) / n[:, None])
        # sigma at k = 1 is sigma0 k0^(beta/2); sigma0^2 | cell ~ InvGamma(n/2, R/2), and the
        # sign truncation reweights it by T_(n-1) and T_(n-2) (the t-mixture identities)
        w1 = np.exp(np.minimum(lt_n1 - lt, 700.0))
        w2 = np.exp(np.minimum(lt_n2 - lt, 700.0))
        sig1 += np.einsum("pabm,pabm->p", W, e_sigma * w1 * kb)
        sig2 += np.einsum("pabm,pabm->p", W, e_sigma2 * w2 * kb * kb)
    pa = out["mass"].sum(2)
    pb = Wp.sum((1, 3)) + Wn.sum((1, 3))
    beta = (pb * betas).sum(1)
    out.update(
        beta=beta,
        beta_sd=np.sqrt(np.maximum((pb * (betas - beta[:, None]) ** 2).sum(1), 0.0)),
        sigma=sig1,
        sigma_sd=np.sqrt(np.maximum(sig2 - sig1**2, 0.0)),
        log_marginal=top + np.log(total),
        edge_a=np.maximum(np.where(alphas[:, 0] > 0, pa[:, 0], 0.0),
                          np.where(alphas[:, -1] < ALPHA_MAX, pa[:, -1], 0.0)),
        edge_b=np.maximum(np.where(betas[:, 0] > BETA_SUPPORT[0], pb[:, 0], 0.0),
                          np.where(betas[:, -1] < BETA_SUPPORT[1], pb[:, -1], 0.0)),
    )
    return out


@dataclass
class LawPosterior:
    """Each point's posterior, reduced to what predictions and intervals need.

    On the point's alpha nodes ``alphas`` (P, Na) and for each sign of ``c`` (last axis: +, -):
    the posterior masses ``mass``, the exact conditional first and second moments ``mean``,
    ``second`` of ``c0 = psi(k0)``, and the parent location ``loc`` and t-scale ``tscale`` of
    the truncated-t that represents the part in intervals. ``k0 = exp(log_k0)`` is the point's
    geometric-mean size, ``n`` its number of samples (the degrees of freedom); contributions
    were divided by ``scale``.
    """

    alphas: np.ndarray
    mass: np.ndarray
    mean_c0: np.ndarray
    second_c0: np.ndarray
    loc: np.ndarray
    tscale: np.ndarray
    log_k0: np.ndarray
    n: np.ndarray
    scale: np.ndarray

    @property
    def alpha_mass(self):
        """Posterior mass of each alpha node (both signs of c): (P, Na), rows sum to 1."""
        return self.mass.sum(2)

    def _factor(self, k):
        """``(k / k0)^-alpha``: (P, len(k), Na)."""
        return np.exp(-self.alphas[:, None, :] * (np.log(k)[None, :, None]
                                                  - self.log_k0[:, None, None]))

    def mean(self, k):
        """Posterior mean of ``psi(k)``: (P, len(k))."""
        m1 = (self.mass * self.mean_c0).sum(2)
        return np.einsum("pa,pka->pk", m1, self._factor(k)) * self.scale[:, None]

    def sd(self, k):
        """Posterior sd of ``psi(k)``: (P, len(k))."""
        f = self._factor(k)
        m1 = np.einsum("pa,pka->pk", (self.mass * self.mean_c0).sum(2), f)
        m2 = np.einsum("pa,pka->pk", (self.mass * self.second_c0).sum(2), f * f)
        return np.sqrt(np.maximum(m2 - m1 * m1, 0.0)) * self.scale[:, None]

    def cov_c_alpha(self):
        """Posterior covariance of ``(c, alpha)`` with ``c = psi(1)``: (P, 2, 2)."""
        a = self.alphas
        f = np.exp(a * self.log_k0[:, None])  # psi(1) = c0 k0^alpha
        w = self.alpha_mass
        m1 = (self.mass * self.mean_c0).sum(2)
        m2 = (self.mass * self.second_c0).sum(2)
        ea, ea2 = np.sum(w * a, 1), np.sum(w * a * a, 1)
        ec, ec2 = np.sum(m1 * f, 1), np.sum(m2 * f * f, 1)
        eca = np.sum(m1 * f * a, 1)
        cov = np.empty((len(w), 2, 2))
        s = self.scale
        cov[:, 0, 0] = np.maximum(ec2 - ec**2, 0) * s**2
        cov[:, 0, 1] = cov[:, 1, 0] = (eca - ec * ea) * s
        cov[:, 1, 1] = np.maximum(ea2 - ea**2, 0)
        return cov

    def alpha_quantiles(self, probs):
        """Quantiles of alpha: (P, len(probs)); the density is linear between nodes."""
        a, p = self.alphas, self.alpha_mass
        h = np.maximum(a[:, 1] - a[:, 0], 1e-300)
        w = quadrature_weights(a.shape[1])
        f = p / (w[None, :] * h[:, None])
        seg = 0.5 * (f[:, 1:] + f[:, :-1]) * h[:, None]
        cdf = np.concatenate([np.zeros((len(a), 1)), np.cumsum(seg, 1)], 1)
        tot = np.maximum(cdf[:, -1:], 1e-300)
        cdf, f = cdf / tot, f / tot
        rows = np.arange(len(a))
        out = np.empty((len(a), len(probs)))
        for i, q in enumerate(probs):
            j = np.clip((cdf < q).sum(1) - 1, 0, a.shape[1] - 2)
            c0, f0, f1 = cdf[rows, j], f[rows, j], f[rows, j + 1]
            # solve c0 + f0 t + (f1 - f0) t^2 / (2h) = q for t in [0, h] (stable root)
            qa, qb, qc = (f1 - f0) / (2 * h), f0, c0 - q
            disc = np.sqrt(np.maximum(qb * qb - 4 * qa * qc, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                t = 2 * (-qc) / (qb + disc)
            out[:, i] = a[rows, j] + np.clip(np.nan_to_num(t, nan=0.0, posinf=0.0), 0.0, h)
        return out

    def _components(self, k):
        """Interval components of ``psi(k)``: mass, parent location and t-scale, sign (+1/-1),
        on the alpha grid refined by linear interpolation so that ``(k/k0)^-alpha`` changes by
        at most about 10% between neighbours (up to 8x); components of mass < 1e-12 dropped."""
        a = self.alphas
        P, Na = a.shape
        jump = np.max(np.abs(np.log(k) - self.log_k0) * (a[:, 1] - a[:, 0]))
        refine = int(np.clip(np.ceil(jump / 0.1), 1, 8))
        t = np.linspace(0, Na - 1, (Na - 1) * refine + 1)
        j = np.minimum(t.astype(int), Na - 2)
        frac = t - j
        w = quadrature_weights(Na)
        wt = quadrature_weights(len(t))

        def interp(x):  # x (P, Na, 2) -> (P, R, 2)
            return x[:, j] * (1 - frac)[None, :, None] + x[:, j + 1] * frac[None, :, None]

        mass = interp(self.mass / w[None, :, None]) * wt[None, :, None]
        mass = mass.reshape(P, -1)
        mass /= np.maximum(mass.sum(1, keepdims=True), 1e-300)
        keep = np.argsort(-mass, axis=1)[:, : max(1, int(np.max(np.sum(mass >= 1e-12, 1))))]
        rows = np.arange(P)[:, None]
        alpha = np.repeat(a[:, j] * (1 - frac) + a[:, j + 1] * frac, 2, axis=1)
        fac = np.exp(-alpha * (np.log(k) - self.log_k0[:, None]))
        loc = interp(self.loc).reshape(P, -1) * fac
        tsc = interp(self.tscale).reshape(P, -1) * fac
        sign = np.tile([1.0, -1.0], len(t))[None, :].repeat(P, 0)
        return mass[rows, keep], loc[rows, keep], tsc[rows, keep], sign[rows, keep]

    def quantiles(self, k, probs):
        """Quantiles of ``psi(k)`` for one size ``k``: (P, len(probs)).

        The mixture CDF (truncated Student-t components; t-CDFs from :data:`LOG_T`, within
        2e-6 in probability) is inverted by Newton steps on ``y = asinh(x / s)`` (``s`` the
        smallest component scale: the mixture can span orders of magnitude when ``k`` is far
        from the data), safeguarded by bisection, until it is within 1e-10 of the target."""
        mass, loc, sc, sign = self._components(float(k))
        n = np.broadcast_to(self.n[:, None], loc.shape)
        sc = np.maximum(sc, 1e-300 + 1e-12 * np.abs(loc))
        side = np.maximum(special.stdtr(n, sign * loc / sc), 1e-300)  # P(parent on its side)
        s0 = sc.min(1)
        logc = _t_const(n) - np.log(n)  # log C_nu
        reach = stats.t.isf(1e-13, n[:, 0])[:, None] * sc
        lo = np.minimum(np.where(sign < 0, loc - reach, 0.0).min(1), 0.0)
        hi = np.maximum(np.where(sign > 0, loc + reach, 0.0).max(1), 0.0)
        out = np.empty((len(loc), len(probs)))
        for i, q in enumerate(probs):
            ylo, yhi = np.arcsinh(lo / s0) - 1e-9, np.arcsinh(hi / s0) + 1e-9
            y = 0.5 * (ylo + yhi)
            todo = np.arange(len(loc))
            for _ in range(200):
                if todo.size == 0:
                    break
                xv = (s0[todo] * np.sinh(y[todo]))[:, None]
                z = (xv - loc[todo]) / sc[todo]
                nn, sg, sd = n[todo], sign[todo], side[todo]
                # CDF of a positive part: 1 - T((loc - x)/s) / side for x > 0, else 0;
                # of a negative part: T((x - loc)/s) / side for x < 0, else 1
                # (clipped to [0, 1]: a part with a negligible side has a negligible mass)
                v = np.exp(LOG_T.by_point(nn[:, 0], -sg * z)) / sd
                pos = np.where(xv > 0, np.clip(1.0 - v, 0, 1), 0.0)
                neg = np.where(xv < 0, np.clip(v, 0, 1), 1.0)
                F = np.sum(mass[todo] * np.where(sg > 0, pos, neg), 1) - q
                inside = np.where(sg > 0, xv > 0, xv < 0)
                # far tails overflow or give inf/inf: a non-finite Newton step falls back to
                # bisection below
                with np.errstate(over="ignore", invalid="ignore"):
                    dens = np.exp(logc[todo] - 0.5 * (nn + 1) * np.log1p(z * z / nn))
                    pdf = np.sum(mass[todo] * inside * dens / (sc[todo] * sd), 1)
                ylo[todo] = np.where(F < 0, y[todo], ylo[todo])
                yhi[todo] = np.where(F < 0, yhi[todo], y[todo])
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    ny = y[todo] - F / (pdf * s0[todo] * np.cosh(y[todo]))
                bad = ~np.isfinite(ny) | (ny <= ylo[todo]) | (ny >= yhi[todo])
                ny = np.where(bad, 0.5 * (ylo[todo] + yhi[todo]), ny)
                done = (np.abs(F) <= 1e-10) | (yhi[todo] - ylo[todo] <= 1e-14 * (1 + np.abs(y[todo])))
                y[todo] = np.where(done, y[todo], ny)
                todo = todo[~done]
            out[:, i] = s0 * np.sinh(y)
        return out * self.scale[:, None]
