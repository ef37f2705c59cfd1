"""Datasets: bundled, offline tabular data split into a training pool and a held-out test set.

Every loader returns a :class:`Dataset` whose features are standardized with the mean and
standard deviation of the *pool* (the test set is transformed with the same statistics), and
whose labels are integers ``0..K-1``. The split is stratified and reproducible through
``random_state``.

Offline (bundled with scikit-learn / statsmodels): ``breast_cancer`` (569 rows, binary),
``wine`` (178, 3 classes), ``iris`` (150, 3 classes), ``digits`` (1,797, 10 classes), ``fair``
(statsmodels, 6,366 rows, binary: any extramarital affair). Online with a disk cache:
``miniboone`` (OpenML 41150, 130,065 rows, 50 features, binary; the paper's tabular dataset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .._io import atomic_save_npz
from ..config import cache_dir

__all__ = [
    "Dataset",
    "available_datasets",
    "load_dataset",
    "load_nmt_curves",
    "load_miniboone",
    "make_dataset",
]

OFFLINE_DATASETS = ("breast_cancer", "wine", "iris", "digits", "fair")
ONLINE_DATASETS = ("miniboone",)
MINIBOONE_OPENML_ID = 41150


@dataclass
class Dataset:
    """A classification dataset split into a training pool and a held-out test set.

    Attributes
    ----------
    X_pool, y_pool : the pool from which datasets D and points z are drawn.
    X_test, y_test : the held-out test set on which losses are measured.
    classes : original class labels; ``y`` holds their indices ``0..K-1``.
    """

    name: str
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list = field(default_factory=list)
    classes: np.ndarray = field(default_factory=lambda: np.array([]))
    description: str = ""

    @property
    def n_classes(self) -> int:
        return int(len(self.classes))

    @property
    def n_features(self) -> int:
        return int(self.X_pool.shape[1])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: pool {self.X_pool.shape[0]} x {self.n_features}, "
            f"test {self.X_test.shape[0]}, {self.n_classes} classes)"
        )


def available_datasets() -> tuple:
    """Names accepted by :func:`load_dataset` (offline ones first)."""
    return OFFLINE_DATASETS + ONLINE_DATASETS


def make_dataset(
    X,
    y,
    *,
    name: str = "custom",
    test_size=None,
    max_pool: int | None = None,
    random_state=0,
    feature_names=None,
    description: str = "",
) -> Dataset:
    """Split arrays into a standardized pool and test set (stratified, reproducible).

    ``test_size``: an int (rows) or a fraction; default ``min(1000, 25% of rows)`` (the paper
    uses 1,000 test points). ``max_pool`` optionally subsamples the pool (stratified).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-D with {X.shape[0]} entries; got shape {y.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite values; impute or drop them first.")
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("Need at least two classes for classification.")
    n = X.shape[0]
    if test_size is None:
        test_size = min(1000, int(round(0.25 * n)))
    rng = np.random.RandomState(np.random.SeedSequence(_seed_int(random_state)).generate_state(1))
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y_idx, test_size=test_size, stratify=y_idx, random_state=rng
    )
    if max_pool is not None and max_pool < X_pool.shape[0]:
        X_pool, _, y_pool, _ = train_test_split(
            X_pool, y_pool, train_size=int(max_pool), stratify=y_pool, random_state=rng
        )
    mean = X_pool.mean(axis=0)
    std = X_pool.std(axis=0)
    std[std == 0] = 1.0
    return Dataset(
        name=name,
        X_pool=(X_pool - mean) / std,
        y_pool=y_pool.astype(np.int64),
        X_test=(X_test - mean) / std,
        y_test=y_test.astype(np.int64),
        feature_names=list(feature_names) if feature_names is not None else [],
        classes=classes,
        description=description,
    )


def _seed_int(random_state) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**32))
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    raise TypeError("random_state must be an int or None for dataset splits.")


def load_dataset(
    name: str, *, test_size=None, max_pool: int | None = None, random_state=0, data_home=None
) -> Dataset:
    """Load a dataset by name (see :func:`available_datasets`), split and standardized."""
    key = str(name).lower().replace("-", "_")
    if key == "breast_cancer":
        from sklearn.datasets import load_breast_cancer as loader
    elif key == "wine":
        from sklearn.datasets import load_wine as loader
    elif key == "iris":
        from sklearn.datasets import load_iris as loader
    elif key == "digits":
        from sklearn.datasets import load_digits as loader
    elif key == "fair":
        X, y, names = _load_fair()
        return make_dataset(
            X, y, name="fair", test_size=test_size, max_pool=max_pool,
            random_state=random_state, feature_names=names,
            description="statsmodels 'fair' (Fair 1978): any extramarital affair.",
        )
    elif key == "miniboone":
        X, y = load_miniboone(data_home=data_home)
        return make_dataset(
            X, y, name="miniboone", test_size=test_size, max_pool=max_pool,
            random_state=random_state,
            description="MiniBooNE particle identification (OpenML 41150).",
        )
    else:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {available_datasets()}.")
    bunch = loader()
    return make_dataset(
        bunch.data, bunch.target, name=key, test_size=test_size, max_pool=max_pool,
        random_state=random_state, feature_names=getattr(bunch, "feature_names", None),
        description=f"scikit-learn's {key} dataset.",
    )


def _load_fair():
    from statsmodels.datasets import fair

    df = fair.load_pandas().data
    y = (df["affairs"] > 0).astype(int).to_numpy()
    X = df.drop(columns=["affairs"])
    return X.to_numpy(dtype=float), y, list(X.columns)


def load_nmt_curves() -> pd.DataFrame:
    """Real NMT learning curves (Alabdulmohsin et al., NeurIPS 2022; Apache-2.0).

    Columns: ``model``, ``examples`` (training examples seen), ``loss`` (validation
    log-perplexity), ``training`` (True for <= 256M, False for the held-out 512M target).
    See ``scaling_kit/datasets/ATTRIBUTION.md``.
    """
    with resources.files(__package__).joinpath("nmt_learning_curves.csv").open("r") as fh:
        raw = pd.read_csv(fh)
    return pd.DataFrame(
        {
            "model": raw["Model"].astype(str),
            "examples": raw["Seen Examples"].astype(float),
            "loss": raw["Loss"].astype(float),
            "training": raw["Training"].astype(int) == 1,
        }
    )


def load_miniboone(data_home=None, *, fetcher=None):
    """MiniBooNE (OpenML id 41150) as ``(X, y)``, cached to ``<cache>/miniboone.npz``.

    The first call downloads through :func:`sklearn.datasets.fetch_openml` and writes the cache
    atomically; later calls (and offline machines with the cache) read the file. Offline
    without a cache, a :class:`RuntimeError` explains how to get the file. ``fetcher`` is the
    download function (for tests); it must return ``(X, y)``.
    """
    path = cache_dir(data_home) / "miniboone.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            return data["X"], data["y"]
    fetcher = fetcher or _fetch_miniboone_openml
    try:
        X, y = fetcher(path.parent)
    except (OSError, ConnectionError, TimeoutError) as exc:  # URLError is an OSError
        raise RuntimeError(
            "Could not download MiniBooNE from OpenML (are you offline?). Either connect and "
            "retry, or place a file 'miniboone.npz' with arrays X (n, 50) and y (n,) in "
            f"{path.parent} (set SCALING_KIT_CACHE to use another directory). Offline, use a "
            "bundled stand-in: load_dataset('fair') or load_dataset('digits')."
        ) from exc
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"Downloaded MiniBooNE has unexpected shapes X {X.shape}, y {y.shape}.")
    atomic_save_npz(path, {"X": X, "y": y}, compressed=True)
    return X, y


def _fetch_miniboone_openml(data_home):
    from sklearn.datasets import fetch_openml

    bunch = fetch_openml(data_id=MINIBOONE_OPENML_ID, data_home=str(data_home), as_frame=False)
    y = np.asarray(bunch.target)
    if y.dtype.kind not in "iub":
        y = np.unique(y, return_inverse=True)[1]
    return bunch.data, y.astype(np.int64)
