"""The paper's validation protocol for logistic regression, timed end to end.

Covert et al. (2024, §4.1): contributions of many points at k = 10 log-spaced sizes in
[100, 1000], 1000 samples per (point, k). Here: statsmodels' bundled ``fair`` (offline stand-in
for MiniBooNE; pool of 5,366), 1,000 points, L2 logistic regression (C=1), true log loss.

The script runs our engine on the whole protocol (``n_jobs`` workers, one BLAS thread each),
then times the naive path (a fresh scikit-learn ``LogisticRegression()`` per D and per D + {z})
on a random subset of the same requests, and prints how long the naive path would need for the
same count at its measured speed. Wall time is what a user waits; with ``--n-jobs 1`` the CPU
time (``time.process_time``) is printed too, the figure that other jobs sharing the machine do
not inflate (the wall time on n free cores is about CPU time / n plus the planning).

Usage::

    python benchmarks/paper_profile.py                  # the full protocol (~10^7 contributions)
    python benchmarks/paper_profile.py --samples 50     # a shorter run
    python benchmarks/paper_profile.py --samples 50 --n-jobs 1   # CPU time per contribution

Where the time goes (CPU, n_jobs=1): solving the candidates ~60%, test losses (1,000 test
points per fit) ~20%, fitting the D's ~12%, drawing and planning the datasets ~8%; about
47,000 contributions per CPU second, so the full protocol takes ~215 CPU seconds (measured
figures: ``docs/engine.md``, section 4).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from scaling_kit.contributions import (
    planned_datasets,
    sample_contributions,
    summarize_contributions,
)
from scaling_kit.datasets import load_dataset
from scaling_kit.laws import fit_loglinear_laws
from scaling_kit.learners import ExactLogisticRegression


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000, help="samples per (point, k)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--n-naive", type=int, default=200)
    opts = parser.parse_args(argv)

    ds = load_dataset("fair", random_state=0)
    ks = np.unique(np.geomspace(100, 1000, 10).round().astype(int))
    rng = np.random.default_rng(0)
    points = np.sort(rng.choice(ds.X_pool.shape[0], size=opts.points, replace=False))
    with threadpool_limits(limits=1):
        t0, c0 = time.perf_counter(), time.process_time()
        df = sample_contributions(ExactLogisticRegression(C=1.0), ds, points, k=ks,
                                  n_samples=opts.samples, random_state=0, n_jobs=opts.n_jobs,
                                  chunk_size=20000)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        laws = fit_loglinear_laws(summarize_contributions(df))

        plan = planned_datasets(ds, points, k=ks, n_samples=2, random_state=1)
        requests = [(r["D"], z) for r in plan for z in r["points"]]
        pick = rng.choice(len(requests), size=opts.n_naive, replace=False)
        labels = np.arange(ds.n_classes)

        def loss(idx):
            model = LogisticRegression().fit(ds.X_pool[idx], ds.y_pool[idx])
            return log_loss(ds.y_test, model.predict_proba(ds.X_test), labels=labels)

        t0 = time.perf_counter()
        for i in pick:
            D, z = requests[i]
            loss(D) - loss(np.append(D, z))
        naive_rate = opts.n_naive / (time.perf_counter() - t0)
    n = len(df)
    print(f"fair: pool {ds.X_pool.shape[0]}, {opts.points} points, k = {ks.tolist()}, "
          f"{opts.samples} samples per (point, k), n_jobs={opts.n_jobs}")
    print(f"ours : {n:,} contributions in {elapsed:,.0f} s ({elapsed / 60:.1f} min; "
          f"{n / elapsed:,.0f}/s on {opts.n_jobs} workers)")
    if opts.n_jobs == 1:
        print(f"       CPU time {cpu:,.1f} s = {n / cpu:,.0f} contributions per CPU second")
    print(f"naive: {naive_rate:,.1f}/s on one core; the same {n:,} contributions would take "
          f"{n / naive_rate / 3600:,.1f} h on one core ({n / naive_rate / 3600 / opts.n_jobs:,.1f} h "
          f"on {opts.n_jobs})")
    fitted = laws.fitted
    print(f"log-linear laws: {len(fitted)} of {opts.points} points fitted (others change sign "
          f"across k), median per-point R^2 = {np.nanmedian(fitted['r2']):.3f}, "
          f"R^2 across points (Table 1 statistic) = {laws.r2_overall:.3f}")


if __name__ == "__main__":
    main()
