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

import numbers
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .._checks import check_array, check_int, check_number, seed_sequence
from .._io import atomic_save_npz, hash_arrays
from ..config import cache_dir
from ..exceptions import CacheWarning

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
MINIBOONE_FEATURES = 50


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
    random_state=None,
    feature_names=None,
    description: str = "",
) -> Dataset:
    """Split arrays into a standardized pool and test set (stratified, reproducible).

    ``test_size``: an int (rows) or a fraction in (0, 1); default ``min(1000, 25% of rows)``
    (the paper uses 1,000 test points). ``max_pool`` optionally subsamples the pool
    (stratified). ``random_state`` as numpy's ``default_rng`` accepts it (docs/api.md); pass
    an int for a reproducible split. Features are standardized with the pool's mean and
    standard deviation (constant columns are left at zero).
    """
    X = check_array(X, "X")
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-D with {X.shape[0]} entries (one per row of X); got "
                         f"shape {y.shape}.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinite labels; drop those rows first (a NaN "
                         "label would otherwise become a class of its own).")
    if y.dtype.kind == "O" and any(v is None or (isinstance(v, float) and not np.isfinite(v))
                                   for v in y):
        raise ValueError("y contains missing labels (None/NaN); drop those rows first.")
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y must contain at least two classes for classification; got "
                         f"{classes.tolist()}.")
    n = X.shape[0]
    n_classes = len(classes)
    if test_size is None:
        test_size = min(1000, int(round(0.25 * n)))
    elif isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        test_size = check_int(test_size, "test_size", low=n_classes, high=n - n_classes)
    else:
        test_size = check_number(test_size, "test_size", low=0.0, high=1.0, low_open=True,
                                 high_open=True)
    if max_pool is not None:
        max_pool = check_int(max_pool, "max_pool", low=n_classes)
    seq = seed_sequence(random_state)
    rng = np.random.RandomState(seq.generate_state(1))
    try:
        X_pool, X_test, y_pool, y_test = train_test_split(
            X, y_idx, test_size=test_size, stratify=y_idx, random_state=rng
        )
    except ValueError as err:  # e.g. a class with one member cannot be stratified
        raise ValueError(f"Cannot split {name!r} stratified with test_size={test_size!r}: "
                         f"{err} Use another test_size or drop rare classes.") from err
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


def load_dataset(
    name: str, *, test_size=None, max_pool: int | None = None, random_state=None, data_home=None
) -> Dataset:
    """Load a dataset by name (see :func:`available_datasets`), split and standardized
    (:func:`make_dataset`: ``test_size``, ``max_pool``, ``random_state``)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a dataset name (str) among {available_datasets()}; got "
                        f"{name!r}.")
    key = name.lower().replace("-", "_")
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
        raise ValueError(f"name: unknown dataset {name!r}; choose one of {available_datasets()}.")
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


def _miniboone_problem(arrays: dict):
    """Why cached MiniBooNE arrays cannot be used (None if they can)."""
    if set(arrays) - {"X", "y", "sha256"} or not {"X", "y"} <= set(arrays):
        return f"holds arrays {sorted(arrays)}, expected X, y (and sha256)"
    X, y = arrays["X"], arrays["y"]
    if X.ndim != 2 or X.shape[1] != MINIBOONE_FEATURES or X.dtype.kind != "f":
        return (f"has X of shape {X.shape} and dtype {X.dtype}; expected "
                f"(n, {MINIBOONE_FEATURES}) floats")
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iub":
        return f"has y of shape {y.shape} and dtype {y.dtype}; expected ({X.shape[0]},) integers"
    if not np.all(np.isfinite(X)):
        return "has NaN or infinite features"
    if not set(np.unique(y).tolist()) == {0, 1}:
        return f"has labels {np.unique(y).tolist()[:5]}; expected both classes 0 and 1"
    if "sha256" in arrays and str(arrays["sha256"]) != hash_arrays({"X": X, "y": y}):
        return "fails its checksum (damaged or edited)"
    return None


def _read_miniboone(path):
    """``(X, y)`` from the cache file, or ``(None, reason)`` if it is damaged or foreign."""
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        return None, f"is unreadable ({type(err).__name__}: {err})"
    reason = _miniboone_problem(arrays)
    if reason is not None:
        return None, reason
    return (arrays["X"], arrays["y"].astype(np.int64)), None


def load_miniboone(data_home=None, *, fetcher=None):
    """MiniBooNE (OpenML id 41150) as ``(X, y)``, cached to ``<cache>/miniboone.npz``.

    The first call downloads through :func:`sklearn.datasets.fetch_openml` and writes the cache
    atomically with a SHA-256 checksum; later calls (and offline machines with the cache) read
    the file and verify it (readable, X of shape (n, 50) finite floats, y of n labels 0/1,
    checksum when present). A damaged or foreign file is downloaded again with a
    :class:`~scaling_kit.exceptions.CacheWarning`; offline, a :class:`RuntimeError` names the
    file and the remedy. ``fetcher`` is the download function (for tests); it must return
    ``(X, y)``.
    """
    path = cache_dir(data_home) / "miniboone.npz"
    damage = None
    if path.is_file():
        loaded, damage = _read_miniboone(path)
        if loaded is not None:
            return loaded
        warnings.warn(f"Cached MiniBooNE file {path} {damage}; downloading it again.",
                      CacheWarning, stacklevel=2)
    fetcher = fetcher or _fetch_miniboone_openml
    try:
        X, y = fetcher(path.parent)
    except (OSError, ConnectionError, TimeoutError) as exc:  # URLError is an OSError
        if damage is not None:
            raise RuntimeError(
                f"The cached MiniBooNE file {path} {damage}, and downloading it again failed "
                f"({exc}). Delete the file and retry online, or replace it with a file "
                "'miniboone.npz' holding arrays X (n, 50) and y (n,) with labels 0/1."
            ) from exc
        raise RuntimeError(
            "Could not download MiniBooNE from OpenML (are you offline?). Either connect and "
            "retry, or place a file 'miniboone.npz' with arrays X (n, 50) and y (n,) in "
            f"{path.parent} (set SCALING_KIT_CACHE to use another directory). Offline, use a "
            "bundled stand-in: load_dataset('fair') or load_dataset('digits')."
        ) from exc
    arrays = {"X": np.asarray(X, dtype=float), "y": np.asarray(y)}
    reason = _miniboone_problem(arrays)
    if reason is not None:
        raise ValueError(f"Downloaded MiniBooNE {reason}; not cached. Retry later, or report "
                         "the change of the OpenML dataset.")
    arrays["y"] = arrays["y"].astype(np.int64)
    arrays["sha256"] = np.array(hash_arrays(arrays))
    atomic_save_npz(path, arrays, compressed=True)
    return arrays["X"], arrays["y"]


def _fetch_miniboone_openml(data_home):
    from sklearn.datasets import fetch_openml

    bunch = fetch_openml(data_id=MINIBOONE_OPENML_ID, data_home=str(data_home), as_frame=False)
    y = np.asarray(bunch.target)
    if y.dtype.kind not in "iub":
        y = np.unique(y, return_inverse=True)[1]
    return bunch.data, y.astype(np.int64)
