"""One design, looked at closely: the OLS rank-one update against refits, and the two terms
of its expected contribution (Covert et al. Appendix A.1; docs/math.md §4.2-4.3).

Used by notebook 03 to open the theory: first the exact contribution of one point to one
dataset, then its average over the label noise of that dataset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._checks import check_array, check_number
from ._inputs import _check_cov
from .ols import (
    GaussianLinearModel,
    _ols_inputs,
    _solve_points,
    ols_marginal_contribution,
    ols_refit_contribution,
)

__all__ = ["ols_expectation_terms", "ols_rank_one_check"]


def ols_expectation_terms(A, x_z, e_z, cov, noise_std) -> pd.DataFrame:
    """The two terms of the exact ``E[Delta | X]`` for one design, one row per point.

    With ``h = x_z^T A^-1 x_z`` and ``q = x_z^T A^-1 Sigma A^-1 x_z`` (docs/math.md §4.2-4.3;
    Covert et al. Appendix A.1), averaging ``Delta = -2 r u^T Sigma d / (1+h) - r^2 q / (1+h)^2``
    over the label noise of ``D`` gives

    * ``helpful = 2 sigma^2 q / (1 + h)``: the residual ``r`` of ``z`` under ``theta_D`` is
      correlated with the fit's error ``d`` (``E[r u^T Sigma d] = -sigma^2 q``), so the update
      corrects the fit along ``x_z``;
    * ``harmful = -(e_z^2 + sigma^2 h) q / (1 + h)^2``: the update also moves the fit by ``r``
      itself, of mean square ``E[r^2] = e_z^2 + sigma^2 h`` (the point's own noise plus the
      fit's error at ``x_z``).

    ``expected = helpful + harmful`` (= :func:`ols_expected_contribution`) vanishes at
    ``e_z^2 / sigma^2 = 2 + h`` (column ``root``). ``A`` is one Gram matrix ``X^T X`` (p, p).
    Columns: ``e2/sigma2, h, q, helpful, harmful, expected, root``.
    """
    A = np.asarray(A, dtype=float)
    if A.ndim != 2:
        raise ValueError(f"A must be one Gram matrix X^T X of shape (p, p); got {A.shape}.")
    A, _, x_z, e_z = _ols_inputs(A, None, x_z, e_z, cov)
    s2 = check_number(noise_std, "noise_std", low=0.0, low_open=True) ** 2
    u = _solve_points(A, x_z)
    h = np.einsum("mp,mp->m", u, x_z)
    q = np.einsum("mp,pq,mq->m", u, _check_cov(cov), u)
    helpful = 2.0 * s2 * q / (1.0 + h)
    harmful = -(e_z**2 + s2 * h) * q / (1.0 + h) ** 2
    return pd.DataFrame({"e2/sigma2": e_z**2 / s2, "h": h, "q": q, "helpful": helpful,
                         "harmful": harmful, "expected": helpful + harmful, "root": 2.0 + h}
                        ).rename_axis("point")


def ols_rank_one_check(model, X, y, x_z, e_z) -> pd.DataFrame:
    """The rank-one update against two least-squares refits on one dataset, one row per point.

    ``rank_one`` is :func:`ols_marginal_contribution` (Sherman-Morrison, docs/math.md §4.2),
    ``refit`` is :func:`ols_refit_contribution` (``numpy.linalg.lstsq`` on ``D`` and ``D + z``,
    with ``y_z = x_z^T coef + e_z``). ``tolerance`` is the rounding bound both must meet:
    each path evaluates population losses of size ``L(theta_D)`` from solutions of systems with
    condition number ``cond(A)``, ``A = X^T X``, so each carries an absolute error of a few
    ``eps cond(A) L``; the bound is ``100 eps cond(A) L(theta_D)`` (100 covers the ``O(p)``
    accumulated operations). Columns: ``rank_one, refit, abs_diff, tolerance``.
    """
    if not isinstance(model, GaussianLinearModel):
        raise TypeError(f"model must be a GaussianLinearModel; got {type(model).__name__}.")
    X = check_array(X, "X")
    y = check_array(y, "y", ndim=1)
    x_z = check_array(np.atleast_2d(np.asarray(x_z, dtype=float)), "x_z")
    e_z = check_array(np.atleast_1d(np.asarray(e_z, dtype=float)), "e_z", ndim=1)
    if y.shape != (X.shape[0],) or X.shape[1] != model.n_features:
        raise ValueError(f"X must be (k, {model.n_features}) and y (k,); got {X.shape}, {y.shape}.")
    if X.shape[0] < model.n_features:
        raise ValueError("X: need at least p points in D for OLS to be defined.")
    A = X.T @ X
    fast = ols_marginal_contribution(A, X.T @ (y - X @ model.coef), x_z, e_z, model.cov)
    slow = np.array([ols_refit_contribution(X, y, x, x @ model.coef + e, model)
                     for x, e in zip(x_z, e_z)])
    loss = float(model.population_loss(np.linalg.lstsq(X, y, rcond=None)[0]))
    tol = 100 * np.finfo(float).eps * np.linalg.cond(A) * loss
    return pd.DataFrame({"rank_one": fast, "refit": slow, "abs_diff": np.abs(fast - slow),
                         "tolerance": tol}).rename_axis("point")
