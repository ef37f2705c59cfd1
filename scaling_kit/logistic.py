"""The L2-regularized logistic objective that every exact fit in the kit solves.

``LogisticProblem`` holds scikit-learn's ``LogisticRegression(C=C)`` objective (scikit-learn
user guide, "Logistic regression", L2 penalty) on augmented features ``[x, 1]``::

    J(W, b) = sum_i loss(y_i, softmax(W x_i + b)) + ||W||_F^2 / (2 C)

with the penalty on the weights only and the sum (not the mean) of the losses. Binary problems
use one weight vector and the sigmoid, multiclass problems the full multinomial; for the latter
the null direction "add a constant to every intercept" is fixed by ``(sum_k b_k)^2 / 2``, which
selects the minimizer whose intercepts sum to zero and leaves predictions unchanged.

It provides probabilities, the objective, its gradient and Hessian, and Newton's method (one
problem or a batch), the pieces used by :class:`scaling_kit.learners.ExactLogisticRegression`,
the fast contribution engine (:mod:`scaling_kit.exact_engine`) and the theory checks.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit, log_softmax

__all__ = ["LogisticProblem", "augment"]


class LogisticProblem:
    """The regularized logistic objective on augmented features ``[x, 1]``.

    Parameters are stored as a matrix ``theta`` of shape ``(m, d)`` with ``m = 1`` (binary,
    sigmoid) or ``m = K`` (multinomial, softmax) and ``d = p + 1`` (last column = intercept).
    ``reg`` is the diagonal of the penalty Hessian: ``1/C`` on weights, ``0`` on intercepts.
    """

    def __init__(self, n_features: int, n_classes: int, C: float):
        if not (np.isfinite(C) and C > 0):
            raise ValueError(f"C must be a positive finite number; got {C!r}.")
        self.p = int(n_features)
        self.d = self.p + 1
        self.K = int(n_classes)
        self.m = 1 if self.K == 2 else self.K
        self.C = float(C)
        reg = np.full(self.d, 1.0 / self.C)
        reg[-1] = 0.0
        self.reg = np.tile(reg, self.m)  # flat, length m*d
        self.size = self.m * self.d

    # --- probabilities -------------------------------------------------------------------
    def logits(self, Xa, theta):
        """Xa (..., n, d), theta (..., m, d) -> (..., n, m)."""
        return Xa @ np.swapaxes(theta, -1, -2)

    def proba(self, Xa, theta):
        """Class probabilities (..., n, K) for augmented features."""
        z = self.logits(Xa, theta)
        if self.m == 1:
            p1 = expit(z[..., 0])
            return np.stack([1.0 - p1, p1], axis=-1)
        return np.exp(log_softmax(z, axis=-1))

    def residual(self, Xa, y, theta):
        """Derivative of the summed loss w.r.t. the logits: (..., n, m)."""
        z = self.logits(Xa, theta)
        if self.m == 1:
            return expit(z) - (y[..., None] == 1)
        P = np.exp(log_softmax(z, axis=-1))
        return P - (y[..., None] == np.arange(self.K))

    def loss_sum(self, Xa, y, theta):
        z = self.logits(Xa, theta)
        if self.m == 1:
            z = z[..., 0]
            return np.sum(np.logaddexp(0.0, z) - (y == 1) * z, axis=-1)
        lp = log_softmax(z, axis=-1)
        return -np.sum(np.take_along_axis(lp, y[..., None], axis=-1)[..., 0], axis=-1)

    def objective(self, Xa, y, theta):
        flat = theta.reshape(theta.shape[:-2] + (self.size,))
        value = self.loss_sum(Xa, y, theta) + 0.5 * np.sum(self.reg * flat**2, axis=-1)
        if self.m > 1:
            value = value + 0.5 * theta[..., :, -1].sum(axis=-1) ** 2
        return value

    def gradient(self, Xa, y, theta):
        """Flat gradient (..., m*d) of the objective."""
        R = self.residual(Xa, y, theta)
        G = np.swapaxes(R, -1, -2) @ Xa  # (..., m, d)
        flat = G.reshape(G.shape[:-2] + (self.size,)) + self.reg * theta.reshape(
            theta.shape[:-2] + (self.size,)
        )
        if self.m > 1:
            flat = flat + self._intercept_vector() * theta[..., :, -1].sum(axis=-1)[..., None]
        return flat

    def objective_and_gradient(self, Xa, y, theta):
        """Objective and flat gradient from one pass over the data (for quasi-Newton solvers)."""
        flat_theta = theta.reshape(theta.shape[:-2] + (self.size,))
        if self.m == 1:
            z = self.logits(Xa, theta)
            z1 = z[..., 0]
            loss = np.sum(np.logaddexp(0.0, z1) - (y == 1) * z1, axis=-1)
            G = np.swapaxes(expit(z) - (y[..., None] == 1), -1, -2) @ Xa
        else:
            # class-major logits (..., K, n): the reductions over classes then run over long
            # contiguous rows (twice as fast as over a short last axis)
            Zt = theta @ np.swapaxes(Xa, -1, -2)
            onehot = y[..., None, :] == np.arange(self.K)[:, None]
            picked = np.sum(Zt, where=onehot, axis=(-2, -1))
            top = Zt.max(axis=-2, keepdims=True)
            Zt -= top
            np.exp(Zt, out=Zt)
            total = Zt.sum(axis=-2, keepdims=True)
            loss = np.sum(np.log(total) + top, axis=(-2, -1)) - picked
            Zt /= total
            Zt -= onehot
            G = Zt @ Xa
        G = G.reshape(flat_theta.shape) + self.reg * flat_theta
        value = loss + 0.5 * np.sum(self.reg * flat_theta**2, axis=-1)
        if self.m > 1:
            b_sum = theta[..., :, -1].sum(axis=-1)
            value = value + 0.5 * b_sum**2
            G = G + self._intercept_vector() * b_sum[..., None]
        return value, G

    def _intercept_vector(self):
        u = np.zeros((self.m, self.d))
        u[:, -1] = 1.0
        return u.ravel()

    def curvature(self, Xa, theta):
        """Per-sample Hessian of the loss w.r.t. the logits: (n,) binary, (n, K, K) multinomial."""
        z = self.logits(Xa, theta)
        if self.m == 1:
            s = expit(z[..., 0])
            return s * (1.0 - s)
        P = np.exp(log_softmax(z, axis=-1))
        return P[..., :, None] * (np.eye(self.K) - P[..., None, :])

    def hessian(self, Xa, theta):
        """Hessian (..., m*d, m*d) of the objective; Xa (..., n, d), theta (..., m, d)."""
        n, d, m = Xa.shape[-2], self.d, self.m
        if m == 1:
            S = self.curvature(Xa, theta)
            H = np.swapaxes(Xa * S[..., None], -1, -2) @ Xa
        else:
            # sum_i (diag(p_i) - p_i p_i^T) (x) x_i x_i^T = blockdiag_a(X^T diag(p_a) X) - B^T B,
            # with B = [p_ia x_i]_(i, (a, j)): one large symmetric product instead of K^2 small ones
            P = self.proba(Xa, theta)
            B = (P[..., :, :, None] * Xa[..., :, None, :]).reshape(P.shape[:-2] + (n, m * d))
            H = -(np.swapaxes(B, -1, -2) @ B)
            Bb = B.reshape(B.shape[:-1] + (m, d))
            for a in range(m):
                H[..., a * d:(a + 1) * d, a * d:(a + 1) * d] += np.swapaxes(Bb[..., a, :], -1, -2) @ Xa
        idx = np.arange(m * d)
        H[..., idx, idx] += self.reg
        if m > 1:  # the (sum of intercepts)^2 / 2 term
            b = np.arange(m) * d + d - 1
            H[..., b[:, None], b[None, :]] += 1.0
        return H

    def gradient_noise(self, Xa, Xz=None):
        """Rounding level of the gradient for data Xa (..., n, d): a gradient entry sums n terms
        r_i x_ij with |r_i| <= 1, so its floating-point error is at most about
        ``eps * sum_i max_j |x_ij|``; a factor 8 covers the regularization terms.

        With ``Xz`` (..., M, d), the level for each of the M datasets Xa + {z}: shape (..., M).
        """
        level = np.abs(Xa).max(axis=-1).sum(axis=-1) + 1.0
        if Xz is not None:
            level = level[..., None] + np.abs(Xz).max(axis=-1)
        return 8.0 * np.finfo(float).eps * level

    def newton(self, Xa, y, theta0=None, *, tol=1e-12, max_iter=100):
        """Minimize the objective for one dataset by damped Newton. Returns (theta, info)."""
        theta0 = None if theta0 is None else np.asarray(theta0, dtype=float)[None]
        theta, n_iter, converged = self.newton_batch(Xa[None], y[None], theta0, tol=tol,
                                                     max_iter=max_iter)
        return theta[0], {"n_iter": int(n_iter[0]), "converged": bool(converged[0])}

    def newton_batch(self, Xa, y, theta0=None, *, tol=1e-12, max_iter=100):
        """Damped Newton on R datasets at once: Xa (R, n, d), y (R, n), theta0 (R, m, d).

        Backtracking (Armijo) line search while the Newton decrement is large; near the
        optimum the full step is taken (there the objective's rounding error, ~1e-16 |f|,
        exceeds the decrease and a line search would stall). A dataset stops when its full
        Newton step is below ``tol`` relative to its parameters, or when its gradient is at
        rounding level (:meth:`gradient_noise`; in ill-conditioned problems, e.g. weak
        regularization on unscaled features, rounding noise amplified by H^{-1} keeps the steps
        above ``tol`` although no further progress is possible). Returns
        ``(theta (R, m, d), n_iter (R,), converged (R,))``.
        """
        R = Xa.shape[0]
        theta = np.zeros((R, self.m, self.d)) if theta0 is None else np.array(theta0, dtype=float)
        theta = np.broadcast_to(theta, (R, self.m, self.d)).copy()
        n_iter = np.zeros(R, dtype=np.int64)
        converged = np.zeros(R, dtype=bool)
        active = np.arange(R)
        f = self.objective(Xa, y, theta)
        noise = self.gradient_noise(Xa)
        factor, last_decrement, last_size, last_ratio = None, np.inf, np.inf, np.inf
        for it in range(1, max_iter + 1):
            Xa_a, y_a, th = Xa[active], y[active], theta[active]
            g = self.gradient(Xa_a, y_a, th)
            if factor is None or last_decrement > 1e-3 or last_ratio > 0.1:
                # Newton step; once the decrement is small and steps shrink fast, the
                # factorization is kept (chord steps: same fixed point, fast linear convergence)
                factor = _factorize(self.hessian(Xa_a, th))
            step = _solve(factor, g)
            decrement = np.sum(g * step, axis=-1)
            last_decrement = float(decrement.max())
            size = float(np.max(np.abs(step)))
            last_ratio, last_size = size / last_size if last_size > 0 else 0.0, size
            step = step.reshape(th.shape)
            t = np.ones(active.size)
            search = decrement > 1e-8
            f_a = f[active]
            while search.any():
                f_new = self.objective(Xa_a[search], y_a[search], th[search] - t[search, None, None] * step[search])
                ok = (f_new <= f_a[search] - 1e-4 * t[search] * decrement[search]) | (t[search] < 1e-10)
                idx = np.flatnonzero(search)
                t[idx[~ok]] *= 0.5
                search[idx[ok]] = False
            th = th - t[:, None, None] * step
            theta[active] = th
            f[active] = self.objective(Xa_a, y_a, th)
            n_iter[active] = it
            done = ((t == 1.0) & (
                np.max(np.abs(step), axis=(1, 2)) <= tol * (1.0 + np.max(np.abs(th), axis=(1, 2)))
            )) | (np.max(np.abs(g), axis=-1) <= noise[active])
            converged[active[done]] = True
            active = active[~done]
            factor = _subset(factor, ~done)
            if active.size == 0:
                break
        return theta, n_iter, converged


def _factorize(H):
    """Cholesky factors of a stack of SPD matrices (R, n, n)."""
    if H.shape[-1] <= 64:  # small: batched LAPACK through numpy beats a Python loop
        return ("dense", H)
    return ("chol", [cho_factor(h) for h in H])


def _solve(factor, g):
    kind, data = factor
    if kind == "dense":
        return np.linalg.solve(data, g[..., None])[..., 0]
    return np.stack([cho_solve(f, gi) for f, gi in zip(data, g)])


def _subset(factor, keep):
    kind, data = factor
    if kind == "dense":
        return (kind, data[keep])
    return (kind, [f for f, k in zip(data, keep) if k])


def augment(X):
    """Append a column of ones (intercept)."""
    X = np.asarray(X, dtype=float)
    return np.concatenate([X, np.ones(X.shape[:-1] + (1,))], axis=-1)

