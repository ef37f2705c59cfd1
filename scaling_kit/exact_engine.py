"""Exact, batched marginal contributions for L2 logistic regression (the fast path).

For one drawn dataset D and many candidate points z not in D, we need the minimizer of the
regularized objective J_{D+z}(theta) = J_D(theta) + loss(z; theta) (scikit-learn's
``LogisticRegression(C)`` objective, see :mod:`scaling_kit.learners`).

1. D is fit once to machine precision (Newton; for large models L-BFGS, then chord steps with
   one Hessian), and its Hessian ``H_D`` is inverted.
2. Every candidate starts from the minimizer of a quadratic model of J_D around ``theta_D``
   plus its own exact loss (an m-dimensional problem), then iterates the *chord* map
   ``theta <- theta - (H_D + J_z^T S_z(theta) J_z)^{-1} grad J_{D+z}(theta)``:
   D's Hessian is kept fixed while the candidate's own curvature ``S_z`` (rank 1 binary, rank K
   multinomial) is refreshed each step and folded in exactly by the Woodbury identity
   ``(H + U S U^T)^{-1} = H^{-1} - H^{-1} U (I + S U^T H^{-1} U)^{-1} S U^T H^{-1}``.
   All candidates of a round move together, so the gradient over D is one large matrix product.
3. Anderson acceleration (type II, memory 3; Walker & Ni 2011) is applied to the chord map; it
   keeps high-leverage outliers converging where plain chord steps stall (ENGINE-NOTES.md).
4. A candidate stops when its step, or the error estimated from the observed contraction
   rate (with a safety factor of 10), is below ``tol`` relative to the parameters; any
   candidate still unconverged after ``max_iter`` steps is finished with its own Hessian (then
   damped Newton), so every returned solution is the exact minimizer (to ~1e-12), not an
   approximation.
5. Speed without changing the answer: the preconditioner (``H_D^{-1}``, the Woodbury factors,
   D's Hessian and its factorization) is single precision, while every gradient, whose zero
   defines the answer, is double precision.

The fixed point of the chord map is the stationary point of J_{D+z}, which is unique (strictly
convex objective), so the answer does not depend on the iteration used to reach it.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas, lapack
from scipy.optimize import minimize
from scipy.special import expit

from .logistic import LogisticProblem

__all__ = [
    "fit_dataset",
    "fit_datasets",
    "solve_candidates",
    "solve_candidates_batch",
    "test_log_proba",
]


def fit_dataset(problem: LogisticProblem, XaD, yD, theta0=None, tol=1e-13):
    """Fit one D to machine precision; return ``(theta_D, Hinv)`` (see :func:`fit_datasets`)."""
    theta, Hinv = fit_datasets(problem, XaD[None], yD[None],
                               None if theta0 is None else np.asarray(theta0)[None], tol)
    return theta[0], Hinv[0]


def fit_datasets(problem: LogisticProblem, XaD, yD, theta0=None, tol=1e-13):
    """Fit R datasets (R, k, d) to machine precision; return ``(theta (R, m, d), Hinv (R, md, md))``.

    Small models: batched Newton, and ``Hinv`` is H_D^{-1} at theta_D (double precision). For
    large parameter counts (multinomial) forming the Hessian dominates, so each dataset is
    first brought near its optimum by L-BFGS (gradients only, loose tolerance), then chord steps
    with one Hessian finish to machine precision (:func:`_fit_large`): the same exact minimizer.
    ``Hinv`` is then the single-precision inverse of that Hessian, near H_D^{-1}: the candidates'
    preconditioner, whose accuracy affects speed, never the answer.
    """
    if problem.size > 200:
        R = XaD.shape[0]
        start = np.zeros((R, problem.m, problem.d)) if theta0 is None else \
            np.broadcast_to(theta0, (R, problem.m, problem.d))
        fits = [_fit_large(problem, XaD[r], yD[r], start[r], tol) for r in range(R)]
        return np.stack([f[0] for f in fits]), np.stack([f[1] for f in fits])
    theta, _, converged = problem.newton_batch(XaD, yD, theta0, tol=tol, max_iter=200)
    if not converged.all():
        raise RuntimeError("Newton's method did not converge on a dataset D (ill-conditioned data?).")
    Hinv = np.linalg.inv(problem.hessian(XaD, theta))
    return theta, 0.5 * (Hinv + np.swapaxes(Hinv, -1, -2))


def _fit_large(problem, Xa, y, theta0, tol):
    """L-BFGS to a loose gradient tolerance, then :func:`_chord_finish` to machine precision.
    Returns ``(theta, H0^{-1})``: H0^{-1} (single precision) is also the candidates'
    preconditioner, which, too, only needs to be close to H_D^{-1}."""
    theta, factor = _chord_finish(problem, Xa, y, _lbfgs(problem, Xa, y, theta0), tol)
    potri, = lapack.get_lapack_funcs(("potri",), (factor,))  # single or double, as the factor
    inv, info = potri(factor, lower=0)  # inverse from the Cholesky factor (upper triangle)
    if info != 0:
        raise RuntimeError("Could not invert the Hessian of D.")
    inv = np.triu(inv)
    inv += np.triu(inv, 1).T
    return theta, inv


def _chord_finish(problem, Xa, y, theta, tol, max_chord=50):
    """From a point near the optimum to the exact minimizer: chord steps
    ``theta <- theta - H0^{-1} grad(theta)`` with the Hessian H0 at the starting point.

    The chord map has the exact minimizer as its fixed point for any SPD H0, and near the
    optimum it contracts fast. So H0 and its Cholesky factor are computed in single precision
    (twice as fast; the gradient stays in double precision, so the answer is unchanged). Falls
    back to damped Newton if the chord steps do not converge. Returns ``(theta, factor)``, the
    upper Cholesky factor of H0 (single, or double after a fallback).
    """
    theta0 = theta
    factor, info = lapack.spotrf(_hessian_upper32(problem, Xa, theta), lower=0)
    if info != 0:  # not positive definite in single precision: use double
        factor, info = lapack.dpotrf(problem.hessian(Xa, theta), lower=0)
    solve, = lapack.get_lapack_funcs(("potrs",), (factor,))
    noise = problem.gradient_noise(Xa)
    for _ in range(max_chord):
        grad = problem.gradient(Xa, y, theta)
        if np.max(np.abs(grad)) <= noise:  # at rounding level (ill-conditioned problems)
            return theta, factor
        step, _ = solve(factor, grad.astype(factor.dtype), lower=0)
        theta = theta - step.reshape(theta.shape)
        if np.all(np.isfinite(step)) and \
                np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(theta))):
            return theta, factor
        if not np.all(np.isfinite(theta)):
            break
    theta, info = problem.newton(Xa, y, theta0, tol=tol, max_iter=200)
    if not info["converged"]:
        raise RuntimeError("Newton's method did not converge (ill-conditioned data?).")
    factor, info = lapack.dpotrf(problem.hessian(Xa, theta), lower=0)
    return theta, factor


def _hessian_upper32(problem, Xa, theta):
    """Single-precision Hessian of the multinomial objective, upper triangle only (what the
    Cholesky factorization reads): ``blockdiag_a(X^T diag(p_a) X) - B^T B`` with
    ``B = [p_ia x_i]`` (see :meth:`LogisticProblem.hessian`), the product by ``ssyrk``."""
    n, m, d = Xa.shape[0], problem.m, problem.d
    if m == 1:  # binary problems with many features: X^T diag(s) X is cheap anyway
        return problem.hessian(Xa, theta).astype(np.float32)
    P = problem.proba(Xa, theta)
    B = np.empty((n, m, d), dtype=np.float32)
    np.multiply(P[:, :, None], Xa[:, None, :], out=B)
    H = blas.ssyrk(-1.0, B.reshape(n, m * d), trans=1, lower=0)
    X32 = Xa.astype(np.float32)
    for a in range(m):
        H[a * d:(a + 1) * d, a * d:(a + 1) * d] += B[:, a, :].T @ X32
    idx = np.arange(m * d)
    H[idx, idx] += problem.reg
    b = np.arange(m) * d + d - 1  # the (sum of intercepts)^2 / 2 term
    H[b[:, None], b[None, :]] += 1.0
    return H


def _lbfgs(problem, Xa, y, theta0):
    shape = (problem.m, problem.d)

    def fun(v):
        return problem.objective_and_gradient(Xa, y, v.reshape(shape))

    res = minimize(fun, np.ravel(theta0), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 3e-3, "ftol": 0.0, "maxcor": 20})
    return res.x.reshape(shape)


def _softmax(Z):
    """Softmax over the last axis (in place on a fresh array)."""
    P = Z - Z.max(axis=-1, keepdims=True)
    np.exp(P, out=P)
    P /= P.sum(axis=-1, keepdims=True)
    return P


def _softmax_classes(Z):
    """In-place softmax over axis 2 of class-major logits Z (R, k, m, A); returns False (and
    leaves Z spoiled) if the fast path cannot be used.

    The usual max-shift is skipped: exp(z) / sum exp(z) is exact in floating point as long as
    nothing overflows or underflows to zero, which logits of a fitted model practically never
    do. When they would, the caller recomputes the logits and uses the shifted form.
    """
    with np.errstate(over="ignore", under="ignore"):
        np.exp(Z, out=Z)
    total = Z.sum(axis=2, keepdims=True)
    if not (np.all(np.isfinite(total)) and total.min() > 1e-300):
        return False
    np.reciprocal(total, out=total)
    Z *= total
    return True


def _residual_and_curvature(problem, Z, y):
    """Loss derivative and curvature w.r.t. logits Z (..., m) for labels y (...)."""
    if problem.m == 1:
        s = expit(Z[..., 0])
        return (s - (y == 1))[..., None], (s * (1.0 - s))[..., None, None]
    P = _softmax(Z)
    R = P - (y[..., None] == np.arange(problem.K))
    S = P[..., :, None] * (np.eye(problem.K) - P[..., None, :])
    return R, S


def _label_term(problem, XaD, yD):
    """Y^T X per round (R, m, d) for the multinomial gradient X^T (P - Y) = X^T P - Y^T X; the
    same for every candidate and every iteration of a round (None for binary problems)."""
    if problem.m == 1:
        return None
    return np.swapaxes(yD[:, :, None] == np.arange(problem.K), 1, 2) @ XaD


def _gradients(problem, XaD, yD, theta, Xz, yz, YX):
    """Gradients of J_{D+z} at theta (R, A, m, d) for A candidates per round; also S_z.
    ``YX`` is :func:`_label_term` of the round."""
    R_, A, m, d = theta.shape
    k = XaD.shape[1]
    if m == 1:
        Z = XaD @ np.swapaxes(theta[:, :, 0, :], 1, 2)  # (R, k, A)
        Res = expit(Z) - (yD == 1)[:, :, None]
        G = (np.swapaxes(Res, 1, 2) @ XaD)[:, :, None, :]
    else:
        # class-major columns: logits (R, k, m, A), so reductions over classes run over long
        # contiguous rows (a reduction over a short last axis is several times slower)
        cols = np.ascontiguousarray(theta.transpose(0, 2, 1, 3)).reshape(R_, m * A, d)
        Z = (XaD @ np.swapaxes(cols, 1, 2)).reshape(R_, k, m, A)
        if not _softmax_classes(Z):
            Z = (XaD @ np.swapaxes(cols, 1, 2)).reshape(R_, k, m, A)
            Z -= Z.max(axis=2, keepdims=True)
            np.exp(Z, out=Z)
            Z /= Z.sum(axis=2, keepdims=True)
        # X^T (P - Y) = X^T P - Y^T X. (X^T P is faster than P^T X here: the long dimension
        # m * A stays the output's rows.)
        G = (np.swapaxes(XaD, 1, 2) @ Z.reshape(R_, k, m * A)).reshape(R_, d, m, A)
        G = G.transpose(0, 3, 2, 1) - YX[:, None]
    Zz = np.einsum("RAmd,RAd->RAm", theta, Xz)
    Rz, Sz = _residual_and_curvature(problem, Zz, yz)
    G += Rz[..., None] * Xz[:, :, None, :]
    G += problem.reg.reshape(m, d) * theta
    if m > 1:
        G[..., -1] += theta[..., -1].sum(axis=-1)[..., None]
    return G.reshape(R_, A, m * d), Sz


def solve_candidates(problem: LogisticProblem, XaD, yD, theta_D, Hinv, Xz, yz, *, tol=1e-12,
                     max_iter=60, memory=3):
    """Exact minimizers of J_{D+z} for M candidates of one D (rows of augmented ``Xz``).

    Returns ``(theta (M, m, d), n_iter (M,), n_fallback)``; n_fallback counts the candidates
    finished with their own Hessian after ``max_iter`` chord steps.
    """
    M = Xz.shape[0]
    if M == 0:
        return np.empty((0, problem.m, problem.d)), np.zeros(0, dtype=np.int64), 0
    theta, n_iter, n_fb = solve_candidates_batch(
        problem, XaD[None], yD[None], theta_D[None], Hinv[None], Xz[None], yz[None],
        np.ones((1, M), dtype=bool), tol=tol, max_iter=max_iter, memory=memory)
    return theta[0], n_iter[0], n_fb


class _Anderson:
    """Type-II Anderson acceleration (Walker & Ni 2011) of a fixed-point map T, batched over
    the leading axes of the iterates (..., n).

    ``mix(x, f)`` takes the residual ``f = T(x) - x`` and returns ``(next iterate, T(x))``, the
    next iterate being ``T(x) - sum_j gamma_j (T(x) - T(x_j))`` with gamma minimizing
    ``|f - sum_j gamma_j (f - f_j)|`` over the last ``memory`` iterates (a small ridge keeps the
    least-squares problem regular). Histories are ring buffers (the mix does not depend on the
    order of its columns), and the Gram matrix of the stored residuals is kept up to date, so
    the normal equations ``(f - f_i).(f - f_j) = f.f - f.f_i - f.f_j + f_i.f_j`` cost one pass
    over the history per step.
    """

    def __init__(self, shape, memory=3):
        self.memory, self.count = memory, 0
        self.F = np.empty(shape[:-1] + (memory, shape[-1]))
        self.T = np.empty_like(self.F)
        self.FF = np.zeros(shape[:-1] + (memory, memory))

    def mix(self, x, f):
        image = x + f
        n = min(self.count, self.memory)
        ff = np.einsum("...n,...n->...", f, f)
        x_new = image
        if n:
            fF = np.einsum("...jn,...n->...j", self.F[..., :n, :], f)
            gram = ff[..., None, None] - fF[..., :, None] - fF[..., None, :] + self.FF[..., :n, :n]
            ridge = np.trace(gram, axis1=-2, axis2=-1)[..., None, None] * 1e-12 + 1e-300
            gamma = np.linalg.solve(gram + ridge * np.eye(n), (ff[..., None] - fF)[..., None])
            x_new = image * (1.0 - gamma[..., 0].sum(axis=-1))[..., None] + \
                np.einsum("...j,...jn->...n", gamma[..., 0], self.T[..., :n, :])
            ok = np.all(np.isfinite(x_new), axis=-1)
            if not ok.all():
                x_new = np.where(ok[..., None], x_new, image)
        slot = self.count % self.memory
        self.F[..., slot, :] = f
        self.T[..., slot, :] = image
        if n:
            self.FF[..., slot, :n] = fF
            self.FF[..., :n, slot] = fF
        self.FF[..., slot, slot] = ff
        self.count += 1
        return x_new, image

    def take(self, order):
        """Keep the histories of the iterates ``_take(x, order)`` keeps."""
        self.F, self.T, self.FF = _take(self.F, order), _take(self.T, order), _take(self.FF, order)


def _model_logits(problem, s0, JV, yz, tol=1e-10, max_iter=50):
    """Logits s = J_c theta of the minimizer of the quadratic model of J_D around theta_D plus
    candidate c's exact loss, batched over candidates (..., m).

    In logit space this is the convex problem
    ``min_s 1/2 (s - s0)^T JV^{-1} (s - s0) + loss(s; y_c)``, JV = J_c H^{-1} J_c^T, solved by
    Newton's method with a backtracking (Armijo) line search: undamped steps can cycle for
    candidates whose probabilities saturate.
    """
    JVinv = np.linalg.inv(JV)
    eye = np.eye(s0.shape[-1])

    def phi(s):
        dev = s - s0
        quad = 0.5 * np.sum(dev * (JVinv @ dev[..., None])[..., 0], axis=-1)
        if problem.m == 1:
            return quad + np.logaddexp(0.0, s[..., 0]) - (yz == 1) * s[..., 0]
        top = s.max(axis=-1)
        lse = top + np.log(np.sum(np.exp(s - top[..., None]), axis=-1))
        return quad + lse - np.take_along_axis(s, yz[..., None], -1)[..., 0]

    s, value = s0.copy(), phi(s0)
    for _ in range(max_iter):
        r, S = _residual_and_curvature(problem, s, yz)
        grad = (JVinv @ (s - s0)[..., None])[..., 0] + r
        # Newton direction (JV^{-1} + S)^{-1} grad = (I + JV S)^{-1} (s - s0 + JV r)
        step = np.linalg.solve(eye + JV @ S, (s - s0 + (JV @ r[..., None])[..., 0])[..., None])[..., 0]
        slope = -np.sum(grad * step, axis=-1)  # directional derivative along -step (<= 0)
        t = np.ones_like(value)
        trial = s - step
        new = phi(trial)
        # line search only while the Newton decrement is above rounding level
        bad = ~(new <= value + 1e-4 * slope) & (-slope > 1e-14 * (1.0 + np.abs(value)))
        for _ in range(40):
            if not bad.any():
                break
            t = np.where(bad, 0.5 * t, t)
            trial = s - t[..., None] * step
            new = phi(trial)
            bad &= ~(new <= value + 1e-4 * t * slope)
        moved = np.max(np.abs(t[..., None] * step))
        s, value = trial, new
        if moved <= tol * (1.0 + np.max(np.abs(s))):
            break
    return s


# Safety factor on the a-posteriori error estimate of the candidate iteration's stopping rule.
# With 10, the returned parameters were within 6e-13 (relative) of solutions converged to 1e-15
# on digits at k = 100, 400, 1000 (their Deltas within 3e-12); see the tests for the 1e-9 bound.
_ERROR_SAFETY = 10.0


def _take(arr, order):
    """Gather along axis 1 with per-round orders (R, A')."""
    if order.shape[0] == 1:
        return arr[:, order[0]]
    return arr[np.arange(order.shape[0])[:, None], order]


def solve_candidates_batch(problem: LogisticProblem, XaD, yD, theta_D, Hinv, Xz, yz, valid, *,
                           tol=1e-12, max_iter=60, memory=3):
    """Candidates of R rounds at once: XaD (R, k, d), Xz (R, M, d), ``valid`` (R, M) marks
    real candidates (the rest is padding). Returns ``(theta (R, M, m, d), n_iter, n_fallback)``.

    Converged candidates leave the active set; each round's active candidates are packed to
    the front so the arrays shrink as the iteration proceeds.

    The preconditioner (``H_D^{-1}`` and the Woodbury terms) is applied in single precision:
    the chord map's fixed point, grad J_{D+z}(theta) = 0, does not depend on the
    preconditioner, and the gradient is always evaluated in double precision, so this changes
    the speed of convergence only (by ~1e-7 relative), never the answer.
    """
    R_, M = Xz.shape[:2]
    m, d = problem.m, problem.d
    md = m * d
    f32 = np.float32
    theta = np.broadcast_to(theta_D[:, None], (R_, M, m, d)).copy()
    n_iter = np.zeros((R_, M), dtype=np.int64)
    # W_c = J_c H^{-1} = (H^{-1} J_c^T)^T (m x md), fixed for the round: J_c = I_m (x) x_c^T;
    # stored row-wise (R, M, m, md) so that W_c^T w is a sum of contiguous rows.
    Hsw = Hinv.reshape(R_, m, d, md).transpose(0, 2, 1, 3).reshape(R_, d, m * md)
    W = (Xz @ Hsw).reshape(R_, M, m, md)
    del Hsw
    JV = np.einsum("RMabd,RMd->RMab", W.reshape(R_, M, m, m, d), Xz)  # J_c H^{-1} J_c^T
    eye_m = np.eye(m)

    slot = np.broadcast_to(np.arange(M), (R_, M)).copy()  # original index of each column
    live = np.asarray(valid, dtype=bool).copy()
    # Start from the exact minimizer of the quadratic model of J_D around theta_D plus the
    # candidate's exact loss: theta = theta_D - W^T r(s), where the candidate's logits s solve
    # an m-dimensional convex problem (:func:`_model_logits`). The remaining error is second
    # order in the shift, so the full iteration below needs fewer passes over D.
    s = _model_logits(problem, np.einsum("Rmd,RMd->RMm", theta_D, Xz), JV.astype(float), yz)
    r, _ = _residual_and_curvature(problem, s, yz)
    x = theta.reshape(R_, M, md) - (r[..., None, :] @ W)[..., 0, :]
    if not np.all(np.isfinite(x)):
        x = theta.reshape(R_, M, md).copy()
    Hinv32 = Hinv.astype(f32, copy=False)
    noise = problem.gradient_noise(XaD, Xz)  # rounding level of each candidate's gradient
    state = {"W": W.astype(f32, copy=False), "JV": JV, "Xz": Xz, "yz": yz, "noise": noise}
    del W
    anderson = _Anderson(x.shape, memory)
    YX = _label_term(problem, XaD, yD)
    size = np.full(x.shape[:-1], np.inf)
    for it in range(1, max_iter + 1):
        G, Sz = _gradients(problem, XaD, yD, x.reshape(R_, -1, m, d), state["Xz"], state["yz"],
                           YX)
        u = G.astype(f32) @ Hinv32
        Ju = np.einsum("RAmd,RAd->RAm", u.reshape(R_, -1, m, d), state["Xz"])
        w = np.linalg.solve(eye_m + Sz @ state["JV"], (Sz @ Ju[..., None]))[..., 0]
        u -= (w.astype(f32)[..., None, :] @ state["W"])[..., 0, :]
        f = -u.astype(np.float64)  # fixed-point residual T(x) - x (the negative chord step)
        x_new, image = anderson.mix(x, f)
        prev_size, size = size, np.max(np.abs(f), axis=-1)
        bound = tol * (1.0 + np.max(np.abs(x), axis=-1))
        # stop when the step, or the error of T(x) estimated from the observed contraction
        # q = |f_n| / |f_{n-1}| (|T(x) - x*| ~ q / (1 - q) |f|, with a safety factor), is below
        # tol: this saves the last, confirming pass for most candidates
        q = np.minimum(size / np.maximum(prev_size, 1e-300), 0.5)
        error = np.where(np.isfinite(prev_size) & (q < 0.5),
                         _ERROR_SAFETY * size * q / (1.0 - q), size)
        done = live & (np.minimum(error, size) <= bound)
        if it >= 4:  # or the gradient is at rounding level (ill-conditioned problems)
            done |= live & (np.max(np.abs(G), axis=-1) <= state["noise"])
        rr, cc = np.nonzero(live)
        n_iter[rr, slot[rr, cc]] = it
        rr, cc = np.nonzero(done)
        # a converged candidate keeps its last chord-corrected point T(x) = x + f
        theta.reshape(R_, M, md)[rr, slot[rr, cc]] = image[rr, cc]
        live &= ~done
        x = x_new
        n_live = live.sum(axis=1)
        if n_live.max() == 0:
            return theta, n_iter, 0
        if n_live.max() < 0.75 * live.shape[1]:  # pack live candidates to the front, shrink
            order = np.argsort(~live, axis=1, kind="stable")[:, : n_live.max()]
            live, slot, x = _take(live, order), _take(slot, order), _take(x, order)
            size = _take(size, order)
            anderson.take(order)
            state = {key: _take(val, order) for key, val in state.items()}
    # the stubborn few (high-leverage points whose own curvature moves the optimum far):
    # chord steps with their own Hessian at the current iterate, then exact as everywhere
    rr, cc = np.nonzero(live)
    near = size[rr, cc] <= 1e-4 * (1.0 + np.max(np.abs(x[rr, cc]), axis=-1))
    for r, c, start, ok in zip(rr, slot[rr, cc], x[rr, cc], near):
        XaDz = np.vstack([XaD[r], Xz[r, c]])
        yDz = np.append(yD[r], yz[r, c])
        start = start.reshape(m, d) if ok else theta_D[r]  # converging: go on from there
        theta[r, c], _ = _chord_finish(problem, XaDz, yDz, start, tol)
    return theta, n_iter, int(rr.size)


def test_log_proba(problem: LogisticProblem, Xa_test, theta):
    """Class log-probabilities (..., n_test, K) for parameters theta (..., m, d)."""
    theta = np.asarray(theta)
    if problem.m == 1:
        z = (Xa_test @ np.swapaxes(theta, -1, -2))[..., 0]
        return np.stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)], axis=-1)
    # class-major logits (n_test, m, models): the log-sum-exp over classes then runs over long
    # contiguous rows (a reduction over a short last axis is several times slower)
    lead, (m, d) = theta.shape[:-2], theta.shape[-2:]
    cols = np.moveaxis(theta.reshape(-1, m, d), 1, 0).reshape(-1, d)  # (m * models, d)
    Z = (Xa_test @ cols.T).reshape(Xa_test.shape[0], m, -1)
    Z -= Z.max(axis=1, keepdims=True)
    Z -= np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return np.moveaxis(Z, 2, 0).reshape(lead + (Xa_test.shape[0], m))
