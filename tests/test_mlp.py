"""Tests of the batched two-layer ReLU MLP learner (scaling_kit.mlp)."""

import numpy as np
import pytest
from sklearn.base import clone

from scaling_kit.mlp import BatchedMLPClassifier, seed_noise

# Batched (torch.baddbmm over B networks) and single-network (torch.nn.Linear) training run the
# same arithmetic with matrix products that reduce in different orders, so on some processors
# (AMD EPYC with OpenBLAS/oneDNN kernels, for one) they round differently in the last bit
# (measured: 2.2e-16 in probabilities after 20 Adam steps). Adam and the ReLU amplify such
# differences only mildly over the short runs below, so the two paths must agree to 1e-12, well
# above float64 rounding (eps = 2.2e-16) and far below any difference a bug would make (1e-3).
# Only reruns of the same call with the same inputs are compared bit for bit.
ROUNDING_ATOL = 1e-12

def blobs(n, p=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2, size=(K, p))
    y = rng.integers(0, K, n)
    return centers[y] + rng.normal(size=(n, p)), y


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(1)
    X, y = blobs(400)
    idx = np.stack([rng.choice(400, 40, replace=False) for _ in range(5)])
    X_eval, _ = blobs(30, seed=2)
    return X[idx], y[idx], X_eval


@pytest.mark.parametrize("batch_size", [None, 16])
def test_batched_path_matches_single_network_path(batch, batch_size):
    Xs, ys, X_eval = batch
    mlp = BatchedMLPClassifier(hidden=8, n_epochs=60, lr=0.02, batch_size=batch_size)
    seeds = [3, 1, 4, 1, 5]
    P = mlp.fit_predict_proba_batch(Xs, ys, X_eval, 3, random_state=seeds)
    assert P.shape == (5, 30, 3)
    for b, s in enumerate(seeds):
        single = mlp.fit_predict_proba(Xs[b], ys[b], X_eval, 3, random_state=s)
        np.testing.assert_allclose(P[b], single, rtol=0, atol=ROUNDING_ATOL)
    # chunking (batches of 2 instead of 5: other matrix kernels) changes only the rounding
    chunked = clone(mlp).set_params(chunk_size=2)
    np.testing.assert_allclose(
        chunked.fit_predict_proba_batch(Xs, ys, X_eval, 3, random_state=seeds), P,
        rtol=0, atol=ROUNDING_ATOL,
    )


def test_seeds_control_initialization_and_runs_are_deterministic(batch):
    Xs, ys, X_eval = batch
    mlp = BatchedMLPClassifier(hidden=8, n_epochs=20)
    same = np.broadcast_to(Xs[0], Xs.shape[:1] + Xs.shape[1:])
    ysame = np.broadcast_to(ys[0], ys.shape)
    P_int = mlp.fit_predict_proba_batch(same, ysame, X_eval, 3, random_state=7)
    # int: one shared initialization, so the 5 networks (one batched call) agree up to rounding
    np.testing.assert_allclose(P_int, np.broadcast_to(P_int[0], P_int.shape), rtol=0,
                               atol=ROUNDING_ATOL)
    P_seq = mlp.fit_predict_proba_batch(same, ysame, X_eval, 3, random_state=range(5))
    assert np.abs(P_seq[0] - P_seq[1]).max() > 1e-4  # different seeds, different networks
    # a rerun of the same call is bitwise identical (same operations in the same order)
    np.testing.assert_array_equal(
        P_seq, mlp.fit_predict_proba_batch(same, ysame, X_eval, 3, random_state=range(5))
    )
    # random_state=None uses the estimator's own (single-network path vs batched: rounding only)
    np.testing.assert_allclose(
        clone(mlp).set_params(random_state=7).fit_predict_proba(Xs[0], ys[0], X_eval, 3), P_int[0],
        rtol=0, atol=ROUNDING_ATOL,
    )


def test_float32_agrees_with_float64(batch):
    Xs, ys, X_eval = batch
    kw = dict(hidden=8, n_epochs=40, lr=0.01)
    P64 = BatchedMLPClassifier(**kw).fit_predict_proba_batch(Xs, ys, X_eval, 3)
    P32 = BatchedMLPClassifier(dtype="float32", **kw).fit_predict_proba_batch(Xs, ys, X_eval, 3)
    np.testing.assert_allclose(P32, P64, atol=1e-4)


def test_weight_decay_shrinks_weights_not_biases():
    # with a huge penalty on the weights the network predicts the training class shares via b2
    X, y = blobs(90, K=3, seed=3)
    mlp = BatchedMLPClassifier(hidden=4, weight_decay=1e5, lr=0.05, n_epochs=1500).fit(X, y)
    shares = np.bincount(y, minlength=3) / len(y)
    np.testing.assert_allclose(mlp.predict_proba(X[:5]), np.tile(shares, (5, 1)), atol=2e-3)
    assert np.abs(mlp.coefs_[1]).max() < 1e-3


def test_sklearn_estimator_api():
    X, y = blobs(200, K=3, seed=4)
    labels = np.array(["a", "b", "c"])[y]
    mlp = BatchedMLPClassifier(hidden=16, n_epochs=150).fit(X[:150], labels[:150])
    assert list(mlp.classes_) == ["a", "b", "c"]
    assert mlp.coefs_[0].shape == (4, 16) and mlp.coefs_[1].shape == (16, 3)
    P = mlp.predict_proba(X[150:])
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P, mlp.fit_predict_proba(X[:150], y[:150], X[150:], 3), atol=1e-12)
    assert mlp.score(X[150:], labels[150:]) > 0.9
    assert mlp.loss_curve_[-1] < 0.5 * mlp.loss_curve_[0]
    assert np.all(np.diff(mlp.loss_curve_[-50:]) < 1e-6)  # still descending at the end


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, X, y: m.fit_predict_proba_batch(X[0], y[0], X[0], 3), "3-D"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y[:, :-1], X[0], 3), "y_trains must have shape"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y + 5, X[0], 3), "labels 0..2"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y, X[0], 1), "n_classes"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y, X[0][:, :2], 3), "columns"),
        (lambda m, X, y: m.fit_predict_proba_batch(np.where(X > 1, np.nan, X), y, X[0], 3), "NaN"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y, X[0], 3, random_state=[1, 2]), "one int per network"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y, X[0], 3, random_state=1.5), "random_state"),
        (lambda m, X, y: m.fit_predict_proba(X[0], y[0], X[0], 3, random_state=-1), "Seeds"),
        (lambda m, X, y: m.set_params(lr=0).fit(X[0], y[0]), "lr"),
        (lambda m, X, y: m.set_params(n_epochs=0).fit(X[0], y[0]), "n_epochs"),
        (lambda m, X, y: m.set_params(weight_decay=-1).fit(X[0], y[0]), "weight_decay"),
        (lambda m, X, y: m.set_params(dtype="float16").fit(X[0], y[0]), "dtype"),
        (lambda m, X, y: m.fit(X[0], np.zeros(len(y[0]))), "two classes"),
        (lambda m, X, y: m.predict_proba(X[0]), "not fitted"),
    ],
)
def test_bad_input_raises(batch, call, message):
    Xs, ys, _ = batch
    with pytest.raises(ValueError, match=message):
        call(BatchedMLPClassifier(hidden=4, n_epochs=2), Xs, ys)


def test_seed_noise_common_random_numbers_reduce_contribution_noise():
    X, y = blobs(81, K=3, seed=5)
    X_test, y_test = blobs(200, K=3, seed=6)
    mlp = BatchedMLPClassifier(hidden=16, n_epochs=100)
    res = seed_noise(mlp, X[:80], y[:80], X[80], y[80], X_test, y_test, 3, seeds=range(12))
    assert res.loss_D.shape == (12,) and res.std_loss > 0
    np.testing.assert_allclose(res.delta_crn, res.loss_D - res.loss_Dz)
    # same seed for D and D+{z}: the shared initialization cancels most optimization noise
    assert res.std_delta_crn < res.std_delta_independent
    assert "Optimization noise" in res.summary()
    with pytest.raises(ValueError, match="two seeds"):
        seed_noise(mlp, X[:80], y[:80], X[80], y[80], X_test, y_test, 3, seeds=[0])
