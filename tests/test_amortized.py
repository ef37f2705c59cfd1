"""Tests of the amortized scaling-law estimator (docs/math.md §5; Covert et al. 2024, Section 3.2)."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from scaling_kit.laws.amortized import AmortizedScalingLaw, simulate_feature_laws
from scaling_kit.laws.likelihood import fit_likelihood, simulate_contributions

FAST = dict(max_epochs=200)


@pytest.fixture(scope="module")
def problem():
    X, y, truth = simulate_feature_laws(400, n_features=5, n_classes=2, random_state=0)
    data = simulate_contributions(truth.c, truth.alpha, truth.sigma, truth.beta,
                                  k_range=(100, 1000), n_samples=10, random_state=1)
    return X, y, truth, data


@pytest.fixture(scope="module")
def fitted(problem):
    X, y, _, data = problem
    return AmortizedScalingLaw(random_state=0, **FAST).fit(X, data, labels=y)


def test_reproducible_for_a_seed(problem, fitted):
    X, y, _, data = problem
    again = AmortizedScalingLaw(random_state=0, **FAST).fit(X, data, labels=y)
    np.testing.assert_array_equal(fitted.params_[["c", "alpha", "sigma", "beta"]].to_numpy(),
                                  again.params_[["c", "alpha", "sigma", "beta"]].to_numpy())
    other = AmortizedScalingLaw(random_state=1, **FAST).fit(X, data, labels=y)
    assert not np.allclose(fitted.params_["alpha"], other.params_["alpha"])


def test_beats_mle_with_ten_samples(problem, fitted):
    _, _, truth, data = problem
    ks = [100, 300, 1000]
    true = truth.c.to_numpy()[:, None] * np.array(ks, float) ** -truth.alpha.to_numpy()[:, None]
    amort = fitted.results_.predict(ks).to_numpy()
    # the exact MLE (method="newton"); the default, empirical Bayes, pools the points too
    mle = fit_likelihood(data, method="newton").predict(ks).to_numpy()
    r2_am = np.mean([r2_score(true[:, j], amort[:, j]) for j in range(3)])
    r2_ml = np.mean([r2_score(true[:, j], mle[:, j]) for j in range(3)])
    assert r2_am > 0.8
    assert r2_am > r2_ml


def test_recovers_signs_and_generalizes_to_new_points(fitted):
    assert np.mean(np.sign(fitted.params_["c"]) != np.sign(
        simulate_feature_laws(400, random_state=0).params["c"])) < 0.1
    X_new, y_new, truth_new = simulate_feature_laws(200, random_state=99)
    pred = fitted.predict_params(X_new, labels=y_new)
    assert np.corrcoef(pred["alpha"], truth_new["alpha"])[0, 1] > 0.6
    assert np.mean(np.sign(pred["c"]) == np.sign(truth_new["c"])) > 0.85
    curve = fitted.predict(X_new, [100, 1000], labels=y_new)
    assert curve.shape == (200, 2)


def test_beta_clamp_and_results_object(fitted):
    p = fitted.params_
    assert (p["beta"] <= np.exp(fitted.log_beta_max) + 1e-12).all()
    assert (p["alpha"] > 0).all()
    assert set(p["split"]) == {"train", "validation"}
    assert fitted.results_.method == "amortized"
    assert p["alpha_se"].isna().all()
    assert len(fitted.history_) >= 1


def test_bad_input(problem):
    X, y, _, data = problem
    est = AmortizedScalingLaw(**FAST)
    with pytest.raises(ValueError, match="not fitted"):
        est.predict_params(X, labels=y)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(Xn, data, labels=y)
    with pytest.raises(ValueError, match="row indices"):
        est.fit(X[:10], data, labels=y[:10])
    with pytest.raises(ValueError, match="positive"):
        est.fit(X, data.assign(k=0), labels=y)
    with pytest.raises(ValueError, match="lr"):
        AmortizedScalingLaw(lr=0).fit(X, data, labels=y)
