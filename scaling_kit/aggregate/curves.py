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

__all__ = ["LearningCurveResult", "learning_curve", "shard_sizes"]


def shard_sizes(n_pool: int, *, min_size: int = 1, n_sizes: int | None = None) -> np.ndarray:
    """Hestness shard sizes: ``floor(n_pool / 2^j)``, j = 0, 1, ..., ascending.

    Stops before a size drops below ``min_size`` or after ``n_sizes`` sizes (the largest
    ones are kept). Hestness et al. use fractions 0.1%, 0.2%, 0.4%, ... of the training set
    (MATH.md Section 1).
    """
    n_pool = int(n_pool)
    if n_pool < 1:
        raise ValueError(f"n_pool must be a positive integer; got {n_pool}.")
    if min_size < 1 or min_size > n_pool:
        raise ValueError(f"min_size must be in [1, n_pool={n_pool}]; got {min_size}.")
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
            raise ValueError(f"Unknown metric {metric!r}; this result has {self.metrics}.")
        means = self.table.groupby("size")[metric].mean()
        return means.index.to_numpy(dtype=float), means.to_numpy(dtype=float)

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
    random_state: int | None = 0,
    n_jobs: int | None = 1,
    progress: bool = False,
) -> LearningCurveResult:
    """Hestness learning curve: test loss of ``estimator`` trained on nested pool shards.

    Protocol (MATH.md Section 1; Hestness et al. 2017, Section 4): for each seed, the pool is
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
        solver's tolerance).
    """
    X_pool, y_pool, X_test, y_test, name = _unpack_data(data)
    n_classes = int(max(y_pool.max(), y_test.max()) + 1)
    if len(np.unique(y_pool)) < n_classes:
        raise ValueError("The pool must contain every class 0..K-1 that appears in the data.")
    if not hasattr(estimator, "predict_proba"):
        raise ValueError(
            f"{type(estimator).__name__} has no predict_proba; cross-entropy needs class "
            "probabilities (e.g. use SVC(probability=True))."
        )
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be >= 1; got {n_seeds}.")
    n_pool = X_pool.shape[0]
    if sizes is None:
        if min_size is None:
            min_size = min(max(2 * n_classes, 8), n_pool)
        sizes = shard_sizes(n_pool, min_size=int(min_size))
    else:
        sizes = np.asarray(sizes)
        if sizes.ndim != 1 or sizes.size == 0 or not np.all(np.isfinite(sizes)):
            raise ValueError("sizes must be a non-empty 1-D array of finite integers.")
        if np.any(sizes != np.round(sizes)) or np.any(sizes < 1) or np.any(sizes > n_pool):
            raise ValueError(f"sizes must be integers in [1, n_pool={n_pool}]; got {sizes}.")
        sizes = np.unique(sizes.astype(np.int64))
    if stratify and sizes.min() < n_classes:
        raise ValueError(
            f"The smallest size {sizes.min()} is below the number of classes {n_classes}; "
            "every shard must hold each class. Use larger sizes."
        )

    seqs = np.random.SeedSequence(random_state).spawn(int(n_seeds))
    orders, est_seeds = [], []
    for seq in seqs:
        rng = np.random.default_rng(seq)
        orders.append(_stratified_order(y_pool, rng) if stratify else rng.permutation(n_pool))
        est_seeds.append(int(rng.integers(2**31 - 1)))
    has_rs = "random_state" in estimator.get_params()

    def make(seed_idx):
        est = clone(estimator)
        if has_rs:
            est.set_params(random_state=est_seeds[seed_idx])
        return est

    tasks = [(s, int(m)) for s in range(int(n_seeds)) for m in sizes]
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
        from tqdm import tqdm

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


def _unpack_data(data):
    if hasattr(data, "X_pool"):
        parts = (data.X_pool, data.y_pool, data.X_test, data.y_test)
        name = getattr(data, "name", "dataset")
    else:
        try:
            parts = tuple(data)
        except TypeError:
            parts = ()
        if len(parts) != 4:
            raise ValueError("data must be a Dataset or a tuple (X_pool, y_pool, X_test, y_test).")
        name = "arrays"
    X_pool, y_pool, X_test, y_test = (np.asarray(p) for p in parts)
    for X, y, what in ((X_pool, y_pool, "pool"), (X_test, y_test, "test")):
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"{what}: X must be 2-D and y 1-D with as many rows; got {X.shape}, {y.shape}."
            )
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{what} features contain NaN or infinite values.")
        if y.dtype.kind not in "iu" or y.min() < 0:
            raise ValueError(f"{what} labels must be integers 0..K-1 (see np.unique).")
    if X_pool.shape[1] != X_test.shape[1]:
        raise ValueError("Pool and test features have different numbers of columns.")
    return X_pool, y_pool.astype(np.int64), X_test, y_test.astype(np.int64), name
