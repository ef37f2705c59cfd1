"""Maximum likelihood of ``Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)``, point by point.

The model of one sampled marginal contribution of point ``z`` at dataset size ``k`` (Covert et
al., ICML 2024, Section 3.1, Eq. 6; docs/math.md §5). Given ``(alpha, beta)`` the maximizing
``c`` and ``sigma`` are closed-form (paper, Appendix B)::

    c(alpha, beta)       = mean(Delta k^(beta - alpha)) / mean(k^(beta - 2 alpha))
    sigma^2(alpha, beta) = mean((Delta - c k^-alpha)^2 k^beta)

and the negative log-likelihood per sample, profiled over ``c`` and ``sigma``, is::

    f(alpha, beta) = 1/2 log(2 pi) + 1/2 + 1/2 log sigma^2(alpha, beta) - beta/2 mean(log k).

Only the two exponents are optimized, on ``(log alpha, log beta)``, for every point at once
(arrays ``(n_points, n_samples)`` from :mod:`._samples`; no Python loop over points):

* Newton (exact): Newton's method on the 2-D profile with its closed-form gradient and Hessian,
  Levenberg damping where the Hessian is not positive definite, backtracking line search and
  an active set for the bounds ``LOG_LOWER <= log alpha, log beta <= LOG_UPPER``;
* Adam (the paper's procedure, Appendix B and the reference code): ``lr = 0.05`` on
  ``(log alpha, log beta)`` from ``(log 1, log 2)``, at most 1000 steps, projection ``<= 2``
  after every step, early stop after 100 steps without improvement, best iterate kept.

Uncertainty: Wald standard errors from the expected Fisher information at the optimum. Mean
and variance parameters are orthogonal in a Gaussian model, so the ``(c, alpha)`` block is
``sum_j grad(mu_j) grad(mu_j)^T / v_j`` with ``mu_j = c k_j^-alpha``, ``v_j = sigma^2 k_j^-beta``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._torch import threads_for, torch_threads
from ._samples import Padded

#: Bounds on log alpha and log beta (upper = the paper's projection, log <= 2).
LOG_LOWER = -7.0
LOG_UPPER = 2.0
HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


def _slice(S: Padded, idx):
    if idx is None:
        return S.delta, S.u, S.mask, S.n
    mask = None if S.mask is None else S.mask[idx]
    return S.delta[idx], S.u[idx], mask, S.n[idx]


def rowsum(*arrays):
    """Row sums of the elementwise product, fused by einsum (no temporaries)."""
    return np.einsum(",".join(["pn"] * len(arrays)) + "->p", *arrays)


def profile_parts(S: Padded, a, b, idx=None):
    """``c0(alpha, beta)`` and ``S(alpha, beta) = min_c mean((Delta - c F)^2 E)`` with
    ``E = exp(beta u)``, ``F = exp(-alpha u)`` (so ``sigma0^2 = S``), in residual form."""
    d, u, m, n = _slice(S, idx)
    E = np.multiply(u, b[:, None])
    np.exp(E, out=E)
    if m is not None:
        E *= m
    F = np.multiply(u, -a[:, None])
    np.exp(F, out=F)
    C0 = rowsum(F, F, E) / n
    c0 = rowsum(d, F, E) / n / C0
    r = np.multiply(F, c0[:, None])
    np.subtract(d, r, out=r)
    S2 = rowsum(r, r, E) / n
    A0 = rowsum(d, d, E) / n
    return c0, np.maximum(S2, 1e-300 + 1e-30 * A0), (E, F, r, u, n, C0)


def f_theta(S, theta, idx=None):
    """The profile ``1/2 log sigma0^2`` at ``theta = (log alpha, log beta)`` (one row a point)."""
    a, b = np.exp(theta[:, 0]), np.exp(theta[:, 1])
    return 0.5 * np.log(profile_parts(S, a, b, idx)[1])


def grad_hess_theta(S, theta, idx=None):
    """Value, gradient and Hessian of ``f = 1/2 log S`` in ``theta = (log alpha, log beta)``.

    ``S(c, alpha, beta) = mean((Delta - c F)^2 E)``; by the envelope theorem the profile's
    derivatives are the partial ones at the optimal ``c``, and its Hessian is the Schur
    complement ``S_xy - S_xc S_yc / S_cc`` (x, y in alpha, beta). Residual form avoids the
    cancellation of ``A - B^2 / C``.
    """
    x = np.exp(theta)
    a, b = x[:, 0], x[:, 1]
    c, Sv, (E, F, r, u, n, C0) = profile_parts(S, a, b, idx)
    uu = u * u
    rE = r * E
    m_r2u, m_r2uu = rowsum(rE, r, u) / n, rowsum(rE, r, uu) / n
    del rE
    FE = F * E
    m_rFu, m_rFuu = rowsum(r, FE, u) / n, rowsum(r, FE, uu) / n
    m_F2u, m_F2uu = rowsum(F, FE, u) / n, rowsum(F, FE, uu) / n
    S_a = 2 * c * m_rFu
    S_b = m_r2u
    S_cc = 2 * C0
    S_ca = -2 * c * m_F2u + 2 * m_rFu
    S_cb = -2 * m_rFu
    S_aa = 2 * c * c * m_F2uu - 2 * c * m_rFuu
    S_ab = 2 * c * m_rFuu
    S_bb = m_r2uu
    gS = np.stack([S_a, S_b], 1)
    HS = np.empty((len(c), 2, 2))
    HS[:, 0, 0] = S_aa - S_ca * S_ca / S_cc
    HS[:, 0, 1] = HS[:, 1, 0] = S_ab - S_ca * S_cb / S_cc
    HS[:, 1, 1] = S_bb - S_cb * S_cb / S_cc
    g = 0.5 * gS / Sv[:, None]
    H = 0.5 * (HS / Sv[:, None, None] - gS[:, :, None] * gS[:, None, :] / Sv[:, None, None] ** 2)
    gt = g * x
    Ht = H * x[:, :, None] * x[:, None, :]
    Ht[:, 0, 0] += gt[:, 0]
    Ht[:, 1, 1] += gt[:, 1]
    return 0.5 * np.log(Sv), gt, Ht


#: Starting grid of the Newton fit (alpha, beta); the best cell per point wins.
_GRID_ALPHA = np.array([0.1, 0.4, 0.8, 1.2, 1.8, 3.0])
_GRID_BETA = np.array([1.0, 2.5, 4.5])


def grid_init(S: Padded):
    """Best cell of a coarse (alpha, beta) grid for every point (guards against the local
    optima of the non-convex profile). Uses ``S = A - B^2/C`` (precise enough to rank cells)."""
    d, u, m, n = S.delta, S.u, S.mask, S.n
    best = np.full(len(n), np.inf)
    theta = np.zeros((len(n), 2))
    Es, As = [], []
    for b in _GRID_BETA:
        E = np.exp(b * u)
        if m is not None:
            E *= m
        Es.append(E)
        As.append(rowsum(d, d, E) / n)
    for a in _GRID_ALPHA:
        F = np.exp(-a * u)
        F2 = F * F
        dF = d * F
        for b, E, A in zip(_GRID_BETA, Es, As):
            B = rowsum(dF, E) / n
            C = rowsum(F2, E) / n
            f = np.log(np.maximum(A - B * B / C, 1e-300))
            better = f < best
            best[better] = f[better]
            theta[better] = (np.log(a), np.log(b))
    return theta


def newton(S, theta0, fixed=None, max_iter=100, gtol=1e-7):
    """Projected, damped Newton on the 2-D profile for all points; ``fixed`` = (P, 2) bool of
    coordinates held at their initial value. Returns theta, n_iter, converged."""
    P = len(S.n)
    theta = np.clip(theta0.astype(float).copy(), LOG_LOWER, LOG_UPPER)
    fixed = np.zeros((P, 2), bool) if fixed is None else fixed
    n_iter = np.zeros(P, int)
    converged = np.zeros(P, bool)
    active = np.arange(P)
    for _ in range(max_iter):
        if active.size == 0:
            break
        th = theta[active]
        f, g, H = grad_hess_theta(S, th, idx=active)
        # active set: fixed coordinates, and bounds whose gradient pushes outward
        at_up = (th >= LOG_UPPER - 1e-12) & (g < 0)
        at_lo = (th <= LOG_LOWER + 1e-12) & (g > 0)
        hold = fixed[active] | at_up | at_lo
        gf = np.where(hold, 0.0, g)
        done = np.max(np.abs(gf), axis=1) < gtol
        # Newton direction on the free coordinates, Levenberg-damped if not positive definite
        Hf = H.copy()
        for i in range(2):
            Hf[:, i, :] = np.where(hold[:, i : i + 1], 0.0, Hf[:, i, :])
            Hf[:, :, i] = np.where(hold[:, i : i + 1], 0.0, Hf[:, :, i])
            Hf[:, i, i] = np.where(hold[:, i], 1.0, Hf[:, i, i])
        tr = Hf[:, 0, 0] + Hf[:, 1, 1]
        det = Hf[:, 0, 0] * Hf[:, 1, 1] - Hf[:, 0, 1] ** 2
        min_eig = 0.5 * (tr - np.sqrt(np.maximum(tr**2 - 4 * det, 0.0)))
        lam = np.where(min_eig > 1e-8, 0.0, 1e-3 - min_eig)
        Hf[:, 0, 0] += lam
        Hf[:, 1, 1] += lam
        step = -np.linalg.solve(Hf, gf[:, :, None])[:, :, 0]
        step = np.where(hold, 0.0, step)
        norm = np.max(np.abs(step), axis=1, keepdims=True)
        step = step * np.minimum(1.0, 1.0 / np.maximum(norm, 1e-300))  # at most 1 in log units
        slope = np.sum(gf * step, axis=1)
        # backtracking (Armijo) line search, vectorized over points
        t = np.ones(len(active))
        accept = np.zeros(len(active), bool) | done
        new = th.copy()
        for _ in range(40):
            todo = ~accept
            if not todo.any():
                break
            cand = np.clip(th[todo] + t[todo, None] * step[todo], LOG_LOWER, LOG_UPPER)
            fc = f_theta(S, cand, idx=active[todo])
            ok = fc <= f[todo] + 1e-4 * t[todo] * slope[todo] + 1e-14 * np.abs(f[todo])
            sel = np.flatnonzero(todo)
            new[sel[ok]] = cand[ok]
            accept[sel[ok]] = True
            t[todo] = np.where(ok, t[todo], 0.5 * t[todo])
        stalled = ~accept  # no decrease possible: at numerical optimum
        theta[active] = new
        n_iter[active] += 1
        finished = done | stalled
        converged[active[done]] = True
        if stalled.any():  # accept stalled points if their gradient is small relative to f
            small = np.max(np.abs(gf[stalled]), axis=1) < 1e-5
            converged[active[stalled][small]] = True
        active = active[~finished]
    return theta, n_iter, converged


def adam(S, theta0, lr=0.05, max_steps=1000, patience=100, tol=0.0):
    """The paper's procedure (Appendix B) vectorized over points with torch: Adam on
    (log alpha, log beta), projection to <= 2, per-point early stopping (an improvement must
    exceed ``tol``; the paper: any decrease), best iterate kept."""
    import torch

    with torch_threads(threads_for(S.delta.size)):
        d = torch.as_tensor(S.delta)
        u = torch.as_tensor(S.u)
        m = torch.as_tensor(S.mask) if S.mask is not None else torch.ones(1, dtype=torch.float64)
        n = torch.as_tensor(S.n)
        theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([theta], lr=lr)
        best = np.full(len(S.n), np.inf)
        best_theta = theta0.copy()
        bad = np.zeros(len(S.n), int)
        stopped = np.zeros(len(S.n), bool)
        n_iter = np.zeros(len(S.n), int)
        for _ in range(max_steps):
            opt.zero_grad()
            a = torch.exp(theta[:, 0:1])
            b = torch.exp(theta[:, 1:2])
            E = torch.exp(b * u) * m
            F = torch.exp(-a * u)
            c = (d * E * F).sum(1, keepdim=True) / (E * F * F).sum(1, keepdim=True)
            r = d - c * F
            f = 0.5 * torch.log(torch.clamp((r * r * E).sum(1) / n, min=1e-300))
            fv = f.detach().numpy()
            live = ~stopped
            improved = live & (fv < best - tol)
            best[improved] = fv[improved]
            best_theta[improved] = theta.detach().numpy()[improved]
            bad[improved] = 0
            bad[live & ~improved] += 1
            stopped |= bad >= patience
            n_iter[live] += 1
            if stopped.all():
                break
            f.sum().backward()
            opt.step()
            with torch.no_grad():
                theta.clamp_(max=LOG_UPPER)
    return best_theta, n_iter, stopped


def mle_table(S: Padded, theta, n_iter, converged):
    """Per-point table of the fit at ``theta`` (original units) and the (c, alpha) covariance.

    Returns ``(params, cov)``: ``params`` has ``c, alpha, sigma, beta`` with Wald standard
    errors, ``n_samples, nll, n_iter, converged, status``; ``cov`` is (P, 2, 2).
    """
    a, b = np.exp(theta[:, 0]), np.exp(theta[:, 1])
    c0, s2, (E, F, _, u, n, C0) = profile_parts(S, a, b)
    C1, C2 = rowsum(F, F, E, u) / n, rowsum(F, F, E, u, u) / n
    degenerate = np.all(S.delta == 0, axis=1)  # every contribution exactly zero
    s2 = np.where(degenerate, 0.0, s2)
    n = S.n
    # Fisher information of (c0, alpha) in centred coordinates
    with np.errstate(divide="ignore", invalid="ignore"):
        I00 = n * C0 / s2
        I01 = -c0 * n * C1 / s2
        I11 = c0**2 * n * C2 / s2
        det = I00 * I11 - I01**2
        cov0 = np.empty((len(n), 2, 2))
        cov0[:, 0, 0] = I11 / det
        cov0[:, 1, 1] = I00 / det
        cov0[:, 0, 1] = cov0[:, 1, 0] = -I01 / det
        bad = ~np.isfinite(cov0).all(axis=(1, 2)) | (det <= 0)
        cov0[bad] = np.inf
    k0a = np.exp(a * S.log_k0)
    c = c0 * k0a * S.scale
    J = np.zeros((len(n), 2, 2))
    J[:, 0, 0] = k0a * S.scale
    J[:, 0, 1] = c * S.log_k0
    J[:, 1, 1] = 1.0
    with np.errstate(invalid="ignore"):
        cov = np.einsum("pij,pjk,plk->pil", J, cov0, J)
    cov[bad] = np.inf
    sigma0 = np.sqrt(s2) * S.scale
    sigma = sigma0 * np.exp(0.5 * b * S.log_k0)
    var_b = 2.0 / (S.u**2).sum(1)
    var_s0 = sigma0**2 / (2 * n)
    sigma_se = np.sqrt(np.exp(b * S.log_k0) * var_s0 + (0.5 * sigma * S.log_k0) ** 2 * var_b)
    with np.errstate(divide="ignore"):
        # sigma^2 k^-beta = sigma0^2 (k/k0)^-beta, so the mean log-variance is log sigma0^2
        nll = HALF_LOG_2PI + 0.5 + 0.5 * np.log(s2) + np.log(S.scale)
    at_bound = (theta >= LOG_UPPER - 1e-9).any(1) | (theta <= LOG_LOWER + 1e-9).any(1)
    status = np.where(
        degenerate,
        "degenerate",
        np.where(~converged, "not converged", np.where(at_bound, "at bound", "ok")),
    )
    params = pd.DataFrame(
        {
            "c": np.where(degenerate, 0.0, c),
            "alpha": a,
            "sigma": sigma,
            "beta": b,
            "c_se": np.sqrt(cov[:, 0, 0]),
            "alpha_se": np.sqrt(cov[:, 1, 1]),
            "sigma_se": sigma_se,
            "beta_se": np.sqrt(var_b),
            "n_samples": n.astype(int),
            "nll": nll,
            "n_iter": n_iter,
            "converged": converged & ~degenerate,
            "status": status,
        },
        index=pd.Index(S.points, name="point"),
    )
    return params, cov
