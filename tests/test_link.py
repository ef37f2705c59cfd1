"""The aggregate-individual link E_z[Delta(z, D)] = eps(k) - eps(k+1) (scaling_kit.link;
docs/math.md §3)."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pytest
from test_metric_comparison import _constructed

from scaling_kit.aggregate import OffsetPowerLaw, PowerLaw
from scaling_kit.contributions import sample_contributions
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.link import LinkResult, aggregate_individual_link, expected_loss
from scaling_kit.metric_comparison import compare_metrics
from scaling_kit.metrics import losses_from_proba

matplotlib.use("Agg")


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
    with pytest.raises(ValueError, match="k must be >= 1"):
        expected_loss(ExactLogisticRegression(), data, [0, 8])
    with pytest.raises(ValueError, match="n_datasets"):
        expected_loss(ExactLogisticRegression(), data, [8], n_datasets=1)
    with pytest.raises(TypeError, match="n_datasets"):
        expected_loss(ExactLogisticRegression(), data, [8], n_datasets=2.5)
    with pytest.raises(TypeError, match="data must be"):
        expected_loss(ExactLogisticRegression(), data[:3], [8])
    with pytest.raises(ValueError, match="metric"):
        expected_loss(ExactLogisticRegression(), data, [8], metric="accuracy")
    with pytest.raises(ValueError, match="larger than the pool|k="):
        expected_loss(ExactLogisticRegression(), data, [len(toy.y_pool) + 1])


def test_class_step_identity_is_exact_on_an_unbalanced_pool():
    """docs/math.md §3.6: with class-balanced draws, the mean contribution of the points of the
    class that the stratified counts add from k to k + 1 is exactly eps(k) - eps(k + 1).
    Pool: 4 points of class 0, 8 of class 1 (shares 1/3, 2/3), so k = 4 -> (1, 3) and
    k = 5 -> (2, 3): class 0 is added; k = 6 -> (2, 4), k = 7 -> (2, 5): class 1. The exact
    steps come from enumerating every dataset; the estimate must be within 4 of its standard
    errors (every pool point sampled, so only the drawn datasets are random)."""
    rng = np.random.default_rng(3)
    X0 = rng.standard_normal((4, 2)) + [1.0, 0.3]
    X1 = rng.standard_normal((8, 2)) - [0.6, 0.2]
    Xt = rng.standard_normal((60, 2))
    yt = (Xt @ [1.0, 0.3] + 0.5 * rng.standard_normal(60) > 0).astype(int)
    problem = (np.vstack([X0, X1]), np.r_[np.zeros(4, int), np.ones(8, int)], Xt, 1 - yt)
    link = aggregate_individual_link(ExactLogisticRegression(), problem, [4, 6], points=12,
                                     n_samples=400, n_datasets=50, curve_sizes=[4, 5, 6, 7],
                                     random_state=0)
    steps = link.steps
    assert steps.loc[4, "added_class"] == 0 and steps.loc[6, "added_class"] == 1
    assert steps.loc[4, "class_points"] == 4 and steps.loc[6, "class_points"] == 8
    for k, before, after in ((4, (1, 3), (2, 3)), (6, (2, 4), (2, 5))):
        exact = _enumerated_eps(problem, before) - _enumerated_eps(problem, after)
        est, se = steps.loc[k, "class_mean_delta"], steps.loc[k, "class_se"]
        assert abs(exact) > 4 * se  # not vacuous
        assert abs(est - exact) < 4 * se, (k, est, exact, se)
    assert np.isfinite(steps["z_step"]).all()
    assert set(link.table.columns) >= {"se", "difference_se", "z_combined"}
    assert "exact identity" in str(link.summary())


def test_pool_mean_standard_error_is_calibrated():
    """The standard error of a mean of contributions whose rows share drawn datasets: with
    y = u_dataset + v_point + e, every point on every dataset (all points sampled, so the
    points' term vanishes), the mean varies by Var(u)/R + Var(e)/(P R) over repetitions; the
    average squared standard error must match it (2000 repetitions: the variance is
    estimated to about 3%; 15% allowed)."""
    from scaling_kit.link import _pool_mean_se

    rng = np.random.default_rng(0)
    n_points, n_datasets = 30, 40
    v = rng.standard_normal(n_points)
    points = np.tile(np.arange(n_points), n_datasets)
    datasets = np.repeat(np.arange(n_datasets), n_points)
    means, se2 = [], []
    for _ in range(2000):
        u = 0.5 * rng.standard_normal(n_datasets)
        y = u[datasets] + v[points] + rng.standard_normal(points.size)
        means.append(y.mean())
        se2.append(_pool_mean_se(y, datasets, points, n_points) ** 2)
    truth = 0.25 / n_datasets + 1.0 / (n_points * n_datasets)
    assert np.var(means) == pytest.approx(truth, rel=0.15)
    assert np.mean(se2) == pytest.approx(truth, rel=0.15)
    # half the points sampled from a population of 2 P adds the points' term
    half = points < n_points // 2
    se_half = _pool_mean_se(y[half], datasets[half], points[half], n_points)
    assert se_half > _pool_mean_se(y[half], datasets[half], points[half], n_points // 2)


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
    assert "implied exponent" in str(link.summary())
    assert link.summary().tables["mean contribution against the curve's step, by k"] is link.table
    assert link.params["implied_exponent"] == link.implied_exponent
    assert link.params["b"] == link.form.params_["b"]
    # the nested (Hestness) curve and the pure power law are available too
    nested = aggregate_individual_link(ExactLogisticRegression(), p, [10, 20, 40], points=5,
                                       n_samples=5, n_datasets=5, curve_method="nested",
                                       form="power law", random_state=0)
    assert isinstance(nested.form, PowerLaw) and nested.curve_method == "nested"
    assert len(nested.curve) >= 3


@pytest.mark.parametrize("kw, error, match", [
    (dict(ks=[10]), ValueError, "ks"),
    (dict(ks=[8, 16.5]), ValueError, "ks"),
    (dict(ks=[0, 8]), ValueError, "ks"),
    (dict(metric=["log_loss"]), TypeError, "metric"),
    (dict(metric="accuracy"), ValueError, "metric"),
    (dict(points=1), ValueError, "points"),
    (dict(points=[0.5, 1.5]), ValueError, "points"),
    (dict(n_samples=0), ValueError, "n_samples"),
    (dict(n_samples=True), TypeError, "n_samples"),
    (dict(n_datasets=1), ValueError, "n_datasets"),
    (dict(curve_method="hestness"), ValueError, "curve_method"),
    (dict(form="cubic"), ValueError, "form"),
    (dict(form=3), TypeError, "form"),
    (dict(metric="error", curve_method="nested"), ValueError, "nested"),
    (dict(curve_sizes=[8, 16]), ValueError, "curve_sizes"),
    (dict(random_state=-1), ValueError, "random_state"),
    (dict(random_state=1.5), TypeError, "random_state"),
])
def test_link_bad_input(kw, error, match, toy):
    args = dict(ks=[8, 16], points=4, n_samples=2, n_datasets=3, random_state=0)
    args.update(kw)
    ks = args.pop("ks")
    with pytest.raises(error, match=match):
        aggregate_individual_link(ExactLogisticRegression(), toy, ks, **args)
    with pytest.raises(TypeError, match="data must be"):
        aggregate_individual_link(ExactLogisticRegression(), (toy.X_pool, toy.y_pool), [8, 16])


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
