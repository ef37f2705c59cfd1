"""Distributional Shapley values and point addition (MATH.md section 5; Covert et al., ICML
2024, Sections 4.3 and 4.4, Appendices C.3 and C.4).

**Distributional Shapley value** (Ghorbani et al. 2020, with a minimum cardinality as in the
paper's Appendix C.3): the uniform average of a point's expected marginal contribution over
the dataset sizes ``k_min..k_max``::

    phi(z) = 1 / (k_max - k_min + 1) * sum_{k = k_min}^{k_max} psi_z(k),
    psi_z(k) = E_{|D| = k}[Delta(z, D)].

* :func:`law_shapley` plugs in a fitted individualized law ``psi_z(k) = c k^-alpha``: the sum
  ``sum_k k^-alpha`` is the difference of two Hurwitz zeta functions,
  ``zeta(alpha, k_min) - zeta(alpha, k_max + 1)`` (scipy), for ``alpha > 1``, and an explicit
  sum otherwise (:func:`power_sum`).
* :func:`monte_carlo_shapley` is the plain Monte Carlo estimator: the mean of contributions
  sampled with ``k`` uniform on the range (``sample_contributions(..., k_range=...)``).
* :func:`enumerate_shapley` computes ``phi`` exactly on a tiny pool: every stratified dataset
  of every size, each contribution from its definition (two fits).
* :func:`compare_shapley_estimators` reproduces Tables 3 and 4: Pearson correlation with a
  ground truth for Monte Carlo, likelihood and amortized estimates from few samples a point.

**Point addition** (Section 4.4): add ``n_add`` (paper: 20) points from a candidate pool to
a random stratified dataset of size ``k0`` drawn from the rest of the pool and record the
test-accuracy gain; the points are chosen by a score (the law's prediction ``c k^-alpha`` at
one size, "Scaling k", or the Shapley value) or at random. :func:`point_addition` repeats
this (paper: 1000 times) with L2 logistic regression solved exactly by Newton's method, the
fit on ``D + S`` warm-started from the fit on ``D``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations, product

import numpy as np
import pandas as pd
from scipy import special, stats

from .contributions import check_problem, exact_contribution
from .learners import ExactLogisticRegression, as_learner
from .logistic import LogisticProblem, augment
from .sampling import StratifiedSampler, stratified_counts

__all__ = [
    "power_sum",
    "law_shapley",
    "monte_carlo_shapley",
    "enumerate_shapley",
    "EnumeratedShapley",
    "ShapleyComparison",
    "compare_shapley_estimators",
    "likelihood_shapley_estimator",
    "amortized_shapley_estimator",
    "selection_scores",
    "select_points",
    "PointAdditionResults",
    "point_addition",
    "ValuationExperiment",
    "valuation_experiment",
]


# ------------------------------------------------------------------------------------------
# validation helpers
# ------------------------------------------------------------------------------------------
def _check_k_range(k_range):
    try:
        k_lo, k_hi = k_range
    except (TypeError, ValueError):
        raise ValueError(f"k_range must be a pair (k_min, k_max); got {k_range!r}.") from None
    for v in (k_lo, k_hi):
        if not isinstance(v, (int, np.integer, float, np.floating)) or not np.isfinite(v) \
                or v != int(v):
            raise ValueError(f"k_range must hold two integers; got {k_range!r}.")
    k_lo, k_hi = int(k_lo), int(k_hi)
    if not 1 <= k_lo <= k_hi:
        raise ValueError(f"k_range must satisfy 1 <= k_min <= k_max; got {k_range!r}.")
    return k_lo, k_hi


def _law_params(law=None, c=None, alpha=None):
    """``(index, c, alpha)`` from a results object, a params table or two arrays."""
    if law is not None:
        if c is not None or alpha is not None:
            raise ValueError("Give a fitted law or the arrays c= and alpha=, not both.")
        params = getattr(law, "params_", getattr(law, "params", law))
        if not isinstance(params, pd.DataFrame) or not {"c", "alpha"} <= set(params.columns):
            raise ValueError(
                "law must be a fitted ScalingLawResults / LikelihoodScalingLaw / "
                "AmortizedScalingLaw, or a DataFrame with columns 'c' and 'alpha'."
            )
        index = params.index
        c, alpha = params["c"].to_numpy(dtype=float), params["alpha"].to_numpy(dtype=float)
    elif c is None or alpha is None:
        raise ValueError("Give a fitted law, or both arrays c= and alpha=.")
    else:
        c, alpha = np.broadcast_arrays(np.atleast_1d(np.asarray(c, dtype=float)),
                                       np.atleast_1d(np.asarray(alpha, dtype=float)))
        if c.ndim != 1:
            raise ValueError("c and alpha must be scalars or 1-D arrays.")
        index = pd.RangeIndex(len(c), name="point")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(alpha))):
        raise ValueError("c and alpha must be finite (refit or drop points whose fit failed).")
    if np.any(alpha < 0):
        raise ValueError("alpha must be non-negative (the law c k^-alpha decays).")
    return index, c, alpha


# ------------------------------------------------------------------------------------------
# Shapley values
# ------------------------------------------------------------------------------------------
def power_sum(alpha, k_min: int, k_max: int) -> np.ndarray:
    """``sum_{k = k_min}^{k_max} k^-alpha`` for each ``alpha`` (vectorized).

    For ``alpha > 1`` the closed form ``zeta(alpha, k_min) - zeta(alpha, k_max + 1)`` (Hurwitz
    zeta, :func:`scipy.special.zeta`); for ``alpha <= 1`` (where the series diverges and scipy
    gives no value) the finite sum is added up explicitly.
    """
    k_lo, k_hi = _check_k_range((k_min, k_max))
    alpha = np.asarray(alpha, dtype=float)
    if not np.all(np.isfinite(alpha)):
        raise ValueError("alpha must be finite.")
    out = np.empty(alpha.shape)
    flat_a, flat_out = alpha.ravel(), out.reshape(-1)
    big = flat_a > 1.0 + 1e-6
    flat_out[big] = special.zeta(flat_a[big], k_lo) - special.zeta(flat_a[big], k_hi + 1)
    small = np.flatnonzero(~big)
    if small.size:
        logk = np.log(np.arange(k_lo, k_hi + 1, dtype=float))
        for start in range(0, small.size, 256):  # bounded memory
            idx = small[start:start + 256]
            flat_out[idx] = np.exp(-flat_a[idx, None] * logk[None, :]).sum(axis=1)
    return out


def law_shapley(law=None, k_range=None, *, c=None, alpha=None) -> pd.Series:
    """Distributional Shapley values implied by fitted laws ``psi_z(k) = c k^-alpha``.

    ``phi(z) = c / (k_max - k_min + 1) * sum_{k = k_min}^{k_max} k^-alpha`` (paper, Appendix
    C.3; MATH.md section 5), with the sum from :func:`power_sum`.

    Parameters
    ----------
    law : fitted :class:`~scaling_kit.laws.likelihood.ScalingLawResults`,
        :class:`~scaling_kit.laws.likelihood.LikelihoodScalingLaw`,
        :class:`~scaling_kit.laws.amortized.AmortizedScalingLaw` (anything with ``params_``) or
        a DataFrame with columns ``c`` and ``alpha``; or None and the arrays ``c``, ``alpha``.
    k_range : ``(k_min, k_max)``, the cardinalities averaged over.

    Returns
    -------
    pandas.Series of values indexed by point.
    """
    if k_range is None:
        raise ValueError("k_range=(k_min, k_max) is required: the range averaged over.")
    k_lo, k_hi = _check_k_range(k_range)
    index, c, alpha = _law_params(law, c, alpha)
    phi = c * power_sum(alpha, k_lo, k_hi) / (k_hi - k_lo + 1)
    return pd.Series(phi, index=index, name="shapley")


def _check_samples(data, delta_col):
    if not isinstance(data, pd.DataFrame):
        raise ValueError(
            "data must be the tidy table of sample_contributions (a DataFrame with columns "
            f"point, k, sample, {delta_col}); got {type(data).__name__}."
        )
    missing = [col for col in ("point", "k", delta_col) if col not in data.columns]
    if missing:
        raise ValueError(f"data lacks column(s) {missing}; it has {list(data.columns)}.")
    if len(data) == 0:
        raise ValueError("data has no samples.")
    if not np.all(np.isfinite(data[delta_col].to_numpy(dtype=float))):
        raise ValueError(f"{delta_col!r} has NaN/inf values; drop or fix those samples first.")


def _first_samples(data, n_samples):
    """The first ``n_samples`` samples of every point (the engine's ``sample`` order)."""
    n = int(n_samples)
    if n != n_samples or n < 1:
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
    if "sample" in data.columns:
        sub = data[data["sample"] < n]
    else:
        sub = data.groupby("point", sort=False).head(n)
    counts = sub.groupby("point").size().reindex(data["point"].unique(), fill_value=0)
    if (counts < n).any():
        bad = counts.index[counts < n][0]
        have = int((data["point"] == bad).sum())
        raise ValueError(
            f"n_samples={n} but point {bad!r} has only {min(have, int(counts.loc[bad]))} "
            "usable samples; sample more contributions or ask for fewer."
        )
    return sub


def monte_carlo_shapley(data: pd.DataFrame, *, n_samples: int | None = None, k_range=None,
                        delta_col: str = "delta") -> pd.DataFrame:
    """Plain Monte Carlo distributional Shapley: the mean sampled contribution of each point.

    ``phi_hat(z) = mean_j Delta(z, D_j)`` with ``|D_j|`` uniform on ``k_min..k_max`` (paper,
    Appendix C.3), i.e. ``data`` from ``sample_contributions(..., k_range=(k_min, k_max))``.

    Parameters
    ----------
    data : the engine's tidy table (columns ``point, k, sample, delta_col``).
    n_samples : use only the first ``n_samples`` samples of every point (nested subsets, so
        estimates with 10 and 50 samples share their first 10).
    k_range : if given, every sample's ``k`` must lie in it (a guard against mixing tables).

    Returns
    -------
    DataFrame indexed by point: ``value`` (the estimate), ``se`` (its standard error, std /
    sqrt(n)) and ``n_samples``.
    """
    _check_samples(data, delta_col)
    if k_range is not None:
        k_lo, k_hi = _check_k_range(k_range)
        ks = data["k"].to_numpy()
        if ks.min() < k_lo or ks.max() > k_hi:
            raise ValueError(
                f"Samples have k in [{ks.min()}, {ks.max()}], outside k_range={k_range}; "
                "sample with sample_contributions(..., k_range=k_range)."
            )
    if n_samples is not None:
        data = _first_samples(data, n_samples)
    g = data.groupby("point")[delta_col]
    out = g.agg(value="mean", sd="std", n_samples="count")
    out["se"] = out.pop("sd") / np.sqrt(out["n_samples"])
    return out[["value", "se", "n_samples"]]


@dataclass
class EnumeratedShapley:
    """Exact distributional Shapley value of one point on a tiny pool.

    Attributes
    ----------
    value : ``phi(z)``, the uniform average of ``psi`` over the range.
    psi : Series ``psi_z(k)`` (exact mean over every stratified dataset of size k).
    n_datasets : Series, number of datasets enumerated at each k.
    point, k_range, metric : what was computed.
    """

    value: float
    psi: pd.Series
    n_datasets: pd.Series
    point: int
    k_range: tuple
    metric: str


def enumerate_shapley(learner, X_pool, y_pool, X_test, y_test, point, k_range, *,
                      metric: str = "log_loss", max_datasets: int = 20_000) -> EnumeratedShapley:
    """Exact distributional Shapley value of ``point`` by enumerating every dataset.

    ``psi_z(k)`` is the mean of ``Delta(z, D)`` over *all* datasets ``D`` of the pool without z
    that have the stratified class counts of size k (:func:`scaling_kit.sampling.
    stratified_counts` on the whole pool's class sizes, the engine's rule; within each class
    every subset is equally likely), each contribution from its definition
    (:func:`scaling_kit.contributions.exact_contribution`: two independent fits). Then
    ``phi = mean_k psi_z(k)``. Only for tiny pools: raises if more than ``max_datasets``
    datasets would be needed.
    """
    X_pool, y_pool, X_test, y_test, n_classes = check_problem(X_pool, y_pool, X_test, y_test)
    k_lo, k_hi = _check_k_range(k_range)
    if int(point) != point or not 0 <= int(point) < len(y_pool):
        raise ValueError(f"point must be an index into the pool (0..{len(y_pool) - 1}).")
    point = int(point)
    sizes = np.bincount(y_pool, minlength=n_classes)
    others = [np.setdiff1d(np.flatnonzero(y_pool == c), [point]) for c in range(n_classes)]
    plans, total = {}, 0
    for k in range(k_lo, k_hi + 1):
        counts = stratified_counts(sizes, k)
        if np.any(counts > [len(o) for o in others]):
            raise ValueError(f"k={k} needs more points of a class than the pool without z has.")
        n_k = int(np.prod([special.comb(len(o), n, exact=True) for o, n in zip(others, counts, strict=True)]))
        plans[k] = counts
        total += n_k
    if total > max_datasets:
        raise ValueError(
            f"Enumeration needs {total:,} datasets (> max_datasets={max_datasets:,}); use a "
            "smaller pool or range, or the Monte Carlo estimator."
        )
    psi, n_sets = {}, {}
    for k, counts in plans.items():
        values = []
        for parts in product(*[combinations(o, int(n)) for o, n in zip(others, counts, strict=True)]):
            D = np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])
            values.append(exact_contribution(learner, X_pool[D], y_pool[D], X_pool[point],
                                             y_pool[point], X_test, y_test, metric=metric,
                                             n_classes=n_classes))
        psi[k], n_sets[k] = float(np.mean(values)), len(values)
    psi = pd.Series(psi, name="psi").rename_axis("k")
    return EnumeratedShapley(float(psi.mean()), psi, pd.Series(n_sets, name="n_datasets")
                             .rename_axis("k"), point, (k_lo, k_hi), metric)


# ------------------------------------------------------------------------------------------
# Tables 3 and 4: estimators against a ground truth
# ------------------------------------------------------------------------------------------
def likelihood_shapley_estimator(k_range, **fit_kwargs):
    """Estimator for :func:`compare_shapley_estimators`: maximum-likelihood law, then
    :func:`law_shapley` (paper, Appendix C.3). ``fit_kwargs`` go to ``fit_likelihood``."""
    from .laws.likelihood import fit_likelihood

    def estimate(samples, delta_col="delta"):
        return law_shapley(fit_likelihood(samples, delta_col=delta_col, **fit_kwargs), k_range)

    return estimate


def amortized_shapley_estimator(X_pool, y_pool, k_range, **model_kwargs):
    """Estimator for :func:`compare_shapley_estimators`: amortized network law
    (:class:`~scaling_kit.laws.amortized.AmortizedScalingLaw`, trained on the samples of all
    points at once), then :func:`law_shapley`. ``model_kwargs`` go to the network."""
    from .laws.amortized import AmortizedScalingLaw

    def estimate(samples, delta_col="delta"):
        model = AmortizedScalingLaw(delta_col=delta_col, **model_kwargs)
        return law_shapley(model.fit(X_pool, samples, labels=y_pool), k_range)

    return estimate


@dataclass
class ShapleyComparison:
    """Accuracy of Shapley estimators against a ground truth (Tables 3 and 4).

    Attributes
    ----------
    table : long DataFrame: ``estimator, n_samples, pearson, spearman, n_points``.
    estimates : dict ``(estimator, n_samples) -> Series`` of values by point.
    ground_truth : Series of ground-truth values by point.
    k_range : the cardinalities averaged over.
    """

    table: pd.DataFrame
    estimates: dict
    ground_truth: pd.Series
    k_range: tuple
    info: dict = field(default_factory=dict)

    def pivot(self, statistic: str = "pearson") -> pd.DataFrame:
        """Estimators (rows) by number of samples (columns)."""
        if statistic not in ("pearson", "spearman"):
            raise ValueError("statistic must be 'pearson' or 'spearman'.")
        return self.table.pivot(index="estimator", columns="n_samples", values=statistic)

    def beside_paper(self, dataset: str = "MiniBooNE", statistic: str = "pearson"):
        """Our correlations beside the paper's Tables 3 / 4 column for ``dataset``."""
        from .paper import TABLE3_4_SHAPLEY_PEARSON as paper

        ours = self.pivot(statistic)
        ours.columns = [f"ours, {n} samples" for n in ours.columns]
        theirs = paper.xs(dataset, axis=1, level=1)
        theirs.columns = [f"paper ({dataset}), {c}" for c in theirs.columns]
        return ours.join(theirs, how="outer")

    def summary(self) -> pd.DataFrame:
        return self.pivot("pearson")


def _pearson_spearman(est, truth):
    joined = pd.concat([est.rename("est"), truth.rename("truth")], axis=1, join="inner")
    ok = np.isfinite(joined["est"]) & np.isfinite(joined["truth"])
    joined = joined[ok]
    if len(joined) < 3 or joined["est"].std() == 0:
        return np.nan, np.nan, len(joined)
    return (float(stats.pearsonr(joined["est"], joined["truth"])[0]),
            float(stats.spearmanr(joined["est"], joined["truth"])[0]), len(joined))


def compare_shapley_estimators(samples: pd.DataFrame, ground_truth, k_range, *,
                               n_samples=(10, 50), estimators=None,
                               delta_col: str = "delta") -> ShapleyComparison:
    """Pearson (and Spearman) correlation of Shapley estimates with a ground truth.

    For each ``n`` in ``n_samples`` the first ``n`` samples of every point in ``samples``
    (drawn with ``k_range``, independently of the ground truth) feed every estimator; the
    paper's Tables 3 / 4 use 10 and 50 samples and a ground truth from many more samples.

    Parameters
    ----------
    samples : tidy contributions table with ``k`` uniform on ``k_range``.
    ground_truth : Series of values by point (e.g. ``monte_carlo_shapley(big)["value"]``).
    estimators : dict ``name -> callable(samples, delta_col) -> Series`` (values by point).
        Default: ``"Monte Carlo"`` and ``"Likelihood"``; add ``"Amortized"`` with
        :func:`amortized_shapley_estimator`.
    """
    _check_samples(samples, delta_col)
    k_lo, k_hi = _check_k_range(k_range)
    if isinstance(ground_truth, pd.DataFrame) and "value" in ground_truth.columns:
        ground_truth = ground_truth["value"]
    if not isinstance(ground_truth, pd.Series):
        raise ValueError("ground_truth must be a Series of values indexed by point.")
    missing = np.setdiff1d(samples["point"].unique(), ground_truth.index)
    if missing.size:
        raise ValueError(f"ground_truth lacks {missing.size} sampled point(s), e.g. {missing[0]!r}.")
    ns = sorted({int(n) for n in np.atleast_1d(n_samples)})
    if not ns or ns[0] < 1:
        raise ValueError("n_samples must hold positive integers.")
    if estimators is None:
        estimators = {
            "Monte Carlo": lambda s, delta_col="delta": monte_carlo_shapley(
                s, delta_col=delta_col)["value"],
            "Likelihood": likelihood_shapley_estimator((k_lo, k_hi)),
        }
    if not isinstance(estimators, dict) or not estimators:
        raise ValueError("estimators must be a non-empty dict name -> callable.")
    rows, estimates = [], {}
    for n in ns:
        sub = _first_samples(samples, n)
        for name, estimate in estimators.items():
            est = pd.Series(estimate(sub, delta_col=delta_col))
            estimates[(name, n)] = est
            r, rho, m = _pearson_spearman(est, ground_truth)
            rows.append({"estimator": name, "n_samples": n, "pearson": r, "spearman": rho,
                         "n_points": m})
    table = pd.DataFrame(rows)
    return ShapleyComparison(table, estimates, ground_truth, (k_lo, k_hi))


# ------------------------------------------------------------------------------------------
# point addition (Section 4.4, Tables 5-8)
# ------------------------------------------------------------------------------------------
def selection_scores(law, ks, shapley=None) -> dict:
    """Scores of the candidates for :func:`point_addition`.

    ``"Scaling k"``: the law's predicted contribution ``c k^-alpha`` at each ``k`` in ``ks``
    (paper: Scaling 100 and Scaling 1000); ``"Shapley"``: the given Shapley values (Series
    by point), if any. Returns a dict ``name -> Series`` indexed by pool index.
    """
    _, c, alpha = _law_params(law)
    index = getattr(law, "params_", getattr(law, "params", law)).index
    ks = np.atleast_1d(np.asarray(ks, dtype=float))
    if ks.ndim != 1 or ks.size == 0 or np.any(~np.isfinite(ks)) or np.any(ks <= 0):
        raise ValueError("ks must be positive dataset sizes.")
    scores = {f"Scaling {int(k) if k == int(k) else k}": pd.Series(c * k ** (-alpha), index=index)
              for k in ks}
    if shapley is not None:
        if isinstance(shapley, pd.DataFrame):
            shapley = shapley["value"]
        scores["Shapley"] = pd.Series(shapley)
    return scores


def select_points(scores, n_add: int, *, y=None, stratify: bool = False,
                  class_sizes=None) -> np.ndarray:
    """Indices (from ``scores.index``) of the ``n_add`` highest scores.

    With ``stratify=True`` the selection has the stratified class counts of size ``n_add``
    (:func:`scaling_kit.sampling.stratified_counts` with ``class_sizes``, default the
    candidates' own), the best points of each class; ``y`` maps a point index to its label
    (array indexed by pool index). Ties are broken by index order (stable sort).
    """
    scores = pd.Series(scores)
    n = int(n_add)
    if n != n_add or n < 1:
        raise ValueError(f"n_add must be a positive integer; got {n_add!r}.")
    if n > len(scores):
        raise ValueError(f"Cannot select n_add={n} points from {len(scores)} candidates.")
    values = scores.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("scores must be finite (drop candidates whose law failed to fit).")
    if not scores.index.is_unique:
        raise ValueError("scores has duplicate point indices.")
    idx = scores.index.to_numpy()
    if not stratify:
        return idx[np.argsort(-values, kind="stable")[:n]]
    if y is None:
        raise ValueError("stratify=True needs the labels y (indexed by pool index).")
    labels = np.asarray(y)[idx]
    K = int(np.asarray(y).max()) + 1
    sizes = np.bincount(labels, minlength=K) if class_sizes is None else np.asarray(class_sizes)
    counts = stratified_counts(sizes, n)
    out = []
    for c_, m in enumerate(counts):
        members = np.flatnonzero(labels == c_)
        if m > members.size:
            raise ValueError(f"Class {c_} needs {m} selected points but has {members.size} "
                             "candidates; use more candidates or stratify=False.")
        out.append(idx[members[np.argsort(-values[members], kind="stable")[:m]]])
    return np.concatenate(out)


@dataclass
class PointAdditionResults:
    """Accuracy gains from adding selected points to random datasets (Tables 5-8).

    Attributes
    ----------
    gains : long DataFrame ``k0, repeat, method, gain`` (accuracy points, i.e. percent).
    preceding : DataFrame ``k0, repeat, accuracy`` (percent) of the model fit on D alone.
    selections : dict ``method -> selected pool indices`` (fixed sets; random ones vary).
    datasets : dict ``k0 -> (n_repeats, k0)`` array of the drawn D's, when ``keep_sets``.
    random_sets : dict ``k0 -> (n_repeats, n_add)`` random selections, when ``keep_sets``.
    """

    gains: pd.DataFrame
    preceding: pd.DataFrame
    selections: dict
    candidates: np.ndarray
    n_add: int
    datasets: dict = field(default_factory=dict)
    random_sets: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean, standard deviation and standard error of the gain by ``(k0, method)``; the
        ``Preceding`` rows give the accuracy of the model fit on D alone."""
        g = self.gains.groupby(["k0", "method"], sort=False)["gain"].agg(["mean", "std", "count"])
        p = self.preceding.groupby("k0")["accuracy"].agg(["mean", "std", "count"])
        p.index = pd.MultiIndex.from_arrays([p.index, ["Preceding"] * len(p)],
                                            names=["k0", "method"])
        out = pd.concat([g, p]).sort_index(level=0, sort_remaining=False)
        out["sem"] = out["std"] / np.sqrt(out["count"])
        return out

    def table(self, spread: str = "std", digits: int = 2) -> pd.DataFrame:
        """Paper-style table: methods (rows) by k0 (columns), ``"mean ± spread"`` strings."""
        if spread not in ("std", "sem"):
            raise ValueError("spread must be 'std' (the paper's) or 'sem'.")
        s = self.summary()
        text = s.apply(lambda r: f"{r['mean']:.{digits}f} ± {r[spread]:.{digits}f}", axis=1)
        out = text.unstack("k0")
        order = [m for m in self.gains["method"].unique()] + ["Preceding"]
        out = out.reindex(order)
        out.columns = [f"k0 = {k}" for k in out.columns]
        return out

    def beside_paper(self, dataset: str = "MiniBooNE", spread: str = "std") -> pd.DataFrame:
        """Our ``mean ± spread`` beside the paper's Tables 5-8 (mean ± std over 1000
        repetitions) for every ``k0`` the paper reports (100, 1000, 200, 2000)."""
        from .paper import POINT_ADDITION_TABLES

        ours = self.table(spread)
        ours.columns = [f"ours, {c}" for c in ours.columns]
        cols = {}
        for k in sorted(self.gains["k0"].unique()):
            if int(k) in POINT_ADDITION_TABLES:
                t = POINT_ADDITION_TABLES[int(k)][dataset]
                cols[f"paper ({dataset}), k0 = {k}"] = t.apply(
                    lambda r: f"{r['mean']:.2f} ± {r['std']:.2f}", axis=1)
        if not cols:
            return ours
        return ours.join(pd.DataFrame(cols), how="outer").reindex(
            list(ours.index) + [m for m in pd.DataFrame(cols).index if m not in ours.index])

    def difference(self, method: str, baseline: str, k0: int):
        """Mean paired difference of gains ``method - baseline`` at ``k0`` and its standard
        error (same D in each repetition, so the pairing removes D's variance)."""
        g = self.gains[self.gains["k0"] == k0].pivot(index="repeat", columns="method",
                                                     values="gain")
        for m in (method, baseline):
            if m not in g.columns:
                raise ValueError(f"No method {m!r} at k0={k0}; have {list(g.columns)}.")
        d = g[method] - g[baseline]
        return float(d.mean()), float(d.std() / np.sqrt(len(d)))


def _accuracy(proba, y):
    return 100.0 * float(np.mean(np.argmax(proba, axis=1) == y))


def point_addition(learner, X_pool, y_pool, X_test, y_test, candidates, scores, k0, *,
                   n_add: int = 20, n_repeats: int = 100, include_random: bool = True,
                   stratify: bool = True, random_state=0, keep_sets: bool = False,
                   progress: bool = False) -> PointAdditionResults:
    """Accuracy gain from adding ``n_add`` selected points to random datasets of size ``k0``.

    Protocol (paper, Section 4.4 and Appendix C.4): the candidates are a subset of the pool;
    each repetition draws a stratified dataset D of size ``k0`` from the pool *without* the
    candidates, fits the model on D and on ``D + S`` for every method's selection S, and records
    ``accuracy(D + S) - accuracy(D)`` on the test set (percent). Methods: each entry of
    ``scores`` (its top ``n_add`` candidates, one fixed set, see :func:`select_points`) and,
    with ``include_random``, a fresh random set of candidates per repetition.

    Parameters
    ----------
    learner : :class:`~scaling_kit.learners.ExactLogisticRegression` (fast path: Newton's
        method on the exact objective, D + S warm-started from D) or any scikit-learn
        classifier with ``predict_proba``.
    candidates : pool indices of the candidate points (paper: 1000).
    scores : dict ``method -> Series`` of scores indexed by candidate (e.g. from
        :func:`selection_scores`), or ``method -> array`` aligned with ``candidates``.
    k0 : an int or a sequence of preceding-dataset sizes (paper: 100 and 1000; 200 and 2000).
    stratify : select the best points of each class in stratified proportions (the
        candidates' class shares). ``False`` takes the overall top ``n_add`` as the paper
        does; the selected points may then all share one class, which can hurt accuracy at
        small ``k0`` (an interaction effect the per-point law does not model).
    random_state : int; every draw (D, random selections) flows from it.
    keep_sets : store every D and random selection (for checks; memory n_repeats * k0).
    """
    X_pool, y_pool, X_test, y_test, n_classes = check_problem(X_pool, y_pool, X_test, y_test)
    n_pool = len(y_pool)
    candidates = np.asarray(candidates)
    if candidates.ndim != 1 or candidates.size == 0 or candidates.dtype.kind not in "iu":
        raise ValueError("candidates must be a non-empty 1-D array of integer pool indices.")
    if candidates.min() < 0 or candidates.max() >= n_pool:
        raise ValueError(f"candidates must index the pool (0..{n_pool - 1}).")
    if np.unique(candidates).size != candidates.size:
        raise ValueError("candidates must not repeat.")
    candidates = candidates.astype(np.int64)
    if not isinstance(n_add, (int, np.integer)) or not 1 <= n_add <= candidates.size:
        raise ValueError(f"n_add must be an integer in 1..{candidates.size} (the candidates).")
    n_add = int(n_add)
    if not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer; got {n_repeats!r}.")
    if not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise ValueError("random_state must be a non-negative int.")
    k0s = np.atleast_1d(np.asarray(k0))
    if k0s.ndim != 1 or k0s.size == 0 or k0s.dtype.kind not in "iu" or np.any(k0s < 1):
        raise ValueError(f"k0 must be a positive integer or a sequence of them; got {k0!r}.")
    if np.unique(k0s).size != k0s.size:
        raise ValueError("k0 values must not repeat.")
    if not isinstance(scores, dict) or (not scores and not include_random):
        raise ValueError("scores must be a dict method -> scores (or include_random=True).")

    # selections: fixed top-n_add sets, checked against the candidates
    selections = {}
    cand_set = set(candidates.tolist())
    for name, s in scores.items():
        if name == "Random":
            raise ValueError("'Random' is reserved for the random baseline; rename the method.")
        if not isinstance(s, pd.Series):
            s = np.asarray(s, dtype=float)
            if s.shape != candidates.shape:
                raise ValueError(f"scores[{name!r}] must be a Series indexed by candidate or an "
                                 f"array of {candidates.size} scores aligned with candidates.")
            s = pd.Series(s, index=candidates)
        extra = set(s.index.tolist()) - cand_set
        if extra:
            raise ValueError(f"scores[{name!r}] scores {len(extra)} point(s) that are not "
                             f"candidates, e.g. {sorted(extra)[0]!r}.")
        selections[name] = select_points(s, n_add, y=y_pool, stratify=stratify,
                                         class_sizes=np.bincount(y_pool[candidates],
                                                                 minlength=n_classes))
    rest = np.setdiff1d(np.arange(n_pool), candidates)
    sampler = StratifiedSampler(y_pool[rest], n_classes)
    for k in k0s:
        sampler.check_k(int(k), exclude_one=False)

    exact = isinstance(learner, ExactLogisticRegression)
    if exact:
        problem = LogisticProblem(X_pool.shape[1], n_classes, learner.C)
        Xa_pool, Xa_test = augment(X_pool), augment(X_test)

        def fit(idx, theta0=None):
            theta, _ = problem.newton(Xa_pool[idx], y_pool[idx], theta0, tol=learner.tol,
                                      max_iter=200)
            return theta, _accuracy(problem.proba(Xa_test, theta), y_test)
    else:
        adapter = as_learner(learner)

        def fit(idx, theta0=None):
            proba = adapter.fit_predict_proba(X_pool[idx], y_pool[idx], X_test, n_classes)
            return None, _accuracy(proba, y_test)

    methods = list(selections) + (["Random"] if include_random else [])
    gain_rows = {"k0": [], "repeat": [], "method": [], "gain": []}
    pre_rows = {"k0": [], "repeat": [], "accuracy": []}
    datasets, random_sets = {}, {}
    total = int(n_repeats) * k0s.size
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="point addition", unit="rep")
    for ki, k in enumerate(k0s):
        k = int(k)
        keep_D = np.empty((int(n_repeats), k), np.int64) if keep_sets else None
        keep_R = np.empty((int(n_repeats), n_add), np.int64) if keep_sets and include_random \
            else None
        for r in range(int(n_repeats)):
            rng = np.random.default_rng(np.random.SeedSequence(int(random_state),
                                                               spawn_key=(ki, r)))
            D = rest[sampler.draw(rng, k)]
            theta_D, acc_D = fit(D)
            pre_rows["k0"].append(k)
            pre_rows["repeat"].append(r)
            pre_rows["accuracy"].append(acc_D)
            for name in methods:
                if name == "Random":
                    S = rng.choice(candidates, size=n_add, replace=False)
                    if keep_R is not None:
                        keep_R[r] = S
                else:
                    S = selections[name]
                _, acc = fit(np.concatenate([D, S]), theta_D)
                gain_rows["k0"].append(k)
                gain_rows["repeat"].append(r)
                gain_rows["method"].append(name)
                gain_rows["gain"].append(acc - acc_D)
            if keep_D is not None:
                keep_D[r] = D
            if bar is not None:
                bar.update(1)
        if keep_sets:
            datasets[k] = keep_D
            if keep_R is not None:
                random_sets[k] = keep_R
    if bar is not None:
        bar.close()
    return PointAdditionResults(pd.DataFrame(gain_rows), pd.DataFrame(pre_rows), selections,
                                candidates, n_add, datasets, random_sets)


# ------------------------------------------------------------------------------------------
# the whole experiment (notebook 05 and the report section)
# ------------------------------------------------------------------------------------------
@dataclass
class ValuationExperiment:
    """Everything notebook 05 shows: Tables 3/4 (``comparison``) and 5-8 (``addition``).

    Attributes
    ----------
    candidates : pool indices of the valued / candidate points.
    truth_samples, estimate_samples : the two independent contribution tables.
    ground_truth : Monte Carlo Shapley values from ``truth_samples`` (log loss).
    comparison : :class:`ShapleyComparison` (estimators from ``estimate_samples``).
    laws : dict ``selection metric -> ScalingLawResults`` fitted on ``truth_samples``.
    scores : dict ``selection metric -> {method: Series}`` (see :func:`selection_scores`).
    addition : dict ``selection metric -> PointAdditionResults``.
    """

    candidates: np.ndarray
    truth_samples: pd.DataFrame
    estimate_samples: pd.DataFrame
    ground_truth: pd.DataFrame
    comparison: ShapleyComparison
    laws: dict
    scores: dict
    addition: dict
    settings: dict = field(default_factory=dict)


def valuation_experiment(dataset, *, n_points: int = 200, k_range=(100, 1000),
                         n_truth: int = 300, n_samples=(10, 20, 50), k0=(100, 1000),
                         n_add: int = 20, n_repeats: int = 100,
                         selection_metrics=("error", "log_loss"), amortized: bool = True,
                         amortized_kwargs=None, learner=None, stratify: bool = True,
                         random_state: int = 0, cache=None, n_jobs: int = 1,
                         progress: bool = False) -> ValuationExperiment:
    """Run the valuation and point-addition experiments of Sections 4.3-4.4 on one dataset.

    1. ``n_points`` candidates drawn from the pool (``random_state``).
    2. Ground truth: ``n_truth`` contributions per candidate with ``k`` uniform on
       ``k_range`` (log loss and every selection metric from the same fits); its Monte Carlo
       mean is the ground-truth Shapley value (log loss).
    3. An independent table of ``max(n_samples)`` contributions per candidate feeds the
       Monte Carlo, likelihood and (``amortized=True``) amortized estimators with the first
       10, 20, 50 ... samples (Tables 3 / 4).
    4. For each selection metric, a likelihood law fitted on the ground-truth samples (the
       paper fits on 500 samples) scores the candidates at every ``k0`` ("Scaling k0"), the
       ground-truth Shapley value in that metric gives "Shapley", and :func:`point_addition`
       adds ``n_add`` points to random datasets of each size ``k0`` (Tables 5-8). The gain is
       measured in accuracy, so the ``"error"`` metric (0-1 loss) values points in the unit
       of the outcome; ``"log_loss"`` is the loss the laws are usually fitted on.
    """
    from .contributions import sample_contributions
    from .laws.likelihood import fit_likelihood

    learner = ExactLogisticRegression(C=1.0) if learner is None else learner
    k_lo, k_hi = _check_k_range(k_range)
    n_pool = len(dataset.y_pool)
    if int(n_points) != n_points or not 3 <= n_points < n_pool:
        raise ValueError(f"n_points must be an integer in 3..{n_pool - 1}.")
    ns = sorted({int(n) for n in np.atleast_1d(n_samples)})
    if ns[0] < 3:
        raise ValueError("n_samples must be >= 3 (the likelihood needs 3 samples a point).")
    if int(n_truth) != n_truth or n_truth < ns[-1]:
        raise ValueError("n_truth must be an integer >= max(n_samples).")
    metrics = list(dict.fromkeys(["log_loss", *selection_metrics]))
    rng = np.random.default_rng(np.random.SeedSequence(int(random_state), spawn_key=(0,)))
    candidates = np.sort(rng.choice(n_pool, size=int(n_points), replace=False))
    args = (learner, dataset.X_pool, dataset.y_pool, dataset.X_test, dataset.y_test, candidates)
    common = dict(k_range=(k_lo, k_hi), cache=cache, n_jobs=n_jobs, progress=progress)
    truth_samples = sample_contributions(*args, n_samples=int(n_truth), metric=metrics,
                                         random_state=int(random_state) + 1, **common)
    estimate_samples = sample_contributions(*args, n_samples=ns[-1], metric="log_loss",
                                            random_state=int(random_state) + 2, **common)
    truth = monte_carlo_shapley(truth_samples, delta_col="delta_log_loss")
    estimators = {
        "Monte Carlo": lambda s, delta_col="delta": monte_carlo_shapley(
            s, delta_col=delta_col)["value"],
        "Likelihood": likelihood_shapley_estimator((k_lo, k_hi)),
    }
    if amortized:
        estimators["Amortized"] = amortized_shapley_estimator(
            dataset.X_pool, dataset.y_pool, (k_lo, k_hi),
            **{"random_state": int(random_state), **(amortized_kwargs or {})})
    comparison = compare_shapley_estimators(estimate_samples, truth["value"], (k_lo, k_hi),
                                            n_samples=ns, estimators=estimators)
    laws, scores, addition = {}, {}, {}
    for m in selection_metrics:
        col = f"delta_{m}"
        laws[m] = fit_likelihood(truth_samples, delta_col=col)
        scores[m] = selection_scores(laws[m], k0, shapley=monte_carlo_shapley(
            truth_samples, delta_col=col)["value"])
        addition[m] = point_addition(learner, dataset.X_pool, dataset.y_pool, dataset.X_test,
                                     dataset.y_test, candidates, scores[m], k0, n_add=n_add,
                                     n_repeats=n_repeats, stratify=stratify,
                                     random_state=int(random_state) + 3, progress=progress)
    settings = dict(dataset=getattr(dataset, "name", "custom"), n_points=int(n_points),
                    k_range=(k_lo, k_hi), n_truth=int(n_truth), n_samples=ns,
                    k0=[int(k) for k in np.atleast_1d(k0)], n_add=int(n_add),
                    n_repeats=int(n_repeats),
                    selection_metrics=list(selection_metrics), stratify=stratify)
    return ValuationExperiment(candidates, truth_samples, estimate_samples, truth, comparison,
                               laws, scores, addition, settings)
