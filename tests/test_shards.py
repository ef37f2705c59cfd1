"""Shards of one run: computed separately (processes, machines) into one cache, they merge
into the table of the unsharded run, bit for bit.

Bitwise is asserted because a shard runs exactly the chunks the unsharded run would (same
plan, same chunk boundaries, one BLAS thread each): the merged table is a rerun of the same
computation, read back from the cache (tests/test_cache.py shows the cache is bit-exact).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scaling_kit.contributions import compute as compute_module
from scaling_kit.contributions import (
    open_contributions,
    plan_contributions,
    sample_contributions,
)
from scaling_kit.contributions.command import main as command_main
from scaling_kit.contributions.plan import check_shard, shard_chunk_ids
from scaling_kit.exceptions import CacheError
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.mlp import BatchedMLPClassifier

ROOT = Path(__file__).resolve().parents[1]
KW = dict(k=[10, 20, 30], n_samples=3, chunk_size=4, random_state=7, progress=False)
POINTS = [0, 1, 3, 6, 9]


def _chunk_ids(cache):
    return sorted(int(f.stem.split("-")[1]) for f in Path(cache).glob("contributions-*/chunk-*"))


@pytest.fixture(scope="module")
def reference(toy):
    return sample_contributions(ExactLogisticRegression(), toy, POINTS, **KW)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shard_chunk_ids_cover_every_chunk_once(n):
    for n_chunks in (0, 1, 4, 11):
        ids = [i for s in range(n) for i in shard_chunk_ids(n_chunks, (s, n))]
        assert sorted(ids) == list(range(n_chunks))
    assert shard_chunk_ids(7, None) == list(range(7))
    assert shard_chunk_ids(7, (1, 3)) == [1, 4]


@pytest.mark.parametrize("n", [2, 3])
def test_shards_merge_into_the_unsharded_table(toy, reference, tmp_path, n):
    parts = []
    for i in range(n):
        part = sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                                    shard=(i, n), **KW)
        assert part.attrs["shard"] == (i, n)
        written = _chunk_ids(tmp_path)
        assert all(c % n <= i for c in written)  # only the chunks of shards 0..i so far
        parts.append(part)
    # the shards' rows are disjoint and together are the whole table
    together = pd.concat(parts).sort_values(["point", "k", "sample"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(together, reference, check_exact=True, check_dtype=True)
    merged = sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                                  strict=True, **KW)
    pd.testing.assert_frame_equal(merged, reference, check_exact=True)
    store = open_contributions(tmp_path)
    assert store.complete and store.missing_chunks() == []
    pd.testing.assert_frame_equal(store.table(), reference, check_exact=True)


def test_shard_string_form_and_mlp(toy3, tmp_path):
    mlp = BatchedMLPClassifier(hidden=5, n_epochs=10)
    kw = {**KW, "n_samples": 2}
    reference = sample_contributions(mlp, toy3, POINTS, **kw)
    for shard in ("0/2", "1/2"):
        sample_contributions(mlp, toy3, POINTS, cache=tmp_path, shard=shard, **kw)
    merged = sample_contributions(mlp, toy3, POINTS, cache=tmp_path, strict=True, **kw)
    pd.testing.assert_frame_equal(merged, reference, check_exact=True)


def test_missing_shard_is_named_by_merge_plan_and_store(toy, reference, tmp_path, monkeypatch):
    sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path, shard=(0, 3),
                         **KW)
    plan = plan_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                              calibrate=0, **{k: v for k, v in KW.items() if k != "progress"})
    expected = [i for i in range(plan.n_chunks) if i % 3 != 0]
    assert list(plan.missing) == expected
    assert open_contributions(tmp_path).missing_chunks() == expected
    with pytest.raises(CacheError) as info:
        sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                             strict=True, **KW)
    message = str(info.value)
    assert f"{len(expected)} of {plan.n_chunks} chunks are missing" in message
    assert all(f"chunk-{i:06d}.npz" in message for i in expected[:20])
    with pytest.raises(CacheError, match="missing"):
        open_contributions(tmp_path).table()
    # without strict, the merge computes exactly the missing chunks (and nothing else)
    calls = []
    real = compute_module.compute_chunk
    monkeypatch.setattr(compute_module, "compute_chunk",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    full = sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path, **KW)
    assert len(calls) == len(expected)
    pd.testing.assert_frame_equal(full, reference, check_exact=True)


def test_a_shard_reruns_from_the_cache(toy, tmp_path, monkeypatch):
    first = sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                                 shard=(1, 2), **KW)
    calls = []
    real = compute_module.compute_chunk
    monkeypatch.setattr(compute_module, "compute_chunk",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    again = sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                                 shard=(1, 2), **KW)
    assert calls == []
    pd.testing.assert_frame_equal(again, first, check_exact=True)


@pytest.mark.parametrize("shard, error, match", [
    ((2, 2), ValueError, "0..1"),
    ((-1, 2), ValueError, ">= 0"),
    ((0, 0), ValueError, ">= 1"),
    ("1of2", ValueError, "'i/n'"),
    ((0.0, 2), TypeError, "integer"),
    (3, TypeError, "pair"),
    ((0, 1, 2), TypeError, "pair"),
])
def test_bad_shard(shard, error, match):
    with pytest.raises(error, match=match):
        check_shard(shard)


def test_shard_needs_a_cache(toy):
    with pytest.raises(ValueError, match="cache=DIR"):
        sample_contributions(ExactLogisticRegression(), toy, POINTS, shard=(0, 2), **KW)


def _command(*args):
    return [sys.executable, "-m", "scaling_kit.contributions", "--dataset", "wine",
            "--test-size", "50", "--points", "6", "--k", "20,40", "--n-samples", "3",
            "--chunk-size", "5", "--seed", "3", "--quiet", *args]


def test_two_processes_compute_shards_and_the_command_merges(tmp_path, wine):
    """Two shard processes started at once (the command line) fill one cache; the merge
    equals the run computed here in one call."""
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(_command("--cache", str(cache), "--shard", f"{i}/2",
                                       "--calibrate", "0"),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(2)]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err.decode()
        assert b"Contribution plan" in out  # the plan is printed before the work
    out = tmp_path / "merged.pkl"
    assert command_main(_command("--cache", str(cache), "--merge", "--out", str(out))[3:]) == 0
    points = np.sort(np.random.default_rng(3).choice(wine.X_pool.shape[0], 6, replace=False))
    direct = sample_contributions(ExactLogisticRegression(C=1.0), wine, points, k=[20, 40],
                                  n_samples=3, chunk_size=5, random_state=3, progress=False)
    pd.testing.assert_frame_equal(pd.read_pickle(out), direct, check_exact=True)


def test_command_merge_reports_missing_chunks(tmp_path, capsys):
    cache = tmp_path / "cache"
    assert command_main(_command("--cache", str(cache), "--shard", "0/3",
                                 "--calibrate", "0")[3:]) == 0
    assert command_main(_command("--cache", str(cache), "--merge")[3:]) == 1
    assert "chunks are missing" in capsys.readouterr().out
    assert command_main(_command("--shard", "0/3")[3:]) == 2  # no --cache
    assert "--cache" in capsys.readouterr().err


def test_subcommand_hook_for_the_kit_command_line(capsys):
    """The two lines the kit's command line needs: add_parser(sub) and run(args)."""
    import argparse

    from scaling_kit.contributions import command

    parser = argparse.ArgumentParser(prog="scaling-kit")
    sub = parser.add_subparsers(dest="command", required=True)
    command.add_parser(sub)
    args = parser.parse_args(["contributions", *_command("--plan", "--calibrate", "0")[3:]])
    assert args.command == "contributions" and command.run(args) == 0
    out = capsys.readouterr().out
    assert "Contribution plan" in out and "36 contributions (6 points x 2 sizes x 3 samples)" in out
