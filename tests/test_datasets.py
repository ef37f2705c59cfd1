"""Offline datasets, the NMT learning curves and the cached MiniBooNE loader (no network)."""

from __future__ import annotations

from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

import scaling_kit.datasets as datasets
from scaling_kit.datasets import (
    available_datasets,
    load_dataset,
    load_miniboone,
    load_nmt_curves,
    make_dataset,
)
from scaling_kit.exceptions import CacheWarning

OFFLINE = {  # name: (rows, features, classes)
    "breast_cancer": (569, 30, 2),
    "wine": (178, 13, 3),
    "iris": (150, 4, 3),
    "digits": (1797, 64, 10),
    "fair": (6366, 8, 2),
}


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any attempt to reach OpenML fails loudly instead of downloading."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to download from OpenML")

    monkeypatch.setattr(datasets, "_fetch_miniboone_openml", refuse)


@pytest.mark.parametrize("name", list(OFFLINE))
def test_offline_dataset_loads_standardized_and_stratified(name):
    rows, features, n_classes = OFFLINE[name]
    ds = load_dataset(name, random_state=0)
    n_test = min(1000, round(0.25 * rows))
    assert ds.X_pool.shape == (rows - n_test, features)
    assert ds.X_test.shape == (n_test, features)
    assert ds.n_classes == n_classes and ds.n_features == features
    assert ds.y_pool.dtype == np.int64 and set(np.unique(ds.y_pool)) == set(range(n_classes))
    # standardized with the pool's statistics (constant columns are left at zero)
    np.testing.assert_allclose(ds.X_pool.mean(axis=0), 0.0, atol=1e-10)
    std = ds.X_pool.std(axis=0)
    assert np.all((np.abs(std - 1.0) < 1e-10) | (std == 0.0))
    assert np.all(np.isfinite(ds.X_test))
    # stratified: class shares of pool and test agree up to one point of rounding
    share_pool = np.bincount(ds.y_pool, minlength=n_classes) / ds.y_pool.size
    count_test = np.bincount(ds.y_test, minlength=n_classes)
    assert np.all(np.abs(count_test - share_pool * n_test) <= 1.0)


def test_test_set_uses_pool_statistics():
    # column 0 holds the row id 0..199: if pool and test are standardized with the same mean
    # and std, their values together are an affine image of 0..199 (equal spacing)
    rng = np.random.default_rng(0)
    X = np.column_stack([np.arange(200.0), rng.normal(5.0, 3.0, size=200)])
    ds = make_dataset(X, np.arange(200) % 2, test_size=50, random_state=0)
    values = np.sort(np.concatenate([ds.X_pool[:, 0], ds.X_test[:, 0]]))
    spacing = np.diff(values)
    np.testing.assert_allclose(spacing, spacing[0], rtol=1e-9)
    ids = np.rint((ds.X_pool[:, 0] - values[0]) / spacing[0]).astype(int)
    np.testing.assert_allclose(values[0], -ids.mean() / ids.std(), rtol=1e-9)
    assert np.mean(ds.X_test[:, 1]) != pytest.approx(0.0, abs=1e-9)  # not re-centred


def test_split_reproducible_and_seed_dependent():
    a = load_dataset("wine", random_state=3)
    b = load_dataset("wine", random_state=3)
    c = load_dataset("wine", random_state=4)
    np.testing.assert_array_equal(a.X_pool, b.X_pool)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_pool.shape == c.X_pool.shape
    assert not np.allclose(a.X_pool, c.X_pool)


def test_test_size_and_max_pool():
    ds = load_dataset("breast_cancer", test_size=100, max_pool=120, random_state=0)
    assert ds.X_test.shape[0] == 100 and ds.X_pool.shape[0] == 120
    np.testing.assert_allclose(ds.X_pool.mean(axis=0), 0.0, atol=1e-10)  # after subsampling
    frac = load_dataset("iris", test_size=0.2, random_state=0)
    assert frac.X_test.shape[0] == 30
    # the subsample is stratified
    share = np.bincount(ds.y_pool) / 120
    full = load_dataset("breast_cancer", test_size=100, random_state=0)
    np.testing.assert_allclose(share, np.bincount(full.y_pool) / full.y_pool.size, atol=1 / 120)


def test_original_labels_recorded():
    ds = make_dataset(np.arange(40.0).reshape(20, 2), np.array(["b", "a"] * 10), test_size=4,
                      random_state=0)
    np.testing.assert_array_equal(ds.classes, ["a", "b"])
    assert set(np.unique(ds.y_pool)) == {0, 1}
    assert "2 classes" in repr(ds)


def test_available_datasets():
    assert available_datasets()[:5] == tuple(OFFLINE)


def test_nmt_curves():
    df = load_nmt_curves()
    assert list(df.columns) == ["model", "examples", "loss", "training"]
    assert df["model"].nunique() == 5
    held = df[~df["training"]]
    assert len(held) == 5 and set(held["model"]) == set(df["model"])
    assert np.all(held["examples"] == 512e6)
    assert df.loc[df["training"], "examples"].max() <= 256e6
    for _, curve in df.groupby("model"):
        curve = curve.sort_values("examples")
        loss = curve["loss"].to_numpy()
        assert len(loss) >= 10 and loss[0] > 2 * loss[-1]  # real curves: loss falls with data
    assert np.all(df["loss"] > 0)


# ------------------------------------------------------------------------------------------
# MiniBooNE: cache, offline errors, atomic writes
# ------------------------------------------------------------------------------------------
def _small_arrays(n=60, p=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, p)), (np.arange(n) % 2).astype(np.int64)


def _leftovers(directory):
    return [f.name for f in directory.iterdir() if f.name != "miniboone.npz"]


def test_miniboone_reads_cache_without_network(tmp_path):
    X, y = _small_arrays()
    np.savez(tmp_path / "miniboone.npz", X=X, y=y)

    def offline(_):
        raise URLError("no network")

    X2, y2 = load_miniboone(data_home=tmp_path, fetcher=offline)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    ds = load_dataset("miniboone", data_home=tmp_path, test_size=20, random_state=0)
    assert ds.X_pool.shape == (40, 50) and ds.n_classes == 2


@pytest.mark.parametrize("error", [OSError("disk"), URLError("offline"), ConnectionError("x")])
def test_miniboone_offline_without_cache_explains(tmp_path, error):
    def offline(_):
        raise error

    with pytest.raises(RuntimeError, match="miniboone.npz") as info:
        load_miniboone(data_home=tmp_path, fetcher=offline)
    message = str(info.value)
    assert str(tmp_path) in message and "SCALING_KIT_CACHE" in message
    assert "load_dataset('fair')" in message
    assert not (tmp_path / "miniboone.npz").exists()
    assert _leftovers(tmp_path) == []


def test_miniboone_writes_cache_atomically_once(tmp_path):
    calls = []

    def fake(directory):
        calls.append(directory)
        return _small_arrays()

    X, y = load_miniboone(data_home=tmp_path, fetcher=fake)
    assert len(calls) == 1 and calls[0] == tmp_path
    assert (tmp_path / "miniboone.npz").is_file()
    assert _leftovers(tmp_path) == []

    def refuse(_):
        raise AssertionError("fetcher called although the cache exists")

    X2, y2 = load_miniboone(data_home=tmp_path, fetcher=refuse)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_miniboone_cache_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_KIT_CACHE", str(tmp_path))
    X, y = load_miniboone(fetcher=lambda _: _small_arrays(seed=1))
    assert (tmp_path / "miniboone.npz").is_file()
    np.testing.assert_array_equal(load_miniboone()[0], X)  # default fetcher never called


def test_miniboone_rejects_bad_download(tmp_path):
    with pytest.raises(ValueError, match=r"X of shape \(5, 3\).*not cached"):
        load_miniboone(data_home=tmp_path, fetcher=lambda _: (np.zeros((5, 3)), np.zeros(4)))
    assert not (tmp_path / "miniboone.npz").exists()
    assert _leftovers(tmp_path) == []


def _damage_miniboone(path, kind):
    X, y = _small_arrays()
    if kind == "pickled":
        np.save(str(path) + ".npy", np.array([{"X": 1}], dtype=object))
        path.write_bytes(Path(str(path) + ".npy").read_bytes())
        Path(str(path) + ".npy").unlink()
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "wrong shape":
        np.savez(path, X=X[:, :49], y=y)
    elif kind == "labels":
        np.savez(path, X=X, y=y + 3)
    elif kind == "edited":  # a kit-written file whose X changed after the checksum
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        arrays["X"] = arrays["X"] * 2
        np.savez(path, **arrays)


MINIBOONE_DAMAGE = ["pickled", "truncated", "wrong shape", "labels", "edited"]


@pytest.mark.parametrize("kind", MINIBOONE_DAMAGE)
def test_damaged_miniboone_cache_is_downloaded_again(tmp_path, kind):
    load_miniboone(data_home=tmp_path, fetcher=lambda _: _small_arrays(seed=0))
    path = tmp_path / "miniboone.npz"
    _damage_miniboone(path, kind)
    with pytest.warns(CacheWarning, match="miniboone.npz"):
        X, y = load_miniboone(data_home=tmp_path, fetcher=lambda _: _small_arrays(seed=2))
    np.testing.assert_array_equal(X, _small_arrays(seed=2)[0])
    X2, _ = load_miniboone(data_home=tmp_path, fetcher=lambda _: 1 / 0)  # now intact
    np.testing.assert_array_equal(X2, X)


@pytest.mark.parametrize("kind", MINIBOONE_DAMAGE)
def test_damaged_miniboone_cache_offline_names_file_and_remedy(tmp_path, kind):
    load_miniboone(data_home=tmp_path, fetcher=lambda _: _small_arrays())
    path = tmp_path / "miniboone.npz"
    _damage_miniboone(path, kind)

    def offline(_):
        raise URLError("offline")

    with pytest.warns(CacheWarning), pytest.raises(RuntimeError) as info:
        load_miniboone(data_home=tmp_path, fetcher=offline)
    assert str(path) in str(info.value) and "Delete the file" in str(info.value)


def test_miniboone_cache_carries_a_checksum(tmp_path):
    load_miniboone(data_home=tmp_path, fetcher=lambda _: _small_arrays())
    with np.load(tmp_path / "miniboone.npz") as data:
        assert {"X", "y", "sha256"} == set(data.files) and len(str(data["sha256"])) == 64
