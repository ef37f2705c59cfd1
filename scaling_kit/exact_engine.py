"""Exact, batched marginal contributions for L2 logistic regression (the fast path).

For one drawn dataset D and many candidate points z not in D, we need the minimizer of the
regularized objective J_{D+z}(theta) = J_D(theta) + loss(z; theta) (scikit-learn's
``LogisticRegression(C)`` objective, see :mod:`scaling_kit.learners`).

1. D is fit once by Newton's method to machine precision, and its Hessian ``H_D`` is inverted.
2. Every candidate starts at ``theta_D`` and iterates the *chord* map
   ``theta <- theta - (H_D + J_z^T S_z(theta) J_z)^{-1} grad J_{D+z}(theta)``:
   D's Hessian is kept fixed while the candidate's own curvature ``S_z`` (rank 1 binary, rank K
   multinomial) is refreshed each step and folded in exactly by the Woodbury identity
   ``(H + U S U^T)^{-1} = H^{-1} - H^{-1} U (I + S U^T H^{-1} U)^{-1} S U^T H^{-1}``.
   All candidates of a round move together, so the gradient over D is one large matrix product.
3. Anderson acceleration (type II, memory 3; Walker & Ni 2011) is applied to the chord map; it
   keeps high-leverage outliers converging where plain chord steps stall (ENGINE-NOTES.md).
4. A candidate stops when its step is below ``tol`` relative to the parameters; any candidate
   still unconverged after ``max_iter`` steps is finished by a full Newton solve, so every
   returned solution is the exact minimizer (to ~1e-12), not an approximation.

The fixed point of the chord map is the stationary point of J_{D+z}, which is unique (strictly
convex objective), so the answer does not depend on the iteration used to reach it.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit, log_softmax

from .learners import LogisticProblem

__all__ = ["fit_dataset", "solve_candidates", "test_log_proba"]


def fit_dataset(problem: LogisticProblem, XaD, yD, theta0=None, tol=1e-13):
    """Fit D by Newton; return ``(theta_D, H_D^{-1})``."""
    theta, info = problem.newton(XaD, yD, theta0, tol=tol, max_iter=200)
    if not info["converged"]:
        raise RuntimeError("Newton's method did not converge on a dataset D (ill-conditioned data?).")
    H = problem.hessian(XaD, theta)
    Hinv = cho_solve(cho_factor(H), np.eye(H.shape[0]))
    return theta, 0.5 * (Hinv + Hinv.T)


def _residual_and_curvature(problem, Z, y):
    """Loss derivative and curvature w.r.t. logits Z (..., m) for labels y (...)."""
    if problem.m == 1:
        s = expit(Z[..., 0])
        return (s - (y == 1))[..., None], (s * (1.0 - s))[..., None, None]
    P = np.exp(log_softmax(Z, axis=-1))
    R = P - (y[..., None] == np.arange(problem.K))
    S = P[..., :, None] * (np.eye(problem.K) - P[..., None, :])
    return R, S


def _gradients(problem, XaD, yD, theta, Xz, yz):
    """Gradients of J_{D+z} at theta (M, m, d) for M candidates; also S_z (M, m, m)."""
    M, m, d = theta.shape
    k = XaD.shape[0]
    Z = (XaD @ theta.reshape(M * m, d).T).reshape(k, M, m)
    if m == 1:
        R = expit(Z) - (yD == 1)[:, None, None]
    else:
        R = np.exp(log_softmax(Z, axis=-1)) - (yD[:, None, None] == np.arange(problem.K))
    G = (R.reshape(k, M * m).T @ XaD).reshape(M, m, d)
    Zz = np.einsum("Mmd,Md->Mm", theta, Xz)
    Rz, Sz = _residual_and_curvature(problem, Zz, yz)
    G += Rz[:, :, None] * Xz[:, None, :]
    G += problem.reg.reshape(m, d) * theta
    if m > 1:
        G[:, :, -1] += theta[:, :, -1].sum(axis=1)[:, None]
    return G.reshape(M, m * d), Sz


def solve_candidates(problem: LogisticProblem, XaD, yD, theta_D, Hinv, Xz, yz, *, tol=1e-12,
                     max_iter=60, memory=3):
    """Exact minimizers of J_{D+z} for M candidates (rows of ``Xz``, augmented; labels ``yz``).

    Returns ``(theta (M, m, d), n_iter (M,), n_newton_fallback)``.
    """
    M = Xz.shape[0]
    m, d = problem.m, problem.d
    md = m * d
    theta = np.broadcast_to(theta_D, (M, m, d)).copy()
    n_iter = np.zeros(M, dtype=np.int64)
    if M == 0:
        return theta, n_iter, 0
    # V_c = H^{-1} J_c^T (md x m), fixed for the round: J_c = I_m (x) x_c^T.
    V = (Hinv.reshape(md * m, d) @ Xz.T).reshape(md, m, M).transpose(2, 0, 1)
    JV = np.einsum("Madb,Md->Mab", V.reshape(M, m, d, m), Xz)
    eye_m = np.eye(m)

    active = np.arange(M)
    x_hist, f_hist = [], []  # Anderson histories for the active set: lists of (A, md)
    x = theta.reshape(M, md).copy()
    for it in range(1, max_iter + 1):
        th = x.reshape(-1, m, d)
        G, Sz = _gradients(problem, XaD, yD, th, Xz[active], yz[active])
        u = G @ Hinv
        Ju = np.einsum("Amd,Ad->Am", u.reshape(-1, m, d), Xz[active])
        A_mat = eye_m + Sz @ JV[active]
        w = np.linalg.solve(A_mat, (Sz @ Ju[..., None]))[..., 0]
        step = u - np.einsum("Apm,Am->Ap", V[active], w)
        f = -step  # fixed-point residual T(x) - x
        x_new = x + f
        if f_hist:
            dF = np.stack([f - fh for fh in f_hist[-memory:]], axis=2)  # (A, md, j)
            dX = np.stack([x - xh for xh in x_hist[-memory:]], axis=2)
            gram = np.einsum("Apj,Apl->Ajl", dF, dF)
            scale = np.trace(gram, axis1=1, axis2=2)[:, None, None] * 1e-12 + 1e-300
            gamma = np.linalg.solve(gram + scale * np.eye(gram.shape[1]),
                                    np.einsum("Apj,Ap->Aj", dF, f)[..., None])[..., 0]
            x_aa = x_new - np.einsum("Apj,Aj->Ap", dX + dF, gamma)
            ok = np.all(np.isfinite(x_aa), axis=1)
            x_new = np.where(ok[:, None], x_aa, x_new)
        x_hist.append(x)
        f_hist.append(f)
        x_hist, f_hist = x_hist[-memory:], f_hist[-memory:]
        size = np.max(np.abs(step), axis=1)
        done = size <= tol * (1.0 + np.max(np.abs(x), axis=1))
        n_iter[active] = it
        # a converged candidate keeps its last chord-corrected point (x + f)
        theta.reshape(M, md)[active[done]] = (x + f)[done]
        keep = ~done
        active = active[keep]
        x = x_new[keep]
        x_hist = [h[keep] for h in x_hist]
        f_hist = [h[keep] for h in f_hist]
        if active.size == 0:
            return theta, n_iter, 0
    # fallback: full Newton for the stubborn few (exactness over speed)
    for c in active:
        XaDz = np.vstack([XaD, Xz[c]])
        yDz = np.append(yD, yz[c])
        theta[c], info = problem.newton(XaDz, yDz, theta_D, tol=tol, max_iter=200)
        if not info["converged"]:
            raise RuntimeError("Newton fallback did not converge for a candidate point.")
    return theta, n_iter, int(active.size)


def test_log_proba(problem: LogisticProblem, Xa_test, theta):
    """Class log-probabilities (..., n_test, K) for parameters theta (..., m, d)."""
    Z = Xa_test @ np.swapaxes(theta, -1, -2)
    if problem.m == 1:
        z = Z[..., 0]
        return np.stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)], axis=-1)
    return log_softmax(Z, axis=-1)
