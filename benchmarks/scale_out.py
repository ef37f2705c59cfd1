"""Benchmark: the paper profile's MLP part on a dask cluster, batching, and compact storage.

Three parts (``--part``; default all):

``scaling``
    One slice of the paper's MLP validation protocol (Covert et al. 2024, §4.1: two fits per
    sampled D, k = 10 log-spaced sizes in [100, 1000], here on the bundled ``fair`` dataset)
    on a dask ``LocalCluster`` of two single-threaded worker processes, run alternately on one
    worker (tasks pinned to it with ``joblib.parallel_config(backend="dask", workers=[...])``)
    and on both, ``--repeats`` times, after a warm-up on each worker (torch's first call).
    Prints the plan (``plan_contributions``), throughput (contributions and fits per second),
    the scaling efficiency ``E = T1 / (2 T2)`` and checks that both tables are bitwise equal.
    Then projects the full profile (200 points x 10 sizes x 5,000 samples, the paper's MLP
    protocol) to a cluster: its exact number of fits (from the plan) divided by the measured
    fits per second of one worker, by the number of workers W and by the measured E (the
    projection assumes workers like these and that E stays at the measured value, which a
    cluster with a shared filesystem and one chunk per task should keep: the chunks are
    independent and each is a few seconds of work).

``batching``
    The generic path trains all rounds of equal k of a chunk in one learner call
    (``contributions.compute``). Times one chunk both ways on one core, interleaved: grouped
    (default) and one round per call (budget set to 1, the behaviour before grouping), for the
    shared-D sampling (about ``--points`` networks per round) and for one D per sample
    (``share_datasets=False``, the paper code's protocol: one network per round). Prints
    ``speedup batching <scheme>: Nx``.

``storage``
    A logistic-regression run of ``--storage-points`` points x 10 sizes x
    ``--storage-samples`` samples (default 1,000 x 10 x 100 = 1 million contributions, the
    paper profile's 10 million scaled down by ten in samples; every figure below is per
    contribution, and the chunk files hold a fixed number of rows each, so the figures hold at
    10 million): bytes per contribution of the table in memory, on disk as npz and as parquet
    chunks, the peak memory (tracemalloc) of assembling the table from the cache, of the
    streamed summary (``open_contributions(...).summarize()``) and of the plan itself.

Usage::

    python benchmarks/scale_out.py                         # all parts, default sizes
    python benchmarks/scale_out.py --part scaling --points 20 --samples 20 --repeats 2
    python benchmarks/scale_out.py --part storage --storage-samples 100
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import tracemalloc
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from scaling_kit.contributions import (
    compute,
    open_contributions,
    plan_contributions,
    sample_contributions,
)
from scaling_kit.contributions.cache import ChunkCache
from scaling_kit.contributions.run import prepare_run
from scaling_kit.datasets import load_dataset
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.mlp import BatchedMLPClassifier

PAPER_KS = np.unique(np.geomspace(100, 1000, 10).round().astype(int))
PAPER_MLP = dict(points=200, samples=5000)  # Covert et al. 2024, §4.1 (MLP and SVM)


def paper_mlp():
    """The paper's MLP recipe when this version of the kit has it, else the kit's MLP with
    the paper's budget (25 epochs, no weight decay) and one hidden layer."""
    if hasattr(BatchedMLPClassifier, "reference"):
        return BatchedMLPClassifier.reference(), "BatchedMLPClassifier.reference()"
    return (BatchedMLPClassifier(n_epochs=25, weight_decay=0.0),
            "BatchedMLPClassifier(n_epochs=25, weight_decay=0) (no reference recipe here)")


def _points(ds, n, seed=0):
    return np.sort(np.random.default_rng(seed).choice(ds.X_pool.shape[0], n, replace=False))


def _hours(seconds):
    return f"{seconds / 3600:,.1f} h"


# ------------------------------------------------------------------------------------------
# scaling on a dask LocalCluster
# ------------------------------------------------------------------------------------------
def part_scaling(opts):
    from distributed import Client, LocalCluster

    ds = load_dataset("fair", random_state=0)
    learner, recipe = paper_mlp()
    ks = PAPER_KS[:opts.sizes]
    points = _points(ds, opts.points)
    kw = dict(k=ks, n_samples=opts.samples, random_state=0, chunk_size=opts.chunk_size)
    print(f"[scaling] fair: pool {ds.X_pool.shape[0]} x {ds.n_features}; learner {recipe}")
    with threadpool_limits(limits=1):
        plan = plan_contributions(learner, ds, points, calibrate=opts.calibrate, **kw)
    print(plan, flush=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        workers = sorted(client.scheduler_info()["workers"])

        def run(n_workers, **extra):
            options = {} if n_workers == 2 else dict(workers=workers[:1],
                                                     allow_other_workers=False)
            with joblib.parallel_config(backend="dask", **options):
                t0 = time.perf_counter()
                table = sample_contributions(learner, ds, points, n_jobs=-1, progress=False,
                                             **{**kw, **extra})
                return table, time.perf_counter() - t0

        run(2, n_samples=2, random_state=99)  # warm-up: torch's first call on each worker
        times = {1: [], 2: []}
        tables = {}
        for rep in range(opts.repeats):
            for n_workers in (1, 2) if rep % 2 == 0 else (2, 1):
                table, seconds = run(n_workers)
                times[n_workers].append(seconds)
                tables.setdefault(n_workers, table)
                print(f"  repeat {rep}: {n_workers} worker(s): {seconds:.1f} s", flush=True)
    pd.testing.assert_frame_equal(tables[1], tables[2], check_exact=True)
    print("  tables on 1 and 2 workers: bitwise equal")
    t1, t2 = np.array(times[1]), np.array(times[2])
    efficiency = t1 / (2 * t2)  # paired by repeat
    fits_per_s = plan.n_fits / t1
    for n_workers, t in ((1, t1), (2, t2)):
        print(f"  {n_workers} worker(s): {plan.n_contributions / t.max():,.0f}-"
              f"{plan.n_contributions / t.min():,.0f} contributions/s, "
              f"{plan.n_fits / t.max():,.0f}-{plan.n_fits / t.min():,.0f} fits/s")
    print(f"  scaling efficiency E = T1 / (2 T2): {efficiency.min():.2f}-{efficiency.max():.2f}")
    print(f"speedup 2 workers: {(t1 / t2).min():.2f}-{(t1 / t2).max():.2f}x")
    full = plan_contributions(learner, ds, _points(ds, PAPER_MLP["points"]), k=PAPER_KS,
                              n_samples=PAPER_MLP["samples"], random_state=0, calibrate=0)
    one = full.n_fits / fits_per_s  # seconds on one worker (range over repeats)
    e = float(np.median(efficiency))
    print(f"[projection] the paper's MLP profile on fair: {full.n_contributions:,} "
          f"contributions, {full.n_fits:,} fits, {full.n_chunks:,} chunks; at "
          f"{fits_per_s.min():,.0f}-{fits_per_s.max():,.0f} fits/s per worker:")
    print(f"  1 worker: {_hours(one.min())}-{_hours(one.max())}; with E = {e:.2f}: " + "; ".join(
        f"{w} workers {_hours(one.min() / (w * e))}-{_hours(one.max() / (w * e))}"
        for w in (16, 64, 256)))


# ------------------------------------------------------------------------------------------
# batching rounds per learner call
# ------------------------------------------------------------------------------------------
def part_batching(opts):
    ds = load_dataset("fair", random_state=0)
    learner, recipe = paper_mlp()
    print(f"[batching] fair; learner {recipe}; one chunk, one core, interleaved x{opts.repeats}")
    for scheme, share, n_points, n_samples in (("shared D", True, opts.points, 10),
                                              ("one D per sample", False, 16, 4)):
        run = prepare_run(learner, ds, _points(ds, n_points), k=[300], n_samples=n_samples,
                          share_datasets=share, random_state=0, chunk_size=10**6)
        chunk = run.chunks[0]
        args = (learner, run.problem, run.metrics, run.seq)
        budget = compute.GENERIC_BATCH_ELEMENTS
        times = {"grouped": [], "per round": []}
        results = {}
        with threadpool_limits(limits=1):
            compute.compute_chunk(chunk[:1], *args)  # warm-up
            for rep in range(opts.repeats):
                for label in ("grouped", "per round") if rep % 2 == 0 else \
                        ("per round", "grouped"):
                    compute.GENERIC_BATCH_ELEMENTS = budget if label == "grouped" else 1
                    t0 = time.perf_counter()
                    results[label], _ = compute.compute_chunk(chunk, *args)
                    times[label].append(time.perf_counter() - t0)
            compute.GENERIC_BATCH_ELEMENTS = budget
        diff = np.abs(results["grouped"]["log_loss"] - results["per round"]["log_loss"]).max()
        ratio = np.array(times["per round"]) / np.array(times["grouped"])
        n = sum(rnd.points.size for rnd in chunk)
        print(f"  {scheme}: {len(chunk)} rounds, {n} contributions at k=300; grouped "
              f"{min(times['grouped']):.1f} s, per round {min(times['per round']):.1f} s; "
              f"max |Delta difference| {diff:.1e}")
        print(f"speedup batching {scheme}: {ratio.min():.1f}-{ratio.max():.1f}x", flush=True)


# ------------------------------------------------------------------------------------------
# storage
# ------------------------------------------------------------------------------------------
def _peak(function):
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def part_storage(opts):
    ds = load_dataset("fair", random_state=0)
    points = _points(ds, opts.storage_points)
    kw = dict(k=PAPER_KS, n_samples=opts.storage_samples, random_state=0, chunk_size=20000)
    learner = ExactLogisticRegression(C=1.0)
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        npz, parquet = Path(tmp) / "npz", Path(tmp) / "parquet"
        t0 = time.perf_counter()
        table = sample_contributions(learner, ds, points, n_jobs=opts.n_jobs, cache=npz,
                                     progress=False, **kw)
        elapsed = time.perf_counter() - t0
        n = len(table)
        print(f"[storage] logistic regression on fair: {n:,} contributions "
              f"({opts.storage_points} points x {len(PAPER_KS)} sizes x {opts.storage_samples} "
              f"samples) in {elapsed:.0f} s on {opts.n_jobs} workers")
        memory = table.memory_usage(index=True, deep=True)
        print(f"  in memory: {memory.sum() / n:.2f} bytes per contribution ("
              + ", ".join(f"{c} {table[c].dtype}" for c in table.columns) + ")")
        source = open_contributions(npz)  # the same chunks, rewritten as parquet
        target = ChunkCache(parquet, source.run_key, source.n_chunks, source.metrics,
                            storage="parquet", description=source.description)
        for i in range(source.n_chunks):
            arrays = source.chunk(i)
            target.save(i, arrays, {m: arrays["delta_" + m] for m in source.metrics},
                        source.row_dtypes)
        target.mark_complete()
        for label, root in (("npz", npz), ("parquet", parquet)):
            store = open_contributions(root)
            print(f"  on disk ({label}): {store.nbytes_on_disk() / n:.2f} bytes per contribution "
                  f"({store.n_chunks} chunks)")
        del table
        store = open_contributions(npz)
        merged, peak_merge = _peak(lambda: sample_contributions(
            learner, ds, points, cache=npz, strict=True, progress=False, **kw))
        del merged
        _, peak_table = _peak(store.table)
        _, peak_summary = _peak(store.summarize)
        _, peak_plan = _peak(lambda: prepare_run(learner, ds, points, **kw).rows)
        print(f"  peak memory per contribution: merge from the cache "
              f"(sample_contributions, strict) {peak_merge / n:.1f} B, store.table() "
              f"{peak_table / n:.1f} B, store.summarize() {peak_summary / n:.2f} B, the plan "
              f"(rounds and rows) {peak_plan / n:.1f} B")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("scaling", "batching", "storage", "all"),
                        default="all")
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--sizes", type=int, default=10, help="first N of the 10 paper sizes")
    parser.add_argument("--samples", type=int, default=20, help="samples per (point, k)")
    parser.add_argument("--chunk-size", type=int, default=250,
                        help="scaling slice: contributions per chunk (enough chunks for two "
                             "workers; the projection uses the default 2,000)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--calibrate", type=int, default=100)
    parser.add_argument("--storage-points", type=int, default=1000)
    parser.add_argument("--storage-samples", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=2, help="storage part: local workers")
    opts = parser.parse_args(argv)
    parts = ("batching", "scaling", "storage") if opts.part == "all" else (opts.part,)
    for part in parts:
        globals()[f"part_{part}"](opts)


if __name__ == "__main__":
    main()
