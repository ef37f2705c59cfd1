"""The aggregate-individual link: the mean marginal contribution is the learning curve's step.

docs/math.md §3.6. :func:`aggregate_individual_link` checks the footnote to Covert et al.'s
Eq. 2. For D uniform among the k-subsets of the pool and z uniform outside D,

    E_z[Delta(z, D)] = eps(k) - eps(k + 1) ~= -eps'(k),

with ``eps(k)`` the expected test loss at size k. For ``eps(k) = eps_inf + a k^b`` the mean
contribution is ``-a b k^(b-1)``: it decays with exponent ``1 - b``, to be compared with the
individual exponents alpha(z).

With the engine's class-balanced draws (:mod:`scaling_kit.sampling`, as in the paper) the
identity over *all* points is approximate. For z uniform on the pool and D ~ strat(k) drawn
from the pool without z, the marginal law of D is exactly strat(k) (the weights
``1 / P(z not in D)`` cancel), so ``E_z E[loss(D)] = eps(k)``; but ``D + {z}`` has the class
counts of strat(k) plus one point of class c with probability ``pi_c``, not those of
strat(k + 1). A random point unbalances D, and when the loss is convex in the class counts the
mean contribution falls short of the curve's step (measured in notebook 01). The identity is
*exact* for the points of the class that the stratified counts add from k to k + 1: if
``counts(k + 1) = counts(k) + e_c``, then for z uniform on class c and D ~ strat(k) from the
pool without z, ``D + {z}`` is exactly strat(k + 1) (within class c, a uniform point joined to a
uniform subset avoiding it is a uniform larger subset), so

    E_{z in class c}[Delta(z, D)] = eps(k) - eps(k + 1)    (exact; LinkResult.steps).

:func:`expected_loss` estimates ``eps(k)`` with exactly the engine's stratified draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import as_problem, check_int, check_random_state, check_sizes, spawn_seeds
from .aggregate import OffsetPowerLaw, PowerLaw, learning_curve
from .backends import get_backend
from .contributions import planned_datasets, sample_contributions, summarize_contributions
from .laws.validation import fit_loglinear_laws
from .metrics import check_metrics
from .results import Summary
from .sampling import StratifiedSampler

__all__ = ["LinkResult", "aggregate_individual_link", "expected_loss"]


# ------------------------------------------------------------------------------------------
# expected loss with the engine's stratified draws
# ------------------------------------------------------------------------------------------
def expected_loss(learner, data, k, *, n_datasets=200, metric="log_loss", random_state=None,
                  batch=64) -> pd.DataFrame:
    """Monte Carlo estimate of ``eps(k) = E_{|D| = k}[loss(fit on D)]`` on the test set
    (docs/math.md §3, the aggregate-individual link).

    D is drawn exactly as the contribution engine draws it (proportional stratification from
    the pool, :class:`~scaling_kit.sampling.StratifiedSampler`), ``n_datasets`` independent
    draws per k, each size from its own child stream of ``random_state``
    (``SeedSequence.spawn``). :class:`~scaling_kit.learners.ExactLogisticRegression` is fitted
    in batches of ``batch`` datasets by the exact engine; any other learner one dataset at a
    time (with a seed drawn from the size's stream).

    Parameters
    ----------
    learner : ExactLogisticRegression or a scikit-learn classifier with ``predict_proba``.
    data : a :class:`scaling_kit.datasets.Dataset` or a tuple ``(X_pool, y_pool, X_test,
        y_test)``.
    k : a dataset size or a sequence of them (each at most what the stratified draw allows).
    metric : a metric name or a list of them (:data:`scaling_kit.metrics.METRICS`).

    Returns
    -------
    DataFrame indexed by k with ``mean, std, count, sem`` of the first metric, plus
    ``<metric>_mean`` / ``<metric>_sem`` for every metric when ``metric`` is a list.
    """
    metrics = check_metrics(metric)
    problem_data = as_problem(data)
    X_pool, y_pool, X_test, y_test = (problem_data.X_pool, problem_data.y_pool,
                                      problem_data.X_test, problem_data.y_test)
    n_classes = problem_data.n_classes
    ks = np.unique(check_sizes(k, "k", unique=False))
    n_datasets = check_int(n_datasets, "n_datasets", low=2)
    batch = check_int(batch, "batch", low=1)
    sampler = StratifiedSampler(y_pool, n_classes)
    for kk in ks:
        sampler.check_k(int(kk), exclude_one=False)
    seqs = spawn_seeds(random_state, len(ks))
    backend = get_backend(learner)  # exact logistic, batched torch or generic scikit-learn
    rows = []
    for kk, seq in zip(ks, seqs):
        rng = check_random_state(seq)
        Ds = np.stack([sampler.draw(rng, int(kk)) for _ in range(n_datasets)])
        seeds = rng.integers(2**31 - 1, size=n_datasets)  # one per dataset; exact fits ignore it
        vals = {m: [] for m in metrics}
        for start in range(0, n_datasets, batch):
            D = Ds[start:start + batch]
            out = backend.fit_losses(X_pool[D], y_pool[D], X_test, y_test, n_classes, metrics,
                                     seed=seeds[start:start + batch])
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
    """The mean individual contribution against the learning curve (docs/math.md §3).

    Attributes
    ----------
    table : indexed by k: ``mean_delta`` (mean over the sampled points of their mean
        contributions), ``sem`` (standard deviation of the point means / sqrt(n_points): the
        spread between points; datasets shared between points add a correlation it ignores),
        ``difference`` = ``eps(k) - eps(k+1)`` and ``minus_derivative`` = ``-eps'(k)`` of the
        fitted curve, ``z_score`` = ``(mean_delta - difference) / sem``; ``se``, the standard
        error of ``mean_delta`` as an estimate of the pool average (see
        :func:`aggregate_individual_link`), ``difference_se`` (delta method of the fitted
        curve, :meth:`~scaling_kit.aggregate.OffsetPowerLaw.difference_se`) and
        ``z_combined = (mean_delta - difference) / sqrt(se^2 + difference_se^2)``.
    steps : the exact class-step identity, indexed by k: ``added_class`` (the class whose
        stratified count grows from k to k + 1; -1 when the counts change otherwise),
        ``class_points`` (sampled points of that class), ``class_mean_delta`` and
        ``class_se`` (their mean contribution and its standard error, as ``se``), ``step`` =
        ``eps(k) - eps(k+1)`` from the curve points themselves (no fitted form; NaN unless
        k and k + 1 are both curve sizes), ``step_se`` and ``z_step = (class_mean_delta -
        step) / sqrt(class_se^2 + step_se^2)``.
    curve : the learning-curve points, indexed by size: ``mean, sem`` (and more columns).
    form : the fitted curve (:mod:`scaling_kit.aggregate` form with ``difference``,
        ``derivative``).
    implied_exponent : ``1 - b``: the decay exponent of ``-eps'(k) = -a b k^(b-1)``.
    mean_curve_alpha : OLS slope of ``-log mean_delta`` on ``log k`` (NaN if a mean is <= 0).
    laws : :class:`~scaling_kit.laws.validation.LogLinearLawResults` of the individual points
        (None with fewer than 3 k); ``alphas`` their fitted exponents.
    contributions : the sampled contributions (``sample_contributions`` output).
    points, metric, curve_method : what was computed.
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
    steps: pd.DataFrame | None = None

    @property
    def params(self) -> pd.Series:
        """The fitted curve's parameters, the implied exponent ``1 - b`` and the exponent of
        the mean contribution curve."""
        return pd.concat([pd.Series(self.form.params_, dtype=float),
                          pd.Series({"implied_exponent": self.implied_exponent,
                                     "mean_curve_alpha": self.mean_curve_alpha})])

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

    def summary(self) -> Summary:
        """The link at every k, the fitted curve and the exponents
        (a :class:`scaling_kit.results.Summary`)."""
        al = self.alphas
        facts = {
            "metric": self.metric,
            "points": len(self.points),
            "learning curve": f"{self.curve_method}, {len(self.curve)} sizes",
            "form": getattr(self.form, "formula", type(self.form).__name__),
            "implied exponent 1 - b": float(self.implied_exponent),
            "exponent of the mean curve (OLS)": float(self.mean_curve_alpha),
        }
        if not al.empty:
            facts.update({
                "individual alphas": len(al),
                "alpha min": float(al.min()),
                "alpha median": float(al.median()),
                "alpha max": float(al.max()),
                "share of alphas below 1 - b": self.implied_exponent_percentile,
            })
        fitted = pd.DataFrame({"estimate": pd.Series(self.form.params_, dtype=float)})
        tables = {"mean contribution against the curve's step, by k": self.table}
        if self.steps is not None:
            tables["exact identity for the class added from k to k + 1"] = self.steps
        tables["fitted learning curve"] = fitted
        return Summary(
            title="Aggregate-individual link: E_z[Delta(z, D)] = eps(k) - eps(k+1) ~= -eps'(k)",
            facts=facts,
            tables=tables,
        )

    def __repr__(self) -> str:
        return (f"LinkResult({self.metric}, implied exponent {self.implied_exponent:.3f}, "
                f"individual alphas in [{self.alpha_range[0]:.2f}, {self.alpha_range[1]:.2f}])")


_FORMS = {"power law": PowerLaw, "power law + offset": OffsetPowerLaw}


def aggregate_individual_link(learner, data, ks, *, points=50, n_samples=100,
                              metric="log_loss", curve_sizes=None, n_datasets=200,
                              curve_method="stratified", form="power law + offset",
                              share_datasets=True, random_state=None, n_jobs=1,
                              progress=False) -> LinkResult:
    """Compare the mean individual contribution with the step of the learning curve.

    docs/math.md §3 (the footnote to Covert et al.'s Eq. 2):
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
    points flagged) and report the implied exponent ``1 - b`` beside their alphas; (5) with
    ``curve_method="stratified"``, check the exact class-step identity (module docstring) at
    every k whose k + 1 is a curve size (``LinkResult.steps``; include ``ks + 1`` in
    ``curve_sizes`` for it, e.g. ``curve_sizes=np.union1d(ks, np.add(ks, 1))``).

    Standard errors (``se``, ``class_se``) treat ``mean_delta`` as an estimate of the average
    over the whole pool (or over the class): the drawn datasets are the sampling units (a
    cluster-robust standard error of the mean over the rows, clusters = drawn datasets, which
    is exact when each D serves many points, ``share_datasets=True``), plus, when ``points`` is
    a subset, the point-sampling variance ``(1 - P/N) s_points^2 / P`` (finite population of
    N points, P sampled; it also counts the datasets' noise in the point means again, so the
    sum is slightly conservative). With every point of the pool (``points=N``) only the
    datasets' term remains.

    ``data`` is a :class:`scaling_kit.datasets.Dataset` or a tuple ``(X_pool, y_pool, X_test,
    y_test)``. The points, the contributions and the curve draw from three independent child
    streams of ``random_state`` (``SeedSequence.spawn``).
    """
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a single metric name, e.g. 'log_loss'; got {metric!r}.")
    check_metrics(metric)
    problem = as_problem(data)
    X_pool, y_pool, X_test, y_test = problem.X_pool, problem.y_pool, problem.X_test, problem.y_test
    ks = np.unique(check_sizes(ks, "ks", unique=False))
    if ks.size < 2:
        raise ValueError(f"ks must hold at least 2 distinct sizes; got {ks.tolist()}.")
    n_samples = check_int(n_samples, "n_samples", low=1)
    n_datasets = check_int(n_datasets, "n_datasets", low=2)
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
        raise TypeError("form must be a name or an unfitted scaling_kit.aggregate form; got "
                        f"{type(form).__name__}.")
    seq_points, seq_contributions, seq_curve = spawn_seeds(random_state, 3)
    n_pool = X_pool.shape[0]
    if isinstance(points, (int, np.integer)) and not isinstance(points, bool):
        points = check_int(points, "points", low=2, high=n_pool)
        rng = check_random_state(seq_points)
        points = np.sort(rng.choice(n_pool, size=points, replace=False))
    else:
        points = np.asarray(points)
        if points.ndim != 1 or points.size < 2 or points.dtype.kind not in "iu":
            raise ValueError("points must be an int or at least 2 integer pool indices; got "
                             f"{points!r}.")
    if curve_sizes is None:
        grid = np.geomspace(ks.min(), ks.max(), 8).round().astype(np.int64)
        curve_sizes = np.union1d(ks, grid)
    curve_sizes = np.unique(check_sizes(curve_sizes, "curve_sizes", unique=False))
    if curve_sizes.size < 3:
        raise ValueError("curve_sizes must hold at least 3 sizes for a curve fit; got "
                         f"{curve_sizes.tolist()}.")

    # (1) individual contributions, and the drawn dataset behind every row
    contribution_seed = int(seq_contributions.generate_state(1)[0])
    df = sample_contributions(learner, problem, points, k=ks,
                              n_samples=n_samples, metric=metric,
                              share_datasets=share_datasets, random_state=contribution_seed,
                              n_jobs=n_jobs, progress=progress)
    datasets = _dataset_of_rows(df, problem, points, ks, n_samples, share_datasets,
                                contribution_seed)
    summ = summarize_contributions(df)
    point_means = summ["mean"].unstack("k")
    table = pd.DataFrame({
        "mean_delta": point_means.mean(axis=0),
        "sem": point_means.std(axis=0, ddof=1) / np.sqrt(point_means.shape[0]),
    })
    table.index.name = "k"
    delta = df["delta"].to_numpy(dtype=float)
    k_rows = df["k"].to_numpy()
    point_rows = df["point"].to_numpy()
    table["se"] = [_pool_mean_se(delta[k_rows == k], datasets[k_rows == k],
                                 point_rows[k_rows == k], n_pool) for k in table.index]

    # (2) the learning curve on the same problem
    arrays = (X_pool, y_pool, X_test, y_test)
    if curve_method == "stratified":
        curve = expected_loss(learner, arrays, curve_sizes, n_datasets=n_datasets,
                              metric=metric, random_state=seq_curve)
    else:
        lc = learning_curve(learner, arrays, sizes=curve_sizes, n_seeds=n_datasets,
                            random_state=seq_curve, n_jobs=n_jobs)
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
    table["difference_se"] = form.difference_se(kf)
    table["z_combined"] = ((table["mean_delta"] - table["difference"])
                           / np.hypot(table["se"], table["difference_se"]))
    steps = None
    if curve_method == "stratified":
        steps = _class_steps(ks, y_pool, problem.n_classes, curve, delta, datasets, point_rows,
                             k_rows)
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
                      curve_method=curve_method, steps=steps)


def _dataset_of_rows(df, problem, points, ks, n_samples, share_datasets, random_state):
    """For every row of ``df``, the index of the drawn dataset D it was computed on (the plan
    of :func:`~scaling_kit.contributions.planned_datasets` for the same arguments)."""
    plan = planned_datasets(problem, points, k=ks, n_samples=n_samples,
                            share_datasets=share_datasets, random_state=random_state)
    keys = pd.DataFrame({
        "point": np.concatenate([r["points"] for r in plan]).astype(np.int64),
        "k": np.concatenate([np.full(len(r["points"]), r["k"]) for r in plan]).astype(np.int64),
        "sample": np.concatenate([r["sample"] for r in plan]).astype(np.int64),
        "dataset": np.concatenate([np.full(len(r["points"]), i) for i, r in enumerate(plan)]),
    })
    rows = df[["point", "k", "sample"]].astype(np.int64)
    merged = rows.merge(keys, on=["point", "k", "sample"], how="left")
    if len(merged) != len(df) or merged["dataset"].isna().any():  # pragma: no cover - a bug
        raise RuntimeError("link: could not match every contribution to its drawn dataset.")
    return merged["dataset"].to_numpy(dtype=np.int64)


def _pool_mean_se(values, datasets, points, n_population) -> float:
    """Standard error of the mean of ``values`` as an estimate of the average over a finite
    population of ``n_population`` points (docs/math.md §3.6).

    Datasets term: the cluster-robust (CR1) variance of a mean with the drawn datasets as
    clusters, ``R / (R - 1) * sum_r S_r^2 / n^2`` with ``S_r`` the sum of ``values - mean``
    over the rows of dataset r. Points term: ``(1 - P / n_population) * s^2 / P`` with ``s``
    the standard deviation of the P point means (zero when every point is sampled).
    """
    n = values.size
    if n < 2:
        return np.nan
    centred = values - values.mean()
    sums = pd.Series(centred).groupby(datasets).sum().to_numpy()
    r = sums.size
    var_datasets = r / (r - 1) * np.sum(sums**2) / n**2 if r > 1 else np.nan
    point_means = pd.Series(values).groupby(points).mean()
    p = point_means.size
    fpc = max(1.0 - p / n_population, 0.0)
    var_points = fpc * point_means.var(ddof=1) / p if p > 1 else 0.0
    return float(np.sqrt(var_datasets + var_points))


def _class_steps(ks, y_pool, n_classes, curve, delta, datasets, point_rows, k_rows):
    """The exact class-step identity at every k (see the module docstring)."""
    sampler = StratifiedSampler(y_pool, n_classes)
    class_sizes = np.bincount(y_pool, minlength=n_classes)
    point_class = y_pool[point_rows]
    rows = []
    for k in ks:
        row = {"k": int(k), "added_class": -1, "class_points": 0,
               "class_mean_delta": np.nan, "class_se": np.nan, "step": np.nan,
               "step_se": np.nan, "z_step": np.nan}
        try:
            change = sampler.counts(int(k) + 1) - sampler.counts(int(k))
        except ValueError:
            change = np.zeros(n_classes, dtype=np.int64)
        if np.sum(change == 1) == 1 and np.sum(change != 0) == 1:
            c = int(np.flatnonzero(change == 1)[0])
            sel = (k_rows == k) & (point_class == c)
            row["added_class"] = c
            row["class_points"] = int(np.unique(point_rows[sel]).size)
            if sel.sum() >= 2:
                row["class_mean_delta"] = float(pd.Series(delta[sel]).groupby(
                    point_rows[sel]).mean().mean())
                row["class_se"] = _pool_mean_se(delta[sel], datasets[sel], point_rows[sel],
                                                int(class_sizes[c]))
        if k in curve.index and k + 1 in curve.index:
            row["step"] = float(curve.loc[k, "mean"] - curve.loc[k + 1, "mean"])
            row["step_se"] = float(np.hypot(curve.loc[k, "sem"], curve.loc[k + 1, "sem"]))
        row["z_step"] = ((row["class_mean_delta"] - row["step"])
                         / np.hypot(row["class_se"], row["step_se"]))
        rows.append(row)
    return pd.DataFrame(rows).set_index("k")
