"""Monte Carlo error of the log-linear validation, and whether the exponents are individual.

The validation of :mod:`scaling_kit.laws.validation` (Covert et al. 2024, Sections 2.1 and 4.1;
docs/math.md §3.5) estimates ``psi_z(k)`` by the mean of ``n`` sampled contributions, fits
``log|mean| = log|c| - alpha log k`` per point by OLS, and reports the per-point R^2, the R^2
across points (the paper's Table 1 statistic) and the distribution of alpha. Every one of these
numbers carries the Monte Carlo error of the means. :func:`bootstrap_validation` measures it:

* each replicate resamples, for every k, the sample indices ``0..n-1`` with replacement, the
  same indices for every point (with shared datasets, sample s of different points mostly
  comes from the same drawn D, so the resampling keeps most of the correlation between the
  points' means at one k), recomputes the means and refits every law; by default it also
  resamples the points (a two-stage bootstrap: points, then samples within points; Davison
  and Hinkley 1997, Section 3.8), since the statistics describe a pool's points;
* the fits of a replicate are the closed-form OLS of ``fit_loglinear_laws`` (``c_method="log"``,
  sign-changing points left unfitted), vectorized over replicates and points:
  ``alpha = -S_xy / S_xx``, ``log|c| = mean(y) + alpha mean(x)``, ``R^2 = S_xy^2 / (S_xx S_yy)``
  with ``x = log k``, ``y = log|mean|``; the R^2 across points at k is
  ``1 - sum_z (mean - c k^-alpha)^2 / sum_z (mean - mean over z)^2`` over the fitted points,
  averaged over k (the Table 1 statistic).

The standard error of a statistic is the standard deviation of its replicates (Efron and
Tibshirani 1993, Chapter 6); ``conf_int`` gives percentile intervals. Where a law fits the
means to within their noise (R^2 near 1), ``1 - R^2`` is quadratic in that noise and each
replicate adds the resampling noise to the data's: the standard error of an R^2 is then
conservative, up to about twice the spread over repeated experiments (tested); elsewhere it
agrees with that spread.

:meth:`ValidationBootstrap.alpha_heterogeneity` asks whether the points' exponents differ by
more than their Monte Carlo error, the premise of *individualized* laws: Cochran's
``Q = sum_z w_z (alpha_z - alpha_bar)^2`` with ``w_z = 1 / se_z^2`` (bootstrap standard errors)
and ``alpha_bar = sum w alpha / sum w`` is chi-square with ``n - 1`` degrees of freedom when all
points share one exponent (Cochran 1954); ``I^2 = (Q - df) / Q`` is the share of the spread of
the alpha estimates that the Monte Carlo error does not explain (Higgins and Thompson 2002).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._checks import check_bool, check_int, check_number, seed_sequence
from ..contributions import summarize_contributions
from ..results import Summary
from .validation import fit_loglinear_laws

__all__ = ["AlphaHeterogeneity", "ValidationBootstrap", "bootstrap_validation",
           "loglinear_statistics"]

#: The statistics of one validation, in the order of the tables.
STATISTICS = ("r2_across_points", "median_r2", "alpha_median", "fraction_alpha_positive",
              "n_fitted")


# ------------------------------------------------------------------------------------------
# the fit, vectorized over replicates
# ------------------------------------------------------------------------------------------
def loglinear_statistics(means, ks, *, min_k=3) -> dict:
    """The log-linear fits of many tables of means at once (replicates x points x sizes).

    ``means`` has shape ``(B, P, K)`` (or ``(P, K)``): mean contributions of P points at the K
    sizes ``ks``. Per (replicate, point), a point is fitted when its K means are nonzero and of
    one sign (else ``alpha`` and ``r2`` are NaN, as ``fit_loglinear_laws(sign_change="flag")``
    leaves such points unfitted); the fit is the OLS of ``log|mean|`` on ``log k``.

    Returns a dict of arrays: ``alpha``, ``log_abs_c``, ``r2`` (``(B, P)``), ``r2_by_k``
    (``(B, K)``: R^2 across the fitted points at each k, NaN with fewer than two) and, per
    replicate (``(B,)``), the statistics of :data:`STATISTICS`. Equal to
    :func:`~scaling_kit.laws.validation.fit_loglinear_laws` up to rounding (tested).
    """
    m = np.asarray(means, dtype=float)
    single = m.ndim == 2
    if single:
        m = m[None]
    if m.ndim != 3:
        raise ValueError(f"means must have shape (replicates, points, sizes); got {m.shape}.")
    ks = np.asarray(ks, dtype=float)
    if ks.shape != (m.shape[2],) or np.any(ks <= 0) or len(np.unique(ks)) != ks.size:
        raise ValueError(f"ks must hold {m.shape[2]} distinct positive sizes (one per column of "
                         f"means); got {ks.tolist()}.")
    min_k = check_int(min_k, "min_k", low=3)
    if ks.size < min_k:
        raise ValueError(f"The log-linear validation needs at least {min_k} sizes; got {ks.size}.")
    if not np.all(np.isfinite(m)):
        raise ValueError("means contains NaN or infinite values.")
    sign = np.sign(m[..., :1])
    fitted = np.all(np.sign(m) == sign, axis=2) & (sign[..., 0] != 0)
    x = np.log(ks)
    xc = x - x.mean()
    sxx = np.sum(xc**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(np.abs(m))
        yc = y - y.mean(axis=2, keepdims=True)
        sxy = yc @ xc
        syy = np.sum(yc**2, axis=2)
        slope = sxy / sxx
        alpha = np.where(fitted, -slope, np.nan)
        log_abs_c = np.where(fitted, y.mean(axis=2) - slope * x.mean(), np.nan)
        r2 = np.where(fitted, np.where(syy > 0, sxy**2 / (sxx * syy), 0.0), np.nan)
        law = sign * np.exp(log_abs_c[..., None] - alpha[..., None] * x)  # (B, P, K)
    w = fitted[..., None]
    n_fit = fitted.sum(axis=1)  # (B,)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.sum(np.where(w, m, 0.0), axis=1) / n_fit[:, None]
        ss_res = np.sum(np.where(w, (m - law) ** 2, 0.0), axis=1)
        ss_tot = np.sum(np.where(w, (m - centre[:, None, :]) ** 2, 0.0), axis=1)
        r2_by_k = np.where((n_fit[:, None] >= 2) & (ss_tot > 0), 1.0 - ss_res / ss_tot, np.nan)
    out = {
        "alpha": alpha, "log_abs_c": log_abs_c, "r2": r2, "r2_by_k": r2_by_k,
        "r2_across_points": _nanmean(r2_by_k),
        "median_r2": _nanmedian(r2),
        "alpha_median": _nanmedian(alpha),
        "fraction_alpha_positive": np.where(n_fit > 0, np.sum(alpha > 0, axis=1)
                                            / np.maximum(n_fit, 1), np.nan),
        "n_fitted": n_fit.astype(float),
    }
    if single:
        out = {key: value[0] for key, value in out.items()}
    return out


def _nanmean(a):
    ok = np.isfinite(a)
    return np.where(ok.any(axis=1), np.sum(np.where(ok, a, 0.0), axis=1)
                    / np.maximum(ok.sum(axis=1), 1), np.nan)


def _nanmedian(a):
    out = np.full(a.shape[0], np.nan)
    for b, row in enumerate(a):  # np.nanmedian warns on all-NaN rows
        row = row[np.isfinite(row)]
        if row.size:
            out[b] = np.median(row)
    return out


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlphaHeterogeneity:
    """Cochran's test that every point shares one exponent (module docstring).

    ``q`` (Cochran's Q), ``df`` (points - 1), ``p_value`` (chi-square upper tail), ``i2`` (share
    of the spread of the estimates beyond Monte Carlo error, in [0, 1]), ``n_points``,
    ``alpha_bar`` (the precision-weighted mean exponent).
    """

    q: float
    df: int
    p_value: float
    i2: float
    n_points: int
    alpha_bar: float


@dataclass
class ValidationBootstrap:
    """Bootstrap of the log-linear validation (see :func:`bootstrap_validation`).

    Attributes
    ----------
    params : Series, the statistics of the full data (:data:`STATISTICS`; computed by
        :func:`~scaling_kit.laws.validation.fit_loglinear_laws`).
    replicates : DataFrame, one row per replicate, one column per statistic.
    point_alpha : DataFrame indexed by point: ``alpha`` (full data), ``alpha_se`` (standard
        deviation over the replicates in which the point was fitted), ``fitted_share`` (share of
        replicates in which it was fitted).
    laws : the :class:`~scaling_kit.laws.validation.LogLinearLawResults` of the full data.
    """

    params: pd.Series
    replicates: pd.DataFrame
    point_alpha: pd.DataFrame
    laws: object
    n_samples: int
    resample_points: bool = True

    @property
    def se(self) -> pd.Series:
        """Bootstrap standard error of each statistic (std over replicates, ddof=1)."""
        return self.replicates.std(ddof=1).rename("se")

    def conf_int(self, alpha=0.05) -> pd.DataFrame:
        """Percentile ``1 - alpha`` intervals of the statistics (columns ``lower``, ``upper``)."""
        alpha = check_number(alpha, "alpha", low=0, high=1, low_open=True, high_open=True)
        q = self.replicates.quantile([alpha / 2, 1 - alpha / 2])
        return pd.DataFrame({"lower": q.iloc[0], "upper": q.iloc[1]})

    def alpha_heterogeneity(self, *, min_fitted_share=0.9) -> AlphaHeterogeneity:
        """Cochran's Q over the points fitted in the full data and in at least
        ``min_fitted_share`` of the replicates (a point that is often unfitted has a mean near
        zero at some k, and its bootstrap spread is not a standard error)."""
        share = check_number(min_fitted_share, "min_fitted_share", low=0, high=1)
        p = self.point_alpha
        p = p[p["alpha"].notna() & (p["fitted_share"] >= share) & (p["alpha_se"] > 0)]
        if len(p) < 2:
            raise ValueError(f"Only {len(p)} points are fitted in at least {share:.0%} of the "
                             "replicates; Cochran's Q needs two. Use more samples per (point, k).")
        w = 1.0 / p["alpha_se"].to_numpy() ** 2
        a = p["alpha"].to_numpy()
        bar = float(np.sum(w * a) / np.sum(w))
        q = float(np.sum(w * (a - bar) ** 2))
        df = len(p) - 1
        return AlphaHeterogeneity(q=q, df=df, p_value=float(stats.chi2.sf(q, df)),
                                  i2=max(0.0, (q - df) / q) if q > 0 else 0.0,
                                  n_points=len(p), alpha_bar=bar)

    def summary(self) -> Summary:
        """The statistics with their bootstrap standard errors and 95% intervals."""
        table = pd.concat([self.params.rename("estimate"), self.se, self.conf_int()], axis=1)
        return Summary(
            title="Monte Carlo error of the log-linear validation (bootstrap)",
            facts={"replicates": len(self.replicates), "points": len(self.point_alpha),
                   "samples per (point, k)": self.n_samples,
                   "points resampled": self.resample_points},
            tables={"Statistics": table},
            notes=["r2_across_points: the R^2 of the fitted laws across points, averaged over k "
                   "(the paper's Table 1 statistic); the interval is the bootstrap percentile "
                   "interval over resampled contributions."],
        )


# ------------------------------------------------------------------------------------------
# the bootstrap
# ------------------------------------------------------------------------------------------
def _sample_cube(samples, delta_col):
    """(points, ks, (P, K, n) array of contributions) from a complete table."""
    if not isinstance(samples, pd.DataFrame):
        raise TypeError("samples must be the DataFrame of sample_contributions (columns point, "
                        f"k, sample, {delta_col}); got {type(samples).__name__}.")
    missing = [c for c in ("point", "k", delta_col) if c not in samples.columns]
    if missing:
        raise ValueError(f"samples lacks columns {missing}; expected the table of "
                         "sample_contributions with a fixed grid of sizes (k=[...]).")
    df = samples.sort_values(["point", "k"], kind="stable")
    counts = df.groupby(["point", "k"]).size()
    points = counts.index.get_level_values("point").unique()
    ks = np.sort(counts.index.get_level_values("k").unique().to_numpy())
    n = int(counts.iloc[0])
    if len(counts) != len(points) * len(ks) or not np.all(counts.to_numpy() == n):
        raise ValueError("bootstrap_validation needs every point at every k with the same number "
                         "of samples (sample_contributions with k=[...] gives that); got "
                         f"{counts.min()}..{counts.max()} samples over {len(counts)} (point, k).")
    values = df[delta_col].to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"samples[{delta_col!r}] contains NaN or infinite values.")
    return points, ks, values.reshape(len(points), len(ks), n)


def bootstrap_validation(samples, *, n_boot=200, resample_points=True, delta_col="delta",
                         min_k=3, random_state=None) -> ValidationBootstrap:
    """Bootstrap standard errors of the log-linear validation's statistics.

    Parameters
    ----------
    samples : the table of :func:`scaling_kit.contributions.sample_contributions` with a fixed
        grid of sizes (``k=[...]``): every point at every k, ``n`` samples each.
    n_boot : number of bootstrap replicates (>= 2).
    resample_points : also draw the points of each replicate with replacement, so that the
        standard errors of the statistics include the variation due to *which* points were
        chosen (the paper's statistics describe the points of a pool, not a few chosen ones;
        with a few dozen points this is usually the larger part). ``False``: the Monte Carlo
        error of the chosen points only. Per-point standard errors of alpha always resample
        the samples only.
    delta_col : the column of contributions (``"delta"`` or ``"delta_<metric>"``).
    min_k : passed to :func:`~scaling_kit.laws.validation.fit_loglinear_laws`.
    random_state : seeds the resampling (docs/api.md).

    Returns
    -------
    :class:`ValidationBootstrap`. Method in the module docstring; cost: ``n_boot`` times one
    pass over the samples plus a vectorized fit, no model is refitted.
    """
    n_boot = check_int(n_boot, "n_boot", low=2)
    resample_points = check_bool(resample_points, "resample_points")
    rng = np.random.default_rng(seed_sequence(random_state))
    points, ks, cube = _sample_cube(samples, delta_col)
    n = cube.shape[2]
    laws = fit_loglinear_laws(summarize_contributions(samples, delta_col), min_k=min_k,
                              sign_change="flag")
    fit = laws.fitted
    params = pd.Series({
        "r2_across_points": laws.r2_overall, "median_r2": laws.median_r2,
        "alpha_median": float(fit["alpha"].median()),
        "fraction_alpha_positive": laws.fraction_alpha_positive, "n_fitted": float(len(fit)),
    }, name="estimate")
    stats_rows = {name: np.empty(n_boot) for name in STATISTICS}
    alphas = np.empty((n_boot, len(points)))
    columns = np.arange(len(ks))[:, None]
    for b in range(n_boot):
        idx = rng.integers(0, n, size=(len(ks), n))
        means = cube[:, columns, idx].mean(axis=2)  # (P, K)
        out = loglinear_statistics(means, ks, min_k=min_k)
        alphas[b] = out["alpha"]  # per point: Monte Carlo error only
        if resample_points:
            out = loglinear_statistics(means[rng.integers(0, len(points), len(points))], ks,
                                       min_k=min_k)
        for name in STATISTICS:
            stats_rows[name][b] = out[name]
    fitted_share = np.isfinite(alphas).mean(axis=0)
    with np.errstate(invalid="ignore"):
        alpha_se = np.array([np.std(a[np.isfinite(a)], ddof=1) if np.isfinite(a).sum() > 1
                             else np.nan for a in alphas.T])
    point_alpha = pd.DataFrame({"alpha": laws.params["alpha"].reindex(points).to_numpy(),
                                "alpha_se": alpha_se, "fitted_share": fitted_share},
                               index=pd.Index(points, name="point"))
    return ValidationBootstrap(params=params, replicates=pd.DataFrame(stats_rows),
                               point_alpha=point_alpha, laws=laws, n_samples=n,
                               resample_points=resample_points)
