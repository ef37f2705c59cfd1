"""Tests of the maximum-likelihood estimator of individualized scaling laws (docs/math.md §5)."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from scaling_kit.laws.evaluation import (
    accuracy_table,
    accuracy_vs_samples,
    evaluate_predictions,
    subsample_contributions,
    true_means,
)
from scaling_kit.laws.likelihood import (
    LikelihoodScalingLaw,
    _as_samples,
    _f_theta,
    _grad_hess_theta,
    _pad,
    fit_likelihood,
    profile_alpha,
    profile_nll,
    simulate_contributions,
)


def make_truth(n_points=300, noise=0.5, seed=0):
    """Laws with mixed signs; noise sd at k = 100 is `noise` times |mean| at k = 100."""
    rng = np.random.default_rng(seed)
    c = rng.choice([-1.0, 1.0], n_points, p=[0.3, 0.7]) * np.exp(rng.normal(-1, 0.5, n_points))
    alpha = rng.uniform(0.7, 1.8, n_points)
    beta = rng.uniform(2.0, 3.5, n_points)
    sigma = noise * np.abs(c) * 100.0 ** (beta / 2 - alpha)
    return c, alpha, sigma, beta


@pytest.fixture(scope="module")
def recovery():
    c, alpha, sigma, beta = make_truth()
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=500,
                                  random_state=1)
    return (c, alpha, sigma, beta), data, fit_likelihood(data)


def test_gradient_and_hessian_match_finite_differences():
    c, alpha, sigma, beta = make_truth(20)
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=50,
                                  random_state=0)
    S = _pad(*_as_samples(data))
    theta = np.column_stack([np.log(alpha), np.log(beta)]) + 0.2
    _, g, H = _grad_hess_theta(S, theta)
    for i in range(len(theta)):
        def f(t, i=i):
            return _f_theta(S, t[None, :], idx=np.array([i]))[0]

        def grad(t, i=i):
            return _grad_hess_theta(S, t[None, :], idx=np.array([i]))[1][0]

        np.testing.assert_allclose(g[i], optimize.approx_fprime(theta[i], f, 1e-7), atol=1e-5)
        np.testing.assert_allclose(H[i], optimize.approx_fprime(theta[i], grad, 1e-7), atol=1e-4)


def test_profile_nll_equals_gaussian_nll_at_closed_form_c_sigma():
    rng = np.random.default_rng(3)
    k = rng.integers(100, 1001, 60).astype(float)
    delta = 0.5 * k**-1.2 + 0.01 * k**-1.0 * rng.standard_normal(60)
    a, b = 1.1, 2.3
    c = np.mean(delta * k ** (b - a)) / np.mean(k ** (b - 2 * a))  # closed form: docs/math.md §5
    s2 = np.mean((delta - c * k**-a) ** 2 * k**b)
    direct = -np.mean(stats.norm.logpdf(delta, c * k**-a, np.sqrt(s2 * k**-b)))
    assert profile_nll(k, delta, a, b) == pytest.approx(direct, rel=1e-10)
    # c and sigma are the maximizers: perturbing them increases the NLL
    for dc, ds in [(1.01, 1), (0.99, 1), (1, 1.01), (1, 0.99)]:
        worse = -np.mean(stats.norm.logpdf(delta, dc * c * k**-a, ds * np.sqrt(s2 * k**-b)))
        assert worse > direct


def test_recovers_alpha_within_reported_uncertainty(recovery):
    (c, alpha, _, _), _, res = recovery
    p = res.params_
    assert p["converged"].all()
    assert list(p.index) == list(range(len(c)))
    z_alpha = np.abs(p["alpha"] - alpha) / p["alpha_se"]
    z_c = np.abs(p["c"] - c) / p["c_se"]
    assert np.mean(z_alpha < 2) > 0.9  # ~95% nominal
    assert np.mean(z_c < 2) > 0.9
    assert np.median(np.abs(p["alpha"] - alpha)) < 0.05
    assert np.all(np.sign(p["c"]) == np.sign(c))  # negative c recovered as negative


def test_wald_and_profile_intervals_agree(recovery):
    _, data, res = recovery
    one = data[data.point == 5]
    table, (lo, hi) = profile_alpha(one.k, one.delta)
    p = res.params_.loc[5]
    assert lo < p["alpha"] < hi
    ci = res.confint().loc[5]
    assert lo == pytest.approx(ci["alpha_lower"], abs=0.25 * (hi - lo))
    assert hi == pytest.approx(ci["alpha_upper"], abs=0.25 * (hi - lo))
    assert table["deviance"].min() == pytest.approx(0, abs=1e-3)


def test_newton_and_paper_adam_agree():
    c, alpha, sigma, beta = make_truth(60, seed=4)
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=100,
                                  random_state=2)
    newton = fit_likelihood(data, init=(1.0, 2.0)).params_
    adam = fit_likelihood(data, method="adam").params_
    assert adam["converged"].mean() > 0.9
    assert np.median(np.abs(newton["alpha"] - adam["alpha"])) < 1e-4
    np.testing.assert_allclose(newton["nll"], adam["nll"], atol=1e-6)
    assert np.all(newton["nll"] <= adam["nll"] + 1e-9)
    # the default grid start never ends worse than the paper's single start
    grid = fit_likelihood(data).params_
    assert np.all(grid["nll"] <= newton["nll"] + 1e-9)


def test_small_noisy_samples_still_informative():
    c, alpha, sigma, beta = make_truth(300, noise=2.0, seed=5)
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=10,
                                  random_state=3)
    res = fit_likelihood(data)
    p = res.params_
    assert np.all(np.isfinite(p[["c", "alpha", "sigma", "beta", "nll"]].to_numpy()))
    assert p["converged"].dtype == bool
    pred = res.predict([300]).iloc[:, 0]
    assert stats.spearmanr(pred, c * 300.0**-alpha)[0] > 0.5
    # fewer samples -> wider reported uncertainty than with 500 samples
    big = fit_likelihood(simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000),
                                                n_samples=500, random_state=3))
    assert np.median(p["alpha_se"]) > 3 * np.median(big.params_["alpha_se"])


def test_accuracy_improves_with_samples():
    c, alpha, sigma, beta = make_truth(150, noise=1.0, seed=6)
    samples = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=250,
                                     random_state=0)
    gt = simulate_contributions(c, alpha, sigma, beta, ks=[100, 400, 1000, 5000],
                                n_samples=2000, random_state=1)
    acc = accuracy_vs_samples({"MLE": fit_likelihood}, samples, true_means(gt),
                              n_samples=(10, 50, 250), random_state=0)
    table = accuracy_table(acc, "pearson")
    fit_col = table["fit"].to_numpy()
    assert fit_col[0] < fit_col[1] < fit_col[2]
    assert fit_col[2] > 0.99
    assert set(acc["region"]) == {"fit", "extrapolation"}


def test_inputs_arrays_delta_col_and_wrapper_agree():
    c, alpha, sigma, beta = make_truth(10, seed=7)
    data = simulate_contributions(c, alpha, sigma, beta, ks=[100, 200, 500, 1000], n_samples=20,
                                  random_state=0)
    a = fit_likelihood(data).params_
    b = fit_likelihood(point=data.point.to_numpy(), k=data.k.to_numpy(),
                       delta=data.delta.to_numpy()).params_
    d = fit_likelihood(data.rename(columns={"delta": "delta_error"}), delta_col="delta_error").params_
    est = LikelihoodScalingLaw().fit(data)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, d)
    pd.testing.assert_frame_equal(a, est.params_)
    pred, se = est.results_.predict([100, 1000], return_se=True)
    assert pred.shape == (10, 2) and (se.to_numpy() > 0).all()
    np.testing.assert_allclose(pred[100.0], a["c"] * 100.0 ** -a["alpha"])
    assert "n_not_converged" in est.results_.summary().columns


def test_all_zero_point_is_flagged_not_fitted():
    data = simulate_contributions([0.3, 0.5], [1.0, 1.2], [1.0, 1.0], [2.0, 2.0],
                                  k_range=(100, 1000), n_samples=50, random_state=0)
    data.loc[data.point == 1, "delta"] = 0.0
    p = fit_likelihood(data).params_
    assert p.loc[1, "status"] == "degenerate" and not p.loc[1, "converged"]
    assert p.loc[1, "c"] == 0.0
    assert p.loc[0, "converged"]


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.assign(k=d.k.where(d.index != 3, 0)), "positive"),
        (lambda d: d.assign(delta=d.delta.where(d.index != 3, np.nan)), "NaN"),
        (lambda d: pd.concat([d, pd.DataFrame({"point": [99], "k": [100], "sample": [0],
                                               "delta": [0.1]})]), "fewer than 3"),
        (lambda d: d.assign(k=np.where(d.point == 0, 100, d.k)), "single dataset size"),
        (lambda d: d.drop(columns="delta"), "lacks column"),
    ],
)
def test_bad_input_raises(mutate, match):
    data = simulate_contributions([0.3, 0.5], [1.0, 1.2], [1.0, 1.0], [2.0, 2.0],
                                  k_range=(100, 1000), n_samples=20, random_state=0)
    with pytest.raises(ValueError, match=match):
        fit_likelihood(mutate(data))


def test_bad_options_raise():
    data = simulate_contributions(0.3, 1.0, 1.0, 2.0, k_range=(100, 1000), n_samples=20)
    with pytest.raises(ValueError, match="method"):
        fit_likelihood(data, method="sgd")
    with pytest.raises(ValueError, match="init"):
        fit_likelihood(data, init=(-1, 2))
    with pytest.raises(ValueError, match="exactly one"):
        simulate_contributions(0.3, 1.0, 1.0, 2.0, n_samples=5)
    with pytest.raises(ValueError, match="not fitted"):
        LikelihoodScalingLaw().predict([100])


def test_evaluation_helpers():
    data = simulate_contributions([0.3, 0.5, -0.2, 0.4], 1.0, 0.1, 2.0, ks=[100, 1000],
                                  n_samples=30, random_state=0)
    truth = true_means(data)
    assert truth.shape == (4, 2)
    sub = subsample_contributions(data, 5, random_state=0)
    assert sub.groupby("point").size().eq(5).all()
    perfect = evaluate_predictions(truth, truth, fit_range=(100, 500))
    np.testing.assert_allclose(perfect["r2"], 1.0)
    assert list(perfect["region"]) == ["fit", "extrapolation"]
    with pytest.raises(ValueError, match="NaN"):
        evaluate_predictions(truth * np.nan, truth)
