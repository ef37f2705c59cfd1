"""One pass over a drawn dataset D for many parameter vectors at once (the engine's kernels).

* :func:`candidate_gradients`: gradients of ``J_{D+z}`` for A candidates per round, where
  candidate c has its own parameters ``theta_c`` (docs/math.md §7): two matrix products over D
  (logits, then ``X^T (P - Y)``), the candidate's own loss term and the penalty;
* :func:`hessian_upper32`: D's multinomial Hessian in single precision (a preconditioner);
* :func:`test_log_proba` and :func:`test_losses`: test-set log-probabilities and losses for
  many parameter vectors.

Accuracy: the loss derivative ``P - Y`` is formed without cancellation (``-sigmoid(-z)`` for a
positive binary label; for the true class minus the sum of the other classes' probabilities),
as in :class:`scaling_kit.logistic.LogisticProblem`, so saturated problems keep full relative
precision. Layouts: parameters ``(R, A, m, d)`` (round, candidate, class, feature); logits over
D class-major ``(R, k, m, A)``, so that reductions over classes add long contiguous rows.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas
from scipy.special import log_softmax

from ..metrics import check_metrics, losses_from_logp

__all__ = [
    "candidate_gradients",
    "candidate_residual_and_curvature",
    "hessian_upper32",
    "label_rows",
    "test_log_proba",
    "test_losses",
]


def label_rows(yD, m):
    """Row index of each point's true class in class-major logits reshaped to (R*k*m, A)."""
    R, k = yD.shape
    return (np.arange(R * k) * m + yD.ravel()).astype(np.intp)


def _binary_residual_inplace(Z, sign):
    """``Z <- sign * sigmoid(sign * Z)`` = sigmoid(Z) - y with ``sign = 1 - 2y`` (no cancellation)."""
    np.multiply(Z, -sign, out=Z)
    with np.errstate(over="ignore"):
        np.exp(Z, out=Z)
    Z += 1.0
    np.divide(sign, Z, out=Z)


def _multinomial_residual_inplace(Z, rows, shifted=False):
    """Class-major logits Z (R, k, m, A) -> ``P - Y`` in place. Returns False if exp overflowed
    or underflowed (the caller then passes max-shifted logits with ``shifted=True``).

    The usual max-shift is skipped when possible: ``exp(z) / sum exp(z)`` is exact in floating
    point as long as nothing overflows or underflows to zero.
    """
    R, k, m, A = Z.shape
    flat = Z.reshape(R * k * m, A)
    with np.errstate(over="ignore", under="ignore"):
        np.exp(Z, out=Z)
    true = flat[rows]
    flat[rows] = 0.0
    others = Z.sum(axis=2).reshape(R * k, A)  # positive terms only: no cancellation
    total = others + true
    if not shifted and not (np.all(np.isfinite(total)) and total.min() > 1e-300):
        return False
    np.reciprocal(total, out=total)
    Z *= total.reshape(R, k, 1, A)
    flat[rows] = -others * total
    return True


def candidate_residual_and_curvature(problem, z, y):
    """Loss derivative ``p - onehot(y)`` (..., m) and curvature (..., m, m) w.r.t. logits z."""
    if problem.m == 1:
        sign = 1.0 - 2.0 * (y == 1)
        with np.errstate(over="ignore"):
            r = sign / (1.0 + np.exp(-sign * z[..., 0]))
        e = np.exp(-np.abs(z[..., 0]))
        s = e / (1.0 + e) ** 2  # sigmoid(z) (1 - sigmoid(z)) = sigmoid(|z|) sigmoid(-|z|)
        return r[..., None], s[..., None, None]
    P = np.exp(log_softmax(z, axis=-1))
    onehot = y[..., None] == np.arange(problem.K)
    others = np.sum(np.where(onehot, 0.0, P), axis=-1, keepdims=True)
    r = np.where(onehot, -others, P)
    S = P[..., :, None] * (np.eye(problem.K) - P[..., None, :])
    return r, S


def candidate_gradients(problem, XaD, yD, theta, Xz, yz, rows=None):
    """Gradients of J_{D+z} at theta (R, A, m, d) for A candidates per round, flat
    (R, A, m*d), and the candidates' own curvature S_z (R, A, m, m).

    ``rows`` is :func:`label_rows` of ``yD`` (computed here if not given).
    """
    R_, A, m, d = theta.shape
    k = XaD.shape[1]
    if m == 1:
        Z = XaD @ np.swapaxes(theta[:, :, 0, :], 1, 2)  # (R, k, A)
        _binary_residual_inplace(Z, (1.0 - 2.0 * (yD == 1))[:, :, None])
        G = (np.swapaxes(Z, 1, 2) @ XaD)[:, :, None, :]
    else:
        if rows is None:
            rows = label_rows(yD, m)
        cols = np.ascontiguousarray(theta.transpose(0, 2, 1, 3)).reshape(R_, m * A, d)
        Z = (XaD @ np.swapaxes(cols, 1, 2)).reshape(R_, k, m, A)
        if not _multinomial_residual_inplace(Z, rows):
            Z = (XaD @ np.swapaxes(cols, 1, 2)).reshape(R_, k, m, A)
            Z -= Z.max(axis=2, keepdims=True)
            _multinomial_residual_inplace(Z, rows, shifted=True)
        # (P - Y)^T X: class-major rows (R, m*A, d), then candidates first (a block copy)
        G = np.swapaxes(Z.reshape(R_, k, m * A), 1, 2) @ XaD
        G = np.ascontiguousarray(G.reshape(R_, m, A, d).transpose(0, 2, 1, 3))
    Zz = (theta @ Xz[..., None])[..., 0]  # (R, A, m)
    Rz, Sz = candidate_residual_and_curvature(problem, Zz, yz)
    G += Rz[..., None] * Xz[:, :, None, :]
    G += problem.reg.reshape(m, d) * theta
    if m > 1:
        G[..., -1] += theta[..., -1].sum(axis=-1)[..., None]
    return G.reshape(R_, A, m * d), Sz


def hessian_upper32(problem, Xa, theta):
    """Single-precision Hessian of the objective, upper triangle only (what the Cholesky
    factorization reads): ``blockdiag_a(X^T diag(p_a) X) - B^T B`` with ``B = [p_ia x_i]``
    (see :meth:`LogisticProblem.hessian`), the product by ``ssyrk``."""
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


def _test_logits_classmajor(Xa_test, theta):
    """Logits (n_test, m, models) for parameters theta (..., m, d), class-major."""
    m, d = theta.shape[-2:]
    cols = np.moveaxis(theta.reshape(-1, m, d), 1, 0).reshape(-1, d)  # (m * models, d)
    return (Xa_test @ cols.T).reshape(Xa_test.shape[0], m, -1)


def test_log_proba(problem, Xa_test, theta):
    """Class log-probabilities (..., n_test, K) for parameters theta (..., m, d)."""
    theta = np.asarray(theta)
    lead = theta.shape[:-2]
    if problem.m == 1:
        z = (Xa_test @ np.swapaxes(theta, -1, -2))[..., 0]
        # log sigmoid(-z) = -(log1p(exp(-|z|)) + max(z, 0)); log sigmoid(z) = that + z
        lp0 = -np.log1p(np.exp(-np.abs(z)))
        lp0 -= np.maximum(z, 0.0)
        return np.stack([lp0, lp0 + z], axis=-1)
    Z = _test_logits_classmajor(Xa_test, theta)
    Z -= Z.max(axis=1, keepdims=True)
    Z -= np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return np.moveaxis(Z, 2, 0).reshape(lead + (Xa_test.shape[0], problem.m))


def test_losses(problem, Xa_test, y_test, theta, metrics=("log_loss",)):
    """Test losses ``{metric: (...)}`` for parameters theta (..., m, d).

    The log loss ``-mean_t log p(y_t | x_t)`` is computed directly (only the true class's
    log-probability, without forming all of them); other metrics go through
    :func:`test_log_proba` and :func:`scaling_kit.metrics.losses_from_logp`.
    """
    metrics = check_metrics(metrics)
    theta = np.asarray(theta)
    lead = theta.shape[:-2]
    out = {}
    rest = [name for name in metrics if name != "log_loss"]
    if rest:
        out.update(losses_from_logp(test_log_proba(problem, Xa_test, theta), y_test, rest))
    if "log_loss" in metrics:
        y_test = np.asarray(y_test)
        if problem.m == 1:
            # -log p(y | z) = softplus(u), u = (1 - 2y) z: log1p(exp(u)) while exp(u) is finite
            sign = 1.0 - 2.0 * (y_test == 1)
            u = ((sign[:, None] * Xa_test) @ theta.reshape(-1, problem.d).T)  # (n_test, models)
            if u.max() < 700.0:
                np.exp(u, out=u)
                np.log1p(u, out=u)
            else:
                u = np.logaddexp(0.0, u)
            loss = u.mean(axis=0)
        else:
            Z = _test_logits_classmajor(Xa_test, theta)  # (n_test, m, models)
            picked = Z[np.arange(Z.shape[0]), y_test]  # (n_test, models)
            top = None
            if not (Z.max() < 700.0 and Z.min() > -700.0):
                top = Z.max(axis=1, keepdims=True)
                Z -= top
                picked = picked - top[:, 0]
            np.exp(Z, out=Z)
            lse = np.log(Z.sum(axis=1))
            loss = (lse - picked).mean(axis=0)
        out["log_loss"] = loss.reshape(lead)
    return {name: out[name] for name in metrics}
