"""Distributional Shapley values (docs/math.md §6; Covert et al., ICML 2024, Section 4.3
and Appendix C.3).

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations, product

import numpy as np
import pandas as pd
from scipy import special, stats

from .._checks import (
    as_problem,
    check_int,
    check_random_state,
    check_size_range,
    check_sizes,
)
from ..contributions import exact_contribution
from ..results import Summary
from ..sampling import stratified_counts

__all__ = [
    "EnumeratedShapley",
    "ShapleyComparison",
    "amortized_shapley_estimator",
    "compare_shapley_estimators",
    "enumerate_shapley",
    "law_shapley",
    "likelihood_shapley_estimator",
    "monte_carlo_shapley",
    "power_sum",
    "shapley_equivalent_size",
    "shapley_size_profile",
]


# ------------------------------------------------------------------------------------------
# validation helpers
# ------------------------------------------------------------------------------------------
def _posterior_results(law):
    """The fitted results object if it carries an empirical-Bayes posterior, else None."""
    results = getattr(law, "results_", law)
    if getattr(results, "posterior", None) is not None and hasattr(results, "predict"):
        return results
    return None


def _posterior_mean_law(law, ks) -> pd.DataFrame | None:
    """``E[psi_z(k)]`` under an empirical-Bayes posterior for every point (rows) and ``k`` in
    ``ks`` (columns), from the results' ``predict``; None for a law without a posterior (then
    the plug-in ``c k^-alpha`` is the estimate). Sizes are taken 64 at a time (bounded
    memory)."""
    results = _posterior_results(law)
    if results is None:
        return None
    ks = np.asarray(ks)
    parts = [results.predict(chunk) for chunk in np.array_split(ks, -(-ks.size // 64))]
    return pd.concat(parts, axis=1)


def _law_params(law=None, c=None, alpha=None):
    """``(index, c, alpha)`` from a results object, a params table or two arrays."""
    if law is not None:
        if c is not None or alpha is not None:
            raise ValueError("Give a fitted law or the arrays c= and alpha=, not both.")
        params = getattr(law, "params_", getattr(law, "params", law))
        if not isinstance(params, pd.DataFrame):
            raise TypeError(
                "law must be a fitted ScalingLawResults / LikelihoodScalingLaw / "
                "AmortizedScalingLaw, or a DataFrame with columns 'c' and 'alpha'; got "
                f"{type(law).__name__}."
            )
        if not {"c", "alpha"} <= set(params.columns):
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
    k_lo, k_hi = check_size_range((check_int(k_min, "k_min", low=1),
                                   check_int(k_max, "k_max", low=1)), "(k_min, k_max)")
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


def shapley_equivalent_size(alpha, k_range) -> np.ndarray:
    """The dataset size at which a law equals its own distributional Shapley value.

    For ``psi(k) = c k^-alpha`` averaged uniformly over ``k_min..k_max`` (docs/math.md §6.2),
    ``phi = c * mean_k k^-alpha``, so ``psi(k_eq) = phi`` at::

        k_eq(alpha) = (power_sum(alpha, k_min, k_max) / (k_max - k_min + 1)) ** (-1 / alpha),

    a power mean of the sizes with exponent ``-alpha``: it falls from the geometric mean of
    the sizes (the limit ``alpha -> 0``, returned for ``alpha == 0``) towards ``k_min`` as
    ``alpha`` grows (docs/math.md §6.3). The Shapley value ranks points as "Scaling k_eq"
    would if they all had the same ``alpha``. Independent of ``c``.
    """
    k_lo, k_hi = check_size_range(k_range)
    alpha = np.asarray(alpha, dtype=float)
    if not np.all(np.isfinite(alpha)) or np.any(alpha < 0):
        raise ValueError("alpha must be finite and non-negative.")
    n = k_hi - k_lo + 1
    safe = np.where(alpha > 0, alpha, 1.0)
    out = (power_sum(safe, k_lo, k_hi) / n) ** (-1.0 / safe)
    geometric = np.exp(np.mean(np.log(np.arange(k_lo, k_hi + 1, dtype=float))))
    return np.where(alpha > 0, out, geometric)


def shapley_size_profile(alpha, k_ranges) -> pd.DataFrame:
    """Which sizes a Shapley value listens to, for laws ``c k^-alpha`` (docs/math.md §6.3).

    For every ``alpha`` and every ``(k_min, k_max)`` in ``k_ranges`` (one pair or a list of
    pairs), with ``P(a, b) = sum_{k=a}^{b} k^-alpha`` (:func:`power_sum`):

    * ``equivalent_size``: :func:`shapley_equivalent_size`;
    * ``share_first_doubling``: ``P(k_min, 2 k_min) / P(k_min, k_max)``, the share of
      ``phi`` from the sizes up to twice ``k_min`` (capped at ``k_max``);
    * ``share_last_half``: ``P(ceil(k_max / 2), k_max) / P(k_min, k_max)``, the share from
      the sizes in the upper half of ``k_max`` (floored at ``k_min``).

    Returns a tidy DataFrame with columns ``k_min, k_max, alpha, equivalent_size,
    share_first_doubling, share_last_half``.
    """
    alpha = np.atleast_1d(np.asarray(alpha, dtype=float))
    if alpha.ndim != 1 or alpha.size == 0:
        raise ValueError("alpha must be a number or a non-empty 1-D sequence.")
    if not np.all(np.isfinite(alpha)) or np.any(alpha < 0):
        raise ValueError("alpha must be finite and non-negative.")
    ranges = [k_ranges] if (len(k_ranges) == 2 and np.isscalar(k_ranges[0])) else k_ranges
    frames = []
    for pair in ranges:
        k_lo, k_hi = check_size_range(pair, "k_ranges")
        total = power_sum(alpha, k_lo, k_hi)
        frames.append(pd.DataFrame({
            "k_min": k_lo, "k_max": k_hi, "alpha": alpha,
            "equivalent_size": shapley_equivalent_size(alpha, (k_lo, k_hi)),
            "share_first_doubling": power_sum(alpha, k_lo, min(2 * k_lo, k_hi)) / total,
            "share_last_half": power_sum(alpha, max(-(-k_hi // 2), k_lo), k_hi) / total,
        }))
    return pd.concat(frames, ignore_index=True)


def law_shapley(law=None, k_range=None, *, c=None, alpha=None) -> pd.Series:
    """Distributional Shapley values implied by fitted laws ``psi_z(k) = c k^-alpha``.

    ``phi(z) = c / (k_max - k_min + 1) * sum_{k = k_min}^{k_max} k^-alpha`` (paper, Appendix
    C.3; docs/math.md §6), with the sum from :func:`power_sum`.

    Parameters
    ----------
    law : fitted :class:`~scaling_kit.laws.likelihood.ScalingLawResults`,
        :class:`~scaling_kit.laws.likelihood.LikelihoodScalingLaw`,
        :class:`~scaling_kit.laws.amortized.AmortizedScalingLaw` (anything with ``params_``) or
        a DataFrame with columns ``c`` and ``alpha``; or None and the arrays ``c``, ``alpha``.
    k_range : ``(k_min, k_max)``, the cardinalities averaged over.

    For an empirical-Bayes fit (the default of ``fit_likelihood``, which carries a posterior)
    the value is the posterior mean of ``phi``: ``phi`` is linear in ``psi``, so it is the
    average of the posterior means ``E[psi_z(k)]`` (``predict``) over the range, which
    accounts for the uncertainty in ``alpha`` (docs/math.md §5.5) and differs slightly from
    the plug-in of the posterior means of ``c`` and ``alpha``.

    Returns
    -------
    pandas.Series of values indexed by point.
    """
    if k_range is None:
        raise ValueError("k_range=(k_min, k_max) is required: the range averaged over.")
    k_lo, k_hi = check_size_range(k_range)
    index, c, alpha = _law_params(law, c, alpha)
    if law is not None:
        psi = _posterior_mean_law(law, np.arange(k_lo, k_hi + 1))
        if psi is not None:
            return pd.Series(psi.to_numpy().mean(axis=1), index=index, name="shapley")
    phi = c * power_sum(alpha, k_lo, k_hi) / (k_hi - k_lo + 1)
    return pd.Series(phi, index=index, name="shapley")


def _check_samples(data, delta_col, name="samples"):
    """A contribution table with ``point``, ``k`` and a finite ``delta_col``."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"{name} must be the tidy table of sample_contributions (a DataFrame with columns "
            f"point, k, sample, {delta_col}); got {type(data).__name__}."
        )
    if not isinstance(delta_col, str):
        raise TypeError(f"delta_col must be a column name; got {delta_col!r}.")
    missing = [col for col in ("point", "k", delta_col) if col not in data.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it has {list(data.columns)}.")
    if len(data) == 0:
        raise ValueError(f"{name} has no samples.")
    if not np.all(np.isfinite(data[delta_col].to_numpy(dtype=float))):
        raise ValueError(f"{name}[{delta_col!r}] has NaN/inf values; drop or fix those samples "
                         "first.")


def _first_samples(data, n_samples):
    """The first ``n_samples`` samples of every point (the engine's ``sample`` order)."""
    n = check_int(n_samples, "n_samples", low=1)
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


def monte_carlo_shapley(samples: pd.DataFrame, *, n_samples: int | None = None, k_range=None,
                        delta_col: str = "delta") -> pd.DataFrame:
    """Plain Monte Carlo distributional Shapley: the mean sampled contribution of each point.

    ``phi_hat(z) = mean_j Delta(z, D_j)`` with ``|D_j|`` uniform on ``k_min..k_max`` (paper,
    Appendix C.3), i.e. ``samples`` from ``sample_contributions(..., k_range=(k_min, k_max))``.

    Parameters
    ----------
    samples : the engine's tidy table (columns ``point, k, sample, delta_col``).
    n_samples : use only the first ``n_samples`` samples of every point (nested subsets, so
        estimates with 10 and 50 samples share their first 10).
    k_range : if given, every sample's ``k`` must lie in it (a guard against mixing tables).

    Returns
    -------
    DataFrame indexed by point: ``value`` (the estimate), ``se`` (its standard error, std /
    sqrt(n)) and ``n_samples``.
    """
    data = samples
    _check_samples(data, delta_col)
    if k_range is not None:
        k_lo, k_hi = check_size_range(k_range)
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
    """Exact distributional Shapley value of one point on a tiny pool:
    ``phi(z) = mean_{k = k_min..k_max} psi_z(k)`` (docs/math.md §6).

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


def enumerate_shapley(learner, data, point, k_range, *, metric: str = "log_loss",
                      max_datasets: int = 20_000) -> EnumeratedShapley:
    """Exact distributional Shapley value of ``point`` by enumerating every dataset
    (docs/math.md §6; the definition of Covert et al. Appendix C.3).

    ``psi_z(k)`` is the mean of ``Delta(z, D)`` over *all* datasets ``D`` of the pool without z
    that have the stratified class counts of size k (:func:`scaling_kit.sampling.
    stratified_counts` on the whole pool's class sizes, the engine's rule; within each class
    every subset is equally likely), each contribution from its definition
    (:func:`scaling_kit.contributions.exact_contribution`: two independent fits). Then
    ``phi = mean_k psi_z(k)``. Only for tiny pools: raises if more than ``max_datasets``
    datasets would be needed. ``data`` is a :class:`scaling_kit.datasets.Dataset` or a tuple
    ``(X_pool, y_pool, X_test, y_test)``.
    """
    problem = as_problem(data)
    X_pool, y_pool, X_test, y_test = problem.X_pool, problem.y_pool, problem.X_test, problem.y_test
    n_classes = problem.n_classes
    k_lo, k_hi = check_size_range(k_range)
    point = check_int(point, "point", low=0, high=len(y_pool) - 1)
    max_datasets = check_int(max_datasets, "max_datasets", low=1)
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
    """Estimator for :func:`compare_shapley_estimators`: a law fitted to the Gaussian
    likelihood of the samples, then :func:`law_shapley` (paper, Appendix C.3; docs/math.md
    §5-6): ``phi(z) = c(z) / (k_max - k_min + 1) * sum_k k^-alpha(z)``. ``fit_kwargs`` go to
    ``fit_likelihood``; its default ``method="empirical_bayes"`` takes ``(c, alpha)`` from each
    point's posterior under a population prior (docs/math.md §5.5); ``method="adam"`` is the
    paper's per-point maximum likelihood."""
    from ..laws.likelihood import fit_likelihood

    k_range = check_size_range(k_range)

    def estimate(samples, delta_col="delta"):
        return law_shapley(fit_likelihood(samples, delta_col=delta_col, **fit_kwargs), k_range)

    return estimate


def amortized_shapley_estimator(X_pool, y_pool, k_range, **model_kwargs):
    """Estimator for :func:`compare_shapley_estimators`: amortized network law
    (:class:`~scaling_kit.laws.amortized.AmortizedScalingLaw`, trained on the samples of all
    points at once; paper, Section 3.2), then :func:`law_shapley` (docs/math.md §5-6).
    ``model_kwargs`` go to the network."""
    from ..laws.amortized import AmortizedScalingLaw

    k_range = check_size_range(k_range)

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
        from ..paper import TABLE3_4_SHAPLEY_PEARSON as paper

        ours = self.pivot(statistic)
        ours.columns = [f"ours, {n} samples" for n in ours.columns]
        theirs = paper.xs(dataset, axis=1, level=1)
        theirs.columns = [f"paper ({dataset}), {c}" for c in theirs.columns]
        return ours.join(theirs, how="outer")

    def bootstrap(self, n_boot: int = 1000, *, baseline: str | None = "Monte Carlo",
                  random_state=None) -> pd.DataFrame:
        """Bootstrap standard errors of the Pearson correlations, resampling points.

        Every replicate draws the points with replacement (the same draw for every estimator
        and number of samples, so differences between rows are paired) and recomputes each
        Pearson correlation with the ground truth. Returns the tidy DataFrame ``estimator,
        n_samples, pearson, se`` (``se``: the standard deviation of the replicates) and, when
        ``baseline`` names an estimator, ``diff`` = ``pearson - pearson(baseline)`` at the same
        number of samples with its paired standard error ``diff_se`` (0 on the baseline's own
        rows); ``.attrs["replicates"]`` holds the ``(n_boot, rows)`` replicates in row order.
        The spread covers the choice of points only; the ground truth's own noise lowers
        every correlation alike (docs/math.md §6.4).
        """
        n_boot = check_int(n_boot, "n_boot", low=2)
        rng = check_random_state(random_state)
        truth = self.ground_truth
        keys = list(self.estimates)
        joined = pd.concat([truth.rename("truth")] + [self.estimates[key].rename(i) for i, key
                                                      in enumerate(keys)], axis=1, join="inner")
        values = joined.to_numpy(dtype=float)
        values = values[np.all(np.isfinite(values), axis=1)]
        n = len(values)
        if n < 3:
            raise ValueError("bootstrap needs at least 3 points with finite estimates.")
        idx = rng.integers(0, n, size=(n_boot, n))
        sample = values[idx]                                   # (n_boot, n, 1 + rows)
        centred = sample - sample.mean(axis=1, keepdims=True)
        cov = np.einsum("bn,bnr->br", centred[:, :, 0], centred[:, :, 1:])
        norm = np.sqrt((centred[:, :, :1] ** 2).sum(axis=1) * (centred[:, :, 1:] ** 2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = cov / norm
        out = pd.DataFrame({"estimator": [k[0] for k in keys], "n_samples": [k[1] for k in keys],
                            "pearson": [np.corrcoef(values[:, 0], values[:, i + 1])[0, 1]
                                        for i in range(len(keys))],
                            "se": np.nanstd(reps, axis=0, ddof=1)})
        if baseline is not None:
            names = {key[0] for key in keys}
            if baseline not in names:
                raise ValueError(f"baseline must be one of {sorted(names)} or None; got "
                                 f"{baseline!r}.")
            base = {key[1]: i for i, key in enumerate(keys) if key[0] == baseline}
            j = np.array([base.get(key[1], -1) for key in keys])
            if np.any(j < 0):
                raise ValueError(f"baseline {baseline!r} lacks some numbers of samples.")
            out["diff"] = out["pearson"].to_numpy() - out["pearson"].to_numpy()[j]
            out["diff_se"] = np.nanstd(reps - reps[:, j], axis=0, ddof=1)
        out.attrs["replicates"] = reps
        return out

    def summary(self) -> Summary:
        """Pearson and Spearman correlations with the ground truth, estimators by samples per
        point (a :class:`scaling_kit.results.Summary`)."""
        return Summary(
            title="Distributional Shapley estimators against a ground truth (Tables 3 / 4)",
            facts={"k_range": f"{self.k_range[0]}..{self.k_range[1]}",
                   "points": len(self.ground_truth)},
            tables={"Pearson": self.pivot("pearson"), "Spearman": self.pivot("spearman")},
        )


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
    k_lo, k_hi = check_size_range(k_range)
    if isinstance(ground_truth, pd.DataFrame) and "value" in ground_truth.columns:
        ground_truth = ground_truth["value"]
    if not isinstance(ground_truth, pd.Series):
        raise TypeError("ground_truth must be a Series of values indexed by point; got "
                        f"{type(ground_truth).__name__}.")
    missing = np.setdiff1d(samples["point"].unique(), ground_truth.index)
    if missing.size:
        raise ValueError(f"ground_truth lacks {missing.size} sampled point(s), e.g. {missing[0]!r}.")
    ns = sorted(set(check_sizes(n_samples, "n_samples", unique=False).tolist()))
    if estimators is None:
        estimators = {
            "Monte Carlo": lambda s, delta_col="delta": monte_carlo_shapley(
                s, delta_col=delta_col)["value"],
            "Likelihood": likelihood_shapley_estimator((k_lo, k_hi)),
        }
    if (not isinstance(estimators, dict) or not estimators
            or not all(callable(f) for f in estimators.values())):
        raise TypeError("estimators must be a non-empty dict name -> callable(samples, "
                        "delta_col) -> Series.")
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
