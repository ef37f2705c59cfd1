"""Aggregate (Hestness-style) data scaling: learning curves, power-law forms, economics.

MATH.md Section 1; Hestness et al. 2017, "Deep Learning Scaling is Predictable, Empirically"
(as presented in the lecture slides ``shared/seeds/002_e9241da2ce04aa7d.txt``).

* :func:`learning_curve` runs the Hestness protocol: nested training shards in powers of two
  of the pool (or any sizes), one held-out test set, any scikit-learn classifier, several
  seeds; it records test cross-entropy and error rate.
* Fitting forms, each a scikit-learn style estimator (``fit(x, y)`` returns self,
  ``params_``, ``predict(x)`` for any ``x > 0``, ``summary()`` with standard errors and
  confidence intervals):

  - :class:`PowerLaw`: ``eps = a m^b`` (OLS on logs with statsmodels);
  - :class:`OffsetPowerLaw`: ``eps = eps_inf + a m^b`` (irreducible error);
  - :class:`M4Law`: Alabdulmohsin et al. 2022,
    ``(eps - eps_inf) / (eps_0 - eps)^alpha = beta m^c``;
  - :class:`BrokenPowerLaw`: Caballero et al. 2022 with one break,
    ``eps = a + b m^(-c0) (1 + (m/d)^(1/f))^(-c1 f)``.

  All forms are fitted by least squares on ``log eps`` (relative errors; for the pure power law
  this is exactly OLS on logs). Non-linear forms do not rely on one starting point: the linear
  parameters are profiled out (variable projection, non-negative least squares) on a grid of
  the non-linear ones, and the best grid points (plus an optional user ``init``) are polished
  with bounded :func:`scipy.optimize.least_squares`; ``fit_info_`` reports how many polished
  starts agree with the optimum, and a :class:`FitError` is raised when none converges.
* :func:`extrapolation_score`, :func:`compare_forms`, :func:`compare_forms_on_curves`: judge a
  form by fitting on the smaller sizes and scoring the larger ones by log-RMSE (MATH.md Section
  1, "Is it really a power law?"), with AIC/BIC beside.
* :func:`coin_learning_curve`: the counting (coin-flip) model of Hestness's appendix; squared
  error has slope -1 and absolute error slope -1/2 in log-log.
* :func:`data_needed`: the data needed to reach a target error under a fitted form, with an
  interval, and a flag when the target lies below the fitted irreducible error (flat zone).

For the individual-point link (MATH.md Section 2), every form offers ``predict(k)`` for any
``k``, ``derivative(k)`` and ``difference(k)`` = ``eps(k) - eps(k+1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from scipy.optimize import brentq, least_squares, nnls
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import log_loss

__all__ = [
    "FitError",
    "LearningCurveResult",
    "shard_sizes",
    "learning_curve",
    "PowerLaw",
    "OffsetPowerLaw",
    "M4Law",
    "BrokenPowerLaw",
    "FORMS",
    "default_forms",
    "FitSummary",
    "ExtrapolationScore",
    "FormComparison",
    "extrapolation_score",
    "compare_forms",
    "compare_forms_on_curves",
    "CoinCurveResult",
    "coin_learning_curve",
    "DataNeeded",
    "data_needed",
]


class FitError(RuntimeError):
    """A non-linear scaling-law fit failed from every starting point."""


# --------------------------------------------------------------------------------------------
# Learning curves (Hestness protocol)
# --------------------------------------------------------------------------------------------


def shard_sizes(n_pool: int, *, min_size: int = 1, n_sizes: int | None = None) -> np.ndarray:
    """Hestness shard sizes: ``floor(n_pool / 2^j)``, j = 0, 1, ..., ascending.

    Stops before a size drops below ``min_size`` or after ``n_sizes`` sizes (the largest
    ones are kept). Hestness et al. use fractions 0.1%, 0.2%, 0.4%, ... of the training set
    (MATH.md Section 1).
    """
    n_pool = int(n_pool)
    if n_pool < 1:
        raise ValueError(f"n_pool must be a positive integer; got {n_pool}.")
    if min_size < 1 or min_size > n_pool:
        raise ValueError(f"min_size must be in [1, n_pool={n_pool}]; got {min_size}.")
    sizes = []
    j = 0
    while n_pool // 2**j >= min_size:
        sizes.append(n_pool // 2**j)
        j += 1
        if n_sizes is not None and len(sizes) >= n_sizes:
            break
    return np.array(sorted(set(sizes)), dtype=np.int64)


@dataclass
class LearningCurveResult:
    """Test metrics of one model family trained on nested shards of a pool.

    ``table`` is tidy: one row per (seed, size) with columns ``seed, size`` and one column per
    metric (``cross_entropy`` = mean test log loss in nats, ``error_rate`` = test 0-1 error).
    """

    table: pd.DataFrame
    metrics: tuple
    estimator: str
    dataset: str
    n_pool: int
    n_test: int
    n_classes: int

    @property
    def sizes(self) -> np.ndarray:
        return np.sort(self.table["size"].unique())

    def aggregate(self) -> pd.DataFrame:
        """Mean, standard deviation and standard error over seeds, one row per size."""
        g = self.table.groupby("size")[list(self.metrics)]
        out = pd.concat({"mean": g.mean(), "std": g.std(ddof=1), "sem": g.sem()}, axis=1)
        out.columns = [f"{m}_{s}" for s, m in out.columns]
        out["n_seeds"] = self.table.groupby("size").size()
        return out

    def curve(self, metric: str = "cross_entropy") -> tuple[np.ndarray, np.ndarray]:
        """``(sizes, mean metric over seeds)``, ready for a fitting form's ``fit``."""
        if metric not in self.metrics:
            raise ValueError(f"Unknown metric {metric!r}; this result has {self.metrics}.")
        means = self.table.groupby("size")[metric].mean()
        return means.index.to_numpy(dtype=float), means.to_numpy(dtype=float)

    def __repr__(self) -> str:
        return (
            f"LearningCurveResult({self.estimator} on {self.dataset}: sizes "
            f"{self.sizes.tolist()}, {self.table['seed'].nunique()} seeds, metrics "
            f"{list(self.metrics)})"
        )


def _stratified_order(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random order of the pool whose every prefix is (nearly) class-proportional.

    One random point of each class comes first (so any prefix of length >= K holds every
    class); the rest is ordered by the systematic key ``(rank within class + U) / n_class``.
    """
    classes = np.unique(y)
    key = np.empty(len(y))
    first = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        first.append(idx[0])
        key[idx] = (np.arange(len(idx)) + rng.random(len(idx))) / len(idx)
    first = np.array(first)[rng.permutation(len(first))]
    rest = np.setdiff1d(np.arange(len(y)), first)
    rest = rest[np.argsort(key[rest], kind="stable")]
    return np.concatenate([first, rest])


def _fit_and_score(estimator, X_train, y_train, X_test, y_test, n_classes, scoring):
    est = estimator.fit(X_train, y_train)
    proba = est.predict_proba(X_test)
    classes = np.asarray(getattr(est, "classes_", np.arange(proba.shape[1])))
    full = np.zeros((X_test.shape[0], n_classes))
    full[:, classes.astype(int)] = proba
    row = {
        "cross_entropy": float(log_loss(y_test, full, labels=np.arange(n_classes))),
        "error_rate": float(np.mean(np.argmax(full, axis=1) != y_test)),
    }
    for name, fun in (scoring or {}).items():
        row[name] = float(fun(y_test, full))
    return row


def learning_curve(
    estimator,
    data,
    *,
    sizes=None,
    min_size: int | None = None,
    n_seeds: int = 3,
    stratify: bool = True,
    scoring: dict | None = None,
    random_state: int | None = 0,
    n_jobs: int | None = 1,
    progress: bool = False,
) -> LearningCurveResult:
    """Hestness learning curve: test loss of ``estimator`` trained on nested pool shards.

    Protocol (MATH.md Section 1; Hestness et al. 2017, Section 4): for each seed, the pool is
    put in a random order and the training sets are its prefixes (nested shards) of sizes
    ``n_pool / 2^j`` (``sizes=None``) or the given ``sizes`` (any integers); every model is
    scored on the same held-out test set by cross-entropy (mean log loss, nats) and error
    rate, plus optional ``scoring`` callables ``f(y_true, proba) -> float``.

    Parameters
    ----------
    estimator : scikit-learn classifier with ``predict_proba`` (cloned for every fit; if it
        has a ``random_state`` parameter it is set from ``random_state`` and the seed).
    data : a :class:`scaling_kit.datasets.Dataset` or a tuple
        ``(X_pool, y_pool, X_test, y_test)`` with integer labels ``0..K-1``.
    sizes : None (powers of two of the pool, down to ``min_size``) or an array of sizes.
    min_size : smallest shard for ``sizes=None``; default ``max(2 K, 8)`` (at most the pool).
    stratify : order the pool so every prefix is class-proportional and every shard of at
        least K points contains every class (needed for a finite cross-entropy).
    n_jobs, progress : joblib parallelism and a tqdm progress bar. The shard orders are drawn
        up front from ``random_state``, so every ``n_jobs`` fits the same shards; results agree
        up to the rounding of differently threaded BLAS in worker processes (far below the
        solver's tolerance).
    """
    X_pool, y_pool, X_test, y_test, name = _unpack_data(data)
    n_classes = int(max(y_pool.max(), y_test.max()) + 1)
    if len(np.unique(y_pool)) < n_classes:
        raise ValueError("The pool must contain every class 0..K-1 that appears in the data.")
    if not hasattr(estimator, "predict_proba"):
        raise ValueError(
            f"{type(estimator).__name__} has no predict_proba; cross-entropy needs class "
            "probabilities (e.g. use SVC(probability=True))."
        )
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be >= 1; got {n_seeds}.")
    n_pool = X_pool.shape[0]
    if sizes is None:
        if min_size is None:
            min_size = min(max(2 * n_classes, 8), n_pool)
        sizes = shard_sizes(n_pool, min_size=int(min_size))
    else:
        sizes = np.asarray(sizes)
        if sizes.ndim != 1 or sizes.size == 0 or not np.all(np.isfinite(sizes)):
            raise ValueError("sizes must be a non-empty 1-D array of finite integers.")
        if np.any(sizes != np.round(sizes)) or np.any(sizes < 1) or np.any(sizes > n_pool):
            raise ValueError(f"sizes must be integers in [1, n_pool={n_pool}]; got {sizes}.")
        sizes = np.unique(sizes.astype(np.int64))
    if stratify and sizes.min() < n_classes:
        raise ValueError(
            f"The smallest size {sizes.min()} is below the number of classes {n_classes}; "
            "every shard must hold each class. Use larger sizes."
        )

    seqs = np.random.SeedSequence(random_state).spawn(int(n_seeds))
    orders, est_seeds = [], []
    for seq in seqs:
        rng = np.random.default_rng(seq)
        orders.append(_stratified_order(y_pool, rng) if stratify else rng.permutation(n_pool))
        est_seeds.append(int(rng.integers(2**31 - 1)))
    has_rs = "random_state" in estimator.get_params()

    def make(seed_idx):
        est = clone(estimator)
        if has_rs:
            est.set_params(random_state=est_seeds[seed_idx])
        return est

    tasks = [(s, int(m)) for s in range(int(n_seeds)) for m in sizes]
    jobs = (
        delayed(_fit_and_score)(
            make(s), X_pool[orders[s][:m]], y_pool[orders[s][:m]], X_test, y_test, n_classes,
            scoring,
        )
        for s, m in tasks
    )
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    rows = runner(jobs)
    if progress:
        from tqdm import tqdm

        rows = tqdm(rows, total=len(tasks), desc="learning curve")
    rows = list(rows)
    table = pd.DataFrame(
        [{"seed": s, "size": m, **row} for (s, m), row in zip(tasks, rows, strict=True)]
    )
    metrics = ("cross_entropy", "error_rate", *tuple(scoring or {}))
    return LearningCurveResult(
        table=table,
        metrics=metrics,
        estimator=type(estimator).__name__,
        dataset=name,
        n_pool=n_pool,
        n_test=X_test.shape[0],
        n_classes=n_classes,
    )


def _unpack_data(data):
    if hasattr(data, "X_pool"):
        parts = (data.X_pool, data.y_pool, data.X_test, data.y_test)
        name = getattr(data, "name", "dataset")
    else:
        try:
            parts = tuple(data)
        except TypeError:
            parts = ()
        if len(parts) != 4:
            raise ValueError("data must be a Dataset or a tuple (X_pool, y_pool, X_test, y_test).")
        name = "arrays"
    X_pool, y_pool, X_test, y_test = (np.asarray(p) for p in parts)
    for X, y, what in ((X_pool, y_pool, "pool"), (X_test, y_test, "test")):
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"{what}: X must be 2-D and y 1-D with as many rows; got {X.shape}, {y.shape}."
            )
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{what} features contain NaN or infinite values.")
        if y.dtype.kind not in "iu" or y.min() < 0:
            raise ValueError(f"{what} labels must be integers 0..K-1 (see np.unique).")
    if X_pool.shape[1] != X_test.shape[1]:
        raise ValueError("Pool and test features have different numbers of columns.")
    return X_pool, y_pool.astype(np.int64), X_test, y_test.astype(np.int64), name


# --------------------------------------------------------------------------------------------
# Fitting forms
# --------------------------------------------------------------------------------------------


def _check_x(x, what="x"):
    x = np.asarray(x, dtype=float)
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1:
        raise ValueError(f"{what} must be 1-D; got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contains NaN or infinite values.")
    if np.any(x <= 0):
        raise ValueError(f"{what} (dataset sizes) must be positive; got min {x.min()}.")
    return x


def _check_xy(x, y, min_points: int, form: str):
    x = _check_x(x, "x (dataset sizes)")
    y = np.asarray(y, dtype=float)
    if y.ndim == 0:
        y = y.reshape(1)
    if y.shape != x.shape:
        raise ValueError(f"x and y must have the same shape; got {x.shape} and {y.shape}.")
    if not np.all(np.isfinite(y)):
        raise ValueError("y (losses) contains NaN or infinite values.")
    if np.any(y <= 0):
        raise ValueError(
            f"y (losses) must be positive for a log-scale fit; got min {y.min()}. "
            "Use an error or loss, not a score, and drop exact zeros."
        )
    if len(np.unique(x)) < min_points:
        raise ValueError(
            f"{form} has {min_points - 1} parameters and needs at least {min_points} distinct "
            f"sizes (one residual degree of freedom); got {len(np.unique(x))}."
        )
    return x, y


@dataclass
class FitSummary:
    """Parameter table of a fitted form (statsmodels-like ``summary()``)."""

    form: str
    formula: str
    table: pd.DataFrame
    n_obs: int
    log_rmse: float
    aic: float
    bic: float
    fit_info: dict

    def __str__(self) -> str:
        head = (
            f"{self.form}: {self.formula}\n"
            f"n = {self.n_obs}, in-sample log-RMSE = {self.log_rmse:.4g}, "
            f"AIC = {self.aic:.4g}, BIC = {self.bic:.4g}\n"
        )
        info = ", ".join(f"{k} = {v}" for k, v in self.fit_info.items() if k != "costs")
        return head + self.table.to_string(float_format=lambda v: f"{v:.6g}") + f"\n[{info}]"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<pre>{self}</pre>"


class _ScalingForm(BaseEstimator):
    """Shared machinery: validation, log-space objective, uncertainty, derivative, summary.

    Subclasses define ``param_names``, ``formula``, ``_log_f(theta, x)`` (log of the curve at
    public parameters ``theta``) and ``_fit_theta(x, y) -> (theta, info)``.
    """

    param_names: tuple = ()
    formula: str = ""
    display_name: str = ""

    # ---- public API ---------------------------------------------------------------------
    @classmethod
    def from_params(cls, **params):
        """A form with given parameters (no fit; e.g. to simulate a curve). No intervals."""
        missing = set(cls.param_names) - set(params)
        extra = set(params) - set(cls.param_names)
        if missing or extra:
            raise ValueError(f"{cls.__name__} needs exactly {cls.param_names}; got {params}.")
        obj = cls()
        obj._theta = np.array([float(params[k]) for k in cls.param_names])
        obj.params_ = dict(zip(cls.param_names, obj._theta.tolist(), strict=True))
        obj.cov_ = None
        return obj

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def fit(self, x, y):
        """Fit by least squares on ``log y`` (see the class docstring); returns self."""
        x, y = _check_xy(x, y, self.n_params + 1, type(self).__name__)
        theta, info = self._fit_theta(x, y)
        if not np.all(np.isfinite(theta)):
            raise FitError(f"{type(self).__name__}: the fit produced non-finite parameters.")
        self._theta = np.asarray(theta, dtype=float)
        self.params_ = dict(zip(self.param_names, self._theta.tolist(), strict=True))
        self.fit_info_ = info
        self._finish(x, y)
        return self

    def predict(self, x):
        """The fitted curve ``eps(x)`` at any positive sizes ``x``."""
        self._check_fitted()
        return np.exp(self._log_f(self._theta, _check_x(x)))

    def derivative(self, x):
        """``d eps / d m`` at ``x`` (central difference in log m unless overridden)."""
        self._check_fitted()
        x = _check_x(x)
        h = 1e-5
        lf_p = self._log_f(self._theta, x * math.exp(h))
        lf_m = self._log_f(self._theta, x * math.exp(-h))
        return np.exp(self._log_f(self._theta, x)) * (lf_p - lf_m) / (2 * h) / x

    def difference(self, k, step: float = 1.0):
        """``eps(k) - eps(k + step)``: the mean gain of adding ``step`` points at size ``k``.

        MATH.md Section 2: averaged over z, the marginal contribution equals eps(k) - eps(k+1).
        """
        k = _check_x(k, "k")
        return self.predict(k) - self.predict(k + step)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals ``estimate +- t_{n-p} * se`` (delta method, log-space residuals)."""
        self._check_fitted(need_cov=True)
        t = stats.t.ppf(1 - alpha / 2, self.df_resid_)
        se = np.sqrt(np.clip(np.diag(self.cov_), 0, None))
        return pd.DataFrame(
            {"lower": self._theta - t * se, "upper": self._theta + t * se},
            index=list(self.param_names),
        )

    def predict_interval(self, x, alpha: float = 0.05):
        """Pointwise ``(lower, upper)`` confidence band of the fitted curve (delta method on
        ``log eps``, t quantile with ``n - p`` degrees of freedom)."""
        self._check_fitted(need_cov=True)
        x = _check_x(x)
        lf = self._log_f(self._theta, x)
        G = self._log_f_grad(x)
        se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", G, self.cov_, G), 0, None))
        t = stats.t.ppf(1 - alpha / 2, self.df_resid_)
        return np.exp(lf - t * se), np.exp(lf + t * se)

    @property
    def irreducible_error(self) -> float:
        """The limit of the fitted curve as ``m -> inf`` (0 for the pure power law)."""
        self._check_fitted()
        return float(self._floor(self._theta))

    def irreducible_error_interval(self, alpha: float = 0.05) -> tuple[float, float]:
        """Confidence interval of the irreducible error (``(0, 0)`` for the pure power law)."""
        if self._floor_name is None:
            return (0.0, 0.0)
        ci = self.conf_int(alpha).loc[self._floor_name]
        return float(max(ci["lower"], 0.0)), float(ci["upper"])

    def summary(self, alpha: float = 0.05) -> FitSummary:
        """Estimates, standard errors, ``1 - alpha`` intervals, and whether at a bound."""
        self._check_fitted(need_cov=True)
        ci = self.conf_int(alpha)
        table = pd.DataFrame(
            {
                "estimate": self._theta,
                "std_err": np.sqrt(np.clip(np.diag(self.cov_), 0, None)),
                f"[{alpha / 2:g}": ci["lower"].to_numpy(),
                f"{1 - alpha / 2:g}]": ci["upper"].to_numpy(),
                "at_bound": [p in self.at_bound_ for p in self.param_names],
            },
            index=pd.Index(list(self.param_names), name="param"),
        )
        return FitSummary(
            form=self.display_name,
            formula=self.formula,
            table=table,
            n_obs=self.n_obs_,
            log_rmse=self.log_rmse_,
            aic=self.aic_,
            bic=self.bic_,
            fit_info=self.fit_info_,
        )

    # ---- internals ----------------------------------------------------------------------
    _floor_name: str | None = None

    def _floor(self, theta):
        return 0.0 if self._floor_name is None else theta[self.param_names.index(self._floor_name)]

    def _check_fitted(self, need_cov: bool = False):
        if not hasattr(self, "params_"):
            raise ValueError(f"This {type(self).__name__} is not fitted yet; call fit(x, y).")
        if need_cov and getattr(self, "cov_", None) is None:
            raise ValueError("No uncertainty: this form was built with from_params, not fit.")

    def _log_f_grad(self, x):
        """Jacobian of ``log eps(x)`` w.r.t. the public parameters (central differences)."""
        theta = self._theta
        G = np.empty((len(x), len(theta)))
        for j in range(len(theta)):
            h = 1e-6 * max(abs(theta[j]), 1e-4)
            tp, tm = theta.copy(), theta.copy()
            tp[j] += h
            tm[j] -= h
            G[:, j] = (self._log_f(tp, x) - self._log_f(tm, x)) / (2 * h)
        return G

    def _finish(self, x, y):
        resid = np.log(y) - self._log_f(self._theta, x)
        n, p = len(y), self.n_params
        rss = float(resid @ resid)
        self.n_obs_ = n
        self.df_resid_ = n - p
        self.resid_ = resid
        self.log_rmse_ = math.sqrt(rss / n)
        # Gaussian log-likelihood of the log residuals, as statsmodels' OLS.llf.
        sigma2 = max(rss / n, 1e-300)
        self.llf_ = -0.5 * n * (math.log(2 * math.pi * sigma2) + 1.0)
        self.aic_ = -2 * self.llf_ + 2 * p
        self.bic_ = -2 * self.llf_ + math.log(n) * p
        if not isinstance(self, PowerLaw):  # PowerLaw takes statsmodels' covariance
            G = self._log_f_grad(x)
            scale = np.where(np.abs(self._theta) > 0, np.abs(self._theta), 1.0)
            Gs = G * scale
            s2 = rss / max(n - p, 1)
            self.cov_ = s2 * np.linalg.pinv(Gs.T @ Gs) * np.outer(scale, scale)
        self.bse_ = dict(
            zip(self.param_names, np.sqrt(np.clip(np.diag(self.cov_), 0, None)).tolist(),
                strict=True)
        )

    # ---- robust non-linear fitting --------------------------------------------------------
    def _multistart(self, x, y, starts, internal_log_f, bounds, to_public, jac="2-point"):
        """Polish each internal start with bounded least squares on log residuals."""
        ly = np.log(y)
        results = []
        for z0 in starts:
            z0 = np.clip(z0, bounds[0] + 1e-12, bounds[1] - 1e-12)
            try:
                res = least_squares(
                    lambda z: internal_log_f(z, x) - ly,
                    z0,
                    jac=jac,
                    bounds=bounds,
                    method="trf",
                    x_scale="jac",
                    max_nfev=1000,
                )
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                continue
            if np.all(np.isfinite(res.fun)) and np.all(np.isfinite(res.x)):
                results.append(res)
        if not results:
            raise FitError(
                f"{type(self).__name__}: least squares failed from all {len(starts)} starts. "
                "Check that the curve decreases and has several points per decade, or use a "
                "form with fewer parameters."
            )
        costs = np.array([2 * r.cost for r in results])
        best = results[int(np.argmin(costs))]
        tol = 1e-6 * (1 + costs.min()) + 1e-4 * costs.min()
        lo, hi = bounds
        at_bound = np.isclose(best.x, lo, rtol=0, atol=1e-8) | np.isclose(
            best.x, hi, rtol=0, atol=1e-8
        )
        info = {
            "method": "variable projection grid + least_squares polish (log residuals)",
            "n_starts": len(starts),
            "n_converged": len(results),
            "n_agree": int(np.sum(costs <= costs.min() + tol)),
            "best_rss": float(costs.min()),
            "costs": np.sort(costs).tolist(),
        }
        theta = to_public(best.x)
        # internal parameters map one-to-one (same order) onto the public ones
        self.at_bound_ = [p for p, b in zip(self.param_names, at_bound, strict=True) if b]
        return theta, info


def _top_starts(costs, starts, n):
    costs = np.asarray(costs, dtype=float)
    ok = np.flatnonzero(np.isfinite(costs))
    order = ok[np.argsort(costs[ok], kind="stable")]
    return [starts[i] for i in order[:n]]


class PowerLaw(_ScalingForm):
    """Pure power law ``eps(m) = a m^b`` (Hestness et al. 2017; MATH.md Section 1).

    Fitted by OLS of ``log eps`` on ``log m`` with statsmodels (``result_`` holds the
    statsmodels results). ``params_ = {"a": ..., "b": ...}``; the interval of ``a`` is
    ``exp`` of the interval of ``log a``. The derivative is ``a b m^(b-1)``.
    """

    param_names = ("a", "b")
    formula = "eps = a * m^b"
    display_name = "power law"

    def _log_f(self, theta, x):
        a, b = theta
        with np.errstate(divide="ignore"):
            return np.log(a) + b * np.log(x)

    def _fit_theta(self, x, y):
        import statsmodels.api as sm

        X = sm.add_constant(np.log(x))
        res = sm.OLS(np.log(y), X).fit()
        self.result_ = res
        la, b = res.params
        a = math.exp(la)
        D = np.diag([a, 1.0])  # delta method from (log a, b) to (a, b)
        self.cov_ = D @ res.cov_params() @ D
        self.at_bound_ = []
        return np.array([a, b]), {"method": "OLS on logs (statsmodels)", "r_squared": res.rsquared}

    def fit(self, x, y):
        self.cov_ = None
        return super().fit(x, y)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        self._check_fitted(need_cov=True)
        ci = np.asarray(self.result_.conf_int(alpha))
        return pd.DataFrame(
            {"lower": [math.exp(ci[0, 0]), ci[1, 0]], "upper": [math.exp(ci[0, 1]), ci[1, 1]]},
            index=list(self.param_names),
        )

    def derivative(self, x):
        self._check_fitted()
        x = _check_x(x)
        a, b = self._theta
        return a * b * x ** (b - 1)


class OffsetPowerLaw(_ScalingForm):
    """Power law with irreducible error ``eps(m) = eps_inf + a m^b`` (MATH.md Section 1).

    Fit: minimize ``sum_i (log y_i - log eps(m_i))^2``. For each exponent ``b`` on a grid of
    ``n_grid`` values in ``exponent_bounds``, the linear parameters ``(eps_inf, a) >= 0`` are
    profiled out by non-negative least squares on relative residuals (variable projection);
    the ``n_polish`` best grid points, plus ``init`` (a dict of parameters) if given, are
    polished with bounded least squares on log residuals.
    """

    param_names = ("eps_inf", "a", "b")
    formula = "eps = eps_inf + a * m^b"
    display_name = "power law + offset"
    _floor_name = "eps_inf"
    _internal_names = ("eps_inf", "a", "b")

    def __init__(self, exponent_bounds=(-5.0, 0.0), n_grid: int = 40, n_polish: int = 6,
                 init=None):
        self.exponent_bounds = exponent_bounds
        self.n_grid = n_grid
        self.n_polish = n_polish
        self.init = init

    def _log_f(self, theta, x):
        e, a, b = theta
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(e + a * x**b)

    def derivative(self, x):
        self._check_fitted()
        x = _check_x(x)
        _, a, b = self._theta
        return a * b * x ** (b - 1)

    def _fit_theta(self, x, y):
        lo_b, hi_b = self.exponent_bounds
        if not lo_b < hi_b:
            raise ValueError(f"exponent_bounds must be (low, high) with low < high; got "
                             f"{self.exponent_bounds}.")
        if int(self.n_grid) < 2 or int(self.n_polish) < 1:
            raise ValueError("n_grid must be >= 2 and n_polish >= 1.")
        xref = math.exp(np.mean(np.log(x)))
        u = x / xref
        lu = np.log(u)
        grid = np.linspace(lo_b, hi_b, int(self.n_grid))
        starts, costs = [], []
        for b in grid:
            A = np.column_stack([np.ones_like(u), np.exp(b * lu)]) / y[:, None]
            (e, a), rn = nnls(A, np.ones_like(y))
            starts.append(np.array([e, math.log(max(a, 1e-12)), b]))
            costs.append(rn)
        starts = _top_starts(costs, starts, int(self.n_polish))
        if self.init is not None:
            p = self._check_init(self.init)
            starts.append(np.array([p[0], math.log(max(p[1] * xref ** p[2], 1e-300)), p[2]]))

        def ilog_f(z, _x):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                return np.log(z[0] + np.exp(z[1] + z[2] * lu))

        bounds = (np.array([0.0, -np.inf, lo_b]), np.array([np.inf, np.inf, hi_b]))

        def to_public(z):
            return np.array([z[0], math.exp(z[1]) * xref ** (-z[2]), z[2]])

        return self._multistart(x, y, starts, ilog_f, bounds, to_public)

    def _check_init(self, init):
        try:
            return np.array([float(init[k]) for k in self.param_names])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"init must be a dict with keys {self.param_names}.") from exc


class M4Law(_ScalingForm):
    """Alabdulmohsin et al. (2022) M4: ``(eps - eps_inf) / (eps_0 - eps)^alpha = beta m^c``.

    ``eps_inf`` is the irreducible error, ``eps_0`` the small-data (random-guess) level,
    ``c < 0`` the power-law exponent (MATH.md Section 1). ``eps(m)`` is the unique root in
    ``(eps_inf, eps_0)`` of the implicit equation (increasing left-hand side for
    ``alpha > 0``), found elementwise by safeguarded Newton iterations on the
    logit of ``s = (eps - eps_inf) / (eps_0 - eps_inf)``. ``alpha = 1`` gives the sigmoid in
    ``log m`` with all three regions.

    Fit: a grid over ``(eps_inf, eps_0, alpha)`` in which ``(log beta, c)`` are profiled out
    by OLS of ``log(y - eps_inf) - alpha log(eps_0 - y)`` on ``log m`` (the model's
    linearization), ranked by the log-space objective; the ``n_polish`` best (plus ``init``)
    are polished with bounded least squares and an implicit-function Jacobian.
    """

    param_names = ("eps_inf", "eps_0", "alpha", "beta", "c")
    formula = "(eps - eps_inf) / (eps_0 - eps)^alpha = beta * m^c"
    display_name = "M4"
    _floor_name = "eps_inf"
    _internal_names = ("eps_inf", "log(eps_0-eps_inf)", "alpha", "log beta", "c")

    def __init__(self, alpha_bounds=(0.01, 10.0), exponent_bounds=(-5.0, 0.0),
                 n_polish: int = 6, init=None):
        self.alpha_bounds = alpha_bounds
        self.exponent_bounds = exponent_bounds
        self.n_polish = n_polish
        self.init = init

    @staticmethod
    def _solve_t(r, alpha):
        """Solve ``h(t) = t + (alpha - 1) softplus(t) = r`` for t (the logit of s).

        ``h`` is increasing with ``h' = 1 + (alpha - 1) expit(t)`` between ``min(1, alpha)``
        and ``max(1, alpha)``, and convex (alpha > 1) or concave (alpha < 1), so Newton's method
        from ``t = r`` converges monotonically after at most one step; a bracket
        ``[-B, B]`` guards it. Vectorized (called at every least-squares evaluation; much faster
        than a general root finder on these tiny arrays); the residual is checked at the end.
        """
        r, alpha = np.broadcast_arrays(np.asarray(r, float), np.asarray(alpha, float))
        B = (np.abs(r) + 2.0) / np.minimum(alpha, 1.0) + 2.0
        t = np.clip(r, -B, B)
        for _ in range(100):
            s = expit(t)
            g = t + (alpha - 1.0) * np.logaddexp(0.0, t) - r
            step = g / (1.0 + (alpha - 1.0) * s)
            t = np.clip(t - step, -B, B)
            if np.all(np.abs(step) <= 1e-14 * (1.0 + np.abs(t))):
                break
        g = t + (alpha - 1.0) * np.logaddexp(0.0, t) - r
        if not np.all(np.abs(g) <= 1e-9 * (1.0 + np.abs(r))):
            return np.full(t.shape, np.nan)
        return t

    def _internal_log_f_and_t(self, z, lu):
        e, lD, alpha, lb, c = z
        r = lb + c * lu + (alpha - 1.0) * lD
        t = self._solve_t(r, alpha)
        eps = e + np.exp(lD + log_expit(t))
        return np.log(eps), t, eps

    def _log_f(self, theta, x):
        e, e0, alpha, beta, c = theta
        if not (e0 > e and alpha > 0 and beta > 0):
            return np.full(np.shape(x), np.nan)
        z = np.array([e, math.log(e0 - e), alpha, math.log(beta), c])
        return self._internal_log_f_and_t(z, np.log(x))[0]

    def _internal_jac(self, z, lu):
        e, lD, alpha, lb, c = z
        _, t, eps = self._internal_log_f_and_t(z, lu)
        s = expit(t)
        hp = 1.0 + (alpha - 1.0) * s  # dh/dt > 0
        D = math.exp(lD)
        dt = {
            "lD": (alpha - 1.0) / hp,
            "alpha": (lD - np.logaddexp(0.0, t)) / hp,
            "lb": 1.0 / hp,
            "c": lu / hp,
        }
        ds = s * (1 - s)
        J = np.column_stack([
            np.ones_like(t),
            D * s + D * ds * dt["lD"],
            D * ds * dt["alpha"],
            D * ds * dt["lb"],
            D * ds * dt["c"],
        ])
        return J / eps[:, None]

    def _fit_theta(self, x, y):
        lo_a, hi_a = self.alpha_bounds
        lo_c, hi_c = self.exponent_bounds
        if not (0 < lo_a < hi_a):
            raise ValueError(f"alpha_bounds must satisfy 0 < low < high; got {self.alpha_bounds}.")
        if not lo_c < hi_c:
            raise ValueError(f"exponent_bounds must be (low, high), low < high; got "
                             f"{self.exponent_bounds}.")
        xref = math.exp(np.mean(np.log(x)))
        lu = np.log(x / xref)
        ly = np.log(y)
        ymin, ymax = y.min(), y.max()
        starts, costs = [], []
        X = np.column_stack([np.ones_like(lu), lu])
        for fe in (0.0, 0.3, 0.6, 0.8, 0.9, 0.97):
            e = fe * ymin
            for f0 in (1.02, 1.1, 1.3, 1.7, 3.0, 10.0):
                e0 = e + f0 * (ymax - e)
                for alpha in (0.1, 0.3, 0.6, 1.0, 2.0):
                    alpha = float(np.clip(alpha, lo_a, hi_a))
                    zt = np.log(y - e) - alpha * np.log(e0 - y)
                    (lb, c), *_ = np.linalg.lstsq(X, zt, rcond=None)
                    c = float(np.clip(c, lo_c, hi_c))
                    z = np.array([e, math.log(e0 - e), alpha, lb, c])
                    lf = self._internal_log_f_and_t(z, lu)[0]
                    starts.append(z)
                    costs.append(float(np.sum((lf - ly) ** 2)))
        starts = _top_starts(costs, starts, int(self.n_polish))
        if self.init is not None:
            try:
                p = [float(self.init[k]) for k in self.param_names]
            except (KeyError, TypeError) as exc:
                raise ValueError(f"init must be a dict with keys {self.param_names}.") from exc
            if not (p[1] > p[0] and p[3] > 0):
                raise ValueError("init must have eps_0 > eps_inf and beta > 0.")
            starts.append(np.array([p[0], math.log(p[1] - p[0]), p[2],
                                    math.log(p[3]) + p[4] * math.log(xref), p[4]]))
        bounds = (
            np.array([0.0, -np.inf, lo_a, -np.inf, lo_c]),
            np.array([np.inf, np.inf, hi_a, np.inf, hi_c]),
        )

        def to_public(z):
            e, lD, alpha, lb, c = z
            return np.array([e, e + math.exp(lD), alpha, math.exp(lb - c * math.log(xref)), c])

        def ilog_f(z, _x):
            return self._internal_log_f_and_t(z, lu)[0]

        return self._multistart(x, y, starts, ilog_f, bounds, to_public,
                                jac=lambda z: self._internal_jac(z, lu))


class BrokenPowerLaw(_ScalingForm):
    """Broken neural scaling law with one break (Caballero et al. 2022; MATH.md Section 1):

    ``eps(m) = a + b m^(-c0) (1 + (m/d)^(1/f))^(-c1 f)``.

    ``a`` is the irreducible error; the log-log slope of ``eps - a`` is ``-c0`` well before the
    break ``d`` and ``-(c0 + c1)`` well after it; ``f > 0`` sets its sharpness. Fit: a grid
    over ``(c0, c1, d, f)`` with ``(a, b) >= 0`` profiled out by non-negative least squares on
    relative residuals (variable projection); the ``n_polish`` best (plus ``init``) are
    polished with bounded least squares on log residuals. The break is kept within one
    e-fold of the data range.
    """

    param_names = ("a", "b", "c0", "c1", "d", "f")
    formula = "eps = a + b * m^(-c0) * (1 + (m/d)^(1/f))^(-c1*f)"
    display_name = "broken power law"
    _floor_name = "a"
    _internal_names = ("a", "log b", "c0", "c1", "log d", "log f")

    def __init__(self, n_polish: int = 8, init=None):
        self.n_polish = n_polish
        self.init = init

    @staticmethod
    def _core(lu, c0, c1, ld, lf):
        f = np.exp(lf)
        return -c0 * lu - c1 * f * np.logaddexp(0.0, (lu - ld) / f)

    def _log_f(self, theta, x):
        a, b, c0, c1, d, f = theta
        if not (b > 0 and d > 0 and f > 0):
            return np.full(np.shape(x), np.nan)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return np.log(a + np.exp(math.log(b) + self._core(np.log(x), c0, c1, math.log(d),
                                                              math.log(f))))

    def _fit_theta(self, x, y):
        xref = math.exp(np.mean(np.log(x)))
        lu = np.log(x / xref)
        lo_d, hi_d = lu.min() - 1.0, lu.max() + 1.0
        starts, costs = [], []
        for c0 in (0.0, 0.1, 0.25, 0.5, 1.0):
            for c1 in (-0.4, -0.15, 0.1, 0.3, 0.6, 1.0):
                for ld in np.linspace(lu.min() + 0.5, lu.max() - 0.5, 6):
                    for lf in np.log([0.1, 0.5, 2.0]):
                        core = self._core(lu, c0, c1, ld, lf)
                        with np.errstate(over="ignore"):
                            A = np.column_stack([np.ones_like(lu), np.exp(core)]) / y[:, None]
                        if not np.all(np.isfinite(A)):
                            continue
                        (a, b), rn = nnls(A, np.ones_like(y))
                        starts.append(np.array([a, math.log(max(b, 1e-12)), c0, c1, ld, lf]))
                        costs.append(rn)
        starts = _top_starts(costs, starts, int(self.n_polish))
        if self.init is not None:
            try:
                p = [float(self.init[k]) for k in self.param_names]
            except (KeyError, TypeError) as exc:
                raise ValueError(f"init must be a dict with keys {self.param_names}.") from exc
            if not (p[1] > 0 and p[4] > 0 and p[5] > 0):
                raise ValueError("init must have b, d, f > 0.")
            starts.append(np.array([p[0], math.log(p[1]) - p[2] * math.log(xref), p[2], p[3],
                                    math.log(p[4] / xref), math.log(p[5])]))
        bounds = (
            np.array([0.0, -np.inf, 0.0, -5.0, lo_d, math.log(0.01)]),
            np.array([np.inf, np.inf, 5.0, 5.0, hi_d, math.log(20.0)]),
        )

        def ilog_f(z, _x):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                return np.log(z[0] + np.exp(z[1] + self._core(lu, z[2], z[3], z[4], z[5])))

        def to_public(z):
            a, lb, c0, c1, ld, lf = z
            return np.array([a, math.exp(lb + c0 * math.log(xref)), c0, c1,
                             math.exp(ld) * xref, math.exp(lf)])

        return self._multistart(x, y, starts, ilog_f, bounds, to_public)


#: The fitting forms by short name.
FORMS = {
    "power law": PowerLaw,
    "power law + offset": OffsetPowerLaw,
    "M4": M4Law,
    "broken power law": BrokenPowerLaw,
}


def default_forms() -> dict:
    """Fresh, unfitted instances of every form in :data:`FORMS`."""
    return {name: cls() for name, cls in FORMS.items()}


# --------------------------------------------------------------------------------------------
# Judging a form: extrapolation
# --------------------------------------------------------------------------------------------


@dataclass
class ExtrapolationScore:
    """A form fitted on the smaller sizes and scored on the held-out larger ones.

    ``log_rmse = sqrt(mean((log y_pred - log y)^2))`` over the held-out sizes;
    ``relative_error = y_pred / y - 1`` (negative = under-prediction). ``status`` is
    ``"ok"`` or the reason the fit failed (then the scores are NaN and ``form`` is None).
    """

    name: str
    form: object
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    y_pred: np.ndarray
    log_rmse: float
    relative_error: np.ndarray
    status: str = "ok"

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _split(x, y, train, n_holdout):
    x = _check_x(x, "x (dataset sizes)")
    y = np.asarray(y, dtype=float)
    if y.shape != x.shape:
        raise ValueError(f"x and y must have the same shape; got {x.shape} and {y.shape}.")
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise ValueError("y (losses) must be finite and positive.")
    if train is not None:
        train = np.asarray(train, dtype=bool)
        if train.shape != x.shape:
            raise ValueError("train must be a boolean mask with the shape of x.")
        if train.all() or not train.any():
            raise ValueError("train must leave at least one point for fitting and one held out.")
        if x[train].max() >= x[~train].min():
            raise ValueError("Held-out sizes must all be larger than the training sizes "
                             "(extrapolation).")
    else:
        n = len(x)
        if n_holdout is None:
            n_holdout = max(1, n // 4)
        n_holdout = int(n_holdout)
        if not 1 <= n_holdout < n:
            raise ValueError(f"n_holdout must be in [1, {n - 1}]; got {n_holdout}.")
        order = np.argsort(x, kind="stable")
        train = np.ones(n, dtype=bool)
        train[order[-n_holdout:]] = False
    return x, y, train


def extrapolation_score(form, x, y, *, train=None, n_holdout=None, name=None,
                        raise_errors=False) -> ExtrapolationScore:
    """Fit a clone of ``form`` on the smaller sizes, score the larger ones by log-RMSE.

    ``train`` is a boolean mask (True = fit); otherwise the ``n_holdout`` largest sizes
    (default a quarter, at least one) are held out. A form that cannot be fitted (too few
    points, :class:`FitError`) gets ``status`` = the reason and NaN scores, unless
    ``raise_errors``.
    """
    x, y, train = _split(x, y, train, n_holdout)
    name = name or getattr(form, "display_name", type(form).__name__)
    xt, yt, xh, yh = x[train], y[train], x[~train], y[~train]
    try:
        fitted = clone(form).fit(xt, yt)
        pred = fitted.predict(xh)
        status = "ok" if np.all(np.isfinite(pred)) else "non-finite prediction"
    except (FitError, ValueError) as exc:
        if raise_errors:
            raise
        fitted, pred, status = None, np.full(len(xh), np.nan), f"failed: {exc}"
    if status != "ok":
        fitted = None
        pred = np.full(len(xh), np.nan)
    return ExtrapolationScore(
        name=name, form=fitted, x_train=xt, y_train=yt, x_test=xh, y_test=yh, y_pred=pred,
        log_rmse=float(np.sqrt(np.mean((np.log(pred) - np.log(yh)) ** 2))),
        relative_error=pred / yh - 1.0, status=status,
    )


@dataclass
class FormComparison:
    """Side-by-side extrapolation scores: ``table`` (one row per curve and form) and the
    :class:`ExtrapolationScore` objects in ``scores[(curve, form)]``."""

    table: pd.DataFrame
    scores: dict = field(default_factory=dict)

    def pivot(self, value: str = "holdout_log_rmse") -> pd.DataFrame:
        """Curves as rows, forms as columns (both in the order they were run)."""
        out = self.table.pivot(index="curve", columns="form", values=value)
        return out.loc[self.table["curve"].unique(), self.table["form"].unique()]

    def best_form(self) -> pd.Series:
        """The form with the smallest held-out log-RMSE, per curve."""
        return self.pivot().idxmin(axis=1)


def compare_forms(x, y, forms=None, *, train=None, n_holdout=None, curve: str = "curve",
                  raise_errors=False) -> FormComparison:
    """Fit every form on the smaller sizes and compare held-out log-RMSE, AIC and BIC.

    ``forms``: a dict name -> unfitted form (default :func:`default_forms`). Columns:
    ``curve, form, n_params, train_log_rmse, holdout_log_rmse, holdout_rel_error`` (mean of
    ``y_pred / y - 1`` over held-out points), ``aic, bic`` (Gaussian on log residuals, on the
    training points), ``status``.
    """
    forms = default_forms() if forms is None else forms
    rows, scores = [], {}
    for fname, form in forms.items():
        sc = extrapolation_score(form, x, y, train=train, n_holdout=n_holdout, name=fname,
                                 raise_errors=raise_errors)
        scores[(curve, fname)] = sc
        fitted = sc.form
        rows.append({
            "curve": curve,
            "form": fname,
            "n_params": len(form.param_names),
            "n_train": len(sc.x_train),
            "train_log_rmse": fitted.log_rmse_ if fitted is not None else np.nan,
            "holdout_log_rmse": sc.log_rmse,
            "holdout_rel_error": float(np.mean(sc.relative_error)),
            "aic": fitted.aic_ if fitted is not None else np.nan,
            "bic": fitted.bic_ if fitted is not None else np.nan,
            "status": sc.status,
        })
    return FormComparison(table=pd.DataFrame(rows), scores=scores)


def compare_forms_on_curves(frame: pd.DataFrame, forms=None, *, x: str = "examples",
                            y: str = "loss", by: str = "model", train: str | None = "training",
                            n_holdout=None, raise_errors=False) -> FormComparison:
    """:func:`compare_forms` on every curve of a tidy table (e.g. :func:`load_nmt_curves`,
    whose ``training`` column marks the <= 256M points used for fitting)."""
    missing = [c for c in (x, y, by) if c not in frame.columns]
    if train is not None and train not in frame.columns:
        missing.append(train)
    if missing:
        raise ValueError(f"frame lacks columns {missing}; it has {list(frame.columns)}.")
    tables, scores = [], {}
    for key, g in frame.groupby(by, sort=False):
        mask = None if train is None else g[train].to_numpy(dtype=bool)
        comp = compare_forms(g[x].to_numpy(), g[y].to_numpy(), forms, train=mask,
                             n_holdout=n_holdout, curve=str(key), raise_errors=raise_errors)
        tables.append(comp.table)
        scores.update(comp.scores)
    return FormComparison(table=pd.concat(tables, ignore_index=True), scores=scores)


# --------------------------------------------------------------------------------------------
# Counting model (coin flips)
# --------------------------------------------------------------------------------------------


@dataclass
class CoinCurveResult:
    """Simulated learning curves of the coin-flip estimator ``p_hat = heads / m``.

    ``table`` columns: ``size``, ``squared_error`` and ``absolute_error`` (Monte Carlo means),
    ``squared_error_exact = p(1-p)/m``, ``absolute_error_exact`` (binomial expectation of
    ``|p_hat - p|``), ``absolute_error_asymptotic = sqrt(2 p (1-p) / (pi m))``.
    ``fits`` holds a :class:`PowerLaw` per error; ``slopes`` their exponents.
    """

    p: float
    n_trials: int
    table: pd.DataFrame
    fits: dict
    slopes: dict


def coin_learning_curve(p: float = 0.3, sizes=None, *, n_trials: int = 20000,
                        random_state: int | None = 0) -> CoinCurveResult:
    """The counting model of Hestness et al.'s appendix (MATH.md Section 1).

    Estimate a coin's ``p`` by the fraction of heads in ``m`` flips, ``n_trials`` times per
    size: ``E[(p_hat - p)^2] = p(1-p)/m`` (log-log slope -1) while
    ``E|p_hat - p| ~ sqrt(2 p (1-p) / (pi m))`` (slope -1/2): the exponent depends on the error
    measured. Default sizes ``2^4 .. 2^14``.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must be strictly between 0 and 1; got {p}.")
    if int(n_trials) < 2:
        raise ValueError(f"n_trials must be >= 2; got {n_trials}.")
    sizes = 2 ** np.arange(4, 15) if sizes is None else np.asarray(sizes)
    if sizes.ndim != 1 or len(sizes) < 3 or np.any(sizes < 1) or np.any(sizes != np.round(sizes)):
        raise ValueError("sizes must be at least 3 positive integers.")
    sizes = np.unique(sizes.astype(np.int64))
    rng = np.random.default_rng(random_state)
    rows = []
    for m in sizes:
        p_hat = rng.binomial(m, p, size=int(n_trials)) / m
        k = np.arange(m + 1)
        rows.append({
            "size": int(m),
            "squared_error": float(np.mean((p_hat - p) ** 2)),
            "absolute_error": float(np.mean(np.abs(p_hat - p))),
            "squared_error_exact": p * (1 - p) / m,
            "absolute_error_exact": float(np.sum(stats.binom.pmf(k, m, p) * np.abs(k / m - p))),
            "absolute_error_asymptotic": math.sqrt(2 * p * (1 - p) / (math.pi * m)),
        })
    table = pd.DataFrame(rows)
    fits = {
        err: PowerLaw().fit(table["size"], table[err])
        for err in ("squared_error", "absolute_error")
    }
    return CoinCurveResult(p=float(p), n_trials=int(n_trials), table=table, fits=fits,
                           slopes={k: f.params_["b"] for k, f in fits.items()})


# --------------------------------------------------------------------------------------------
# Economics
# --------------------------------------------------------------------------------------------


@dataclass
class DataNeeded:
    """Data needed to reach ``target`` under a fitted form.

    ``m`` solves ``eps(m) = target``; ``[m_low, m_high]`` is where the pointwise confidence
    band of the curve crosses the target (``m_high = inf`` when the target may lie in the flat
    zone). ``in_flat_zone``: the target is at or below the fitted irreducible error, so no
    amount of data reaches it (fix the model or the labels instead). ``multiplier = m /
    current`` when ``current`` was given.
    """

    target: float
    form: str
    m: float
    m_low: float
    m_high: float
    in_flat_zone: bool
    irreducible_error: float
    irreducible_error_interval: tuple
    multiplier: float
    message: str


def _crossing(fun, lo, hi, n=400):
    """First root of ``fun`` on ``[lo, hi]`` (log sizes): grid scan then brentq."""
    u = np.linspace(lo, hi, n)
    v = np.array([fun(t) for t in u])
    sign = np.sign(v)
    idx = np.flatnonzero((sign[:-1] > 0) & (sign[1:] <= 0))
    if v[0] <= 0:
        return lo
    if len(idx) == 0:
        return math.inf if np.all(v > 0) else math.nan
    i = idx[0]
    if v[i + 1] == 0:
        return u[i + 1]
    return brentq(fun, u[i], u[i + 1], xtol=1e-10)


def data_needed(form, target: float, *, alpha: float = 0.05, current: float | None = None,
                max_size: float = 1e30) -> DataNeeded:
    """How much data a fitted form needs to reach ``target`` error (MATH.md Section 1,
    economics), with an interval from the curve's ``1 - alpha`` confidence band."""
    form._check_fitted()
    target = float(target)
    if not (np.isfinite(target) and target > 0):
        raise ValueError(f"target must be a positive finite error; got {target}.")
    name = getattr(form, "display_name", type(form).__name__)
    floor = form.irreducible_error
    has_cov = getattr(form, "cov_", None) is not None
    floor_ci = form.irreducible_error_interval(alpha) if has_cov else (floor, floor)
    lo, hi = math.log(1e-6), math.log(max_size)
    lt = math.log(target)

    def point(u):
        return float(form._log_f(form._theta, np.array([math.exp(u)]))[0]) - lt

    m = math.exp(_crossing(point, lo, hi)) if target > floor else math.inf
    if has_cov:
        def upper(u):
            return math.log(form.predict_interval(np.array([math.exp(u)]), alpha)[1][0]) - lt

        def lower(u):
            return math.log(form.predict_interval(np.array([math.exp(u)]), alpha)[0][0]) - lt

        m_low = math.exp(_crossing(lower, lo, hi))
        m_high = math.exp(_crossing(upper, lo, hi))
    else:
        m_low = m_high = m
    in_flat = target <= floor
    if in_flat:
        msg = (f"Target {target:.4g} is at or below the fitted irreducible error {floor:.4g}: "
               "in the flat zone more data will not reach it; improve the model or the labels.")
    elif not np.isfinite(m_high):
        msg = (f"About {m:.3g} examples at the estimate, but the target is within the "
               f"uncertainty of the irreducible error ({floor_ci[0]:.4g} .. {floor_ci[1]:.4g}): "
               "it may be unreachable.")
    else:
        msg = f"About {m:.3g} examples ({1 - alpha:.0%} interval {m_low:.3g} .. {m_high:.3g})."
    mult = m / float(current) if current is not None else math.nan
    return DataNeeded(target=target, form=name, m=m, m_low=m_low, m_high=m_high,
                      in_flat_zone=bool(in_flat), irreducible_error=floor,
                      irreducible_error_interval=tuple(floor_ci), multiplier=mult, message=msg)
