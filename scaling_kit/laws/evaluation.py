"""Accuracy of scaling-law estimators against ground-truth means (Covert et al., ICML 2024,
Section 4.2, Figure 8, Appendix C.2; docs/math.md §5).

Ground truth: the mean contribution ``psi_z(k)`` of each point at each evaluation size ``k``,
estimated from many samples. A fitted law predicts ``c k^-alpha``; at each ``k`` we compare the
predictions with the truth *across points* by

* ``R^2 = 1 - sum (truth - pred)^2 / sum (truth - mean(truth))^2`` (:func:`sklearn.metrics.r2_score`),
* Pearson correlation (:func:`scipy.stats.pearsonr`) and Spearman rank correlation
  (:func:`scipy.stats.spearmanr`),

marking each ``k`` as inside the fitting range or extrapolating beyond it. Convergence is the
same evaluation after refitting on the first ``n`` samples of every point for growing ``n``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import r2_score

from .._checks import check_int, check_random_state

__all__ = [
    "true_means",
    "evaluate_predictions",
    "subsample_contributions",
    "accuracy_vs_samples",
    "accuracy_table",
    "loglinear_vs_likelihood",
]


def true_means(data: pd.DataFrame, delta_col: str = "delta") -> pd.DataFrame:
    """Ground-truth table: rows = points, columns = k, values = mean contribution.

    ``data`` is the engine's tidy table of samples (columns ``point, k, delta_col``) or the
    output of ``summarize_contributions`` (indexed by ``(point, k)`` with a ``mean`` column).
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a DataFrame of samples (point, k, delta) or of (point, k) "
                        f"means (summarize_contributions); got {type(data).__name__}.")
    if "mean" in data.columns and data.index.nlevels == 2:
        table = data["mean"].unstack("k")
    else:
        missing = [c for c in ("point", "k", delta_col) if c not in data.columns]
        if missing:
            raise ValueError(f"data lacks column(s) {missing}; give samples or a summary.")
        if not np.all(np.isfinite(data[delta_col].to_numpy(float))):
            raise ValueError(f"data[{delta_col!r}] has NaN/inf values; drop or fix them.")
        table = data.groupby(["point", "k"])[delta_col].mean().unstack("k")
    if table.isna().any().any() or not np.all(np.isfinite(table.to_numpy(float))):
        raise ValueError("data: every point needs a finite ground truth at every k (the table "
                         "has gaps or NaN/inf means).")
    table.columns = table.columns.astype(float)
    return table


def _prediction_table(pred, ks):
    if hasattr(pred, "predict") and not isinstance(pred, pd.DataFrame):
        pred = pred.predict(ks)
    if not isinstance(pred, pd.DataFrame):
        raise TypeError("pred must be a results object with predict(k) or a points x k "
                        f"DataFrame; got {type(pred).__name__}.")
    pred = pred.copy()
    pred.columns = pred.columns.astype(float)
    return pred


def evaluate_predictions(pred, truth: pd.DataFrame, fit_range: Sequence[float] | None = None,
                         ) -> pd.DataFrame:
    """R^2, Pearson and Spearman across points at each ``k`` of ``truth``.

    ``pred`` is a fitted results object (``predict(k)``) or a points x k table; ``truth`` comes
    from :func:`true_means`. Only points present in both are used. ``fit_range=(k_min, k_max)``
    labels each k ``"fit"`` or ``"extrapolation"`` (default: the results' ``k_range``).
    Returns a DataFrame indexed by ``k``.
    """
    if not isinstance(truth, pd.DataFrame):
        raise TypeError(f"truth must be a points x k DataFrame (true_means); got "
                        f"{type(truth).__name__}.")
    ks = truth.columns.to_numpy(float)
    table = _prediction_table(pred, ks)
    if fit_range is None:
        fit_range = getattr(pred, "k_range", (np.nan, np.nan))
    common = truth.index.intersection(table.index)
    if len(common) < 3:
        raise ValueError(f"pred and truth must share >= 3 points (index values); found "
                         f"{len(common)}.")
    t = truth.loc[common]
    p = table.loc[common, ks]
    if not np.all(np.isfinite(p.to_numpy())):
        raise ValueError("pred contains NaN/inf predictions; check the fit's status column.")
    rows = []
    for k in ks:
        tk, pk = t[k].to_numpy(), p[k].to_numpy()
        lo, hi = fit_range
        region = "fit" if (lo <= k <= hi) else ("extrapolation" if np.isfinite(hi) else "")
        rows.append({
            "k": k,
            "region": region,
            "r2": r2_score(tk, pk),
            "pearson": stats.pearsonr(tk, pk)[0],
            "spearman": stats.spearmanr(tk, pk)[0],
            "n_points": len(common),
        })
    return pd.DataFrame(rows).set_index("k")


def subsample_contributions(data: pd.DataFrame, n_samples: int, random_state=None) -> pd.DataFrame:
    """Keep ``n_samples`` randomly chosen samples of every point (all if it has fewer)."""
    if not isinstance(data, pd.DataFrame) or "point" not in data.columns:
        raise TypeError("data must be a tidy DataFrame of samples with a 'point' column.")
    n_samples = check_int(n_samples, "n_samples", low=1)
    rng = check_random_state(random_state)
    key = rng.random(len(data))
    rank = pd.Series(key, index=data.index).groupby(data["point"].to_numpy()).rank(method="first")
    return data[rank.to_numpy() <= int(n_samples)].reset_index(drop=True)


def accuracy_vs_samples(
    estimators: Mapping[str, Callable[[pd.DataFrame], object]],
    samples: pd.DataFrame,
    truth: pd.DataFrame,
    n_samples: Sequence[int] = (10, 25, 50, 100, 250, 500),
    fit_range: Sequence[float] | None = None,
    random_state=None,
) -> pd.DataFrame:
    """Accuracy at each ``k`` of every estimator refitted on ``n`` samples per point.

    ``estimators`` maps a name to a function ``fit(samples_df) -> results`` (anything with
    ``predict(k)`` returning a points x k table). For each ``n`` the same random subsample of
    ``samples`` feeds every estimator (nested subsamples: the first n of one permutation).
    Returns a long table with columns ``estimator, n_samples, k, region, r2, pearson,
    spearman``.
    """
    if not estimators:
        raise ValueError("estimators must map at least one name to a fit function.")
    if not isinstance(samples, pd.DataFrame) or not {"point", "k"} <= set(samples.columns):
        raise TypeError("samples must be a tidy DataFrame of samples (point, k, delta).")
    n_samples = [check_int(n, "n_samples[i]", low=1) for n in np.atleast_1d(n_samples)]
    rng = check_random_state(random_state)
    key = pd.Series(rng.random(len(samples)), index=samples.index)
    rank = key.groupby(samples["point"].to_numpy()).rank(method="first").to_numpy()
    if fit_range is None:
        fit_range = (samples["k"].min(), samples["k"].max())
    out = []
    for n in n_samples:
        sub = samples[rank <= int(n)].reset_index(drop=True)
        for name, fit in estimators.items():
            ev = evaluate_predictions(fit(sub), truth, fit_range).reset_index()
            ev.insert(0, "n_samples", int(n))
            ev.insert(0, "estimator", name)
            out.append(ev)
    return pd.concat(out, ignore_index=True)


def accuracy_table(accuracy: pd.DataFrame, metric: str = "r2") -> pd.DataFrame:
    """Average of ``metric`` over the k of each region: rows (estimator, n_samples), columns
    regions (``fit``, ``extrapolation``). The estimator comparison table of the report."""
    if metric not in ("r2", "pearson", "spearman"):
        raise ValueError(f"metric must be 'r2', 'pearson' or 'spearman'; got {metric!r}.")
    return accuracy.pivot_table(index=["estimator", "n_samples"], columns="region",
                                values=metric, aggfunc="mean")


def loglinear_vs_likelihood(samples: pd.DataFrame, true_alpha, n_samples=(10, 30, 100, 300),
                            delta_col: str = "delta", method: str = "empirical_bayes",
                            random_state=None) -> pd.DataFrame:
    """Why log-linear fits need many samples (docs/math.md §3 vs §5), on samples at fixed sizes.

    For each ``n``: keep ``n`` samples per (point, k); (1) the validation protocol, i.e. OLS of
    ``log|mean|`` on ``log k`` (:func:`scaling_kit.laws.validation.fit_loglinear_laws`), which
    cannot fit points whose sample means change sign across k; (2) the likelihood fit
    (:func:`.likelihood.fit_likelihood` with ``method``) on the very same samples (method
    label ``"likelihood"``). Returns one row per
    ``(n, method)``: ``n_per_k``, ``n_per_point``, ``method``, ``fraction_fitted``,
    ``median_abs_alpha_error`` (over fitted points) and ``rmse_alpha``.
    """
    from .likelihood import fit_likelihood
    from .validation import fit_loglinear_laws

    if not isinstance(samples, pd.DataFrame) or not {"point", "k", delta_col} <= set(samples.columns):
        raise TypeError(f"samples must be a tidy DataFrame with columns point, k, {delta_col}.")
    points = np.unique(samples["point"].to_numpy())
    true_alpha = np.asarray(true_alpha, float)
    if true_alpha.shape != points.shape:
        raise ValueError(f"true_alpha must hold one exponent per point ({len(points)}); got "
                         f"shape {true_alpha.shape}.")
    true_alpha = pd.Series(true_alpha, index=points)
    rng = check_random_state(random_state)
    key = pd.Series(rng.random(len(samples)), index=samples.index)
    rank = key.groupby([samples["point"].to_numpy(), samples["k"].to_numpy()]).rank(
        method="first").to_numpy()
    n_k = samples["k"].nunique()
    rows = []
    for n in n_samples:
        sub = samples[rank <= int(n)]
        summary = sub.groupby(["point", "k"])[delta_col].agg(["mean", "std", "count"])
        ll = fit_loglinear_laws(summary, sign_change="flag").params
        ok = ll["status"] == "ok"
        mle = fit_likelihood(sub, delta_col=delta_col, method=method).params
        for name, alpha, fitted in (("log-linear OLS", ll["alpha"], ok),
                                    ("likelihood", mle["alpha"], mle["status"] != "degenerate")):
            err = (alpha[fitted] - true_alpha.loc[alpha[fitted].index]).to_numpy()
            rows.append({
                "n_per_k": int(n), "n_per_point": int(n) * n_k, "method": name,
                "fraction_fitted": float(np.mean(fitted)),
                "median_abs_alpha_error": float(np.median(np.abs(err))) if len(err) else np.nan,
                "rmse_alpha": float(np.sqrt(np.mean(err**2))) if len(err) else np.nan,
            })
    return pd.DataFrame(rows)
