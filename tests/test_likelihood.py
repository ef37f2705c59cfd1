"""fit_likelihood, LikelihoodScalingLaw and ScalingLawResults (docs/math.md §5).

The maximum-likelihood paths are checked against closed forms, finite differences and each
other; the API against docs/api.md. The empirical-Bayes default has its own file.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from scaling_kit.exceptions import ConvergenceWarning
from scaling_kit.laws import (
    LikelihoodScalingLaw,
    ScalingLawResults,
    fit_likelihood,
    profile_alpha,
    profile_nll,
    simulate_contributions,
)
from scaling_kit.laws._mle import f_theta, grad_hess_theta
from scaling_kit.laws._samples import as_samples, pad
from scaling_kit.results import Summary


def make_truth(n_points=300, noise=0.5, seed=0):
    """Laws with mixed signs; noise sd at k = 100 is `noise` times |mean| at k = 100."""
    rng = np.random.default_rng(seed)
    c = rng.choice([-1.0, 1.0], n_points, p=[0.3, 0.7]) * np.exp(rng.normal(-1, 0.5, n_points))
    alpha = rng.uniform(0.7, 1.8, n_points)
    beta = rng.uniform(2.0, 3.5, n_points)
    sigma = noise * np.abs(c) * 100.0 ** (beta / 2 - alpha)
    return c, alpha, sigma, beta


def quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit_likelihood(*args, **kwargs)


@pytest.fixture(scope="module")
def recovery():
    c, alpha, sigma, beta = make_truth()
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=500,
                                  random_state=1)
    return (c, alpha, sigma, beta), data, fit_likelihood(data, method="newton")


def test_gradient_and_hessian_match_finite_differences():
    c, alpha, sigma, beta = make_truth(20)
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=50,
                                  random_state=0)
    S = pad(*as_samples(data))
    theta = np.column_stack([np.log(alpha), np.log(beta)]) + 0.2
    _, g, H = grad_hess_theta(S, theta)
    for i in range(len(theta)):
        def f(t, i=i):
            return f_theta(S, t[None, :], idx=np.array([i]))[0]

        def grad(t, i=i):
            return grad_hess_theta(S, t[None, :], idx=np.array([i]))[1][0]

        # forward differences with step 1e-7: error ~ 1e-7 * |f''| + 1e-16 / 1e-7
        np.testing.assert_allclose(g[i], optimize.approx_fprime(theta[i], f, 1e-7), atol=1e-5)
        np.testing.assert_allclose(H[i], optimize.approx_fprime(theta[i], grad, 1e-7), atol=1e-4)


def test_profile_nll_equals_gaussian_nll_at_closed_form_c_sigma():
    rng = np.random.default_rng(3)
    k = rng.integers(100, 1001, 60).astype(float)
    delta = 0.5 * k**-1.2 + 0.01 * k**-1.0 * rng.standard_normal(60)
    a, b = 1.1, 2.3
    c = np.mean(delta * k ** (b - a)) / np.mean(k ** (b - 2 * a))  # docs/math.md §5
    s2 = np.mean((delta - c * k**-a) ** 2 * k**b)
    direct = -np.mean(stats.norm.logpdf(delta, c * k**-a, np.sqrt(s2 * k**-b)))
    assert profile_nll(k, delta, a, b) == pytest.approx(direct, rel=1e-10)
    # c and sigma are the maximizers: perturbing them increases the NLL
    for dc, ds in [(1.01, 1), (0.99, 1), (1, 1.01), (1, 0.99)]:
        worse = -np.mean(stats.norm.logpdf(delta, dc * c * k**-a, ds * np.sqrt(s2 * k**-b)))
        assert worse > direct


def test_newton_recovers_alpha_within_reported_uncertainty(recovery):
    (c, alpha, _, _), _, res = recovery
    p = res.params
    assert p["converged"].all()
    assert list(p.index) == list(range(len(c)))
    z_alpha = np.abs(p["alpha"] - alpha) / p["alpha_se"]
    z_c = np.abs(p["c"] - c) / p["c_se"]
    # ~95% within 2 se nominally; 300 points: the binomial sd of the fraction is 1.3%
    assert np.mean(z_alpha < 2) > 0.9
    assert np.mean(z_c < 2) > 0.9
    assert np.median(np.abs(p["alpha"] - alpha)) < 0.05
    assert np.all(np.sign(p["c"]) == np.sign(c))  # negative c recovered as negative


def test_wald_and_profile_intervals_agree(recovery):
    _, data, res = recovery
    one = data[data.point == 5]
    table, (lo, hi) = profile_alpha(one.k, one.delta)
    p = res.params.loc[5]
    assert lo < p["alpha"] < hi
    ci = res.conf_int().loc[5]
    assert lo == pytest.approx(ci[("alpha", "lower")], abs=0.25 * (hi - lo))
    assert hi == pytest.approx(ci[("alpha", "upper")], abs=0.25 * (hi - lo))
    assert table["deviance"].min() == pytest.approx(0, abs=1e-3)


def test_newton_and_paper_adam_agree():
    c, alpha, sigma, beta = make_truth(60, seed=4)
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=100,
                                  random_state=2)
    newton = quiet_fit(data, method="newton", init=(1.0, 2.0)).params
    adam = quiet_fit(data, method="adam").params
    assert adam["converged"].mean() > 0.9
    assert np.median(np.abs(newton["alpha"] - adam["alpha"])) < 1e-4
    np.testing.assert_allclose(newton["nll"], adam["nll"], atol=1e-6)
    # Newton reaches the optimum: never a worse NLL than Adam's, up to rounding of the NLL
    assert np.all(newton["nll"] <= adam["nll"] + 1e-9)
    # the default grid start never ends worse than the paper's single start
    grid = quiet_fit(data, method="newton").params
    assert np.all(grid["nll"] <= newton["nll"] + 1e-9)


@pytest.mark.parametrize("method", ["empirical_bayes", "newton", "adam"])
def test_inputs_arrays_delta_col_and_wrapper_agree(method):
    c, alpha, sigma, beta = make_truth(10, seed=7)
    data = simulate_contributions(c, alpha, sigma, beta, ks=[100, 200, 500, 1000], n_samples=20,
                                  random_state=0)
    a = quiet_fit(data, method=method).params
    b = quiet_fit(point=data.point.to_numpy(), k=data.k.to_numpy(), delta=data.delta.to_numpy(),
                  method=method).params
    d = quiet_fit(data.rename(columns={"delta": "delta_error"}), delta_col="delta_error",
                  method=method).params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = LikelihoodScalingLaw(method=method).fit(data)
    # the same call on the same data: bitwise identical
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, d)
    pd.testing.assert_frame_equal(a, est.params_)
    pred, se = est.results_.predict([100, 1000], return_se=True)
    assert pred.shape == (10, 2) and (se.to_numpy() > 0).all()
    assert isinstance(est.results_.summary(), Summary)
    if method != "empirical_bayes":  # MLE: predict is c k^-alpha (invariance)
        np.testing.assert_allclose(pred[100.0], a["c"] * 100.0 ** -a["alpha"], rtol=1e-12)


def test_estimator_follows_scikit_learn_conventions():
    est = LikelihoodScalingLaw(method="newton", tol=1e-8)
    assert clone(est).get_params() == est.get_params()
    assert est.get_params()["lr"] == 0.05 and est.get_params()["patience"] == 100
    with pytest.raises(TypeError):
        LikelihoodScalingLaw("newton")  # keyword-only
    with pytest.raises(NotFittedError):
        est.predict([100])
    data = simulate_contributions([0.3, 0.5], [1.0, 1.2], [1e-3, 1e-3], [2.0, 2.0],
                                  k_range=(100, 1000), n_samples=50, random_state=0)
    assert est.fit(data) is est
    assert est.converged_ and est.n_iter_ >= 1
    assert est.predict([100, 200]).shape == (2, 2)


def test_results_conventions(recovery):
    _, _, res = recovery
    assert isinstance(res, ScalingLawResults)
    ci = res.conf_int(alpha=0.1)
    assert list(ci.columns) == [("c", "lower"), ("c", "upper"), ("alpha", "lower"),
                                ("alpha", "upper")]
    assert list(ci["alpha"].columns) == ["lower", "upper"]
    # Wald: estimate +- z se with z = Phi^-1(0.95)
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(ci[("alpha", "upper")], res.params["alpha"]
                               + z * res.params["alpha_se"], rtol=1e-12)
    pi = res.predict_interval([300, 3000], alpha=0.05)
    assert list(pi.columns.get_level_values("k").unique()) == [300.0, 3000.0]
    assert (pi[300.0]["lower"] < res.predict([300])[300.0]).all()
    text = str(res.summary())
    assert "newton" in text and "Wald" in text


def test_adam_warns_when_it_stops_before_converging():
    c, alpha, sigma, beta = make_truth(20, seed=2)
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=30,
                                  random_state=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = fit_likelihood(data, method="adam", max_iter=5)
    assert (res.params["status"] == "not converged").all()
    assert not res.params["converged"].any()


def test_tol_and_max_iter_are_honoured():
    c, alpha, sigma, beta = make_truth(30, seed=3)
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=40,
                                  random_state=0)
    loose = quiet_fit(data, method="newton", tol=1e-2).params
    tight = quiet_fit(data, method="newton", tol=1e-10).params
    assert loose["n_iter"].sum() < tight["n_iter"].sum()
    assert (quiet_fit(data, method="newton", max_iter=1).params["n_iter"] <= 1).all()


@pytest.mark.parametrize("method", ["empirical_bayes", "newton", "adam"])
def test_all_zero_point_is_flagged_not_fitted(method):
    data = simulate_contributions([0.3, 0.5], [1.0, 1.2], [1.0, 1.0], [2.0, 2.0],
                                  k_range=(100, 1000), n_samples=50, random_state=0)
    data.loc[data.point == 1, "delta"] = 0.0
    p = quiet_fit(data, method=method).params
    assert p.loc[1, "status"] == "degenerate" and not p.loc[1, "converged"]
    assert p.loc[1, "c"] == 0.0
    assert p.loc[0, "status"] != "degenerate"
    assert np.isfinite(p.loc[0, ["c", "alpha", "sigma", "beta"]].astype(float)).all()


@pytest.mark.parametrize("method", ["empirical_bayes", "newton", "adam"])
@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_fits_are_scale_equivariant(method, scale):
    """Contributions of size 1e-150 are fitted like those of size 1 (each point's samples are
    divided by their root mean square before the fit): alpha and beta are unchanged, c and
    sigma scale. The rescaled samples differ from the unscaled ones by one rounding (a
    relative 1e-16); Newton and empirical Bayes (converged, well-conditioned) keep that below
    1e-9, Adam (1000 steps of a chaotic, early-stopped iteration) amplifies it up to ~1e-6."""
    c, alpha, sigma, beta = make_truth(40, seed=9)
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000), n_samples=60,
                                  random_state=0)
    base = quiet_fit(data, method=method).params
    small = quiet_fit(data.assign(delta=data["delta"] * scale), method=method).params
    rtol = 1e-5 if method == "adam" else 1e-9
    assert (small["status"] == base["status"]).all()
    np.testing.assert_allclose(small["alpha"], base["alpha"], rtol=rtol)
    np.testing.assert_allclose(small["beta"], base["beta"], rtol=rtol)
    np.testing.assert_allclose(small["c"] / scale, base["c"], rtol=rtol)
    np.testing.assert_allclose(small["sigma"] / scale, base["sigma"], rtol=rtol)
    np.testing.assert_allclose(small["nll"] - np.log(scale), base["nll"], rtol=rtol, atol=rtol)


def test_profile_alpha_interval_matches_chi2_threshold():
    rng = np.random.default_rng(5)
    k = rng.integers(100, 1001, 200).astype(float)
    delta = 0.4 * k**-1.3 + 0.3 * k**-1.2 * rng.standard_normal(200)
    table, (lo, hi) = profile_alpha(k, delta, alphas=np.linspace(0.5, 2.5, 401))
    inside = table[table["deviance"] <= stats.chi2.ppf(0.95, 1)]["alpha"]
    assert (lo, hi) == (inside.min(), inside.max())
    assert lo < 1.3 < hi
