"""The same contributions under several test metrics (scaling_kit.metric_comparison), sign
changes (scaling_kit.sign_changes) and the reference code's sampling quirk (docs/math.md §3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scaling_kit.contributions import delta_column, sample_contributions, summarize_contributions
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.metric_comparison import MetricComparison, compare_metrics
from scaling_kit.metrics import METRICS
from scaling_kit.results import Summary
from scaling_kit.sign_changes import find_sign_changes

KS = np.array([25, 50, 100, 200])


# ------------------------------------------------------------------------------------------
# constructed data with known means
# ------------------------------------------------------------------------------------------
def _constructed(n_samples=400, noise=1e-4, seed=0):
    """Samples of Delta with known means per (point, k) under two metrics.

    point 0: helpful under both, alpha 1 (log_loss) and 0.5 (softmax_ce);
    point 1: harmful under log_loss (c = -1, alpha 1.5), helpful under softmax_ce (alpha 1);
    point 2: changes sign under log_loss between k = 50 and 100; helpful under softmax_ce;
    point 3: helpful under both, alpha 2 and 1.
    """
    rng = np.random.default_rng(seed)
    mean_ll = {0: 2.0 * KS**-1.0, 1: -1.0 * KS**-1.5, 2: np.array([3e-3, 1e-3, -1e-3, -2e-3]),
               3: 5.0 * KS**-2.0}
    mean_sm = {0: 0.5 * KS**-0.5, 1: 0.3 * KS**-1.0, 2: 0.2 * KS**-1.0, 3: 0.4 * KS**-1.0}
    rows = []
    for p in range(4):
        for j, k in enumerate(KS):
            e = rng.standard_normal((2, n_samples)) * noise
            rows.append(pd.DataFrame({
                "point": p, "k": k, "sample": np.arange(n_samples),
                "delta_log_loss": mean_ll[p][j] + e[0] - e[0].mean(),  # exact means
                "delta_softmax_ce": mean_sm[p][j] + e[1] - e[1].mean(),
            }))
    df = pd.concat(rows, ignore_index=True)
    df.insert(3, "delta", df["delta_log_loss"])
    return df


def test_compare_metrics_on_constructed_data():
    comp = compare_metrics(_constructed())
    assert isinstance(comp, MetricComparison)
    assert comp.metrics == ("log_loss", "softmax_ce")
    np.testing.assert_array_equal(comp.ks, KS)
    # harmful shares: point 1 at every k, point 2 at k = 100, 200 under log_loss only
    share = comp.harmful_share()
    np.testing.assert_allclose(share.loc["log_loss", KS].to_numpy(), [0.25, 0.25, 0.5, 0.5])
    np.testing.assert_allclose(share.loc["softmax_ce", KS].to_numpy(), 0.0)
    assert share.loc["log_loss", "all"] == pytest.approx(0.25)  # point 1 (point 2 sums > 0)
    # sign changes: point 2 under log_loss, between 50 and 100, and resolved (tiny noise)
    sc = comp.sign_change_summary()
    assert sc.loc["log_loss", "n_points"] == 1 and sc.loc["log_loss", "points"] == [2]
    assert sc.loc["log_loss", "at_k"] == ["50->100"]
    assert sc.loc["log_loss", "n_resolved_points"] == 1
    assert sc.loc["softmax_ce", "n_points"] == 0
    row = comp.table.loc[("log_loss", 2)]
    assert row["sign_change"] and row["sign_change_at"] == "50->100"
    assert row["status"] == "sign_change" and np.isnan(row["alpha"])  # not fitted on |mean|
    # fitted exponents and c recover the constructed laws
    al = comp.alphas()
    np.testing.assert_allclose(al.loc[[0, 1, 3], "log_loss"], [1.0, 1.5, 2.0], atol=1e-3)
    np.testing.assert_allclose(al["softmax_ce"], [0.5, 1.0, 1.0, 1.0], atol=1e-3)
    assert comp.table.loc[("log_loss", 1), "c"] == pytest.approx(-1.0, rel=1e-2)
    np.testing.assert_allclose(comp.alpha_ratio().loc[[0, 1, 3]], [2.0, 1.5, 2.0], atol=1e-2)
    # per-k means in the tidy table match a direct groupby
    direct = _constructed().groupby(["point", "k"])["delta_softmax_ce"].mean().unstack("k")
    np.testing.assert_allclose(comp.table.loc["softmax_ce", [f"mean_{k}" for k in KS]],
                               direct.to_numpy())
    # disagreements: point 1 everywhere, point 2 at large k
    dis = comp.disagreements()
    assert set(dis.index) == {(1, k) for k in KS} | {(2, 100), (2, 200)}
    summary = comp.summary()
    assert isinstance(summary, Summary)
    text = str(summary)
    assert "log_loss" in text and "softmax_ce" in text and "sign-changing" in text
    per_metric = summary.tables["per metric"]
    assert per_metric.loc["log_loss", "sign-changing"] == 1
    assert per_metric.loc["log_loss", "harmful (all)"] == pytest.approx(0.25)
    assert per_metric.loc["softmax_ce", "alpha median"] == pytest.approx(1.0, abs=1e-3)
    # params: the fitted law of every (metric, point)
    assert comp.params.loc[("log_loss", 1), "c"] == pytest.approx(-1.0, rel=1e-2)


def test_sign_changes_unresolved_noise_and_validation_agree():
    df = _constructed(noise=5e-3, n_samples=50, seed=3)  # point 2's means are within noise
    s = summarize_contributions(df, "delta_log_loss")
    flips = find_sign_changes(s)
    assert set(flips["point"]) >= {2}
    assert not flips.loc[flips["point"] == 2, "resolved"].any()
    comp = compare_metrics(df, metrics=["log_loss"])
    pd.testing.assert_frame_equal(
        comp.sign_changes.drop(columns="metric").reset_index(drop=True),
        flips.reset_index(drop=True), check_dtype=False)
    # without a sem column: resolved is NaN
    assert find_sign_changes(s[["mean"]])["resolved"].isna().all()


def test_compare_metrics_without_enough_k_still_reports():
    df = _constructed()
    df = df[df["k"].isin([25, 200])]
    comp = compare_metrics(df)
    assert comp.fits["log_loss"] is None and "distinct dataset sizes" in comp.fit_errors["log_loss"]
    assert comp.sign_change_summary().loc["log_loss", "points"] == [2]
    assert comp.table["alpha"].isna().all()
    assert "no log-linear fit" in str(comp.summary())


@pytest.mark.parametrize("bad, error, match", [
    ("no_metric_cols", ValueError, "delta_<metric>"),
    ("missing_metric", ValueError, "delta_brier"),
    ("unknown", ValueError, "accuracy"),
    ("nan", ValueError, "delta_softmax_ce"),
    ("notdf", TypeError, "samples"),
    ("no_point", ValueError, "samples"),
    ("z", ValueError, "z"),
    ("z_type", TypeError, "z"),
    ("min_k", ValueError, "min_k"),
    ("min_k_float", TypeError, "min_k"),
    ("c_method", ValueError, "c_method"),
])
def test_compare_metrics_bad_input(bad, error, match):
    df = _constructed()
    with pytest.raises(error, match=match):
        if bad == "no_metric_cols":
            compare_metrics(df[["point", "k", "sample", "delta"]])
        elif bad == "missing_metric":
            compare_metrics(df, metrics=["brier"])
        elif bad == "unknown":
            compare_metrics(df, metrics=["accuracy"])
        elif bad == "nan":
            df.loc[3, "delta_softmax_ce"] = np.nan
            compare_metrics(df)
        elif bad == "notdf":
            compare_metrics(df.to_numpy())
        elif bad == "no_point":
            compare_metrics(df.drop(columns="point"))
        elif bad == "z":
            compare_metrics(df, z=0.0)
        elif bad == "z_type":
            compare_metrics(df, z="2")
        elif bad == "min_k":
            compare_metrics(df, min_k=2)
        elif bad == "min_k_float":
            compare_metrics(df, min_k=3.5)
        else:
            compare_metrics(df, c_method="exp")


@pytest.mark.parametrize("bad, error, match", [
    ("notdf", TypeError, "means"),
    ("no_mean", ValueError, "mean"),
    ("nan", ValueError, "NaN"),
    ("duplicate", ValueError, "one row per"),
    ("z", ValueError, "z"),
])
def test_find_sign_changes_bad_input(bad, error, match):
    s = summarize_contributions(_constructed(), "delta_log_loss")
    with pytest.raises(error, match=match):
        if bad == "notdf":
            find_sign_changes(s.to_numpy())
        elif bad == "no_mean":
            find_sign_changes(s.drop(columns="mean"))
        elif bad == "nan":
            find_sign_changes(s.assign(mean=np.nan))
        elif bad == "duplicate":
            find_sign_changes(pd.concat([s, s.iloc[:1]]))
        else:
            find_sign_changes(s, z=-1.0)


def test_find_sign_changes_on_known_means():
    # point 7: + + - + (two flips); point 3: constant sign; a zero mean is no flip
    means = pd.DataFrame({
        "point": [7, 7, 7, 7, 3, 3, 3, 5, 5],
        "k": [10, 20, 40, 80, 10, 20, 40, 10, 20],
        "mean": [1.0, 0.5, -0.2, 0.1, -1.0, -2.0, -0.5, 0.0, -1.0],
        "std": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        "count": [100] * 9,
    }).sample(frac=1.0, random_state=0)  # order must not matter
    flips = find_sign_changes(means)
    assert flips[["point", "k_from", "k_to"]].values.tolist() == [[7, 20, 40], [7, 40, 80]]
    # sem = std / sqrt(count) = 0.1: -0.2 and 0.5 are resolved at z = 2, 0.1 is not
    assert flips["resolved"].tolist() == [True, False]
    np.testing.assert_allclose(flips[["mean_from", "mean_to"]], [[0.5, -0.2], [-0.2, 0.1]])


def test_compare_metrics_on_real_contributions(breast_cancer):
    p = breast_cancer
    df = sample_contributions(ExactLogisticRegression(), p, np.arange(12), k=[10, 20, 40], n_samples=30, metric=list(METRICS),
                              random_state=0, progress=False)
    comp = compare_metrics(df)
    assert comp.metrics == METRICS
    for m in METRICS:
        means = summarize_contributions(df, delta_column(m, METRICS))["mean"].unstack("k")
        np.testing.assert_allclose(comp.table.loc[m, ["mean_10", "mean_20", "mean_40"]], means)
        share = comp.harmful_share().loc[m, [10, 20, 40]].to_numpy(dtype=float)
        np.testing.assert_allclose(share, (means < 0).mean(axis=0).to_numpy())
    # the reference metric is flatter: its contributions are smaller in magnitude
    mag = comp.means.groupby("metric")["mean"].apply(lambda v: v.abs().mean())
    assert mag["softmax_ce"] < mag["log_loss"]


# ------------------------------------------------------------------------------------------
# the reference code's sampling quirk (z may already be in D)
# ------------------------------------------------------------------------------------------
def test_allow_z_in_D_effect_small_when_k_much_smaller_than_pool(make_problem, add_outlier):
    p, out = add_outlier(make_problem(n_pool=200, n_test=200, seed=0), scale=6.0)
    points = [0, 1, 2, out]

    def means(k, allow):
        df = sample_contributions(ExactLogisticRegression(), p, points, k=k, n_samples=600, allow_z_in_D=allow,
                                  random_state=1, progress=False)
        return summarize_contributions(df)

    # k = 10 of 201: P(z in D) ~ 5%: no detectable difference, for every point
    a, b = means(10, False), means(10, True)
    diff = (b["mean"] - a["mean"]).to_numpy()
    se = np.sqrt(a["sem"] ** 2 + b["sem"] ** 2).to_numpy()
    assert np.all(np.abs(diff) < 4 * se), diff / se
    assert np.all(np.abs(diff) < 0.15 * np.abs(a["mean"].to_numpy()))
    # k = 150 of 201: z is in D 3 times in 4; the influential point's value changes clearly
    a, b = means(150, False), means(150, True)
    d_out = b.loc[(out, 150), "mean"] - a.loc[(out, 150), "mean"]
    se_out = np.hypot(a.loc[(out, 150), "sem"], b.loc[(out, 150), "sem"])
    assert abs(d_out) > 6 * se_out
