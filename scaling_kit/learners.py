"""Learners: an exact L2 logistic regression and an adapter for any scikit-learn classifier.

:class:`ExactLogisticRegression` minimizes scikit-learn's ``LogisticRegression(C=C)``
objective (:class:`scaling_kit.logistic.LogisticProblem`; scikit-learn user guide, "Logistic
regression", L2 penalty; docs/math.md §7)::

    J(W, b) = sum_i loss(y_i, softmax(W x_i + b)) + ||W||_F^2 / (2 C)

penalty on the weights only, intercepts unpenalized, sum (not mean) of the losses. Binary
problems use a single weight vector with the sigmoid, as scikit-learn does; multiclass problems
use the full multinomial (K weight vectors). The sum of the K intercepts is a null direction of
J (adding a constant to every intercept changes nothing); we add ``(sum_k b_k)^2 / 2``, which
selects the minimizer with intercepts summing to zero and leaves predictions unchanged.

The solver is Newton's method with a backtracking line search, run until the Newton step is
below ``tol`` (default 1e-12 relative), i.e. to machine precision, not to a loose stopping rule.
``warm_start=True`` starts from the previous solution. A fit that stops at ``max_iter`` warns
with :class:`~scaling_kit.exceptions.ConvergenceWarning` and records ``converged_ = False``.

:class:`SklearnClassifier` wraps any scikit-learn classifier with ``predict_proba``: the slow,
general path (one fit per dataset), used e.g. for the RBF SVM of the paper. Its output is
checked (one column per class, values in [0, 1], rows summing to 1): a classifier that breaks
this contract raises instead of producing wrong contributions.

How the contribution code drives a learner (batched fits, seeds, convergence) is
:mod:`scaling_kit.backends`.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from ._checks import check_array, check_bool, check_int, check_number
from .exceptions import ConvergenceWarning
from .logistic import LogisticProblem, augment

__all__ = [
    "ExactLogisticRegression",
    "SklearnClassifier",
    "as_learner",
    "call_fit_predict_proba",
    "check_proba",
]

#: rows of predicted probabilities must sum to 1 within this tolerance (a float32 softmax
#: renormalized in float64 is off by at most ~K * 6e-8; scikit-learn's own outputs by ~1e-15)
PROBA_SUM_TOL = 1e-6


def _warn_not_converged(learner_name: str, n_failed: int, n_total: int, max_iter: int) -> None:
    """The one :class:`ConvergenceWarning` of the exact logistic path (fits and backends)."""
    what = "the fit" if n_total == 1 else f"{n_failed} of {n_total} fits"
    warnings.warn(
        f"{learner_name}: Newton's method stopped at max_iter={max_iter} before converging "
        f"on {what}. Increase max_iter, or standardize the features / lower C if the problem "
        "is ill-conditioned.",
        ConvergenceWarning,
        stacklevel=3,
    )


class ExactLogisticRegression(ClassifierMixin, BaseEstimator):
    """L2 logistic regression with scikit-learn's objective, solved to machine precision.

    Same objective as ``sklearn.linear_model.LogisticRegression(C=C)`` (binary: sigmoid,
    multiclass: multinomial softmax; intercept unpenalized; sum of log losses), but solved by
    Newton's method until the step is below ``tol`` relative to the parameters.

    Parameters (keyword-only)
    -------------------------
    C : inverse regularization strength (as in scikit-learn), > 0.
    tol : relative step-size tolerance of Newton's method, > 0. The fast contribution engine
        (:func:`scaling_kit.contributions.sample_contributions`) uses it too: candidates D + {z}
        are solved to ``tol`` and each drawn D to ``tol / 10``.
    max_iter : maximum Newton iterations (>= 1); stopping there warns with
        :class:`~scaling_kit.exceptions.ConvergenceWarning`.
    warm_start : start from the previous ``coef_``/``intercept_`` when refitting.

    Attributes
    ----------
    classes_, coef_ (m, p), intercept_ (m,), n_iter_, converged_, theta_ (m, p+1),
    n_features_in_
    """

    def __init__(self, *, C=1.0, tol=1e-12, max_iter=100, warm_start=False):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start

    def _validated_params(self) -> dict:
        """The solver controls, checked (named in the error; used by fit and the backends)."""
        return dict(
            C=check_number(self.C, "C", low=0.0, low_open=True),
            tol=check_number(self.tol, "tol", low=0.0, low_open=True),
            max_iter=check_int(self.max_iter, "max_iter", low=1),
            warm_start=check_bool(self.warm_start, "warm_start"),
        )

    def fit(self, X, y):
        """Fit by damped Newton to ``tol``; returns ``self``."""
        params = self._validated_params()
        X = check_array(X, "X")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must be 1-D with one label per row of X ({X.shape[0]}); got "
                             f"shape {y.shape}.")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinite labels; drop those rows first.")
        classes, yi = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("y must contain at least two classes; got "
                             f"{classes.tolist()}.")
        problem = LogisticProblem(X.shape[1], len(classes), params["C"])
        theta0 = None
        if params["warm_start"] and hasattr(self, "theta_") and \
                self.theta_.shape == (problem.m, problem.d):
            theta0 = self.theta_
        theta, info = problem.newton(augment(X), yi, theta0, tol=params["tol"],
                                     max_iter=params["max_iter"])
        if not info["converged"]:
            _warn_not_converged(type(self).__name__, 1, 1, params["max_iter"])
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
        """Class probabilities (n, K), columns in the order of ``classes_``."""
        check_is_fitted(self, "theta_")
        X = check_array(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} features (as in fit); got "
                             f"shape {X.shape}.")
        return self.problem_.proba(augment(X), self.theta_)

    def predict(self, X):
        """The most probable class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def check_proba(proba, n_rows: int, n_columns: int, learner_name: str) -> np.ndarray:
    """Validate predicted probabilities: shape ``(..., n_rows, n_columns)``, finite, in [0, 1]
    and rows summing to 1 (within :data:`PROBA_SUM_TOL`).

    A classifier that breaks this contract (e.g. a ``predict_proba`` with a column missing,
    scores instead of probabilities) would otherwise give wrong contributions silently.
    """
    proba = np.asarray(proba, dtype=float)
    if proba.ndim < 2 or proba.shape[-2:] != (n_rows, n_columns):
        raise ValueError(
            f"{learner_name}.predict_proba returned shape {proba.shape}; expected "
            f"(..., {n_rows}, {n_columns}) (one column per class it was trained on). Check the "
            "learner's classes_ / output."
        )
    if not np.all(np.isfinite(proba)):
        raise ValueError(f"{learner_name} predicted NaN or infinite probabilities.")
    rounding = 1e-12  # a normalized float64 vector may exceed [0, 1] by a few ulps
    if proba.min() < -rounding or proba.max() > 1.0 + rounding:
        raise ValueError(
            f"{learner_name} predicted values outside [0, 1] (min {proba.min():.3g}, max "
            f"{proba.max():.3g}); it must return probabilities, not scores."
        )
    worst = float(np.max(np.abs(proba.sum(axis=-1) - 1.0))) if proba.size else 0.0
    if worst > PROBA_SUM_TOL:
        raise ValueError(
            f"{learner_name} predicted probabilities whose rows do not sum to 1 (off by up to "
            f"{worst:.3g} > {PROBA_SUM_TOL:g}); it must return a distribution over its classes."
        )
    return np.clip(proba, 0.0, 1.0)


def _seeded_params(estimator, seed) -> dict:
    """``{param: seed}`` for every ``random_state`` of ``estimator`` left at None: its own gets
    ``seed``, nested ones (``step__random_state``) distinct children of it, so that all
    randomness flows from the caller's seed and two nested models never share a stream."""
    params = estimator.get_params(deep=True)
    out = {}
    if "random_state" in params and params["random_state"] is None:
        out["random_state"] = int(seed)
    nested = sorted(k for k, v in params.items() if k.endswith("__random_state") and v is None)
    for i, key in enumerate(nested):
        out[key] = int(np.random.SeedSequence([int(seed), i]).generate_state(1)[0])
    return out


class SklearnClassifier:
    """Adapter: any scikit-learn classifier with ``predict_proba`` as a contribution learner.

    Every ``random_state`` of the estimator left at None receives the caller's seed (nested
    ones, e.g. the members of an ensemble, distinct children of it), so every random choice flows from the sampler's
    ``random_state`` (a fixed seed set by the user is kept).

    ``fit_predict_proba(X_train, y_train, X_eval, n_classes)`` clones the estimator, fits it and
    returns probabilities for *all* ``n_classes`` classes (columns of classes absent from the
    training data are zero), so losses can be compared across datasets. The output is checked
    with :func:`check_proba`.
    """

    def __init__(self, estimator):
        if not hasattr(estimator, "fit") or not hasattr(estimator, "predict_proba"):
            raise TypeError(
                f"learner {type(estimator).__name__} has no predict_proba; contributions need "
                "probabilities. For SVC pass probability=True or wrap it in "
                "sklearn.calibration.CalibratedClassifierCV."
            )
        if not hasattr(estimator, "get_params"):
            raise TypeError(f"learner {type(estimator).__name__} is not a scikit-learn "
                            "estimator (no get_params); give it fit_predict_proba instead.")
        self.estimator = estimator

    @property
    def name(self) -> str:
        """The wrapped estimator's class name (used in messages)."""
        return type(self.estimator).__name__

    def fit_predict_proba(self, X_train, y_train, X_eval, n_classes: int, random_state=None):
        model = clone(self.estimator)
        if random_state is not None:
            seeds = _seeded_params(model, random_state)
            if seeds:
                model.set_params(**seeds)  # randomness flows from the caller
        model.fit(X_train, y_train)
        classes = np.asarray(model.classes_)
        if classes.dtype.kind not in "iu" or classes.min() < 0 or classes.max() >= n_classes:
            raise ValueError(f"{self.name} learned classes {classes.tolist()}; expected integer "
                             f"labels 0..{n_classes - 1}.")
        n_eval = np.asarray(X_eval).shape[0]
        proba = check_proba(model.predict_proba(X_eval), n_eval, classes.size, self.name)
        out = np.zeros((n_eval, n_classes))
        out[:, classes.astype(int)] = proba
        return out

    def __repr__(self):
        return f"SklearnClassifier({self.estimator!r})"


def as_learner(learner):
    """Return ``learner`` as something with ``fit_predict_proba`` (wraps scikit-learn models).

    Superseded by :func:`scaling_kit.backends.get_backend`, which also handles batching, seeds
    and convergence; kept for callers that fit one dataset at a time.
    """
    if isinstance(learner, ExactLogisticRegression):
        return learner
    if hasattr(learner, "fit_predict_proba"):
        return learner
    return SklearnClassifier(learner)


def _accepts_random_state(method) -> bool:
    """Whether ``method`` takes a ``random_state`` keyword (by its signature, never by trial)."""
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return "random_state" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def call_fit_predict_proba(adapter, X_train, y_train, X_eval, n_classes, random_state):
    """``adapter.fit_predict_proba`` with the caller's seed, for adapters that accept one.

    Whether the adapter takes ``random_state`` is read from its signature
    (:func:`_accepts_random_state`); adapters without it are called without a seed, and their
    own randomness is theirs to control. An error raised inside the fit propagates unchanged.
    """
    if _accepts_random_state(adapter.fit_predict_proba):
        return adapter.fit_predict_proba(X_train, y_train, X_eval, n_classes,
                                         random_state=random_state)
    return adapter.fit_predict_proba(X_train, y_train, X_eval, n_classes)
