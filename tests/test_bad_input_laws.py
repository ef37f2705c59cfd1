"""The bad-input catalogue of scaling_kit.laws: each case changes one argument of a valid call
and asserts the exception type (ValueError for a bad value, TypeError for a wrong type) and
that the message names the argument and says what to do (docs/api.md, "Errors and warnings").
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import check_bad_input

from scaling_kit.laws import (
    compare_estimators,
    fit_likelihood,
    fit_loglinear_laws,
    simulate_contributions,
    simulate_laws,
)

V, T = ValueError, TypeError


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    k = np.tile(np.repeat([10, 30, 100], 8), 2)
    point = np.repeat([0, 1], 24)
    return pd.DataFrame({"point": point, "k": k,
                         "delta": 0.5 * k ** -1.0 + 0.05 * rng.normal(size=48) * k ** -1.0})


@pytest.fixture(scope="module")
def fitted(table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_likelihood(table)


def _with(table, **columns):
    return table.assign(**columns)


NAN_AT_3 = np.where(np.arange(48) == 3, np.nan, 1.0)
FIT_CASES = {
    "delta NaN": (lambda d: fit_likelihood(_with(d, delta=d.delta * NAN_AT_3)), V, "delta"),
    "delta inf": (lambda d: fit_likelihood(_with(d, delta=d.delta.where(d.index != 3, np.inf))),
                  V, "delta"),
    "k zero": (lambda d: fit_likelihood(_with(d, k=0)), V, "k"),
    "k negative": (lambda d: fit_likelihood(_with(d, k=-d.k)), V, "k"),
    "one size": (lambda d: fit_likelihood(_with(d, k=10)), V, "k"),
    "too few samples": (lambda d: fit_likelihood(d.iloc[[0, 9]]), V, "k"),
    "empty": (lambda d: fit_likelihood(d.iloc[:0]), V, "delta"),
    "method unknown": (lambda d: fit_likelihood(d, method="ols"), V, "method"),
    "method type": (lambda d: fit_likelihood(d, method=3), T, "method"),
    "column missing": (lambda d: fit_likelihood(d, delta_col="delta_error"), V, "delta_col"),
    "data type": (lambda d: fit_likelihood(d.to_numpy()), T, "data"),
    "lengths differ": (lambda d: fit_likelihood(point=[0, 0, 0], k=[1, 2], delta=[1, 2, 3]),
                       V, "k"),
    "lr negative": (lambda d: fit_likelihood(d, method="adam", lr=-0.1), V, "lr"),
    "patience zero": (lambda d: fit_likelihood(d, method="adam", patience=0), V, "patience"),
    "max_iter zero": (lambda d: fit_likelihood(d, max_iter=0), V, "max_iter"),
    "tol negative": (lambda d: fit_likelihood(d, tol=-1.0), V, "tol"),
    "init unknown": (lambda d: fit_likelihood(d, method="newton", init="best"), V, "init"),
}


@pytest.mark.parametrize("case", list(FIT_CASES))
def test_fit_likelihood_bad_input(case, table):
    call, error, name = FIT_CASES[case]
    check_bad_input(lambda: call(table), error, name)


RESULTS_CASES = {
    "conf_int alpha above 1": (lambda f: f.conf_int(alpha=1.5), V, "alpha"),
    "conf_int alpha zero": (lambda f: f.conf_int(alpha=0.0), V, "alpha"),
    "predict k negative": (lambda f: f.predict(-1), V, "k"),
    "predict k NaN": (lambda f: f.predict([np.nan]), V, "k"),
    "predict_interval alpha": (lambda f: f.predict_interval(10, alpha=0), V, "alpha"),
}


@pytest.mark.parametrize("case", list(RESULTS_CASES))
def test_scaling_law_results_bad_input(case, fitted):
    call, error, name = RESULTS_CASES[case]
    check_bad_input(lambda: call(fitted), error, name)


OTHER_CASES = {
    "simulate_laws n_points": (lambda: simulate_laws(0), V, "n_points"),
    "simulate_laws alpha_range": (lambda: simulate_laws(10, alpha_range=(2.0, 1.0)), V,
                                  "alpha_range"),
    "compare n_samples": (lambda: compare_estimators(10, n_samples=(0,)), V, "n_samples"),
    "compare estimators": (lambda: compare_estimators(10, n_samples=(10,), estimators=("ols",)),
                           V, "estimators"),
    "simulate_contributions n_samples": (
        lambda: simulate_contributions([1.0], [1.0], [1.0], [2.0], k_range=(10, 100),
                                       n_samples=0), V, "n_samples"),
    "loglinear NaN means": (
        lambda: fit_loglinear_laws(pd.DataFrame(
            {"mean": [np.nan, 1.0, 2.0]},
            index=pd.MultiIndex.from_product([[0], [10, 20, 40]], names=["point", "k"]))),
        V, "mean"),
}


@pytest.mark.parametrize("case", list(OTHER_CASES))
def test_laws_entry_points_bad_input(case):
    call, error, name = OTHER_CASES[case]
    check_bad_input(call, error, name)
