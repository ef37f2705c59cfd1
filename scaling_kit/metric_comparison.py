"""The value of the same points under several test metrics (log loss, softmax_ce, 0-1, Brier).

docs/math.md §3 (the two loss definitions). The same sampled contributions
``Delta(z, D) = loss(D) - loss(D + {z})`` are measured under several test losses
(:mod:`scaling_kit.metrics`: the true log loss, the reference code's ``softmax_ce`` =
cross-entropy applied to probabilities, the 0-1 error, the Brier score; one fit serves all, see
:func:`scaling_kit.contributions.sample_contributions` with ``metric=[...]``). Per metric and
point, :func:`compare_metrics` reports the mean contribution at each k, whether it is harmful
(negative mean), whether the mean changes sign across k (which the law
``psi_z(k) = c(z) k^-alpha(z)`` cannot represent: its sign is the sign of c at every k; see
:mod:`scaling_kit.sign_changes`), and the log-linear fit of
:func:`scaling_kit.laws.validation.fit_loglinear_laws` (sign-changing points are flagged, never
fitted on ``|mean|``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._checks import check_int, check_number
from .contributions import delta_column, summarize_contributions
from .laws.validation import fit_loglinear_laws
from .metrics import METRICS, check_metrics
from .results import Summary
from .sign_changes import find_sign_changes

__all__ = ["MetricComparison", "compare_metrics"]


@dataclass
class MetricComparison:
    """The same contributions under several metrics (see :func:`compare_metrics`).

    Attributes
    ----------
    metrics : the metrics compared, in order.
    ks : the dataset sizes.
    means : long table ``metric, point, k, mean, std, count, sem, harmful`` (mean < 0),
        ``resolved`` (|mean| >= z sem).
    table : one row per (metric, point): ``mean_<k>`` for each k, ``mean_all`` (mean over all
        samples), ``n_harmful_k`` (number of k with a negative mean), ``harmful`` (negative
        ``mean_all``), ``sign_change`` (the mean changes sign across k), ``sign_change_at``
        (e.g. ``"50->100"``), and the log-linear fit ``status, c, alpha, alpha_se, r2``
        (NaN when the point was not fitted: sign change, zero mean).
    sign_changes : all flips, ``metric, point, k_from, k_to, mean_from, mean_to, resolved``.
    fits : ``{metric: LogLinearLawResults or None}``; ``fit_errors`` says why a fit is None.
    """

    metrics: tuple
    ks: np.ndarray
    means: pd.DataFrame
    table: pd.DataFrame
    sign_changes: pd.DataFrame
    fits: dict
    fit_errors: dict = field(default_factory=dict)
    z: float = 2.0

    def harmful_share(self, resolved=False) -> pd.DataFrame:
        """Share of points with a negative mean contribution, metric x k (plus ``all``: share
        of points whose mean over all samples is negative). ``resolved=True`` counts only
        means at least ``z`` standard errors below zero."""
        m = self.means
        neg = m["harmful"] & (m["resolved"] if resolved else True)
        out = neg.groupby([m["metric"], m["k"]]).mean().unstack("k")
        if not resolved:
            out["all"] = self.table.groupby(level="metric")["harmful"].mean()
        return out.loc[list(self.metrics)]

    def sign_change_summary(self) -> pd.DataFrame:
        """Per metric: number of points whose mean changes sign, which ones, at which k."""
        rows = []
        for metric in self.metrics:
            sc = self.sign_changes[self.sign_changes["metric"] == metric]
            pts = sorted(sc["point"].unique().tolist())
            rows.append({
                "metric": metric,
                "n_points": len(pts),
                "share": len(pts) / self.table.loc[metric].shape[0],
                "n_resolved_points": int(sc.loc[sc["resolved"] == True, "point"].nunique()),  # noqa: E712
                "points": pts,
                "at_k": sorted({f"{a:g}->{b:g}" for a, b in zip(sc["k_from"], sc["k_to"])}),
            })
        return pd.DataFrame(rows).set_index("metric")

    def alphas(self) -> pd.DataFrame:
        """Fitted alpha, point x metric (NaN where a point was not fitted)."""
        return self.table["alpha"].unstack("metric").reindex(columns=list(self.metrics))

    def alpha_ratio(self, a="log_loss", b="softmax_ce") -> pd.Series:
        """``alpha_a / alpha_b`` over the points fitted under both metrics."""
        al = self.alphas()
        for name in (a, b):
            if name not in al.columns:
                raise ValueError(f"Metric {name!r} was not compared; have {self.metrics}.")
        return (al[a] / al[b]).dropna().rename(f"alpha {a} / alpha {b}")

    def disagreements(self, a="log_loss", b="softmax_ce") -> pd.DataFrame:
        """(point, k) whose mean contribution has opposite signs under metrics a and b."""
        for name in (a, b):
            if name not in self.metrics:
                raise ValueError(f"Metric {name!r} was not compared; have {self.metrics}.")
        m = self.means.set_index(["point", "k"])
        ma, mb = m[m["metric"] == a], m[m["metric"] == b]
        joined = pd.merge(ma[["mean", "resolved"]], mb[["mean", "resolved"]], left_index=True,
                          right_index=True, suffixes=("_" + a, "_" + b))
        opp = np.sign(joined["mean_" + a]) * np.sign(joined["mean_" + b]) < 0
        return joined[opp]

    @property
    def params(self) -> pd.DataFrame:
        """The fitted law of every (metric, point): ``status, c, alpha, alpha_se, r2`` (NaN
        where a point was not fitted)."""
        return self.table[["status", "c", "alpha", "alpha_se", "r2"]]

    def summary(self) -> Summary:
        """Harmful shares, sign changes and fitted exponents per metric
        (a :class:`scaling_kit.results.Summary`; its tables hold the numbers)."""
        share = self.harmful_share()
        sc = self.sign_change_summary()
        rows = {}
        for metric in self.metrics:
            fit = self.fits.get(metric)
            al = fit.fitted["alpha"] if fit is not None else pd.Series(dtype=float)
            rows[metric] = {
                "harmful (all)": float(share.loc[metric, "all"]),
                "sign-changing": int(sc.loc[metric, "n_points"]),
                "fitted": len(al),
                "alpha median": float(al.median()) if len(al) else np.nan,
                "alpha q25": float(al.quantile(0.25)) if len(al) else np.nan,
                "alpha q75": float(al.quantile(0.75)) if len(al) else np.nan,
                "R^2 across": float(fit.r2_overall) if fit is not None else np.nan,
            }
        per_metric = pd.DataFrame.from_dict(rows, orient="index").rename_axis("metric")
        notes = [f"no log-linear fit for {metric}: {err}" for metric, err in self.fit_errors.items()]
        notes.append("The law c k^-alpha has one sign at every k: sign-changing points are "
                     "reported, not fitted.")
        return Summary(
            title="Marginal contributions under several test metrics",
            facts={"points": int(self.table.loc[self.metrics[0]].shape[0]),
                   "k": ", ".join(f"{k:g}" for k in self.ks),
                   "metrics": ", ".join(self.metrics)},
            tables={"per metric": per_metric,
                    "share of harmful points (negative mean) at each k":
                        share.drop(columns="all")},
            notes=notes,
        )

    def __repr__(self) -> str:
        share = self.harmful_share()["all"]
        return ("MetricComparison(" + ", ".join(
            f"{m}: {share[m]:.0%} harmful" for m in self.metrics) + ")")


def _metrics_in(df):
    """The metrics a table holds: ``df.attrs["metrics"]`` for a table of
    :func:`~scaling_kit.contributions.sample_contributions` (first metric in ``delta``), else
    every ``delta_<metric>`` column (a table assembled by hand)."""
    sampled = df.attrs.get("metrics")
    if sampled:
        return tuple(m for m in METRICS if m in sampled and _column_of(df, m) in df.columns)
    cols = [c[len("delta_"):] for c in df.columns if c.startswith("delta_")]
    return tuple(m for m in METRICS if m in cols)


def _column_of(df, metric):
    """The column holding ``metric``'s contributions (see :func:`_metrics_in`)."""
    sampled = df.attrs.get("metrics")
    if sampled and metric in sampled:
        return delta_column(metric, sampled)
    return "delta_" + metric


def compare_metrics(samples, metrics=None, *, z=2.0, min_k=3,
                    c_method="log") -> MetricComparison:
    """Compare the contributions of the same points under several test metrics.

    Parameters
    ----------
    samples : contribution table of :func:`~scaling_kit.contributions.sample_contributions`
        called with ``metric=[...]`` (columns ``point, k, delta_<metric>``) and a fixed k grid.
    metrics : the metrics to compare (default: every ``delta_<metric>`` column).
    z : a mean is "resolved" when ``|mean| >= z * sem``.
    min_k, c_method : passed to :func:`~scaling_kit.laws.validation.fit_loglinear_laws`
        (with ``sign_change="flag"``: sign-changing points are reported and left unfitted).

    The per-point law ``psi_z(k) = c(z) k^-alpha(z)`` (Covert et al. 2024, Eq. 4) is fitted by
    OLS of ``log|mean|`` on ``log k``; with fewer than ``min_k`` sizes, or when no point can be
    fitted under a metric, the means, harmful shares and sign changes are still reported and
    ``fits[metric]`` is None (``fit_errors`` says why).
    """
    df = samples
    if not isinstance(df, pd.DataFrame):
        raise TypeError("samples must be the DataFrame of sample_contributions (columns point, "
                        f"k, delta_<metric>); got {type(df).__name__}.")
    if not {"point", "k"} <= set(df.columns):
        raise ValueError("samples must have the columns point, k and delta_<metric> "
                         f"(sample_contributions output); got {list(df.columns)}.")
    z = check_number(z, "z", low=0.0, low_open=True)
    min_k = check_int(min_k, "min_k", low=3)
    if c_method not in ("log", "linear"):
        raise ValueError(f"c_method must be 'log' or 'linear'; got {c_method!r}.")
    available = _metrics_in(df)
    if metrics is None:
        metrics = available
        if not metrics:
            raise ValueError("samples has no delta_<metric> columns: call sample_contributions "
                             "with metric=['log_loss', 'softmax_ce', 'error', 'brier'].")
    metrics = check_metrics(metrics)
    missing = [m for m in metrics if m not in available]
    if missing:
        raise ValueError(f"samples lacks columns {['delta_' + m for m in missing]}; sample with "
                         f"metric={list(metrics)}.")
    ks = np.sort(df["k"].unique())
    means, tables, flips, fits, errors = [], [], [], {}, {}
    for metric in metrics:
        col = _column_of(df, metric)
        if not np.all(np.isfinite(df[col].to_numpy(dtype=float))):
            raise ValueError(f"samples[{col!r}] contains NaN or infinite values; drop or "
                             "recompute those samples.")
        s = summarize_contributions(df, col)
        s["harmful"] = s["mean"] < 0
        with np.errstate(invalid="ignore"):
            s["resolved"] = (s["mean"].abs() >= z * s["sem"]).to_numpy()
        fit = None
        try:
            fit = fit_loglinear_laws(s[["mean", "std", "count", "sem"]], sign_change="flag",
                                     min_k=min_k, c_method=c_method, z=z)
            sc = fit.sign_changes
        except ValueError as exc:
            errors[metric] = str(exc)
            sc = find_sign_changes(s, z=z)
        fits[metric] = fit
        wide = s["mean"].unstack("k")
        t = pd.DataFrame(index=wide.index)
        for k in ks:
            t[f"mean_{k:g}"] = wide[k]
        t["mean_all"] = df.groupby("point")[col].mean()
        t["n_harmful_k"] = (wide < 0).sum(axis=1)
        t["harmful"] = t["mean_all"] < 0
        t["sign_change"] = t.index.isin(sc["point"])
        at = sc.groupby("point").apply(
            lambda g: ", ".join(f"{a:g}->{b:g}" for a, b in zip(g["k_from"], g["k_to"])),
            include_groups=False) if len(sc) else pd.Series(dtype=object)
        t["sign_change_at"] = at.reindex(t.index).fillna("")
        if fit is not None:
            par = fit.params.reindex(t.index)
            for c in ("status", "c", "alpha", "alpha_se", "r2"):
                t[c] = par[c]
        else:
            t["status"] = "not_fitted"
            for c in ("c", "alpha", "alpha_se", "r2"):
                t[c] = np.nan
        t.insert(0, "metric", metric)
        tables.append(t.reset_index().set_index(["metric", "point"]))
        long = s.reset_index()
        long.insert(0, "metric", metric)
        means.append(long)
        flips.append(sc.assign(metric=metric))
    sign_changes = pd.concat(flips, ignore_index=True)
    sign_changes = sign_changes[["metric"] + [c for c in sign_changes.columns if c != "metric"]]
    return MetricComparison(
        metrics=metrics, ks=ks, means=pd.concat(means, ignore_index=True),
        table=pd.concat(tables), sign_changes=sign_changes, fits=fits, fit_errors=errors,
        z=float(z),
    )


