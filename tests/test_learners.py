"""ExactLogisticRegression / LogisticProblem against scikit-learn and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import SVC

from scaling_kit.learners import ExactLogisticRegression, SklearnClassifier, as_learner
from scaling_kit.logistic import LogisticProblem, augment


def _sk(X, y):
    return LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)


def test_binary_matches_sklearn(breast_cancer):
    p = breast_cancer
    ex = ExactLogisticRegression().fit(p.X_pool, p.y_pool)
    sk = _sk(p.X_pool, p.y_pool)
    assert ex.converged_
    assert ex.coef_.shape == sk.coef_.shape == (1, p.X_pool.shape[1])
    np.testing.assert_allclose(ex.coef_, sk.coef_, atol=1e-5)
    np.testing.assert_allclose(ex.intercept_, sk.intercept_, atol=1e-5)
    np.testing.assert_allclose(ex.predict_proba(p.X_test), sk.predict_proba(p.X_test), atol=1e-5)
    np.testing.assert_array_equal(ex.predict(p.X_test), sk.predict(p.X_test))


@pytest.mark.parametrize("name", ["wine", "toy3"])
def test_multinomial_matches_sklearn(name, request):
    p = request.getfixturevalue(name)
    ex = ExactLogisticRegression().fit(p.X_pool, p.y_pool)
    sk = _sk(p.X_pool, p.y_pool)
    assert ex.converged_
    assert ex.coef_.shape == sk.coef_.shape
    # intercepts are defined up to a common constant: ours sum to zero; compare probabilities
    assert abs(ex.intercept_.sum()) < 1e-8
    np.testing.assert_allclose(ex.predict_proba(p.X_test), sk.predict_proba(p.X_test), atol=1e-5)
    np.testing.assert_allclose(ex.coef_, sk.coef_, atol=1e-5)


def test_regularization_strength_matters(toy):
    weak = ExactLogisticRegression(C=100.0).fit(toy.X_pool, toy.y_pool)
    strong = ExactLogisticRegression(C=0.01).fit(toy.X_pool, toy.y_pool)
    sk = LogisticRegression(C=0.01, tol=1e-10, max_iter=10000).fit(toy.X_pool, toy.y_pool)
    np.testing.assert_allclose(strong.coef_, sk.coef_, atol=1e-6)
    assert np.linalg.norm(strong.coef_) < np.linalg.norm(weak.coef_)


def test_original_labels_are_kept(toy):
    labels = np.array(["neg", "pos"])[toy.y_pool]
    ex = ExactLogisticRegression().fit(toy.X_pool, labels)
    np.testing.assert_array_equal(ex.classes_, ["neg", "pos"])
    assert set(ex.predict(toy.X_test)) <= {"neg", "pos"}


def test_warm_start_needs_fewer_iterations(wine):
    cold = ExactLogisticRegression().fit(wine.X_pool, wine.y_pool)
    warm = ExactLogisticRegression(warm_start=True).fit(wine.X_pool, wine.y_pool)
    first = warm.n_iter_
    theta = warm.theta_.copy()
    warm.fit(wine.X_pool, wine.y_pool)
    assert warm.converged_
    assert first == cold.n_iter_ >= 3
    assert warm.n_iter_ < first
    np.testing.assert_allclose(warm.theta_, theta, atol=1e-10)
    # without warm_start, a refit starts from zero again
    cold.fit(wine.X_pool, wine.y_pool)
    assert cold.n_iter_ == first


def test_newton_reaches_stationarity(digits_small):
    p = digits_small
    problem = LogisticProblem(p.X_pool.shape[1], 10, 1.0)
    Xa = augment(p.X_pool)
    theta, info = problem.newton(Xa, p.y_pool, tol=1e-13)
    assert info["converged"]
    grad = problem.gradient(Xa, p.y_pool, theta)
    assert np.max(np.abs(grad)) < 1e-9


@pytest.mark.parametrize("n_classes", [2, 3])
def test_gradient_and_hessian_match_finite_differences(n_classes):
    rng = np.random.default_rng(n_classes)
    X = rng.standard_normal((25, 3))
    y = np.arange(25) % n_classes
    problem = LogisticProblem(3, n_classes, 0.7)
    Xa = augment(X)
    theta = 0.3 * rng.standard_normal((problem.m, problem.d))

    def f(flat):
        return problem.objective(Xa, y, flat.reshape(problem.m, problem.d))

    def g(flat):
        return problem.gradient(Xa, y, flat.reshape(problem.m, problem.d))

    flat = theta.ravel()
    np.testing.assert_allclose(g(flat), approx_fprime(flat, f, 1e-6), atol=1e-5)
    H_num = np.stack([approx_fprime(flat, lambda t, i=i: g(t)[i], 1e-6) for i in range(flat.size)])
    np.testing.assert_allclose(problem.hessian(Xa, theta), H_num, atol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_objective_and_gradient_in_one_pass(n_classes):
    """The fused objective/gradient (L-BFGS's callback) equals objective() and gradient(),
    for one dataset and for a batch of datasets."""
    rng = np.random.default_rng(2)
    problem = LogisticProblem(5, n_classes, 0.7)
    Xa = augment(rng.standard_normal((3, 30, 5)))
    y = rng.integers(0, n_classes, (3, 30))
    theta = rng.standard_normal((3, problem.m, problem.d))
    value, grad = problem.objective_and_gradient(Xa, y, theta)
    np.testing.assert_allclose(value, problem.objective(Xa, y, theta), rtol=1e-13)
    np.testing.assert_allclose(grad, problem.gradient(Xa, y, theta), rtol=1e-12, atol=1e-12)
    v0, g0 = problem.objective_and_gradient(Xa[0], y[0], theta[0])
    assert np.isclose(v0, value[0], rtol=1e-14) and np.allclose(g0, grad[0], rtol=1e-13)


def test_sklearn_adapter_fills_missing_classes(toy3):
    p = toy3
    keep = p.y_pool != 1  # class 1 absent from training
    adapter = SklearnClassifier(LogisticRegression())
    proba = adapter.fit_predict_proba(p.X_pool[keep], p.y_pool[keep], p.X_test, 3)
    assert proba.shape == (p.X_test.shape[0], 3)
    np.testing.assert_array_equal(proba[:, 1], 0.0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    direct = LogisticRegression().fit(p.X_pool[keep], p.y_pool[keep]).predict_proba(p.X_test)
    np.testing.assert_array_equal(proba[:, [0, 2]], direct)


def test_sklearn_adapter_requires_predict_proba():
    with pytest.raises(TypeError, match="probability=True"):
        SklearnClassifier(SVC())
    assert isinstance(as_learner(GaussianNB()), SklearnClassifier)
    ex = ExactLogisticRegression()
    assert as_learner(ex) is ex
