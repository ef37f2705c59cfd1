"""Learner backends: one interface for "fit these datasets, return test log-probabilities".

Everything in the kit that fits a learner on drawn datasets (marginal contributions, expected
losses, point addition) goes through :func:`get_backend`, which returns one of three
implementations of :class:`LearnerBackend`:

* :class:`ExactLogisticBackend` for :class:`~scaling_kit.learners.ExactLogisticRegression`:
  batched damped Newton (:meth:`scaling_kit.logistic.LogisticProblem.newton_batch`) with the
  learner's ``C``, ``tol`` and ``max_iter``; class log-probabilities from the exact
  log-softmax (docs/math.md §7). The contribution engine's D + {z} path
  (:mod:`scaling_kit.exact_engine`) reads ``tol``/``max_iter`` from this backend too.
* :class:`BatchedProtocolBackend` for objects with ``fit_predict_proba_batch(Xs, ys, X_eval,
  n_classes, random_state)`` (e.g. :class:`scaling_kit.mlp.BatchedMLPClassifier`, many torch
  networks at once) or only ``fit_predict_proba(X, y, X_eval, n_classes[, random_state])``.
* :class:`SklearnBackend` for any scikit-learn classifier with ``predict_proba``: clone and
  fit per dataset (:class:`~scaling_kit.learners.SklearnClassifier`); every ``random_state``
  left at None receives the caller's seed.

One method family::

    backend.fit_log_proba(X_trains, y_trains, X_eval, n_classes, seed=None)  # (B, n_eval, K)
    backend.fit_losses(X_trains, y_trains, X_test, y_test, n_classes, metrics, seed=None)

``X_trains`` is ``(B, n, p)`` (B datasets of equal size), ``y_trains`` ``(B, n)`` with labels
``0..n_classes-1``. ``seed`` is None (the learner's own randomness), one int shared by the B
fits (common random numbers: D and D + {z} fitted with the same seed) or B ints. Seeds reach a
learner only if its method takes ``random_state`` (read from the signature with
:mod:`inspect`, never by catching ``TypeError``, which would hide errors raised inside fit).
Probabilities from learners are checked (:func:`scaling_kit.learners.check_proba`) and turned
into log-probabilities as :func:`scaling_kit.metrics.losses_from_proba` does (clipped to
``[eps, 1 - eps]``). Non-convergence of the exact path warns with
:class:`~scaling_kit.exceptions.ConvergenceWarning` (one policy); scikit-learn's own
convergence warnings pass through unchanged.

``backend.cache_key()`` identifies the learner for on-disk caches: the qualified class name
plus :func:`joblib.hash` of ``get_params(deep=True)`` (nested estimators expanded), never
``repr`` (scikit-learn truncates long reprs). A learner without ``get_params`` must provide a
``cache_key`` attribute or method.

Using it elsewhere (one fit per dataset, e.g. a learning curve or point addition)::

    from scaling_kit.backends import get_backend
    from scaling_kit.metrics import losses_from_logp

    backend = get_backend(learner)                  # validates the learner once
    logp = backend.fit_log_proba(X_pool[D][None], y_pool[D][None], X_test, n_classes,
                                 seed=seed)         # (1, n_test, K)
    loss = losses_from_logp(logp, y_test, ["log_loss"])["log_loss"][0]
    accuracy = np.mean(logp[0].argmax(axis=1) == y_test)

Several datasets of one size go in one call (``X_pool[Ds]`` with ``Ds`` of shape
``(B, k)``): the exact and batched backends then fit them together.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod

import joblib
import numpy as np

from . import exact_engine
from .learners import (
    ExactLogisticRegression,
    SklearnClassifier,
    _accepts_random_state,
    _warn_not_converged,
    check_proba,
)
from .logistic import LogisticProblem, augment
from .metrics import losses_from_logp

__all__ = [
    "BatchedProtocolBackend",
    "ExactLogisticBackend",
    "LearnerBackend",
    "SklearnBackend",
    "get_backend",
    "learner_cache_key",
]

_EPS = np.finfo(float).eps


def _log_of_proba(proba):
    """Log-probabilities of checked probabilities, clipped as ``losses_from_proba`` clips."""
    return np.log(np.clip(proba, _EPS, 1.0 - _EPS))


def _seed_list(seed, n: int):
    """None, or ``n`` Python ints from an int (shared) or a sequence of ``n`` ints."""
    if seed is None:
        return None
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return [int(seed)] * n
    seeds = [int(s) for s in np.asarray(seed).ravel()]
    if len(seeds) != n:
        raise ValueError(f"seed must be one int or one per dataset ({n}); got {len(seeds)}.")
    return seeds


class LearnerBackend(ABC):
    """Fit batches of datasets and return test log-probabilities (see the module docstring)."""

    kind = "abstract"

    def __init__(self, learner):
        self.learner = learner

    @property
    def name(self) -> str:
        """The learner's class name (used in messages)."""
        return type(self.learner).__name__

    @abstractmethod
    def fit_log_proba(self, X_trains, y_trains, X_eval, n_classes: int, *, seed=None):
        """Fit each of the B datasets; class log-probabilities ``(B, n_eval, n_classes)``."""

    def fit_losses(self, X_trains, y_trains, X_test, y_test, n_classes: int, metrics, *,
                   seed=None) -> dict:
        """Test losses ``{metric: (B,)}`` of a fit on each dataset
        (:func:`scaling_kit.metrics.losses_from_logp`)."""
        logp = self.fit_log_proba(X_trains, y_trains, X_test, n_classes, seed=seed)
        return losses_from_logp(logp, y_test, metrics)

    def cache_key(self) -> str:
        """A string that changes whenever the learner's predictions could change."""
        return learner_cache_key(self.learner)

    def __repr__(self):
        return f"{type(self).__name__}({self.learner!r})"


class ExactLogisticBackend(LearnerBackend):
    """:class:`ExactLogisticRegression` fitted by batched damped Newton to its ``tol``."""

    kind = "exact_logistic"

    def __init__(self, learner: ExactLogisticRegression):
        super().__init__(learner)
        params = learner._validated_params()
        self.C, self.tol, self.max_iter = params["C"], params["tol"], params["max_iter"]

    def problem(self, n_features: int, n_classes: int) -> LogisticProblem:
        """The objective that every fit of this learner minimizes."""
        return LogisticProblem(n_features, n_classes, self.C)

    def fit_thetas(self, X_trains, y_trains, n_classes: int):
        """Parameters ``(B, m, p + 1)`` of the B fits (warns if any stops at ``max_iter``)."""
        X_trains = np.asarray(X_trains, dtype=float)
        problem = self.problem(X_trains.shape[-1], n_classes)
        theta, _, converged = problem.newton_batch(augment(X_trains), np.asarray(y_trains),
                                                   tol=self.tol, max_iter=self.max_iter)
        if not converged.all():
            _warn_not_converged(self.name, int((~converged).sum()), converged.size,
                                self.max_iter)
        return problem, theta

    def fit_log_proba(self, X_trains, y_trains, X_eval, n_classes: int, *, seed=None):
        """Batched Newton fits of the B datasets (``seed`` is ignored: the fit is
        deterministic); log-probabilities ``(B, n_eval, n_classes)``."""
        problem, theta = self.fit_thetas(X_trains, y_trains, n_classes)  # deterministic
        return exact_engine.test_log_proba(problem, augment(np.asarray(X_eval, dtype=float)),
                                           theta)


class BatchedProtocolBackend(LearnerBackend):
    """Learners with ``fit_predict_proba_batch`` (all B fits at once) or ``fit_predict_proba``
    (one at a time). An int seed reaches the batched method as an int (one shared
    initialization, the documented protocol), distinct seeds as a list."""

    kind = "batched"

    def __init__(self, learner):
        super().__init__(learner)
        self.batched = callable(getattr(learner, "fit_predict_proba_batch", None))
        method = learner.fit_predict_proba_batch if self.batched else learner.fit_predict_proba
        self.takes_seed = _accepts_random_state(method)

    def fit_log_proba(self, X_trains, y_trains, X_eval, n_classes: int, *, seed=None):
        """The learner's own (batched) ``fit_predict_proba`` on the B datasets, passing
        ``seed`` when it accepts ``random_state``; log-probabilities ``(B, n_eval, n_classes)``."""
        X_trains = np.asarray(X_trains, dtype=float)
        y_trains = np.asarray(y_trains)
        B, n_eval = X_trains.shape[0], np.asarray(X_eval).shape[0]
        seeds = _seed_list(seed, B)
        if self.batched:
            kwargs = {}
            if self.takes_seed and seeds is not None:
                shared = len(set(seeds)) == 1
                kwargs["random_state"] = seeds[0] if shared else seeds
            proba = self.learner.fit_predict_proba_batch(X_trains, y_trains, X_eval, n_classes,
                                                         **kwargs)
        else:
            proba = []
            for b in range(B):
                kwargs = {}
                if self.takes_seed and seeds is not None:
                    kwargs["random_state"] = seeds[b]
                proba.append(self.learner.fit_predict_proba(X_trains[b], y_trains[b], X_eval,
                                                            n_classes, **kwargs))
        proba = check_proba(proba, n_eval, n_classes, self.name)
        if proba.shape[:-2] != (B,):
            raise ValueError(f"{self.name} returned probabilities of shape {proba.shape} for "
                             f"{B} datasets; expected ({B}, {n_eval}, {n_classes}).")
        return _log_of_proba(proba)


class SklearnBackend(LearnerBackend):
    """Any scikit-learn classifier with ``predict_proba``: clone and fit per dataset."""

    kind = "sklearn"

    def __init__(self, learner):
        super().__init__(learner)
        self.adapter = SklearnClassifier(learner)  # checks predict_proba / get_params

    def fit_log_proba(self, X_trains, y_trains, X_eval, n_classes: int, *, seed=None):
        """One clone-and-fit per dataset (seeded when the estimator's ``random_state`` is None);
        checked probabilities as logs ``(B, n_eval, n_classes)``."""
        X_trains = np.asarray(X_trains, dtype=float)
        y_trains = np.asarray(y_trains)
        B = X_trains.shape[0]
        seeds = _seed_list(seed, B) or [None] * B
        proba = np.stack([self.adapter.fit_predict_proba(X_trains[b], y_trains[b], X_eval,
                                                         n_classes, random_state=seeds[b])
                          for b in range(B)])
        return _log_of_proba(proba)


def get_backend(learner) -> LearnerBackend:
    """The backend for ``learner`` (checked once here; see the module docstring).

    :class:`ExactLogisticRegression` -> :class:`ExactLogisticBackend`; an object with
    ``fit_predict_proba_batch`` or ``fit_predict_proba`` -> :class:`BatchedProtocolBackend`;
    a scikit-learn classifier (or a :class:`SklearnClassifier`) -> :class:`SklearnBackend`.
    """
    if isinstance(learner, LearnerBackend):
        return learner
    if isinstance(learner, ExactLogisticRegression):
        return ExactLogisticBackend(learner)
    if isinstance(learner, SklearnClassifier):
        return SklearnBackend(learner.estimator)
    if callable(getattr(learner, "fit_predict_proba_batch", None)) or \
            callable(getattr(learner, "fit_predict_proba", None)):
        return BatchedProtocolBackend(learner)
    if isinstance(learner, type):
        raise TypeError(f"learner must be an instance, not the class {learner.__name__}; "
                        f"write {learner.__name__}().")
    return SklearnBackend(learner)


def _canonical(value):
    """Parameters with nested estimators replaced by (class, their parameters), recursively."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        cls = type(value)
        return (f"{cls.__module__}.{cls.__qualname__}",
                _canonical(value.get_params(deep=True)))
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return type(value)(_canonical(v) for v in value)
    return value


def learner_cache_key(learner) -> str:
    """Identify ``learner`` for an on-disk cache.

    ``<module>.<class>:<joblib.hash of get_params(deep=True)>`` for estimators (every
    parameter, nested ones included, so two ensembles differing in one member's ``C`` differ);
    otherwise the learner's ``cache_key`` (a non-empty string attribute, or a method returning
    one). Anything else cannot be cached safely and raises ``TypeError``.
    """
    if isinstance(learner, SklearnClassifier):
        learner = learner.estimator
    cls = type(learner)
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    own = getattr(learner, "cache_key", None)
    if callable(own):
        own = own()
    if own is not None:
        if not isinstance(own, str) or not own:
            raise TypeError(f"{qualified}.cache_key must be a non-empty string; got {own!r}.")
        return f"{qualified}:{own}"
    if hasattr(learner, "get_params"):
        try:
            digest = joblib.hash(_canonical(learner.get_params(deep=True)), hash_name="sha1")
        except Exception as err:  # noqa: BLE001 - any unpicklable parameter
            raise TypeError(
                f"Cannot hash the parameters of {qualified} for the cache ({err}); give the "
                "learner a cache_key attribute (a string that changes whenever its "
                "predictions would), or call without cache=."
            ) from err
        return f"{qualified}:{digest}"
    raise TypeError(
        f"cache= needs to identify the learner, but {qualified} has neither get_params() nor a "
        "cache_key. Give it a cache_key attribute (a string that changes whenever its "
        "predictions would), or call without cache=."
    )
