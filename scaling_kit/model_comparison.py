"""Individualized laws across model classes: the paper's Tables 1 and 2 from one call.

Covert et al. (ICML 2024, Section 4.1) validate the law ``psi_z(k) = c(z) k^-alpha(z)`` for
logistic regression, an MLP and an SVM on the same dataset: Table 1 reports, per model, the R^2
of the fitted laws across points and sizes (docs/math.md §3.5), Table 2 the Pearson correlation
of the fitted exponents alpha between each pair of models, over the points fitted by both.

:func:`compare_models` samples the contributions of each model
(:func:`scaling_kit.contributions.sample_contributions`; every model on the same sizes with the
same sampling options and seed, each with its own points and number of samples, as the paper
uses 1,000 points x 1,000 samples for logistic regression and 200 x 5,000 for the others) and
fits the log-linear laws (:func:`scaling_kit.laws.validation.fit_loglinear_laws`). A model whose
means change sign at every point (too few samples for its noise) has no law: its entry in
``laws`` is None and ``errors`` says why, and the tables show NaN there instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import as_problem, check_indices, check_int, check_sizes
from .contributions import sample_contributions, summarize_contributions
from .laws.validation import fit_loglinear_laws
from .results import Summary

__all__ = ["ModelComparison", "compare_models"]


@dataclass
class ModelComparison:
    """Log-linear laws of several models on one dataset (see :func:`compare_models`).

    Attributes
    ----------
    laws : ``{model: LogLinearLawResults or None}`` (None: no point could be fitted).
    errors : ``{model: reason}`` for the models without laws.
    means : ``{model: summarize_contributions table}`` (mean, std, count, sem per (point, k)).
    params : one row per model: ``n_points, n_samples, n_fitted, r2_median`` (per point),
        ``r2_across_points`` (Table 1), ``alpha_q10, alpha_median, alpha_q90,
        fraction_alpha_positive`` and ``snr_median``: the median over (point, k) of
        ``|mean| / std``, the signal-to-noise ratio of one sampled contribution (the paper's
        Appendix C.1 explains the poorer fits of MLPs and SVMs by a lower one).
    options : the sampling options and sizes used (those that change the numbers: not
        ``n_jobs``, ``cache`` and the like).
    """

    laws: dict
    errors: dict
    means: dict
    params: pd.DataFrame
    options: dict = field(default_factory=dict)

    def table1(self, dataset: str) -> pd.DataFrame:
        """``r2_across_points`` laid out like the paper's Table 1: one row (``dataset``), one
        column per model."""
        row = self.params["r2_across_points"].astype(float)
        return pd.DataFrame([row.to_numpy()], columns=list(row.index),
                            index=pd.Index([dataset], name="dataset"))

    def alpha_correlations(self, method="pearson") -> pd.DataFrame:
        """Correlation of alpha for each pair of models over the points fitted by both
        (Table 2: Pearson), with the number of those points; NaN with fewer than 3."""
        if method not in ("pearson", "spearman"):
            raise ValueError(f"method must be 'pearson' or 'spearman'; got {method!r}.")
        corr = stats.pearsonr if method == "pearson" else stats.spearmanr
        rows = {}
        for a, b in combinations(list(self.laws), 2):
            la, lb = self.laws[a], self.laws[b]
            if la is None or lb is None:
                rows[f"{a}-{b}"] = (np.nan, 0)
                continue
            fa, fb = la.fitted["alpha"], lb.fitted["alpha"]
            common = fa.index.intersection(fb.index)
            value = np.nan
            if len(common) >= 3 and np.ptp(fa.loc[common]) > 0 and np.ptp(fb.loc[common]) > 0:
                value = float(corr(fa.loc[common], fb.loc[common])[0])
            rows[f"{a}-{b}"] = (value, len(common))
        return pd.DataFrame.from_dict(rows, orient="index", columns=["correlation", "n_common"])

    def summary(self) -> Summary:
        """Per model: points, samples, fitted points, R^2 (per point, across points), alpha."""
        notes = [f"{model}: no law ({reason})" for model, reason in self.errors.items()]
        notes.append("r2_across_points: the paper's Table 1 statistic (R^2 of the fitted laws "
                     "across points, averaged over k); r2_median: median per-point R^2 in log "
                     "space; snr_median: median |mean| / std of one sampled contribution.")
        return Summary(title="Individualized laws by model class",
                       facts={key: str(value) for key, value in self.options.items()},
                       tables={"Per model": self.params}, notes=notes)


def _law_row(laws, means, n_points, n_samples) -> dict:
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = (means["mean"].abs() / means["std"]).to_numpy()
    snr = snr[np.isfinite(snr)]
    row = {"n_points": n_points, "n_samples": n_samples, "n_fitted": 0, "r2_median": np.nan,
           "r2_across_points": np.nan, "alpha_q10": np.nan, "alpha_median": np.nan,
           "alpha_q90": np.nan, "fraction_alpha_positive": np.nan,
           "snr_median": float(np.median(snr)) if snr.size else np.nan}
    if laws is None:
        return row
    alpha = laws.fitted["alpha"]
    row.update(n_fitted=len(alpha), r2_median=laws.median_r2, r2_across_points=laws.r2_overall,
               alpha_q10=float(alpha.quantile(0.1)), alpha_median=float(alpha.median()),
               alpha_q90=float(alpha.quantile(0.9)),
               fraction_alpha_positive=laws.fraction_alpha_positive)
    return row


#: ``sample_contributions`` options that change how a run is computed, not its numbers (workers,
#: cache, shards): left out of ``ModelComparison.options`` and of its summary.
_HOW_IT_RAN = ("n_jobs", "cache", "strict", "shard", "storage")


def compare_models(models, data, ks, *, options=None, random_state=None,
                   progress=False) -> ModelComparison:
    """Sample contributions of several models and fit their log-linear laws (Tables 1, 2).

    Parameters
    ----------
    models : ``{name: (learner, points, n_samples)}``: the learner (anything
        :func:`~scaling_kit.contributions.sample_contributions` accepts, e.g. a
        :class:`scaling_kit.recipes.Recipe`'s ``learner``), the pool indices of its points and
        its samples per (point, k).
    data : a Dataset or ``(X_pool, y_pool, X_test, y_test)``.
    ks : the dataset sizes (at least 3; the paper: 10 log-spaced in [100, 1000]).
    options : further ``sample_contributions`` options for every model (e.g.
        :data:`scaling_kit.recipes.PAPER_OPTIONS`: ``metric="softmax_ce"``,
        ``allow_z_in_D=True``); ``metric`` must be a single name.
    random_state : one seed for every model (the same plan of datasets where the points agree).
    progress : progress bars of the samplers.
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a dict {name: (learner, points, n_samples)} with at "
                        f"least one entry; got {type(models).__name__}.")
    problem = as_problem(data)
    ks = check_sizes(ks, "ks", sort=True)
    if len(ks) < 3:
        raise ValueError(f"ks must hold at least 3 sizes to fit a line in log k; got {ks.tolist()}.")
    options = dict(options or {})
    if not isinstance(options.get("metric", "log_loss"), str):
        raise ValueError("options['metric'] must be one metric name: each model's law is fitted "
                         f"on one metric; got {options['metric']!r}.")
    laws, errors, means, rows = {}, {}, {}, {}
    for name, entry in models.items():
        if not (isinstance(entry, tuple) and len(entry) == 3):
            raise TypeError(f"models[{name!r}] must be a tuple (learner, points, n_samples); "
                            f"got {entry!r}.")
        learner, points, n_samples = entry
        points = check_indices(points, f"models[{name!r}] points", problem.X_pool.shape[0])
        n_samples = check_int(n_samples, f"models[{name!r}] n_samples", low=1)
        table = sample_contributions(learner, problem, points, k=ks, n_samples=n_samples,
                                     random_state=random_state, progress=progress, **options)
        means[name] = summarize_contributions(table)
        try:
            laws[name] = fit_loglinear_laws(means[name])
        except ValueError as err:  # every point changes sign: reported, not fitted
            laws[name], errors[name] = None, str(err)
        rows[name] = _law_row(laws[name], means[name], len(points), n_samples)
    return ModelComparison(laws=laws, errors=errors, means=means,
                           params=pd.DataFrame.from_dict(rows, orient="index"),
                           options={"ks": ks.tolist(),
                                    **{key: value for key, value in options.items()
                                       if key not in _HOW_IT_RAN}})
