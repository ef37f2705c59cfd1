"""The self-verifying chunk cache: resume, keys, damage detection, strict mode, faults.

Every damaged, foreign or missing chunk must be detected (recomputed with a CacheWarning that
names the file, or a CacheError under strict=True), so that a table read from the cache is
always the table an uncached run computes: bitwise, since a chunk runs the same operations with
one BLAS thread whether it is computed now, earlier, or in another process (see
tests/test_determinism.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression

from scaling_kit.contributions import compute, sample_contributions
from scaling_kit.exceptions import CacheError, CacheWarning
from scaling_kit.learners import ExactLogisticRegression

KW = dict(k=[10, 20], n_samples=3, chunk_size=4, random_state=3, progress=False)
POINTS = [0, 1, 2, 3]
TESTS = Path(__file__).parent
ROOT = TESTS.parent


def _run(p, cache=None, learner=None, **kw):
    return sample_contributions(learner or ExactLogisticRegression(), p, POINTS, cache=cache,
                                **{**KW, **kw})


def _chunk_files(cache):
    return sorted(Path(cache).glob("contributions-*/chunk-*.npz"))


def _partial_files(cache):
    return [f for f in Path(cache).rglob("*") if f.is_file() and f.name.endswith(".tmp")]


def _count_computations(monkeypatch):
    """Wrap compute.compute_chunk; the returned list grows by one per computed chunk."""
    calls = []
    real = compute.compute_chunk

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(compute, "compute_chunk", counting)
    return calls


@pytest.fixture
def reference(toy):
    return _run(toy)


# ------------------------------------------------------------------------------------------
# reuse, resume, keys
# ------------------------------------------------------------------------------------------
def test_cache_is_reused_bitwise(tmp_path, toy, reference, monkeypatch):
    first = _run(toy, tmp_path)
    pd.testing.assert_frame_equal(first, reference, check_exact=True)
    files = _chunk_files(tmp_path)
    assert len(files) >= 5 and _partial_files(tmp_path) == []
    record = json.loads(next(tmp_path.glob("contributions-*/run.json")).read_text())
    assert record["complete"] and record["n_chunks"] == len(files)
    calls = _count_computations(monkeypatch)
    again = _run(toy, tmp_path)
    pd.testing.assert_frame_equal(again, reference, check_exact=True)
    assert calls == []  # everything came from the cache


def test_resume_after_deleting_chunks_of_an_unfinished_run(tmp_path, toy, reference,
                                                            monkeypatch):
    _run(toy, tmp_path)
    files = _chunk_files(tmp_path)
    for f in files[1::2]:
        f.unlink()
    manifest = next(tmp_path.glob("contributions-*/run.json"))
    record = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**record, "complete": False}))  # as if interrupted
    calls = _count_computations(monkeypatch)
    resumed = _run(toy, tmp_path)  # no warning: the missing chunks were never written
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)
    assert len(calls) == len(files[1::2]) and len(_chunk_files(tmp_path)) == len(files)


def test_interrupted_run_resumes(tmp_path, toy, reference, monkeypatch):
    real = compute.compute_chunk
    done = []

    def crashing(*args, **kwargs):
        if len(done) == 3:
            raise KeyboardInterrupt("simulated interruption")
        done.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(compute, "compute_chunk", crashing)
    with pytest.raises(KeyboardInterrupt):
        _run(toy, tmp_path)
    assert len(_chunk_files(tmp_path)) == 3 and _partial_files(tmp_path) == []
    monkeypatch.setattr(compute, "compute_chunk", real)
    calls = _count_computations(monkeypatch)
    resumed = _run(toy, tmp_path)
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)
    assert len(calls) == len(_chunk_files(tmp_path)) - 3


def test_cache_key_covers_seed_learner_metrics_and_options(tmp_path, toy, monkeypatch):
    first = _run(toy, tmp_path)
    calls = _count_computations(monkeypatch)
    other_seed = _run(toy, tmp_path, random_state=4)
    assert calls and not np.array_equal(other_seed["delta"], first["delta"])
    for change in (dict(learner=ExactLogisticRegression(C=0.5)),
                   dict(learner=ExactLogisticRegression(tol=1e-10)),
                   dict(learner=ExactLogisticRegression(max_iter=50)),
                   dict(metric=["log_loss", "error"]), dict(chunk_size=5),
                   dict(share_datasets=False), dict(n_samples=2)):
        n_calls = len(calls)
        _run(toy, tmp_path, **change)
        assert len(calls) > n_calls, change
    seq = np.random.SeedSequence(3).spawn(2)[1]  # a SeedSequence child is a seed of its own
    child = _run(toy, tmp_path, random_state=seq)
    n_calls = len(calls)
    again = _run(toy, tmp_path, random_state=np.random.SeedSequence(3).spawn(2)[1])
    pd.testing.assert_frame_equal(child, again, check_exact=True)
    assert len(calls) == n_calls  # the same child: the same run, read from the cache
    assert not np.array_equal(child["delta"], first["delta"])
    assert len(list(tmp_path.glob("contributions-*"))) == 10


def test_long_ensembles_with_one_different_member_are_different_runs(tmp_path, toy):
    """Keys from repr() collided here (scikit-learn elides the middle of long reprs) and the
    second call silently returned the first one's contributions."""

    def ensemble(c_middle):
        members = [(f"lr{i}", LogisticRegression(C=c_middle if i == 6 else 0.5, max_iter=1000,
                                                 tol=1e-6, class_weight="balanced",
                                                 solver="newton-cg"))
                   for i in range(12)]
        return VotingClassifier(members, voting="soft")

    assert repr(ensemble(0.5)) == repr(ensemble(0.01))
    kw = dict(k=10, n_samples=1, random_state=0, progress=False, cache=tmp_path)
    a = sample_contributions(ensemble(0.5), toy, [0, 1], **kw)
    b = sample_contributions(ensemble(0.01), toy, [0, 1], **kw)
    assert not np.array_equal(a["delta"], b["delta"])
    assert len(list(tmp_path.glob("contributions-*"))) == 2


# ------------------------------------------------------------------------------------------
# damaged chunks
# ------------------------------------------------------------------------------------------
def _rewrite(path, **changes):
    """Rewrite a chunk file with some arrays changed (meta kept unless given)."""
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)


def _meta(path):
    with np.load(path) as data:
        return json.loads(str(data["meta"]))


def _damage(kind, files):
    target = files[2]
    if kind == "truncated":
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif kind == "emptied":
        target.write_bytes(b"")
    elif kind == "garbage":
        target.write_bytes(os.urandom(500))
    elif kind == "swapped":  # a copy of another chunk
        target.write_bytes(files[1].read_bytes())
    elif kind == "doubled deltas":
        with np.load(target) as data:
            _rewrite(target, delta_log_loss=2 * data["delta_log_loss"])
    elif kind == "rows removed":  # consistent file (meta and checksum redone), wrong rows
        with np.load(target) as data:
            arrays = {name: data[name][:-1] for name in data.files if name != "meta"}
        from scaling_kit._io import hash_arrays

        meta = _meta(target)
        names = ["point", "k", "sample", "delta_log_loss"]
        meta.update(n_rows=meta["n_rows"] - 1, sha256=hash_arrays(arrays, names=names))
        np.savez(target, meta=np.array(json.dumps(meta)), **arrays)
    elif kind == "pickled":
        np.save(target.with_suffix(".npy"), np.array([{"a": 1}], dtype=object))
        target.write_bytes(target.with_suffix(".npy").read_bytes())
        target.with_suffix(".npy").unlink()
    elif kind == "array missing":
        _rewrite(target, delta_log_loss=None)
    elif kind == "meta missing":
        _rewrite(target, meta=None)
    elif kind == "other run":
        meta = _meta(target)
        _rewrite(target, meta=np.array(json.dumps({**meta, "run_key": "0" * 64})))
    elif kind == "deleted":
        target.unlink()
    return target


DAMAGE = ["truncated", "emptied", "garbage", "swapped", "doubled deltas", "rows removed",
          "pickled", "array missing", "meta missing", "other run", "deleted"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_chunk_is_recomputed_with_a_warning(kind, tmp_path, toy, reference, monkeypatch):
    _run(toy, tmp_path)
    target = _damage(kind, _chunk_files(tmp_path))
    calls = _count_computations(monkeypatch)
    with pytest.warns(CacheWarning, match=target.name) as record:
        again = _run(toy, tmp_path)
    message = next(str(w.message) for w in record if w.category is CacheWarning)
    assert str(target) in message and "recomputing" in message
    pd.testing.assert_frame_equal(again, reference, check_exact=True)
    assert len(calls) == 1  # only the damaged chunk
    # the chunk was rewritten: the next run reads everything without a warning
    with _no_cache_warning():
        _run(toy, tmp_path)
    assert len(calls) == 1


@contextlib.contextmanager
def _no_cache_warning():
    """A CacheWarning inside the block fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        yield


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_chunk_raises_in_strict_mode(kind, tmp_path, toy):
    _run(toy, tmp_path)
    target = _damage(kind, _chunk_files(tmp_path))
    with pytest.raises(CacheError, match=target.name) as info:
        _run(toy, tmp_path, strict=True)
    assert "strict=False" in str(info.value)


def test_strict_mode_reads_an_intact_cache_and_refuses_a_missing_one(tmp_path, toy, reference):
    with pytest.raises(CacheError, match="No cached run"):
        _run(toy, tmp_path, strict=True)
    _run(toy, tmp_path)
    with _no_cache_warning():
        strict = _run(toy, tmp_path, strict=True)
    pd.testing.assert_frame_equal(strict, reference, check_exact=True)


def test_foreign_run_record_is_reported(tmp_path, toy, reference):
    _run(toy, tmp_path)
    manifest = next(tmp_path.glob("contributions-*/run.json"))
    manifest.write_text("{not json")
    with pytest.warns(CacheWarning, match="run.json"):
        again = _run(toy, tmp_path)
    pd.testing.assert_frame_equal(again, reference, check_exact=True)


# ------------------------------------------------------------------------------------------
# faults across processes: SIGKILL mid-run, two writers at once
# ------------------------------------------------------------------------------------------
def _script(cache, out, delay):
    return textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(TESTS)!r})
        from conftest import make_toy
        from scaling_kit.contributions import compute, sample_contributions
        from scaling_kit.learners import ExactLogisticRegression

        real = compute.compute_chunk

        def slow(*args, **kwargs):
            time.sleep({delay})
            return real(*args, **kwargs)

        compute.compute_chunk = slow
        df = sample_contributions(ExactLogisticRegression(), make_toy(), {POINTS!r},
                                  cache={str(cache)!r}, **{KW!r})
        df.to_pickle({str(out)!r})
    """)


def _spawn(cache, out, delay):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", _script(cache, out, delay)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_run_killed_with_sigkill_resumes_row_for_row(tmp_path, toy, reference, monkeypatch):
    cache = tmp_path / "cache"
    proc = _spawn(cache, tmp_path / "never.pkl", delay=0.4)
    deadline = time.monotonic() + 120
    while len(_chunk_files(cache)) < 3:
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "the subprocess wrote no chunks in time"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)  # reaps the process and closes its pipes
    assert proc.returncode == -signal.SIGKILL
    n_written = len(_chunk_files(cache))
    calls = _count_computations(monkeypatch)
    resumed = _run(toy, cache)
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)
    assert 3 <= n_written < len(_chunk_files(cache))  # killed mid-way
    assert len(calls) == len(_chunk_files(cache)) - n_written
    record = json.loads(next(cache.glob("contributions-*/run.json")).read_text())
    assert record["complete"]


def test_two_processes_filling_one_cache_agree(tmp_path, toy, reference, monkeypatch):
    cache = tmp_path / "cache"
    procs = [_spawn(cache, tmp_path / f"out{i}.pkl", delay=0.02) for i in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    for i in range(2):
        pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / f"out{i}.pkl"), reference,
                                      check_exact=True)
    assert _partial_files(cache) == []
    calls = _count_computations(monkeypatch)
    with _no_cache_warning():
        again = _run(toy, cache)
    pd.testing.assert_frame_equal(again, reference, check_exact=True)
    assert calls == []
