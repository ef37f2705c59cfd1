"""Input checks shared by every public entry point (one rule set, one wording).

Each ``check_*`` function validates one argument and returns it in canonical form, or raises
``ValueError`` (a bad value) / ``TypeError`` (a wrong type) whose message names the argument,
shows what was given and says what to do. See ``docs/api.md`` for the conventions.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Problem",
    "as_problem",
    "check_array",
    "check_bool",
    "check_indices",
    "check_int",
    "check_labels",
    "check_number",
    "check_random_state",
    "check_size_range",
    "check_sizes",
    "seed_sequence",
    "spawn_seeds",
]


# ------------------------------------------------------------------------------------------
# scalars
# ------------------------------------------------------------------------------------------
def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as a Python int in ``[low, high]``; floats such as ``3.0`` are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__}).")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value}.")
    return value


def check_number(value, name: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in the given (closed unless ``*_open``) interval."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}; got {value!r}.")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}; got {value!r}.")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` as a bool; only ``True``/``False`` (and numpy bools) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__}).")
    return bool(value)


# ------------------------------------------------------------------------------------------
# randomness: accepted the way numpy.random.default_rng accepts it
# ------------------------------------------------------------------------------------------
def seed_sequence(random_state, name: str = "random_state") -> np.random.SeedSequence:
    """A :class:`numpy.random.SeedSequence` from ``random_state``.

    Accepted: ``None`` (fresh entropy from the operating system), a non-negative int, a
    ``SeedSequence`` (used as is) or a ``Generator`` (a child of the sequence it was seeded
    with, so two calls with one Generator give two different streams, as drawing would).
    """
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        seq = getattr(random_state.bit_generator, "seed_seq", None)
        if isinstance(seq, np.random.SeedSequence):
            return seq.spawn(1)[0]
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, numbers.Integral):
        raise TypeError(
            f"{name} must be None, a non-negative int, a numpy SeedSequence or a numpy Generator "
            f"(as numpy.random.default_rng accepts); got {random_state!r} "
            f"({type(random_state).__name__})."
        )
    if random_state < 0:
        raise ValueError(f"{name} must be a non-negative int; got {random_state}.")
    return np.random.SeedSequence(int(random_state))


def check_random_state(random_state, name: str = "random_state") -> np.random.Generator:
    """A :class:`numpy.random.Generator` from ``random_state`` (see :func:`seed_sequence`).

    A ``Generator`` is returned as is, so the caller's stream advances, as in numpy.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(seed_sequence(random_state, name))


def spawn_seeds(random_state, n: int, name: str = "random_state") -> list:
    """``n`` independent child ``SeedSequence``s of ``random_state`` (``SeedSequence.spawn``).

    Children of one parent never share streams, unlike ``seed + 1, seed + 2, ...``, whose
    streams overlap with those of the neighbouring seeds.
    """
    return seed_sequence(random_state, name).spawn(check_int(n, "n", low=0))


# ------------------------------------------------------------------------------------------
# arrays
# ------------------------------------------------------------------------------------------
def check_array(X, name: str, *, ndim: int = 2, allow_empty: bool = False) -> np.ndarray:
    """``X`` as a finite float array with ``ndim`` dimensions."""
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array; could not convert it ({err}).") from None
    if X.ndim != ndim:
        shape = " (n_samples, n_features)" if ndim == 2 else ""
        raise ValueError(f"{name} must be {ndim}-D{shape}; got shape {X.shape}.")
    if not allow_empty and X.size == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); pass at least one row.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values; impute or drop them first.")
    return X


def check_labels(y, name: str, n: int | None = None) -> np.ndarray:
    """Integer class labels ``0..K-1`` as int64; floats must be whole numbers."""
    y = np.asarray(y)
    if y.ndim != 1 or (n is not None and y.shape[0] != n):
        want = f"{n} labels" if n is not None else "labels"
        raise ValueError(f"{name} must be 1-D with {want}; got shape {y.shape}.")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or infinite labels; drop those rows first.")
        if np.any(y != np.round(y)):
            raise ValueError(f"{name} must hold integer class labels 0..K-1; found fractions.")
        y = y.astype(np.int64)
    if y.dtype.kind == "b" or y.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer class labels 0..K-1; encode them first, e.g. with "
            "np.unique(y, return_inverse=True)."
        )
    if y.size and y.min() < 0:
        raise ValueError(f"{name} has negative labels; use 0..K-1.")
    return y.astype(np.int64)


def check_sizes(k, name: str = "k", *, low: int = 1, high: int | None = None,
                unique: bool = True, sort: bool = False) -> np.ndarray:
    """Dataset sizes: a positive int or a 1-D sequence of them, as an int64 array.

    ``unique`` refuses repeats; ``sort`` returns them increasing; ``high`` is an upper bound
    (e.g. the pool size) named in the message.
    """
    arr = np.atleast_1d(np.asarray(k))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a positive integer or a non-empty 1-D sequence; got {k!r}.")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integers; got {k!r}.")
    if arr.dtype.kind == "f" and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        raise ValueError(f"{name} must hold whole numbers; got {arr.tolist()}.")
    arr = arr.astype(np.int64)
    if np.any(arr < low):
        raise ValueError(f"{name} must be >= {low}; got {arr.tolist()}.")
    if high is not None and np.any(arr > high):
        raise ValueError(f"{name} must be <= {high}; got {arr.tolist()}.")
    if unique and np.unique(arr).size != arr.size:
        raise ValueError(f"{name} must not repeat; got {arr.tolist()}.")
    return np.sort(arr) if sort else arr


def check_size_range(value, name: str = "k_range", *, low: int = 1,
                     high: int | None = None) -> tuple:
    """A pair ``(k_min, k_max)`` of integers with ``low <= k_min <= k_max (<= high)``.

    Whole floats such as ``20.0`` are accepted; fractions (``20.5``), NaN, inf and bools are
    refused (they are not silently rounded).
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) \
            or len(value) != 2:
        raise TypeError(f"{name} must be a pair (k_min, k_max) of integers; got {value!r}.")
    pair = []
    for v in value:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must hold two integers; got {value!r}.")
        if not np.isfinite(v) or v != int(v):
            raise ValueError(f"{name} must hold two whole numbers; got {value!r}.")
        pair.append(int(v))
    lo, hi = pair
    if not low <= lo <= hi:
        raise ValueError(f"{name} must satisfy {low} <= k_min <= k_max; got {value!r}.")
    if high is not None and hi > high:
        raise ValueError(f"{name} must have k_max <= {high}; got {value!r}.")
    return lo, hi


def check_indices(idx, name: str, n: int, *, unique: bool = True) -> np.ndarray:
    """A non-empty 1-D array of integer indices into a collection of ``n`` items (int64)."""
    arr = np.atleast_1d(np.asarray(idx))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of indices; got shape "
                         f"{arr.shape}.")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer indices (0..{n - 1}); got dtype {arr.dtype}.")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"{name} must index 0..{n - 1}; got values in [{arr.min()}, "
                         f"{arr.max()}].")
    if unique and np.unique(arr).size != arr.size:
        raise ValueError(f"{name} must not repeat; drop the duplicates (np.unique).")
    return arr.astype(np.int64)


# ------------------------------------------------------------------------------------------
# a learning problem: pool + test set
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """A validated pool and test set (what ``data`` arguments are turned into)."""

    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str = "data"


def as_problem(data, name: str = "data") -> Problem:
    """Validate ``data``: a :class:`scaling_kit.datasets.Dataset` or a tuple
    ``(X_pool, y_pool, X_test, y_test)`` with integer labels 0..K-1."""
    if hasattr(data, "X_pool") and hasattr(data, "y_test"):
        arrays = (data.X_pool, data.y_pool, data.X_test, data.y_test)
        label = getattr(data, "name", name)
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)) and len(data) == 4:
        arrays, label = tuple(data), name
    else:
        raise TypeError(
            f"{name} must be a scaling_kit.datasets.Dataset (see load_dataset) or a tuple "
            f"(X_pool, y_pool, X_test, y_test); got {type(data).__name__}."
        )
    X_pool = check_array(arrays[0], "X_pool")
    y_pool = check_labels(arrays[1], "y_pool", X_pool.shape[0])
    X_test = check_array(arrays[2], "X_test")
    y_test = check_labels(arrays[3], "y_test", X_test.shape[0])
    if X_test.shape[1] != X_pool.shape[1]:
        raise ValueError(f"X_test has {X_test.shape[1]} features but X_pool has {X_pool.shape[1]}.")
    seen = np.unique(y_pool)
    n_classes = int(seen.max() + 1)
    if seen.size != n_classes:
        missing = np.setdiff1d(np.arange(n_classes), seen).tolist()
        raise ValueError(
            f"y_pool must use labels 0..K-1 with every class present; classes {missing} never "
            "occur. Encode labels with np.unique(y, return_inverse=True)."
        )
    if n_classes < 2:
        raise ValueError("y_pool has a single class; contributions need at least two.")
    unseen = np.setdiff1d(np.unique(y_test), seen)
    if unseen.size:
        raise ValueError(
            f"y_test has labels {unseen.tolist()} that never occur in y_pool; a model cannot "
            "predict them. Drop those test points or re-split stratified."
        )
    return Problem(X_pool, y_pool, X_test, y_test, n_classes, str(label))
