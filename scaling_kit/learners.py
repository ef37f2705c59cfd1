"""Learners: an exact L2 logistic regression and an adapter for any scikit-learn classifier.

:class:`ExactLogisticRegression` minimizes scikit-learn's ``LogisticRegression(C=C)``
objective (:class:`scaling_kit.logistic.LogisticProblem`; scikit-learn user guide, "Logistic
regression", L2 penalty)::

    J(W, b) = sum_i loss(y_i, softmax(W x_i + b)) + ||W||_F^2 / (2 C)

penalty on the weights only, intercepts unpenalized, sum (not mean) of the losses. Binary
problems use a single weight vector with the sigmoid, as scikit-learn does; multiclass problems
use the full multinomial (K weight vectors). The sum of the K intercepts is a null direction of
J (adding a constant to every intercept changes nothing); we add ``(sum_k b_k)^2 / 2``, which
selects the minimizer with intercepts summing to zero and leaves predictions unchanged.

The solver is Newton's method with a backtracking line search, run until the Newton step is
below ``tol`` (default 1e-12 relative), i.e. to machine precision, not to a loose stopping rule.
``warm_start=True`` starts from the previous solution.

:class:`SklearnClassifier` wraps any scikit-learn classifier with ``predict_proba``: the slow,
general path (one fit per dataset), used e.g. for the RBF SVM of the paper.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from .logistic import LogisticProblem, augment

__all__ = [
    "ExactLogisticRegression",
    "SklearnClassifier",
    "as_learner",
    "call_fit_predict_proba",
]


class ExactLogisticRegression(ClassifierMixin, BaseEstimator):
    """L2 logistic regression with scikit-learn's objective, solved to machine precision.

    Same objective as ``sklearn.linear_model.LogisticRegression(C=C)`` (binary: sigmoid,
    multiclass: multinomial softmax; intercept unpenalized; sum of log losses), but solved by
    Newton's method until the step is below ``tol`` relative to the parameters.

    Parameters
    ----------
    C : inverse regularization strength (as in scikit-learn).
    tol : relative step-size tolerance of Newton's method. The fast contribution engine
        (:func:`scaling_kit.contributions.sample_contributions`) uses it too: candidates D + {z}
        are solved to ``tol`` and each drawn D to ``tol / 10``.
    max_iter : maximum Newton iterations.
    warm_start : start from the previous ``coef_``/``intercept_`` when refitting.

    Attributes
    ----------
    classes_, coef_ (m, p), intercept_ (m,), n_iter_, theta_ (m, p+1)
    """

    def __init__(self, C=1.0, tol=1e-12, max_iter=100, warm_start=False):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"Expected X (n, p) and y (n,); got {X.shape} and {y.shape}.")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinite values.")
        classes, yi = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("Training data must contain at least two classes.")
        problem = LogisticProblem(X.shape[1], len(classes), self.C)
        theta0 = None
        if self.warm_start and hasattr(self, "theta_") and self.theta_.shape == (problem.m, problem.d):
            theta0 = self.theta_
        theta, info = problem.newton(augment(X), yi, theta0, tol=self.tol, max_iter=self.max_iter)
        self.classes_ = classes
        self.problem_ = problem
        self.theta_ = theta
        self.coef_ = theta[:, :-1]
        self.intercept_ = theta[:, -1]
        self.n_iter_ = info["n_iter"]
        self.converged_ = info["converged"]
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}); got {X.shape}.")
        return self.problem_.proba(augment(X), self.theta_)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class SklearnClassifier:
    """Adapter: any scikit-learn classifier with ``predict_proba`` as a contribution learner.

    An estimator whose ``random_state`` is left at None receives the caller's seed, so every
    random choice flows from the sampler's ``random_state`` (a fixed seed set by the user is kept).

    ``fit_predict_proba(X_train, y_train, X_eval, n_classes)`` clones the estimator, fits it and
    returns probabilities for *all* ``n_classes`` classes (columns of classes absent from the
    training data are zero), so losses can be compared across datasets.
    """

    def __init__(self, estimator):
        if not hasattr(estimator, "fit") or not hasattr(estimator, "predict_proba"):
            raise TypeError(
                f"{type(estimator).__name__} has no predict_proba; for SVC pass probability=True."
            )
        self.estimator = estimator

    def fit_predict_proba(self, X_train, y_train, X_eval, n_classes: int, random_state=None):
        model = clone(self.estimator)
        params = model.get_params(deep=False)
        if random_state is not None and "random_state" in params and params["random_state"] is None:
            model.set_params(random_state=random_state)  # randomness flows from the caller
        model.fit(X_train, y_train)
        proba = model.predict_proba(X_eval)
        out = np.zeros((np.asarray(X_eval).shape[0], n_classes))
        out[:, np.asarray(model.classes_, dtype=int)] = proba
        return out

    def __repr__(self):
        return f"SklearnClassifier({self.estimator!r})"


def as_learner(learner):
    """Return ``learner`` as something with ``fit_predict_proba`` (wraps scikit-learn models)."""
    if isinstance(learner, ExactLogisticRegression):
        return learner
    if hasattr(learner, "fit_predict_proba"):
        return learner
    return SklearnClassifier(learner)


def call_fit_predict_proba(adapter, X_train, y_train, X_eval, n_classes, random_state):
    """``adapter.fit_predict_proba`` with the caller's seed, for adapters that accept one.

    Adapters written before the ``random_state`` argument (signature without it) are called
    without it; their own randomness is then theirs to control.
    """
    try:
        return adapter.fit_predict_proba(X_train, y_train, X_eval, n_classes,
                                         random_state=random_state)
    except TypeError:
        return adapter.fit_predict_proba(X_train, y_train, X_eval, n_classes)
