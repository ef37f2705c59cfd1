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
the fast contribution engine (:mod:`scaling_kit.engine`) and the theory checks.

Accuracy (docs/math.md §7): the loss derivative ``p - y`` is computed without cancellation
(``-sigmoid(-z)`` for a positive label, minus the sum of the other classes' probabilities for
the true class), and the loss as ``softplus((1 - 2y) z)``, so that saturated, nearly separable
problems keep full relative precision in their gradients.

Standardized coordinates (exact): with ``x~ = (x - mu) / s`` per feature, ``w~ = s w`` and
``b~ = b + w . mu`` give the same logits; the penalty ``w_j^2 / (2C)`` becomes
``w~_j^2 / (2 C s_j^2)`` (``feature_scale``). At the optimum the class weights sum to zero
(the gradient of the losses summed over classes vanishes and every weight is penalized), so
``sum_k b~_k = sum_k b_k`` and the intercept term selects the same minimizer: the minimizer in
standardized coordinates maps to exactly the minimizer of the original problem.
:meth:`LogisticProblem.newton_batch` solves in those coordinates (features of any scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit, log_softmax

__all__ = ["LogisticProblem", "NewtonResult", "augment", "standardization"]

_EPS = np.finfo(float).eps


class LogisticProblem:
    """The regularized logistic objective on augmented features ``[x, 1]``.

    Parameters are stored as a matrix ``theta`` of shape ``(m, d)`` with ``m = 1`` (binary,
    sigmoid) or ``m = K`` (multinomial, softmax) and ``d = p + 1`` (last column = intercept).
    ``reg`` is the diagonal of the penalty Hessian: ``1 / (C s_j^2)`` on weights (``s_j`` the
    ``feature_scale``, 1 unless the features are standardized), ``0`` on intercepts.
    """

    def __init__(self, n_features: int, n_classes: int, C: float, *, feature_scale=None):
        if not (np.isfinite(C) and C > 0):
            raise ValueError(f"C must be a positive finite number; got {C!r}.")
        self.p = int(n_features)
        self.d = self.p + 1
        self.K = int(n_classes)
        self.m = 1 if self.K == 2 else self.K
        self.C = float(C)
        scale = np.ones(self.p) if feature_scale is None else np.asarray(feature_scale, float)
        if scale.shape != (self.p,) or not np.all(np.isfinite(scale) & (scale > 0)):
            raise ValueError(f"feature_scale must hold {self.p} positive finite numbers.")
        self.feature_scale = scale
        penalty = np.append(1.0 / (self.C * scale**2), 0.0)
        self.reg = np.tile(penalty, self.m)  # flat, length m*d
        self.size = self.m * self.d

    def rescaled(self, scale) -> LogisticProblem:
        """The same objective for features divided by ``scale`` (weights multiplied by it)."""
        return LogisticProblem(self.p, self.K, self.C, feature_scale=self.feature_scale * scale)

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
        """Derivative of the summed loss w.r.t. the logits, ``p - onehot(y)``: (..., n, m).

        Without cancellation: ``-sigmoid(-z)`` for a positive binary label, and for the true
        class of a multinomial point minus the sum of the other classes' probabilities.
        """
        return self._residual_from_logits(self.logits(Xa, theta), y)

    def _residual_from_logits(self, z, y):
        y = np.asarray(y)
        if self.m == 1:
            sign = (1.0 - 2.0 * (y == 1))[..., None]
            return sign * expit(sign * z)
        P = np.exp(log_softmax(z, axis=-1))
        onehot = y[..., None] == np.arange(self.K)
        others = np.sum(np.where(onehot, 0.0, P), axis=-1, keepdims=True)
        return np.where(onehot, -others, P)

    def loss_sum(self, Xa, y, theta):
        z = self.logits(Xa, theta)
        y = np.asarray(y)
        if self.m == 1:  # softplus(u), u = (1 - 2y) z: log1p(exp(-|u|)) + max(u, 0), accurate
            u = (1.0 - 2.0 * (y == 1)) * z[..., 0]
            return np.sum(np.log1p(np.exp(-np.abs(u))) + np.maximum(u, 0.0), axis=-1)
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
        return self._gradient_from_residual(R, Xa, theta)

    def _gradient_from_residual(self, R, Xa, theta):
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
        y = np.asarray(y)
        if self.m == 1:
            z1 = self.logits(Xa, theta)[..., 0]
            sign = 1.0 - 2.0 * (y == 1)
            u = sign * z1
            loss = np.sum(np.logaddexp(0.0, u), axis=-1)
            G = (sign * expit(u))[..., None, :] @ Xa
        else:
            # class-major logits (..., K, n): the reductions over classes then run over long
            # contiguous rows (twice as fast as over a short last axis)
            Zt = theta @ np.swapaxes(Xa, -1, -2)
            onehot = y[..., None, :] == np.arange(self.K)[:, None]
            picked = np.sum(Zt, where=onehot, axis=(-2, -1))
            top = Zt.max(axis=-2, keepdims=True)
            Zt -= top
            np.exp(Zt, out=Zt)
            true = np.sum(Zt, where=onehot, axis=-2, keepdims=True)
            Zt[onehot] = 0.0
            others = Zt.sum(axis=-2, keepdims=True)  # no cancellation: positive terms only
            total = others + true
            loss = np.sum(np.log(total) + top, axis=(-2, -1)) - picked
            Zt /= total
            Zt[onehot] = np.broadcast_to(-others / total, Zt.shape)[onehot]
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
        """A generous bound on the rounding level of the gradient for data Xa (..., n, d): a
        gradient entry sums n terms r_i x_ij with |r_i| <= 1, so its floating-point error is
        at most about ``eps * sum_i max_j |x_ij|``; a factor 8 covers the regularization terms.

        With ``Xz`` (..., M, d), the level for each of the M datasets Xa + {z}: shape (..., M).
        See :meth:`rounding_level` for the per-coordinate level used to stop solvers.
        """
        level = np.abs(Xa).max(axis=-1).sum(axis=-1) + 1.0
        if Xz is not None:
            level = level[..., None] + np.abs(Xz).max(axis=-1)
        return 8.0 * _EPS * level

    def rounding_level(self, Xa, R, theta):
        """Per-coordinate rounding level (..., m*d) of the gradient ``X^T R + reg * theta``.

        Entry (a, j) sums n products ``r_ia x_ij``; its floating-point error is at most about
        ``(8 + 2 sqrt(n)) eps sum_i |r_ia| |x_ij|`` (blocked summation; the residuals carry a
        relative error of a few eps), plus the rounding of the penalty terms. A gradient whose
        every entry is below this level is zero to double precision: no solver can do better.
        """
        n = Xa.shape[-2]
        level = np.swapaxes(np.abs(R), -1, -2) @ np.abs(Xa)
        flat = level.reshape(level.shape[:-2] + (self.size,))
        th = np.abs(theta.reshape(theta.shape[:-2] + (self.size,)))
        flat = (8.0 + 2.0 * np.sqrt(n)) * _EPS * flat + 4.0 * _EPS * self.reg * th
        if self.m > 1:
            b_abs = np.abs(theta[..., :, -1]).sum(axis=-1)[..., None]
            flat = flat + 4.0 * self.m * _EPS * self._intercept_vector() * b_abs
        return flat + np.finfo(float).tiny

    # --- Newton's method -----------------------------------------------------------------
    def newton(self, Xa, y, theta0=None, *, tol=1e-12, max_iter=100, standardize=True):
        """Minimize the objective for one dataset by damped Newton. Returns ``(theta, info)``
        with ``info`` keys ``n_iter``, ``converged`` and ``accuracy`` (see :meth:`solve_batch`)."""
        theta0 = None if theta0 is None else np.asarray(theta0, dtype=float)[None]
        res = self.solve_batch(Xa[None], np.asarray(y)[None], theta0, tol=tol, max_iter=max_iter,
                               standardize=standardize)
        return res.theta[0], {"n_iter": int(res.n_iter[0]), "converged": bool(res.converged[0]),
                              "accuracy": float(res.accuracy[0])}

    def newton_batch(self, Xa, y, theta0=None, *, tol=1e-12, max_iter=100, standardize=True):
        """Damped Newton on R datasets at once: Xa (R, n, d), y (R, n), theta0 (R, m, d).
        Returns ``(theta (R, m, d), n_iter (R,), converged (R,))``; see :meth:`solve_batch`."""
        res = self.solve_batch(Xa, y, theta0, tol=tol, max_iter=max_iter, standardize=standardize)
        return res.theta, res.n_iter, res.converged

    def solve_batch(self, Xa, y, theta0=None, *, tol=1e-12, max_iter=100, standardize=True):
        """Damped Newton on R datasets at once; returns a :class:`NewtonResult`.

        With ``standardize`` (default) the features are centred and scaled (pooled over the R
        datasets) and the problem is solved in those coordinates with the matching penalty
        (exact, see the module docstring), so badly scaled features do not ruin the Hessian.

        Backtracking (Armijo) line search while the Newton decrement is large; near the optimum
        the full step is taken. A dataset has converged when a full Newton step is below ``tol``
        relative to its parameters (in the solver's coordinates): its parameters are then
        within about that step of the exact minimizer (``accuracy`` = the step). If instead its
        gradient reaches the per-coordinate rounding level (:meth:`rounding_level`) while the
        step is still larger (an ill-conditioned problem: rounding noise amplified by H^{-1}),
        no solver can do better in double precision: it stops as converged with ``accuracy``
        = that last relative step, which the caller compares with what it needs.
        """
        Xa = np.asarray(Xa, dtype=float)
        y = np.asarray(y)
        R = Xa.shape[0]
        if theta0 is not None:
            theta0 = np.broadcast_to(np.asarray(theta0, dtype=float), (R, self.m, self.d))
        if not standardize:
            with np.errstate(over="ignore", invalid="ignore"):  # overshooting trial steps
                return self._damped_newton(Xa, y, theta0, tol, max_iter)
        shift, scale = standardization(Xa.reshape(-1, self.d))
        problem = self.rescaled(scale)
        Xs = to_standard_features(Xa, shift, scale)
        start = None if theta0 is None else to_standard_params(theta0, shift, scale)
        with np.errstate(over="ignore", invalid="ignore"):  # overshooting trial steps
            res = problem._damped_newton(Xs, y, start, tol, max_iter)
        res.theta = from_standard_params(res.theta, shift, scale)
        return res

    def _damped_newton(self, Xa, y, theta0, tol, max_iter):
        R = Xa.shape[0]
        theta = np.zeros((R, self.m, self.d)) if theta0 is None else np.array(theta0, dtype=float)
        n_iter = np.zeros(R, dtype=np.int64)
        converged = np.zeros(R, dtype=bool)
        accuracy = np.full(R, np.inf)
        active = np.arange(R)
        f = np.full(R, np.nan)  # objective at theta, evaluated when a line search needs it
        factor, last_decrement, last_size, last_ratio = None, np.inf, np.inf, np.inf
        last_rel = np.full(R, np.inf)
        Xa_a, y_a = Xa, y
        for it in range(1, max_iter + 1):
            th = theta[active]
            Rz = self.residual(Xa_a, y_a, th)
            g = self._gradient_from_residual(Rz, Xa_a, th)
            if factor is None or last_decrement > 1e-3 or last_ratio > 0.1:
                # Newton step; once the decrement is small and steps shrink fast, the
                # factorization is kept (chord steps: same fixed point, fast linear convergence)
                factor = _factorize(self.hessian(Xa_a, th))
            step = _solve(factor, g)
            if not np.all(np.isfinite(step)):  # the kept factorization broke down: refresh
                factor = _factorize(self.hessian(Xa_a, th))
                step = _solve(factor, g)
            decrement = np.sum(g * step, axis=-1)
            last_decrement = float(decrement.max())
            size = float(np.max(np.abs(step)))
            last_ratio, last_size = size / last_size if last_size > 0 else 0.0, size
            step = step.reshape(th.shape)
            t = np.ones(active.size)
            search = decrement > 1e-8  # backtracking (Armijo) while far from the optimum
            f_a = f[active]
            stale = search & np.isnan(f_a)
            if stale.any():
                f_a[stale] = self.objective(Xa_a[stale], y_a[stale], th[stale])
            f_a[~search] = np.nan  # full steps without evaluation: unknown until needed
            while search.any():
                f_new = self.objective(Xa_a[search], y_a[search],
                                       th[search] - t[search, None, None] * step[search])
                ok = (f_new <= f_a[search] - 1e-4 * t[search] * decrement[search]) | \
                    (t[search] < 1e-10)
                idx = np.flatnonzero(search)
                t[idx[~ok]] *= 0.5
                f_a[idx[ok]] = f_new[ok]  # the objective at the accepted point
                search[idx[ok]] = False
            f[active] = f_a
            th = th - t[:, None, None] * step
            theta[active] = th
            n_iter[active] = it
            rel = np.max(np.abs(step), axis=(1, 2)) / (1.0 + np.max(np.abs(th), axis=(1, 2)))
            done = (t == 1.0) & (rel <= tol)
            # near the optimum and the steps no longer shrink fast: at the rounding level?
            near = ~done & (decrement <= 1e-8) & (rel > 0.1 * last_rel[active])
            last_rel[active] = rel
            if near.any():
                level = self.rounding_level(Xa_a[near], Rz[near], th[near] + step[near])
                done[near] = np.all(np.abs(g[near]) <= level, axis=-1)
            accuracy[active[done]] = rel[done]
            converged[active[done]] = True
            if done.any():
                keep = ~done
                active, Xa_a, y_a = active[keep], Xa_a[keep], y_a[keep]
                factor = _subset(factor, keep)
            if active.size == 0:
                break
        return NewtonResult(theta, n_iter, converged, accuracy)


@dataclass
class NewtonResult:
    """Result of :meth:`LogisticProblem.solve_batch` for R datasets.

    ``theta`` (R, m, d); ``n_iter`` (R,); ``converged`` (R,); ``accuracy`` (R,): the last full
    Newton step relative to the parameters, an estimate of the distance to the exact minimizer
    (``<= tol`` when the step criterion was met, larger when the gradient reached the rounding
    level first; ``inf`` when not converged).
    """

    theta: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    accuracy: np.ndarray


def _factorize(H):
    """Factorizations of a stack of SPD matrices (R, n, n).

    Small matrices: batched LU through numpy; larger ones: Cholesky, with an eigenvalue-clipped
    solve when rounding makes a Hessian lose positive definiteness (extreme ill-conditioning).
    """
    if H.shape[-1] <= 64:
        return ("dense", H)
    factors = []
    for h in H:
        try:
            factors.append(("chol", cho_factor(h)))
        except np.linalg.LinAlgError:
            w, V = np.linalg.eigh(h)
            floor = max(float(w.max()), 1.0) * 1e3 * _EPS
            factors.append(("eig", (np.maximum(w, floor), V)))
    return ("list", factors)


def _solve(factor, g):
    kind, data = factor
    if kind == "dense":
        try:
            return np.linalg.solve(data, g[..., None])[..., 0]
        except np.linalg.LinAlgError:  # singular to working precision: least-squares step
            return np.stack([np.linalg.lstsq(h, gi, rcond=None)[0] for h, gi in zip(data, g)])
    out = []
    for (how, f), gi in zip(data, g):
        if how == "chol":
            out.append(cho_solve(f, gi))
        else:
            w, V = f
            out.append(V @ ((V.T @ gi) / w))
    return np.stack(out)


def _subset(factor, keep):
    kind, data = factor
    if kind == "dense":
        return (kind, data[keep])
    return (kind, [f for f, k in zip(data, keep) if k])


def augment(X):
    """Append a column of ones (intercept)."""
    X = np.asarray(X, dtype=float)
    return np.concatenate([X, np.ones(X.shape[:-1] + (1,))], axis=-1)


# ------------------------------------------------------------------------------------------
# standardized coordinates (exact reparametrization; see the module docstring)
# ------------------------------------------------------------------------------------------
def standardization(Xa):
    """Centre ``mu`` and scale ``s`` (p,) of the features of augmented rows Xa (n, p+1):
    column means and standard deviations (a constant column gets scale 1)."""
    X = Xa[:, :-1]
    shift = X.mean(axis=0)
    scale = X.std(axis=0)
    spread = np.abs(X - shift).max(axis=0)
    scale = np.where((scale > 0) & np.isfinite(scale) & (spread > 0), scale, 1.0)
    return shift, scale


def to_standard_features(Xa, shift, scale):
    """Augmented features in standardized coordinates: ``[(x - mu) / s, 1]``."""
    out = np.array(Xa, dtype=float)
    out[..., :-1] -= shift
    out[..., :-1] /= scale
    return out


def to_standard_params(theta, shift, scale):
    """``w~ = s w``, ``b~ = b + w . mu`` (same logits on standardized features)."""
    out = np.array(theta, dtype=float)
    out[..., -1] += theta[..., :-1] @ shift
    out[..., :-1] *= scale
    return out


def from_standard_params(theta, shift, scale):
    """Inverse of :func:`to_standard_params`: ``w = w~ / s``, ``b = b~ - w . mu``."""
    out = np.array(theta, dtype=float)
    out[..., :-1] /= scale
    out[..., -1] -= out[..., :-1] @ shift
    return out
