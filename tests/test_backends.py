"""Learner backends: dispatch, exactness against direct fits, seeds, convergence, checked output,
cache keys."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from scaling_kit.backends import (
    BatchedProtocolBackend,
    ExactLogisticBackend,
    SklearnBackend,
    get_backend,
    learner_cache_key,
)
from scaling_kit.contributions import exact_contribution, sample_contributions
from scaling_kit.exceptions import ConvergenceWarning
from scaling_kit.learners import (
    ExactLogisticRegression,
    SklearnClassifier,
    _seeded_params,
    call_fit_predict_proba,
)
from scaling_kit.mlp import BatchedMLPClassifier

EPS = np.finfo(float).eps


def _datasets(p, B=3, n=25, seed=0):
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.choice(len(p.y_pool), n, replace=False) for _ in range(B)])
    idx[:, :p.n_classes] = np.arange(p.n_classes)  # every class in every dataset
    return p.X_pool[idx], p.y_pool[idx]


class _Frequencies:
    """Protocol learner: smoothed training class frequencies; records the seeds it gets."""

    def __init__(self):
        self.seeds = []

    def fit_predict_proba(self, X, y, X_eval, n_classes, random_state=None):
        self.seeds.append(random_state)
        freq = (np.bincount(y, minlength=n_classes) + 1.0) / (y.size + n_classes)
        return np.tile(freq, (np.asarray(X_eval).shape[0], 1))


def test_dispatch():
    assert isinstance(get_backend(ExactLogisticRegression()), ExactLogisticBackend)
    assert isinstance(get_backend(GaussianNB()), SklearnBackend)
    assert isinstance(get_backend(SklearnClassifier(GaussianNB())), SklearnBackend)
    assert isinstance(get_backend(BatchedMLPClassifier()), BatchedProtocolBackend)
    assert get_backend(BatchedMLPClassifier()).batched
    protocol = get_backend(_Frequencies())
    assert isinstance(protocol, BatchedProtocolBackend) and not protocol.batched
    backend = get_backend(GaussianNB())
    assert get_backend(backend) is backend


@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
def test_exact_backend_equals_single_fits_and_sklearn(name, request):
    p = request.getfixturevalue(name)
    Xs, ys = _datasets(p)
    logp = get_backend(ExactLogisticRegression(C=0.7)).fit_log_proba(Xs, ys, p.X_test,
                                                                     p.n_classes)
    assert logp.shape == (3, len(p.y_test), p.n_classes)
    for b in range(3):
        single = ExactLogisticRegression(C=0.7).fit(Xs[b], ys[b]).predict_proba(p.X_test)
        # batched and single Newton solves stop at a relative step of 1e-12: the probabilities
        # agree to that order (1e-10 leaves room for the conditioning of these small fits)
        np.testing.assert_allclose(np.exp(logp[b]), single, atol=1e-10)
        sk = LogisticRegression(C=0.7, tol=1e-10, max_iter=10000).fit(Xs[b], ys[b])
        np.testing.assert_allclose(np.exp(logp[b]), sk.predict_proba(p.X_test), atol=1e-6)


def test_exact_backend_honours_max_iter(wine):
    Xs, ys = _datasets(wine)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=1 .* 3 of 3 fits"):
        get_backend(ExactLogisticRegression(max_iter=1)).fit_log_proba(Xs, ys, wine.X_test, 3)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        model = ExactLogisticRegression(max_iter=1).fit(Xs[0], ys[0])
    assert model.converged_ is False and model.n_iter_ == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ExactLogisticRegression().fit(Xs[0], ys[0]).converged_


def test_exact_path_warns_in_exact_contribution(toy):
    with pytest.warns(ConvergenceWarning):
        exact_contribution(ExactLogisticRegression(max_iter=1), toy.X_pool[:20], toy.y_pool[:20],
                           toy.X_pool[20], int(toy.y_pool[20]), toy.X_test, toy.y_test)


def test_sklearn_backend_equals_direct_fits(toy3):
    Xs, ys = _datasets(toy3)
    model = RandomForestClassifier(n_estimators=4)  # random_state=None: gets the seed
    logp = get_backend(model).fit_log_proba(Xs, ys, toy3.X_test, 3, seed=[5, 6, 7])
    for b, seed in enumerate([5, 6, 7]):
        direct = clone(model).set_params(random_state=seed).fit(Xs[b], ys[b])
        expected = np.log(np.clip(direct.predict_proba(toy3.X_test), EPS, 1 - EPS))
        np.testing.assert_allclose(logp[b], expected, rtol=0, atol=1e-12)
    fixed = RandomForestClassifier(n_estimators=4, random_state=3)  # a user's seed is kept
    a = get_backend(fixed).fit_log_proba(Xs[:1], ys[:1], toy3.X_test, 3, seed=1)
    b = get_backend(fixed).fit_log_proba(Xs[:1], ys[:1], toy3.X_test, 3, seed=2)
    np.testing.assert_array_equal(a, b)


def test_nested_random_states_get_distinct_seeds():
    vote = VotingClassifier([("a", RandomForestClassifier()), ("b", RandomForestClassifier())],
                            voting="soft")
    seeds = _seeded_params(vote, 11)
    assert set(seeds) == {"a__random_state", "b__random_state"}
    assert seeds["a__random_state"] != seeds["b__random_state"]
    assert _seeded_params(RandomForestClassifier(), 11) == {"random_state": 11}
    assert _seeded_params(RandomForestClassifier(random_state=0), 11) == {}


def test_seeds_reach_learners_by_signature(toy):
    learner = _Frequencies()
    get_backend(learner).fit_log_proba(*_datasets(toy, B=2), toy.X_test, 2, seed=9)
    assert learner.seeds == [9, 9]

    class NoSeed:
        def fit_predict_proba(self, X, y, X_eval, n_classes):
            return np.full((np.asarray(X_eval).shape[0], n_classes), 1.0 / n_classes)

    logp = get_backend(NoSeed()).fit_log_proba(*_datasets(toy, B=2), toy.X_test, 2, seed=9)
    np.testing.assert_allclose(logp, np.log(0.5))


def test_errors_inside_fit_are_not_retried(toy):
    """A TypeError raised inside a learner's fit propagates; the old helper caught it and
    called the learner again without the seed, hiding the error."""

    class Broken:
        calls = 0

        def fit_predict_proba(self, X, y, X_eval, n_classes, random_state=None):
            Broken.calls += 1
            if random_state is not None:
                raise TypeError("a bug inside fit")
            return np.full((np.asarray(X_eval).shape[0], n_classes), 1.0 / n_classes)

    with pytest.raises(TypeError, match="a bug inside fit"):
        call_fit_predict_proba(Broken(), toy.X_pool, toy.y_pool, toy.X_test, 2, 3)
    assert Broken.calls == 1
    with pytest.raises(TypeError, match="a bug inside fit"):
        get_backend(Broken()).fit_log_proba(*_datasets(toy, B=1), toy.X_test, 2, seed=3)


def test_batched_backend_passes_shared_or_distinct_seeds(toy3):
    mlp = BatchedMLPClassifier(hidden=4, n_epochs=5)
    Xs, ys = _datasets(toy3, B=2)
    backend = get_backend(mlp)
    shared = backend.fit_log_proba(Xs, ys, toy3.X_test, 3, seed=4)
    P = mlp.fit_predict_proba_batch(Xs, ys, toy3.X_test, 3, random_state=4)
    np.testing.assert_array_equal(shared, np.log(np.clip(P, EPS, 1 - EPS)))  # same call
    distinct = backend.fit_log_proba(Xs, ys, toy3.X_test, 3, seed=[4, 5])
    P = mlp.fit_predict_proba_batch(Xs, ys, toy3.X_test, 3, random_state=[4, 5])
    np.testing.assert_array_equal(distinct, np.log(np.clip(P, EPS, 1 - EPS)))
    with pytest.raises(ValueError, match="one per dataset"):
        backend.fit_log_proba(Xs, ys, toy3.X_test, 3, seed=[1, 2, 3])


class _BadProba(ClassifierMixin, BaseEstimator):
    """A classifier whose predict_proba breaks the contract in one of several ways."""

    def __init__(self, *, mode="ok"):
        self.mode = mode

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        n, K = np.asarray(X).shape[0], self.classes_.size
        P = np.full((n, K), 1.0 / K)
        if self.mode == "columns":
            return P[:, :-1] * K / (K - 1)
        if self.mode == "scores":
            return np.tile(np.linspace(-1.0, 2.0, K), (n, 1))
        if self.mode == "unnormalized":
            return P * 0.9
        if self.mode == "nan":
            return np.where(np.arange(K) == 0, np.nan, P)
        return P


@pytest.mark.parametrize(("mode", "message"), [
    ("columns", "returned shape"), ("scores", r"outside \[0, 1\]"),
    ("unnormalized", "do not sum to 1"), ("nan", "NaN"),
])
def test_predict_proba_is_checked(mode, message, toy):
    """Wrong outputs raise, naming the learner (they used to give wrong contributions
    silently, e.g. all zeros for a missing column)."""
    with pytest.raises(ValueError, match=message) as info:
        sample_contributions(_BadProba(mode=mode), toy, [0, 1], k=10, n_samples=1,
                             random_state=0, progress=False)
    assert "_BadProba" in str(info.value)
    ok = sample_contributions(_BadProba(), toy, [0, 1], k=10, n_samples=1, random_state=0,
                              progress=False)
    np.testing.assert_array_equal(ok["delta"], 0.0)  # a constant predictor contributes nothing


def test_cache_keys_see_every_parameter():
    """Two soft-voting ensembles of 12 logistic regressions that differ in one member's C have
    the same repr (scikit-learn elides the middle of long reprs), but different cache keys."""

    def ensemble(c_middle):
        members = [(f"lr{i}", LogisticRegression(C=c_middle if i == 6 else 0.5, max_iter=1000,
                                                 tol=1e-6, class_weight="balanced",
                                                 solver="newton-cg"))
                   for i in range(12)]
        return VotingClassifier(members, voting="soft")

    a, b = ensemble(0.5), ensemble(0.7)
    assert repr(a) == repr(b)  # why repr cannot be the key
    assert learner_cache_key(a) != learner_cache_key(b)
    assert learner_cache_key(a) == learner_cache_key(ensemble(0.5))
    assert learner_cache_key(ExactLogisticRegression(tol=1e-10)) != \
        learner_cache_key(ExactLogisticRegression())
    assert learner_cache_key(ExactLogisticRegression(max_iter=50)) != \
        learner_cache_key(ExactLogisticRegression())
    assert learner_cache_key(SklearnClassifier(GaussianNB())) == learner_cache_key(GaussianNB())
    assert learner_cache_key(ExactLogisticRegression()).startswith(
        "scaling_kit.learners.ExactLogisticRegression:")


def test_cache_key_of_protocol_learners():
    class Keyed(_Frequencies):
        cache_key = "frequencies-v1"

    class KeyMethod(_Frequencies):
        def cache_key(self):
            return "frequencies-v2"

    assert learner_cache_key(Keyed()).endswith(":frequencies-v1")
    assert learner_cache_key(KeyMethod()).endswith(":frequencies-v2")
    with pytest.raises(TypeError, match="cache_key"):
        learner_cache_key(_Frequencies())

    class Empty(_Frequencies):
        cache_key = ""

    with pytest.raises(TypeError, match="non-empty string"):
        learner_cache_key(Empty())


def test_worker_warnings_reach_the_caller(toy):
    """A ConvergenceWarning raised in a joblib worker process is re-emitted by the sampler
    (loky does not forward warnings: they used to be dropped)."""
    learner = LogisticRegression(max_iter=1)
    for n_jobs in (1, 2):
        with pytest.warns(ConvergenceWarning):
            sample_contributions(learner, toy, [0, 1], k=20, n_samples=2, random_state=0,
                                 n_jobs=n_jobs, chunk_size=2, progress=False)
