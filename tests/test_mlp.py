"""Tests of the batched ReLU MLP learner (scaling_kit.mlp, scaling_kit._mlp_train)."""

import copy
import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from scaling_kit import _mlp_train
from scaling_kit._torch import resolve_device, threads_for, torch_threads
from scaling_kit.mlp import BatchedMLPClassifier

# Two implementations of one arithmetic (the fused batched path and torch.nn + torch.optim.Adam
# one network at a time, or the plain OpenDataVal-style loop below) differ only in the order of
# floating-point operations: matrix kernels reduce in different orders, the reference loss goes
# through probabilities. Each step changes the parameters by rounding-level amounts (relative
# 1e-16), which Adam passes on at most one for one (its update divides by sqrt(v) + eps, and
# eps = 1e-8 caps the effect of gradients that are rounding noise around zero at 1e-8 * lr);
# over at most 60 steps of these small networks we measured at most 3e-13 in probabilities on
# Intel and AMD processors. ROUNDING_ATOL = 1e-10 keeps a margin of 300 and stays 1e6 below the
# effect of any change of recipe (one step more, another seed, another loss: >= 1e-4, asserted
# in test_reference_recipe_matches_plain_torch_nn).
ROUNDING_ATOL = 1e-10
# The OpenDataVal-style loop below trains two classes with binary_cross_entropy of the softmax
# *probabilities*: it evaluates log(1 - p) and 1 / (p (1 - p)) from a rounded p, whose relative
# error eps / (1 - p) reaches 1e-10 for training points predicted within 1e-6 of certainty (the
# kit's path works from the logits, exactly). Carried through 25 Adam steps we measured 1e-10
# for two classes (4e-14 for more); 1e-8 keeps a margin of 100, still 1e4 below the effect of a
# change of recipe.
REFERENCE_ATOL = 1e-8


def blobs(n, p=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2, size=(K, p))
    y = rng.integers(0, K, n)
    return centers[y] + rng.normal(size=(n, p)), y


def subsets(n_pool, n, B, p=4, K=3, seed=1):
    """B training sets of n points drawn from one pool, and an evaluation set."""
    X, y = blobs(n_pool, p=p, K=K, seed=seed)
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.choice(n_pool, n, replace=False) for _ in range(B)])
    X_eval, _ = blobs(30, p=p, K=K, seed=seed + 100)
    return X[idx], y[idx], X_eval


# ------------------------------------------------------------------------------------------
# the reference recipe against a plain torch.nn implementation written here
# ------------------------------------------------------------------------------------------
def opendataval_style(X_trains, y_trains, X_eval, K, epochs=25, lr=0.01, seed=0):
    """The reference code's recipe the way it is written there: torch.manual_seed(0), one
    ClassifierMLP-shaped Sequential ending in a Softmax, a deep copy per dataset, Adam, the loss
    on probabilities (binary_cross_entropy for K = 2, cross_entropy of the probabilities for
    more), full-batch epochs (batch size 1280 > n). Built in float32 as torch does, trained in
    float64 like the kit."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        d = X_trains.shape[2]
        base = torch.nn.Sequential(
            torch.nn.Linear(d, 32), torch.nn.ReLU(),
            torch.nn.Linear(32, 32), torch.nn.ReLU(),
            torch.nn.Linear(32, K), torch.nn.Softmax(-1),
        )
    base = base.double()
    out = []
    for X, y in zip(X_trains, y_trains, strict=True):
        model = copy.deepcopy(base)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        Xt = torch.as_tensor(X)
        onehot = torch.nn.functional.one_hot(torch.as_tensor(y), K).double()
        criterion = (torch.nn.functional.binary_cross_entropy if K == 2
                     else torch.nn.functional.cross_entropy)
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = criterion(model(Xt), onehot, reduction="mean")
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            out.append(model(torch.as_tensor(X_eval)).numpy())
    return np.stack(out)


@pytest.mark.parametrize("K", [2, 3, 5])
def test_reference_recipe_matches_plain_torch_nn(K):
    Xs, ys, X_eval = subsets(300, 60, 4, p=5, K=K, seed=K)
    # D (4 draws) and D + {z} for two points z, as the contribution engine fits them
    XDz = np.concatenate([np.broadcast_to(Xs[0], (2,) + Xs[0].shape), Xs[1:3, :1]], axis=1)
    yDz = np.concatenate([np.broadcast_to(ys[0], (2,) + ys[0].shape), ys[1:3, :1]], axis=1)
    reference = BatchedMLPClassifier.reference(device="cpu")
    for X_batch, y_batch in [(Xs, ys), (XDz, yDz)]:
        expected = opendataval_style(X_batch, y_batch, X_eval, K)
        # every call seed is ignored for the initialization (init="shared"): the deep copy
        got = reference.fit_predict_proba_batch(X_batch, y_batch, X_eval, K,
                                                random_state=range(len(X_batch)))
        np.testing.assert_allclose(got, expected, rtol=0, atol=REFERENCE_ATOL)
    one = reference.fit_predict_proba(Xs[0], ys[0], X_eval, K, random_state=12345)
    expected = opendataval_style(Xs[:1], ys[:1], X_eval, K)
    np.testing.assert_allclose(one, expected[0], rtol=0, atol=REFERENCE_ATOL)
    # the comparison can fail: one epoch less, or another initialization, is far outside it
    assert np.abs(opendataval_style(Xs[:1], ys[:1], X_eval, K, epochs=24) - expected[:1]).max() > 1e-4
    other_init = clone(reference).set_params(random_state=1)
    assert np.abs(other_init.fit_predict_proba(Xs[0], ys[0], X_eval, K) - expected[0]).max() > 1e-4


def test_reference_parameters_are_the_reference_codes():
    ref = BatchedMLPClassifier.reference()
    assert (ref.hidden, ref.n_hidden_layers, ref.weight_decay, ref.lr, ref.n_epochs,
            ref.batch_size, ref.training_loss, ref.init, ref.random_state) == (
        32, 2, 0.0, 0.01, 25, 1280, "opendataval", "shared", 0)
    assert BatchedMLPClassifier.reference(dtype="float32").dtype == "float32"


def test_initialization_is_torch_nn_linear_after_manual_seed():
    shapes = _mlp_train.layer_shapes(7, 32, 2, 3)
    params, _ = _mlp_train.linear_init(0, shapes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layers = [torch.nn.Linear(fi, fo, dtype=torch.float32) for fi, fo in shapes]
    for (W, b), layer in zip(params, layers, strict=True):
        # the same generator algorithm, state and calls: a rerun of one computation, so equal
        torch.testing.assert_close(W, layer.weight.detach(), rtol=0, atol=0)
        torch.testing.assert_close(b, layer.bias.detach(), rtol=0, atol=0)
    before = torch.random.get_rng_state()
    _mlp_train.linear_init(5, shapes)
    assert torch.equal(before, torch.random.get_rng_state())  # global state untouched


# ------------------------------------------------------------------------------------------
# fused (batched) path against the autograd path
# ------------------------------------------------------------------------------------------
RECIPES = {
    "default": dict(hidden=8, n_epochs=40, lr=0.02),
    "reference": BatchedMLPClassifier.reference().get_params(),
    "minibatch": dict(hidden=8, n_epochs=15, batch_size=16),
    "softmax_ce, 3 layers": dict(hidden=6, n_hidden_layers=3, training_loss="softmax_ce",
                                 n_epochs=30, weight_decay=0.5),
    "shared, minibatch": dict(hidden=8, n_epochs=10, batch_size=13, init="shared"),
}


@pytest.mark.parametrize("name", list(RECIPES))
def test_fused_path_matches_autograd_path(name):
    Xs, ys, X_eval = subsets(400, 40, 5)
    fused = BatchedMLPClassifier(**{**RECIPES[name], "device": "cpu"})
    seeds = [3, 1, 4, 1, 5]
    P = fused.fit_predict_proba_batch(Xs, ys, X_eval, 3, random_state=seeds)
    assert P.shape == (5, 30, 3)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    slow = clone(fused).set_params(backend="autograd")
    np.testing.assert_allclose(slow.fit_predict_proba_batch(Xs, ys, X_eval, 3, random_state=seeds),
                               P, rtol=0, atol=ROUNDING_ATOL)
    # chunks of 2 networks instead of auto-sized ones: other kernels, same numbers up to rounding
    chunked = clone(fused).set_params(chunk_size=2)
    np.testing.assert_allclose(chunked.fit_predict_proba_batch(Xs, ys, X_eval, 3, random_state=seeds),
                               P, rtol=0, atol=ROUNDING_ATOL)
    # device="auto" is the CPU here, or a GPU: the same arithmetic, other kernels
    auto = clone(fused).set_params(device="auto")
    np.testing.assert_allclose(auto.fit_predict_proba_batch(Xs, ys, X_eval, 3, random_state=seeds),
                               P, rtol=0, atol=ROUNDING_ATOL)


@pytest.mark.parametrize("name", list(RECIPES))
def test_fused_path_on_d_plus_z_batches_matches_autograd_path(name):
    # the contribution engine's batches: one D (rows shared by every network) plus one point z
    # each; full-batch recipes take the shared-rows path (one large product for the D rows)
    Xs, ys, X_eval = subsets(400, 41, 6)
    XDz = np.concatenate([np.broadcast_to(Xs[0, :40], (6, 40, 4)), Xs[:, 40:]], axis=1)
    yDz = np.concatenate([np.broadcast_to(ys[0, :40], (6, 40)), ys[:, 40:]], axis=1)
    fused = BatchedMLPClassifier(**{**RECIPES[name], "device": "cpu"})
    P = fused.fit_predict_proba_batch(XDz, yDz, X_eval, 3, random_state=11)
    slow = clone(fused).set_params(backend="autograd")
    np.testing.assert_allclose(slow.fit_predict_proba_batch(XDz, yDz, X_eval, 3, random_state=11),
                               P, rtol=0, atol=ROUNDING_ATOL)
    one_chunk_each = clone(fused).set_params(chunk_size=1)
    np.testing.assert_allclose(one_chunk_each.fit_predict_proba_batch(XDz, yDz, X_eval, 3,
                                                                      random_state=11),
                               P, rtol=0, atol=ROUNDING_ATOL)


@pytest.mark.parametrize("shared", [0, 15])
def test_hand_written_gradient_equals_autograd(shared):
    rng = np.random.default_rng(0)
    B, m, p, K = 3, 17, 5, 4
    shapes = _mlp_train.layer_shapes(p, 6, 2, K)
    layout = _mlp_train.FlatParameters(shapes, B, torch.float64, torch.device("cpu"))
    theta = torch.tensor(rng.normal(size=layout.size))
    X = torch.tensor(rng.normal(size=(B, m, p)))
    X[:, :shared] = X[0, :shared]  # rows common to every network take the one-product path
    Y = torch.nn.functional.one_hot(torch.tensor(rng.integers(0, K, (B, m))), K).double()
    Y = Y.transpose(1, 2).contiguous()
    for loss in ["log_loss", "softmax_ce"]:
        grad = layout.zeros()
        params = layout.views(theta)
        activations, logits = _mlp_train.forward(params, X, shared)
        G = _mlp_train.logits_gradient(logits, Y, loss)
        _mlp_train.backward(params, layout.views(grad), X, activations, G, 0.7, shared)

        t = theta.clone().requires_grad_()
        tparams = layout.views(t)
        _, tlogits = _mlp_train.forward(tparams, X)
        value = _mlp_train.training_loss_value(tlogits, Y, loss)
        penalty = sum(torch.sum(W * W, dim=(1, 2)) for W, _ in tparams)
        (value + 0.5 * 0.7 * penalty / m).sum().backward()
        # same derivatives, different operation order: relative rounding error only
        torch.testing.assert_close(grad, t.grad, rtol=1e-12, atol=1e-14)


def test_opendataval_loss_is_log_loss_for_two_classes_and_softmax_ce_for_more():
    for K, same_as in [(2, "log_loss"), (3, "softmax_ce")]:
        Xs, ys, X_eval = subsets(200, 30, 2, K=K, seed=K)
        kw = dict(hidden=8, n_epochs=20, device="cpu")
        odv = BatchedMLPClassifier(training_loss="opendataval", **kw)
        P = odv.fit_predict_proba_batch(Xs, ys, X_eval, K)
        expected = BatchedMLPClassifier(training_loss=same_as, **kw)
        np.testing.assert_allclose(P, expected.fit_predict_proba_batch(Xs, ys, X_eval, K),
                                   rtol=0, atol=ROUNDING_ATOL)
        other = "softmax_ce" if same_as == "log_loss" else "log_loss"
        different = BatchedMLPClassifier(training_loss=other, **kw)
        assert np.abs(different.fit_predict_proba_batch(Xs, ys, X_eval, K) - P).max() > 1e-4


def test_batch_size_at_least_n_is_full_batch():
    Xs, ys, X_eval = subsets(200, 30, 3)
    full = BatchedMLPClassifier(hidden=8, n_epochs=20, device="cpu")
    P = full.fit_predict_proba_batch(Xs, ys, X_eval, 3)
    for batch_size in [30, 1280]:
        big = clone(full).set_params(batch_size=batch_size)
        np.testing.assert_allclose(big.fit_predict_proba_batch(Xs, ys, X_eval, 3), P,
                                   rtol=0, atol=ROUNDING_ATOL)


# ------------------------------------------------------------------------------------------
# seeds
# ------------------------------------------------------------------------------------------
def test_seeds_control_initialization_and_runs_are_deterministic():
    Xs, ys, X_eval = subsets(400, 40, 5)
    mlp = BatchedMLPClassifier(hidden=8, n_epochs=20, device="cpu")
    same, ysame = np.broadcast_to(Xs[0], Xs.shape), np.broadcast_to(ys[0], ys.shape)
    P_int = mlp.fit_predict_proba_batch(same, ysame, X_eval, 3, random_state=7)
    # an int: one shared initialization, so the 5 networks (one batched call) agree
    np.testing.assert_allclose(P_int, np.broadcast_to(P_int[0], P_int.shape), rtol=0,
                               atol=ROUNDING_ATOL)
    P_seq = mlp.fit_predict_proba_batch(same, ysame, X_eval, 3, random_state=range(5))
    assert np.abs(P_seq[0] - P_seq[1]).max() > 1e-4  # different seeds, different networks
    # a rerun of the same call is bitwise identical (same operations in the same order)
    np.testing.assert_array_equal(
        P_seq, mlp.fit_predict_proba_batch(same, ysame, X_eval, 3, random_state=range(5)))
    # random_state=None uses the estimator's own
    np.testing.assert_allclose(
        clone(mlp).set_params(random_state=7).fit_predict_proba(Xs[0], ys[0], X_eval, 3),
        P_int[0], rtol=0, atol=ROUNDING_ATOL)
    # a SeedSequence or a Generator is one seed for the whole call
    for rs in [np.random.SeedSequence(3), np.random.default_rng(3)]:
        P = mlp.fit_predict_proba_batch(same, ysame, X_eval, 3, random_state=rs)
        np.testing.assert_allclose(P, np.broadcast_to(P[0], P.shape), rtol=0, atol=ROUNDING_ATOL)


def test_shared_init_ignores_call_seeds_for_the_initialization():
    Xs, ys, X_eval = subsets(400, 40, 4)
    same, ysame = np.broadcast_to(Xs[0], Xs.shape), np.broadcast_to(ys[0], ys.shape)
    shared = BatchedMLPClassifier(hidden=8, n_epochs=20, init="shared", random_state=3,
                                  device="cpu")
    P = shared.fit_predict_proba_batch(same, ysame, X_eval, 3, random_state=[9, 8, 7, 6])
    np.testing.assert_allclose(P, np.broadcast_to(P[0], P.shape), rtol=0, atol=ROUNDING_ATOL)
    per_call = clone(shared).set_params(init="per_call")
    np.testing.assert_allclose(per_call.fit_predict_proba(Xs[0], ys[0], X_eval, 3, random_state=3),
                               P[0], rtol=0, atol=ROUNDING_ATOL)


# ------------------------------------------------------------------------------------------
# scikit-learn API, precision, failure modes
# ------------------------------------------------------------------------------------------
def test_float32_agrees_with_float64():
    Xs, ys, X_eval = subsets(400, 40, 5)
    kw = dict(hidden=8, n_epochs=40, lr=0.01, device="cpu")
    P64 = BatchedMLPClassifier(**kw).fit_predict_proba_batch(Xs, ys, X_eval, 3)
    P32 = BatchedMLPClassifier(dtype="float32", **kw).fit_predict_proba_batch(Xs, ys, X_eval, 3)
    # float32 rounding (6e-8) grown over 40 Adam steps
    np.testing.assert_allclose(P32, P64, atol=1e-4)


def test_weight_decay_shrinks_weights_not_biases():
    # with a huge penalty on the weights the network predicts the training class shares via b
    X, y = blobs(90, K=3, seed=3)
    mlp = BatchedMLPClassifier(hidden=4, weight_decay=1e5, lr=0.05, n_epochs=1500).fit(X, y)
    shares = np.bincount(y, minlength=3) / len(y)
    np.testing.assert_allclose(mlp.predict_proba(X[:5]), np.tile(shares, (5, 1)), atol=2e-3)
    assert np.abs(mlp.coefs_[-1]).max() < 1e-3


@pytest.mark.parametrize("n_hidden_layers", [1, 2])
def test_sklearn_estimator_api(n_hidden_layers):
    X, y = blobs(200, K=3, seed=4)
    labels = np.array(["a", "b", "c"])[y]
    mlp = BatchedMLPClassifier(hidden=16, n_hidden_layers=n_hidden_layers, n_epochs=150,
                               device="cpu")
    with pytest.raises(NotFittedError):
        mlp.predict_proba(X)
    assert mlp.fit(X[:150], labels[:150]) is mlp
    assert list(mlp.classes_) == ["a", "b", "c"]
    assert [W.shape for W in mlp.coefs_] == [(4, 16)] + [(16, 16)] * (n_hidden_layers - 1) + [(16, 3)]
    assert mlp.n_iter_ == 150 == len(mlp.loss_curve_)
    P = mlp.predict_proba(X[150:])
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    # fit (autograd, numpy prediction) and the fused learner protocol agree up to rounding
    np.testing.assert_allclose(P, mlp.fit_predict_proba(X[:150], y[:150], X[150:], 3),
                               rtol=0, atol=ROUNDING_ATOL)
    assert mlp.score(X[150:], labels[150:]) > 0.9
    assert mlp.loss_curve_[-1] < 0.5 * mlp.loss_curve_[0]
    assert clone(mlp).get_params() == mlp.get_params()
    with pytest.raises(TypeError):
        BatchedMLPClassifier(32)  # keyword-only


def test_divergence_is_an_error_not_a_silent_nan():
    X, y = blobs(40, K=2, seed=5)
    mlp = BatchedMLPClassifier(hidden=4, n_epochs=3, lr=1e300, device="cpu")
    with pytest.raises(ValueError, match="diverged"):
        mlp.fit_predict_proba(X * 1e300, y, X, 2)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m, X, y: m.fit_predict_proba_batch(X[0], y[0], X[0], 3), ValueError, "X_trains"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y[:, :-1], X[0], 3), ValueError, "y_trains"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y + 5, X[0], 3), ValueError, "y_trains"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y * 0.5, X[0], 3), ValueError, "y_trains"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y, X[0], 1), ValueError, "n_classes"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y, X[0], 3.0), TypeError, "n_classes"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y, X[0][:, :2], 3), ValueError, "X_eval"),
        (lambda m, X, y: m.fit_predict_proba_batch(np.where(X > 1, np.nan, X), y, X[0], 3),
         ValueError, "X_trains"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y, X[0], 3, random_state=[1, 2]),
         ValueError, "random_state"),
        (lambda m, X, y: m.fit_predict_proba_batch(X, y, X[0], 3, random_state=1.5),
         TypeError, "random_state"),
        (lambda m, X, y: m.fit_predict_proba(X[0], y[0], X[0], 3, random_state=-1),
         ValueError, "random_state"),
        (lambda m, X, y: m.fit_predict_proba(X[0], y[0], X[0], 3, random_state=True),
         TypeError, "random_state"),
        (lambda m, X, y: m.set_params(lr=0).fit(X[0], y[0]), ValueError, "lr"),
        (lambda m, X, y: m.set_params(n_epochs=0).fit(X[0], y[0]), ValueError, "n_epochs"),
        (lambda m, X, y: m.set_params(n_epochs=2.0).fit(X[0], y[0]), TypeError, "n_epochs"),
        (lambda m, X, y: m.set_params(n_hidden_layers=0).fit(X[0], y[0]), ValueError,
         "n_hidden_layers"),
        (lambda m, X, y: m.set_params(weight_decay=-1).fit(X[0], y[0]), ValueError,
         "weight_decay"),
        (lambda m, X, y: m.set_params(dtype="float16").fit(X[0], y[0]), ValueError, "dtype"),
        (lambda m, X, y: m.set_params(training_loss="mse").fit(X[0], y[0]), ValueError,
         "training_loss"),
        (lambda m, X, y: m.set_params(init="random").fit(X[0], y[0]), ValueError, "init"),
        (lambda m, X, y: m.set_params(backend="jax").fit(X[0], y[0]), ValueError, "backend"),
        (lambda m, X, y: m.set_params(chunk_size=0).fit_predict_proba_batch(X, y, X[0], 3),
         ValueError, "chunk_size"),
        (lambda m, X, y: m.set_params(device="tpu").fit(X[0], y[0]), ValueError, "device"),
        (lambda m, X, y: m.fit_predict_proba(X[0], y[0][:-1], X[0], 3), ValueError, "y_train"),
        (lambda m, X, y: m.fit_predict_proba(X[0], y[0] + 3, X[0], 3), ValueError, "y_train"),
        (lambda m, X, y: m.fit_predict_proba(X[0][:, :1].T, y[0], X[0], 3), ValueError,
         "y_train"),
        (lambda m, X, y: m.fit(X[0], np.zeros(len(y[0]))), ValueError, "two classes"),
        (lambda m, X, y: m.fit(X[0], y[0][:-1]), ValueError, "y must have shape"),
    ],
)
def test_bad_input_raises(call, error, message):
    Xs, ys, _ = subsets(100, 20, 3)
    with pytest.raises(error, match=message):
        call(BatchedMLPClassifier(hidden=4, n_epochs=2, device="cpu"), Xs, ys)


# ------------------------------------------------------------------------------------------
# torch helpers
# ------------------------------------------------------------------------------------------
def test_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("restored even on errors")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
    assert threads_for(10) == 1 and threads_for(1 << 21) is None


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(torch.device("cpu")).type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            resolve_device("cuda")
    with pytest.raises(TypeError, match="device"):
        resolve_device(0)


def test_flops_per_step_counts_the_matrix_products():
    shapes = _mlp_train.layer_shapes(10, 32, 2, 3)
    forward = 2 * 50 * (10 * 32 + 32 * 32 + 32 * 3)
    # backward: every weight gradient, and input gradients of all but the first layer
    backward = 2 * 50 * (10 * 32 + 32 * 32 + 32 * 3) + 2 * 50 * (32 * 32 + 32 * 3)
    assert _mlp_train.flops_per_step(50, shapes) == forward + backward
    assert math.isclose(_mlp_train.flops_per_step(100, shapes),
                        2 * _mlp_train.flops_per_step(50, shapes))
