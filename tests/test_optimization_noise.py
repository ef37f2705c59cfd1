"""Tests of the optimization-noise measurements (scaling_kit.optimization_noise)."""

import numpy as np
import pytest

from scaling_kit.datasets import load_dataset
from scaling_kit.metrics import losses_from_proba
from scaling_kit.mlp import BatchedMLPClassifier
from scaling_kit.optimization_noise import InitNoiseResult, init_noise, seed_noise
from scaling_kit.results import Summary

# the batched and the single-network fits of one recipe differ by rounding only (see
# tests/test_mlp.py for the derivation of this bound)
ROUNDING_ATOL = 1e-10


def blobs(n, p=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2, size=(K, p))
    y = rng.integers(0, K, n)
    return centers[y] + rng.normal(size=(n, p)), y


def test_seed_noise_common_random_numbers_reduce_contribution_noise():
    X, y = blobs(81, K=3, seed=5)
    X_test, y_test = blobs(200, K=3, seed=6)
    mlp = BatchedMLPClassifier(hidden=16, n_epochs=100, device="cpu")
    res = seed_noise(mlp, X[:80], y[:80], X[80], y[80], X_test, y_test, 3, seeds=range(12))
    assert res.loss_D.shape == (12,) and res.std_loss > 0
    # the losses are those of single fits with each seed
    P = mlp.fit_predict_proba(X[:80], y[:80], X_test, 3, random_state=4)
    assert res.loss_D[4] == pytest.approx(losses_from_proba(P, y_test, "log_loss")["log_loss"],
                                          abs=ROUNDING_ATOL)
    np.testing.assert_allclose(res.delta_crn, res.loss_D - res.loss_Dz)
    np.testing.assert_allclose(res.delta_independent, res.loss_D - np.roll(res.loss_Dz, -1))
    # same seed for D and D+{z}: the shared initialization cancels most optimization noise
    assert res.std_delta_crn < res.std_delta_independent
    summary = res.summary()
    assert isinstance(summary, Summary) and "Optimization noise" in str(summary)
    # a shared-initialization learner is measured with one initialization per seed
    shared = seed_noise(BatchedMLPClassifier(hidden=16, n_epochs=100, init="shared", device="cpu"),
                        X[:80], y[:80], X[80], y[80], X_test, y_test, 3, seeds=range(12))
    np.testing.assert_allclose(shared.delta_crn, res.delta_crn, rtol=0, atol=ROUNDING_ATOL)
    brier = seed_noise(mlp, X[:80], y[:80], X[80], y[80], X_test, y_test, 3, seeds=range(12),
                       metric="brier")
    assert brier.metric == "brier" and not np.allclose(brier.loss_D, res.loss_D)


@pytest.mark.parametrize("seeds, error", [([0], ValueError), ([1, 1], ValueError),
                                          ([0, -1], ValueError), ([0, 1.5], TypeError)])
def test_seed_noise_bad_seeds(seeds, error):
    X, y = blobs(30, seed=1)
    with pytest.raises(error, match="seeds"):
        seed_noise(BatchedMLPClassifier(hidden=4, n_epochs=2), X[:20], y[:20], X[20], y[20],
                   X[21:], y[21:], 3, seeds=seeds)


def test_variance_components_recover_a_simulated_two_way_design():
    # Delta[d, s] = a_d + b_s + e_ds with known variances: the estimators of the module
    # docstring are unbiased; with 300 x 300 cells their relative standard errors are a few %
    rng = np.random.default_rng(0)
    n_d, n_s = 300, 300
    var_a, var_b, var_e = 4.0, 1.0, 0.25
    deltas = (rng.normal(0, np.sqrt(var_a), (n_d, 1)) + rng.normal(0, np.sqrt(var_b), (1, n_s))
              + rng.normal(0, np.sqrt(var_e), (n_d, n_s)))
    res = InitNoiseResult(point=0, k=10, seeds=np.arange(n_s), deltas=deltas,
                          deltas_independent=deltas, datasets=np.zeros((n_d, 10), int))
    assert res.var_data == pytest.approx(var_a + var_e, rel=0.25)
    assert res.var_optimization == pytest.approx(var_b + var_e, rel=0.25)
    assert res.var_seed_effect == pytest.approx(var_b, rel=0.3)
    assert res.var_total == pytest.approx(var_a + var_b + var_e, rel=0.25)
    table = res.std_of_mean([100, 10_000])
    assert table.loc[10_000, "shared_seed"] == pytest.approx(np.sqrt(res.var_data / 1e4
                                                                     + res.var_seed_effect))
    assert table.loc[100, "per_dataset_seed"] == pytest.approx(np.sqrt(res.var_total / 100))
    assert isinstance(res.summary(), Summary)


def test_init_noise_entries_are_the_contributions_of_single_fits():
    ds = load_dataset("breast_cancer", random_state=0)
    mlp = BatchedMLPClassifier(hidden=8, n_epochs=10, device="cpu")
    res = init_noise(mlp, ds, 3, 40, n_datasets=3, n_seeds=4, random_state=0)
    assert res.deltas.shape == (3, 4) and res.datasets.shape == (3, 40)
    assert len(np.unique(res.seeds)) == 4
    assert not np.isin(3, res.datasets)  # z excluded from D unless allow_z_in_D
    d, s = 2, 1
    D = res.datasets[d]
    X_Dz = np.vstack([ds.X_pool[D], ds.X_pool[3]])
    y_Dz = np.append(ds.y_pool[D], ds.y_pool[3])
    loss = [losses_from_proba(mlp.fit_predict_proba(X, y, ds.X_test, 2,
                                                    random_state=int(res.seeds[s])),
                              ds.y_test, "log_loss")["log_loss"]
            for X, y in [(ds.X_pool[D], ds.y_pool[D]), (X_Dz, y_Dz)]]
    assert res.deltas[d, s] == pytest.approx(loss[0] - loss[1], abs=ROUNDING_ATOL)
    again = init_noise(mlp, ds, 3, 40, n_datasets=3, n_seeds=4, random_state=0)
    np.testing.assert_array_equal(again.deltas, res.deltas)  # a rerun of the same call
    with pytest.raises(ValueError, match="n_seeds"):
        init_noise(mlp, ds, 3, 40, n_seeds=1)
    with pytest.raises(ValueError, match="point"):
        init_noise(mlp, ds, 10_000, 40)
