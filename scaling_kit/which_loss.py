"""Which loss? The value of a point under several test metrics, and the aggregate link.

Two analyses of issue 9 (MATH.md Section 2):

* :func:`compare_metrics`: the same sampled contributions ``Delta(z, D) = loss(D) - loss(D +
  {z})`` measured under several test losses (:mod:`scaling_kit.metrics`: the true log loss,
  the reference code's ``softmax_ce`` = cross-entropy applied to probabilities, the 0-1 error,
  the Brier score; one fit serves all, see :func:`scaling_kit.contributions.sample_contributions`
  with ``metric=[...]``). Per metric and point: the mean contribution at each k, whether it is
  harmful (negative mean), whether the mean changes sign across k (which the law
  ``psi_z(k) = c(z) k^-alpha(z)`` cannot represent: its sign is the sign of c at every k), and
  the log-linear fit of :func:`scaling_kit.laws.validation.fit_loglinear_laws` (sign-changing
  points are flagged, never fitted on ``|mean|``).
* :func:`aggregate_individual_link`: the footnote to the paper's Eq. 2. For z drawn from the
  pool and D a stratified draw of size k from the pool without z,

      E_z[Delta(z, D)] = eps(k) - eps(k + 1) ~= -eps'(k),

  with ``eps(k)`` the expected test loss at size k. For ``eps(k) = eps_inf + a k^b`` the mean
  contribution is ``-a b k^(b-1)``: it decays with exponent ``1 - b``, to be compared with the
  individual exponents alpha(z).

Why the identity holds with the engine's sampler (:mod:`scaling_kit.sampling`): for z uniform
on the pool and D ~ strat(k) conditioned on z not in D, the marginal law of D is exactly
strat(k) (the conditioning weights ``1 / P(z not in D)`` sum to one over the points outside
D), so ``E_z E[loss(D)] = eps(k)``. ``D + {z}`` has the class counts of strat(k) plus one point
of class c with probability ``n_c / n``: it equals strat(k + 1) when the rounding of the class
counts agrees (exactly, e.g., for a mirror-symmetric binary problem with balanced classes), and
differs from it by a class-rounding term of the order of a single contribution otherwise. A
fitted smooth curve averages that term out over k. :func:`expected_loss` estimates ``eps(k)``
with exactly the engine's stratified draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from . import exact_engine
from .aggregate import OffsetPowerLaw, PowerLaw, learning_curve
from .contributions import check_problem, sample_contributions, summarize_contributions
from .laws.validation import fit_loglinear_laws
from .learners import ExactLogisticRegression, as_learner, call_fit_predict_proba
from .logistic import LogisticProblem, augment
from .metrics import METRICS, check_metrics, losses_from_logp, losses_from_proba
from .sampling import StratifiedSampler

__all__ = [
    "MetricComparison",
    "compare_metrics",
    "find_sign_changes",
    "expected_loss",
    "LinkResult",
    "aggregate_individual_link",
]


# ------------------------------------------------------------------------------------------
# sign changes
# ------------------------------------------------------------------------------------------
def find_sign_changes(summary, *, z=2.0) -> pd.DataFrame:
    """Every sign flip of a point's mean contribution between consecutive k.

    ``summary``: a table indexed by (point, k) (or with those columns) with ``mean`` and
    optionally ``sem``, e.g. :func:`~scaling_kit.contributions.summarize_contributions`.
    Returns one row per flip: ``point, k_from, k_to, mean_from, mean_to, resolved``, where
    ``resolved`` means both means are at least ``z`` standard errors from zero (NaN without
    ``sem``). The same rule as :func:`scaling_kit.laws.validation.fit_loglinear_laws`, usable
    when a log-linear fit is impossible (fewer than 3 k, or no point of constant sign).
    """
    df = summary.reset_index() if {"point", "k"} - set(summary.columns) else summary.copy()
    if not {"point", "k", "mean"} <= set(df.columns):
        raise ValueError(f"Expected point, k and mean (summarize_contributions output); got "
                         f"{list(df.columns)}.")
    if not np.all(np.isfinite(df["mean"].to_numpy(dtype=float))):
        raise ValueError("The 'mean' column contains NaN or infinite values.")
    rows = []
    for point, g in df.sort_values(["point", "k"]).groupby("point", sort=True):
        m = g["mean"].to_numpy(dtype=float)
        k = g["k"].to_numpy()
        sem = g["sem"].to_numpy(dtype=float) if "sem" in g.columns else None
        for i in np.flatnonzero(np.sign(m[1:]) * np.sign(m[:-1]) < 0):
            resolved = np.nan
            if sem is not None and np.all(np.isfinite(sem[i:i + 2])):
                resolved = bool(np.all(np.abs(m[i:i + 2]) >= z * sem[i:i + 2]))
            rows.append((point, k[i], k[i + 1], m[i], m[i + 1], resolved))
    return pd.DataFrame(rows, columns=["point", "k_from", "k_to", "mean_from", "mean_to",
                                      "resolved"])


# ------------------------------------------------------------------------------------------
# compare metrics
# ------------------------------------------------------------------------------------------
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

    def summary(self) -> str:
        """Plain-text report: harmful shares, sign changes and exponents per metric."""
        share = self.harmful_share()
        sc = self.sign_change_summary()
        lines = [
            "Which loss? Marginal contributions under several test metrics",
            "=" * 86,
            f"points: {self.table.loc[self.metrics[0]].shape[0]}   k: "
            f"{', '.join(f'{k:g}' for k in self.ks)}   metrics: {', '.join(self.metrics)}",
            "-" * 86,
            f"{'metric':<12}{'harmful (all)':>14}{'sign-changing':>15}{'fitted':>8}"
            f"{'alpha median':>14}{'alpha IQR':>18}{'R^2 across':>12}",
        ]
        for metric in self.metrics:
            fit = self.fits.get(metric)
            if fit is None:
                tail = f"{0:>8}{'-':>14}{'-':>18}{'-':>12}"
            else:
                al = fit.fitted["alpha"]
                iqr = f"[{al.quantile(0.25):.2f}, {al.quantile(0.75):.2f}]"
                tail = (f"{len(fit.fitted):>8}{al.median():>14.3f}{iqr:>18}"
                        f"{fit.r2_overall:>12.3f}")
            lines.append(f"{metric:<12}{share.loc[metric, 'all']:>14.2f}"
                         f"{int(sc.loc[metric, 'n_points']):>15}" + tail)
        lines += ["-" * 86, "share of harmful points (negative mean) at each k:",
                  share.drop(columns="all").round(3).to_string()]
        for metric, err in self.fit_errors.items():
            lines.append(f"note: no log-linear fit for {metric}: {err}")
        lines.append("The law c k^-alpha has one sign at every k: sign-changing points are "
                     "reported, not fitted.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        share = self.harmful_share()["all"]
        return ("MetricComparison(" + ", ".join(
            f"{m}: {share[m]:.0%} harmful" for m in self.metrics) + ")")


def _metrics_in(df):
    cols = [c[len("delta_"):] for c in df.columns if c.startswith("delta_")]
    return tuple(m for m in METRICS if m in cols)


def compare_metrics(df, metrics=None, *, z=2.0, min_k=3, c_method="log") -> MetricComparison:
    """Compare the contributions of the same points under several test metrics.

    Parameters
    ----------
    df : output of :func:`~scaling_kit.contributions.sample_contributions` called with
        ``metric=[...]`` (columns ``point, k, delta_<metric>``) and a fixed k grid.
    metrics : the metrics to compare (default: every ``delta_<metric>`` column).
    z : a mean is "resolved" when ``|mean| >= z * sem``.
    min_k, c_method : passed to :func:`~scaling_kit.laws.validation.fit_loglinear_laws`
        (with ``sign_change="flag"``: sign-changing points are reported and left unfitted).

    The per-point law ``psi_z(k) = c(z) k^-alpha(z)`` (Covert et al. 2024, Eq. 4) is fitted by
    OLS of ``log|mean|`` on ``log k``; with fewer than ``min_k`` sizes, or when no point can be
    fitted under a metric, the means, harmful shares and sign changes are still reported and
    ``fits[metric]`` is None (``fit_errors`` says why).
    """
    if not isinstance(df, pd.DataFrame) or not {"point", "k"} <= set(df.columns):
        raise ValueError("df must be a DataFrame from sample_contributions (columns point, k, "
                         "delta_<metric>).")
    df = df.rename(columns={"delta": "delta_" + df.attrs["metrics"][0]}) if df.attrs.get("metrics") and "delta_" + df.attrs["metrics"][0] not in df.columns else df  # noqa: E501
    available = _metrics_in(df)
    if metrics is None:
        metrics = available
        if not metrics:
            raise ValueError("df has no delta_<metric> columns: call sample_contributions with "
                             "metric=['log_loss', 'softmax_ce', 'error', 'brier'].")
    metrics = check_metrics(metrics)
    missing = [m for m in metrics if m not in available]
    if missing:
        raise ValueError(f"df lacks columns {['delta_' + m for m in missing]}; sample with "
                         f"metric={list(metrics)}.")
    if float(z) <= 0:
        raise ValueError(f"z must be positive; got {z}.")
    ks = np.sort(df["k"].unique())
    means, tables, flips, fits, errors = [], [], [], {}, {}
    for metric in metrics:
        col = "delta_" + metric
        if not np.all(np.isfinite(df[col].to_numpy(dtype=float))):
            raise ValueError(f"{col} contains NaN or infinite values.")
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


# ------------------------------------------------------------------------------------------
# expected loss with the engine's stratified draws
# ------------------------------------------------------------------------------------------
def _unpack(data):
    if hasattr(data, "X_pool"):
        return data.X_pool, data.y_pool, data.X_test, data.y_test
    parts = tuple(data) if isinstance(data, (tuple, list)) else ()
    if len(parts) != 4:
        raise ValueError("dataset must be a scaling_kit Dataset or a tuple "
                         "(X_pool, y_pool, X_test, y_test).")
    return parts


def expected_loss(learner, dataset, k, *, n_datasets=200, metric="log_loss", random_state=0,
                  batch=64) -> pd.DataFrame:
    """Monte Carlo estimate of ``eps(k) = E_{|D| = k}[loss(fit on D)]`` on the test set.

    D is drawn exactly as the contribution engine draws it (proportional stratification from
    the pool, :class:`~scaling_kit.sampling.StratifiedSampler`), ``n_datasets`` independent
    draws per k. :class:`~scaling_kit.learners.ExactLogisticRegression` is fitted in batches by
    the exact engine; any other learner one dataset at a time.

    Returns a DataFrame indexed by k with ``mean, std, count, sem`` of the first metric, plus
    ``<metric>_mean`` / ``<metric>_sem`` for every metric when ``metric`` is a list.
    """
    metrics = check_metrics(metric)
    X_pool, y_pool, X_test, y_test, n_classes = check_problem(*_unpack(dataset))
    sampler = StratifiedSampler(y_pool, n_classes)
    ks = np.atleast_1d(np.asarray(k))
    if ks.ndim != 1 or ks.size == 0 or ks.dtype.kind not in "iuf" or np.any(ks != np.round(ks)):
        raise ValueError(f"k must be a positive integer or a sequence of them; got {k}.")
    ks = np.unique(ks.astype(np.int64))
    if np.any(ks < 1):
        raise ValueError(f"Dataset sizes k must be positive; got {ks.tolist()}.")
    for kk in ks:
        sampler.check_k(int(kk), exclude_one=False)
    if int(n_datasets) != n_datasets or n_datasets < 2:
        raise ValueError(f"n_datasets must be an integer >= 2; got {n_datasets}.")
    n_datasets = int(n_datasets)
    exact = isinstance(learner, ExactLogisticRegression)
    if exact:
        problem = LogisticProblem(X_pool.shape[1], n_classes, learner.C)
        Xa_pool, Xa_test = augment(X_pool), augment(X_test)
    else:
        adapter = as_learner(learner)
    seqs = np.random.SeedSequence(random_state).spawn(len(ks))
    rows = []
    for kk, seq in zip(ks, seqs):
        rng = np.random.default_rng(seq)
        Ds = np.stack([sampler.draw(rng, int(kk)) for _ in range(n_datasets)])
        vals = {m: [] for m in metrics}
        if exact:
            for start in range(0, n_datasets, int(batch)):
                D = Ds[start:start + int(batch)]
                theta, _ = exact_engine.fit_datasets(problem, Xa_pool[D], y_pool[D])
                out = losses_from_logp(exact_engine.test_log_proba(problem, Xa_test, theta),
                                       y_test, metrics)
                for m in metrics:
                    vals[m].append(out[m])
        else:
            seeds = rng.integers(2**31 - 1, size=n_datasets)
            for D, seed in zip(Ds, seeds):
                proba = call_fit_predict_proba(adapter, X_pool[D], y_pool[D], X_test, n_classes,
                                               int(seed))
                out = losses_from_proba(proba, y_test, metrics)
                for m in metrics:
                    vals[m].append(np.atleast_1d(out[m]))
        row = {"k": int(kk)}
        for i, m in enumerate(metrics):
            v = np.concatenate(vals[m])
            mean, std = float(v.mean()), float(v.std(ddof=1))
            if i == 0:
                row.update(mean=mean, std=std, count=v.size, sem=std / np.sqrt(v.size))
            if len(metrics) > 1:
                row[f"{m}_mean"] = mean
                row[f"{m}_sem"] = std / np.sqrt(v.size)
        rows.append(row)
    return pd.DataFrame(rows).set_index("k")


# ------------------------------------------------------------------------------------------
# the aggregate-individual link
# ------------------------------------------------------------------------------------------
@dataclass
class LinkResult:
    """The mean individual contribution against the learning curve (MATH.md Section 2).

    Attributes
    ----------
    table : indexed by k: ``mean_delta`` (mean over the sampled points of their mean
        contributions), ``sem`` (standard deviation of the point means / sqrt(n_points): the
        spread between points; datasets shared between points add a correlation it ignores),
        ``difference`` = ``eps(k) - eps(k+1)`` and ``minus_derivative`` = ``-eps'(k)`` of the
        fitted curve, ``z_score`` = ``(mean_delta - difference) / sem``.
    curve : the learning-curve points, indexed by size: ``mean, sem`` (and more columns).
    form : the fitted curve (:mod:`scaling_kit.aggregate` form with ``difference``,
        ``derivative``).
    implied_exponent : ``1 - b``: the decay exponent of ``-eps'(k) = -a b k^(b-1)``.
    mean_curve_alpha : OLS slope of ``-log mean_delta`` on ``log k`` (NaN if a mean is <= 0).
    laws : :class:`~scaling_kit.laws.validation.LogLinearLawResults` of the individual points
        (None with fewer than 3 k); ``alphas`` their fitted exponents.
    contributions : the sampled contributions (``sample_contributions`` output).
    """

    table: pd.DataFrame
    curve: pd.DataFrame
    form: object
    implied_exponent: float
    mean_curve_alpha: float
    laws: object
    alphas: pd.Series
    contributions: pd.DataFrame
    points: np.ndarray
    metric: str
    curve_method: str

    @property
    def alpha_range(self) -> tuple:
        """(min, max) of the individual alphas."""
        if self.alphas.empty:
            return (np.nan, np.nan)
        return (float(self.alphas.min()), float(self.alphas.max()))

    @property
    def implied_exponent_percentile(self) -> float:
        """Share of individual alphas below the implied exponent ``1 - b`` (in [0, 1])."""
        if self.alphas.empty:
            return np.nan
        return float(np.mean(self.alphas.to_numpy() < self.implied_exponent))

    def summary(self) -> str:
        b = self.form.params_["b"]
        al = self.alphas
        lines = [
            "Aggregate-individual link: E_z[Delta(z, D)] = eps(k) - eps(k+1) ~= -eps'(k)",
            "=" * 86,
            f"metric: {self.metric}   points: {len(self.points)}   learning curve: "
            f"{self.curve_method}, {len(self.curve)} sizes   form: "
            f"{getattr(self.form, 'formula', type(self.form).__name__)}",
            "fitted: " + ", ".join(f"{k} = {v:.4g}" for k, v in self.form.params_.items()),
            f"implied exponent 1 - b = {1 - b:.3f}   exponent of the mean curve (OLS) = "
            f"{self.mean_curve_alpha:.3f}",
        ]
        if not al.empty:
            lines.append(
                f"individual alphas: n = {len(al)}, min {al.min():.3f}, median {al.median():.3f}, "
                f"max {al.max():.3f}; share below 1 - b: {self.implied_exponent_percentile:.2f}")
        lines += ["-" * 86, self.table.to_string(float_format=lambda v: f"{v:.3g}")]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"LinkResult({self.metric}, implied exponent {self.implied_exponent:.3f}, "
                f"individual alphas in [{self.alpha_range[0]:.2f}, {self.alpha_range[1]:.2f}])")


_FORMS = {"power law": PowerLaw, "power law + offset": OffsetPowerLaw}


def aggregate_individual_link(learner, dataset, ks, *, points=50, n_samples=100,
                              metric="log_loss", curve_sizes=None, n_datasets=200,
                              curve_method="stratified", form="power law + offset",
                              share_datasets=True, random_state=0, n_jobs=1,
                              progress=False) -> LinkResult:
    """Compare the mean individual contribution with the derivative of the learning curve.

    MATH.md Section 2 (the footnote to Covert et al.'s Eq. 2):
    ``E_z[Delta(z, D)] = eps(k) - eps(k+1) ~= -eps'(k)``; for ``eps = eps_inf + a k^b`` the
    mean contribution decays like ``k^-(1 - b)``.

    Steps: (1) sample contributions of ``points`` (an int: that many pool points drawn at
    random; or pool indices) at each k in ``ks`` with
    :func:`~scaling_kit.contributions.sample_contributions`, and average over the points;
    (2) estimate the learning curve ``eps`` at ``curve_sizes`` (default: ``ks`` and a
    log-spaced grid of 8 sizes between them) on the same pool, test set, learner and metric,
    with ``curve_method="stratified"`` (:func:`expected_loss`: the engine's draws,
    ``n_datasets`` per size; what the identity needs) or ``"nested"``
    (:func:`scaling_kit.aggregate.learning_curve`, Hestness nested shards, ``n_datasets``
    seeds; log loss only); (3) fit ``form`` (``"power law + offset"``, ``"power law"`` or an
    unfitted :mod:`scaling_kit.aggregate` form) and compare ``difference(k)``; (4) fit the
    individual laws (:func:`~scaling_kit.laws.validation.fit_loglinear_laws`, sign-changing
    points flagged) and report the implied exponent ``1 - b`` beside their alphas.
    """
    if isinstance(metric, str):
        check_metrics(metric)
    else:
        raise ValueError("metric must be a single metric name, e.g. 'log_loss'.")
    X_pool, y_pool, X_test, y_test, _ = check_problem(*_unpack(dataset))
    ks = np.atleast_1d(np.asarray(ks))
    if ks.ndim != 1 or ks.size < 2 or ks.dtype.kind not in "iuf" or np.any(ks != np.round(ks)):
        raise ValueError(f"ks must be at least 2 positive integer sizes; got {ks}.")
    ks = np.unique(ks.astype(np.int64))
    if ks.size < 2 or ks.min() < 1:
        raise ValueError(f"ks must be at least 2 distinct positive sizes; got {ks.tolist()}.")
    if curve_method not in ("stratified", "nested"):
        raise ValueError(f"curve_method must be 'stratified' or 'nested'; got {curve_method!r}.")
    if curve_method == "nested" and metric != "log_loss":
        raise ValueError("curve_method='nested' records the log loss only; use 'stratified' for "
                         f"metric={metric!r}.")
    if isinstance(form, str):
        if form not in _FORMS:
            raise ValueError(f"form must be one of {list(_FORMS)} or an aggregate form; got "
                             f"{form!r}.")
        form = _FORMS[form]()
    elif not (hasattr(form, "fit") and hasattr(form, "difference")):
        raise ValueError("form must be a name or an unfitted scaling_kit.aggregate form.")
    n_pool = X_pool.shape[0]
    if isinstance(points, (int, np.integer)) and not isinstance(points, bool):
        if not 2 <= points <= n_pool:
            raise ValueError(f"points must be between 2 and the pool size {n_pool}; got {points}.")
        rng = np.random.default_rng(np.random.SeedSequence(random_state, spawn_key=(9,)))
        points = np.sort(rng.choice(n_pool, size=int(points), replace=False))
    else:
        points = np.asarray(points)
        if points.ndim != 1 or points.size < 2 or points.dtype.kind not in "iu":
            raise ValueError("points must be an int or at least 2 integer pool indices.")
    if curve_sizes is None:
        grid = np.geomspace(ks.min(), ks.max(), 8).round().astype(np.int64)
        curve_sizes = np.union1d(ks, grid)
    curve_sizes = np.unique(np.asarray(curve_sizes).astype(np.int64))
    if curve_sizes.size < 3:
        raise ValueError("curve_sizes must hold at least 3 sizes for a curve fit.")

    # (1) individual contributions
    df = sample_contributions(learner, (X_pool, y_pool, X_test, y_test), points, k=ks,
                              n_samples=n_samples, metric=metric,
                              share_datasets=share_datasets, random_state=random_state,
                              n_jobs=n_jobs, progress=progress)
    summ = summarize_contributions(df)
    point_means = summ["mean"].unstack("k")
    table = pd.DataFrame({
        "mean_delta": point_means.mean(axis=0),
        "sem": point_means.std(axis=0, ddof=1) / np.sqrt(point_means.shape[0]),
    })
    table.index.name = "k"

    # (2) the learning curve on the same problem
    if curve_method == "stratified":
        curve = expected_loss(learner, (X_pool, y_pool, X_test, y_test), curve_sizes,
                              n_datasets=n_datasets, metric=metric,
                              random_state=int(np.random.SeedSequence(random_state).generate_state(1)[0]))
    else:
        lc = learning_curve(learner, (X_pool, y_pool, X_test, y_test), sizes=curve_sizes,
                            n_seeds=n_datasets, random_state=random_state, n_jobs=n_jobs)
        agg = lc.aggregate()
        curve = pd.DataFrame({"mean": agg["cross_entropy_mean"],
                              "sem": agg["cross_entropy_sem"]})
        curve.index.name = "k"
    # (3) fitted form
    form.fit(curve.index.to_numpy(dtype=float), curve["mean"].to_numpy())
    kf = table.index.to_numpy(dtype=float)
    table["difference"] = form.difference(kf)
    table["minus_derivative"] = -form.derivative(kf)
    table["z_score"] = (table["mean_delta"] - table["difference"]) / table["sem"]
    b = float(form.params_["b"])
    md = table["mean_delta"].to_numpy()
    mean_alpha = (-stats.linregress(np.log(kf), np.log(md)).slope if np.all(md > 0)
                  else np.nan)

    # (4) individual laws
    laws, alphas = None, pd.Series(dtype=float, name="alpha")
    if ks.size >= 3:
        try:
            laws = fit_loglinear_laws(summ, sign_change="flag")
            alphas = laws.fitted["alpha"]
        except ValueError:
            laws = None
    return LinkResult(table=table, curve=curve, form=form, implied_exponent=1.0 - b,
                      mean_curve_alpha=float(mean_alpha), laws=laws, alphas=alphas,
                      contributions=df, points=points, metric=metric,
                      curve_method=curve_method)
