"""Hestness learning curves: nested training shards of a pool, scored on one test set.

Hestness et al. 2017, Section 4; docs/math.md §2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from .._checks import as_problem, check_int, check_random_state, check_sizes, spawn_seeds
from ..results import Summary

__all__ = ["LearningCurveResult", "learning_curve", "shard_sizes"]


def shard_sizes(n_pool: int, *, min_size: int = 1, n_sizes: int | None = None) -> np.ndarray:
    """Hestness shard sizes: ``floor(n_pool / 2^j)``, j = 0, 1, ..., ascending.

    Stops before a size drops below ``min_size`` or after ``n_sizes`` sizes (the largest
    ones are kept). Hestness et al. use fractions 0.1%, 0.2%, 0.4%, ... of the training set
    (docs/math.md §2).
    """
    n_pool = check_int(n_pool, "n_pool", low=1)
    min_size = check_int(min_size, "min_size", low=1, high=n_pool)
    if n_sizes is not None:
        n_sizes = check_int(n_sizes, "n_sizes", low=1)
    sizes = []
    j = 0
    while n_pool // 2**j >= min_size:
        sizes.append(n_pool // 2**j)
        j += 1
        if n_sizes is not None and len(sizes) >= n_sizes:
            break
    return np.array(sorted(set(sizes)), dtype=np.int64)


@dataclass
class LearningCurveResult:
    """Test metrics of one model family trained on nested shards of a pool.

    ``table`` is tidy: one row per (seed, size) with columns ``seed, size`` and one column per
    metric (``cross_entropy`` = mean test log loss in nats, ``error_rate`` = test 0-1 error).
    """

    table: pd.DataFrame
    metrics: tuple
    estimator: str
    dataset: str
    n_pool: int
    n_test: int
    n_classes: int

    @property
    def sizes(self) -> np.ndarray:
        """The training-set sizes, increasing."""
        return np.sort(self.table["size"].unique())

    def aggregate(self) -> pd.DataFrame:
        """Mean, standard deviation and standard error over seeds, one row per size."""
        g = self.table.groupby("size")[list(self.metrics)]
        out = pd.concat({"mean": g.mean(), "std": g.std(ddof=1), "sem": g.sem()}, axis=1)
        out.columns = [f"{m}_{s}" for s, m in out.columns]
        out["n_seeds"] = self.table.groupby("size").size()
        return out

    def curve(self, metric: str = "cross_entropy") -> tuple[np.ndarray, np.ndarray]:
        """``(sizes, mean metric over seeds)``, ready for a fitting form's ``fit``."""
        if metric not in self.metrics:
            raise ValueError(f"metric must be one of {self.metrics}; got {metric!r}.")
        means = self.table.groupby("size")[metric].mean()
        return means.index.to_numpy(dtype=float), means.to_numpy(dtype=float)

    def summary(self) -> Summary:
        """Mean, standard deviation and standard error of every metric by size
        (a :class:`scaling_kit.results.Summary`)."""
        return Summary(
            title=f"Learning curve: {self.estimator} on {self.dataset}",
            facts={"pool": self.n_pool, "test": self.n_test, "classes": self.n_classes,
                   "seeds": int(self.table["seed"].nunique())},
            tables={"by size (over seeds)": self.aggregate()},
        )

    def __repr__(self) -> str:
        return (
            f"LearningCurveResult({self.estimator} on {self.dataset}: sizes "
            f"{self.sizes.tolist()}, {self.table['seed'].nunique()} seeds, metrics "
            f"{list(self.metrics)})"
        )


def _stratified_order(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random order of the pool whose every prefix is (nearly) class-proportional.

    One random point of each class comes first (so any prefix of length >= K holds every
    class); the rest is ordered by the systematic key ``(rank within class + U) / n_class``.
    """
    classes = np.unique(y)
    key = np.empty(len(y))
    first = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        first.append(idx[0])
        key[idx] = (np.arange(len(idx)) + rng.random(len(idx))) / len(idx)
    first = np.array(first)[rng.permutation(len(first))]
    rest = np.setdiff1d(np.arange(len(y)), first)
    rest = rest[np.argsort(key[rest], kind="stable")]
    return np.concatenate([first, rest])


def _fit_and_score(estimator, X_train, y_train, X_test, y_test, n_classes, scoring):
    # one BLAS/OpenMP thread per fit (parallel speed comes from n_jobs): on these small
    # problems threaded BLAS mostly waits (measured 9.7 s against 0.3 s of CPU for the digits
    # curve of notebook 01 on a busy 2-core machine)
    with threadpool_limits(limits=1):
        est = estimator.fit(X_train, y_train)
        proba = est.predict_proba(X_test)
        classes = np.asarray(getattr(est, "classes_", np.arange(proba.shape[1])))
        full = np.zeros((X_test.shape[0], n_classes))
        full[:, classes.astype(int)] = proba
        row = {
            "cross_entropy": float(log_loss(y_test, full, labels=np.arange(n_classes))),
            "error_rate": float(np.mean(np.argmax(full, axis=1) != y_test)),
        }
        for name, fun in (scoring or {}).items():
            row[name] = float(fun(y_test, full))
    return row


def learning_curve(
    estimator,
    data,
    *,
    sizes=None,
    min_size: int | None = None,
    n_seeds: int = 3,
    stratify: bool = True,
    scoring: dict | None = None,
    random_state=None,
    n_jobs: int | None = 1,
    progress: bool = False,
) -> LearningCurveResult:
    """Hestness learning curve: test loss of ``estimator`` trained on nested pool shards.

    Protocol (docs/math.md §2; Hestness et al. 2017, Section 4): for each seed, the pool is
    put in a random order and the training sets are its prefixes (nested shards) of sizes
    ``n_pool / 2^j`` (``sizes=None``) or the given ``sizes`` (any integers); every model is
    scored on the same held-out test set by cross-entropy (mean log loss, nats) and error
    rate, plus optional ``scoring`` callables ``f(y_true, proba) -> float``.

    Parameters
    ----------
    estimator : scikit-learn classifier with ``predict_proba`` (cloned for every fit; if it
        has a ``random_state`` parameter it is set from ``random_state`` and the seed).
    data : a :class:`scaling_kit.datasets.Dataset` or a tuple
        ``(X_pool, y_pool, X_test, y_test)`` with integer labels ``0..K-1``.
    sizes : None (powers of two of the pool, down to ``min_size``) or an array of sizes.
    min_size : smallest shard for ``sizes=None``; default ``max(2 K, 8)`` (at most the pool).
    stratify : order the pool so every prefix is class-proportional and every shard of at
        least K points contains every class (needed for a finite cross-entropy).
    n_jobs, progress : joblib parallelism and a tqdm progress bar. The shard orders are drawn
        up front from ``random_state``, so every ``n_jobs`` fits the same shards; results agree
        up to the rounding of differently threaded BLAS in worker processes (far below the
        solver's tolerance). Every fit runs with one BLAS/OpenMP thread (threadpoolctl), as
        the contribution engine does; use ``n_jobs`` for parallel speed.
    """
    problem = as_problem(data)
    X_pool, y_pool, X_test, y_test = problem.X_pool, problem.y_pool, problem.X_test, problem.y_test
    n_classes, name = problem.n_classes, problem.name
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"estimator {type(estimator).__name__} has no predict_proba; cross-entropy needs "
            "class probabilities (e.g. use SVC(probability=True))."
        )
    n_seeds = check_int(n_seeds, "n_seeds", low=1)
    n_pool = X_pool.shape[0]
    if sizes is None:
        if min_size is None:
            min_size = min(max(2 * n_classes, 8), n_pool)
        sizes = shard_sizes(n_pool, min_size=check_int(min_size, "min_size", low=1))
    else:
        sizes = np.unique(check_sizes(sizes, "sizes", high=n_pool, unique=False))
    if stratify and sizes.min() < n_classes:
        raise ValueError(
            f"sizes: the smallest size {sizes.min()} is below the number of classes "
            f"{n_classes}; every shard must hold each class. Use larger sizes."
        )
    if scoring is not None and (not isinstance(scoring, dict)
                                or not all(callable(f) for f in scoring.values())):
        raise TypeError("scoring must be a dict name -> callable(y_true, proba) -> float.")

    orders, est_seeds = [], []
    for seq in spawn_seeds(random_state, n_seeds):
        rng = check_random_state(seq)
        orders.append(_stratified_order(y_pool, rng) if stratify else rng.permutation(n_pool))
        est_seeds.append(int(rng.integers(2**31 - 1)))
    has_rs = "random_state" in estimator.get_params()

    def make(seed_idx):
        est = clone(estimator)
        if has_rs:
            est.set_params(random_state=est_seeds[seed_idx])
        return est

    tasks = [(s, int(m)) for s in range(n_seeds) for m in sizes]
    jobs = (
        delayed(_fit_and_score)(
            make(s), X_pool[orders[s][:m]], y_pool[orders[s][:m]], X_test, y_test, n_classes,
            scoring,
        )
        for s, m in tasks
    )
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    rows = runner(jobs)
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, total=len(tasks), desc="learning curve")
    rows = list(rows)
    table = pd.DataFrame(
        [{"seed": s, "size": m, **row} for (s, m), row in zip(tasks, rows, strict=True)]
    )
    metrics = ("cross_entropy", "error_rate", *tuple(scoring or {}))
    return LearningCurveResult(
        table=table,
        metrics=metrics,
        estimator=type(estimator).__name__,
        dataset=name,
        n_pool=n_pool,
        n_test=X_test.shape[0],
        n_classes=n_classes,
    )
