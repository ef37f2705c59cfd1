"""Fitting the drawn datasets D (docs/math.md §7, step 1): theta_D and a preconditioner.

Each D is fit to machine precision and the inverse of its Hessian, ``H_D^{-1}``, is kept as
the candidates' preconditioner. Small models: batched damped Newton
(:meth:`scaling_kit.logistic.LogisticProblem.solve_batch`) and H_D^{-1} in double precision.
Large models (multinomial, many features), where forming Hessians dominates: L-BFGS to a loose
gradient tolerance (a warm-up), then chord steps with one single-precision Hessian to machine
precision; the inverse is then single precision. The preconditioner only changes how fast the
candidates converge, never their answer, so single precision is enough; the gradients, whose
zero defines the answer, are always double precision.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack
from scipy.optimize import minimize

from .guard import Guard
from .passes import hessian_upper32

__all__ = ["fit_dataset", "fit_datasets"]

# parameter count above which D is fit by L-BFGS + chord steps with a single-precision Hessian
LARGE = 200
# iterations of the L-BFGS warm-up (a first-order method; not counted against max_iter)
LBFGS_ITER = 5000


def fit_dataset(problem, XaD, yD, theta0=None, tol=1e-13, *, max_iter=100):
    """Fit one D to machine precision; return ``(theta_D, Hinv)`` (see :func:`fit_datasets`)."""
    theta, Hinv = fit_datasets(problem, XaD[None], yD[None],
                               None if theta0 is None else np.asarray(theta0)[None], tol,
                               max_iter=max_iter)
    return theta[0], Hinv[0]


def fit_datasets(problem, XaD, yD, theta0=None, tol=1e-13, *, max_iter=100, describe=None):
    """Fit R datasets (R, k, d) to machine precision; return ``(theta (R, m, d), Hinv (R, md, md))``.

    ``max_iter`` bounds the second-order iterations (Newton or chord steps) of each fit; a fit
    that cannot be verified raises :class:`~scaling_kit.exceptions.ConvergenceError` naming
    ``describe(r)``. ``Hinv`` is H_D^{-1}: at theta_D in double precision for small models;
    for large ones the single-precision inverse of the Hessian at the L-BFGS point (near
    theta_D), the candidates' preconditioner, whose accuracy affects speed, never the answer.
    """
    guard = Guard(tol, describe)
    R = XaD.shape[0]
    if problem.size > LARGE:
        start = np.zeros((problem.m, problem.d)) if theta0 is None else theta0
        fits = []
        for r in range(R):  # each fit starts from the previous one
            fits.append(_fit_large(problem, XaD[r], yD[r],
                                   start if r == 0 else fits[-1][0], tol, max_iter, guard, r))
        guard.warn()
        return np.stack([f[0] for f in fits]), np.stack([f[1] for f in fits])
    if theta0 is None and R > 2:  # a cold start: the first dataset's fit starts the others
        first = problem.solve_batch(XaD[:1], yD[:1], None, tol=tol, max_iter=max_iter,
                                    standardize=False)
        theta0 = first.theta[0] if first.converged[0] else None
    # in the caller's coordinates (standardized by the sampler); the datasets that this cannot
    # verify are solved again from scratch in standardized coordinates (exact, more robust)
    res = problem.solve_batch(XaD, yD, theta0, tol=tol, max_iter=max_iter, standardize=False)
    ok = res.converged & guard.acceptable(res.accuracy)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        again = problem.solve_batch(XaD[bad], yD[bad], None, tol=tol, max_iter=max_iter)
        res.theta[bad], res.converged[bad], res.accuracy[bad] = \
            again.theta, again.converged, again.accuracy
        ok = res.converged & guard.accept(res.accuracy, "dataset")
    if not ok.all():
        r = int(np.flatnonzero(~ok)[0])
        guard.fail(r, None, "Newton did not converge" if not res.converged[r] else
                   f"its attained accuracy {res.accuracy[r]:.1e} is above the limit", max_iter)
    guard.warn()
    Hinv = np.stack([spd_inverse(H) for H in problem.hessian(XaD, res.theta)])
    return res.theta, Hinv


def spd_inverse(H):
    """Inverse of a symmetric positive definite matrix through its Cholesky factor (LAPACK
    potrf/potri); if rounding made H indefinite, of H plus the smallest ridge that makes the
    factorization succeed (a preconditioner: it only needs to be close)."""
    factor = cholesky_upper(H)
    return inverse_from_factor(factor)


def cholesky_upper(H):
    """Upper Cholesky factor of H (single or double precision, as H), adding a ridge of
    1e-12, 1e-10, ... times the mean diagonal if H is not numerically positive definite."""
    potrf, = lapack.get_lapack_funcs(("potrf",), (H,))
    factor, info = potrf(H, lower=0)
    ridge = 1e-12 * max(float(np.abs(np.diag(H)).mean()), np.finfo(float).tiny)
    while info != 0 and ridge < 1e300:
        factor, info = potrf(H + ridge * np.eye(H.shape[0], dtype=H.dtype), lower=0)
        ridge *= 100.0
    if info != 0:
        raise np.linalg.LinAlgError("The Hessian of D could not be factorized.")
    return factor


def inverse_from_factor(factor):
    """Symmetric inverse from an upper Cholesky factor (single or double, as the factor)."""
    potri, = lapack.get_lapack_funcs(("potri",), (factor,))
    inv, info = potri(factor, lower=0)
    if info != 0:
        raise np.linalg.LinAlgError("Could not invert the Hessian of D.")
    inv = np.triu(inv)
    inv += np.triu(inv, 1).T
    return inv


def _fit_large(problem, Xa, y, theta0, tol, max_iter, guard, r):
    """L-BFGS to a loose gradient tolerance, then :func:`_chord_finish` to machine precision.
    Returns ``(theta, H0^{-1})``: H0^{-1} (single precision) is also the candidates'
    preconditioner, which, too, only needs to be close to H_D^{-1}."""
    start = _lbfgs(problem, Xa, y, theta0)
    theta, factor = _chord_finish(problem, Xa, y, start, tol, max_iter, guard, r)
    return theta, inverse_from_factor(factor)


def _single_precision_factor(problem, Xa, theta):
    """Upper Cholesky factor of the Hessian at theta: single precision, double (and a
    ridge) if rounding makes the single-precision Hessian indefinite."""
    factor, info = lapack.spotrf(hessian_upper32(problem, Xa, theta), lower=0)
    if info != 0:
        factor = cholesky_upper(problem.hessian(Xa, theta))
    return factor


def _chord_finish(problem, Xa, y, theta, tol, max_iter, guard, r, max_chord=50):
    """From a point near the optimum to the exact minimizer: chord steps
    ``theta <- theta - H0^{-1} grad(theta)`` with the Hessian H0 at the starting point.

    The chord map has the exact minimizer as its fixed point for any SPD H0, and near the
    optimum it contracts fast, so H0 and its Cholesky factor are single precision (the
    gradient stays double precision, so the answer is unchanged). Verified stop: a step below
    ``tol`` relative to the parameters while the steps contract (ratio < 1/2), or the gradient
    at the rounding level in every coordinate. Otherwise an independent damped Newton solve
    (double precision) takes over. Returns ``(theta, factor)``.
    """
    start = theta
    factor = _single_precision_factor(problem, Xa, theta)
    solve, = lapack.get_lapack_funcs(("potrs",), (factor,))
    last = np.inf
    for _ in range(min(max_chord, max_iter)):
        R = problem.residual(Xa, y, theta)
        grad = problem._gradient_from_residual(R, Xa, theta)
        step, _ = solve(factor, grad.astype(factor.dtype), lower=0)
        step = step.astype(float)
        if not np.all(np.isfinite(step)):
            break
        size = float(np.max(np.abs(step)))
        rel = size / (1.0 + float(np.max(np.abs(theta))))
        ratio, last = size / last, size
        if rel <= tol and ratio < 0.5 and _consistent(grad, step, problem, Xa, theta):
            return theta - step.reshape(theta.shape), factor
        if ratio >= 0.5 and np.all(np.abs(grad) <= problem.rounding_level(Xa, R, theta)):
            if guard.accept(rel, "dataset")[0]:  # at the rounding level: as good as it gets
                return theta, factor
            break
        theta = theta - step.reshape(theta.shape)
    res = problem.solve_batch(Xa[None], y[None], start[None], tol=tol, max_iter=max_iter)
    if not (res.converged[0] and guard.accept(res.accuracy, "dataset")[0]):
        guard.fail(r, None, "Newton did not converge" if not res.converged[0] else
                   f"its attained accuracy {res.accuracy[0]:.1e} is above the limit", max_iter)
    theta = res.theta[0]
    return theta, _single_precision_factor(problem, Xa, theta)


def _consistent(grad, step, problem, Xa, theta):
    """Is the step H0^{-1} grad consistent with an SPD H0 whose largest eigenvalue is at most
    the Hessian's trace (``grad.step >= |grad|^2 / trace``, slack 2)? It fails for a broken
    factorization that makes steps far too small, the one way a wrong answer could pass."""
    P = problem.proba(Xa, theta)
    curv = np.sum(P * (1.0 - P), axis=-1) / (2.0 if problem.m == 1 else 1.0)
    trace = curv @ np.einsum("kd,kd->k", Xa, Xa) + problem.reg.sum() + problem.m
    return 2.0 * float(grad @ step) * trace >= float(grad @ grad)


def _objective_and_gradient(problem, Xa, y):
    """The objective and flat gradient of one dataset as a function of flat parameters, for
    L-BFGS: :meth:`LogisticProblem.objective_and_gradient`; for multinomial problems a leaner
    copy with the true classes' positions computed once (same formulas, no cancellation)."""
    m, d, k = problem.m, problem.d, Xa.shape[0]
    if m == 1:
        return lambda v: problem.objective_and_gradient(Xa, y, v.reshape(1, d))
    XaT = np.ascontiguousarray(Xa.T)
    rows = np.arange(k) + y * k  # true class of each point in class-major logits (m, k)
    reg = problem.reg

    def fun(v):
        theta = v.reshape(m, d)
        Z = theta @ XaT
        flat = Z.reshape(-1)
        picked = flat[rows].sum()
        top = Z.max(axis=0)
        Z -= top
        np.exp(Z, out=Z)
        true = flat[rows]
        flat[rows] = 0.0
        others = Z.sum(axis=0)  # positive terms only
        total = others + true
        value = np.log(total).sum() + top.sum() - picked
        Z /= total
        flat[rows] = -others / total
        grad = (Z @ Xa).reshape(-1) + reg * v
        b_sum = theta[:, -1].sum()
        grad[d - 1::d] += b_sum
        return value + 0.5 * np.dot(reg * v, v) + 0.5 * b_sum**2, grad

    return fun


def _lbfgs(problem, Xa, y, theta0):
    shape = (problem.m, problem.d)
    fun = _objective_and_gradient(problem, Xa, y)

    res = minimize(fun, np.ravel(theta0), jac=True, method="L-BFGS-B",
                   options={"maxiter": LBFGS_ITER, "gtol": 3e-3, "ftol": 0.0, "maxcor": 20})
    theta = res.x.reshape(shape)
    return theta if np.all(np.isfinite(theta)) else np.asarray(theta0, dtype=float)
