"""Smoke test of every public figure in scaling_kit.plots: each draws on the Agg backend from a
small real results object and returns a matplotlib Figure (on a given Axes: that Axes' figure).
The figures' numbers are tested where they are computed (the results objects); this test
catches a figure that no longer fits its inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import make_toy  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from scaling_kit import plots  # noqa: E402
from scaling_kit.aggregate import (  # noqa: E402
    OffsetPowerLaw,
    PowerLaw,
    coin_learning_curve,
    compare_forms,
    learning_curve,
)
from scaling_kit.contributions import sample_contributions, summarize_contributions  # noqa: E402
from scaling_kit.laws.comparison import compare_estimators  # noqa: E402
from scaling_kit.laws.crossings import law_crossing  # noqa: E402
from scaling_kit.laws.evaluation import accuracy_vs_samples  # noqa: E402
from scaling_kit.laws.likelihood import (  # noqa: E402
    fit_likelihood,
    profile_alpha,
    profile_nll,
    simulate_contributions,
)
from scaling_kit.laws.validation import fit_loglinear_laws  # noqa: E402
from scaling_kit.learners import ExactLogisticRegression, SklearnClassifier  # noqa: E402
from scaling_kit.link import aggregate_individual_link  # noqa: E402
from scaling_kit.metric_comparison import compare_metrics  # noqa: E402
from scaling_kit.optimization_noise import InitNoiseResult, seed_noise  # noqa: E402
from scaling_kit.theory import (  # noqa: E402
    GaussianLinearModel,
    GaussianLogisticModel,
    ols_expectation_terms,
    simulate_logistic_contributions,
    simulate_ols_contributions,
    two_term_exponent,
)
from scaling_kit.valuation import (  # noqa: E402
    compare_shapley_estimators,
    law_shapley,
    point_addition,
    selection_scores,
    shapley_size_profile,
)


@pytest.fixture(scope="module")
def inputs():
    """One small real input per kind of figure (module scope: built once, ~10 s)."""
    out = {}
    toy = make_toy(n_pool=80, n_test=100, n_features=3, seed=2)
    data = (toy.X_pool, toy.y_pool, toy.X_test, toy.y_test)
    # aggregate
    out["curve"] = learning_curve(LogisticRegression(max_iter=200), data, sizes=[8, 16, 32, 64],
                                  n_seeds=2, random_state=0)
    x = 2.0 ** np.arange(6, 14)
    y = 0.2 + 3.0 * x**-0.4
    out["x"], out["y"] = x, y
    out["forms"] = {"power law": PowerLaw().fit(x, y), "power law + offset":
                    OffsetPowerLaw().fit(x, y)}
    out["form_comparison"] = compare_forms(x, y, {"power law": PowerLaw(),
                                                  "power law + offset": OffsetPowerLaw()},
                                           n_holdout=2, curve="toy")
    out["coin"] = coin_learning_curve(p=0.3, n_trials=200, random_state=0)
    # contributions under several metrics, and the link
    samples = sample_contributions(ExactLogisticRegression(), data, np.arange(6), k=[8, 16, 32],
                                   n_samples=20, metric=["log_loss", "softmax_ce"],
                                   random_state=0, progress=False)
    out["summary"] = summarize_contributions(samples)
    out["samples"] = samples
    out["metric_comparison"] = compare_metrics(samples)
    out["link"] = aggregate_individual_link(ExactLogisticRegression(), data, [8, 16, 32],
                                            points=6, n_samples=10, n_datasets=20,
                                            random_state=0)
    # estimators
    rng = np.random.default_rng(0)
    P = 12
    c, alpha = rng.lognormal(0.0, 0.3, P), rng.uniform(0.8, 1.5, P)
    truth = pd.DataFrame({"c": c, "alpha": alpha, "sigma": 0.2 * c, "beta": np.full(P, 2.0)})
    lik_samples = simulate_contributions(c, alpha, 0.2 * c, 2.0, k_range=(20, 200), n_samples=60,
                                         random_state=1)
    out["lik_samples"], out["truth"] = lik_samples, truth
    out["likelihood"] = fit_likelihood(lik_samples)
    one = lik_samples[lik_samples["point"] == 0]
    out["profile"] = profile_alpha(one["k"], one["delta"])
    A, B = np.meshgrid(np.linspace(0.5, 2.0, 12), np.linspace(1.0, 3.0, 10))
    out["surface"] = (A, B, profile_nll(one["k"], one["delta"], A, B))
    ks = np.array([20.0, 50.0, 100.0, 200.0, 500.0])
    exact = pd.DataFrame(c[:, None] * ks[None, :] ** -alpha[:, None],
                         columns=pd.Index(ks, name="k"))
    out["accuracy"] = accuracy_vs_samples({"Likelihood": fit_likelihood}, lik_samples, exact,
                                          n_samples=(10, 60), fit_range=(20, 200),
                                          random_state=0)
    out["comparison"] = compare_estimators(30, (10, 40), estimators=("empirical_bayes", "newton"),
                                           random_state=0)
    out["noise_table"] = pd.DataFrame({"n_samples": [10] * 3 + [100] * 3, "k": [20, 50, 100] * 2,
                                       "mean": [0.1, -0.02, 0.01, 0.08, 0.03, 0.012],
                                       "true": [0.09, 0.035, 0.015] * 2,
                                       "wrong_sign": [False, True, False] * 2})
    # individualized laws (log-linear validation)
    by_k = simulate_contributions(c, alpha, 0.01 * c, 2.0, ks=[20, 40, 80, 160, 320],
                                  n_samples=40, random_state=2)
    out["loglinear"] = fit_loglinear_laws(summarize_contributions(by_k))
    out["distance"] = pd.Series(rng.uniform(0.0, 2.0, P), index=np.arange(P))
    out["seed_noise"] = seed_noise(SklearnClassifier(LogisticRegression()), toy.X_pool[:20],
                                   toy.y_pool[:20], toy.X_pool[20], toy.y_pool[20], toy.X_test,
                                   toy.y_test, 2, seeds=range(3))
    out["crossing"] = law_crossing(1.0, 1.5, 0.1, 1.0)
    out["crossing_means"] = pd.DataFrame({"mean_1": [0.01, 0.001], "sem_1": [1e-3, 1e-4],
                                          "mean_2": [0.005, -0.0005]}, index=[20.0, 200.0])
    noise = InitNoiseResult(point=0, k=10, seeds=np.arange(4), deltas=rng.normal(size=(6, 4)),
                            deltas_independent=rng.normal(0, 2, (6, 4)),
                            datasets=np.zeros((6, 10), int))
    out["reductions"] = {"a": noise.reductions(n_boot=5, random_state=0),
                         "b": noise.reductions(n_boot=5, random_state=1)}
    # theory
    lin = GaussianLinearModel(cov=np.eye(2), noise_std=1.0)
    out["ols"] = simulate_ols_contributions(lin, lin.point([2.0, 2.0]), [0.0, 2.0],
                                            ks=[20, 40, 80], n_datasets=50, random_state=0)
    flip_res = simulate_ols_contributions(lin, lin.point([2.0] * 3), [0.0, 1.0, 2.0], ks=[100],
                                          n_datasets=50, random_state=1)
    out["flip"] = (flip_res, flip_res.sign_flip())
    logit = GaussianLogisticModel(coef=[1.0, -0.5])
    out["logistic"] = simulate_logistic_contributions(logit, np.array([0.5, 0.5]), 1,
                                                      ks=[20, 40, 80], n_datasets=10,
                                                      validation_sizes=(10,), n_pool=20,
                                                      random_state=0)
    X = np.random.default_rng(2).standard_normal((12, 2))
    e = np.array([0.0, 1.0, 2.0])
    out["terms"] = (ols_expectation_terms(X.T @ X, lin.point([2.0] * 3), e, lin.cov, 1.0),
                    simulate_ols_contributions(lin, lin.point([2.0] * 3), e, ks=[12],
                                               n_datasets=20, design=lambda rng, k: X,
                                               random_state=2))
    out["ols_expected"] = lin.expected_contribution(out["ols"].x_z, out["ols"].e_z,
                                                    out["ols"].ks)
    out["series"] = out["logistic"].fit_series((1, 2))
    grid = np.linspace(-0.2, 0.2, 41)
    out["window"] = (grid, two_term_exponent(grid, 1.5, [100.0, 300.0, 1000.0]),
                     two_term_exponent(np.array([0.05, -0.05, 0.001]), 1.5, [100.0, 1000.0]))
    # valuation
    val = simulate_contributions(c, alpha, 0.2 * c, 2.0, k_range=(10, 100), n_samples=20,
                                 random_state=3)
    out["shapley"] = compare_shapley_estimators(val, law_shapley(c=c, alpha=alpha,
                                                                 k_range=(10, 100)),
                                                (10, 100), n_samples=(5, 20))
    candidates = np.arange(40, 60)
    params = pd.DataFrame({"c": rng.lognormal(0.0, 0.5, 20), "alpha": rng.uniform(0.5, 2.0, 20)},
                          index=candidates)
    out["scores"] = selection_scores(params, [10, 40])
    out["addition"] = point_addition(ExactLogisticRegression(), data, candidates, out["scores"],
                                     [10, 20], n_add=4, n_repeats=3, random_state=0)
    return out


CASES = {
    # aggregate
    "plot_learning_curve": lambda d, ax: plots.plot_learning_curve(d["curve"], "cross_entropy",
                                                                   d["forms"], ax=ax),
    "plot_form_fits": lambda d, ax: plots.plot_form_fits(d["x"], d["y"], d["forms"], ax=ax,
                                                         target=0.25),
    "plot_extrapolation_fits": lambda d, ax: plots.plot_extrapolation_fits(d["form_comparison"],
                                                                           "toy", ax=ax),
    "plot_extrapolation_comparison": lambda d, ax: plots.plot_extrapolation_comparison(
        d["form_comparison"], ax=ax),
    "plot_coin_curves": lambda d, ax: plots.plot_coin_curves(d["coin"], ax=ax),
    "plot_three_regions": lambda d, ax: plots.plot_three_regions(ax=ax),
    # comparison
    "plot_harmful_share": lambda d, ax: plots.plot_harmful_share(d["metric_comparison"], ax=ax),
    "plot_alpha_by_metric": lambda d, ax: plots.plot_alpha_by_metric(d["metric_comparison"],
                                                                     ax=ax),
    "plot_metric_curves": lambda d, ax: plots.plot_metric_curves(d["metric_comparison"]),
    "plot_link": lambda d, ax: plots.plot_link(d["link"], ax=ax),
    "plot_link_exponents": lambda d, ax: plots.plot_link_exponents(d["link"], ax=ax),
    # engine
    "plot_contribution_curves": lambda d, ax: plots.plot_contribution_curves(d["summary"], ax=ax),
    "plot_contribution_samples": lambda d, ax: plots.plot_contribution_samples(d["samples"], 2,
                                                                               ax=ax),
    # estimators
    "plot_likelihood_fit": lambda d, ax: plots.plot_likelihood_fit(d["likelihood"],
                                                                   d["lik_samples"], 0, ax=ax),
    "plot_profile_likelihood": lambda d, ax: plots.plot_profile_likelihood(*d["profile"], ax=ax),
    "plot_parameter_recovery": lambda d, ax: plots.plot_parameter_recovery(d["likelihood"],
                                                                           d["truth"], ax=ax),
    "plot_accuracy_vs_k": lambda d, ax: plots.plot_accuracy_vs_k(d["accuracy"],
                                                                 fit_range=(20, 200), ax=ax),
    "plot_accuracy_vs_samples": lambda d, ax: plots.plot_accuracy_vs_samples(d["accuracy"],
                                                                             ax=ax),
    "plot_loglinear_noise": lambda d, ax: plots.plot_loglinear_noise(d["noise_table"], ax=ax),
    "plot_estimator_comparison": lambda d, ax: plots.plot_estimator_comparison(
        d["comparison"], "median_rel_error", ax=ax),
    "plot_estimates_vs_truth": lambda d, ax: plots.plot_estimates_vs_truth(
        d["comparison"], 10, "alpha", ["newton"], axes=None if ax is None else [ax]),
    "plot_ridge": lambda d, ax: plots.plot_ridge(d["comparison"], 10, 300.0, ax=ax),
    "plot_interval_coverage": lambda d, ax: plots.plot_interval_coverage(
        d["comparison"], band=(0.9, 1.0), ax=ax),
    "plot_population_prior": lambda d, ax: plots.plot_population_prior(
        d["likelihood"].prior, d["truth"]["alpha"], ax=ax),
    # individual
    "plot_validation": lambda d, ax: plots.plot_validation(d["loglinear"], title="toy"),
    "plot_alpha_quantile_curves": lambda d, ax: plots.plot_alpha_quantile_curves(d["loglinear"],
                                                                                 ax=ax),
    "plot_r2_histogram": lambda d, ax: plots.plot_r2_histogram(d["loglinear"], ax=ax),
    "plot_r2_by_k": lambda d, ax: plots.plot_r2_by_k({"a": d["loglinear"]}, ax=ax),
    "plot_alpha_histogram": lambda d, ax: plots.plot_alpha_histogram(d["loglinear"], ax=ax),
    "plot_alpha_vs_distance": lambda d, ax: plots.plot_alpha_vs_distance(d["loglinear"],
                                                                         d["distance"], ax=ax),
    "plot_seed_noise": lambda d, ax: plots.plot_seed_noise(d["seed_noise"], ax=ax),
    "plot_law_crossing": lambda d, ax: plots.plot_law_crossing(
        d["crossing"], (10, 1000), means=d["crossing_means"], ax=ax),
    "plot_noise_reductions": lambda d, ax: plots.plot_noise_reductions(d["reductions"], ax=ax),
    # theory
    "plot_ols_rates": lambda d, ax: plots.plot_ols_rates(d["ols"], ax=ax),
    "plot_ols_sign_flip": lambda d, ax: plots.plot_ols_sign_flip(*d["flip"], ax=ax),
    "plot_ols_leverage": lambda d, ax: plots.plot_ols_leverage(d["ols"], ax=ax),
    "plot_logistic_regimes": lambda d, ax: plots.plot_logistic_regimes(d["logistic"], ax=ax),
    "plot_ols_expectation_terms": lambda d, ax: plots.plot_ols_expectation_terms(*d["terms"],
                                                                                 ax=ax),
    "plot_ols_coefficient": lambda d, ax: plots.plot_ols_coefficient(d["ols"], d["ols_expected"],
                                                                     ax=ax),
    "plot_fixed_test_set": lambda d, ax: plots.plot_fixed_test_set(d["logistic"], d["series"],
                                                                   ax=ax),
    "plot_window_exponent": lambda d, ax: plots.plot_window_exponent(
        d["window"][0], d["window"][1], sample=d["window"][2], paper=(1.0, 1.5),
        measured=pd.DataFrame({"c1": [0.05], "exponent": [1.2], "exponent_se": [0.05],
                               "label": ["V"]})),
    # valuation
    "plot_shapley_convergence": lambda d, ax: plots.plot_shapley_convergence(
        d["shapley"], paper_dataset="MiniBooNE", ax=ax),
    "plot_shapley_scatter": lambda d, ax: plots.plot_shapley_scatter(d["shapley"], ax=ax),
    "plot_point_addition": lambda d, ax: plots.plot_point_addition(d["addition"], ax=ax),
    "plot_selection_scores": lambda d, ax: plots.plot_selection_scores(
        d["scores"], "Scaling 10", "Scaling 40", d["addition"].selections, ax=ax),
    "plot_shapley_sizes": lambda d, ax: plots.plot_shapley_sizes(
        shapley_size_profile([0.5, 1.0, 2.0], [(10, 100), (10, 1000)])),
    "plot_addition_differences": lambda d, ax: plots.plot_addition_differences(
        d["addition"].differences(), highlight=20, ax=ax),
}

#: Figures that make their own layout of several panels (no single ``ax`` argument).
MULTI_PANEL = {"plot_metric_curves", "plot_validation", "plot_window_exponent",
               "plot_shapley_sizes"}


def test_every_public_plot_function_has_a_case():
    assert set(CASES) == set(plots.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_plot_draws_and_returns_a_figure(inputs, name):
    fig = CASES[name](inputs, None)
    assert isinstance(fig, plt.Figure) and fig.axes, name
    plt.close(fig)
    if name not in MULTI_PANEL:
        fig, ax = plt.subplots()
        assert CASES[name](inputs, ax) is fig, name  # drawn on the Axes it was given
        plt.close(fig)


def test_profile_figure_with_its_surface(inputs):
    fig = plots.plot_profile_likelihood(*inputs["profile"], inputs["surface"])
    assert len(fig.axes) == 3  # surface, its colour bar, the profile
    plt.close(fig)


def test_sign_flip_figure_needs_a_flip_of_this_result(inputs):
    result, flip = inputs["flip"]
    with pytest.raises(ValueError, match="flip.k"):
        plots.plot_ols_sign_flip(inputs["ols"], flip)


def test_estimates_figure_rejects_an_unknown_sample_size(inputs):
    with pytest.raises(ValueError, match="n_samples"):
        plots.plot_estimates_vs_truth(inputs["comparison"], 7)


def test_estimates_figure_has_one_panel_per_estimator(inputs):
    fig = plots.plot_estimates_vs_truth(inputs["comparison"], 40, "psi")
    assert len(fig.axes) == 2  # empirical Bayes and the exact MLE
    plt.close(fig)
