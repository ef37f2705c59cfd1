"""Shared fixtures: small, fast classification problems for the core tests."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from scaling_kit.datasets import load_dataset
from scaling_kit.learners import ExactLogisticRegression

# One BLAS thread: the tests use small matrices, and on a shared 2-core machine multithreaded
# OpenBLAS is oversubscribed (a 650 x 650 Cholesky then takes ~100x longer).
threadpool_limits(1)


@dataclass
class Problem:
    """A pool / test split with integer labels 0..K-1 (what the samplers consume)."""

    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.y_pool.max() + 1)


def _from_dataset(ds) -> Problem:
    return Problem(ds.X_pool, ds.y_pool, ds.X_test, ds.y_test)


def with_outlier(problem: Problem, scale: float = 25.0, seed: int = 0) -> tuple[Problem, int]:
    """Append a high-leverage point far from the data with a wrong label.

    Returns the new problem and the pool index of the outlier. Its label is the class that a
    logistic regression fit on the pool finds least likely there, so it contradicts the model
    (large loss, large leverage: the hard case for the chord/Anderson iterations).
    """
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(problem.X_pool.shape[1])
    x = scale * direction / np.linalg.norm(direction) * np.sqrt(problem.X_pool.shape[1])
    model = ExactLogisticRegression().fit(problem.X_pool, problem.y_pool)
    label = int(np.argmin(model.predict_proba(x[None])[0]))
    X_pool = np.vstack([problem.X_pool, x])
    y_pool = np.append(problem.y_pool, label)
    return Problem(X_pool, y_pool, problem.X_test, problem.y_test), X_pool.shape[0] - 1


def make_toy(n_pool=40, n_test=200, n_features=4, n_classes=2, seed=0, noise=1.0) -> Problem:
    """Gaussian classes with shifted means: a tiny problem on which fits take microseconds."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((n_classes, n_features)) * 1.5

    def draw(n):
        y = np.arange(n) % n_classes
        rng.shuffle(y)
        return means[y] + noise * rng.standard_normal((n, n_features)), y.astype(np.int64)

    X_pool, y_pool = draw(n_pool)
    X_test, y_test = draw(n_test)
    return Problem(X_pool, y_pool, X_test, y_test)


@pytest.fixture(scope="session")
def breast_cancer():
    """Binary: 120-point pool, 100 test points, 30 standardized features."""
    return _from_dataset(load_dataset("breast_cancer", test_size=100, max_pool=120, random_state=0))


@pytest.fixture(scope="session")
def wine():
    """3 classes: 128-point pool, 50 test points, 13 features."""
    return _from_dataset(load_dataset("wine", test_size=50, random_state=0))


@pytest.fixture(scope="session")
def digits_small():
    """10 classes: 150-point pool, 100 test points, 64 features (some constant)."""
    return _from_dataset(load_dataset("digits", test_size=100, max_pool=150, random_state=0))


@pytest.fixture(scope="session")
def toy():
    """A tiny binary problem (40-point pool, 4 features)."""
    return make_toy()


@pytest.fixture(scope="session")
def toy3():
    """A tiny 3-class problem (45-point pool, 3 features)."""
    return make_toy(n_pool=45, n_test=150, n_features=3, n_classes=3, seed=1)


@pytest.fixture(scope="session")
def make_problem():
    """Factory for tiny Gaussian problems: ``make_problem(n_pool=..., seed=...)``."""
    return make_toy


@pytest.fixture(scope="session")
def add_outlier():
    """``add_outlier(problem, scale, seed) -> (problem, index)``: see :func:`with_outlier`."""
    return with_outlier


def names_argument(message: str, name: str) -> bool:
    """Whether an error message names the argument ``name`` as a whole word."""
    return re.search(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])", message) is not None


def check_bad_input(call, error, name):
    """``call()`` raises ``error`` (or a subclass) whose message names the argument ``name``
    (the bad-input catalogues; docs/api.md, "Errors and warnings")."""
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error or issubclass(type(info.value), error)
    assert names_argument(str(info.value), name), (name, str(info.value))
