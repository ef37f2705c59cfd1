"""The reproducibility guarantee of sample_contributions, as its docstring states it.

1. The same arguments give a bitwise identical table for any n_jobs, any joblib backend
   (loky, threading, multiprocessing), any BLAS thread count of the caller, and in fresh
   processes (other hash seeds, other OMP_NUM_THREADS): each chunk runs with one BLAS/OpenMP
   thread (threadpoolctl) and the plan is fixed before any work starts, so every chunk runs
   the same floating-point operations wherever it runs. Bitwise equality is asserted only
   between runs of the same call on this machine (never across computation paths).
2. Another chunk_size or another set of points regroups the exact engine's batches, a
   different computation: Deltas agree up to rounding. Each fit stops at a relative Newton /
   chord step of tol = 1e-12 (D at 1e-13), so two solves of one problem agree in theta to
   about 1e-12 (1 + |theta|), and the test losses, Lipschitz in theta with a constant of the
   order of max |x| (standardized features: a few units), to about 1e-11; 1e-10 is the bound
   (measured: at most 6.5e-14 on digits).

Run with OMP_NUM_THREADS=1 and 2 (the task's acceptance check); the tests raise the caller's
BLAS threads to 2 themselves, so either way the pinning inside chunks is exercised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from scaling_kit.contributions import sample_contributions
from scaling_kit.learners import ExactLogisticRegression

TESTS = Path(__file__).parent
KW = dict(k=[40, 70], n_samples=2, chunk_size=6, metric=["log_loss", "brier"], random_state=5,
          progress=False)
POINTS = [0, 3, 7, 11, 19]


def _run(p, **kw):
    return sample_contributions(ExactLogisticRegression(), p, POINTS, **{**KW, **kw})


@pytest.mark.parametrize("name", ["digits_small", "wine"])
def test_bitwise_for_any_n_jobs_backend_and_caller_threads(name, request):
    p = request.getfixturevalue(name)
    with threadpool_limits(limits=1):
        reference = _run(p, n_jobs=1)
    with threadpool_limits(limits=2):  # a multithreaded caller (the default BLAS setting)
        runs = {"n_jobs=1": _run(p, n_jobs=1), "loky n_jobs=2": _run(p, n_jobs=2)}
        for backend in ("threading", "multiprocessing"):
            with joblib.parallel_config(backend=backend):
                runs[f"{backend} n_jobs=2"] = _run(p, n_jobs=2)
    for label, table in runs.items():
        pd.testing.assert_frame_equal(table, reference, check_exact=True, obj=label)


def test_bitwise_in_fresh_processes(tmp_path, digits_small):
    """Fresh interpreters with other hash seeds (other allocation patterns) and another
    OMP_NUM_THREADS compute the same bits (a fresh process once gave a second result)."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from scaling_kit.datasets import load_dataset
        from scaling_kit.contributions import sample_contributions
        from scaling_kit.learners import ExactLogisticRegression
        p = load_dataset("digits", test_size=100, max_pool=150, random_state=0)
        df = sample_contributions(ExactLogisticRegression(), p, {POINTS!r}, **{KW!r})
        df.to_pickle(sys.argv[1])
    """)
    reference = _run(digits_small)
    for i, (hash_seed, threads) in enumerate([("1", "1"), ("2", "2"), ("3", "2")]):
        out = tmp_path / f"run{i}.pkl"
        env = {**os.environ, "PYTHONPATH": str(TESTS.parent), "PYTHONHASHSEED": hash_seed,
               "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        done = subprocess.run([sys.executable, "-c", script, str(out)], env=env,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode()
        pd.testing.assert_frame_equal(pd.read_pickle(out), reference, check_exact=True)


@pytest.mark.parametrize("name", ["digits_small", "breast_cancer"])
def test_chunk_size_and_points_change_only_rounding(name, request):
    p = request.getfixturevalue(name)
    points = np.arange(15)
    kw = dict(k=[40, 80], n_samples=3, random_state=2, progress=False)
    base = sample_contributions(ExactLogisticRegression(), p, points, **kw)
    keys = ["point", "k", "sample"]
    for other in (sample_contributions(ExactLogisticRegression(), p, points, chunk_size=4, **kw),
                  sample_contributions(ExactLogisticRegression(), p, points[::4], **kw)):
        merged = base.merge(other, on=keys, suffixes=("", "_other"))
        assert len(merged) == len(other)  # the same (point, k, sample) rows: the same D
        np.testing.assert_allclose(merged["delta_other"], merged["delta"], rtol=0, atol=1e-10)


def test_seed_forms(toy3):
    """An int and SeedSequence(int) are the same seed; a Generator gives a fresh child stream
    per call (as drawing from it would); a spawned child is a seed of its own."""
    kw = dict(k=[10, 20], n_samples=2, progress=False)
    run = lambda rs: sample_contributions(ExactLogisticRegression(), toy3, [0, 1, 2],  # noqa: E731
                                          random_state=rs, **kw)
    pd.testing.assert_frame_equal(run(4), run(np.random.SeedSequence(4)), check_exact=True)
    rng = np.random.default_rng(4)
    first, second = run(rng), run(rng)
    assert not np.array_equal(first["delta"], second["delta"])
    children = np.random.SeedSequence(4).spawn(2)
    a, b = run(children[0]), run(children[1])
    assert not np.array_equal(a["delta"], b["delta"])
    pd.testing.assert_frame_equal(a, run(np.random.SeedSequence(4).spawn(1)[0]),
                                  check_exact=True)


def test_multiprocessing_backend_runs_in_waves_and_caches(tmp_path, toy):
    """The multiprocessing backend cannot return a generator: chunks run in waves (of 8 with
    two workers), each finished chunk cached; the table equals the sequential one."""
    kw = dict(k=[10, 20], n_samples=5, chunk_size=2, random_state=1, progress=False)
    reference = sample_contributions(ExactLogisticRegression(), toy, [0, 1, 2, 3], **kw)
    with joblib.parallel_config(backend="multiprocessing"):
        table = sample_contributions(ExactLogisticRegression(), toy, [0, 1, 2, 3], n_jobs=2,
                                     cache=tmp_path, **kw)
    pd.testing.assert_frame_equal(table, reference, check_exact=True)
    files = list(tmp_path.glob("contributions-*/chunk-*.npz"))
    record = json.loads(next(tmp_path.glob("contributions-*/run.json")).read_text())
    assert len(files) == record["n_chunks"] > 8 and record["complete"]
