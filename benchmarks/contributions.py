"""Benchmark: exact fast contribution engine vs the naive path (one scikit-learn fit per dataset).

Both paths compute Delta(z, D) = log loss(fit on D) - log loss(fit on D + {z}) for the *same*
(point, D) requests, planned by :func:`scaling_kit.contributions.planned_datasets`:

* naive: a fresh ``sklearn.linear_model.LogisticRegression()`` (default tolerance) on D and on
  D + {z} for every request, as the paper's code does;
* ours: :func:`scaling_kit.contributions.sample_contributions` with ``ExactLogisticRegression``.

Per core: both run in this process with one BLAS thread (threadpoolctl). The naive path is timed
on a random subset of the requests (it is slow), half before and half after our run, and its
rate extrapolated. Each run measures CPU time (``time.process_time``: the time this process
spent on a core, robust to other processes sharing the machine) and wall time; the headline
``speedup <dataset>: <N>x`` is the median CPU-time ratio over ``--repeats`` runs, followed by
the range of both ratios. Exactness: the largest |Delta difference| of our engine against
tightly converged scikit-learn (``tol=1e-10``, itself accurate to ~1e-7) and against
independent Newton refits (:func:`scaling_kit.contributions.exact_contribution`, ~1e-12) on
40 of the requests.

Usage::

    python benchmarks/contributions.py                 # both datasets, 3 runs each
    python benchmarks/contributions.py --quick         # smaller run (smoke test)
    python benchmarks/contributions.py --datasets digits --repeats 5

Measured figures, the machine and how they were taken: ``docs/engine.md``, section 4.

Where the time goes (cProfile of our path on the full configurations, one BLAS thread, idle
2-core AMD EPYC, 2026-12-02; shares of the profiled run):

* digits (30,000 contributions, 20.0 s profiled): solving the candidates 77% (the passes'
  gradients 43%: the two double-precision products ~33%, the softmax with the exact P - Y 11%;
  the single-precision preconditioner products and the Woodbury correction 13%; Anderson 6%;
  the warm start 3%; bookkeeping 4%), fitting the 132 drawn D's 19% (L-BFGS 8%, the chord
  finish 7% of which the single-precision Hessian 4%, the inverse 3%), test losses 4%. Passes
  per candidate, median at k = 100 ... 1000: 8, 7, 5, 4, 4, 4 (never fewer than 3);
* breast_cancer (120,000 contributions, 3.3 s profiled): candidates 58% (gradients 24%, of which
  the residual 6%; Anderson 9%; the warm start 5%; the preconditioner 3%), fitting the D's 28%
  (batched Newton: Hessians 9%, solves ~5%), drawing the datasets (planning and computing both
  draw each D) 6%, the rest of the planning 5%, test losses 2%.

What was tried against each share, and measured: ``docs/engine.md``, section 6.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from scaling_kit.contributions import exact_contribution, planned_datasets, sample_contributions
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


class _Clock:
    """Wall and CPU time of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def run_once(ds, points, ks, n_samples, subset):
    """One interleaved run: naive (half), ours, naive (other half). Returns rates and table."""
    labels = np.arange(ds.n_classes)

    def time_naive(part):
        with _Clock() as clock:
            for D, z, _, _ in part:
                naive_delta(ds.X_pool, ds.y_pool, D, z, ds.X_test, ds.y_test, labels)
        return clock

    half = len(subset) // 2
    first = time_naive(subset[:half])
    with _Clock() as ours:
        df = sample_contributions(ExactLogisticRegression(C=1.0), ds, points, k=list(ks),
                                  n_samples=n_samples, random_state=0, progress=False)
    second = time_naive(subset[half:])
    naive_wall, naive_cpu = first.wall + second.wall, first.cpu + second.cpu
    return {
        "n": len(df), "ours_wall": ours.wall, "ours_cpu": ours.cpu,
        "naive_rate_wall": len(subset) / naive_wall, "naive_rate_cpu": len(subset) / naive_cpu,
        "ratio_wall": (len(df) / ours.wall) / (len(subset) / naive_wall),
        "ratio_cpu": (len(df) / ours.cpu) / (len(subset) / naive_cpu),
    }, df


def exactness(ds, df, subset):
    """Largest |Delta ours - Delta reference| against scikit-learn (tol 1e-10) and Newton."""
    labels = np.arange(ds.n_classes)
    ours = df.set_index(["point", "k", "sample"])["delta"]
    refit = ExactLogisticRegression(tol=1e-13)
    worst_sk = worst_newton = 0.0
    for D, z, s, k in subset[: min(40, len(subset))]:
        got = ours.loc[(z, k, s)]
        sk = naive_delta(ds.X_pool, ds.y_pool, D, z, ds.X_test, ds.y_test, labels, tol=1e-10,
                         max_iter=100000)
        newton = exact_contribution(refit, ds.X_pool[D], ds.y_pool[D], ds.X_pool[z],
                                    ds.y_pool[z], ds.X_test, ds.y_test, n_classes=ds.n_classes)
        worst_sk, worst_newton = max(worst_sk, abs(got - sk)), max(worst_newton, abs(got - newton))
    return worst_sk, worst_newton


def run(name, ks, n_points, n_samples, n_naive, repeats, quick):
    ds = load_dataset(name, random_state=0)
    if quick:
        ks, n_points, n_samples, n_naive = ks[::2], n_points // 4, max(2, n_samples // 10), 40
    rng = np.random.default_rng(0)
    points = np.sort(rng.choice(ds.X_pool.shape[0], size=n_points, replace=False))
    plan = planned_datasets(ds, points, k=list(ks), n_samples=n_samples, random_state=0)
    requests = [(r["D"], z, s, r["k"]) for r in plan for z, s in zip(r["points"], r["sample"])]
    pick = rng.choice(len(requests), size=min(n_naive, len(requests)), replace=False)
    subset = [requests[i] for i in pick]
    print(f"{name}: ks={list(ks)}, {n_points} points, {n_samples} samples per (point, k), "
          f"pool {ds.X_pool.shape[0]} x {ds.n_features}, {ds.n_classes} classes; "
          f"naive path timed on {len(subset)} of the requests", flush=True)
    runs = []
    with threadpool_limits(limits=1):
        for i in range(repeats):
            res, df = run_once(ds, points, ks, n_samples, subset)
            runs.append(res)
            print(f"  run {i + 1}: ours {res['n']} contributions in {res['ours_cpu']:.2f} s CPU "
                  f"({res['ours_wall']:.2f} s wall) = {res['n'] / res['ours_cpu']:,.0f}/s; "
                  f"naive {res['naive_rate_cpu']:.1f}/s CPU ({res['naive_rate_wall']:.1f}/s wall)"
                  f"; ratio {res['ratio_cpu']:.0f}x CPU, {res['ratio_wall']:.0f}x wall",
                  flush=True)
        worst_sk, worst_newton = exactness(ds, df, subset)
    cpu = np.array([r["ratio_cpu"] for r in runs])
    wall = np.array([r["ratio_wall"] for r in runs])
    print(f"  max |Delta ours - Delta sklearn(tol=1e-10)| over {min(40, len(subset))} requests: "
          f"{worst_sk:.2e}")
    print(f"  max |Delta ours - Delta Newton refit| over {min(40, len(subset))} requests: "
          f"{worst_newton:.2e}")
    print(f"  ratio range over {repeats} run(s): CPU {cpu.min():.0f}-{cpu.max():.0f}x, "
          f"wall {wall.min():.0f}-{wall.max():.0f}x")
    print(f"speedup {name}: {np.median(cpu):.0f}x", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke-test sizes")
    parser.add_argument("--datasets", nargs="*", default=list(CONFIGS))
    parser.add_argument("--n-naive", type=int, default=300, help="naive requests to time")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per dataset")
    opts = parser.parse_args(argv)
    for name in opts.datasets:
        ks, n_points, n_samples = CONFIGS[name]
        run(name, ks, n_points, n_samples, opts.n_naive, opts.repeats, opts.quick)


if __name__ == "__main__":
    main()
