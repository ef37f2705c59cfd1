"""Learners: an exact L2 logistic regression and an adapter for any scikit-learn classifier.

:class:`ExactLogisticRegression` minimizes scikit-learn's ``LogisticRegression(C=C)``
objective (scikit-learn user guide, "Logistic regression", L2 penalty)::

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
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit, log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone

__all__ = ["ExactLogisticRegression", "SklearnClassifier", "as_learner", "LogisticProblem"]


class LogisticProblem:
    """The regularized logistic objective on augmented features ``[x, 1]``.

    Parameters are stored as a matrix ``theta`` of shape ``(m, d)`` with ``m = 1`` (binary,
    sigmoid) or ``m = K`` (multinomial, softmax) and ``d = p + 1`` (last column = intercept).
    ``reg`` is the diagonal of the penalty Hessian: ``1/C`` on weights, ``0`` on intercepts.
    """

    def __init__(self, n_features: int, n_classes: int, C: float):
        if not (np.isfinite(C) and C > 0):
            raise ValueError(f"C must be a positive finite number; got {C!r}.")
        self.p = int(n_features)
        self.d = self.p + 1
        self.K = int(n_classes)
        self.m = 1 if self.K == 2 else self.K
        self.C = float(C)
        reg = np.full(self.d, 1.0 / self.C)
        reg[-1] = 0.0
        self.reg = np.tile(reg, self.m)  # flat, length m*d
        self.size = self.m * self.d

    # --- probabilities -------------------------------------------------------------------
    def logits(self, Xa, theta):
        """Xa (..., n, d), theta (..., m, d) -> (..., n, m)."""
        return Xa @ np.swapaxes(theta, -1, -2)

    def proba(self, Xa, theta):
        """Class probabilities (..., n, K) for augmented features."""
        z = self.logits(Xa, theta)
        if self.m == 1:
            p1 = expit(z[..., 0])
            return np.stack([1.0 - p1, p1], axis=-1)
        return np.exp(log_softmax(z, axis=-1))

    def residual(self, Xa, y, theta):
        """Derivative of the summed loss w.r.t. the logits: (..., n, m)."""
        z = self.logits(Xa, theta)
        if self.m == 1:
            return expit(z) - (y[..., None] == 1)
        P = np.exp(log_softmax(z, axis=-1))
        return P - (y[..., None] == np.arange(self.K))

    def loss_sum(self, Xa, y, theta):
        z = self.logits(Xa, theta)
        if self.m == 1:
            z = z[..., 0]
            return np.sum(np.logaddexp(0.0, z) - (y == 1) * z, axis=-1)
        lp = log_softmax(z, axis=-1)
        return -np.sum(np.take_along_axis(lp, y[..., None], axis=-1)[..., 0], axis=-1)

    def objective(self, Xa, y, theta):
        flat = theta.reshape(theta.shape[:-2] + (self.size,))
        value = self.loss_sum(Xa, y, theta) + 0.5 * np.sum(self.reg * flat**2, axis=-1)
        if self.m > 1:
            value = value + 0.5 * theta[..., :, -1].sum(axis=-1) ** 2
        return value

    def gradient(self, Xa, y, theta):
        """Flat gradient (..., m*d) of the objective."""
        R = self.residual(Xa, y, theta)
        G = np.swapaxes(R, -1, -2) @ Xa  # (..., m, d)
        flat = G.reshape(G.shape[:-2] + (self.size,)) + self.reg * theta.reshape(
            theta.shape[:-2] + (self.size,)
        )
        if self.m > 1:
            flat = flat + self._intercept_vector() * theta[..., :, -1].sum(axis=-1)[..., None]
        return flat

    def _intercept_vector(self):
        u = np.zeros((self.m, self.d))
        u[:, -1] = 1.0
        return u.ravel()

    def curvature(self, Xa, theta):
        """Per-sample Hessian of the loss w.r.t. the logits: (n,) binary, (n, K, K) multinomial."""
        z = self.logits(Xa, theta)
        if self.m == 1:
            s = expit(z[..., 0])
            return s * (1.0 - s)
        P = np.exp(log_softmax(z, axis=-1))
        return P[..., :, None] * (np.eye(self.K) - P[..., None, :])

    def hessian(self, Xa, theta):
        """Full Hessian (m*d, m*d) of the objective for one dataset (Xa 2-D, theta (m, d))."""
        n, d, m = Xa.shape[0], self.d, self.m
        if m == 1:
            S = self.curvature(Xa, theta)
            H = (Xa * S[:, None]).T @ Xa
        else:
            # sum_i (diag(p_i) - p_i p_i^T) (x) x_i x_i^T = blockdiag_a(X^T diag(p_a) X) - B^T B,
            # with B = [p_ia x_i]_(i, (a, j)): one large symmetric product instead of K^2 small ones
            P = self.proba(Xa, theta)
            B = (P[:, :, None] * Xa[:, None, :]).reshape(n, m * d)
            H = -(B.T @ B)
            blocks = np.swapaxes(B.reshape(n, m, d), 0, 1)  # (m, n, d)
            for a in range(m):
                H[a * d:(a + 1) * d, a * d:(a + 1) * d] += blocks[a].T @ Xa
        H[np.diag_indices_from(H)] += self.reg
        if m > 1:
            u = self._intercept_vector()
            H += np.outer(u, u)
        return H

    def newton(self, Xa, y, theta0=None, *, tol=1e-12, max_iter=100):
        """Minimize the objective for one dataset by damped Newton. Returns (theta, info)."""
        theta = np.zeros((self.m, self.d)) if theta0 is None else np.array(theta0, dtype=float)
        f = self.objective(Xa, y, theta)
        for it in range(1, max_iter + 1):
            g = self.gradient(Xa, y, theta)
            H = self.hessian(Xa, theta)
            step = cho_solve(cho_factor(H), g).reshape(self.m, self.d)
            decrement = float(np.dot(g, step.ravel()))  # Newton decrement lambda^2
            t = 1.0
            if decrement > 1e-8:  # far from the optimum: backtracking (Armijo) line search
                while t > 1e-10:
                    f_new = self.objective(Xa, y, theta - t * step)
                    if f_new <= f - 1e-4 * t * decrement:
                        break
                    t *= 0.5
            # near the optimum the full step is taken: there the objective's rounding error
            # (~1e-16 |f|) exceeds the decrease, and a line search would stall spuriously
            theta = theta - t * step
            f = self.objective(Xa, y, theta)
            if t == 1.0 and np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(theta))):
                return theta, {"n_iter": it, "converged": True}
        return theta, {"n_iter": max_iter, "converged": False}


def augment(X):
    """Append a column of ones (intercept)."""
    X = np.asarray(X, dtype=float)
    return np.concatenate([X, np.ones(X.shape[:-1] + (1,))], axis=-1)


class ExactLogisticRegression(ClassifierMixin, BaseEstimator):
    """L2 logistic regression with scikit-learn's objective, solved to machine precision.

    Same objective as ``sklearn.linear_model.LogisticRegression(C=C)`` (binary: sigmoid,
    multiclass: multinomial softmax; intercept unpenalized; sum of log losses), but solved by
    Newton's method until the step is below ``tol`` relative to the parameters.

    Parameters
    ----------
    C : inverse regularization strength (as in scikit-learn).
    tol : relative step-size tolerance of Newton's method.
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

    def fit_predict_proba(self, X_train, y_train, X_eval, n_classes: int):
        model = clone(self.estimator).fit(X_train, y_train)
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
