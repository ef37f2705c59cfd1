"""Tests of the paper's recipes (scaling_kit.recipes) and the comparisons built on them
(scaling_kit.recipe_comparison)."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC

from scaling_kit.contributions import sample_contributions
from scaling_kit.datasets import load_dataset
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.mlp import BatchedMLPClassifier
from scaling_kit.recipe_comparison import compare_learners, compare_recipes
from scaling_kit.recipes import PAPER_OPTIONS, paper_logistic, paper_mlp, paper_skmlp, paper_svm
from scaling_kit.results import Summary


@pytest.fixture(scope="module")
def cancer():
    return load_dataset("breast_cancer", random_state=0)


def test_recipes_carry_the_reference_codes_settings():
    assert PAPER_OPTIONS == {"metric": "softmax_ce", "allow_z_in_D": True}
    mlp = paper_mlp(dtype="float32")
    assert mlp.learner.get_params() == BatchedMLPClassifier.reference(dtype="float32").get_params()
    assert mlp.options == PAPER_OPTIONS and mlp.options is not PAPER_OPTIONS
    assert isinstance(mlp.summary(), Summary) and "ClassifierMLP" in str(mlp.summary())
    sk = paper_skmlp().learner
    assert isinstance(sk, MLPClassifier)
    assert (sk.hidden_layer_sizes, sk.alpha, sk.learning_rate_init, sk.max_iter, sk.batch_size,
            sk.random_state) == ((32,), 0.01, 0.01, 200, 1280, 0)
    assert isinstance(paper_logistic().learner, ExactLogisticRegression)
    assert paper_logistic().learner.C == 1.0
    lr = paper_logistic(exact=False).learner
    assert isinstance(lr, LogisticRegression)
    assert lr.get_params() == LogisticRegression().get_params()


def platt(decision, y):
    """Platt (1999) sigmoid fit with his target smoothing: (A, B) of p = 1 / (1 + exp(A f + B))."""
    n_pos, n_neg = np.sum(y == 1), np.sum(y == 0)
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(ab):
        p = np.clip(expit(-(ab[0] * decision + ab[1])), 1e-300, 1 - 1e-16)
        return -np.sum(t * np.log(p) + (1 - t) * np.log1p(-p))

    return minimize(loss, [0.0, np.log((n_neg + 1) / (n_pos + 1))], method="Nelder-Mead",
                    options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000}).x


def test_paper_svm_is_platt_on_shuffled_stratified_out_of_fold_decisions(cancer):
    # the reference's probabilities (Intel's SVC(probability=True)): an SVM fitted on all data,
    # its decision values mapped by a Platt sigmoid fitted on out-of-fold decision values of a
    # shuffled stratified 5-fold split with random_state 0
    rng = np.random.default_rng(0)
    D = rng.choice(len(cancer.y_pool), 150, replace=False)
    X, y = cancer.X_pool[D], cancer.y_pool[D]
    oof = np.empty(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        oof[test] = SVC(C=1.0).fit(X[train], y[train]).decision_function(X[test])
    A, B = platt(oof, y)
    expected = expit(-(A * SVC(C=1.0).fit(X, y).decision_function(cancer.X_test) + B))
    got = paper_svm().learner.fit(X, y).predict_proba(cancer.X_test)[:, 1]
    # two optimizers of the same smooth 2-parameter fit, each to ~1e-7 in (A, B)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # the split matters: scikit-learn's default (unshuffled) folds give other probabilities
    kit_nb02 = CalibratedClassifierCV(SVC(), method="sigmoid", ensemble=False).fit(X, y)
    assert np.abs(kit_nb02.predict_proba(cancer.X_test)[:, 1] - expected).max() > 1e-3


def test_exact_and_lbfgs_logistic_regression_agree_to_the_lbfgs_tolerance(cancer):
    X, y = cancer.X_pool[:200], cancer.y_pool[:200]
    exact = paper_logistic().learner.fit(X, y).predict_proba(cancer.X_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs may stop at max_iter=100, as the code's did
        lbfgs = paper_logistic(exact=False).learner.fit(X, y).predict_proba(cancer.X_test)
    assert np.abs(exact - lbfgs).max() < 5e-2
    assert np.abs(exact - lbfgs).max() > 0  # different solvers, not the same numbers


def test_compare_learners_measures_differences_on_one_plan(cancer):
    points = np.arange(4)
    same = compare_learners({"a": ExactLogisticRegression(C=1.0), "b": ExactLogisticRegression(C=1.0)},
                            cancer, points, [60, 120], n_samples=3, n_datasets=2, random_state=0)
    row = same.params.loc["a - b"]
    assert row["proba_mad"] == 0 and row["delta_mad"] == 0 and row["delta_mean_abs_a"] > 0
    other = compare_learners({"exact": ExactLogisticRegression(C=1.0),
                              "C=0.1": ExactLogisticRegression(C=0.1)},
                             cancer, points, [60, 120], n_samples=3, n_datasets=2, random_state=0)
    row = other.params.loc["exact - C=0.1"]
    assert row["proba_mad"] > 1e-3 and row["delta_mad"] > 0
    # the contributions are the engine's, on the plan of the seed the comparison derived
    assert list(other.deltas.columns) == ["exact", "C=0.1"] and len(other.deltas) == 4 * 2 * 3
    direct = np.mean(np.abs(other.deltas["exact"] - other.deltas["C=0.1"]))
    assert row["delta_mad"] == pytest.approx(direct)
    assert isinstance(other.summary(), Summary)
    with pytest.raises(ValueError, match="two learners"):
        compare_learners({"a": ExactLogisticRegression()}, cancer, points, [60])
    with pytest.raises(TypeError, match="learners"):
        compare_learners([ExactLogisticRegression()], cancer, points, [60])


def test_compare_recipes_fits_laws_and_noise_per_recipe(cancer):
    recipes = {"default": BatchedMLPClassifier(hidden=8, n_epochs=5, device="cpu"),
               "reference": BatchedMLPClassifier.reference(n_epochs=3, device="cpu")}
    res = compare_recipes(recipes, cancer, np.arange(3), [40, 60, 90], n_samples=4,
                          n_datasets=3, n_seeds=2, random_state=0)
    assert list(res.params.index) == ["default", "reference"]
    for name in recipes:
        assert res.params.loc[name, "n_points"] == 3
        assert res.noise[name].deltas.shape == (3, 2)
        assert res.params.loc[name, "var_per_dataset"] == pytest.approx(res.noise[name].var_total)
    # the two recipes saw the same datasets (one plan), so they differ only through the model
    assert not np.allclose(res.laws["default"].means["mean"], res.laws["reference"].means["mean"])
    again = compare_recipes({"reference": recipes["reference"]}, cancer, np.arange(3),
                            [40, 60, 90], n_samples=4, n_datasets=3, n_seeds=2, random_state=0)
    np.testing.assert_allclose(again.laws["reference"].means["mean"],
                               res.laws["reference"].means["mean"], rtol=0, atol=1e-12)
    assert isinstance(res.summary(), Summary)
    with pytest.raises(ValueError, match="ks"):
        compare_recipes(recipes, cancer, np.arange(3), [40, 60], n_samples=2)


def test_sample_contributions_accepts_every_recipe(cancer):
    for recipe in [paper_mlp(n_epochs=2, device="cpu"), paper_svm(), paper_logistic()]:
        table = sample_contributions(recipe.learner, cancer, np.arange(2), k=[60], n_samples=2,
                                     random_state=0, progress=False, **recipe.options)
        assert table["delta"].notna().all() and len(table) == 4
