"""Which loss? Metric comparison, sign changes, the reference sampling quirk, and the
aggregate-individual link E_z[Delta(z, D)] = eps(k) - eps(k+1) (MATH.md Section 2)."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pandas as pd
import pytest

from scaling_kit.aggregate import OffsetPowerLaw, PowerLaw
from scaling_kit.contributions import delta_column, sample_contributions, summarize_contributions
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.metrics import METRICS, losses_from_proba
from scaling_kit.which_loss import (
    LinkResult,
    MetricComparison,
    aggregate_individual_link,
    compare_metrics,
    expected_loss,
    find_sign_changes,
)

matplotlib.use("Agg")

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
    text = comp.summary()
    assert "log_loss" in text and "softmax_ce" in text and "sign-changing" in text


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
    assert "no log-linear fit" in comp.summary()


@pytest.mark.parametrize("bad", ["no_metric_cols", "missing_metric", "unknown", "nan", "notdf"])
def test_compare_metrics_bad_input(bad):
    df = _constructed()
    with pytest.raises(ValueError):
        if bad == "no_metric_cols":
            compare_metrics(df[["point", "k", "sample", "delta"]])
        elif bad == "missing_metric":
            compare_metrics(df, metrics=["brier"])
        elif bad == "unknown":
            compare_metrics(df, metrics=["accuracy"])
        elif bad == "nan":
            df.loc[3, "delta_softmax_ce"] = np.nan
            compare_metrics(df)
        else:
            compare_metrics(df.to_numpy())


def test_compare_metrics_on_real_contributions(breast_cancer):
    p = breast_cancer
    df = sample_contributions(ExactLogisticRegression(), p,
                              np.arange(12), k=[10, 20, 40], n_samples=30, metric=list(METRICS),
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
        df = sample_contributions(ExactLogisticRegression(), p,
                                  points, k=k, n_samples=600, allow_z_in_D=allow,
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


# ------------------------------------------------------------------------------------------
# the aggregate-individual identity, exactly on a mirror-symmetric problem
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mirror():
    """Binary problem invariant under (x, y) -> (-x, 1 - y): pool 6 + 6, test 30 + 30.

    Logistic regression maps mirrored data to (w, -b), so E[loss] only depends on the class
    counts up to a swap. Then D + {z} (counts of strat(k) plus one point of a random class)
    has the expected loss of strat(k + 1), and E_z[Delta] = eps(k) - eps(k + 1) exactly.
    """
    rng = np.random.default_rng(0)

    def draw(n):
        X0 = rng.standard_normal((n, 2)) + [1.0, 0.5]
        return np.vstack([X0, -X0]), np.r_[np.zeros(n, int), np.ones(n, int)]

    return (*draw(6), *draw(30))


def _enumerated_eps(problem, counts):
    """Exact E[log loss] over every dataset with the given class counts."""
    Xp, yp, Xt, yt = problem
    by_class = [np.flatnonzero(yp == c) for c in (0, 1)]
    losses = []
    for a in itertools.combinations(by_class[0], counts[0]):
        for b in itertools.combinations(by_class[1], counts[1]):
            D = np.r_[a, b]
            proba = ExactLogisticRegression().fit(Xp[D], yp[D]).predict_proba(Xt)
            losses.append(losses_from_proba(proba, yt, "log_loss")["log_loss"])
    return float(np.mean(losses))


def test_mean_contribution_equals_loss_difference(mirror):
    # stratified counts: k = 4 -> (2, 2); k = 5 -> (3, 2) (remainder to the first largest class)
    eps4 = _enumerated_eps(mirror, (2, 2))
    eps5 = _enumerated_eps(mirror, (3, 2))
    assert eps5 == pytest.approx(_enumerated_eps(mirror, (2, 3)), abs=1e-9)  # the symmetry
    exact_gain = eps4 - eps5
    Xp, yp, Xt, yt = mirror
    df = sample_contributions(ExactLogisticRegression(), (Xp, yp, Xt, yt), np.arange(12), k=4,
                              n_samples=500, share_datasets=False, random_state=0,
                              progress=False)
    mean, sem = df["delta"].mean(), df["delta"].std() / np.sqrt(len(df))
    assert exact_gain > 8 * sem  # the check is not vacuous
    assert abs(mean - exact_gain) < 4 * sem, (mean, exact_gain, sem)
    # expected_loss draws D as the engine does: it matches the enumeration too
    e = expected_loss(ExactLogisticRegression(), mirror, [4, 5], n_datasets=3000, random_state=1)
    for k, exact in ((4, eps4), (5, eps5)):
        assert abs(e.loc[k, "mean"] - exact) < 4 * e.loc[k, "sem"]


def test_expected_loss_generic_learner_and_metrics(toy):
    from sklearn.linear_model import LogisticRegression

    data = (toy.X_pool, toy.y_pool, toy.X_test, toy.y_test)
    a = expected_loss(ExactLogisticRegression(), data, [8, 16], n_datasets=20,
                      metric=["log_loss", "error"], random_state=4)
    b = expected_loss(LogisticRegression(C=1.0, tol=1e-12, max_iter=10000), data, [8, 16],
                      n_datasets=20, metric=["log_loss", "error"], random_state=4)
    # same draws (same random_state), same model: equal up to solver precision
    np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-6)
    np.testing.assert_allclose(a["error_mean"], b["error_mean"])
    np.testing.assert_allclose(a["mean"], a["log_loss_mean"])
    assert list(a.index) == [8, 16] and (a["count"] == 20).all()
    with pytest.raises(ValueError):
        expected_loss(ExactLogisticRegression(), data, [0, 8])
    with pytest.raises(ValueError):
        expected_loss(ExactLogisticRegression(), data, [8], n_datasets=1)
    with pytest.raises(ValueError):
        expected_loss(ExactLogisticRegression(), data[:3], [8])


# ------------------------------------------------------------------------------------------
# the link on a real problem
# ------------------------------------------------------------------------------------------
def test_aggregate_individual_link(breast_cancer):
    p = breast_cancer
    link = aggregate_individual_link(ExactLogisticRegression(), p, [10, 20, 40], points=30,
                                     n_samples=40, n_datasets=400, random_state=0)
    assert isinstance(link, LinkResult)
    assert isinstance(link.form, OffsetPowerLaw)
    assert link.implied_exponent == pytest.approx(1 - link.form.params_["b"])
    ks = np.array([10.0, 20.0, 40.0])
    np.testing.assert_allclose(link.table["difference"], link.form.difference(ks))
    np.testing.assert_allclose(link.table["minus_derivative"], -link.form.derivative(ks))
    # mean over points = mean of the per-point means
    per_point = link.contributions.groupby(["point", "k"])["delta"].mean().unstack("k")
    np.testing.assert_allclose(link.table["mean_delta"], per_point.mean(axis=0))
    assert len(link.points) == 30 and len(np.unique(link.points)) == 30
    # the science: the curve decreases, its difference has the sign and size of the mean
    # contribution at the smallest k (within a factor 2), and 1 - b > 1
    assert link.table.loc[10, "difference"] > 0 and link.table.loc[10, "mean_delta"] > 0
    ratio = link.table.loc[10, "mean_delta"] / link.table.loc[10, "difference"]
    assert 0.5 < ratio < 2.0, link.table
    assert link.implied_exponent > 1
    assert link.alphas.size > 0 and link.alpha_range[0] < link.alpha_range[1]
    assert "implied exponent" in link.summary()
    # the nested (Hestness) curve and the pure power law are available too
    nested = aggregate_individual_link(ExactLogisticRegression(), p, [10, 20, 40], points=5,
                                       n_samples=5, n_datasets=5, curve_method="nested",
                                       form="power law", random_state=0)
    assert isinstance(nested.form, PowerLaw) and nested.curve_method == "nested"
    assert len(nested.curve) >= 3


@pytest.mark.parametrize("kw", [dict(ks=[10]), dict(metric=["log_loss"]), dict(points=1),
                                dict(curve_method="hestness"), dict(form="cubic"),
                                dict(metric="error", curve_method="nested"),
                                dict(points=[0.5, 1.5])])
def test_link_bad_input(kw, toy):
    args = dict(ks=[8, 16], points=4, n_samples=2, n_datasets=3)
    args.update(kw)
    ks = args.pop("ks")
    with pytest.raises(ValueError):
        aggregate_individual_link(ExactLogisticRegression(), toy, ks, **args)


# ------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------
def test_plots_return_figures(breast_cancer):
    import matplotlib.pyplot as plt

    from scaling_kit.plots import comparison as cplots

    comp = compare_metrics(_constructed())
    for fn in (cplots.plot_harmful_share, cplots.plot_alpha_by_metric,
               cplots.plot_metric_curves):
        fig = fn(comp)
        assert isinstance(fig, plt.Figure)
        plt.close(fig)
    fig, ax = plt.subplots()
    assert cplots.plot_harmful_share(comp, ax=ax) is fig
    plt.close(fig)
    link = aggregate_individual_link(ExactLogisticRegression(), breast_cancer, [10, 20, 40],
                                     points=6, n_samples=10, n_datasets=20, random_state=0)
    for fn in (cplots.plot_link, cplots.plot_link_exponents):
        fig = fn(link)
        assert isinstance(fig, plt.Figure)
        plt.close(fig)
