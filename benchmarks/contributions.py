"""Benchmark: exact fast contribution engine vs the naive path (one scikit-learn fit per dataset).

Both paths compute Delta(z, D) = log loss(fit on D) - log loss(fit on D + {z}) for the *same*
(point, D) requests, planned by :func:`scaling_kit.contributions.planned_datasets`:

* naive: a fresh ``sklearn.linear_model.LogisticRegression()`` (default tolerance) on D and on
  D + {z} for every request, as the paper's code does;
* ours: :func:`scaling_kit.contributions.sample_contributions` with ``ExactLogisticRegression``.

Per core: both run with one BLAS thread (threadpoolctl). The naive path is timed on a subset of
the requests (it is slow), half before and half after our run, and its rate extrapolated;
exactness is the largest |Delta difference|
of our engine against tightly converged scikit-learn (``tol=1e-10``) on that subset.

Usage::

    python benchmarks/contributions.py            # both datasets
    python benchmarks/contributions.py --quick    # smaller run (smoke test)

Prints one line per dataset: ``speedup <dataset>: <ratio>x``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from scaling_kit.contributions import planned_datasets, sample_contributions
from scaling_kit.datasets import load_dataset
from scaling_kit.learners import ExactLogisticRegression

CONFIGS = {
    # dataset: (ks, number of points, samples per (point, k))
    "breast_cancer": ((100, 150, 200, 250, 300, 350), 200, 100),
    "digits": ((100, 200, 400, 600, 800, 1000), 1000, 5),
}


def naive_delta(X, y, D, z, X_test, y_test, labels, **kw):
    def loss(idx):
        model = LogisticRegression(**kw).fit(X[idx], y[idx])
        return log_loss(y_test, model.predict_proba(X_test), labels=labels)

    return loss(D) - loss(np.append(D, z))


def run(name, ks, n_points, n_samples, n_naive, quick):
    ds = load_dataset(name, random_state=0)
    if quick:
        ks, n_points, n_samples, n_naive = ks[::2], n_points // 4, max(2, n_samples // 10), 40
    rng = np.random.default_rng(0)
    points = np.sort(rng.choice(ds.X_pool.shape[0], size=n_points, replace=False))
    args = (ds, points)
    plan = planned_datasets(ds, points, k=list(ks), n_samples=n_samples, random_state=0)
    requests = [(r["D"], z, s, r["k"]) for r in plan for z, s in zip(r["points"], r["sample"])]
    pick = rng.choice(len(requests), size=min(n_naive, len(requests)), replace=False)
    subset = [requests[i] for i in pick]
    labels = np.arange(ds.n_classes)

    def time_naive(part):
        t0 = time.perf_counter()
        for D, z, _, _ in part:
            naive_delta(ds.X_pool, ds.y_pool, D, z, ds.X_test, ds.y_test, labels)
        return time.perf_counter() - t0

    with threadpool_limits(limits=1):
        # half of the naive requests before our run and half after, so that a drift in the
        # machine's speed during the benchmark affects both paths alike
        half = len(subset) // 2
        t_naive = time_naive(subset[:half])
        t0 = time.perf_counter()
        df = sample_contributions(ExactLogisticRegression(C=1.0), *args, k=list(ks),
                                  n_samples=n_samples, random_state=0, progress=False)
        t_ours = time.perf_counter() - t0
        rate_ours = len(df) / t_ours
        t_naive += time_naive(subset[half:])
        rate_naive = len(subset) / t_naive

        ours = df.set_index(["point", "k", "sample"])["delta"]
        worst = 0.0
        for D, z, s, k in subset[: min(40, len(subset))]:
            ref = naive_delta(ds.X_pool, ds.y_pool, D, z, ds.X_test, ds.y_test, labels,
                              tol=1e-10, max_iter=100000)
            worst = max(worst, abs(ours.loc[(z, k, s)] - ref))
    print(f"{name}: ks={list(ks)}, {n_points} points, {n_samples} samples per (point, k), "
          f"pool {ds.X_pool.shape[0]} x {ds.n_features}, {ds.n_classes} classes")
    print(f"  ours : {len(df)} contributions in {t_ours:.2f} s = {rate_ours:,.0f}/s")
    print(f"  naive: {len(subset)} contributions in {t_naive:.2f} s = {rate_naive:,.1f}/s "
          f"(same requests, random subset)")
    print(f"  max |Delta ours - Delta sklearn(tol=1e-10)| over {min(40, len(subset))} requests: "
          f"{worst:.2e}")
    print(f"speedup {name}: {rate_ours / rate_naive:.0f}x", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke-test sizes")
    parser.add_argument("--datasets", nargs="*", default=list(CONFIGS))
    parser.add_argument("--n-naive", type=int, default=300, help="naive requests to time")
    opts = parser.parse_args(argv)
    for name in opts.datasets:
        ks, n_points, n_samples = CONFIGS[name]
        run(name, ks, n_points, n_samples, opts.n_naive, opts.quick)


if __name__ == "__main__":
    main()
