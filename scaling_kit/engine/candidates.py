"""Solving D + {z} for many candidates z of one D at once (docs/math.md §7, steps 2-4).

For one drawn dataset D with minimizer theta_D and many candidate points z not in D, we need
the minimizer of ``J_{D+z}(theta) = J_D(theta) + loss(z; theta)``.

* Warm start (:func:`model_logits`): the exact minimizer of a quadratic model of J_D around
  theta_D plus the candidate's exact loss, an m-dimensional convex problem; its error is second
  order in the shift theta_{D+z} - theta_D.
* Iteration: chord steps ``theta <- theta - (H_D + J_z^T S_z(theta) J_z)^{-1} grad J_{D+z}(theta)``:
  D's Hessian is kept fixed while the candidate's own curvature ``S_z`` (rank 1 binary, rank K
  multinomial) is refreshed each step and folded in exactly by the Woodbury identity
  ``(H + U S U^T)^{-1} = H^{-1} - H^{-1} U (I + S U^T H^{-1} U)^{-1} S U^T H^{-1}``; all
  candidates of a batch of rounds move together, so the passes over D are large matrix
  products; Anderson acceleration (memory 5) keeps high-leverage outliers converging where
  plain chord steps stall.
* Stop (verified, :mod:`scaling_kit.engine.guard`): the step computed from the double-precision
  gradient at the iterate bounds the error of the returned point ``T(x) = x + f``:
  ``|T(x) - x*| <= q / (1 - q) |f|`` with ``q`` the contraction observed in the last step (of a
  contracting iteration), taken with a safety factor of 10 (or ``|f|`` itself when it is below ``tol``)
  (:class:`_Progress`); a candidate whose gradient reaches the rounding level first is
  accepted with its attained accuracy (warning); the rest (no verified stop within the step
  budget, no progress for 8 steps, non-finite values) goes to an independent Newton solve.

The fixed point of the chord map is the stationary point of J_{D+z}, which is unique (strictly
convex objective), so the answer does not depend on the iteration used to reach it; the
single-precision preconditioner changes the speed of convergence only.
"""

from __future__ import annotations

import numpy as np

from .anderson import Anderson, take
from .guard import ACCEPT_LIMIT, Guard, newton_fallback
from .passes import candidate_gradients, candidate_residual_and_curvature, label_rows

__all__ = ["model_logits", "solve_candidates", "solve_candidates_batch"]

# Safety factor on the a-posteriori error estimate of the stopping rule. With 10 and the
# default tol = 1e-12, the returned parameters were within 1.2e-12, 3.9e-12, 1.1e-12 (relative)
# of solutions converged to 1e-15 on digits at k = 100, 400, 1000 (300 candidates each; their
# test log losses within 7e-14, 1.4e-13, 3e-14); the tests check 1e-11.
ERROR_SAFETY = 10.0
# steps of the shared iteration before a candidate is handed to the fallback
MAX_STEPS = 60


def solve_candidates(problem, XaD, yD, theta_D, Hinv, Xz, yz, *, tol=1e-12, max_iter=MAX_STEPS,
                     memory=5, fallback_max_iter=100):
    """Exact minimizers of J_{D+z} for M candidates of one D (rows of augmented ``Xz``).

    Returns ``(theta (M, m, d), n_iter (M,), n_fallback)``; see :func:`solve_candidates_batch`.
    """
    M = Xz.shape[0]
    if M == 0:
        return np.empty((0, problem.m, problem.d)), np.zeros(0, dtype=np.int64), 0
    theta, n_iter, n_fb = solve_candidates_batch(
        problem, XaD[None], yD[None], theta_D[None], Hinv[None], Xz[None], yz[None],
        np.ones((1, M), dtype=bool), tol=tol, max_iter=max_iter, memory=memory,
        fallback_max_iter=fallback_max_iter)
    return theta[0], n_iter[0], n_fb


def model_logits(problem, s0, JV, yz, tol=1e-10, max_iter=50):
    """Logits s = J_c theta of the minimizer of the quadratic model of J_D around theta_D plus
    candidate c's exact loss, batched over candidates (..., m).

    In logit space this is the convex problem
    ``min_s 1/2 (s - s0)^T JV^{-1} (s - s0) + loss(s; y_c)``, JV = J_c H^{-1} J_c^T, solved by
    Newton's method with a backtracking (Armijo) line search (undamped steps can cycle for
    candidates whose probabilities saturate); a candidate stops when its step is below ``tol``
    relative to its logits.
    """
    lead, m = s0.shape[:-1], s0.shape[-1]
    s0 = s0.reshape(-1, m)
    JV = JV.reshape(-1, m, m)
    yz = np.asarray(yz).reshape(-1)
    try:
        JVinv = np.linalg.inv(JV)
    except np.linalg.LinAlgError:
        JVinv = np.linalg.pinv(JV)
    eye = np.eye(m)

    def phi(s, i):
        dev = s - s0[i]
        quad = 0.5 * np.sum(dev * (JVinv[i] @ dev[..., None])[..., 0], axis=-1)
        if problem.m == 1:
            return quad + np.logaddexp(0.0, (1.0 - 2.0 * (yz[i] == 1)) * s[..., 0])
        top = s.max(axis=-1)
        lse = top + np.log(np.sum(np.exp(s - top[..., None]), axis=-1))
        return quad + lse - np.take_along_axis(s, yz[i][..., None], -1)[..., 0]

    s = s0.copy()
    act = np.arange(s.shape[0])
    value = phi(s, act)
    for _ in range(max_iter):
        sa, dev = s[act], s[act] - s0[act]
        r, S = candidate_residual_and_curvature(problem, sa, yz[act])
        grad = (JVinv[act] @ dev[..., None])[..., 0] + r
        # Newton direction (JV^{-1} + S)^{-1} grad = (I + JV S)^{-1} (s - s0 + JV r)
        rhs = (dev + (JV[act] @ r[..., None])[..., 0])[..., None]
        system = eye + JV[act] @ S
        try:
            step = np.linalg.solve(system, rhs)[..., 0]
        except np.linalg.LinAlgError:
            step = (np.linalg.pinv(system) @ rhs)[..., 0]
        slope = -np.sum(grad * step, axis=-1)  # directional derivative along -step (<= 0)
        va = value[act]
        t = np.ones_like(va)
        trial = sa - step
        new = phi(trial, act)
        # line search only while the Newton decrement is above rounding level
        bad = ~(new <= va + 1e-4 * slope) & (-slope > 1e-14 * (1.0 + np.abs(va)))
        for _ in range(40):
            if not bad.any():
                break
            t = np.where(bad, 0.5 * t, t)
            trial = sa - t[..., None] * step
            new = phi(trial, act)
            bad &= ~(new <= va + 1e-4 * t * slope)
        s[act], value[act] = trial, new
        moved = np.max(np.abs(t[..., None] * step), axis=-1)
        act = act[moved > tol * (1.0 + np.max(np.abs(trial), axis=-1))]  # (NaN stops too)
        if act.size == 0:
            break
    return s.reshape(lead + (m,))


def _chord_steps(G, Sz, Hinv, W, JV, Xz, m, d):
    """``-(H_D + J^T S J)^{-1} G`` per candidate: H_D^{-1} with the Woodbury correction for the
    candidate's own curvature, in the preconditioner's precision (single for large models)."""
    R_, A = G.shape[:2]
    dtype = Hinv.dtype
    u = G.astype(dtype) @ Hinv
    Ju = (u.reshape(R_, A, m, d) @ Xz[..., None].astype(dtype))[..., 0].astype(float)
    if m == 1:
        s = Sz[..., 0, 0]
        w = (s * Ju[..., 0] / (1.0 + s * JV[..., 0, 0]))[..., None]
    else:
        system = np.eye(m) + Sz @ JV
        rhs = Sz @ Ju[..., None]
        try:
            w = np.linalg.solve(system, rhs)[..., 0]
        except np.linalg.LinAlgError:
            w = (np.linalg.pinv(system) @ rhs)[..., 0]
    u -= (w.astype(dtype)[..., None, :] @ W)[..., 0, :]
    np.negative(u, out=u)
    return u


def solve_candidates_batch(problem, XaD, yD, theta_D, Hinv, Xz, yz, valid, *, tol=1e-12,
                           max_iter=MAX_STEPS, memory=5, fallback_max_iter=100, describe=None):
    """Candidates of R rounds at once: XaD (R, k, d), Xz (R, M, d), ``valid`` (R, M) marks
    real candidates (the rest is padding). Returns ``(theta (R, M, m, d), n_iter, n_fallback)``.

    ``max_iter`` bounds the shared chord/Anderson steps of a candidate (at most
    ``min(max_iter, fallback_max_iter)``); a candidate not verified by then is solved by
    independent damped Newton with at most ``fallback_max_iter`` iterations (the learner's
    ``max_iter``); one that even that cannot verify raises
    :class:`~scaling_kit.exceptions.ConvergenceError` naming ``describe(r, c)``.
    Converged candidates leave the active set; each round's active candidates are packed to the
    front so the arrays shrink as the iteration proceeds.
    """
    guard = Guard(tol, describe)
    R_, M = Xz.shape[:2]
    m, d = problem.m, problem.d
    md = m * d
    theta = np.broadcast_to(theta_D[:, None], (R_, M, m, d)).copy()
    n_iter = np.zeros((R_, M), dtype=np.int64)
    if M == 0:
        return theta, n_iter, 0
    # W_c = J_c H^{-1} (m x md), fixed for the round: J_c = I_m (x) x_c^T; stored row-wise
    # (R, M, m, md) so that W_c^T w is a sum of contiguous rows. JV_c = J_c H^{-1} J_c^T.
    Hsw = Hinv.reshape(R_, m, d, md).transpose(0, 2, 1, 3).reshape(R_, d, m * md)
    Xz_p = Xz.astype(Hinv.dtype)  # in the preconditioner's precision
    W = (Xz_p @ Hsw).reshape(R_, M, m, md)
    del Hsw
    JV = (W.reshape(R_, M, m * m, d) @ Xz_p[..., None]).reshape(R_, M, m, m).astype(float)
    # warm start: theta = theta_D - W^T r(s), s the logits of the model problem's minimizer
    s = model_logits(problem, np.einsum("Rmd,RMd->RMm", theta_D, Xz), JV, yz)
    r, _ = candidate_residual_and_curvature(problem, s, yz)
    x = theta.reshape(R_, M, md) - (r.astype(W.dtype)[..., None, :] @ W)[..., 0, :]
    bad = ~np.all(np.isfinite(x), axis=-1)
    x[bad] = theta.reshape(R_, M, md)[bad]

    slot = np.broadcast_to(np.arange(M), (R_, M)).copy()  # original index of each column
    live = np.asarray(valid, dtype=bool).copy()
    failed = np.zeros((R_, M), dtype=bool)  # indexed by original slot
    # an upper bound of the preconditioner's largest eigenvalue (its trace): the trace of H_D
    # plus |x_z|^2 for the candidate's own curvature (whose trace is at most 1)
    trace = _hessian_trace(problem, XaD, theta_D)[:, None] + np.einsum("RMd,RMd->RM", Xz, Xz)
    state = {"W": W, "JV": JV, "Xz": Xz, "yz": yz, "trace": trace}
    del W
    anderson = Anderson(x.shape, memory)
    rows = label_rows(yD, m) if m > 1 else None
    track = _Progress(x.shape[:-1])
    for it in range(1, min(max_iter, fallback_max_iter) + 1):
        G, Sz = candidate_gradients(problem, XaD, yD, x.reshape(R_, -1, m, d), state["Xz"],
                                    state["yz"], rows)
        f = _chord_steps(G, Sz, Hinv, state["W"], state["JV"], state["Xz"], m, d)
        size = np.max(np.abs(f), axis=-1).astype(float)
        scale = 1.0 + np.max(np.abs(x), axis=-1)
        finite = np.isfinite(size) & np.isfinite(scale)
        if not finite.all():
            f[~finite] = 0.0
        x_new, image = anderson.mix(x, f)
        error, stalled, stuck = track.update(size / scale)
        done = live & finite & (error <= tol)
        broken = np.zeros_like(done)
        if done.any():  # the step must be consistent with the gradient (a sane preconditioner)
            broken = done & ~_consistent(G, f, state["trace"], done)
            done &= ~broken
        stalled &= live & finite & ~done & (it >= 4) & (track.size <= max(tol, ACCEPT_LIMIT))
        if stalled.any():  # is the gradient at the rounding level (ill-conditioned problems)?
            done |= _at_rounding_level(problem, XaD, yD, x, G, state, stalled, track.size,
                                       guard)
        gone = live & ~done & (~finite | stuck | broken)
        rr, cc = np.nonzero(live)
        n_iter[rr, slot[rr, cc]] = it
        rr, cc = np.nonzero(done)
        # a converged candidate keeps its last chord-corrected point T(x) = x + f
        theta.reshape(R_, M, md)[rr, slot[rr, cc]] = image[rr, cc]
        rr, cc = np.nonzero(gone)
        failed[rr, slot[rr, cc]] = True
        live &= ~(done | gone)
        x = x_new
        n_live = live.sum(axis=1)
        if n_live.max() == 0:
            break
        if n_live.max() < 0.75 * live.shape[1]:  # pack live candidates to the front, shrink
            order = np.argsort(~live, axis=1, kind="stable")[:, : n_live.max()]
            live, slot, x = take(live, order), take(slot, order), take(x, order)
            track.take(order)
            anderson.take(order)
            state = {key: take(val, order) for key, val in state.items()}
    rr, cc = np.nonzero(live)
    failed[rr, slot[rr, cc]] = True
    rr, cc = np.nonzero(failed)
    if rr.size:  # the stubborn few: independent exact solves
        theta[rr, cc] = newton_fallback(problem, XaD, yD, theta_D, Xz, yz, (rr, cc), tol=tol,
                                        max_iter=fallback_max_iter, guard=guard)
    guard.warn()
    return theta, n_iter, int(rr.size)


def _hessian_trace(problem, XaD, theta_D):
    """trace(H_D) per round: sum_i |x_i|^2 sum_a p_ia (1 - p_ia) + the penalty's (+ m for the
    intercept-sum term of multinomial problems)."""
    P = problem.proba(XaD, theta_D)
    curv = np.sum(P * (1.0 - P), axis=-1) / (2.0 if problem.m == 1 else 1.0)
    trace = np.einsum("Rk,Rkd,Rkd->R", curv, XaD, XaD) + problem.reg.sum()
    return trace + (problem.m if problem.m > 1 else 0.0)


def _consistent(G, f, trace, rows):
    """For the candidates in ``rows``: is the step f = -P^{-1} G consistent with an SPD P whose
    largest eigenvalue is at most ``trace``, i.e. ``-G.f >= |G|^2 / trace`` (with slack 2)?

    This holds for every sane preconditioner, whatever its accuracy; it fails when the step is
    far too small for the gradient (a broken factorization, a lost scale), the one way a wrong
    step could pass the error estimate.
    """
    rr, cc = np.nonzero(rows)
    g, step = G[rr, cc], f[rr, cc].astype(float)
    ok = -2.0 * np.einsum("ij,ij->i", g, step) * trace[rr, cc] >= np.einsum("ij,ij->i", g, g)
    out = np.ones(rows.shape, dtype=bool)
    out[rr, cc] = ok
    return out


class _Progress:
    """Step sizes of the candidates' iteration (relative to the parameters) and the error
    bound they imply for the returned point T(x) = x + f.

    With the contraction ``q = f_n / f_{n-1}`` of the last two step sizes, taken only when the
    step before shrank too (``f_{n-1} < f_{n-2}``; after a spike, one small step proves
    nothing), ``|T(x) - x*| <= q / (1 - q) |f_n|`` for a contracting iteration;
    ``error`` is that bound times :data:`ERROR_SAFETY` when ``q < 1/2``, else ``|f_n|``
    itself (for which ``|x - x*| ~ |f_n|`` at convergence). ``stalled``: no contraction (the
    rounding level may have been reached); ``stuck``: no halving of the best step in the last
    8 steps (chaotic or diverging: hand the candidate to the fallback).
    """

    def __init__(self, shape):
        self.size = np.full(shape, np.inf)
        self.prev = np.full(shape, np.inf)
        self.best = np.full(shape, np.inf)
        self.since = np.zeros(shape, dtype=np.int64)

    def update(self, size):
        with np.errstate(invalid="ignore", divide="ignore"):  # a ratio to an unknown step is inf
            q = np.where(np.isfinite(self.size), size / self.size, np.inf)
            # the step before must have shrunk too (the iteration is contracting, not bouncing)
            q = np.where(self.size < np.where(np.isfinite(self.prev), self.prev, np.inf), q,
                         np.inf)
        q = np.where(np.isnan(q), np.inf, q)
        self.prev, self.size = self.size, size
        with np.errstate(invalid="ignore"):
            error = np.where(q < 0.5, ERROR_SAFETY * size * q / (1.0 - np.minimum(q, 0.5)), size)
        error = np.minimum(error, size)
        improved = size < 0.5 * self.best
        self.best = np.where(improved, size, self.best)
        self.since = np.where(improved, 0, self.since + 1)
        return error, ~(q < 0.5), self.since >= 8

    def take(self, order):
        for name in ("size", "prev", "best", "since"):
            setattr(self, name, take(getattr(self, name), order))


def _at_rounding_level(problem, XaD, yD, x, G, state, stalled, accuracy, guard):
    """For the stalled candidates: is every gradient entry at its rounding level, and is the
    attained accuracy acceptable? (One extra pass over D for those candidates only.)"""
    m, d = problem.m, problem.d
    rr, cc = np.nonzero(stalled)
    th = x[rr, cc].reshape(-1, m, d)
    XaDz = np.concatenate([XaD[rr], state["Xz"][rr, cc][:, None, :]], axis=1)
    yDz = np.concatenate([yD[rr], state["yz"][rr, cc][:, None]], axis=1)
    level = problem.rounding_level(XaDz, problem.residual(XaDz, yDz, th), th)
    at_level = np.all(np.abs(G[rr, cc]) <= level, axis=-1)
    out = np.zeros_like(stalled)
    ok = at_level.copy()
    if at_level.any():
        ok[at_level] = guard.accept(accuracy[rr, cc][at_level])
    out[rr[ok], cc[ok]] = True
    return out
