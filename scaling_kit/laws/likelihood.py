"""Per-point estimators of individualized scaling laws from sampled contributions.

Every method fits the statistical model of the paper (Covert et al., ICML 2024, Section 3.1,
Eq. 6; docs/math.md §5) to each point's sampled marginal contributions::

    Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)

(``c`` of either sign: negative = harmful point; the variance follows its own power law), all
points at once (vectorized, no Python loop over points):

* ``method="empirical_bayes"`` (default): a population prior over ``(alpha, beta, c/sigma)``
  estimated from all points by marginal likelihood, and each point's posterior under it
  (:mod:`.empirical_bayes`). No tuning knob; never runs to a bound; calibrated intervals. More
  accurate than both maximum-likelihood paths, most of all with few samples per point.
* ``method="newton"``: the exact maximum-likelihood estimate (Newton's method on the profile
  likelihood of ``(log alpha, log beta)``, ``c`` and ``sigma`` in closed form; :mod:`._mle`).
  With few samples the likelihood is flat along the ``(c, alpha)`` ridge and the optimum often
  sits on a bound of the box ``e^-7 <= alpha, beta <= e^2``.
* ``method="adam"``: the paper's procedure (Appendix B and its reference code): Adam with
  ``lr = 0.05`` from ``(alpha, beta) = (1, 2)``, at most 1000 steps, early stopping after 100
  steps without improvement. Early stopping from ``alpha = 1`` acts as an implicit prior.

:func:`profile_nll` and :func:`profile_alpha` give the profile likelihood of one point for
teaching and for profile-likelihood intervals.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._checks import check_int, check_number
from ..exceptions import ConvergenceWarning
from . import _mle
from ._samples import Padded, as_samples, check_method, pad
from .empirical_bayes import fit_empirical_bayes
from .results import ScalingLawResults
from .simulation import simulate_contributions

__all__ = [
    "METHODS",
    "ScalingLawResults",
    "LikelihoodScalingLaw",
    "fit_likelihood",
    "profile_nll",
    "profile_alpha",
    "simulate_contributions",
]

#: The per-point methods, the default first.
METHODS = ("empirical_bayes", "newton", "adam")
LOG_LOWER, LOG_UPPER = _mle.LOG_LOWER, _mle.LOG_UPPER


def _check_options(method, init, max_iter, tol, lr, patience):
    check_method(method, METHODS)
    if max_iter is not None:
        check_int(max_iter, "max_iter", low=1)
    if tol is not None:
        check_number(tol, "tol", low=0.0, low_open=method != "adam")
    check_number(lr, "lr", low=0.0, low_open=True)
    check_int(patience, "patience", low=1)
    if isinstance(init, str):
        if init not in ("auto", "grid"):
            raise ValueError(f"init must be 'auto', 'grid' or (alpha, beta); got {init!r}.")
        return None
    try:
        start = tuple(float(v) for v in init)
    except (TypeError, ValueError):
        raise TypeError(f"init must be 'auto', 'grid' or a pair (alpha, beta); got {init!r}.") \
            from None
    if len(start) != 2 or not (np.isfinite(start).all() and start[0] > 0 and start[1] > 0):
        raise ValueError(f"init=(alpha, beta) must hold two positive numbers; got {init!r}.")
    return start


def fit_likelihood(
    data: pd.DataFrame | None = None,
    *,
    point=None,
    k=None,
    delta=None,
    delta_col: str = "delta",
    method: str = "empirical_bayes",
    init="auto",
    max_iter: int | None = None,
    tol: float | None = None,
    lr: float = 0.05,
    patience: int = 100,
) -> ScalingLawResults:
    """Fit ``Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)`` to every point's samples.

    Parameters
    ----------
    data : DataFrame with columns ``point``, ``k`` and ``delta_col`` (the engine's tidy table,
        one row per sample), or None and the arrays ``point``, ``k``, ``delta``.
    method : ``"empirical_bayes"`` (default; docs/math.md §5), ``"newton"`` (exact MLE) or
        ``"adam"`` (the paper's procedure). See the module docstring.
    init : Newton and Adam only: ``"grid"`` (best cell of a coarse grid of exponents, per
        point), ``(alpha, beta)`` (the same start for every point) or ``"auto"``: grid for
        Newton, ``(1, 2)`` for Adam (the start of the paper's reference code).
    max_iter : Newton iterations (default 100), Adam steps (1000), or EM cycles of the
        empirical-Bayes prior (500).
    tol : Newton: gradient norm (default 1e-7); empirical Bayes: change of the log marginal
        likelihood per point and EM cycle (1e-6); Adam: the decrease that counts as an
        improvement for early stopping (0, the paper's rule).
    lr, patience : Adam's learning rate and early-stopping patience (paper: 0.05, 100).

    Every point needs at least 3 samples at 2 or more distinct sizes. Returns a
    :class:`ScalingLawResults`. Warns with ``ConvergenceWarning`` when a solver stops before
    meeting its criterion (recorded in ``params["converged"]`` and ``params["status"]``).
    """
    start = _check_options(method, init, max_iter, tol, lr, patience)
    point, k, delta = as_samples(data, point, k, delta, delta_col)
    S = pad(point, k, delta)
    if method == "empirical_bayes":
        table, posterior, prior, info = fit_empirical_bayes(
            S, tol=1e-6 if tol is None else tol, max_iter=max_iter or 500)
        res = ScalingLawResults(table, method, (S.k_min, S.k_max), posterior.cov_c_alpha(),
                                prior, info, posterior)
        if not prior.converged:
            warnings.warn(f"The EM of the population prior did not converge in {max_iter or 500}"
                          " cycles; raise max_iter.", ConvergenceWarning, stacklevel=2)
        n_bad = int((table["status"] == "unresolved").sum())
        if n_bad:
            warnings.warn(f"{n_bad} point(s) have posteriors whose grid could not be placed "
                          "(status 'unresolved'); their numbers are approximate.",
                          ConvergenceWarning, stacklevel=2)
        return res
    theta0 = (_mle.grid_init(S) if start is None and (init == "grid" or method == "newton")
              else np.tile(np.log(start or (1.0, 2.0)), (len(S.n), 1)))
    if method == "newton":
        with np.errstate(invalid="ignore", divide="ignore"):  # all-zero points: flagged below
            theta, n_iter, conv = _mle.newton(S, theta0, max_iter=max_iter or 100,
                                              gtol=1e-7 if tol is None else tol)
    else:
        theta, n_iter, conv = _mle.adam(S, theta0, lr=lr, max_steps=max_iter or 1000,
                                        patience=patience, tol=0.0 if tol is None else tol)
    params, cov = _mle.mle_table(S, theta, n_iter, conv)
    n_bad = int((params["status"] == "not converged").sum())
    if n_bad:
        warnings.warn(f"{method}: {n_bad} of {len(params)} point(s) did not converge (status "
                      "'not converged'); raise max_iter.", ConvergenceWarning, stacklevel=2)
    return ScalingLawResults(params, method, (S.k_min, S.k_max), cov)


class LikelihoodScalingLaw(BaseEstimator):
    """scikit-learn style estimator of per-point laws: ``LikelihoodScalingLaw().fit(data)``.

    Parameters are those of :func:`fit_likelihood` (keyword-only). Learned attributes:
    ``results_`` (:class:`ScalingLawResults`), ``params_`` (its table), ``converged_`` (every
    point converged) and ``n_iter_``. ``predict(k)`` returns the estimate of ``psi(k)`` per
    point (rows) and size (columns).
    """

    def __init__(self, *, method="empirical_bayes", init="auto", max_iter=None, tol=None,
                 lr=0.05, patience=100, delta_col="delta"):
        self.method = method
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.lr = lr
        self.patience = patience
        self.delta_col = delta_col

    def fit(self, data=None, *, point=None, k=None, delta=None):
        """Fit every point's law to its samples (see :func:`fit_likelihood`); returns self."""
        self.results_ = fit_likelihood(
            data, point=point, k=k, delta=delta, delta_col=self.delta_col, method=self.method,
            init=self.init, max_iter=self.max_iter, tol=self.tol, lr=self.lr,
            patience=self.patience,
        )
        self.params_ = self.results_.params
        self.converged_ = bool(self.params_["converged"].all())
        self.n_iter_ = int(self.params_["n_iter"].max())
        return self

    def predict(self, k):
        """The estimate of ``psi(k)`` per point (rows) and size (columns)."""
        check_is_fitted(self, "results_")
        return self.results_.predict(k)


# --------------------------------------------------------------------------------------------
# Profiles for teaching and for profile-likelihood intervals
# --------------------------------------------------------------------------------------------
def _one_point(k, delta):
    k, delta = np.atleast_1d(k), np.atleast_1d(delta)
    _, k, delta = as_samples(point=np.zeros(len(k)), k=k, delta=delta)
    return pad(np.zeros(len(k)), k, delta), k, delta


def _repeat(S: Padded, G: int) -> Padded:
    return Padded(np.arange(G), np.repeat(S.delta, G, 0), np.repeat(S.u, G, 0), None,
                  np.repeat(S.n, G), np.repeat(S.log_k0, G), np.repeat(S.scale, G), S.k_min,
                  S.k_max)


def profile_nll(k, delta, alpha, beta):
    """Profile negative log-likelihood per sample of ONE point on a grid of exponents.

    ``f(alpha, beta) = 1/2 log(2 pi e sigma^2(alpha, beta)) - beta/2 mean(log k)`` with
    ``c`` and ``sigma`` at their closed-form optima (docs/math.md §5, paper Appendix B).
    ``alpha`` and ``beta`` broadcast against each other; returns an array of their shape.
    """
    S = _one_point(k, delta)[0]
    a, b = np.broadcast_arrays(np.asarray(alpha, float), np.asarray(beta, float))
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))) or np.any(a <= 0) or np.any(b <= 0):
        raise ValueError("alpha and beta must be positive and finite.")
    rep = _repeat(S, a.size)
    f = 0.5 * np.log(_mle.profile_parts(rep, a.ravel(), b.ravel())[1]) + np.log(S.scale[0])
    return (f + _mle.HALF_LOG_2PI + 0.5).reshape(a.shape)


def profile_alpha(k, delta, alphas=None, level: float = 0.95, beta_init: float = 2.0):
    """Profile likelihood of ``alpha`` for ONE point: maximize over ``c, sigma, beta``.

    Returns ``(table, (lower, upper))``: the table has ``alpha, beta, nll, deviance`` where
    ``deviance = 2 n (nll - min nll)``, and the interval is ``{alpha: deviance <=
    chi2_1(level)}`` read off the grid (Wilks' theorem).
    """
    level = check_number(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    beta_init = check_number(beta_init, "beta_init", low=0.0, low_open=True)
    S, k, delta = _one_point(k, delta)
    if alphas is None:
        fit = fit_likelihood(point=np.zeros(len(k)), k=k, delta=delta, method="newton").params
        a_hat, se = fit["alpha"].iloc[0], fit["alpha_se"].iloc[0]
        se = se if np.isfinite(se) else a_hat
        alphas = np.linspace(max(a_hat - 4 * se, 1e-3), a_hat + 4 * se, 161)
    alphas = np.asarray(alphas, float)
    if alphas.ndim != 1 or alphas.size < 2 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ValueError("alphas must be a 1-D grid of at least 2 positive, finite values.")
    G = len(alphas)
    rep = _repeat(S, G)
    theta0 = np.column_stack([np.log(alphas), np.full(G, np.log(beta_init))])
    fixed = np.zeros((G, 2), bool)
    fixed[:, 0] = True
    theta, _, _ = _mle.newton(rep, theta0, fixed=fixed)
    theta[:, 0] = np.log(alphas)  # exact grid values (not clipped)
    b = np.exp(theta[:, 1])
    f = 0.5 * np.log(_mle.profile_parts(rep, alphas, b)[1]) + np.log(S.scale[0])
    nll = f + _mle.HALF_LOG_2PI + 0.5
    dev = 2 * S.n[0] * (nll - nll.min())
    table = pd.DataFrame({"alpha": alphas, "beta": b, "nll": nll, "deviance": dev})
    inside = alphas[dev <= stats.chi2.ppf(level, 1)]
    return table, (float(inside.min()), float(inside.max()))
