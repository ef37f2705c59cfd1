"""Distributional Shapley values and point addition (scaling_kit.valuation; docs/math.md §6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_toy
from sklearn.linear_model import LogisticRegression

from scaling_kit.contributions import sample_contributions
from scaling_kit.laws.likelihood import fit_likelihood, simulate_contributions
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.results import Summary
from scaling_kit.sampling import stratified_counts
from scaling_kit.valuation import (
    compare_shapley_estimators,
    enumerate_shapley,
    law_shapley,
    likelihood_shapley_estimator,
    monte_carlo_shapley,
    point_addition,
    power_sum,
    select_points,
    selection_scores,
)


# ------------------------------------------------------------------------------------------
# formulas
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0, 1.0 + 1e-7, 1.2, 2.5])
@pytest.mark.parametrize("k_range", [(1, 1), (3, 17), (100, 1000)])
def test_power_sum_matches_explicit_sum(alpha, k_range):
    explicit = sum(k ** (-alpha) for k in range(k_range[0], k_range[1] + 1))
    assert power_sum(alpha, *k_range) == pytest.approx(explicit, rel=1e-10)


@pytest.mark.parametrize("args, error, match", [
    ((np.nan, 1, 5), ValueError, "alpha"),
    ((1.0, 0, 5), ValueError, "k_min"),
    ((1.0, 5, 1), ValueError, "k_min <= k_max"),
    ((1.0, 1.5, 5), TypeError, "k_min"),
])
def test_power_sum_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        power_sum(*args)


def test_estimator_factories_check_k_range_at_once():
    from scaling_kit.valuation import amortized_shapley_estimator

    with pytest.raises(ValueError, match="k_range"):
        likelihood_shapley_estimator((10, 5))
    with pytest.raises(TypeError, match="k_range"):
        amortized_shapley_estimator(np.zeros((4, 2)), np.array([0, 1, 0, 1]), 100)


def test_law_shapley_is_the_average_of_the_law_over_the_range():
    c = np.array([2.0, -0.5, 1e-3, 0.0])
    alpha = np.array([1.3, 0.7, 2.0, 1.0])
    k = np.arange(10, 61)
    expected = (c[:, None] * k[None, :] ** (-alpha[:, None])).mean(axis=1)
    got = law_shapley(c=c, alpha=alpha, k_range=(10, 60))
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-10, atol=1e-18)
    # from a fitted results object: the same as averaging its predict() over the range
    df = simulate_contributions([1.0, -2.0, 0.5], [1.1, 1.4, 0.8], 0.1, 2.0,
                                k_range=(20, 200), n_samples=60, random_state=0)
    # maximum likelihood: predict() is c k^-alpha (the empirical-Bayes default predicts the
    # posterior mean of psi(k), which a plug-in of its (c, alpha) matches only to ~0.1%)
    fit = fit_likelihood(df, method="newton")
    by_predict = fit.predict(np.arange(20, 201)).mean(axis=1)
    pd.testing.assert_series_equal(law_shapley(fit, (20, 200)), by_predict, check_names=False,
                                   rtol=1e-10)


def test_law_shapley_bad_input():
    with pytest.raises(ValueError, match="k_range"):
        law_shapley(c=[1.0], alpha=[1.0], k_range=(10, 5))
    with pytest.raises(ValueError, match="k_range"):
        law_shapley(c=[1.0], alpha=[1.0], k_range=(0, 5))
    with pytest.raises(ValueError, match="k_range"):
        law_shapley(c=[1.0], alpha=[1.0])
    with pytest.raises(ValueError, match="finite"):
        law_shapley(c=[np.nan], alpha=[1.0], k_range=(1, 5))
    with pytest.raises(ValueError, match="non-negative"):
        law_shapley(c=[1.0], alpha=[-1.0], k_range=(1, 5))
    with pytest.raises(ValueError, match="columns 'c' and 'alpha'"):
        law_shapley(pd.DataFrame({"c": [1.0]}), (1, 5))
    with pytest.raises(TypeError, match="law must be"):
        law_shapley([1.0, 2.0], (1, 5))
    with pytest.raises(ValueError, match="k_range"):  # a fraction is a bad value, not a bad type
        law_shapley(c=[1.0], alpha=[1.0], k_range=(1.5, 5))
    with pytest.raises(TypeError, match="k_range"):
        law_shapley(c=[1.0], alpha=[1.0], k_range=5)
    with pytest.raises(ValueError, match="not both"):
        law_shapley(pd.DataFrame({"c": [1.0], "alpha": [1.0]}), (1, 5), c=[1.0])


def test_monte_carlo_shapley_is_the_sample_mean_and_nests():
    df = simulate_contributions([1.0, 3.0], [1.0, 1.5], 0.2, 2.0, k_range=(5, 50),
                                n_samples=40, random_state=1)
    mc = monte_carlo_shapley(df, k_range=(5, 50))
    g = df.groupby("point")["delta"]
    np.testing.assert_allclose(mc["value"], g.mean())
    np.testing.assert_allclose(mc["se"], g.std() / np.sqrt(40))
    first10 = monte_carlo_shapley(df, n_samples=10)
    np.testing.assert_allclose(first10["value"], df[df["sample"] < 10].groupby("point")["delta"].mean())
    assert (first10["n_samples"] == 10).all()
    with pytest.raises(ValueError, match="only 40"):
        monte_carlo_shapley(df, n_samples=41)
    with pytest.raises(ValueError, match="outside k_range"):
        monte_carlo_shapley(df, k_range=(10, 50))
    with pytest.raises(ValueError, match="lacks column"):
        monte_carlo_shapley(df.drop(columns="delta"))
    bad = df.copy()
    bad.loc[0, "delta"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        monte_carlo_shapley(bad)
    with pytest.raises(TypeError, match="samples must be"):
        monte_carlo_shapley(df.to_numpy())
    with pytest.raises(TypeError, match="n_samples"):
        monte_carlo_shapley(df, n_samples=2.5)
    with pytest.raises(ValueError, match="n_samples"):
        monte_carlo_shapley(df, n_samples=0)
    with pytest.raises(ValueError, match="has no samples"):
        monte_carlo_shapley(df.iloc[:0])


# ------------------------------------------------------------------------------------------
# the exact check: enumeration on a tiny pool
# ------------------------------------------------------------------------------------------
def test_enumeration_counts_every_stratified_dataset():
    p = make_toy(n_pool=10, n_test=100, n_features=3, seed=3, noise=1.5)
    res = enumerate_shapley(ExactLogisticRegression(), p, 0, (2, 4))
    from math import comb

    sizes = np.bincount(p.y_pool)
    own = p.y_pool[0]
    for k in (2, 3, 4):
        counts = stratified_counts(sizes, k)
        expected = np.prod([comb(int(sizes[c] - (c == own)), int(counts[c])) for c in range(2)])
        assert res.n_datasets.loc[k] == expected
    assert res.value == pytest.approx(res.psi.mean())
    with pytest.raises(ValueError, match="max_datasets"):
        enumerate_shapley(ExactLogisticRegression(), p, 0, (2, 4), max_datasets=10)
    with pytest.raises(ValueError, match="point must be <= 9"):
        enumerate_shapley(ExactLogisticRegression(), p, 10, (2, 4))
    with pytest.raises(TypeError, match="point"):
        enumerate_shapley(ExactLogisticRegression(), p, 1.0, (2, 4))
    with pytest.raises(TypeError, match="data must be"):
        enumerate_shapley(ExactLogisticRegression(), p.X_pool, 0, (2, 4))
    with pytest.raises(ValueError, match="k_range"):
        enumerate_shapley(ExactLogisticRegression(), p, 0, (4, 2))


def test_monte_carlo_converges_to_the_enumerated_value():
    """The engine's k_range sampler (shared D, rejection to keep k uniform) against the exact
    distributional Shapley value over every stratified subset of a 10-point pool."""
    p = make_toy(n_pool=10, n_test=200, n_features=3, seed=3, noise=1.5)
    learner = ExactLogisticRegression()
    points = [0, 1]
    df = sample_contributions(learner, p, points,
                              k_range=(2, 5), n_samples=2500, random_state=0, progress=False)
    assert set(df["k"].unique()) == {2, 3, 4, 5}
    mc = monte_carlo_shapley(df, k_range=(2, 5))
    for z in points:
        exact = enumerate_shapley(learner, p, z, (2, 5))
        err = abs(mc.loc[z, "value"] - exact.value)
        assert err < 4 * mc.loc[z, "se"], (z, mc.loc[z, "value"], exact.value, mc.loc[z, "se"])
        # and the per-k means agree too (k is uniform, so each k has ~1/4 of the samples)
        per_k = df[df["point"] == z].groupby("k")["delta"].agg(["mean", "sem"])
        assert np.all(np.abs(per_k["mean"] - exact.psi) < 4.5 * per_k["sem"])


# ------------------------------------------------------------------------------------------
# Tables 3 / 4 machinery on simulated laws (known ground truth)
# ------------------------------------------------------------------------------------------
def test_compare_estimators_on_simulated_laws_converges():
    rng = np.random.default_rng(0)
    P = 150
    c = rng.lognormal(0.0, 0.6, P) * np.where(rng.random(P) < 0.1, -1, 1)
    alpha = rng.uniform(0.8, 1.6, P)
    df = simulate_contributions(c, alpha, 1.0, 2.5, k_range=(10, 100), n_samples=200,
                                random_state=1)
    truth = law_shapley(c=c, alpha=alpha, k_range=(10, 100))
    cmp = compare_shapley_estimators(df, truth, (10, 100), n_samples=(5, 20, 200))
    table = cmp.pivot()
    assert list(table.columns) == [5, 20, 200]
    for est in ("Monte Carlo", "Likelihood"):
        assert table.loc[est, 200] > table.loc[est, 5]
        assert table.loc[est, 200] > 0.95
    # the estimates are the documented functions of the first n samples
    sub = df[df["sample"] < 20]
    np.testing.assert_allclose(cmp.estimates[("Monte Carlo", 20)],
                               sub.groupby("point")["delta"].mean())
    np.testing.assert_allclose(cmp.estimates[("Likelihood", 20)],
                               likelihood_shapley_estimator((10, 100))(sub))
    side = cmp.beside_paper("MiniBooNE")
    assert side.loc["Monte Carlo", "paper (MiniBooNE), 10 samples"] == 0.967
    with pytest.raises(ValueError, match="ground_truth lacks"):
        compare_shapley_estimators(df, truth.iloc[:-1], (10, 100))
    with pytest.raises(ValueError, match="only 200"):
        compare_shapley_estimators(df, truth, (10, 100), n_samples=(10, 500))
    with pytest.raises(TypeError, match="ground_truth"):
        compare_shapley_estimators(df, truth.to_numpy(), (10, 100))
    with pytest.raises(ValueError, match="n_samples"):
        compare_shapley_estimators(df, truth, (10, 100), n_samples=(0, 10))
    with pytest.raises(TypeError, match="estimators"):
        compare_shapley_estimators(df, truth, (10, 100), estimators={"x": 1})
    summary = cmp.summary()
    assert isinstance(summary, Summary)
    pd.testing.assert_frame_equal(summary.tables["Pearson"], cmp.pivot("pearson"))


# ------------------------------------------------------------------------------------------
# point addition
# ------------------------------------------------------------------------------------------
def test_select_points_top_and_stratified():
    scores = pd.Series([5.0, 1.0, 4.0, 3.0, 2.0, 0.0], index=[10, 11, 12, 13, 14, 15])
    np.testing.assert_array_equal(select_points(scores, 3), [10, 12, 13])
    y = np.zeros(20, int)
    y[[10, 12, 13]] = 1  # the three best points are all class 1
    sel = select_points(scores, 4, y=y, stratify=True)  # candidates: 3 of each class -> 2 + 2
    assert sorted(sel.tolist()) == [10, 11, 12, 14]
    with pytest.raises(ValueError, match="n_add"):
        select_points(scores, 7)
    with pytest.raises(ValueError, match="finite"):
        select_points(scores.replace(0.0, np.nan), 2)
    with pytest.raises(ValueError, match="labels"):
        select_points(scores, 2, stratify=True)
    # the paper's reference code: n_add / K best points of each class
    np.testing.assert_array_equal(select_points(scores, 4, y=y, stratify="equal"),
                                  [14, 11, 10, 12])
    assert sorted(select_points(scores, 2, y=y, stratify="equal",
                                class_sizes=[5, 1]).tolist()) == [10, 14]
    with pytest.raises(ValueError, match="multiple"):
        select_points(scores, 3, y=y, stratify="equal")
    with pytest.raises(ValueError, match="stratify"):
        select_points(scores, 2, y=y, stratify="balanced")
    with pytest.raises(TypeError, match="n_add"):
        select_points(scores, 2.0)
    with pytest.raises(TypeError, match="scores"):
        select_points([1.0, 2.0], 1)


@pytest.fixture(scope="module")
def addition(breast_cancer):
    p = breast_cancer
    rng = np.random.default_rng(0)
    candidates = np.sort(rng.choice(len(p.y_pool), 40, replace=False))
    scores = {"A": pd.Series(rng.standard_normal(40), index=candidates),
              "B": rng.standard_normal(40)}
    res = point_addition(ExactLogisticRegression(), p, candidates, scores, [15, 40], n_add=5,
                         n_repeats=6, random_state=3, keep_sets=True)
    return p, candidates, scores, res


def test_point_addition_bookkeeping(addition):
    p, candidates, scores, res = addition
    rest_sizes = np.bincount(np.delete(p.y_pool, candidates), minlength=2)
    for k, D in res.datasets.items():
        assert D.shape == (6, k)
        for row in D:
            assert np.unique(row).size == k  # no duplicate in D
            assert not np.isin(row, candidates).any()  # no candidate already in D
            np.testing.assert_array_equal(np.bincount(p.y_pool[row], minlength=2),
                                          stratified_counts(rest_sizes, k))
        for row in res.random_sets[k]:
            assert np.unique(row).size == 5 and np.isin(row, candidates).all()
    for name, sel in res.selections.items():
        assert np.unique(sel).size == 5 and np.isin(sel, candidates).all(), name
    summary = res.summary()
    assert isinstance(summary, Summary)
    stats = summary.table
    assert set(stats.index.get_level_values("method")) == {"A", "B", "Random", "Preceding"}
    assert (stats["count"] == 6).all()
    np.testing.assert_allclose(stats.loc[(15, "A"), "mean"],
                               res.gains.query("k0 == 15 and method == 'A'")["gain"].mean())
    # different D in different repetitions
    assert not np.array_equal(res.datasets[15][0], res.datasets[15][1])


def test_point_addition_gain_matches_scikit_learn(addition):
    p, candidates, scores, res = addition
    k, r = 40, 2
    D = res.datasets[k][r]
    S = res.selections["A"]

    def acc(idx):
        model = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(p.X_pool[idx],
                                                                          p.y_pool[idx])
        return 100 * model.score(p.X_test, p.y_test)

    pre = res.preceding.query("k0 == @k and repeat == @r")["accuracy"].item()
    gain = res.gains.query("k0 == @k and repeat == @r and method == 'A'")["gain"].item()
    assert pre == pytest.approx(acc(D))
    assert gain == pytest.approx(acc(np.concatenate([D, S])) - acc(D))
    # reproducible from random_state
    again = point_addition(ExactLogisticRegression(), p, candidates, scores, [15, 40], n_add=5,
                           n_repeats=6, random_state=3)
    pd.testing.assert_frame_equal(again.gains, res.gains)


def test_point_addition_bad_input(breast_cancer):
    p = breast_cancer
    cand = np.arange(30)
    ok = {"A": np.arange(30.0)}
    args = (ExactLogisticRegression(), p)
    with pytest.raises(ValueError, match="must not repeat"):
        point_addition(*args, np.r_[cand, 0], {"A": np.arange(31.0)}, 10)
    with pytest.raises(ValueError, match="not candidates"):
        point_addition(*args, cand, {"A": pd.Series(1.0, index=np.arange(1, 31))}, 10)
    with pytest.raises(ValueError, match="aligned"):
        point_addition(*args, cand, {"A": np.arange(5.0)}, 10)
    with pytest.raises(ValueError, match="n_add"):
        point_addition(*args, cand, ok, 10, n_add=31)
    with pytest.raises(ValueError, match="k0"):
        point_addition(*args, cand, ok, 0)
    with pytest.raises(ValueError, match="larger than the pool"):
        point_addition(*args, cand, ok, len(p.y_pool))
    with pytest.raises(ValueError, match="reserved"):
        point_addition(*args, cand, {"Random": np.arange(30.0)}, 10)
    with pytest.raises(ValueError, match="index the pool"):
        point_addition(*args, np.arange(len(p.y_pool) + 1), ok, 10)
    X_bad = p.X_pool.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        point_addition(args[0], (X_bad, p.y_pool, p.X_test, p.y_test), cand, ok, 10)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_add=2.0), TypeError, "n_add"),
    (dict(n_add=0), ValueError, "n_add"),
    (dict(n_repeats=0), ValueError, "n_repeats"),
    (dict(n_repeats=True), TypeError, "n_repeats"),
    (dict(k0=[10, 10]), ValueError, "k0"),
    (dict(k0=[10.5]), ValueError, "k0"),
    (dict(stratify="classes"), ValueError, "stratify"),
    (dict(stratify="equal", n_add=5), ValueError, "n_add"),
    (dict(random_state=-2), ValueError, "random_state"),
    (dict(random_state="x"), TypeError, "random_state"),
    (dict(scores=[1.0]), TypeError, "scores"),
    (dict(scores={}, include_random=False), ValueError, "scores"),
    (dict(data=(1, 2)), TypeError, "data"),
])
def test_point_addition_rejects_bad_arguments(breast_cancer, kwargs, error, match):
    args = dict(learner=ExactLogisticRegression(), data=breast_cancer, candidates=np.arange(30),
                scores={"A": np.arange(30.0)}, k0=10, n_add=4, n_repeats=2, random_state=0)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        point_addition(**args)


def test_point_addition_equal_stratification_and_generic_learner_seed(breast_cancer):
    """stratify='equal' selects and draws n_add / K points of each class (the reference
    code's rule), and a scikit-learn learner gets one seed per repetition (bitwise rerun)."""
    p = breast_cancer
    rng = np.random.default_rng(1)
    candidates = np.sort(rng.choice(len(p.y_pool), 40, replace=False))
    scores = {"A": pd.Series(rng.standard_normal(40), index=candidates)}
    res = point_addition(ExactLogisticRegression(), p, candidates, scores, 20, n_add=6,
                         n_repeats=4, stratify="equal", random_state=5, keep_sets=True)
    np.testing.assert_array_equal(np.bincount(p.y_pool[res.selections["A"]], minlength=2),
                                  [3, 3])
    for S in res.random_sets[20]:
        np.testing.assert_array_equal(np.bincount(p.y_pool[S], minlength=2), [3, 3])
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=5)  # random_state None: the kit seeds it
    a = point_addition(forest, p, candidates, scores, 20, n_add=6, n_repeats=3, random_state=7)
    b = point_addition(forest, p, candidates, scores, 20, n_add=6, n_repeats=3, random_state=7)
    pd.testing.assert_frame_equal(a.gains, b.gains)
    pd.testing.assert_frame_equal(a.preceding, b.preceding)


def test_selection_scores_are_the_law_at_k():
    params = pd.DataFrame({"c": [1.0, 20.0], "alpha": [0.5, 2.0]}, index=[7, 9])
    s = selection_scores(params, [4, 100], shapley=pd.Series([0.1, 0.2], index=[7, 9]))
    assert list(s) == ["Scaling 4", "Scaling 100", "Shapley"]
    np.testing.assert_allclose(s["Scaling 4"], [0.5, 20.0 / 16])
    # the laws cross: point 9 wins at small k, point 7 at large k
    assert s["Scaling 4"].idxmax() == 9 and s["Scaling 100"].idxmax() == 7
    with pytest.raises(ValueError, match="ks"):
        selection_scores(params, [0])
    with pytest.raises(TypeError, match="shapley"):
        selection_scores(params, [4], shapley=[0.1, 0.2])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_points=2), ValueError, "n_points"),
    (dict(n_points=10.0), TypeError, "n_points"),
    (dict(n_samples=(2, 10)), ValueError, "n_samples"),
    (dict(n_truth=5), ValueError, "n_truth"),
    (dict(k_range=(20, 10)), ValueError, "k_range"),
    (dict(selection_metrics=("accuracy",)), ValueError, "accuracy"),
    (dict(k0=[0]), ValueError, "k0"),
    (dict(random_state=1.5), TypeError, "random_state"),
])
def test_valuation_experiment_bad_input(breast_cancer, kwargs, error, match):
    from scaling_kit.valuation import valuation_experiment

    args = dict(n_points=20, k_range=(10, 40), n_truth=20, n_samples=(5, 10), k0=(10,),
                amortized=False, random_state=0)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        valuation_experiment(breast_cancer, **args)
