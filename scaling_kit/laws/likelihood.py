"""Maximum-likelihood estimation of individualized scaling laws (MATH.md section 4).

The statistical model of one sampled marginal contribution of point ``z`` at dataset size
``k`` (Covert et al., ICML 2024, Section 3.1, Eq. 6)::

    Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)

The mean follows the individualized law ``psi_z(k) = c k^-alpha`` (``c`` of either sign:
negative = harmful point); the variance follows its own power law. Given ``(alpha, beta)`` the
maximizing ``c`` and ``sigma`` are closed-form (paper, Appendix B)::

    c(alpha, beta)       = mean(Delta k^(beta - alpha)) / mean(k^(beta - 2 alpha))
    sigma^2(alpha, beta) = mean((Delta - c k^-alpha)^2 k^beta)

and the negative log-likelihood per sample, profiled over ``c`` and ``sigma``, is::

    f(alpha, beta) = 1/2 log(2 pi) + 1/2 + 1/2 log sigma^2(alpha, beta) - beta/2 mean(log k).

Only the two exponents are optimized, on ``(log alpha, log beta)``, for every point at once
(all arrays are ``(n_points, n_samples)``; no Python loop over points):

* ``method="newton"`` (default, exact): Newton's method on the 2-D profile with the closed-form
  gradient and Hessian (derived from the weighted moments below), Levenberg damping where the
  Hessian is not positive definite, backtracking line search, bounds handled by an active set;
  converges to machine precision in a few tens of iterations;
* ``method="adam"``: the paper's procedure (Appendix B and the reference code): Adam with
  ``lr=0.05`` on ``(log alpha, log beta)`` initialized at ``(log 1, log 2)``, at most 1000
  steps, projection ``log alpha, log beta <= 2`` after every step, early stopping after 100
  steps without improvement, best iterate kept (torch, vectorized over points);

Uncertainty: Wald standard errors from the expected Fisher information of the full model at
the MLE. Mean and variance parameters are orthogonal in a Gaussian model, so the ``(c, alpha)``
block is ``sum_j grad(mu_j) grad(mu_j)^T / v_j`` with ``mu_j = c k_j^-alpha``,
``v_j = sigma^2 k_j^-beta``, and the ``(sigma, beta)`` block is
``sum_j grad(v_j) grad(v_j)^T / (2 v_j^2)``. :func:`profile_alpha` gives the profile-likelihood
curve and interval for ``alpha`` of one point.

To keep powers of ``k`` well scaled, each point's sizes are centred: ``u = log k - mean(log k)``,
i.e. ``k0 = geometric mean``; ``c = c0 k0^alpha`` and ``sigma^2 = sigma0^2 k0^beta`` convert back.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "ScalingLawResults",
    "LikelihoodScalingLaw",
    "fit_likelihood",
    "profile_nll",
    "profile_alpha",
    "simulate_contributions",
]

#: Bounds on log alpha and log beta (upper = the paper's projection, log <= 2).
LOG_LOWER = -7.0
LOG_UPPER = 2.0
_METHODS = ("newton", "adam")
_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------
@dataclass
class _Padded:
    """Samples of every point as padded ``(P, n_max)`` arrays (padding has ``mask == 0``)."""

    points: np.ndarray  # (P,) point ids, sorted
    delta: np.ndarray  # (P, n) contributions, 0 where padded
    u: np.ndarray  # (P, n) centred log k, 0 where padded
    mask: np.ndarray | None  # (P, n) 1.0 for real samples; None if no padding
    n: np.ndarray  # (P,) number of samples
    log_k0: np.ndarray  # (P,) mean log k of each point
    k_min: float
    k_max: float


def _as_samples(data=None, point=None, k=None, delta=None, delta_col="delta"):
    """Validate the tidy table or the three arrays; return flat ``(point, k, delta)``."""
    if data is not None:
        if not isinstance(data, pd.DataFrame):
            raise ValueError(
                "data must be a pandas DataFrame with columns 'point', 'k' and "
                f"{delta_col!r} (e.g. from sample_contributions); got {type(data).__name__}. "
                "Pass arrays with point=, k=, delta= instead."
            )
        if point is not None or k is not None or delta is not None:
            raise ValueError("Pass either a DataFrame or the arrays point=, k=, delta=, not both.")
        missing = [col for col in ("point", "k", delta_col) if col not in data.columns]
        if missing:
            raise ValueError(
                f"data lacks column(s) {missing}; it has {list(data.columns)}. Use delta_col= "
                "to name the contribution column (e.g. 'delta_error')."
            )
        point, k, delta = data["point"].to_numpy(), data["k"].to_numpy(), data[delta_col].to_numpy()
    elif point is None or k is None or delta is None:
        raise ValueError("Give a tidy DataFrame, or all three arrays point=, k= and delta=.")
    point, k, delta = np.asarray(point), np.asarray(k), np.asarray(delta)
    for name, arr in (("point", point), ("k", k), ("delta", delta)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    if not (len(point) == len(k) == len(delta)):
        raise ValueError(
            f"point, k and delta must have the same length; got {len(point)}, {len(k)}, {len(delta)}."
        )
    if len(delta) == 0:
        raise ValueError("No samples given.")
    try:
        k = k.astype(float)
        delta = delta.astype(float)
    except (TypeError, ValueError) as err:
        raise ValueError("k and delta must be numeric.") from err
    if not np.all(np.isfinite(delta)):
        raise ValueError(
            f"delta has {int(np.sum(~np.isfinite(delta)))} NaN/inf value(s); drop or fix those "
            "samples before fitting."
        )
    if not np.all(np.isfinite(k)):
        raise ValueError("k has NaN/inf values; every sample needs a finite dataset size.")
    if np.any(k <= 0):
        raise ValueError(
            f"Dataset sizes k must be positive (the law is c k^-alpha); got min k = {k.min():g}."
        )
    if pd.isna(point).any():
        raise ValueError("point has missing ids.")
    return point, k, delta


def _pad(point, k, delta, min_samples=3, check_spread=True) -> _Padded:
    points, codes, counts = np.unique(point, return_inverse=True, return_counts=True)
    few = counts < min_samples
    if few.any():
        raise ValueError(
            f"{int(few.sum())} point(s) have fewer than {min_samples} samples (e.g. point "
            f"{points[few][0]!r} has {counts[few][0]}); the law has four parameters, so each "
            f"point needs at least {min_samples} samples at two or more sizes k. Sample more "
            "or drop those points."
        )
    order = np.argsort(codes, kind="stable")
    codes_s = codes[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(codes_s)) - starts[codes_s]
    P, n_max = len(points), int(counts.max())
    logk = np.zeros((P, n_max))
    dl = np.zeros((P, n_max))
    mask = np.zeros((P, n_max))
    logk[codes_s, pos] = np.log(k[order])
    dl[codes_s, pos] = delta[order]
    mask[codes_s, pos] = 1.0
    n = counts.astype(float)
    log_k0 = logk.sum(1) / n
    u = (logk - log_k0[:, None]) * mask
    if np.all(mask == 1.0):
        mask = None  # no padding: skip the masking work
    spread = np.sqrt((u**2).sum(1) / n)
    flat = spread < 1e-12
    if check_spread and flat.any():
        raise ValueError(
            f"{int(flat.sum())} point(s) were sampled at a single dataset size (e.g. point "
            f"{points[flat][0]!r}); the exponent alpha needs samples at two or more k."
        )
    return _Padded(points, dl, u, mask, n, log_k0, float(k.min()), float(k.max()))


# --------------------------------------------------------------------------------------------
# The profile likelihood and its derivatives (closed form)
# --------------------------------------------------------------------------------------------
def _slice(S: _Padded, idx):
    if idx is None:
        return S.delta, S.u, S.mask, S.n
    mask = None if S.mask is None else S.mask[idx]
    return S.delta[idx], S.u[idx], mask, S.n[idx]


def _rowsum(*arrays):
    """Row sums of the elementwise product, fused by einsum (no temporaries)."""
    return np.einsum(",".join(["pn"] * len(arrays)) + "->p", *arrays)


def _profile_parts(S: _Padded, a, b, idx=None):
    """``c0(alpha, beta)`` and ``S(alpha, beta) = min_c mean((Delta - c F)^2 E)`` with
    ``E = exp(beta u)``, ``F = exp(-alpha u)`` (so ``sigma0^2 = S``), in residual form."""
    d, u, m, n = _slice(S, idx)
    E = np.multiply(u, b[:, None])
    np.exp(E, out=E)
    if m is not None:
        E *= m
    F = np.multiply(u, -a[:, None])
    np.exp(F, out=F)
    C0 = _rowsum(F, F, E) / n
    c0 = _rowsum(d, F, E) / n / C0
    r = np.multiply(F, c0[:, None])
    np.subtract(d, r, out=r)
    S2 = _rowsum(r, r, E) / n
    A0 = _rowsum(d, d, E) / n
    return c0, np.maximum(S2, 1e-300 + 1e-30 * A0), (E, F, r, u, n, C0)


def _f_theta(S, theta, idx=None):
    a, b = np.exp(theta[:, 0]), np.exp(theta[:, 1])
    return 0.5 * np.log(_profile_parts(S, a, b, idx)[1])


def _grad_hess_theta(S, theta, idx=None):
    """Value, gradient and Hessian of ``f = 1/2 log S`` in ``theta = (log alpha, log beta)``.

    ``S(c, alpha, beta) = mean((Delta - c F)^2 E)``; by the envelope theorem the profile's
    derivatives are the partial ones at the optimal ``c``, and its Hessian is the Schur
    complement ``S_xy - S_xc S_yc / S_cc`` (x, y in alpha, beta). Residual form avoids the
    cancellation of ``A - B^2 / C``.
    """
    x = np.exp(theta)
    a, b = x[:, 0], x[:, 1]
    c, Sv, (E, F, r, u, n, C0) = _profile_parts(S, a, b, idx)

    uu = u * u
    rE = r * E
    m_r2u, m_r2uu = _rowsum(rE, r, u) / n, _rowsum(rE, r, uu) / n
    del rE
    FE = F * E
    m_rFu, m_rFuu = _rowsum(r, FE, u) / n, _rowsum(r, FE, uu) / n
    m_F2u, m_F2uu = _rowsum(F, FE, u) / n, _rowsum(F, FE, uu) / n
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


#: Starting grid of the default Newton fit (log alpha, log beta), the best cell per point wins.
_GRID_ALPHA = np.array([0.1, 0.4, 0.8, 1.2, 1.8, 3.0])
_GRID_BETA = np.array([1.0, 2.5, 4.5])


def _grid_init(S: _Padded):
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
        As.append(_rowsum(d, d, E) / n)
    for a in _GRID_ALPHA:
        F = np.exp(-a * u)
        F2 = F * F
        dF = d * F
        for b, E, A in zip(_GRID_BETA, Es, As):
            B = _rowsum(dF, E) / n
            C = _rowsum(F2, E) / n
            f = np.log(np.maximum(A - B * B / C, 1e-300))
            better = f < best
            best[better] = f[better]
            theta[better] = (np.log(a), np.log(b))
    return theta


def _newton(S, theta0, fixed=None, max_iter=100, gtol=1e-7):
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
        f, g, H = _grad_hess_theta(S, th, idx=active)
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
            fc = _f_theta(S, cand, idx=active[todo])
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


@contextmanager
def torch_threads(n_elements: int, threshold: int = 1 << 20):
    """Run small torch workloads on one thread (restored afterwards): for arrays of a few
    thousand elements, thread start-up and contention cost far more than they save."""
    import torch

    before = torch.get_num_threads()
    if n_elements < threshold:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _adam(S, theta0, lr=0.05, max_steps=1000, patience=100):
    """The paper's procedure (Appendix B) vectorized over points with torch: Adam on
    (log alpha, log beta), projection to <= 2, per-point early stopping, best iterate kept."""
    with torch_threads(S.delta.size):
        return _adam_loop(S, theta0, lr, max_steps, patience)


def _adam_loop(S, theta0, lr, max_steps, patience):
    import torch

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
        improved = live & (fv < best)
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


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass
class ScalingLawResults:
    """Fitted individualized scaling laws ``psi_z(k) = c k^-alpha`` for many points.

    Attributes
    ----------
    params_ : DataFrame indexed by point
        ``c, alpha, sigma, beta`` (variance law ``sigma^2 k^-beta``), their standard errors
        ``c_se, alpha_se, sigma_se, beta_se`` (NaN where the estimator gives none),
        ``n_samples``, ``nll`` (mean negative log-likelihood per sample), ``converged`` and
        ``status`` (``"ok"``, ``"not converged"``, ``"at bound"``, ``"degenerate"``).
    cov_ : ndarray (n_points, 2, 2) or None
        Covariance of ``(c, alpha)`` (expected Fisher information).
    method : str
    k_range : (k_min, k_max) of the samples the laws were fitted on.
    """

    params_: pd.DataFrame
    cov_: np.ndarray | None = None
    method: str = ""
    k_range: tuple = (np.nan, np.nan)
    info: dict = field(default_factory=dict)

    @property
    def points(self) -> pd.Index:
        return self.params_.index

    def predict(self, k, return_se: bool = False):
        """``c k^-alpha`` for every point (rows) at each ``k`` (columns).

        With ``return_se=True`` also the delta-method standard error of the mean curve,
        ``se^2 = g^T Cov(c, alpha) g`` with ``g = (k^-alpha, -c log(k) k^-alpha)``.
        """
        k = np.atleast_1d(np.asarray(k, dtype=float))
        if k.ndim != 1 or np.any(~np.isfinite(k)) or np.any(k <= 0):
            raise ValueError("k must be a 1-D array of positive, finite dataset sizes.")
        c = self.params_["c"].to_numpy()[:, None]
        a = self.params_["alpha"].to_numpy()[:, None]
        kp = k[None, :] ** (-a)
        pred = pd.DataFrame(c * kp, index=self.params_.index, columns=pd.Index(k, name="k"))
        if not return_se:
            return pred
        if self.cov_ is None:
            raise ValueError(f"The {self.method} fit has no covariance; use return_se=False.")
        g0 = kp
        g1 = -c * np.log(k)[None, :] * kp
        cov = self.cov_
        var = g0**2 * cov[:, 0, 0, None] + 2 * g0 * g1 * cov[:, 0, 1, None] + g1**2 * cov[:, 1, 1, None]
        se = pd.DataFrame(np.sqrt(var), index=self.params_.index, columns=pred.columns)
        return pred, se

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals ``estimate +- z * se`` for ``c`` and ``alpha`` (statsmodels style)."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1); got {level}.")
        z = stats.norm.ppf(0.5 + level / 2)
        p = self.params_
        return pd.DataFrame(
            {
                "c_lower": p["c"] - z * p["c_se"],
                "c_upper": p["c"] + z * p["c_se"],
                "alpha_lower": p["alpha"] - z * p["alpha_se"],
                "alpha_upper": p["alpha"] + z * p["alpha_se"],
            }
        )

    def summary(self) -> pd.DataFrame:
        """One-row-per-statistic overview: quantiles of the parameters, convergence counts."""
        p = self.params_
        cols = ["c", "alpha", "sigma", "beta", "alpha_se"]
        desc = p[cols].describe(percentiles=[0.05, 0.5, 0.95]).T
        desc["n_not_converged"] = [int((~p["converged"]).sum())] + [np.nan] * (len(cols) - 1)
        desc.attrs["method"] = self.method
        desc.attrs["k_range"] = self.k_range
        return desc

    def __repr__(self):
        p = self.params_
        return (
            f"ScalingLawResults(method={self.method!r}, n_points={len(p)}, "
            f"k_range={self.k_range}, converged={int(p['converged'].sum())}/{len(p)}, "
            f"median alpha={np.nanmedian(p['alpha']):.3g})"
        )


def _results_from_theta(S: _Padded, theta, n_iter, converged, method, info=None):
    a, b = np.exp(theta[:, 0]), np.exp(theta[:, 1])
    c0, s2, (E, F, _, u, n, C0) = _profile_parts(S, a, b)
    C1, C2 = _rowsum(F, F, E, u) / n, _rowsum(F, F, E, u, u) / n
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
    c = c0 * k0a
    J = np.zeros((len(n), 2, 2))
    J[:, 0, 0] = k0a
    J[:, 0, 1] = c * S.log_k0
    J[:, 1, 1] = 1.0
    with np.errstate(invalid="ignore"):
        cov = np.einsum("pij,pjk,plk->pil", J, cov0, J)
    cov[bad] = np.inf
    sigma0 = np.sqrt(s2)
    sigma = sigma0 * np.exp(0.5 * b * S.log_k0)
    su2 = (S.u**2).sum(1)
    var_b = 2.0 / su2
    var_s0 = s2 / (2 * n)
    sigma_se = np.sqrt(np.exp(b * S.log_k0) * var_s0 + (0.5 * sigma * S.log_k0) ** 2 * var_b)
    with np.errstate(divide="ignore"):
        nll = _HALF_LOG_2PI + 0.5 + 0.5 * np.log(s2)  # sigma^2 k^-beta = sigma0^2 (k/k0)^-beta
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
    return ScalingLawResults(params, cov, method, (S.k_min, S.k_max), info or {})


def fit_likelihood(
    data: pd.DataFrame | None = None,
    *,
    point=None,
    k=None,
    delta=None,
    delta_col: str = "delta",
    method: str = "newton",
    init="auto",
    max_iter: int | None = None,
    lr: float = 0.05,
    patience: int = 100,
) -> ScalingLawResults:
    """Maximum-likelihood fit of ``Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)`` per point.

    Parameters
    ----------
    data : DataFrame with columns ``point``, ``k`` and ``delta_col`` (the engine's tidy
        table, one row per sample), or None and the arrays ``point``, ``k``, ``delta``.
    method : ``"newton"`` (exact, default) or ``"adam"`` (the paper's procedure, Appendix B:
        Adam with ``lr`` 0.05, at most ``max_iter`` = 1000 steps, early stop after
        ``patience`` = 100 steps without improvement).
    init : ``"grid"`` (best cell of a coarse grid of exponents, per point), ``(alpha, beta)``
        (the same start for every point) or ``"auto"``: grid for Newton, ``(1, 2)`` for Adam
        (the start of the paper's reference code). The profile is not convex: the same start
        gives the same local optimum, the grid guards against poor ones.

    Every point needs at least 3 samples at 2 or more distinct sizes. All points are fitted
    at once (vectorized). Returns a :class:`ScalingLawResults`; ``converged`` is False where
    the optimizer stopped without meeting its criterion (Newton: gradient below 1e-7; Adam:
    early stopping fired before ``max_iter``).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    point, k, delta = _as_samples(data, point, k, delta, delta_col)
    S = _pad(point, k, delta)
    if isinstance(init, str):
        if init not in ("auto", "grid"):
            raise ValueError(f"init must be 'auto', 'grid' or (alpha, beta); got {init!r}.")
        use_grid = init == "grid" or method == "newton"
        start = (1.0, 2.0)
    else:
        start = tuple(float(v) for v in init)
        if len(start) != 2 or not (start[0] > 0 and start[1] > 0):
            raise ValueError(f"init=(alpha, beta) must hold two positive numbers; got {init!r}.")
        use_grid = False
    if use_grid:
        theta0 = _grid_init(S)
    else:
        theta0 = np.tile(np.log(start), (len(S.n), 1))
    if method == "newton":
        with np.errstate(invalid="ignore", divide="ignore"):  # all-zero points: flagged below
            theta, n_iter, conv = _newton(S, theta0, max_iter=max_iter or 100)
    else:
        theta, n_iter, conv = _adam(S, theta0, lr=lr, max_steps=max_iter or 1000, patience=patience)
    return _results_from_theta(S, theta, n_iter, conv, method)


class LikelihoodScalingLaw:
    """scikit-learn style wrapper: ``LikelihoodScalingLaw(method=...).fit(data)``.

    Learned attributes: ``results_`` (:class:`ScalingLawResults`), ``params_`` (its table).
    ``predict(k)`` returns ``c k^-alpha`` per point (rows) and size (columns).
    """

    def __init__(self, method: str = "newton", init="auto", max_iter: int | None = None,
                 delta_col: str = "delta"):
        self.method = method
        self.init = init
        self.max_iter = max_iter
        self.delta_col = delta_col

    def fit(self, data=None, *, point=None, k=None, delta=None):
        self.results_ = fit_likelihood(
            data, point=point, k=k, delta=delta, delta_col=self.delta_col, method=self.method,
            init=self.init, max_iter=self.max_iter,
        )
        self.params_ = self.results_.params_
        return self

    def predict(self, k):
        if not hasattr(self, "results_"):
            raise ValueError("This LikelihoodScalingLaw is not fitted yet; call fit(data) first.")
        return self.results_.predict(k)


# --------------------------------------------------------------------------------------------
# Profiles for teaching and for profile-likelihood intervals
# --------------------------------------------------------------------------------------------
def profile_nll(k, delta, alpha, beta):
    """Profile negative log-likelihood per sample of ONE point on a grid of exponents.

    ``f(alpha, beta) = 1/2 log(2 pi e sigma^2(alpha, beta)) - beta/2 mean(log k)`` with
    ``c`` and ``sigma`` at their closed-form optima (MATH.md section 4, paper Appendix B).
    ``alpha`` and ``beta`` broadcast against each other; returns an array of their shape.
    """
    _, k, delta = _as_samples(point=np.zeros(len(np.atleast_1d(k))), k=np.atleast_1d(k),
                              delta=np.atleast_1d(delta))
    S = _pad(np.zeros(len(k)), k, delta)
    a, b = np.broadcast_arrays(np.asarray(alpha, float), np.asarray(beta, float))
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError("alpha and beta must be positive.")
    G = a.size
    rep = _Padded(np.arange(G), np.repeat(S.delta, G, 0), np.repeat(S.u, G, 0), None,
                  np.repeat(S.n, G), np.repeat(S.log_k0, G), S.k_min, S.k_max)
    f = 0.5 * np.log(_profile_parts(rep, a.ravel(), b.ravel())[1])
    return (f + _HALF_LOG_2PI + 0.5).reshape(a.shape)


def profile_alpha(k, delta, alphas=None, level: float = 0.95, beta_init: float = 2.0):
    """Profile likelihood of ``alpha`` for ONE point: maximize over ``c, sigma, beta``.

    Returns ``(table, (lower, upper))``: the table has ``alpha, beta, nll, deviance`` where
    ``deviance = 2 n (nll - min nll)``, and the interval is ``{alpha: deviance <=
    chi2_1(level)}`` read off the grid (Wilks' theorem).
    """
    _, k, delta = _as_samples(point=np.zeros(len(np.atleast_1d(k))), k=np.atleast_1d(k),
                              delta=np.atleast_1d(delta))
    if alphas is None:
        fit = fit_likelihood(point=np.zeros(len(k)), k=k, delta=delta)
        a_hat, se = fit.params_["alpha"].iloc[0], fit.params_["alpha_se"].iloc[0]
        se = se if np.isfinite(se) else a_hat
        alphas = np.linspace(max(a_hat - 4 * se, 1e-3), a_hat + 4 * se, 161)
    alphas = np.asarray(alphas, float)
    if alphas.ndim != 1 or np.any(alphas <= 0):
        raise ValueError("alphas must be a 1-D grid of positive values.")
    S = _pad(np.zeros(len(k)), k, delta)
    G = len(alphas)
    rep = _Padded(np.arange(G), np.repeat(S.delta, G, 0), np.repeat(S.u, G, 0), None,
                  np.repeat(S.n, G), np.repeat(S.log_k0, G), S.k_min, S.k_max)
    theta0 = np.column_stack([np.log(alphas), np.full(G, np.log(beta_init))])
    fixed = np.zeros((G, 2), bool)
    fixed[:, 0] = True
    theta, _, _ = _newton(rep, theta0, fixed=fixed)
    theta[:, 0] = np.log(alphas)  # exact grid values (not clipped)
    b = np.exp(theta[:, 1])
    f = 0.5 * np.log(_profile_parts(rep, alphas, b)[1])
    nll = f + _HALF_LOG_2PI + 0.5
    dev = 2 * S.n[0] * (nll - nll.min())
    table = pd.DataFrame({"alpha": alphas, "beta": b, "nll": nll, "deviance": dev})
    inside = alphas[dev <= stats.chi2.ppf(level, 1)]
    return table, (float(inside.min()), float(inside.max()))


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------
def simulate_contributions(c, alpha, sigma, beta, k_range=None, ks=None, n_samples=100,
                           random_state=None) -> pd.DataFrame:
    """Draw ``Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)`` for each point (MATH.md section 4).

    ``c, alpha, sigma, beta`` are scalars or arrays (broadcast to the number of points).
    Sizes: ``k_range=(k_min, k_max)`` draws each sample's ``k`` uniformly among the integers
    of the range (``n_samples`` per point); ``ks=[...]`` uses ``n_samples`` per point and size.
    Returns the engine's tidy table: columns ``point, k, sample, delta``.
    """
    c, alpha, sigma, beta = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, float))
                                                  for v in (c, alpha, sigma, beta)))
    if c.ndim != 1:
        raise ValueError("c, alpha, sigma, beta must be scalars or 1-D arrays.")
    if not all(np.all(np.isfinite(v)) for v in (c, alpha, sigma, beta)):
        raise ValueError("Parameters must be finite.")
    if np.any(sigma < 0):
        raise ValueError("sigma must be non-negative.")
    if int(n_samples) < 1:
        raise ValueError("n_samples must be a positive integer.")
    if (k_range is None) == (ks is None):
        raise ValueError("Give exactly one of k_range=(k_min, k_max) or ks=[...].")
    rng = np.random.default_rng(random_state)
    P, n = len(c), int(n_samples)
    if k_range is not None:
        lo, hi = k_range
        if not (0 < lo <= hi):
            raise ValueError(f"k_range must satisfy 0 < k_min <= k_max; got {k_range}.")
        k = rng.integers(int(lo), int(hi) + 1, size=(P, n)).astype(float)
        sample = np.tile(np.arange(n), (P, 1))
    else:
        ks = np.asarray(ks, float)
        if ks.ndim != 1 or np.any(ks <= 0):
            raise ValueError("ks must be a 1-D array of positive sizes.")
        k = np.tile(np.repeat(ks, n), (P, 1))
        sample = np.tile(np.tile(np.arange(n), len(ks)), (P, 1))
    mean = c[:, None] * k ** (-alpha[:, None])
    sd = sigma[:, None] * k ** (-beta[:, None] / 2)
    delta = mean + sd * rng.standard_normal(k.shape)
    return pd.DataFrame(
        {
            "point": np.repeat(np.arange(P), k.shape[1]),
            "k": k.ravel().astype(int),
            "sample": sample.ravel(),
            "delta": delta.ravel(),
        }
    )
