"""Tests for scaling_kit.aggregate (MATH.md Section 1): protocol, forms, judging, coin, economics."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.svm import SVC

from scaling_kit.aggregate import (
    BrokenPowerLaw,
    FitError,
    M4Law,
    OffsetPowerLaw,
    PowerLaw,
    coin_learning_curve,
    compare_forms,
    compare_forms_on_curves,
    data_needed,
    extrapolation_score,
    learning_curve,
    shard_sizes,
)
from scaling_kit.datasets import load_dataset, load_nmt_curves
from scaling_kit.learners import ExactLogisticRegression

X_SIZES = 2.0 ** np.arange(6, 18)


def noisy(y, sd, seed=0):
    return y * np.exp(np.random.default_rng(seed).normal(0.0, sd, len(y)))


# --- protocol ----------------------------------------------------------------------------------


def test_shard_sizes_are_powers_of_two_of_the_pool():
    assert shard_sizes(1000, min_size=100).tolist() == [125, 250, 500, 1000]
    assert shard_sizes(1024, n_sizes=3).tolist() == [256, 512, 1024]
    with pytest.raises(ValueError):
        shard_sizes(0)


@pytest.fixture(scope="module")
def cancer():
    return load_dataset("breast_cancer", random_state=0)


def test_learning_curve_protocol_and_metrics(cancer):
    est = ExactLogisticRegression(C=1.0)
    res = learning_curve(est, cancer, n_seeds=2, random_state=3)
    n_pool = cancer.X_pool.shape[0]
    assert res.sizes.tolist() == shard_sizes(n_pool, min_size=8).tolist()
    assert set(res.table.columns) >= {"seed", "size", "cross_entropy", "error_rate"}
    assert len(res.table) == 2 * len(res.sizes)
    # The full-pool shard is the whole pool whatever the order: equals a direct fit.
    full = ExactLogisticRegression(C=1.0).fit(cancer.X_pool, cancer.y_pool)
    proba = full.predict_proba(cancer.X_test)
    top = res.table[res.table["size"] == n_pool]
    np.testing.assert_allclose(top["cross_entropy"], log_loss(cancer.y_test, proba), rtol=1e-6)
    np.testing.assert_allclose(
        top["error_rate"], np.mean(proba.argmax(1) != cancer.y_test), atol=1e-12
    )
    # More data helps on average (first vs last size).
    agg = res.aggregate()
    assert agg["cross_entropy_mean"].iloc[-1] < agg["cross_entropy_mean"].iloc[0]
    x, y = res.curve("error_rate")
    assert np.all(np.diff(x) > 0) and len(y) == len(x)


def test_learning_curve_same_results_for_any_n_jobs_and_arbitrary_sizes(cancer):
    est = LogisticRegression(max_iter=500)
    a = learning_curve(est, cancer, sizes=[10, 37, 100], n_seeds=2, random_state=1, n_jobs=1,
                       progress=True)
    b = learning_curve(est, cancer, sizes=[100, 37, 10], n_seeds=2, random_state=1, n_jobs=2)
    # n_jobs=2 fits in worker processes whose BLAS may be threaded differently from the parent's,
    # so scikit-learn's L-BFGS sees last-bit differences; its iterates follow the same path and the
    # losses agree far below the solver's own tolerance (tol=1e-4 on the gradient): 1e-8 relative.
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=False, rtol=1e-8, atol=1e-12)
    assert a.sizes.tolist() == [10, 37, 100]
    c = learning_curve(est, cancer, sizes=[10, 37, 100], n_seeds=2, random_state=2)
    assert not np.allclose(a.table["cross_entropy"], c.table["cross_entropy"])


def test_learning_curve_bad_inputs(cancer):
    est = LogisticRegression()
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        learning_curve(est, cancer, sizes=[0, 10])
    with pytest.raises(ValueError, match="sizes must be <= "):
        learning_curve(est, cancer, sizes=[10, 10**7])
    with pytest.raises(ValueError, match="number of classes"):
        learning_curve(est, cancer, sizes=[1, 10])
    with pytest.raises(TypeError, match="predict_proba"):
        learning_curve(SVC(), cancer)
    with pytest.raises(TypeError, match="data must be a scaling_kit.datasets.Dataset"):
        learning_curve(est, (cancer.X_pool, cancer.y_pool))


# --- forms on synthetic curves with known parameters -------------------------------------------


def test_power_law_is_ols_on_logs():
    y = noisy(2.5 * X_SIZES**-0.3, 0.02)
    f = PowerLaw().fit(X_SIZES, y)
    ols = sm.OLS(np.log(y), sm.add_constant(np.log(X_SIZES))).fit()
    assert f.params_["a"] == pytest.approx(math.exp(ols.params[0]), rel=1e-10)
    assert f.params_["b"] == pytest.approx(ols.params[1], rel=1e-10)
    assert f.aic_ == pytest.approx(ols.aic) and f.bic_ == pytest.approx(ols.bic)
    ci = f.conf_int()
    assert ci.loc["b", "lower"] < -0.3 < ci.loc["b", "upper"]
    assert ci.loc["a", "lower"] < 2.5 < ci.loc["a", "upper"]
    assert "b" in str(f.summary())
    # derivative and finite difference: the aggregate-individual link (MATH.md Section 2)
    k = np.array([100.0, 1000.0])
    a, b = f.params_["a"], f.params_["b"]
    np.testing.assert_allclose(f.derivative(k), a * b * k ** (b - 1), rtol=1e-12)
    np.testing.assert_allclose(f.difference(k), a * k**b - a * (k + 1) ** b, rtol=1e-10)


def test_offset_power_law_recovers_parameters_from_poor_start():
    truth = dict(eps_inf=0.2, a=3.0, b=-0.4)
    y = noisy(OffsetPowerLaw.from_params(**truth).predict(X_SIZES), 0.003)
    for init in (None, dict(eps_inf=0.0, a=1e4, b=-4.9), dict(eps_inf=5.0, a=1e-6, b=-0.01)):
        f = OffsetPowerLaw(init=init, n_polish=1).fit(X_SIZES, y)
        assert f.params_["eps_inf"] == pytest.approx(0.2, rel=0.03)
        assert f.params_["a"] == pytest.approx(3.0, rel=0.05)
        assert f.params_["b"] == pytest.approx(-0.4, abs=0.01)
        assert f.fit_info_["n_converged"] >= 1
    lo, hi = f.irreducible_error_interval()
    assert lo < 0.2 < hi
    np.testing.assert_allclose(f.derivative([50.0]), f.params_["a"] * f.params_["b"] * 50.0 ** (
        f.params_["b"] - 1), rtol=1e-12)


def test_m4_closed_form_at_alpha_one_and_recovery():
    truth = dict(eps_inf=0.1, eps_0=1.0, alpha=1.0, beta=2e3, c=-0.8)
    m4 = M4Law.from_params(**truth)
    x = 2.0 ** np.arange(4, 24)
    q = 2e3 * x**-0.8  # alpha = 1: eps = (eps_inf + q eps_0) / (1 + q)
    np.testing.assert_allclose(m4.predict(x), (0.1 + q * 1.0) / (1 + q), rtol=1e-12)
    y = m4.predict(x)
    for init in (None, dict(eps_inf=0.0, eps_0=50.0, alpha=8.0, beta=1e-3, c=-4.0)):
        f = M4Law(init=init).fit(x, y)
        for k, v in truth.items():
            assert f.params_[k] == pytest.approx(v, rel=1e-3), k
    # an alpha != 1 curve satisfies the implicit equation
    m4b = M4Law.from_params(eps_inf=0.2, eps_0=2.0, alpha=0.5, beta=30.0, c=-0.5)
    e = m4b.predict(x)
    np.testing.assert_allclose((e - 0.2) / (2.0 - e) ** 0.5, 30.0 * x**-0.5, rtol=1e-9)
    f = M4Law().fit(x, noisy(e, 0.002))
    assert f.params_["c"] == pytest.approx(-0.5, abs=0.05)
    assert f.params_["eps_inf"] == pytest.approx(0.2, rel=0.1)


def test_broken_power_law_recovery_and_slopes():
    truth = dict(a=0.05, b=2.0, c0=0.1, c1=0.5, d=1e4, f=0.5)
    x = 2.0 ** np.arange(4, 24)
    bp = BrokenPowerLaw.from_params(**truth)
    y = bp.predict(x)
    bad = dict(a=0.0, b=1e-3, c0=3.0, c1=-3.0, d=x.max(), f=10.0)
    for init in (None, bad):
        f = BrokenPowerLaw(init=init).fit(x, noisy(y, 1e-4))
        for k, v in truth.items():
            assert f.params_[k] == pytest.approx(v, rel=0.05), k
    # log-log slope of eps - a is -c0 long before the break, -(c0 + c1) long after it
    def slope(m):
        return m * bp.derivative(m) / (bp.predict(m) - 0.05)

    assert slope(np.array([1.0]))[0] == pytest.approx(-0.1, abs=0.01)
    assert slope(np.array([1e12]))[0] == pytest.approx(-0.6, abs=0.01)


@pytest.mark.parametrize("form", [PowerLaw(), OffsetPowerLaw(), M4Law(), BrokenPowerLaw()])
def test_bad_inputs_raise(form):
    x, y = X_SIZES, 0.5 * X_SIZES**-0.3
    with pytest.raises(ValueError, match="positive"):
        form.fit(np.r_[0.0, x[1:]], y)
    with pytest.raises(ValueError, match="positive"):
        form.fit(x, np.r_[-0.1, y[1:]])
    with pytest.raises(ValueError, match="NaN"):
        form.fit(x, np.r_[np.nan, y[1:]])
    with pytest.raises(ValueError, match="same shape"):
        form.fit(x, y[:-1])
    n = len(form.param_names)
    with pytest.raises(ValueError, match="at least"):
        form.fit(x[:n], y[:n])
    with pytest.raises(ValueError, match="not fitted"):
        type(form)().predict(x)


def test_fit_error_is_reported():
    # every start failing (here: none left) raises FitError with advice, not a silent number
    with pytest.raises(FitError, match="failed from all"):
        OffsetPowerLaw()._multistart(X_SIZES, np.ones_like(X_SIZES), [], None, (0, 1), None)


# --- judging forms by extrapolation ------------------------------------------------------------


def test_extrapolation_score_under_prediction_of_pure_power_law():
    y = OffsetPowerLaw.from_params(eps_inf=0.3, a=5.0, b=-0.4).predict(X_SIZES)
    pure = extrapolation_score(PowerLaw(), X_SIZES, y, n_holdout=3)
    off = extrapolation_score(OffsetPowerLaw(), X_SIZES, y, n_holdout=3)
    assert len(pure.x_test) == 3 and pure.x_test.min() > pure.x_train.max()
    manual = np.sqrt(np.mean((np.log(pure.form.predict(pure.x_test)) - np.log(pure.y_test)) ** 2))
    assert pure.log_rmse == pytest.approx(manual)
    assert np.all(pure.relative_error < -0.01)  # a pure power law goes below the floor
    assert off.log_rmse < 1e-6 < pure.log_rmse


def test_compare_forms_reports_failures_and_aic():
    x = X_SIZES[:7]
    y = noisy(OffsetPowerLaw.from_params(eps_inf=0.3, a=5.0, b=-0.4).predict(x), 0.002)
    comp = compare_forms(x, y, n_holdout=1)
    t = comp.table.set_index("form")
    assert t.loc["broken power law", "status"].startswith("failed")  # 6 points < 7
    assert np.isnan(t.loc["broken power law", "holdout_log_rmse"])
    assert t.loc["power law + offset", "status"] == "ok"
    assert t.loc["power law + offset", "aic"] < t.loc["power law", "aic"]
    with pytest.raises(ValueError):
        compare_forms(x, y, n_holdout=1, raise_errors=True)
    with pytest.raises(ValueError, match="larger"):
        extrapolation_score(PowerLaw(), x, y, train=x > x[3])


def test_nmt_pure_power_law_under_predicts_and_offset_extrapolates_better():
    forms = {"power law": PowerLaw(), "power law + offset": OffsetPowerLaw()}
    comp = compare_forms_on_curves(load_nmt_curves(), forms)
    rel = comp.pivot("holdout_rel_error")
    assert (rel["power law"] < -0.10).all()  # MATH.md: under-predicts by roughly 15-25%
    err = comp.pivot()
    assert (err["power law + offset"] < err["power law"]).all()


# --- coin model --------------------------------------------------------------------------------


def test_coin_model_slopes_and_closed_forms():
    res = coin_learning_curve(p=0.3, n_trials=20000, random_state=0)
    assert res.slopes["squared_error"] == pytest.approx(-1.0, abs=0.05)
    assert res.slopes["absolute_error"] == pytest.approx(-0.5, abs=0.05)
    t = res.table
    np.testing.assert_allclose(t["squared_error"], t["squared_error_exact"], rtol=0.05)
    np.testing.assert_allclose(t["absolute_error"], t["absolute_error_exact"], rtol=0.03)
    big = t["size"] >= 1024
    np.testing.assert_allclose(
        t.loc[big, "absolute_error_exact"], t.loc[big, "absolute_error_asymptotic"], rtol=0.01
    )
    with pytest.raises(ValueError):
        coin_learning_curve(p=1.0)


# --- economics ---------------------------------------------------------------------------------


def test_data_needed_power_law_closed_form_and_flat_zone():
    y = noisy(2.0 * X_SIZES**-0.3, 0.01)
    f = PowerLaw().fit(X_SIZES, y)
    a, b = f.params_["a"], f.params_["b"]
    res = data_needed(f, 0.02, current=X_SIZES[-1])
    assert res.m == pytest.approx((0.02 / a) ** (1 / b), rel=1e-6)
    assert res.m_low < res.m < res.m_high and not res.in_flat_zone
    assert res.multiplier == pytest.approx(res.m / X_SIZES[-1])

    y2 = noisy(OffsetPowerLaw.from_params(eps_inf=0.3, a=5.0, b=-0.5).predict(X_SIZES), 0.003)
    g = OffsetPowerLaw().fit(X_SIZES, y2)
    flat = data_needed(g, 0.25)
    assert flat.in_flat_zone and math.isinf(flat.m) and "flat zone" in flat.message
    ok = data_needed(g, 0.32)
    assert not ok.in_flat_zone and np.isfinite(ok.m)
    assert g.predict([ok.m])[0] == pytest.approx(0.32, rel=1e-6)
    with pytest.raises(ValueError):
        data_needed(g, -1.0)
