"""Tests of the log-linear validation of individualized scaling laws (scaling_kit.laws.validation)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score

from scaling_kit.laws.validation import (
    alpha_correlation,
    decision_boundary_distance,
    fit_loglinear_laws,
    r2_table,
)

KS = np.unique(np.geomspace(100, 1000, 10).astype(int))


def simulate(c, alpha, noise=0.0, ks=KS, count=1000, seed=0):
    """Summary table with mean = c k^-alpha * (1 + noise * N(0, 1)) and sem = |mean| * 0.01."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, (ci, ai) in enumerate(zip(c, alpha, strict=True)):
        for k in ks:
            m = ci * k ** (-ai) * (1 + noise * rng.standard_normal())
            sem = abs(ci * k ** (-ai)) * 0.01
            rows.append((i, k, m, sem * np.sqrt(count), count))
    return pd.DataFrame(rows, columns=["point", "k", "mean", "std", "count"]).set_index(["point", "k"])


def test_recovers_known_parameters_exactly_without_noise():
    rng = np.random.default_rng(1)
    c = rng.lognormal(0, 1, 50) * np.where(rng.random(50) < 0.8, 1, -1)
    alpha = rng.uniform(0.3, 2.5, 50)
    res = fit_loglinear_laws(simulate(c, alpha))
    np.testing.assert_allclose(res.params["alpha"], alpha, rtol=1e-10)
    np.testing.assert_allclose(res.params["c"], c, rtol=1e-9)
    np.testing.assert_array_equal(res.params["sign"], np.sign(c))
    np.testing.assert_allclose(res.params["r2"], 1.0, atol=1e-12)
    np.testing.assert_allclose(res.r2_by_k["r2"], 1.0, atol=1e-12)
    assert (res.params["status"] == "ok").all()
    np.testing.assert_allclose(res.predict([500.0])[500.0], c * 500.0 ** (-alpha), rtol=1e-9)
    # the count-weighted linear c of the paper's code agrees on noiseless data
    lin = fit_loglinear_laws(simulate(c, alpha), c_method="linear")
    np.testing.assert_allclose(lin.params["c"], c, rtol=1e-9)


def test_noisy_fit_alpha_interval_covers_truth_at_nominal_rate():
    rng = np.random.default_rng(2)
    n = 400
    c, alpha = rng.lognormal(0, 1, n), rng.uniform(0.5, 2.0, n)
    res = fit_loglinear_laws(simulate(c, alpha, noise=0.05, seed=3))
    p = res.params
    covered = (p["alpha_ci_low"] <= alpha) & (alpha <= p["alpha_ci_high"])
    ci = res.conf_int()  # the same 95% t-intervals through the kit's one spelling
    np.testing.assert_allclose(ci[("alpha", "lower")], p["alpha_ci_low"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ci[("alpha", "upper")], p["alpha_ci_high"], rtol=0, atol=1e-12)
    # log(1 + 0.05 e) is close to Gaussian: OLS intervals are nearly exact
    assert 0.91 <= covered.mean() <= 0.99
    assert np.median(np.abs(p["alpha"] - alpha)) < 0.05
    assert 0.9 < res.median_r2 < 1.0
    assert res.fraction_alpha_positive == 1.0


def test_r2_by_k_is_sklearn_r2_across_points_and_overall_is_its_mean():
    rng = np.random.default_rng(4)
    c, alpha = rng.lognormal(0, 1, 30), rng.uniform(0.5, 2.0, 30)
    res = fit_loglinear_laws(simulate(c, alpha, noise=0.2, seed=5))
    t = res.tidy()
    for k, g in t.groupby("k"):
        pred = res.params.loc[g["point"], "c"].to_numpy() * k ** (-res.params.loc[g["point"], "alpha"].to_numpy())
        assert res.r2_by_k.loc[k, "r2"] == pytest.approx(r2_score(g["mean"], pred), rel=1e-12)
    assert res.r2_overall == pytest.approx(res.r2_by_k["r2"].mean())
    # per-point R^2 is the squared correlation of log|mean| and log k
    g = t[t["point"] == 0]
    r = stats.pearsonr(np.log(g["k"]), np.log(np.abs(g["mean"])))[0]
    assert res.params.loc[0, "r2"] == pytest.approx(r**2, rel=1e-10)
    assert "R^2 across points" in str(res.summary())


def test_raw_samples_are_summarized_like_a_summary_table():
    rng = np.random.default_rng(6)
    rows = [(p, k, s, 2.0 * k ** -1.2 + rng.normal(0, 1e-4)) for p in range(3) for k in KS for s in range(20)]
    raw = pd.DataFrame(rows, columns=["point", "k", "sample", "delta"])
    summ = raw.groupby(["point", "k"])["delta"].agg(["mean", "std", "count"])
    a, b = fit_loglinear_laws(raw), fit_loglinear_laws(summ)
    pd.testing.assert_frame_equal(a.params, b.params)


def test_sign_changes_are_detected_reported_and_not_fitted_by_default():
    c, alpha = np.array([1.0, 2.0, -1.0]), np.array([1.0, 1.5, 1.0])
    table = simulate(c, alpha).reset_index()
    # point 1 becomes harmful from the 6th k on
    flip_at = KS[5]
    table.loc[(table["point"] == 1) & (table["k"] >= flip_at), "mean"] *= -1
    res = fit_loglinear_laws(table.set_index(["point", "k"]))
    assert res.params.loc[1, "status"] == "sign_change"
    assert np.isnan(res.params.loc[1, "alpha"])
    assert res.n_sign_change_points == 1
    row = res.sign_changes.iloc[0]
    assert (row["point"], row["k_from"], row["k_to"]) == (1, KS[4], flip_at)
    assert bool(row["resolved"]) is True  # |mean| = 100 sem on both sides
    assert set(res.fitted.index) == {0, 2}
    assert res.params.loc[2, "c"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="change sign"):
        fit_loglinear_laws(table, sign_change="raise")
    assert 1 not in fit_loglinear_laws(table, sign_change="drop").params.index
    ab = fit_loglinear_laws(table, sign_change="abs")
    assert ab.params.loc[1, "status"] == "sign_change_abs" and np.isfinite(ab.params.loc[1, "alpha"])


def test_unresolved_flips_are_marked_as_noise():
    table = simulate([1.0, 1.0], [1.0, 1.0]).reset_index()
    table.loc[(table["point"] == 0) & (table["k"] == KS[-1]), "mean"] *= -1
    table["std"] = 10.0  # huge standard errors: no mean is resolved
    res = fit_loglinear_laws(table)
    assert len(res.sign_changes) == 1 and not res.sign_changes["resolved"].iloc[0]
    assert res.params.loc[0, "n_unresolved"] == len(KS)
    with pytest.raises(ValueError, match="No point could be fitted"):
        fit_loglinear_laws(table[table["point"] == 0])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t[t["k"].isin(KS[:2])], "at least 3 distinct"),
        (lambda t: t.assign(mean=0.0), "exactly zero"),
        (lambda t: t.assign(k=np.where(t["k"] == KS[0], -KS[0], t["k"])), "positive"),
        (lambda t: t.assign(k=np.where(t["k"] == KS[0], 0, t["k"])), "positive"),
        (lambda t: t.assign(mean=np.where(t["k"] == KS[0], np.nan, t["mean"])), "NaN"),
        (lambda t: pd.concat([t, t.iloc[:1]]), "once"),
        (lambda t: t.drop(columns="mean"), "'mean' column"),
        (lambda t: t.drop(columns="k"), "'point' and 'k'"),
    ],
)
def test_bad_input_raises_clear_errors(mutate, message):
    table = simulate([1.0, 2.0], [1.0, 1.2]).reset_index()
    with pytest.raises(ValueError, match=message):
        fit_loglinear_laws(mutate(table))


def test_bad_options_raise():
    table = simulate([1.0], [1.0])
    with pytest.raises(ValueError, match="min_k"):
        fit_loglinear_laws(table, min_k=2)
    with pytest.raises(ValueError, match="sign_change"):
        fit_loglinear_laws(table, sign_change="ignore")
    with pytest.raises(ValueError, match="c_method"):
        fit_loglinear_laws(table, c_method="mle")
    with pytest.raises(TypeError, match="DataFrame"):
        fit_loglinear_laws(np.ones((10, 3)))
    with pytest.raises(ValueError, match="z"):
        fit_loglinear_laws(table, z=0.0)


def test_points_with_zero_means_or_too_few_k_get_a_status():
    table = simulate([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]).reset_index()
    table.loc[(table["point"] == 1) & (table["k"] == KS[3]), "mean"] = 0.0
    table = table[~((table["point"] == 2) & (table["k"] > KS[1]))]
    res = fit_loglinear_laws(table)
    assert res.params["status"].to_dict() == {0: "ok", 1: "zero_mean", 2: "too_few_k"}


def test_crossing_pairs_fitted_and_observed():
    # point 0: k^-1; point 1: 300 k^-2 crosses it at k = 300; point 2: 10 k^-1 crosses nothing
    c, alpha = np.array([1.0, 300.0, 10.0]), np.array([1.0, 2.0, 1.0])
    res = fit_loglinear_laws(simulate(c, alpha))
    pairs = res.crossing_pairs()
    assert list(zip(pairs["point_i"], pairs["point_j"], strict=True)) == [(0, 1)]
    assert pairs["k_cross"].iloc[0] == pytest.approx(300.0)
    obs = res.crossing_pairs("observed")
    assert list(zip(obs["point_i"], obs["point_j"], strict=True)) == [(0, 1)]
    # with huge standard errors no crossing is resolved
    noisy = simulate(c, alpha).assign(std=1e3)
    assert fit_loglinear_laws(noisy).crossing_pairs("observed").empty
    q = res.alpha_quantile_points([0.0, 1.0])
    assert res.params.loc[q.iloc[0], "alpha"] == pytest.approx(1.0)
    assert res.params.loc[q.iloc[1], "alpha"] == pytest.approx(2.0)


def test_alpha_correlation_and_r2_table():
    rng = np.random.default_rng(7)
    n = 40
    a1 = rng.uniform(0.5, 2, n)
    a2 = a1 + rng.normal(0, 0.3, n)
    a3 = rng.uniform(0.5, 2, n)
    c = np.ones(n)
    res = {m: fit_loglinear_laws(simulate(c, a)) for m, a in [("LogReg", a1), ("MLP", a2), ("SVM", a3)]}
    corr = alpha_correlation(res)
    assert list(corr.index) == ["LogReg-MLP", "LogReg-SVM", "MLP-SVM"]
    assert corr["LogReg-MLP"] == pytest.approx(stats.pearsonr(a1, a2)[0], rel=1e-8)
    spear = alpha_correlation(res, method="spearman")
    assert spear["MLP-SVM"] == pytest.approx(stats.spearmanr(a2, a3)[0], rel=1e-8)
    table = r2_table({("fair", m): r for m, r in res.items()})
    assert table.shape == (1, 3) and table.index.name == "dataset"
    np.testing.assert_allclose(table.to_numpy(), 1.0, atol=1e-10)
    with pytest.raises(ValueError, match="at least two"):
        alpha_correlation({"LogReg": res["LogReg"]})


def test_decision_boundary_distance_binary_and_multiclass():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int)
    lr = LogisticRegression().fit(X, y)
    d = decision_boundary_distance(lr, X)
    np.testing.assert_allclose(d, np.abs(lr.decision_function(X)) / np.linalg.norm(lr.coef_))
    signed = decision_boundary_distance(lr, X, y)
    np.testing.assert_array_equal(signed < 0, lr.predict(X) != y)
    # multiclass: moving a point by the distance along the gap direction reaches the boundary
    y3 = np.digitize(X[:, 0] + 0.3 * rng.normal(size=60), [-0.5, 0.5])
    lr3 = LogisticRegression().fit(X, y3)
    d3 = decision_boundary_distance(lr3, X)
    S = lr3.decision_function(X)
    for i in range(5):
        t = np.argmax(S[i])
        gaps = [
            ((S[i, t] - S[i, j]) / np.linalg.norm(lr3.coef_[t] - lr3.coef_[j]))
            for j in range(3) if j != t
        ]
        assert d3[i] == pytest.approx(min(gaps))
        assert d3[i] >= 0
    s3 = decision_boundary_distance(lr3, X, y3)
    np.testing.assert_array_equal(s3 < 0, lr3.predict(X) != y3)
    with pytest.raises(ValueError, match="coef_"):
        decision_boundary_distance(object(), X)


def test_conf_level_is_deprecated_in_favour_of_conf_int():
    rng = np.random.default_rng(7)
    c, alpha = rng.lognormal(0, 1, 20), rng.uniform(0.5, 2.0, 20)
    data = simulate(c, alpha, noise=0.1, seed=8)
    with pytest.warns(FutureWarning, match=r"conf_int\(alpha=0.1\)"):
        old = fit_loglinear_laws(data, conf_level=0.9)
    # still honoured until it is removed, and the same numbers as conf_int(alpha=0.1)
    ci = fit_loglinear_laws(data).conf_int(alpha=0.1)
    np.testing.assert_allclose(ci[("alpha", "lower")], old.params["alpha_ci_low"], atol=1e-12)
    np.testing.assert_allclose(ci[("alpha", "upper")], old.params["alpha_ci_high"], atol=1e-12)
    with pytest.raises(ValueError, match="conf_level"):
        fit_loglinear_laws(data, conf_level=1.5)
