"""Tests of scaling_kit.theory against closed forms, direct refits and simulated truths
(docs/math.md §4)."""

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import wishart

from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.logistic import LogisticProblem, augment
from scaling_kit.results import Summary
from scaling_kit.theory import (
    GaussianLinearModel,
    GaussianLogisticModel,
    fit_inverse_powers,
    fit_loglog_slope,
    ols_coefficient,
    ols_expectation_terms,
    ols_expected_contribution,
    ols_marginal_contribution,
    ols_rank_one_check,
    ols_refit_contribution,
    simulate_logistic_contributions,
    simulate_ols_contributions,
    two_term_exponent,
)
from scaling_kit.theory.logistic import _fit_batch

COV = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.2], [0.0, 0.2, 0.5]])


@pytest.fixture(scope="module")
def lin():
    return GaussianLinearModel(cov=COV, noise_std=0.7, coef=[1.0, -2.0, 0.5])


# ----------------------------------------------------------------------------- OLS
def test_point_has_requested_leverage(lin):
    x = lin.point([0.5, 3.0, 9.0], direction=[1.0, -1.0, 2.0])
    np.testing.assert_allclose(lin.leverage(x), [0.5, 3.0, 9.0], rtol=1e-12)


def test_rank_one_update_matches_direct_refits(lin):
    rng = np.random.default_rng(0)
    for k in (5, 12, 40):
        X, y = lin.sample(k, rng)
        eps = y - X @ lin.coef
        xz = rng.standard_normal((4, 3))
        ez = rng.standard_normal(4) * 2
        fast = ols_marginal_contribution(X.T @ X, X.T @ eps, xz, ez, lin.cov)
        slow = [ols_refit_contribution(X, y, xz[j], xz[j] @ lin.coef + ez[j], lin) for j in range(4)]
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-13)


def test_exact_expectation_given_design_by_monte_carlo(lin):
    # fixed design, many noise draws: the mean of the exact contributions must match Theorem A.1
    rng = np.random.default_rng(1)
    k, n = 20, 200_000
    X, _ = lin.sample(k, rng)
    A = X.T @ X
    xz = lin.point([1.0, 4.0])
    ez = np.array([0.0, 1.5])
    b = lin.noise_std * rng.standard_normal((n, k)) @ X
    delta = ols_marginal_contribution(np.broadcast_to(A, (n, 3, 3)), b, xz, ez, lin.cov)
    expect = ols_expected_contribution(A, xz, ez, lin.cov, lin.noise_std)
    z = (delta.mean(axis=0) - expect) / (delta.std(axis=0) / np.sqrt(n))
    assert np.all(np.abs(z) < 4), z
    # and a wrong formula (the asymptotic one, or sigma^2 instead of 2 sigma^2) is rejected
    wrong = (lin.noise_var - ez**2) * lin.leverage(xz) / k**2
    z_wrong = (delta.mean(axis=0) - wrong) / (delta.std(axis=0) / np.sqrt(n))
    assert np.all(np.abs(z_wrong) > 10)


def test_expectation_terms_by_monte_carlo_of_each_term(lin):
    # the two terms of E[Delta | X], each against its own Monte Carlo mean over label noise,
    # computed here from the definitions (d = A^-1 X^T eps, r = e_z - x_z^T d)
    rng = np.random.default_rng(12)
    k, n = 15, 200_000
    X, _ = lin.sample(k, rng)
    A = X.T @ X
    xz = lin.point([2.0, 2.0, 6.0])
    ez = np.array([0.0, 1.3, 0.6])
    terms = ols_expectation_terms(A, xz, ez, lin.cov, lin.noise_std)
    d = np.linalg.solve(A, (lin.noise_std * rng.standard_normal((n, k)) @ X).T).T  # (n, p)
    u = np.linalg.solve(A, xz.T).T  # (m, p)
    h = np.einsum("mp,mp->m", u, xz)
    q = np.einsum("mp,pq,mq->m", u, lin.cov, u)
    r = ez[None, :] - d @ xz.T  # (n, m)
    first = -2 * r * (d @ lin.cov @ u.T) / (1 + h)
    second = -(r**2) * q / (1 + h) ** 2
    for column, draws in (("helpful", first), ("harmful", second)):
        z = (draws.mean(axis=0) - terms[column]) / (draws.std(axis=0) / np.sqrt(n))
        assert np.all(np.abs(z) < 4), (column, z)
    np.testing.assert_allclose(terms["h"], h, rtol=1e-12)
    np.testing.assert_allclose(terms["expected"],
                               ols_expected_contribution(A, xz, ez, lin.cov, lin.noise_std),
                               rtol=1e-12)
    at_root = ols_expectation_terms(A, xz, np.sqrt(terms["root"] * lin.noise_var), lin.cov,
                                    lin.noise_std)
    assert np.all(np.abs(at_root["expected"]) < 1e-12 * at_root["helpful"])
    with pytest.raises(ValueError, match="one Gram matrix"):
        ols_expectation_terms(np.stack([A, A]), xz, ez, lin.cov, lin.noise_std)


def test_rank_one_check_against_refits(lin):
    rng = np.random.default_rng(13)
    for k in (4, 30, 500):
        X, y = lin.sample(k, rng)
        xz = rng.standard_normal((3, 3)) * 2
        table = ols_rank_one_check(lin, X, y, xz, rng.standard_normal(3))
        assert np.all(table["abs_diff"] <= table["tolerance"]), table
        # the bound is a rounding bound, far below the contributions themselves
        assert np.all(table["tolerance"] < 1e-8 * np.abs(table["refit"]).max())
    with pytest.raises(TypeError, match="model"):
        ols_rank_one_check("model", X, y, xz, np.zeros(3))
    with pytest.raises(ValueError, match="at least p"):
        ols_rank_one_check(lin, X[:2], y[:2], xz, np.zeros(3))


def test_simulated_mean_matches_exact_formula_over_designs(lin):
    xz = lin.point([3.0, 3.0, 8.0])
    ez = np.array([0.0, 1.4, 0.5])
    res = simulate_ols_contributions(lin, xz, ez, ks=[30, 300], n_datasets=20_000, random_state=2)
    se = np.sqrt(res.se**2 + res.exact_se**2)
    assert np.all(np.abs(res.mean - res.exact) < 4 * se)
    # the asymptotic c k^-2 is approached: within 10% at k = 300 for the exact expectation
    np.testing.assert_allclose(res.exact[-1], res.asymptotic[-1], rtol=0.1)
    # antithetic pairs are unbiased: the same check without them
    res2 = simulate_ols_contributions(
        lin, xz, ez, ks=[30], n_datasets=20_000, antithetic=False, random_state=3
    )
    assert np.all(np.abs(res2.mean - res2.exact) < 4 * np.sqrt(res2.se**2 + res2.exact_se**2))


def test_wishart_shortcut_agrees_with_explicit_design(lin):
    # the user-design path forms X explicitly; both estimate the same expectation
    chol = np.linalg.cholesky(lin.cov)

    def design(rng, k):
        return rng.standard_normal((k, 3)) @ chol.T

    xz, ez = lin.point([2.0]), np.array([0.3])
    a = simulate_ols_contributions(lin, xz, ez, ks=[25], n_datasets=20_000, random_state=4)
    b = simulate_ols_contributions(
        lin, xz, ez, ks=[25], n_datasets=20_000, design=design, random_state=5
    )
    assert abs(a.mean[0, 0] - b.mean[0, 0]) < 4 * np.hypot(a.se[0, 0], b.se[0, 0])
    assert b.design == "user design"


def test_inverse_wishart_moment_closed_form(lin):
    # E[x^T A^-1 Sigma A^-1 x] = lev (k-1) / ((k-p)(k-p-1)(k-p-3)) for A ~ W(k, Sigma); checks the
    # q term of the exact expectation (e_z^2 = 2 sigma^2 + ... aside) via the sigma -> 0 limit
    k, p = 15, 3
    A = wishart.rvs(df=k, scale=lin.cov, size=200_000, random_state=6)
    xz = lin.point(2.5)[None, :]
    q = -ols_expected_contribution(A, xz, [1.0], lin.cov, 1e-9)[:, 0]  # -(e^2 q/(1+h)^2), e = 1
    h = np.einsum("bp,p->b", np.linalg.solve(A, np.broadcast_to(xz[0], (len(A), p))[..., None])[..., 0], xz[0])
    q = q * (1 + h) ** 2
    expected = 2.5 * (k - 1) / ((k - p) * (k - p - 1) * (k - p - 3))
    assert abs(q.mean() - expected) < 4 * q.std() / np.sqrt(len(q))


def test_expected_contribution_over_gaussian_designs_by_monte_carlo(lin):
    # the quadrature formula against E[Delta | X] averaged over 200,000 Wishart designs: the
    # design Monte Carlo has no label noise, so its standard error is the only tolerance
    xz = lin.point([0.5, 3.0, 9.0], direction=[1.0, -1.0, 2.0])
    ez = np.array([0.0, 1.2, 0.4])
    for k in (8, 30):
        A = wishart.rvs(df=k, scale=lin.cov, size=200_000, random_state=k)
        given_x = ols_expected_contribution(A, xz, ez, lin.cov, lin.noise_std)
        z = (given_x.mean(axis=0) - lin.expected_contribution(xz, ez, [k])[0]) / (
            given_x.std(axis=0) / np.sqrt(len(given_x)))
        assert np.all(np.abs(z) < 4), (k, z)


def test_expected_contribution_tends_to_the_coefficient_at_rate_one_over_k(lin):
    # k^2 E[Delta] = c(z) (1 + a / k + b / k^2 + ...) with a = 3p + 3 - lev (3 s^2 - 2 e^2) /
    # (2 s^2 - e^2) (inverse-Wishart moment, first-order expansion of the bracket in h).
    # f(k) = k (k^2 E / c - 1) = a + b / k + O(k^-2); Richardson 2 f(2k) - f(k) removes b / k,
    # leaving O(k^-2) (~1e-6 for coefficients up to 1e4 at k = 1e5) and the quadrature's
    # ~1e-12 relative error times 3k (~1e-6): 1e-4 is far outside both
    xz = lin.point([3.0, 3.0, 8.0])
    ez = np.array([0.0, 1.1, 1.5])
    p, s2, e2, lev = 3, lin.noise_var, ez**2, np.array([3.0, 3.0, 8.0])
    c = ols_coefficient(xz, ez, lin.cov, lin.noise_std)
    a = 3 * p + 3 - lev * (3 * s2 - 2 * e2) / (2 * s2 - e2)
    k = np.array([100_000, 200_000])
    f = k[:, None] * (k[:, None] ** 2 * lin.expected_contribution(xz, ez, k) / c - 1)
    assert np.all(np.abs(2 * f[1] - f[0] - a) < 1e-4), (2 * f[1] - f[0], a)


def test_sign_flip_ratio_is_the_root_of_the_expectation(lin):
    xz = lin.point([4.0, 0.5])
    ks = [10, 100, 5000]
    ratio = lin.sign_flip_ratio(xz, ks)
    for ik, k in enumerate(ks):
        at_root = lin.expected_contribution(xz, np.sqrt(ratio[ik] * lin.noise_var), [k])[0]
        scale = lin.expected_contribution(xz, np.zeros(2), [k])[0]
        assert np.all(np.abs(at_root) < 1e-9 * scale), (k, at_root / scale)
    # a weighted mean of the per-design root 2 + h, h ~ lev / k: above 2, -> 2 + lev / k
    assert np.all(ratio > 2)
    np.testing.assert_allclose(ratio[-1] - 2, np.array([4.0, 0.5]) / 5000, rtol=0.01)
    with pytest.raises(ValueError, match="p \\+ 4"):
        lin.expected_contribution(xz, [0.0, 0.0], [6])
    with pytest.raises(ValueError, match="e_z"):
        lin.expected_contribution(xz, [0.0], [50])


def test_fit_inverse_powers_recovers_a_known_series_and_rejects_bad_input():
    ks = np.array([100.0, 200, 400, 800, 1600])
    truth = 0.05 / ks + 1.7 / ks**2 - 30 / ks**3
    fit = fit_inverse_powers(ks, truth, 1e-3 * np.abs(truth), powers=(1, 2, 3))
    np.testing.assert_allclose(fit.params, [0.05, 1.7, -30], rtol=1e-8)
    assert list(fit.params.index) == ["c1", "c2", "c3"] and fit.chi2 < 1e-12
    np.testing.assert_allclose(fit.predict(ks), truth, rtol=1e-10)
    # known variances: noise of the stated size gives a chi2 of about len(ks) - 3 and estimates
    # within 4 standard errors of the truth (fixed seed, one draw)
    rng = np.random.default_rng(0)
    se = 0.02 * np.abs(truth)
    noisy = fit_inverse_powers(ks, truth + se * rng.standard_normal(5), se, powers=(1, 2, 3))
    assert np.all(np.abs(noisy.params - [0.05, 1.7, -30]) < 4 * noisy.bse)
    ci = noisy.conf_int(alpha=0.05)
    assert list(ci.columns) == ["lower", "upper"]
    np.testing.assert_allclose(ci["upper"] - ci["lower"], 2 * 1.959963984540054 * noisy.bse)
    assert isinstance(noisy.summary(), Summary)
    # dropping the k^-1 term of a series that has one is rejected by the residuals
    wrong = fit_inverse_powers(ks, truth + se * rng.standard_normal(5), se, powers=(2, 3))
    assert wrong.chi2 > 100
    with pytest.raises(ValueError, match="powers"):
        fit_inverse_powers(ks, truth, se, powers=(0, 1))
    with pytest.raises(ValueError, match="ks"):
        fit_inverse_powers(ks[:2], truth[:2], se[:2], powers=(1, 2))
    with pytest.raises(ValueError, match="se"):
        fit_inverse_powers(ks, truth, -se)


def test_ols_slope_is_minus_two_and_sign_and_leverage(lin):
    ks = 2 ** np.arange(7, 14)
    xz = lin.point([3.0, 3.0])
    res = simulate_ols_contributions(lin, xz, [0.0, 2.0], ks=ks, n_datasets=4000, random_state=7)
    for j in range(2):
        fit = res.slope(j)
        assert abs(fit.slope + 2) < 4 * fit.se + 0.03, fit
    # sign flip at e^2 = 2 sigma^2 (plus the O(h) finite-k shift)
    e = np.sqrt(lin.noise_var * np.array([0.0, 1.0, 3.0, 4.0]))
    flip = simulate_ols_contributions(
        lin, lin.point([3.0] * 4), e, ks=[2000], n_datasets=4000, random_state=8
    ).sign_flip()
    assert abs(flip.ratio - flip.exact) < 4 * flip.se
    assert abs(flip.ratio - 2.0) < 4 * flip.se + 0.01
    # monotone in leverage, proportional to it
    levs = np.array([0.5, 1, 2, 4, 8, 16])
    lv = simulate_ols_contributions(
        lin, lin.point(levs), np.zeros(6), ks=[1000], n_datasets=4000, random_state=9
    )
    assert np.all(np.diff(lv.mean[0]) > 0)
    np.testing.assert_allclose(lv.mean[0] * 1000**2, ols_coefficient(lin.point(levs), np.zeros(6), lin.cov, 0.7), rtol=0.1)


def test_compare_expected_against_the_exact_finite_k_expectation(lin):
    xz, ez = lin.point([3.0, 3.0]), np.array([0.0, 2.0])
    res = simulate_ols_contributions(lin, xz, ez, ks=[32, 64, 128, 256], n_datasets=4000,
                                     random_state=14)
    exact = lin.expected_contribution(xz, ez, res.ks)
    table = res.compare_expected(exact)
    assert np.all(table["max_abs_z"] < 4), table
    assert np.all(np.abs(table["slope"] - table["expected_slope"]) < 4 * table["slope_se"])
    np.testing.assert_allclose(table["gap"], 256**2 * exact[-1] / res.coefficient - 1)
    # the finite-k expectation is not the limit: its slope is off -2 by far more than the
    # Monte Carlo error at these small k, which is why the comparison is with exact, not -2
    assert np.all(np.abs(table["expected_slope"] + 2) > 4 * table["slope_se"])
    with pytest.raises(ValueError, match="expected"):
        res.compare_expected(exact[:2])


def test_fit_loglog_slope_recovers_known_power_and_rejects_bad_input():
    ks = np.array([10.0, 20, 40, 80])
    fit = fit_loglog_slope(ks, 3.0 * ks**-1.3, 0.01 * ks**-1.3)
    assert fit.slope == pytest.approx(-1.3, abs=1e-10)
    assert fit.alpha == pytest.approx(1.3, abs=1e-10)
    with pytest.raises(ValueError, match="changes sign"):
        fit_loglog_slope(ks, np.array([1.0, -1, 1, 1]), np.ones(4))
    with pytest.raises(ValueError, match="three"):
        fit_loglog_slope(ks[:2], ks[:2], ks[:2])
    with pytest.raises(ValueError, match="se"):
        fit_loglog_slope(ks, ks, -ks)
    # intervals by the convention: conf_int(alpha) -> DataFrame (parameter x lower/upper)
    noisy = fit_loglog_slope(ks, 3.0 * ks**-1.3 * np.array([1.01, 0.99, 1.02, 0.98]),
                             0.01 * ks**-1.3)
    ci = noisy.conf_int(alpha=0.05)
    assert list(ci.columns) == ["lower", "upper"] and list(ci.index) == ["intercept", "slope"]
    from scipy.stats import norm

    z = norm.ppf(0.975)
    assert ci.loc["slope", "lower"] == pytest.approx(noisy.slope - z * noisy.se, rel=1e-12)
    assert ci.loc["slope", "upper"] == pytest.approx(noisy.slope + z * noisy.se, rel=1e-12)
    assert noisy.conf_int(0.5).loc["slope", "upper"] < ci.loc["slope", "upper"]
    assert noisy.params["slope"] == noisy.slope
    with pytest.raises(ValueError, match="alpha"):
        noisy.conf_int(alpha=0.0)
    summary = noisy.summary()
    assert isinstance(summary, Summary)
    assert summary.tables["parameters"].loc["slope", "std_err"] == pytest.approx(noisy.se)


def test_bad_inputs_raise(lin):
    with pytest.raises(ValueError, match="positive definite"):
        GaussianLinearModel(cov=-np.eye(2))
    with pytest.raises(ValueError, match="noise_std"):
        GaussianLinearModel(cov=np.eye(2), noise_std=0)
    with pytest.raises(ValueError, match="at least"):
        simulate_ols_contributions(lin, lin.point(1.0)[None], [0.0], ks=[2])
    with pytest.raises(ValueError, match="x_z"):
        simulate_ols_contributions(lin, np.ones((1, 2)), [0.0], ks=[10])
    with pytest.raises(ValueError, match="finite"):
        simulate_ols_contributions(lin, lin.point(1.0)[None], [np.nan], ks=[10])
    with pytest.raises(ValueError, match="n_datasets"):
        simulate_ols_contributions(lin, lin.point(1.0)[None], [0.0], ks=[10], n_datasets=0)
    with pytest.raises(ValueError, match="increasing"):
        simulate_ols_contributions(lin, lin.point(1.0)[None], [0.0], ks=[20, 10])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_datasets=2.5), TypeError, "n_datasets"),
    (dict(n_datasets=1), ValueError, "n_datasets"),
    (dict(n_datasets=True), TypeError, "n_datasets"),
    (dict(ks=[10.5, 20]), ValueError, "ks"),
    (dict(ks=[]), ValueError, "ks"),
    (dict(ks=[10, 10]), ValueError, "ks"),
    (dict(chunk_size=0), ValueError, "chunk_size"),
    (dict(design="gaussian"), TypeError, "design"),
    (dict(random_state=-1), ValueError, "random_state"),
    (dict(random_state=2.0), TypeError, "random_state"),
    (dict(model="linear"), TypeError, "model"),
])
def test_simulate_ols_bad_arguments(lin, kwargs, error, match):
    args = dict(model=lin, x_z=lin.point(1.0)[None], e_z=[0.0], ks=[10, 20], n_datasets=10)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        simulate_ols_contributions(**args)


@pytest.mark.parametrize("call, error, match", [
    (lambda m: GaussianLinearModel(cov=np.eye(2), noise_std="1"), TypeError, "noise_std"),
    (lambda m: GaussianLinearModel(cov=np.ones((2, 3))), ValueError, "square"),
    (lambda m: GaussianLinearModel(cov=[[1.0, 0.5], [0.0, 1.0]]), ValueError, "symmetric"),
    (lambda m: GaussianLinearModel(cov=np.eye(2), coef=[1.0, np.nan]), ValueError, "coef"),
    (lambda m: m.sample(0), ValueError, "n"),
    (lambda m: m.sample(2.5), TypeError, "n"),
    (lambda m: m.point(-1.0), ValueError, "leverage"),
    (lambda m: ols_coefficient(m.point([1.0]), [0.0], m.cov, 0.0), ValueError, "noise_std"),
    (lambda m: ols_coefficient(m.point([1.0]), [np.nan], m.cov, 1.0), ValueError, "e_z"),
    (lambda m: ols_expected_contribution(np.eye(3), m.point([1.0]), [0.0], m.cov, -1.0),
     ValueError, "noise_std"),
    (lambda m: ols_marginal_contribution(np.eye(2), np.zeros(2), m.point([1.0]), [0.0], m.cov),
     ValueError, "A must have shape"),
    (lambda m: ols_marginal_contribution(np.eye(3), np.full(3, np.nan), m.point([1.0]), [0.0],
                                         m.cov), ValueError, "b contains NaN"),
    (lambda m: ols_refit_contribution(np.ones((5, 3)), np.ones(5), np.ones(3), 1.0, "model"),
     TypeError, "model"),
    (lambda m: ols_refit_contribution(np.ones((5, 3)), np.ones(5), np.ones(3), np.nan, m),
     ValueError, "y_z"),
    (lambda m: ols_refit_contribution(np.ones((2, 3)), np.ones(2), np.ones(3), 1.0, m),
     ValueError, "at least p"),
])
def test_ols_functions_bad_input(lin, call, error, match):
    with pytest.raises(error, match=match):
        call(lin)


def test_ols_result_params_and_summary(lin):
    ks = [50, 100, 200, 400]
    res = simulate_ols_contributions(lin, lin.point([2.0, 2.0]), [0.0, 3.0], ks=ks,
                                     n_datasets=500, random_state=11)
    for j in range(2):
        fit = res.slope(j)
        assert res.params.loc[j, "slope"] == fit.slope and res.params.loc[j, "slope_se"] == fit.se
        assert res.params.loc[j, "exact_slope"] == res.slope(j, which="exact").slope
    np.testing.assert_allclose(res.params["coefficient"], res.coefficient)
    summary = res.summary()
    assert isinstance(summary, Summary)
    np.testing.assert_allclose(summary.table["slope"], res.params["slope"])


# ----------------------------------------------------------------------------- logistic
@pytest.fixture(scope="module")
def logit():
    return GaussianLogisticModel(coef=[1.5, -1.0], intercept=0.3)


def test_population_loss_and_hessian_by_monte_carlo(logit):
    X, y = logit.sample(400_000, 0)
    Xa = augment(X)
    theta = np.array([1.1, -0.6, 0.2])
    z = Xa @ theta
    ll = np.logaddexp(0.0, z) - y * z
    assert abs(logit.population_loss(theta) - ll.mean()) < 4 * ll.std() / np.sqrt(len(ll))
    # minimized at theta*: perturbations increase it, by 1/2 d^T H d to second order
    d = np.array([0.01, -0.02, 0.015])
    H = logit.population_hessian()
    gain = logit.population_loss(logit.theta_star[0] + d) - logit.population_loss(logit.theta_star[0])
    assert gain == pytest.approx(0.5 * d @ H @ d, rel=0.05)
    s = expit(Xa @ logit.theta_star[0])
    H_mc = (Xa * (s * (1 - s))[:, None]).T @ Xa / len(s)
    np.testing.assert_allclose(H, H_mc, atol=3e-3)


def test_batched_newton_matches_exact_learner(logit):
    # the simulation's fits are LogisticProblem.newton_batch (z appended as a row for D + z);
    # both solve to ~1e-12 relative, far inside atol=1e-10
    rng = np.random.default_rng(3)
    X, y = logit.sample(40, rng, size=5)
    problem = LogisticProblem(2, 2, 0.5)
    theta = _fit_batch(problem, augment(X), y, None)
    for b in range(5):
        ref = ExactLogisticRegression(C=0.5).fit(X[b], y[b]).theta_
        np.testing.assert_allclose(theta[b], ref, atol=1e-10)
    # D + z, warm-started, equals the refit on the augmented data
    xz, yz = np.array([0.4, -1.0]), 0
    th_dz = _fit_batch(problem, augment(X), y, theta, extra=(np.append(xz, 1.0), yz))
    for b in range(5):
        ref = ExactLogisticRegression(C=0.5).fit(np.vstack([X[b], xz]), np.append(y[b], yz))
        np.testing.assert_allclose(th_dz[b], ref.theta_, atol=1e-10)
    # a fit that cannot converge is an error, not a number: separable data, huge C
    Xs = np.array([[[-2.0, 0.0], [-1.0, 0.5], [1.0, 0.0], [2.0, -0.5]]])
    with pytest.raises(RuntimeError, match="did not converge"):
        _fit_batch(LogisticProblem(2, 2, 1e12), augment(Xs), np.array([[0, 0, 1, 1]]), None,
                   max_iter=5)


def test_logistic_regime_slopes(logit):
    res = simulate_logistic_contributions(
        logit, np.array([0.5, 0.5]), 1, ks=[100, 200, 400, 800], n_datasets=800,
        validation_sizes=(10,), n_pool=500, random_state=0,
    )
    pop, val = res.slope("population"), res.slope(10)
    # design check: this fixed V's k^-1 term dominates the k^-2 term over the whole range
    assert abs(res.c1[0]) * res.ks[0] > 10 * abs(res.population[0]) * res.ks[0] ** 2
    assert abs(pop.slope + 2) < 4 * pop.se + 0.1, pop
    assert abs(val.slope + 1) < 0.1, val
    assert pop.slope < val.slope
    # the k^-1 coefficient of the fixed validation set is the theorem's c_1(V)
    assert res.validation[-1, 0] * res.ks[-1] == pytest.approx(res.c1[0], rel=0.1)
    # spread over validation sets: pointwise variance ~ G / k^2
    np.testing.assert_allclose(res.pointwise_var * res.ks**2, res.G, rtol=0.25)
    # a validation set growing with k sits in between
    tm = fit_loglog_slope(res.ks, res.typical_magnitude(res.ks), 0.01 * res.typical_magnitude(res.ks))
    assert pop.slope < tm.slope < val.slope
    # the result carries these fits: params (by evaluation), typical_slope, summary
    assert res.params.loc["population", "slope"] == pop.slope
    assert res.params.loc[10, "slope"] == val.slope and res.params.loc[10, "c1"] == res.c1[0]
    assert res.typical_slope == pytest.approx(tm.slope, rel=1e-10)  # OLS = WLS, equal weights
    table = res.summary().table
    assert list(table["measured on"]) == ["population", "fixed V, |V| = 10"]
    np.testing.assert_allclose(table["slope"], [pop.slope, val.slope])


def test_series_fit_has_the_theorems_k_inverse_coefficient(logit):
    # Theorem A.2: E[Delta_V] = c_1(V) / k + O(k^-2) on a fixed validation set, and no k^-1
    # term on the population loss (grad L(theta*) = 0); the fitted k^-1 coefficient of the
    # series c1/k + c2/k^2 + c3/k^3 matches within 4 standard errors
    res = simulate_logistic_contributions(
        logit, np.array([0.5, 0.5]), 1, ks=[100, 150, 200, 300, 400, 800], n_datasets=800,
        validation_sizes=(10, 200), n_pool=500, random_state=4,
    )
    for i in range(2):
        fit = fit_inverse_powers(res.ks, res.validation[:, i], res.validation_se[:, i],
                                 powers=(1, 2, 3))
        assert abs(fit.params["c1"] - res.c1[i]) < 4 * fit.bse["c1"], (fit.params, res.c1[i])
    pop = fit_inverse_powers(res.ks, res.population, res.population_se, powers=(1, 2))
    assert abs(pop.params["c1"]) < 4 * pop.bse["c1"], pop.params
    assert pop.params["c2"] > 4 * pop.bse["c2"]  # this point helps: a positive k^-2 term
    # the result's own series fits and table say the same
    table = res.series_table(powers=(1, 2))
    assert list(table.index) == ["population", 10, 200]
    assert table.loc["population", "c1"] == pop.params["c1"]
    np.testing.assert_allclose(table.loc[[10, 200], "c1_theory"], res.c1)
    np.testing.assert_allclose(table["z"], (table["c1"] - table["c1_theory"]) / table["c1_se"])
    assert np.all(table["dof"] == 4)
    assert res.fit_series((1, 2))[200].params["c2"] == table.loc[200, "c2"]
    with pytest.raises(ValueError, match="powers"):
        res.series_table(powers=(2, 3))


def test_fixed_set_coefficient_matches_the_simulation_and_its_spread(logit):
    xz = np.array([0.5, 0.5])
    res = simulate_logistic_contributions(logit, xz, 1, ks=[60], n_datasets=2,
                                          validation_sizes=(30, 300), n_pool=300, random_state=5)
    X_v, y_v = logit.sample(300, np.random.default_rng(5))  # the simulation's pool: first draw
    np.testing.assert_allclose(
        [logit.fixed_set_coefficient(xz, 1, X_v[:30], y_v[:30]),
         logit.fixed_set_coefficient(xz, 1, X_v, y_v)], res.c1, rtol=1e-12)
    # scores have mean zero and covariance H at theta* (well-specified model)
    X, y = logit.sample(400_000, 6)
    g = logit.score(X, y)
    assert np.all(np.abs(g.mean(axis=0)) < 4 * g.std(axis=0) / np.sqrt(len(g)))
    np.testing.assert_allclose(np.cov(g, rowvar=False), logit.population_hessian(), atol=3e-3)
    # over 4000 validation sets of 200 points: mean 0 and sd sqrt(G / n); c_1 is a mean of 200
    # i.i.d. terms (close to normal), so the sample sd has standard error sd / sqrt(2 * 4000)
    X, y = logit.sample(200, 7, size=4000)
    c1 = logit.fixed_set_coefficient(xz, 1, X, y)
    sd = logit.fixed_set_coefficient_sd(xz, 1, 200)
    assert sd == pytest.approx(np.sqrt(res.G / 200), rel=1e-12)
    assert abs(c1.mean()) < 4 * sd / np.sqrt(4000)
    assert abs(c1.std(ddof=1) - sd) < 4 * sd / np.sqrt(2 * 4000)
    with pytest.raises(ValueError, match="X_V"):
        logit.fixed_set_coefficient(xz, 1, X[0, :, :1], y[0])
    with pytest.raises(ValueError, match="y"):
        logit.score(X[0], y[0] + 2)


def test_slopes_over_a_range_flag_sign_changes(logit):
    res = simulate_logistic_contributions(logit, np.array([0.5, 0.5]), 1, ks=[100, 200, 400, 800],
                                          n_datasets=200, validation_sizes=(10,), n_pool=50,
                                          random_state=0)
    table = res.slopes(k_range=(100, 400))
    assert list(table.index) == ["population", 10] and list(table["sizes"]) == [3, 3]
    for which in table.index:
        mean = res.population if which == "population" else res.validation[:, 0]
        changes = bool(np.any(mean[:3] > 0) and np.any(mean[:3] < 0))
        assert table.loc[which, "sign_change"] == changes
        if not changes:
            assert table.loc[which, "slope"] == res.slope(which, k_range=(100, 400)).slope
        else:
            assert np.isnan(table.loc[which, "slope"])
    np.testing.assert_array_equal(res.slopes()["slope"].to_numpy(), res.params["slope"].to_numpy())


def test_two_term_exponent_limits_local_form_and_sign_change():
    ks = np.geomspace(100, 1000, 10)
    # c1 = 0: pure k^-2; |c1| k >> c2: k^-1; the fit equals fit_loglog_slope with equal weights
    np.testing.assert_allclose(two_term_exponent([0.0, 1e6], 1.7, ks), [2.0, 1.0], atol=1e-5)
    curve = 0.05 / ks + 1.7 / ks**2
    assert two_term_exponent(0.05, 1.7, ks) == pytest.approx(
        -fit_loglog_slope(ks, curve, 0.01 * curve).slope, rel=1e-12)
    # over a narrow range the exponent is the local one, 1 + c2 / (c1 k + c2)
    narrow = np.array([500.0, 500.5])
    for c1 in (0.05, -0.01, 0.003):
        assert two_term_exponent(c1, 1.7, narrow) == pytest.approx(1 + 1.7 / (c1 * 500.25 + 1.7),
                                                                   rel=1e-5)
    # same signs: between 1 and 2; opposite signs: above 2 before the root k = -c2 / c1, below
    # 1 after it, NaN with the root inside the range (roots at k = 1700, 17 and 170 here)
    a = two_term_exponent(np.array([0.01, -0.001, -0.1, -0.01]), 1.7, ks)
    assert 1 < a[0] < 2 and a[1] > 2 and a[2] < 1 and np.isnan(a[3])
    with pytest.raises(ValueError, match="ks"):
        two_term_exponent(0.1, 1.0, [100.0])


def test_control_variate_is_unbiased(logit):
    kw = dict(ks=[60], n_datasets=3000, validation_sizes=(20,), n_pool=20)
    a = simulate_logistic_contributions(logit, np.array([1.0, 0.0]), 0, random_state=1, **kw)
    b = simulate_logistic_contributions(
        logit, np.array([1.0, 0.0]), 0, control_variate=False, random_state=1, **kw
    )
    # same datasets, the only difference is the mean of the control variate (zero in expectation)
    assert abs(a.population[0] - b.population[0]) < 4 * b.population_se[0]
    assert a.population_se[0] < b.population_se[0]


def test_logistic_bad_inputs(logit):
    with pytest.raises(ValueError, match="y_z"):
        simulate_logistic_contributions(logit, np.zeros(2), 2, ks=[50])
    with pytest.raises(ValueError, match="x_z"):
        simulate_logistic_contributions(logit, np.zeros(3), 1, ks=[50])
    with pytest.raises(ValueError, match="validation_sizes"):
        simulate_logistic_contributions(logit, np.zeros(2), 1, ks=[50], validation_sizes=(0,))
    with pytest.raises(ValueError, match="at least"):
        simulate_logistic_contributions(logit, np.zeros(2), 1, ks=[3])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(y_z=True), TypeError, "y_z"),
    (dict(y_z=0.5), TypeError, "y_z"),
    (dict(x_z=[np.nan, 0.0]), ValueError, "x_z"),
    (dict(n_datasets=1), ValueError, "n_datasets"),
    (dict(n_datasets=10.0), TypeError, "n_datasets"),
    (dict(n_pool=5, validation_sizes=(10,)), ValueError, "n_pool"),
    (dict(C=0.0), ValueError, "C"),
    (dict(C=np.inf), ValueError, "C"),
    (dict(chunk_size=-1), ValueError, "chunk_size"),
    (dict(ks=[50, 40]), ValueError, "ks"),
    (dict(random_state="0"), TypeError, "random_state"),
    (dict(model="logistic"), TypeError, "model"),
])
def test_simulate_logistic_bad_arguments(logit, kwargs, error, match):
    args = dict(model=logit, x_z=np.zeros(2), y_z=1, ks=[50], n_datasets=4)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        simulate_logistic_contributions(**args)


def test_logistic_model_bad_input(logit):
    with pytest.raises(ValueError, match="coef"):
        GaussianLogisticModel(coef=[np.inf])
    with pytest.raises(ValueError, match="intercept"):
        GaussianLogisticModel(coef=[1.0], intercept=np.nan)
    with pytest.raises(ValueError, match="n_quad"):
        GaussianLogisticModel(coef=[1.0], n_quad=0)
    with pytest.raises(ValueError, match="cov"):
        GaussianLogisticModel(coef=[1.0, 2.0], cov=np.eye(3))
    with pytest.raises(ValueError, match="theta"):
        logit.population_loss(np.zeros(2))
    with pytest.raises(ValueError, match="n"):
        logit.sample(0)
