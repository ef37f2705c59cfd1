"""Tests of the Monte Carlo error of the log-linear validation (scaling_kit.laws.uncertainty)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scaling_kit.contributions import summarize_contributions
from scaling_kit.laws.uncertainty import bootstrap_validation, loglinear_statistics
from scaling_kit.laws.validation import fit_loglinear_laws
from scaling_kit.results import Summary

KS = np.array([20, 32, 50, 80, 126, 200])


def samples_table(c, alpha, sigma, n, ks=KS, seed=0):
    """Sampled contributions Delta ~ N(c k^-alpha, sigma^2), one row per sample, like
    sample_contributions' table (point, k, sample, delta)."""
    rng = np.random.default_rng(seed)
    c, alpha = np.asarray(c, float), np.asarray(alpha, float)
    mean = c[:, None] * ks[None, :] ** -alpha[:, None]  # (P, K)
    deltas = mean[..., None] + sigma * rng.standard_normal(mean.shape + (n,))
    P, K = mean.shape
    return pd.DataFrame({
        "point": np.repeat(np.arange(P), K * n),
        "k": np.tile(np.repeat(ks, n), P),
        "sample": np.tile(np.arange(n), P * K),
        "delta": deltas.reshape(-1),
    })


def test_vectorized_fits_equal_fit_loglinear_laws():
    rng = np.random.default_rng(3)
    P = 40
    means = (rng.lognormal(0, 1, P)[:, None] * KS[None, :] ** -rng.uniform(0.3, 2.5, P)[:, None]
             * np.exp(0.2 * rng.standard_normal((P, KS.size))))
    means[:5] *= -1                 # harmful points
    means[5:9, 3] *= -1             # sign changes: left unfitted
    table = pd.DataFrame({"point": np.repeat(np.arange(P), KS.size), "k": np.tile(KS, P),
                          "mean": means.reshape(-1)}).set_index(["point", "k"])
    ref = fit_loglinear_laws(table)
    out = loglinear_statistics(means, KS)
    fitted = ref.params["status"] == "ok"
    assert fitted.sum() == P - 4 and out["n_fitted"] == P - 4
    np.testing.assert_array_equal(np.isfinite(out["alpha"]), fitted.to_numpy())
    for ours, theirs in [("alpha", "alpha"), ("log_abs_c", "log_abs_c"), ("r2", "r2")]:
        # the same closed-form OLS in another order of operations: rounding only
        np.testing.assert_allclose(out[ours][fitted], ref.params.loc[fitted, theirs], rtol=1e-10)
    np.testing.assert_allclose(out["r2_by_k"], ref.r2_by_k["r2"], rtol=1e-10)
    assert out["r2_across_points"] == pytest.approx(ref.r2_overall, rel=1e-10)
    assert out["median_r2"] == pytest.approx(ref.median_r2, rel=1e-10)
    assert out["fraction_alpha_positive"] == pytest.approx(ref.fraction_alpha_positive)
    # replicates are independent rows: a stack of two tables gives both answers
    both = loglinear_statistics(np.stack([means, means[::-1]]), KS)
    np.testing.assert_allclose(both["alpha"][0], out["alpha"], rtol=1e-12)
    np.testing.assert_allclose(both["alpha"][1], out["alpha"][::-1], rtol=1e-12)


def test_alpha_standard_errors_match_the_delta_method():
    # y_k = log|mean_k| has variance ~ sigma^2 / (n mean_k^2) (delta method); alpha is linear
    # in y: Var(alpha) = sum_k w_k^2 Var(y_k) with w_k = (x_k - mean x) / S_xx
    c, alpha, sigma, n = np.array([1.0, 2.0, 0.5]), np.array([0.8, 1.2, 1.0]), 2e-3, 400
    boot = bootstrap_validation(samples_table(c, alpha, sigma, n, seed=1), n_boot=800,
                                resample_points=False, random_state=0)
    x = np.log(KS)
    w = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    mean = c[:, None] * KS[None, :] ** -alpha[:, None]
    expected = np.sqrt(np.sum(w**2 * sigma**2 / (n * mean**2), axis=1))
    # 800 replicates: the standard error of a bootstrap standard error is about 1/sqrt(1600)
    # = 2.5%; 12% allows 4.8 of those (the delta method's own error is below 1% here)
    np.testing.assert_allclose(boot.point_alpha["alpha_se"], expected, rtol=0.12)
    assert np.all(np.abs(boot.point_alpha["alpha"] - alpha) < 6 * expected)
    assert (boot.point_alpha["fitted_share"] == 1).all()


def test_statistic_standard_error_matches_repeated_experiments():
    # the bootstrap se of the Table 1 statistic from ONE experiment agrees with the spread of
    # the statistic over 300 independent experiments (same points, new samples)
    rng = np.random.default_rng(5)
    P, n, sigma = 25, 60, 0.02
    c, alpha = rng.lognormal(-1, 0.7, P), rng.uniform(0.5, 1.5, P)
    one = samples_table(c, alpha, sigma, n, seed=10)
    boot = bootstrap_validation(one, n_boot=600, resample_points=False, random_state=1)
    mean = c[:, None] * KS[None, :] ** -alpha[:, None]
    repeats = mean[None] + sigma / np.sqrt(n) * rng.standard_normal((300, P, KS.size))
    spread = np.std(loglinear_statistics(repeats, KS)["r2_across_points"], ddof=1)
    # both are standard deviations estimated from a few hundred draws (about 4-6% each) and
    # the bootstrap centres on one experiment's means, not the truth: agree within 30%
    assert boot.se["r2_across_points"] == pytest.approx(spread, rel=0.3)


def test_statistic_standard_error_is_conservative_when_the_law_is_exact():
    # an exact law: 1 - R^2 is quadratic in the noise of the means, and each replicate adds the
    # bootstrap's noise to the data's, so the se overestimates the spread (by about 2x)
    rng = np.random.default_rng(5)
    P, n, sigma = 25, 60, 1e-3
    c, alpha = rng.lognormal(-1, 0.7, P), rng.uniform(0.3, 1.0, P)
    boot = bootstrap_validation(samples_table(c, alpha, sigma, n, seed=10), n_boot=600,
                                resample_points=False, random_state=1)
    mean = c[:, None] * KS[None, :] ** -alpha[:, None]
    repeats = mean[None] + sigma / np.sqrt(n) * rng.standard_normal((300, P, KS.size))
    spread = np.std(loglinear_statistics(repeats, KS)["r2_across_points"], ddof=1)
    assert boot.params["n_fitted"] == P
    assert 1.3 * spread < boot.se["r2_across_points"] < 3.5 * spread


def test_point_resampling_widens_the_interval_and_is_reproducible():
    rng = np.random.default_rng(7)
    P = 40
    c, alpha = rng.lognormal(-1, 0.5, P), rng.uniform(0.3, 1.5, P)
    table = samples_table(c, alpha, 1e-3, 40, seed=2)
    points = bootstrap_validation(table, n_boot=400, random_state=4)
    only_mc = bootstrap_validation(table, n_boot=400, resample_points=False, random_state=4)
    # the median of n exponents uniform on [0.3, 1.5] has standard error about
    # 1.2 / (2 sqrt(n)) (asymptotic, 1 / (2 f(median) sqrt(n))); the Monte Carlo part is small
    n = points.params["n_fitted"]
    assert points.se["alpha_median"] == pytest.approx(1.2 / (2 * np.sqrt(n)), rel=0.5)
    assert points.se["alpha_median"] > 2 * only_mc.se["alpha_median"]
    again = bootstrap_validation(table, n_boot=400, random_state=4)
    pd.testing.assert_frame_equal(again.replicates, points.replicates)  # a rerun of one call
    ci = points.conf_int(0.1)
    assert list(ci.columns) == ["lower", "upper"] and (ci["lower"] <= ci["upper"]).all()
    assert isinstance(points.summary(), Summary)
    # per-point standard errors never resample the points
    pd.testing.assert_series_equal(points.point_alpha["alpha"], only_mc.point_alpha["alpha"])


def test_cochran_q_is_chi_square_when_exponents_are_equal_and_large_otherwise():
    rng = np.random.default_rng(11)
    P, n = 60, 80
    c = rng.lognormal(0, 0.5, P)
    same = bootstrap_validation(samples_table(c, np.full(P, 1.0), 5e-3, n, seed=3),
                                n_boot=400, resample_points=False, random_state=0)
    h = same.alpha_heterogeneity()
    assert h.df == h.n_points - 1 and h.n_points >= 55
    # Q ~ chi2(df) under one common exponent (the se's are estimates: a few % wider)
    assert stats.chi2.ppf(1e-4, h.df) < h.q < stats.chi2.isf(1e-4, h.df)
    assert h.alpha_bar == pytest.approx(1.0, abs=0.05)
    spread = bootstrap_validation(samples_table(c, rng.uniform(0.5, 1.5, P), 5e-3, n, seed=4),
                                  n_boot=400, resample_points=False, random_state=0)
    h2 = spread.alpha_heterogeneity()
    assert h2.p_value < 1e-12 and h2.i2 > 0.9


def test_bad_input():
    table = samples_table([1.0, 2.0], [1.0, 1.0], 1e-3, 5)
    with pytest.raises(ValueError, match="same number"):
        bootstrap_validation(table.iloc[1:], n_boot=10)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_validation(table, n_boot=1)
    with pytest.raises(TypeError, match="samples"):
        bootstrap_validation(table.to_numpy())
    with pytest.raises(ValueError, match="lacks columns"):
        bootstrap_validation(table, delta_col="delta_error")
    with pytest.raises(TypeError, match="resample_points"):
        bootstrap_validation(table, resample_points="yes")
    with pytest.raises(ValueError, match="ks must"):
        loglinear_statistics(np.ones((2, 3)), [1, 2])
    boot = bootstrap_validation(table, n_boot=5, random_state=0)
    with pytest.raises(ValueError, match="alpha"):
        boot.conf_int(alpha=1.5)
    # summarized means are not samples: a clear message
    with pytest.raises(ValueError, match="lacks columns"):
        bootstrap_validation(summarize_contributions(table).reset_index())
