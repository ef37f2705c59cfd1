"""Contributions on a dask cluster: joblib's dask backend on a LocalCluster of two worker
processes gives the tables of n_jobs=1, bit for bit.

Why bitwise holds here (and is asserted): the plan (every D, every learner seed, the chunks) is
fixed in the caller before any work starts, each chunk runs with one BLAS/OpenMP thread
(the workers' environment sets one, and compute_chunk pins it), and a worker process runs the
same floating-point operations in the same order as the caller would, on the same machine. So
this is a rerun of the same computation, not another computation path (docs/api.md allows
bitwise there). Across machines of different kinds the same chunks may round differently
(docs/scale-out.md).

One module-scoped cluster serves every test (start-up dominates: about 5-15 s); it is closed
by the fixture's context managers even when a test fails. Errors raised in a worker reach the
caller as exceptions, and warnings raised in a worker are re-emitted by the caller.
"""

from __future__ import annotations

import logging
import threading

import joblib
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from scaling_kit.contributions import compute, sample_contributions
from scaling_kit.contributions.compute import one_blas_thread
from scaling_kit.exceptions import ConvergenceWarning
from scaling_kit.laws import run_validation
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.mlp import BatchedMLPClassifier
from scaling_kit.valuation import valuation_experiment

distributed = pytest.importorskip("distributed")

KW = dict(k=[15, 30], n_samples=3, chunk_size=5, random_state=4, progress=False)
POINTS = [0, 2, 5, 7, 11]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit="1GiB", dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        yield client


def _on_cluster(client, function, *args, **kwargs):
    with joblib.parallel_config(backend="dask"):
        return function(*args, **kwargs)


def _mlp():
    return BatchedMLPClassifier(hidden=6, n_epochs=15, lr=0.05)


@pytest.mark.parametrize("learner", [ExactLogisticRegression(), _mlp(),
                                     LogisticRegression(C=0.5)],
                         ids=["exact-engine", "batched-mlp", "sklearn"])
def test_cluster_tables_equal_n_jobs_1_bitwise(client, toy3, learner):
    reference = sample_contributions(learner, toy3, POINTS, n_jobs=1,
                                     metric=["log_loss", "error"], **KW)
    table = _on_cluster(client, sample_contributions, learner, toy3, POINTS, n_jobs=-1,
                        metric=["log_loss", "error"], **KW)
    pd.testing.assert_frame_equal(table, reference, check_exact=True)
    assert len(table) == len(POINTS) * 2 * 3


def test_cluster_with_a_shared_cache_and_shards(client, toy3, tmp_path):
    """Shards computed on the cluster into one cache merge into the n_jobs=1 table."""
    reference = sample_contributions(_mlp(), toy3, POINTS, **KW)
    parts = [_on_cluster(client, sample_contributions, _mlp(), toy3, POINTS, n_jobs=-1,
                         cache=tmp_path, shard=(i, 2), **KW) for i in range(2)]
    assert sum(map(len, parts)) == len(reference)
    merged = sample_contributions(_mlp(), toy3, POINTS, cache=tmp_path, strict=True, **KW)
    pd.testing.assert_frame_equal(merged, reference, check_exact=True)


def test_worker_warnings_reach_the_caller(client, toy3):
    with pytest.warns(ConvergenceWarning, match="lbfgs"):  # scikit-learn's, from the workers
        _on_cluster(client, sample_contributions, LogisticRegression(max_iter=1), toy3,
                    POINTS, n_jobs=-1, **KW)


def test_worker_errors_reach_the_caller_and_the_cluster_survives(client, toy3):
    # scikit-learn validates C only in fit, so the error is raised inside a worker
    with pytest.raises(ValueError, match="C"):
        _on_cluster(client, sample_contributions, LogisticRegression(C=-1.0), toy3, POINTS,
                    n_jobs=-1, **KW)
    assert len(client.scheduler_info()["workers"]) == 2


def test_n_jobs_1_with_the_dask_backend_warns(client, toy3):
    with pytest.warns(UserWarning, match="n_jobs=-1"):
        _on_cluster(client, sample_contributions, ExactLogisticRegression(), toy3, [0, 1],
                    k=15, n_samples=1, random_state=0, progress=False)


def test_run_validation_on_the_cluster(client, wine):
    args = (ExactLogisticRegression(), wine, [0, 1, 2, 3], [20, 40, 80], 4)
    reference = run_validation(*args, random_state=1, n_jobs=1)
    on_cluster = _on_cluster(client, run_validation, *args, random_state=1, n_jobs=-1)
    pd.testing.assert_frame_equal(on_cluster.params, reference.params, check_exact=True)


def test_valuation_experiment_on_the_cluster(client, make_problem):
    p = make_problem(n_pool=80)
    kw = dict(n_points=12, k_range=(10, 30), n_truth=12, n_samples=(4, 8), k0=(10, 20),
              n_add=4, n_repeats=3, amortized=False, random_state=0)
    reference = valuation_experiment(p, n_jobs=1, **kw)
    on_cluster = _on_cluster(client, valuation_experiment, p, n_jobs=-1, **kw)
    for name in ("truth_samples", "estimate_samples", "ground_truth"):
        pd.testing.assert_frame_equal(getattr(on_cluster, name), getattr(reference, name),
                                      check_exact=True, obj=name)
    pd.testing.assert_frame_equal(on_cluster.comparison.pivot("pearson"),
                                  reference.comparison.pivot("pearson"), check_exact=True)


class _FakeController:
    """Records what one_blas_thread asks of threadpoolctl (the real BLAS settings differ by
    library: OpenBLAS ignores calls from threads other than the main one, OpenMP's setting is
    per thread), so that the reference counting itself is tested."""

    def __init__(self):
        self.events = []

    def limit(self, limits):
        controller = self

        class Limiter:
            def restore_original_limits(self):
                controller.events.append(("restore", id(self)))

        limiter = Limiter()
        self.events.append(("limit", id(limiter)))
        return limiter


def test_one_blas_thread_restores_once_after_the_last_block(monkeypatch):
    """Blocks in several threads of one process (a dask worker with several threads): each
    entering thread sets one thread; the first block to leave must not restore the setting
    while another still runs; the last restores the setting the first one found."""
    fake = _FakeController()
    monkeypatch.setattr(compute, "_controller", lambda: fake)
    inside, first_left = threading.Event(), threading.Event()

    def slow_block():
        with one_blas_thread():
            inside.set()
            first_left.wait(timeout=10)
            fake.events.append(("slow block still running", None))

    thread = threading.Thread(target=slow_block)
    thread.start()
    inside.wait(timeout=10)
    with one_blas_thread():
        pass
    first_left.set()
    thread.join(timeout=10)
    kinds = [kind for kind, _ in fake.events]
    assert kinds == ["limit", "limit", "slow block still running", "restore"]
    assert fake.events[-1][1] == fake.events[0][1]  # the first limiter restores


def test_a_chunk_that_cannot_pin_blas_warns(monkeypatch, toy3):
    monkeypatch.setattr(compute, "_blas_threads", lambda: 4)
    with pytest.warns(RuntimeWarning, match="4 BLAS threads"):
        with joblib.parallel_config(backend="threading"):
            sample_contributions(ExactLogisticRegression(), toy3, [0, 1], k=15, n_samples=2,
                                 random_state=0, progress=False, n_jobs=2)
