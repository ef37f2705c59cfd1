"""The bad-input catalogue: every public entry point of the core modules, the usual suspects.

One parametrized test per entry point. Each case changes one argument of a valid call and
asserts the exception type (ValueError for a bad value, TypeError for a wrong type) and that
the message names the argument (docs/api.md, "Errors and warnings").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import check_bad_input
from sklearn.svm import SVC

from scaling_kit.backends import get_backend
from scaling_kit.contributions import (
    exact_contribution,
    planned_datasets,
    sample_contributions,
    summarize_contributions,
)
from scaling_kit.datasets import load_dataset, make_dataset
from scaling_kit.exceptions import NotFittedError
from scaling_kit.learners import ExactLogisticRegression, SklearnClassifier
from scaling_kit.metrics import check_metrics, losses_from_logp, losses_from_proba
from scaling_kit.sampling import StratifiedSampler, stratified_counts

V, T = ValueError, TypeError
NAN, INF = float("nan"), float("inf")


class _Protocol:
    """A learner of the fit_predict_proba protocol without get_params (not cacheable)."""

    def fit_predict_proba(self, X, y, X_eval, n_classes, random_state=None):
        freq = (np.bincount(y, minlength=n_classes) + 1.0) / (y.size + n_classes)
        return np.tile(freq, (np.asarray(X_eval).shape[0], 1))


# ------------------------------------------------------------------------------------------
# sample_contributions and planned_datasets
# ------------------------------------------------------------------------------------------
def _data_cases(p):
    X, y, Xt, yt = p.X_pool, p.y_pool, p.X_test, p.y_test
    nan, inf = X.copy(), Xt.copy()
    nan[2, 1], inf[0, 0] = np.nan, np.inf
    ynan = y.astype(float)
    ynan[3] = np.nan
    return {
        "data dict": (dict(data={"X": X}), T, "data"),
        "data 3-tuple": (dict(data=(X, y, Xt)), T, "data"),
        "X_pool 1-D": (dict(data=(X[:, 0], y, Xt, yt)), V, "X_pool"),
        "X_pool NaN": (dict(data=(nan, y, Xt, yt)), V, "X_pool"),
        "X_pool strings": (dict(data=(X.astype(str).astype(object) + "x", y, Xt, yt)), T,
                           "X_pool"),
        "empty pool": (dict(data=(X[:0], y[:0], Xt, yt)), V, "X_pool"),
        "empty test set": (dict(data=(X, y, Xt[:0], yt[:0])), V, "X_test"),
        "X_test inf": (dict(data=(X, y, inf, yt)), V, "X_test"),
        "X_test features": (dict(data=(X, y, Xt[:, :2], yt)), V, "X_test"),
        "y_pool length": (dict(data=(X, y[:-1], Xt, yt)), V, "y_pool"),
        "y_pool NaN label": (dict(data=(X, ynan, Xt, yt)), V, "y_pool"),
        "y_pool strings": (dict(data=(X, np.array(["a", "b"])[y], Xt, yt)), V, "y_pool"),
        "y_pool fractions": (dict(data=(X, y + 0.5, Xt, yt)), V, "y_pool"),
        "y_pool negative": (dict(data=(X, y - 1, Xt, yt - 1)), V, "y_pool"),
        "y_pool bool": (dict(data=(X, y.astype(bool), Xt, yt)), V, "y_pool"),
        "y_pool one class": (dict(data=(X, 0 * y, Xt, 0 * yt)), V, "y_pool"),
        "y_pool gap": (dict(data=(X, 2 * y, Xt, 2 * yt)), V, "y_pool"),
        "y_test unseen": (dict(data=(X, y, Xt, np.where(yt == 1, 5, yt))), V, "y_test"),
    }


def _plan_cases(p):
    n = len(p.y_pool)
    return {
        "points empty": (dict(points=[]), V, "points"),
        "points repeat": (dict(points=[0, 3, 0]), V, "points"),
        "points too large": (dict(points=[0, n]), V, "points"),
        "points negative": (dict(points=[-1]), V, "points"),
        "points float": (dict(points=[0.5]), T, "points"),
        "points bool": (dict(points=[True, False]), T, "points"),
        "points 2-D": (dict(points=[[0, 1]]), V, "points"),
        "k and k_range": (dict(k_range=(5, 10)), V, "k_range"),
        "neither k nor k_range": (dict(k=None), V, "k"),
        "k larger than pool": (dict(k=n), V, "k"),
        "k too small for classes": (dict(k=1), V, "k"),
        "k zero": (dict(k=[0, 10]), V, "k"),
        "k fraction": (dict(k=2.5), V, "k"),
        "k NaN": (dict(k=NAN), V, "k"),
        "k bool": (dict(k=True), T, "k"),
        "k string": (dict(k="10"), T, "k"),
        "k repeated": (dict(k=[10, 10]), V, "k"),
        "k_range fractions": (dict(k=None, k_range=(20.5, 30.7)), V, "k_range"),
        "k_range reversed": (dict(k=None, k_range=(10, 5)), V, "k_range"),
        "k_range too large": (dict(k=None, k_range=(5, n + 3)), V, "k_range"),
        "k_range one value": (dict(k=None, k_range=(5,)), T, "k_range"),
        "k_range string": (dict(k=None, k_range="5-10"), T, "k_range"),
        "k_range inf": (dict(k=None, k_range=(5, INF)), V, "k_range"),
        "n_samples zero": (dict(n_samples=0), V, "n_samples"),
        "n_samples fraction": (dict(n_samples=2.5), T, "n_samples"),
        "n_samples None": (dict(n_samples=None), T, "n_samples"),
        "n_samples NaN": (dict(n_samples=NAN), T, "n_samples"),
        "n_samples inf": (dict(n_samples=INF), T, "n_samples"),
        "n_samples bool": (dict(n_samples=True), T, "n_samples"),
        "random_state negative": (dict(random_state=-1), V, "random_state"),
        "random_state bool": (dict(random_state=True), T, "random_state"),
        "random_state float": (dict(random_state=1.5), T, "random_state"),
        "random_state string": (dict(random_state="0"), T, "random_state"),
        "random_state legacy": (dict(random_state=np.random.RandomState(0)), T, "random_state"),
        "share_datasets string": (dict(share_datasets="yes"), T, "share_datasets"),
        "allow_z_in_D int": (dict(allow_z_in_D=1), T, "allow_z_in_D"),
    }


def _sampler_only_cases(tmp):
    return {
        "metric unknown": (dict(metric="auc"), V, "metric"),
        "metric empty": (dict(metric=[]), V, "metric"),
        "metric repeated": (dict(metric=["brier", "brier"]), V, "metric"),
        "metric int": (dict(metric=3), T, "metric"),
        "chunk_size zero": (dict(chunk_size=0), V, "chunk_size"),
        "chunk_size fraction": (dict(chunk_size=2.5), T, "chunk_size"),
        "n_jobs zero": (dict(n_jobs=0), V, "n_jobs"),
        "n_jobs fraction": (dict(n_jobs=1.5), T, "n_jobs"),
        "strict string": (dict(strict="no"), T, "strict"),
        "progress None": (dict(progress=None), T, "progress"),
        "cache without seed": (dict(cache=tmp, random_state=None), V, "random_state"),
        "cache not a path": (dict(cache=True), T, "cache"),
        "learner without predict_proba": (dict(learner=SVC()), T, "learner"),
        "learner class": (dict(learner=ExactLogisticRegression), T, "learner"),
        "learner tol zero": (dict(learner=ExactLogisticRegression(tol=0.0)), V, "tol"),
        "learner negative C": (dict(learner=ExactLogisticRegression(C=-1.0)), V, "C"),
        "learner max_iter zero": (dict(learner=ExactLogisticRegression(max_iter=0)), V,
                                  "max_iter"),
        "learner max_iter fraction": (dict(learner=ExactLogisticRegression(max_iter=1.5)), T,
                                      "max_iter"),
        "uncacheable learner": (dict(learner=_Protocol(), cache=tmp), T, "cache_key"),
    }


class _Shape:  # stand-in problem: only the case names are needed at collection time
    X_pool, y_pool = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    X_test, y_test = np.zeros((2, 2)), np.array([0, 1])


SAMPLER_CASES = {**_data_cases(_Shape), **_plan_cases(_Shape), **_sampler_only_cases("x")}
PLAN_CASES = {**_data_cases(_Shape), **_plan_cases(_Shape)}


@pytest.mark.parametrize("case", list(SAMPLER_CASES))
def test_sample_contributions_bad_input(case, toy, tmp_path):
    cases = {**_data_cases(toy), **_plan_cases(toy), **_sampler_only_cases(tmp_path)}
    change, error, name = cases[case]
    args = dict(learner=ExactLogisticRegression(), data=toy, points=[0, 1], k=10, n_samples=2,
                random_state=0, progress=False)
    args.update(change)
    check_bad_input(lambda: sample_contributions(**args), error, name)


@pytest.mark.parametrize("case", list(PLAN_CASES))
def test_planned_datasets_bad_input(case, toy):
    change, error, name = {**_data_cases(toy), **_plan_cases(toy)}[case]
    args = dict(data=toy, points=[0, 1], k=10, n_samples=2, random_state=0)
    args.update(change)
    check_bad_input(lambda: planned_datasets(**args), error, name)


# ------------------------------------------------------------------------------------------
# exact_contribution
# ------------------------------------------------------------------------------------------
EXACT_CASES = {
    "y_z not a class": (dict(y_z=5), V, "y_z"),
    "y_z negative": (dict(y_z=-1), V, "y_z"),
    "y_z fraction": (dict(y_z=1.5), T, "y_z"),
    "y_z bool": (dict(y_z=True), T, "y_z"),
    "x_z length": (lambda p: dict(x_z=p.X_pool[20, :2]), V, "x_z"),
    "x_z NaN": (dict(x_z=np.full(4, np.nan)), V, "x_z"),
    "x_z two rows": (lambda p: dict(x_z=p.X_pool[20:22]), V, "x_z"),
    "X_D NaN": (lambda p: dict(X_D=np.where(p.X_pool[:20] > 1, np.nan, p.X_pool[:20])), V,
                "X_D"),
    "X_D 1-D": (lambda p: dict(X_D=p.X_pool[:20, 0]), V, "X_D"),
    "X_D empty": (lambda p: dict(X_D=p.X_pool[:0], y_D=p.y_pool[:0]), V, "X_D"),
    "y_D length": (lambda p: dict(y_D=p.y_pool[:19]), V, "y_D"),
    "y_D misses a class": (lambda p: dict(X_D=p.X_pool[:20][p.y_pool[:20] == 0],
                                          y_D=p.y_pool[:20][p.y_pool[:20] == 0],
                                          n_classes=2), V, "y_D"),
    "y_test unseen": (lambda p: dict(y_test=p.y_test + 1), V, "y_test"),
    "X_test empty": (lambda p: dict(X_test=p.X_test[:0], y_test=p.y_test[:0]), V, "X_test"),
    "X_test features": (lambda p: dict(X_test=p.X_test[:, :3]), V, "X_test"),
    "n_classes one": (dict(n_classes=1), V, "n_classes"),
    "n_classes float": (dict(n_classes=2.0), T, "n_classes"),
    "metric unknown": (dict(metric="auc"), V, "metric"),
    "random_state bool": (dict(random_state=True), T, "random_state"),
    "learner without predict_proba": (dict(learner=SVC()), T, "learner"),
}


@pytest.mark.parametrize("case", list(EXACT_CASES))
def test_exact_contribution_bad_input(case, toy):
    change, error, name = EXACT_CASES[case]
    if callable(change):
        change = change(toy)
    args = dict(learner=ExactLogisticRegression(), X_D=toy.X_pool[:20], y_D=toy.y_pool[:20],
                x_z=toy.X_pool[20], y_z=int(toy.y_pool[20]), X_test=toy.X_test,
                y_test=toy.y_test)
    args.update(change)
    check_bad_input(lambda: exact_contribution(**args), error, name)


# ------------------------------------------------------------------------------------------
# summarize_contributions
# ------------------------------------------------------------------------------------------
def _table():
    return pd.DataFrame({"point": [0, 0, 1, 1], "k": [5, 5, 5, 5], "sample": [0, 1, 0, 1],
                         "delta": [0.1, 0.2, -0.1, 0.3]})


SUMMARY_CASES = {
    "not a DataFrame": (lambda t: dict(df=t.to_numpy()), T, "df"),
    "missing column": (lambda t: dict(df=t, delta_col="delta_brier"), V, "delta_brier"),
    "no point column": (lambda t: dict(df=t.drop(columns="point")), V, "point"),
    "delta_col not a string": (lambda t: dict(df=t, delta_col=3), T, "delta_col"),
    "NaN delta": (lambda t: dict(df=t.assign(delta=[0.1, np.nan, 0.0, 0.2])), V, "delta"),
    "inf delta": (lambda t: dict(df=t.assign(delta=[0.1, np.inf, 0.0, 0.2])), V, "delta"),
    "text delta": (lambda t: dict(df=t.assign(delta=list("abcd"))), V, "delta"),
    "empty": (lambda t: dict(df=t.iloc[:0]), V, "df"),
}


@pytest.mark.parametrize("case", list(SUMMARY_CASES))
def test_summarize_contributions_bad_input(case):
    change, error, name = SUMMARY_CASES[case]
    check_bad_input(lambda: summarize_contributions(**change(_table())), error, name)


# ------------------------------------------------------------------------------------------
# datasets
# ------------------------------------------------------------------------------------------
def _xy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 3)), np.arange(40) % 2


LOAD_CASES = {
    "name unknown": (dict(name="mnist"), V, "name"),
    "name not a string": (dict(name=3), T, "name"),
    "random_state negative": (dict(random_state=-1), V, "random_state"),
    "random_state bool": (dict(random_state=True), T, "random_state"),
    "random_state float": (dict(random_state=0.5), T, "random_state"),
    "max_pool zero": (dict(max_pool=0), V, "max_pool"),
    "max_pool fraction": (dict(max_pool=2.5), T, "max_pool"),
    "max_pool bool": (dict(max_pool=True), T, "max_pool"),
    "test_size zero": (dict(test_size=0), V, "test_size"),
    "test_size too large": (dict(test_size=10_000), V, "test_size"),
    "test_size fraction above 1": (dict(test_size=1.5), V, "test_size"),
    "test_size negative": (dict(test_size=-3), V, "test_size"),
    "test_size NaN": (dict(test_size=NAN), V, "test_size"),
    "test_size bool": (dict(test_size=True), T, "test_size"),
    "test_size string": (dict(test_size="10%"), T, "test_size"),
}


@pytest.mark.parametrize("case", list(LOAD_CASES))
def test_load_dataset_bad_input(case):
    change, error, name = LOAD_CASES[case]
    args = dict(name="wine", random_state=0)
    args.update(change)
    check_bad_input(lambda: load_dataset(**args), error, name)


MAKE_CASES = {
    "X NaN": (lambda X, y: dict(X=np.where(X > 1, np.nan, X)), V, "X"),
    "X 1-D": (lambda X, y: dict(X=X[:, 0]), V, "X"),
    "X strings": (lambda X, y: dict(X=np.full(X.shape, "a")), T, "X"),
    "X empty": (lambda X, y: dict(X=X[:0], y=y[:0]), V, "X"),
    "y NaN label": (lambda X, y: dict(y=np.where(np.arange(40) == 3, np.nan, y)), V, "y"),
    "y None label": (lambda X, y: dict(y=np.array([None] + ["a", "b"] * 19 + ["a"],
                                                  dtype=object)), V, "y"),
    "y length": (lambda X, y: dict(y=y[:-1]), V, "y"),
    "y one class": (lambda X, y: dict(y=0 * y), V, "y"),
    "y 2-D": (lambda X, y: dict(y=y[:, None]), V, "y"),
}


@pytest.mark.parametrize("case", list(MAKE_CASES))
def test_make_dataset_bad_input(case):
    X, y = _xy()
    change, error, name = MAKE_CASES[case]
    args = dict(X=X, y=y, test_size=10, random_state=0)
    args.update(change(X, y))
    check_bad_input(lambda: make_dataset(**args), error, name)


# ------------------------------------------------------------------------------------------
# sampling
# ------------------------------------------------------------------------------------------
def _labels():
    return np.repeat([0, 1, 2], [20, 12, 8])


SAMPLER_INIT_CASES = {
    "y fractions": (dict(y=np.array([0.5, 1.0, 0.0])), V, "y"),
    "y negative": (dict(y=np.array([-1, 0, 1])), V, "y"),
    "y empty": (dict(y=np.array([], dtype=int)), V, "y"),
    "y 2-D": (dict(y=_labels()[None]), V, "y"),
    "y strings": (dict(y=np.array(["a", "b"])), V, "y"),
    "y NaN": (dict(y=np.array([0.0, np.nan, 1.0])), V, "y"),
    "n_classes too small": (dict(n_classes=2), V, "n_classes"),
    "n_classes fraction": (dict(n_classes=3.5), T, "n_classes"),
    "n_classes bool": (dict(n_classes=True), T, "n_classes"),
}


@pytest.mark.parametrize("case", list(SAMPLER_INIT_CASES))
def test_stratified_sampler_bad_input(case):
    change, error, name = SAMPLER_INIT_CASES[case]
    args = dict(y=_labels())
    args.update(change)
    check_bad_input(lambda: StratifiedSampler(**args), error, name)


DRAW_CASES = {
    "k zero": (dict(k=0), V, "k"),
    "k fraction": (dict(k=2.5), T, "k"),
    "k bool": (dict(k=True), T, "k"),
    "k None": (dict(k=None), T, "k"),
    "k too large": (dict(k=41), V, "k"),
    "k too small for classes": (dict(k=2), V, "k"),
    "exclude out of range": (dict(exclude=40), V, "exclude"),
    "exclude fraction": (dict(exclude=1.5), T, "exclude"),
    "rng an int": (dict(rng=0), T, "rng"),
    "rng legacy": (dict(rng=np.random.RandomState(0)), T, "rng"),
}


@pytest.mark.parametrize("case", list(DRAW_CASES))
def test_draw_bad_input(case):
    change, error, name = DRAW_CASES[case]
    args = dict(rng=np.random.default_rng(0), k=10)
    args.update(change)
    check_bad_input(lambda: StratifiedSampler(_labels()).draw(**args), error, name)


COUNTS_CASES = {
    "sizes negative": (dict(class_sizes=[3, -1]), V, "class_sizes"),
    "sizes all zero": (dict(class_sizes=[0, 0]), V, "class_sizes"),
    "sizes empty": (dict(class_sizes=[]), V, "class_sizes"),
    "sizes fractions": (dict(class_sizes=[2.5, 3]), V, "class_sizes"),
    "sizes 2-D": (dict(class_sizes=[[3, 4]]), V, "class_sizes"),
    "k zero": (dict(k=0), V, "k"),
    "k bool": (dict(k=True), T, "k"),
    "k NaN": (dict(k=NAN), T, "k"),
}


@pytest.mark.parametrize("case", list(COUNTS_CASES))
def test_stratified_counts_bad_input(case):
    change, error, name = COUNTS_CASES[case]
    args = dict(class_sizes=[20, 12, 8], k=10)
    args.update(change)
    check_bad_input(lambda: stratified_counts(**args), error, name)


# ------------------------------------------------------------------------------------------
# metrics
# ------------------------------------------------------------------------------------------
def _proba():
    P = np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    return P, np.array([0, 1, 1])


METRIC_CASES = {
    "check_metrics unknown": (lambda P, y: (check_metrics, ("accuracy",)), V, "metric"),
    "check_metrics empty": (lambda P, y: (check_metrics, ([],)), V, "metric"),
    "check_metrics repeated": (lambda P, y: (check_metrics, (["brier", "brier"],)), V, "metric"),
    "check_metrics int": (lambda P, y: (check_metrics, (1,)), T, "metric"),
    "check_metrics None entry": (lambda P, y: (check_metrics, ([None],)), T, "metric"),
    "proba NaN": (lambda P, y: (losses_from_proba, (np.where(P > 0.6, np.nan, P), y,
                                                    "log_loss")), V, "proba"),
    "proba inf": (lambda P, y: (losses_from_proba, (np.where(P > 0.6, np.inf, P), y,
                                                    "log_loss")), V, "proba"),
    "proba above 1": (lambda P, y: (losses_from_proba, (2 * P, y, "log_loss")), V, "proba"),
    "proba negative": (lambda P, y: (losses_from_proba, (P - 0.5, y, "log_loss")), V, "proba"),
    "proba one column": (lambda P, y: (losses_from_proba, (P[:, :1], y, "log_loss")), V,
                         "proba"),
    "proba 1-D": (lambda P, y: (losses_from_proba, (P[0], y, "log_loss")), V, "proba"),
    "y length": (lambda P, y: (losses_from_proba, (P, y[:2], "log_loss")), V, "y"),
    "y float": (lambda P, y: (losses_from_proba, (P, y.astype(float), "log_loss")), T, "y"),
    "y label too large": (lambda P, y: (losses_from_proba, (P, y + 1, "log_loss")), V, "y"),
    "y empty": (lambda P, y: (losses_from_proba, (P[:0], y[:0], "log_loss")), V, "y"),
    "metric unknown": (lambda P, y: (losses_from_proba, (P, y, "auc")), V, "metric"),
    "logp NaN": (lambda P, y: (losses_from_logp, (np.where(P > 0.6, np.nan, np.log(P)), y,
                                                  "log_loss")), V, "logp"),
    "logp +inf": (lambda P, y: (losses_from_logp, (np.where(P > 0.6, np.inf, np.log(P)), y,
                                                   "log_loss")), V, "logp"),
    "logp 1-D": (lambda P, y: (losses_from_logp, (np.log(P[0]), y, "log_loss")), V, "logp"),
}


@pytest.mark.parametrize("case", list(METRIC_CASES))
def test_metrics_bad_input(case):
    make, error, name = METRIC_CASES[case]
    func, args = make(*_proba())
    check_bad_input(lambda: func(*args), error, name)


# ------------------------------------------------------------------------------------------
# learners and backends
# ------------------------------------------------------------------------------------------
FIT_CASES = {
    "C zero": (dict(C=0.0), None, V, "C"),
    "C inf": (dict(C=INF), None, V, "C"),
    "C string": (dict(C="1"), None, T, "C"),
    "tol zero": (dict(tol=0.0), None, V, "tol"),
    "tol NaN": (dict(tol=NAN), None, V, "tol"),
    "max_iter zero": (dict(max_iter=0), None, V, "max_iter"),
    "max_iter bool": (dict(max_iter=True), None, T, "max_iter"),
    "warm_start string": (dict(warm_start="yes"), None, T, "warm_start"),
    "X NaN": ({}, lambda X, y: (np.where(X > 1, np.nan, X), y), V, "X"),
    "X 1-D": ({}, lambda X, y: (X[:, 0], y), V, "X"),
    "X empty": ({}, lambda X, y: (X[:0], y[:0]), V, "X"),
    "y length": ({}, lambda X, y: (X, y[:-1]), V, "y"),
    "y NaN label": ({}, lambda X, y: (X, np.where(np.arange(y.size) == 0, np.nan, y)), V, "y"),
    "y one class": ({}, lambda X, y: (X, 0 * y), V, "y"),
}


@pytest.mark.parametrize("case", list(FIT_CASES))
def test_exact_logistic_regression_bad_input(case, toy):
    params, data, error, name = FIT_CASES[case]
    X, y = (toy.X_pool, toy.y_pool) if data is None else data(toy.X_pool, toy.y_pool)
    check_bad_input(lambda: ExactLogisticRegression(**params).fit(X, y), error, name)


def test_learner_misuse(toy):
    with pytest.raises(TypeError, match="positional"):
        ExactLogisticRegression(1.0)  # keyword-only parameters
    with pytest.raises(NotFittedError):
        ExactLogisticRegression().predict_proba(toy.X_test)
    model = ExactLogisticRegression().fit(toy.X_pool, toy.y_pool)
    check_bad_input(lambda: model.predict_proba(toy.X_test[:, :2]), ValueError, "X")
    check_bad_input(lambda: SklearnClassifier(SVC()), TypeError, "learner")
    check_bad_input(lambda: get_backend(ExactLogisticRegression), TypeError, "learner")
    check_bad_input(lambda: get_backend(object()), TypeError, "learner")
