"""Validation of individualized scaling laws by log-linear fits (Covert et al. 2024, Section 2.1).

The law (docs/math.md §3; the paper's Eq. 4) is

    psi_z(k) = E_{|D| = k}[Delta(z, D)] ~= c(z) * k^(-alpha(z)),

so ``log|psi_z(k)| = log|c(z)| - alpha(z) * log k`` is a straight line in ``log k`` and the sign
of ``psi_z`` is the same at every k (the sign of c). The validation protocol estimates
``psi_z(k)`` at about 10 log-spaced k by the mean of many sampled contributions, then for each
point fits the line by ordinary least squares (natural logs):

* ``alpha = -slope``, ``log|c| = intercept``, ``c = sign * exp(intercept)`` (``c_method="log"``),
  or, as the paper's public code does, ``c`` by least squares of the means on ``k^-alpha``
  through the origin, weighted by the sample counts (``c_method="linear"``; with counts this is
  the regression of the raw samples on ``k^-alpha``);
* per-point ``R^2`` of the line (histogram: the paper's Figure 1), with standard errors and a
  t-interval for alpha from the OLS fit (``scipy.stats.linregress``);
* the ``R^2`` *across points* within each k, ``r2_score(mean_k, c k^-alpha)`` over the fitted
  points (Figure 1, bottom right), and their average over k, which is the statistic of the
  paper's Table 1 (the reference code's ``r2_score`` of the (points x k) matrices).

What the law cannot represent: a mean that changes sign across k (a point helpful at small k
and harmful at large k, or noise around zero), and a mean that is exactly zero. Such points are
detected and reported (:attr:`LogLinearLawResults.sign_changes`), never silently fitted on
``|mean|``; ``sign_change=`` chooses what to do with them. Where standard errors are available
(a ``sem`` column, or ``std`` and ``count``), each sign change says whether both means around it
are resolved (``|mean| >= z * sem``): unresolved flips are noise around zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import r2_score

from .._checks import check_int, check_number
from ..results import Summary
from ..sign_changes import find_sign_changes
from ._samples import check_level_alpha

__all__ = [
    "LogLinearLawResults",
    "fit_loglinear_laws",
    "alpha_correlation",
    "r2_table",
    "decision_boundary_distance",
    "run_validation",
]

_SIGN_CHANGE_POLICIES = ("flag", "drop", "abs", "raise")
_C_METHODS = ("log", "linear")


# ------------------------------------------------------------------------------------------
# input handling
# ------------------------------------------------------------------------------------------
def _tidy_means(summary) -> pd.DataFrame:
    """Long table with columns point, k, mean (+ sem, count when available), sorted."""
    if not isinstance(summary, pd.DataFrame):
        raise TypeError(
            "summary must be a DataFrame indexed by (point, k) with a 'mean' column, as "
            "returned by scaling_kit.contributions.summarize_contributions; got "
            f"{type(summary).__name__}."
        )
    df = summary.reset_index() if {"point", "k"} - set(summary.columns) else summary.copy()
    missing = {"point", "k"} - set(df.columns)
    if missing:
        raise ValueError(
            f"summary needs 'point' and 'k' (as index levels or columns); missing {missing}."
        )
    if "mean" not in df.columns:
        if "delta" not in df.columns:
            raise ValueError(
                "summary needs a 'mean' column (summarize_contributions output) or a 'delta' "
                "column of raw samples (sample_contributions output)."
            )
        df = (
            df.groupby(["point", "k"])["delta"]
            .agg(mean="mean", std="std", count="count")
            .reset_index()
        )
    keep = ["point", "k", "mean"] + [c for c in ("std", "count", "sem") if c in df.columns]
    df = df[keep].copy()
    if df.empty:
        raise ValueError("summary (the table of mean contributions) is empty.")
    k = pd.to_numeric(df["k"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(k)) or np.any(k <= 0):
        bad = np.unique(df["k"][~(np.isfinite(k) & (k > 0))])[:5]
        raise ValueError(f"summary: dataset sizes k must be positive and finite; found {list(bad)}.")
    df["k"] = k
    mean = pd.to_numeric(df["mean"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(mean)):
        raise ValueError("summary: the 'mean' column contains NaN or infinite values; drop them.")
    df["mean"] = mean
    if df.duplicated(["point", "k"]).any():
        raise ValueError("summary: each (point, k) must appear once; summarize the samples first.")
    if "sem" not in df.columns and {"std", "count"} <= set(df.columns):
        with np.errstate(divide="ignore", invalid="ignore"):
            df["sem"] = df["std"] / np.sqrt(df["count"])
    return df.sort_values(["point", "k"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------
@dataclass
class LogLinearLawResults:
    """Per-point log-linear fits of mean contributions, and the R^2 statistics of the paper.

    Attributes
    ----------
    params : DataFrame indexed by point: ``sign, c, alpha, log_abs_c, alpha_se, alpha_ci_low,
        alpha_ci_high, log_abs_c_se, r2, n_k, k_min, k_max, n_unresolved, status``. Status is
        ``ok``, ``sign_change`` (not fitted), ``sign_change_abs`` (fitted on |mean| on request),
        ``zero_mean`` (some mean is exactly zero: log undefined) or ``too_few_k``.
    means : tidy table point, k, mean (+ std, count, sem), fitted, status.
    r2_by_k : DataFrame indexed by k: ``r2`` across fitted points, ``n_points``.
    sign_changes : one row per sign flip between consecutive k of a point: ``point, k_from,
        k_to, mean_from, mean_to, resolved`` (``resolved`` is NaN without standard errors).
    """

    params: pd.DataFrame
    means: pd.DataFrame
    r2_by_k: pd.DataFrame
    sign_changes: pd.DataFrame
    c_method: str = "log"
    sign_change: str = "flag"
    conf_level: float = 0.95
    z: float = 2.0

    # --- headline statistics ------------------------------------------------------------------
    @property
    def fitted(self) -> pd.DataFrame:
        """Rows of ``params`` with a fitted law (status ``ok`` or ``sign_change_abs``)."""
        return self.params[self.params["status"].isin(["ok", "sign_change_abs"])]

    @property
    def r2_overall(self) -> float:
        """Mean over k of the across-point R^2 (the statistic of the paper's Table 1)."""
        return float(self.r2_by_k["r2"].mean())

    @property
    def median_r2(self) -> float:
        """Median per-point R^2 of the log-linear fit."""
        return float(self.fitted["r2"].median())

    @property
    def fraction_alpha_positive(self) -> float:
        """Share of the fitted points whose exponent is positive (the paper's Figure 1)."""
        return float(np.mean(self.fitted["alpha"] > 0))

    @property
    def alpha_mode(self) -> float:
        """Mode of the distribution of alpha (Gaussian kernel density, Scott's bandwidth)."""
        alpha = self.fitted["alpha"].to_numpy()
        if len(alpha) < 3 or np.ptp(alpha) == 0:
            return float(np.median(alpha))
        grid = np.linspace(alpha.min(), alpha.max(), 512)
        return float(grid[np.argmax(stats.gaussian_kde(alpha)(grid))])

    @property
    def n_sign_change_points(self) -> int:
        """Number of points whose mean changes sign between consecutive k."""
        return int(self.sign_changes["point"].nunique())

    # --- prediction and tables ----------------------------------------------------------------
    def predict(self, k, points=None) -> pd.DataFrame:
        """``c * k^-alpha`` for the given k (array) and points (default: fitted points)."""
        k = np.atleast_1d(np.asarray(k, dtype=float))
        if np.any(~np.isfinite(k)) or np.any(k <= 0):
            raise ValueError("k must be positive and finite.")
        par = self.fitted if points is None else self.params.loc[list(points)]
        values = par["c"].to_numpy()[:, None] * k[None, :] ** (-par["alpha"].to_numpy()[:, None])
        return pd.DataFrame(values, index=par.index, columns=pd.Index(k, name="k"))

    def tidy(self) -> pd.DataFrame:
        """Long table: one row per (point, k) with the mean, the fitted law and the log residual."""
        out = self.means.copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            out["log_residual"] = np.log(np.abs(out["mean"])) - np.log(np.abs(out["fitted"]))
        return out

    def alpha_quantile_points(self, quantiles=(0.2, 0.4, 0.6, 0.8)) -> pd.Series:
        """The fitted point whose alpha is nearest each quantile of the alpha distribution."""
        par = self.fitted
        if par.empty:
            raise ValueError("No fitted points.")
        q = np.asarray(quantiles, dtype=float)
        if np.any((q < 0) | (q > 1)):
            raise ValueError("quantiles must lie in [0, 1].")
        targets = np.quantile(par["alpha"].to_numpy(), q)
        points = [par.index[np.argmin(np.abs(par["alpha"].to_numpy() - t))] for t in targets]
        return pd.Series(points, index=pd.Index(q, name="quantile"), name="point")

    def crossing_pairs(self, which="fitted", points=None, z=None) -> pd.DataFrame:
        """Pairs of points whose curves cross between the smallest and the largest k.

        ``which="fitted"``: the fitted laws ``c_i k^-alpha_i`` and ``c_j k^-alpha_j`` (same sign)
        swap order inside ``[k_min, k_max]``; ``k_cross = (c_i/c_j)^(1/(alpha_i-alpha_j))``.
        ``which="observed"``: the *measured* means swap order between ``k_min`` and ``k_max``,
        and both differences exceed ``z`` standard errors (needs ``sem``): evidence of crossing
        that does not rely on the fitted law.
        """
        k_lo, k_hi = self.means["k"].min(), self.means["k"].max()
        if which == "fitted":
            par = self.fitted if points is None else self.fitted.loc[
                self.fitted.index.intersection(list(points))
            ]
            g = par["log_abs_c"].to_numpy()
            a = par["alpha"].to_numpy()
            s = par["sign"].to_numpy()
            d_lo = (g[:, None] - g[None, :]) - (a[:, None] - a[None, :]) * np.log(k_lo)
            d_hi = (g[:, None] - g[None, :]) - (a[:, None] - a[None, :]) * np.log(k_hi)
            cross = (np.sign(d_lo) * np.sign(d_hi) < 0) & (s[:, None] == s[None, :])
            i, j = np.nonzero(np.triu(cross, 1))
            with np.errstate(divide="ignore", invalid="ignore"):
                k_cross = np.exp((g[i] - g[j]) / (a[i] - a[j]))
            return pd.DataFrame(
                {"point_i": par.index[i], "point_j": par.index[j], "k_cross": k_cross}
            )
        if which != "observed":
            raise ValueError(f"which must be 'fitted' or 'observed'; got {which!r}.")
        z = self.z if z is None else float(z)
        m = self.means
        if "sem" not in m.columns:
            raise ValueError(
                "Observed crossings need standard errors: pass a table with 'sem' (or 'std' "
                "and 'count'), e.g. summarize_contributions output."
            )
        lo = m[m["k"] == k_lo].set_index("point")
        hi = m[m["k"] == k_hi].set_index("point")
        common = lo.index.intersection(hi.index)
        if points is not None:
            common = common.intersection(list(points))
        lo, hi = lo.loc[common], hi.loc[common]

        def diffs(t):
            v, e = t["mean"].to_numpy(), t["sem"].to_numpy()
            return v[:, None] - v[None, :], np.sqrt(e[:, None] ** 2 + e[None, :] ** 2)

        d_lo, e_lo = diffs(lo)
        d_hi, e_hi = diffs(hi)
        cross = (np.sign(d_lo) * np.sign(d_hi) < 0) & (np.abs(d_lo) > z * e_lo) & (
            np.abs(d_hi) > z * e_hi
        )
        i, j = np.nonzero(np.triu(cross, 1))
        return pd.DataFrame(
            {"point_i": common[i], "point_j": common[j], "diff_k_min": d_lo[i, j],
             "diff_k_max": d_hi[i, j]}
        )

    # --- intervals ----------------------------------------------------------------------------
    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """``1 - alpha`` t-intervals (``n_k - 2`` degrees of freedom) of the fitted points.

        Columns ``(parameter, "lower" | "upper")`` for ``alpha`` and ``c`` (docs/api.md). The
        interval of ``c`` is ``sign * exp(log|c| -+ t se)`` from the intercept's interval;
        NaN with ``c_method="linear"`` (no standard error).
        """
        alpha = check_level_alpha(alpha)
        p = self.fitted
        t = stats.t.ppf(1 - alpha / 2, (p["n_k"] - 2).to_numpy(dtype=float))
        a, a_se = p["alpha"].to_numpy(dtype=float), p["alpha_se"].to_numpy(dtype=float)
        data = {("alpha", "lower"): a - t * a_se, ("alpha", "upper"): a + t * a_se}
        if self.c_method == "log":
            g, g_se = p["log_abs_c"].to_numpy(dtype=float), p["log_abs_c_se"].to_numpy(dtype=float)
            sign = p["sign"].to_numpy(dtype=float)
            ends = np.sort(np.stack([sign * np.exp(g - t * g_se), sign * np.exp(g + t * g_se)]), 0)
            data[("c", "lower")], data[("c", "upper")] = ends[0], ends[1]
        else:
            data[("c", "lower")] = data[("c", "upper")] = np.full(len(p), np.nan)
        frame = pd.DataFrame(data, index=p.index)[["c", "alpha"]]
        frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["parameter", "bound"])
        return frame

    # --- report -------------------------------------------------------------------------------
    def summary(self) -> Summary:
        """The fit in the spirit of statsmodels' ``summary()`` (text in a terminal, HTML in
        Jupyter): counts, R^2 statistics (the paper's Table 1), alpha, sign changes."""
        par, fit = self.params, self.fitted
        ks = np.sort(self.means["k"].unique())
        alpha = fit["alpha"]
        counts = par["status"].value_counts()
        facts = {
            "points": len(par), "fitted": len(fit),
            **{f"status {k}": int(v) for k, v in counts.items()},
            "k": f"{len(ks)} values in [{ks[0]:g}, {ks[-1]:g}]",
            "c method": self.c_method, "sign-change policy": self.sign_change,
        }
        stats_table = pd.DataFrame({
            "value": [self.median_r2, float(fit["r2"].mean()), float(np.mean(fit["r2"] >= 0.9)),
                      self.r2_overall, float(self.r2_by_k["r2"].min()),
                      float(alpha.median()), float(alpha.quantile(0.25)),
                      float(alpha.quantile(0.75)), self.alpha_mode,
                      self.fraction_alpha_positive,
                      float(np.mean((alpha >= 1) & (alpha <= 1.5))),
                      float(np.mean(fit["sign"] > 0)), float(np.mean(fit["sign"] < 0)),
                      self.n_sign_change_points, len(self.sign_changes)],
        }, index=pd.Index([
            "per-point R^2, median", "per-point R^2, mean", "per-point R^2, fraction >= 0.9",
            "R^2 across points, mean over k (Table 1)", "R^2 across points, min over k",
            "alpha, median", "alpha, 25%", "alpha, 75%", "alpha, mode",
            "alpha, fraction positive", "alpha, fraction in [1, 1.5]",
            "sign of c, positive", "sign of c, negative (harmful)",
            "sign changes, points", "sign changes, flips"], name="statistic"))
        notes = []
        if self.sign_changes["resolved"].notna().any():
            notes.append(f"{int(self.sign_changes['resolved'].sum())} sign flips are resolved at "
                         f"z = {self.z:g} (both means at least z standard errors from zero).")
        return Summary(
            "Log-linear individualized scaling laws: log|psi_z(k)| = log|c| - alpha log k (OLS)",
            facts, {"statistics": stats_table, "R^2 across points at each k": self.r2_by_k},
            notes)

    def __repr__(self) -> str:
        return (
            f"LogLinearLawResults({len(self.params)} points, {len(self.fitted)} fitted, "
            f"median R^2 {self.median_r2:.3f}, R^2 across points {self.r2_overall:.3f})"
        )


# ------------------------------------------------------------------------------------------
# the fit
# ------------------------------------------------------------------------------------------
def fit_loglinear_laws(
    summary,
    *,
    min_k=3,
    sign_change="flag",
    c_method="log",
    conf_level=None,
    z=2.0,
) -> LogLinearLawResults:
    """Fit ``log|mean| = log|c| - alpha log k`` by OLS for every point (Covert et al., Sec. 2.1).

    Parameters
    ----------
    summary : DataFrame indexed by (point, k) with a ``mean`` column (``std``, ``count``,
        ``sem`` optional), as returned by ``summarize_contributions``; a table of raw samples
        with a ``delta`` column is summarized first.
    min_k : fewest distinct k a point needs (>= 3: a line through two points has R^2 = 1).
    sign_change : what to do with points whose mean changes sign across k, which the law
        ``c k^-alpha`` cannot represent: ``"flag"`` (default: keep them, unfitted, status
        ``sign_change``), ``"drop"`` (leave them out of ``params``), ``"abs"`` (fit |mean| as the
        paper's code does, sign of the summed means; status ``sign_change_abs``) or ``"raise"``.
        They are always listed in ``sign_changes``.
    c_method : ``"log"`` (``c = sign * exp(intercept)``) or ``"linear"`` (count-weighted least
        squares of the means on ``k^-alpha`` through the origin, as the paper's code).
    conf_level : deprecated (removed in 0.4): the level of the ``alpha_ci_low`` and
        ``alpha_ci_high`` columns of ``params`` (default 0.95). Ask the results for any level
        instead, as everywhere in the kit: ``.conf_int(alpha=1 - level)``.
    z : a mean is "resolved" when ``|mean| >= z * sem`` (> 0; reported, not used in the fit);
        the flips are :func:`scaling_kit.sign_changes.find_sign_changes` of the means.

    Returns
    -------
    LogLinearLawResults
    """
    min_k = check_int(min_k, "min_k (a line through 2 points is exact)", low=3)
    if sign_change not in _SIGN_CHANGE_POLICIES:
        raise ValueError(f"sign_change must be one of {_SIGN_CHANGE_POLICIES}; got {sign_change!r}.")
    if c_method not in _C_METHODS:
        raise ValueError(f"c_method must be one of {_C_METHODS}; got {c_method!r}.")
    if conf_level is None:
        conf_level = 0.95
    else:
        conf_level = check_number(conf_level, "conf_level", low=0.0, high=1.0, low_open=True,
                                  high_open=True)
        warnings.warn(
            "fit_loglinear_laws(conf_level=...) is deprecated and will be removed in "
            "scaling-kit 0.4: leave it out (params' alpha_ci_low/alpha_ci_high stay 95% "
            f"t-intervals) and call .conf_int(alpha={1 - conf_level:.3g}) on the results for a "
            f"{conf_level:.3g} interval.", FutureWarning, stacklevel=2)
    z = check_number(z, "z", low=0.0, low_open=True)
    df = _tidy_means(summary)
    n_distinct_k = df["k"].nunique()
    if n_distinct_k < min_k:
        raise ValueError(
            f"The log-linear validation needs at least {min_k} distinct dataset sizes k (the paper "
            f"uses 10 log-spaced k); the table has {n_distinct_k}: {sorted(df['k'].unique())}."
        )
    if np.all(df["mean"].to_numpy() == 0):
        raise ValueError(
            "All mean contributions are exactly zero: log|mean| is undefined. Does the learner "
            "depend on its training data, and is the metric the intended one?"
        )
    has_sem = "sem" in df.columns
    sign_changes = find_sign_changes(df, z=z)
    records = []
    for point, g in df.groupby("point", sort=True):
        k = g["k"].to_numpy()
        mean = g["mean"].to_numpy()
        sem = g["sem"].to_numpy(dtype=float) if has_sem else None
        rec = {"point": point, "n_k": len(k), "k_min": k.min(), "k_max": k.max()}
        rec["n_unresolved"] = int(np.sum(np.abs(mean) < z * sem)) if has_sem else np.nan
        if len(k) < min_k:
            status = "too_few_k"
        elif np.any(mean == 0):
            status = "zero_mean"
        elif np.any(np.sign(mean) != np.sign(mean[0])):
            status = "sign_change_abs" if sign_change == "abs" else "sign_change"
        else:
            status = "ok"
        rec["status"] = status
        if status in ("ok", "sign_change_abs"):
            x, y = np.log(k), np.log(np.abs(mean))
            fit = stats.linregress(x, y)
            df_resid = len(k) - 2
            tq = stats.t.ppf(0.5 + conf_level / 2, df_resid)
            alpha = -fit.slope
            sign = np.sign(mean[0]) if status == "ok" else np.sign(mean.sum()) or 1.0
            if c_method == "log":
                c = sign * np.exp(fit.intercept)
            else:
                w = g["count"].to_numpy(dtype=float) if "count" in g.columns else np.ones(len(k))
                basis = k ** (-alpha)
                c = np.sum(w * mean * basis) / np.sum(w * basis**2)
                sign = np.sign(c)
            rec.update(
                sign=sign,
                c=c,
                alpha=alpha,
                log_abs_c=np.log(np.abs(c)) if c != 0 else -np.inf,
                alpha_se=fit.stderr,
                alpha_ci_low=alpha - tq * fit.stderr,
                alpha_ci_high=alpha + tq * fit.stderr,
                log_abs_c_se=fit.intercept_stderr,
                r2=fit.rvalue**2,
            )
        records.append(rec)
    columns = ["sign", "c", "alpha", "log_abs_c", "alpha_se", "alpha_ci_low", "alpha_ci_high",
               "log_abs_c_se", "r2", "n_k", "k_min", "k_max", "n_unresolved", "status"]
    params = pd.DataFrame.from_records(records).set_index("point").reindex(columns=columns)
    changed = params.index[params["status"].isin(["sign_change", "sign_change_abs"])]
    if sign_change == "raise" and len(changed):
        raise ValueError(
            f"{len(changed)} points have means that change sign across k, which c k^-alpha "
            f"cannot represent (e.g. points {list(changed[:10])}); see sign_change= for options."
        )
    if sign_change == "drop":
        params = params.drop(index=changed)
        df = df[df["point"].isin(params.index)]
    fitted = params[params["status"].isin(["ok", "sign_change_abs"])]
    if fitted.empty:
        raise ValueError(
            "No point could be fitted: " + ", ".join(
                f"{s}: {n}" for s, n in params["status"].value_counts().items()
            ) + ". Log-linear fits need nonzero means of constant sign at >= min_k sizes."
        )
    # fitted law at each (point, k), and the across-point R^2 at each k
    par = params.reindex(df["point"])
    df = df.assign(
        fitted=par["c"].to_numpy() * df["k"].to_numpy() ** (-par["alpha"].to_numpy()),
        status=par["status"].to_numpy(),
    )
    rows = []
    for k, g in df[df["point"].isin(fitted.index)].groupby("k"):
        r2 = r2_score(g["mean"], g["fitted"]) if len(g) >= 2 else np.nan
        rows.append((k, r2, len(g)))
    r2_by_k = pd.DataFrame(rows, columns=["k", "r2", "n_points"]).set_index("k")
    return LogLinearLawResults(
        params=params,
        means=df.reset_index(drop=True),
        r2_by_k=r2_by_k,
        sign_changes=sign_changes,
        c_method=c_method,
        sign_change=sign_change,
        conf_level=conf_level,
        z=float(z),
    )


# ------------------------------------------------------------------------------------------
# analyses across fits
# ------------------------------------------------------------------------------------------
def alpha_correlation(results: Mapping, method="pearson") -> pd.Series:
    """Correlation of alpha between model types over the points fitted by both (Table 2).

    ``results`` maps a model name (e.g. ``"LogReg"``) to its :class:`LogLinearLawResults` on the
    same points. Returns a Series indexed like the paper's Table 2 columns (``"LogReg-MLP"``).
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman'; got {method!r}.")
    if len(results) < 2:
        raise ValueError("alpha_correlation needs the results of at least two models.")
    out = {}
    for a, b in combinations(list(results), 2):
        fa, fb = results[a].fitted["alpha"], results[b].fitted["alpha"]
        common = fa.index.intersection(fb.index)
        if len(common) < 3:
            raise ValueError(f"{a} and {b} share only {len(common)} fitted points; need >= 3.")
        corr = stats.pearsonr if method == "pearson" else stats.spearmanr
        out[f"{a}-{b}"] = float(corr(fa.loc[common], fb.loc[common])[0])
    return pd.Series(out, name=f"{method} correlation of alpha")


def r2_table(results: Mapping, statistic="r2_overall") -> pd.DataFrame:
    """Dataset x model table of an R^2 statistic, laid out like the paper's Table 1.

    ``results`` maps ``(dataset, model)`` to :class:`LogLinearLawResults`; ``statistic`` is
    ``"r2_overall"`` (Table 1: across points, averaged over k) or ``"median_r2"`` (per point).
    """
    if statistic not in ("r2_overall", "median_r2"):
        raise ValueError(f"statistic must be 'r2_overall' or 'median_r2'; got {statistic!r}.")
    rows = {}
    for key, res in results.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"Keys must be (dataset, model) tuples; got {key!r}.")
        rows[key] = getattr(res, statistic)
    s = pd.Series(rows)
    table = s.unstack()
    table.index.name, table.columns.name = "dataset", None
    return table


def decision_boundary_distance(estimator, X, y=None) -> np.ndarray:
    """Euclidean distance from each row of X to a linear classifier's decision boundary.

    Binary (``coef_`` of shape (1, p)): ``|w.x + b| / ||w||``. Multiclass (``coef_`` (K, p)):
    distance to the nearest boundary between the predicted class t and another class j,
    ``min_j (s_t - s_j) / ||w_t - w_j||`` with ``s = W x + b``. With labels ``y`` (indices into
    ``classes_``) the distance is signed: positive on the correct side, negative when the point
    is misclassified (t replaced by the true class). Used for the paper's alpha-vs-distance plot
    (Section 4.1) with logistic regression.
    """
    if not hasattr(estimator, "coef_") or not hasattr(estimator, "intercept_"):
        raise ValueError("decision_boundary_distance needs a fitted linear model with coef_ and intercept_.")
    W = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
    b = np.atleast_1d(np.asarray(estimator.intercept_, dtype=float))
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != W.shape[1]:
        raise ValueError(f"X must have shape (n, {W.shape[1]}); got {X.shape}.")
    if W.shape[0] == 1:
        d = (X @ W[0] + b[0]) / np.linalg.norm(W[0])
        if y is None:
            return np.abs(d)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},); got {y.shape}.")
        return np.where(y == 1, d, -d)
    S = X @ W.T + b
    ref = np.argmax(S, axis=1) if y is None else np.asarray(y, dtype=int)
    if ref.shape != (X.shape[0],) or ref.min() < 0 or ref.max() >= W.shape[0]:
        raise ValueError("y must hold one class index in 0..K-1 per row of X.")
    rows = np.arange(X.shape[0])
    gaps = S[rows, ref][:, None] - S  # (n, K)
    norms = np.linalg.norm(W[ref][:, None, :] - W[None, :, :], axis=2)  # (n, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where(np.arange(W.shape[0])[None, :] == ref[:, None], np.inf, gaps / norms)
    return dist.min(axis=1)


# ------------------------------------------------------------------------------------------
# the protocol end to end
# ------------------------------------------------------------------------------------------
def run_validation(learner, dataset, points, ks, n_samples, *, random_state=0, n_jobs=1,
                   cache=None, progress=False, **fit_options) -> LogLinearLawResults:
    """Sample contributions at each k, average them, and fit the log-linear laws.

    The paper's validation protocol (Section 2.1 / 4.1): ``ks`` about 10 log-spaced sizes
    (paper: 100..1000), ``n_samples`` contributions per (point, k) (paper: 1000 for logistic
    regression, 5000 for MLP and SVM), true test log loss. ``dataset`` is a
    :class:`scaling_kit.datasets.Dataset`; ``learner`` anything the engine accepts
    (:func:`scaling_kit.contributions.sample_contributions`). Extra keyword arguments go to
    :func:`fit_loglinear_laws`.
    """
    from ..contributions import sample_contributions, summarize_contributions

    ks = np.asarray(ks)
    if ks.ndim != 1 or len(np.unique(ks)) < 3:
        raise ValueError(f"ks must list at least 3 distinct dataset sizes; got {ks!r}.")
    df = sample_contributions(
        learner, dataset, points, k=ks, n_samples=n_samples, random_state=random_state, n_jobs=n_jobs, cache=cache,
        progress=progress,
    )
    return fit_loglinear_laws(summarize_contributions(df), **fit_options)
