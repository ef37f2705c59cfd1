"""Reading a cached run lazily (open_contributions) and the chunk file formats (npz, parquet).

The store's table is the sampler's table, bit for bit (the same arrays, read back). Its
streamed summaries are another computation than summarize_contributions (pandas' groupby), so
they agree up to rounding: for a cell of m samples of magnitude at most X, both means are
within a few m * eps * X of the exact mean (sums of m terms), and both variances within a few
m * eps * X^2 (the Chan-Golub-LeVeque merge adds one rounding per merged chunk); the tests use
64 m eps X and 64 m eps X^2.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scaling_kit.contributions import (
    ContributionStore,
    open_contributions,
    sample_contributions,
    summarize_contributions,
)
from scaling_kit.contributions import cache as cache_module
from scaling_kit.exceptions import CacheError
from scaling_kit.learners import ExactLogisticRegression

EPS = np.finfo(float).eps
KW = dict(k=[10, 20, 30], n_samples=6, chunk_size=7, random_state=11, progress=False,
          metric=["log_loss", "brier"])
POINTS = [0, 2, 4, 5, 8, 13]
needs_pyarrow = pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None,
                                   reason="pyarrow (optional) is not installed")


@pytest.fixture(scope="module")
def reference(toy):
    return sample_contributions(ExactLogisticRegression(), toy, POINTS, **KW)


@pytest.fixture
def cached(toy, tmp_path):
    sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path, **KW)
    return tmp_path


def test_store_table_is_the_sampled_table(cached, reference):
    store = open_contributions(cached)
    assert isinstance(store, ContributionStore) and store.complete
    table = store.table()
    pd.testing.assert_frame_equal(table, reference, check_exact=True)
    assert table.attrs == reference.attrs
    assert store.metrics == ["log_loss", "brier"] and store.n_contributions == len(reference)
    np.testing.assert_array_equal(store.points, POINTS)
    some = store.table(points=[4, 13])
    pd.testing.assert_frame_equal(
        some, reference[reference.point.isin([4, 13])].reset_index(drop=True),
        check_exact=True)
    # the run's own folder opens too
    folder = next(Path(cached).glob("contributions-*"))
    pd.testing.assert_frame_equal(open_contributions(folder).table(), reference,
                                  check_exact=True)


@pytest.mark.parametrize("metric, column", [(None, "delta"), ("brier", "delta_brier")])
def test_streamed_summary_matches_pandas(cached, reference, metric, column):
    summary = open_contributions(cached).summarize(metric)
    expected = summarize_contributions(reference, column)
    assert list(summary.index) == list(expected.index)
    assert summary.index.names == ["point", "k"]
    np.testing.assert_array_equal(summary["count"], expected["count"])
    m = expected["count"].to_numpy()
    scale = np.abs(reference[column]).max()
    np.testing.assert_allclose(summary["mean"], expected["mean"], rtol=0,
                               atol=64 * m.max() * EPS * scale)
    np.testing.assert_allclose(summary["std"] ** 2, expected["std"] ** 2, rtol=0,
                               atol=64 * m.max() * EPS * scale ** 2)
    np.testing.assert_allclose(summary["sem"], summary["std"] / np.sqrt(m), rtol=1e-15)


def test_streamed_summary_with_k_range(toy, tmp_path):
    kw = dict(k_range=(10, 25), n_samples=8, chunk_size=5, random_state=2, progress=False)
    table = sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path, **kw)
    summary = open_contributions(tmp_path).summarize()
    expected = summarize_contributions(table)
    assert list(summary.index) == list(expected.index)
    np.testing.assert_array_equal(summary["count"], expected["count"])
    scale = np.abs(table["delta"]).max()
    np.testing.assert_allclose(summary["mean"], expected["mean"], rtol=0,
                               atol=64 * 8 * EPS * scale)


def test_iter_points_yields_each_points_rows(cached, reference):
    seen = []
    for point, rows in open_contributions(cached).iter_points(max_rows=20):  # several passes
        pd.testing.assert_frame_equal(
            rows, reference[reference.point == point].reset_index(drop=True), check_exact=True)
        seen.append(point)
    assert seen == POINTS
    with pytest.raises(ValueError, match="not in this run"):
        next(open_contributions(cached).iter_points([99]))


def test_damaged_chunk_raises_naming_the_file(cached):
    target = sorted(Path(cached).glob("contributions-*/chunk-*.npz"))[1]
    with np.load(target) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["delta_log_loss"] = arrays["delta_log_loss"] * 2
    np.savez(target, **arrays)
    store = open_contributions(cached)
    with pytest.raises(CacheError, match=target.name):
        store.table()
    with pytest.raises(CacheError, match="checksum"):
        store.summarize()


def test_several_runs_need_run(toy, cached, reference):
    sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=cached,
                         **{**KW, "random_state": 12})
    with pytest.raises(ValueError, match="holds 2 runs") as info:
        open_contributions(cached)
    keys = [d.name.removeprefix("contributions-") for d in Path(cached).glob("contributions-*")]
    assert all(key in str(info.value) for key in keys)
    tables = [open_contributions(cached, run=key[:8]).table() for key in keys]
    assert sum(t.equals(reference) for t in tables) == 1
    with pytest.raises(ValueError, match="no cached run"):
        open_contributions(cached, run="zzz")
    with pytest.raises(ValueError, match="not a directory"):
        open_contributions(Path(cached) / "nothing-here")
    with pytest.raises(TypeError, match="cache"):
        open_contributions(3)


def test_record_of_an_older_version_is_explained(cached):
    manifest = next(Path(cached).glob("contributions-*/run.json"))
    record = json.loads(manifest.read_text())
    del record["description"]
    manifest.write_text(json.dumps(record))
    with pytest.raises(CacheError, match="older version"):
        open_contributions(cached)


@needs_pyarrow
def test_parquet_chunks_read_back_bitwise_in_either_format(toy, tmp_path, reference,
                                                           monkeypatch):
    table = sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                                 storage="parquet", **KW)
    pd.testing.assert_frame_equal(table, reference, check_exact=True)
    files = list(Path(tmp_path).glob("contributions-*/chunk-*"))
    assert files and all(f.suffix == ".parquet" for f in files)
    calls = []
    real = cache_module.ChunkCache.save
    monkeypatch.setattr(cache_module.ChunkCache, "save",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    again = sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                                 storage="npz", strict=True, **KW)  # reads the parquet files
    assert calls == []
    pd.testing.assert_frame_equal(again, reference, check_exact=True)
    pd.testing.assert_frame_equal(open_contributions(tmp_path).table(), reference,
                                  check_exact=True)


@needs_pyarrow
def test_damaged_parquet_chunk_is_recomputed(toy, tmp_path, reference):
    sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                         storage="parquet", **KW)
    target = sorted(Path(tmp_path).glob("contributions-*/chunk-*.parquet"))[2]
    target.write_bytes(target.read_bytes()[:100])
    with pytest.warns(cache_module.CacheWarning, match=target.name):
        again = sample_contributions(ExactLogisticRegression(), toy, POINTS, cache=tmp_path,
                                     storage="parquet", **KW)
    pd.testing.assert_frame_equal(again, reference, check_exact=True)


def test_storage_choices(monkeypatch):
    assert cache_module.check_storage("npz") == "npz"
    with pytest.raises(ValueError, match="storage"):
        cache_module.check_storage("hdf5")
    real = importlib.util.find_spec
    monkeypatch.setattr(cache_module.importlib.util, "find_spec",
                        lambda name: None if name == "pyarrow" else real(name))
    assert cache_module.check_storage("auto") == "npz"
    with pytest.raises(ValueError, match="pip install pyarrow"):
        cache_module.check_storage("parquet")


def test_table_bytes_per_contribution(reference):
    """point, k, sample in their compact types (int8, int32, int8 for this small run) and one
    float64 per metric: 6 + 8 * 2 bytes per row, nothing else."""
    per_row = reference.memory_usage(index=True, deep=True).sum() / len(reference)
    assert per_row == pytest.approx(1 + 4 + 1 + 8 * 2, abs=200 / len(reference))
