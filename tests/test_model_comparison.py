"""Tests of the per-model validation behind the paper's Tables 1 and 2 (scaling_kit.model_comparison)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from scaling_kit.contributions import sample_contributions, summarize_contributions
from scaling_kit.datasets import load_dataset
from scaling_kit.laws.validation import alpha_correlation, fit_loglinear_laws
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.model_comparison import compare_models
from scaling_kit.results import Summary

KS = [30, 45, 70, 100]


class ParityLearner:
    """Predicts class 1 with probability 0.6 after an even number of training points and 0.4
    after an odd one: Delta = loss(D) - loss(D + {z}) flips sign between k and k + 1, so no
    point has a mean of one sign and no law can be fitted."""

    def fit_predict_proba(self, X, y, X_eval, n_classes):
        p1 = 0.6 if len(X) % 2 == 0 else 0.4
        return np.tile([1 - p1, p1], (len(X_eval), 1))


@pytest.fixture(scope="module")
def cancer():
    return load_dataset("breast_cancer", random_state=0)


def test_each_model_is_the_validation_of_its_own_samples(cancer):
    points = np.arange(0, 40, 2)
    models = {"exact": (ExactLogisticRegression(), points, 30),
              "lbfgs": (LogisticRegression(tol=1e-4), points[:8], 10)}
    res = compare_models(models, cancer, KS, options={"metric": "softmax_ce"}, random_state=3)
    for name, (learner, pts, n) in models.items():
        table = sample_contributions(learner, cancer, pts, k=KS, n_samples=n, metric="softmax_ce",
                                     random_state=3, progress=False)
        ref = fit_loglinear_laws(summarize_contributions(table))
        # the same call of the same sampler: a rerun, identical
        pd.testing.assert_frame_equal(res.laws[name].params, ref.params)
        assert res.params.loc[name, "r2_across_points"] == ref.r2_overall
        assert res.params.loc[name, "n_fitted"] == len(ref.fitted)
        assert res.params.loc[name, ["n_points", "n_samples"]].tolist() == [len(pts), n]
        s = summarize_contributions(table)
        assert res.params.loc[name, "snr_median"] == pytest.approx(
            np.median(s["mean"].abs() / s["std"]), rel=1e-12)
    t1 = res.table1("breast cancer")
    assert list(t1.columns) == ["exact", "lbfgs"] and t1.index.tolist() == ["breast cancer"]
    corr = res.alpha_correlations()
    expected = alpha_correlation(res.laws)["exact-lbfgs"]
    assert corr.loc["exact-lbfgs", "correlation"] == pytest.approx(expected, rel=1e-12)
    assert corr.loc["exact-lbfgs", "n_common"] == len(
        res.laws["exact"].fitted.index.intersection(res.laws["lbfgs"].fitted.index))
    assert isinstance(res.summary(), Summary) and res.options["metric"] == "softmax_ce"


def test_workers_and_cache_change_neither_the_laws_nor_the_recorded_options(cancer, tmp_path):
    models = {"exact": (ExactLogisticRegression(), np.arange(0, 30, 3), 12)}
    plain = compare_models(models, cancer, KS, random_state=1)
    ran = compare_models(models, cancer, KS, options={"n_jobs": 2, "cache": tmp_path},
                         random_state=1)
    # the same chunks, computed in two worker processes: equal up to BLAS rounding
    pd.testing.assert_frame_equal(ran.laws["exact"].params, plain.laws["exact"].params,
                                  check_exact=False, rtol=1e-9)
    assert ran.options == plain.options == {"ks": KS}
    assert str(tmp_path) not in str(ran.summary())
    assert list(tmp_path.glob("contributions-*/chunk-*"))


def test_a_model_without_a_law_is_reported_not_raised(cancer):
    res = compare_models({"exact": (ExactLogisticRegression(), np.arange(10), 5),
                          "parity": (ParityLearner(), np.arange(4), 2)},
                         cancer, [30, 31, 32], random_state=0)
    assert res.laws["parity"] is None and "sign_change: 4" in res.errors["parity"]
    assert res.params.loc["parity", "n_fitted"] == 0
    assert np.isnan(res.params.loc["parity", "r2_across_points"])
    assert np.isnan(res.alpha_correlations().loc["exact-parity", "correlation"])
    assert "no law" in str(res.summary())
    # the means are still there: every one of them changes sign with the parity of k
    wide = res.means["parity"]["mean"].unstack("k")
    assert (np.sign(wide[30]) == -np.sign(wide[31])).all()


def test_bad_input(cancer):
    with pytest.raises(TypeError, match="models"):
        compare_models([], cancer, KS)
    with pytest.raises(TypeError, match="tuple"):
        compare_models({"a": ExactLogisticRegression()}, cancer, KS)
    with pytest.raises(ValueError, match="at least 3"):
        compare_models({"a": (ExactLogisticRegression(), [0, 1], 2)}, cancer, [30, 40])
    with pytest.raises(ValueError, match="one metric"):
        compare_models({"a": (ExactLogisticRegression(), [0, 1], 2)}, cancer, KS,
                       options={"metric": ["log_loss", "error"]})
    with pytest.raises(ValueError, match="n_samples"):
        compare_models({"a": (ExactLogisticRegression(), [0, 1], 0)}, cancer, KS)
