"""A small ReLU MLP classifier, trained one network at a time or many networks at once.

Covert et al. (ICML 2024, Section 4.1 and Appendix C.1) use MLPs of width 32 trained with Adam
as their second model class. Measuring marginal contributions (docs/math.md §3) needs two fits
per sampled dataset (D and D + {z}) and thousands of datasets, so this module trains many small
networks at once. Two recipes are provided:

* the kit's default, ``BatchedMLPClassifier()``: one hidden layer of 32, weight decay 1
  (scikit-learn's ``alpha`` convention), 200 full-batch Adam steps at learning rate 0.01, the
  true log loss as training loss, one initialization per call (per sampled dataset);
* the paper's public code (github.com/iancovert/data-scaling, ``experiments/utils.py``, model
  ``"mlp"``, trained by OpenDataVal's ``ClassifierMLP`` and ``TorchClassMixin.fit``),
  :meth:`BatchedMLPClassifier.reference`: two hidden layers of 32, no weight decay, 25 epochs of
  Adam at learning rate 0.01 with batch size 1280 (one full-batch step per epoch for datasets
  of at most 1280 points), the loss applied to the softmax *outputs* (binary cross-entropy of
  the probabilities for two classes, which equals the log loss; the cross-entropy of the
  probabilities, a second softmax, for more), and one initialization, drawn after
  ``torch.manual_seed(0)``, shared by every fit.

Model and objective
-------------------
``L = n_hidden_layers`` hidden ReLU layers of width ``hidden``: ``H_0 = x``,
``H_l = relu(W_l H_{l-1} + b_l)``, logits ``W_o H_L + b_o``, probabilities their softmax. For a
dataset (or minibatch) of ``m`` points the objective is::

    J = (1/m) * [ sum_i loss(y_i, p_i) + (weight_decay / 2) * sum_l ||W_l||^2 ]

(biases unpenalized; scikit-learn's ``MLPClassifier`` objective with ``alpha = weight_decay``
when ``loss`` is the log loss). ``training_loss``: ``"log_loss"`` (``-log p_y``),
``"softmax_ce"`` (``-log softmax(p)_y``, cross-entropy of the probabilities) or
``"opendataval"`` (the reference code: log loss for two classes, softmax_ce for more).

Optimizer and budget
--------------------
``n_epochs`` passes of Adam (torch's arithmetic: betas (0.9, 0.999), eps 1e-8, learning rate
``lr``), minibatches of ``batch_size`` points in a fresh random order each epoch, or full batch
(``batch_size=None``, or at least the dataset size: one step per epoch, no shuffling needed). No
early stopping: a fit is a deterministic function of (data, seed).

Initialization and seeds
------------------------
A network with seed ``s`` starts from the weights ``torch.nn.Linear`` draws after
``torch.manual_seed(s)`` (layers in order, weight then bias; float32 draws converted to the
training dtype), from a private generator (torch's global random state is untouched), so seed 0
gives the reference code's initial network. Minibatch orders come from the same generator,
continuing after the initialization (``init="per_call"``) or from a generator seeded with the
call's seed (``init="shared"``). ``random_state`` of a call:

* an int, a ``numpy.random.SeedSequence`` or a ``Generator`` (one int drawn from it): one seed
  for every network of the call, so a D batch and a D + {z} batch called with the same seed
  share initializations (common random numbers);
* a sequence of ints, one per network of a batch call (e.g. refitting one D with many seeds,
  :func:`scaling_kit.optimization_noise.seed_noise`);
* ``None``: the estimator's ``random_state`` (``None`` there: fresh entropy).

``init="shared"`` (the reference recipe) starts *every* fit from the initialization of the
estimator's own ``random_state``, whatever seed the call passes: the reference code's
``copy.deepcopy`` of one network, the same initial weights for every D and D + {z}.

Two implementations, one result
-------------------------------
``backend="fused"`` (default, :mod:`scaling_kit._mlp_train`) trains B networks at once with
batched matrix products, a hand-written backward pass and one Adam update of all parameters of
all networks; ``backend="autograd"`` is the reference implementation: a ``torch.nn.Sequential``
and ``torch.optim.Adam``, one network at a time (tests and ``benchmarks/mlp.py`` show the two
agree up to rounding and time them). When the leading rows of every network's data are the
same (a contribution batch: one D, one point z added to it in each network), the first layer's
products over those rows run as one large matrix product for all networks, two to three times
the rate of many small ones. Each network's arithmetic is its own, so results do not depend on
how the networks are chunked beyond floating-point rounding. ``device="auto"`` trains
on the GPU when torch sees one. A fused fit whose probabilities are not finite is refitted by
the autograd path; if that fails too, ``ValueError`` names the remedy.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from . import _mlp_train
from ._checks import check_array, check_int, check_labels, check_number, seed_sequence
from ._torch import resolve_device, torch_threads

__all__ = ["BatchedMLPClassifier"]

DTYPES = {"float64": torch.float64, "float32": torch.float32}
TRAINING_LOSSES = ("log_loss", "softmax_ce", "opendataval")
INITS = ("per_call", "shared")
BACKENDS = ("fused", "autograd")
_SEED_HIGH = 2**63 - 1
# chunk_size="auto": networks per chunk such that one hidden activation (chunk x n x hidden)
# holds about this many bytes (CPU: cache-sized; GPU: large enough to fill the device)
_CHUNK_BYTES = {"cpu": 1 << 19, "cpu, shared rows": 1 << 21, "cuda": 1 << 28}


def _int_seed(random_state, name="random_state") -> int:
    """One torch seed from an int, None, a SeedSequence or a Generator."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, (bool, np.bool_)):
        return check_int(random_state, name, low=0, high=_SEED_HIGH)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, _SEED_HIGH))
    state = seed_sequence(random_state, name).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def network_seeds(random_state, n_networks: int, default) -> np.ndarray:
    """One seed per network of a call (module docstring); ``default``: the estimator's."""
    if random_state is None:
        random_state = default
    if isinstance(random_state, (Sequence, np.ndarray)) and not isinstance(random_state, str):
        seeds = np.asarray(random_state)
        if seeds.ndim != 1 or seeds.shape[0] != n_networks:
            raise ValueError(
                f"random_state as a sequence must hold one int per network ({n_networks}); "
                f"got shape {seeds.shape}. Pass one int to share one seed."
            )
        return np.array([check_int(s, "random_state[i]", low=0, high=_SEED_HIGH)
                         for s in seeds.tolist()], dtype=np.int64)
    return np.full(n_networks, _int_seed(random_state), dtype=np.int64)


def _shared_prefix(X) -> int:
    """Number of leading rows that are the same in every network's data X (B, n, p)."""
    if X.shape[0] < 2:
        return 0
    differs = np.flatnonzero(~np.all(X == X[:1], axis=(0, 2)))
    return int(differs[0]) if differs.size else X.shape[1]


class BatchedMLPClassifier(ClassifierMixin, BaseEstimator):
    """ReLU MLP classifier trained by Adam for a fixed budget, many networks at once.

    The model class of Covert et al. (ICML 2024), Section 4.1 / Appendix C.1; model, objective,
    budget, initialization and seeds are specified in the :mod:`scaling_kit.mlp` docstring.
    :meth:`reference` returns the recipe of the paper's public code.

    Parameters
    ----------
    hidden : width of the hidden layers (paper: 32).
    n_hidden_layers : number of hidden layers (kit default 1; reference code 2).
    weight_decay : L2 coefficient on the weights, scikit-learn's ``alpha`` convention (penalty
        ``weight_decay / 2 * ||W||^2`` added to the *summed* loss; reference code 0).
    lr : Adam learning rate (0.01 in both recipes).
    n_epochs : passes over the data (full batch: Adam steps; kit 200, reference code 25).
    batch_size : minibatch size, or ``None`` for full batch (reference code 1280).
    training_loss : ``"log_loss"``, ``"softmax_ce"`` or ``"opendataval"`` (module docstring).
    init : ``"per_call"`` (the seed of each call) or ``"shared"`` (the estimator's seed for
        every fit, the reference code's choice).
    backend : ``"fused"`` (fast, many networks at once) or ``"autograd"`` (``torch.nn`` and
        ``torch.optim.Adam``, one network at a time: the reference implementation).
    dtype : ``"float64"`` (default: the loss differences of large datasets are far above
        rounding) or ``"float32"``.
    device : ``"auto"`` (CUDA when torch sees a GPU, else CPU), ``"cpu"``, ``"cuda[:N]"``.
    chunk_size : networks trained together, or ``"auto"`` (cache-sized on the CPU); results do
        not depend on it beyond rounding.
    n_threads : torch intra-op threads while training (``None``: torch's setting). Default 1:
        these networks are too small to gain from threads; parallelize over datasets instead.
    random_state : seed of the initialization (see the module docstring).

    Attributes (after ``fit``)
    --------------------------
    classes_, coefs_ (weights, ``(fan_in, fan_out)`` each, as scikit-learn), intercepts_,
    loss_curve_ (objective at each step, before its update), n_iter_ (Adam steps),
    n_features_in_.

    Learner protocol (used by :mod:`scaling_kit.contributions`)
    ----------------------------------------------------------
    ``fit_predict_proba(X, y, X_eval, n_classes, random_state=None) -> (n_eval, n_classes)`` and
    ``fit_predict_proba_batch(Xs (B, n, p), ys (B, n), X_eval, n_classes, random_state=None)
    -> (B, n_eval, n_classes)``; labels are integers ``0..n_classes-1``.
    """

    def __init__(self, *, hidden=32, n_hidden_layers=1, weight_decay=1.0, lr=0.01, n_epochs=200,
                 batch_size=None, training_loss="log_loss", init="per_call", backend="fused",
                 dtype="float64", device="auto", chunk_size="auto", n_threads=1,
                 random_state=0):
        self.hidden = hidden
        self.n_hidden_layers = n_hidden_layers
        self.weight_decay = weight_decay
        self.lr = lr
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.training_loss = training_loss
        self.init = init
        self.backend = backend
        self.dtype = dtype
        self.device = device
        self.chunk_size = chunk_size
        self.n_threads = n_threads
        self.random_state = random_state

    @classmethod
    def reference(cls, **overrides):
        """The MLP recipe of the paper's public code (module docstring), as an estimator.

        github.com/iancovert/data-scaling ``experiments/utils.py`` (model ``"mlp"``):
        ``torch.manual_seed(0)`` then ``ClassifierMLP(hidden_dim=32, layers=3)`` (two hidden
        layers), trained with ``epochs=25, batch_size=1280`` by OpenDataVal's
        ``TorchClassMixin.fit`` (Adam, default learning rate 0.01, no weight decay, loss on the
        softmax outputs); every fit starts from a deep copy of the one initialized network.
        Keyword arguments override settings (e.g. ``dtype``, ``device``).
        """
        params = dict(hidden=32, n_hidden_layers=2, weight_decay=0.0, lr=0.01, n_epochs=25,
                      batch_size=1280, training_loss="opendataval", init="shared",
                      random_state=0)
        params.update(overrides)
        return cls(**params)

    # --- validation -------------------------------------------------------------------------
    def _recipe(self, n_classes):
        check_int(self.hidden, "hidden", low=1)
        check_int(self.n_hidden_layers, "n_hidden_layers", low=1)
        check_int(self.n_epochs, "n_epochs", low=1)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", low=1)
        if self.n_threads is not None:
            check_int(self.n_threads, "n_threads", low=1)
        if not (isinstance(self.chunk_size, str) and self.chunk_size == "auto"):
            check_int(self.chunk_size, "chunk_size", low=1)
        check_number(self.lr, "lr", low=0, low_open=True)
        check_number(self.weight_decay, "weight_decay", low=0)
        for name, allowed in [("training_loss", TRAINING_LOSSES), ("init", INITS),
                              ("backend", BACKENDS), ("dtype", tuple(DTYPES))]:
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {getattr(self, name)!r}.")
        loss = self.training_loss
        if loss == "opendataval":
            loss = "log_loss" if n_classes == 2 else "softmax_ce"

        return SimpleNamespace(  # the numbers _mlp_train needs
            n_epochs=int(self.n_epochs), batch_size=self.batch_size, lr=float(self.lr),
            weight_decay=float(self.weight_decay), training_loss=loss, n_classes=int(n_classes))

    def _shapes(self, n_features, n_classes):
        return _mlp_train.layer_shapes(n_features, int(self.hidden), int(self.n_hidden_layers),
                                       n_classes)

    @staticmethod
    def _labels(y, n_classes, name):
        y = np.asarray(y)
        flat = check_labels(y.reshape(-1), name)
        if flat.size and flat.max() >= n_classes:
            raise ValueError(
                f"{name} must hold integer labels 0..{n_classes - 1}; found labels up to "
                f"{flat.max()}. Encode classes as indices first, or pass the right n_classes."
            )
        return flat.reshape(y.shape)

    def _seeds(self, random_state, n_networks):
        """(initialization seeds, shuffling seeds), one each per network."""
        call = network_seeds(random_state, n_networks, self.random_state)
        if self.init == "shared":
            return np.full(n_networks, _int_seed(self.random_state)), call
        return call, call

    def _chunk(self, n_rows, device, shared=False):
        if self.chunk_size != "auto":
            return int(self.chunk_size)
        itemsize = torch.finfo(DTYPES[self.dtype]).bits // 8
        kind = "cuda" if device.type == "cuda" else ("cpu, shared rows" if shared else "cpu")
        target = _CHUNK_BYTES[kind]
        return int(np.clip(target // (n_rows * int(self.hidden) * itemsize), 1, 1 << 16))

    # --- the learner protocol ---------------------------------------------------------------
    def fit_predict_proba(self, X_train, y_train, X_eval, n_classes, random_state=None):
        """Fit one network on (X_train, y_train); class probabilities (n_eval, n_classes)."""
        n_classes = check_int(n_classes, "n_classes", low=2)
        X = check_array(X_train, "X_train")
        y = self._labels(y_train, n_classes, "y_train")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y_train must have shape ({X.shape[0]},); got {y.shape}.")
        return self.fit_predict_proba_batch(
            X[None], y[None], X_eval, n_classes,
            random_state=[network_seeds(random_state, 1, self.random_state)[0]],
        )[0]

    def fit_predict_proba_batch(self, X_trains, y_trains, X_eval, n_classes, random_state=None):
        """Train B independent networks on ``X_trains[b], y_trains[b]``; probabilities
        (B, n_eval, n_classes) on the shared ``X_eval``. ``random_state``: module docstring."""
        n_classes = check_int(n_classes, "n_classes", low=2)
        recipe = self._recipe(n_classes)
        X = check_array(X_trains, "X_trains", ndim=3)
        B, n, p = X.shape
        y = self._labels(y_trains, n_classes, "y_trains")
        if y.shape != (B, n):
            raise ValueError(f"y_trains must have shape ({B}, {n}); got {y.shape}.")
        X_eval = check_array(X_eval, "X_eval")
        if X_eval.shape[1] != p:
            raise ValueError(f"X_eval must have {p} columns like X_trains; got {X_eval.shape[1]}.")
        init_seeds, shuffle_seeds = self._seeds(random_state, B)
        device = resolve_device(self.device)
        dtype = DTYPES[self.dtype]
        shapes = self._shapes(p, n_classes)
        out = np.empty((B, X_eval.shape[0], n_classes))
        with torch_threads(self.n_threads):
            if self.backend == "autograd":
                for b in range(B):
                    out[b] = self._autograd_fit(X[b], y[b], X_eval, recipe, shapes,
                                                init_seeds[b], shuffle_seeds[b], device)[0]
                return out
            # rows common to every network (the D of a D + {z} batch) take a faster path
            full_batch = recipe.batch_size is None or recipe.batch_size >= n
            shared = _shared_prefix(X) if full_batch else 0
            shared = shared if 2 * shared >= n else 0
            chunk = self._chunk(n, device, shared=bool(shared))
            inits = {}  # initial weights per distinct seed, drawn once per call
            for start in range(0, B, chunk):
                rows = slice(start, min(start + chunk, B))
                P = self._fused_fit(X[rows], y[rows], X_eval, recipe, shapes, init_seeds[rows],
                                    shuffle_seeds[rows], device, dtype, shared, inits)
                out[rows] = P
                for b in np.flatnonzero(~np.all(np.isfinite(P), axis=(1, 2))):
                    out[start + b] = self._refit_or_raise(X[start + b], y[start + b], X_eval,
                                                          recipe, shapes, init_seeds[start + b],
                                                          shuffle_seeds[start + b], device)
        return out

    # --- the fused path ---------------------------------------------------------------------
    def _fused_fit(self, X, y, X_eval, recipe, shapes, init_seeds, shuffle_seeds, device, dtype,
                   shared=0, inits=None):
        B, n, _ = X.shape
        full_batch = recipe.batch_size is None or recipe.batch_size >= n
        unique, inverse = np.unique(init_seeds, return_inverse=True)
        inits = {} if inits is None else inits
        for s in unique.tolist():
            if s not in inits:
                params, _ = _mlp_train.linear_init(s, shapes)
                inits[s] = [(W.to(device, dtype), b.to(device, dtype)) for W, b in params]
        index = torch.as_tensor(inverse, device=device)
        init = [(torch.stack([inits[s][layer][0] for s in unique.tolist()])[index],
                 torch.stack([inits[s][layer][1] for s in unique.tolist()])[index])
                for layer in range(len(shapes))]
        shuffles = None
        if not full_batch:  # one generator per distinct shuffling seed (module docstring)
            seeds, which = np.unique(shuffle_seeds, return_inverse=True)
            generators = [_mlp_train.linear_init(int(s), shapes)[1] if self.init == "per_call"
                          else torch.Generator().manual_seed(int(s)) for s in seeds.tolist()]
            which = torch.as_tensor(which)
            shuffles = [torch.stack([torch.randperm(n, generator=g) for g in generators])[which]
                        .to(device) for _ in range(recipe.n_epochs)]
        Xt = torch.as_tensor(np.ascontiguousarray(X), device=device, dtype=dtype)
        yt = torch.as_tensor(np.ascontiguousarray(y), device=device)
        shared = shared if len(X) > 1 else 0
        theta, layout, _ = _mlp_train.train(Xt, yt, init, recipe, shuffles, shared=shared)
        P = _mlp_train.predict_proba(layout.views(theta),
                                     torch.as_tensor(X_eval, device=device, dtype=dtype))
        return P.to("cpu", torch.float64).numpy()

    def _refit_or_raise(self, X, y, X_eval, recipe, shapes, init_seed, shuffle_seed, device):
        P = self._autograd_fit(X, y, X_eval, recipe, shapes, init_seed, shuffle_seed, device)[0]
        if not np.all(np.isfinite(P)):
            raise ValueError(
                f"MLP training diverged (non-finite probabilities with lr={self.lr}, "
                f"dtype={self.dtype!r}); lower lr, standardize the features or use float64."
            )
        return P

    # --- the reference path: torch.nn + torch.optim.Adam, one network ----------------------
    def _autograd_fit(self, X, y, X_eval, recipe, shapes, init_seed, shuffle_seed, device,
                      record_loss=False):
        """Train one ``torch.nn.Sequential`` with ``torch.optim.Adam``; returns (probabilities
        (n_eval, K) or None, model, loss curve)."""
        dtype = DTYPES[self.dtype]
        init, g = _mlp_train.linear_init(int(init_seed), shapes)
        if self.init == "shared":
            g = torch.Generator().manual_seed(int(shuffle_seed))
        layers = []
        for W0, b0 in init:
            linear = torch.nn.Linear(W0.shape[1], W0.shape[0], device=device, dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(W0)
                linear.bias.copy_(b0)
            layers += [linear, torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1])
        weights = [layer.weight for layer in model if isinstance(layer, torch.nn.Linear)]
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, foreach=False)
        Xt = torch.as_tensor(np.ascontiguousarray(X), device=device, dtype=dtype)
        yt = torch.as_tensor(np.ascontiguousarray(y), device=device)
        n = Xt.shape[0]
        rows = n if recipe.batch_size is None else min(recipe.batch_size, n)
        curve = []
        for _ in range(recipe.n_epochs):
            order = None if rows == n else torch.randperm(n, generator=g).to(device)
            for start in range(0, n, rows):
                xb, yb = (Xt, yt) if order is None else (Xt[order[start:start + rows]],
                                                         yt[order[start:start + rows]])
                optimizer.zero_grad()
                logits = model(xb)
                if recipe.training_loss == "log_loss":
                    loss = torch.nn.functional.cross_entropy(logits, yb)
                else:
                    loss = torch.nn.functional.cross_entropy(torch.softmax(logits, -1), yb)
                if recipe.weight_decay:
                    penalty = sum(torch.sum(w * w) for w in weights)
                    loss = loss + 0.5 * recipe.weight_decay * penalty / xb.shape[0]
                if record_loss:
                    curve.append(loss.item())
                loss.backward()
                optimizer.step()
        P = None
        if X_eval is not None:
            with torch.no_grad():
                logits = model(torch.as_tensor(X_eval, device=device, dtype=dtype))
                P = torch.softmax(logits, dim=-1).to("cpu", torch.float64).numpy()
        return P, model, curve

    # --- scikit-learn estimator API ---------------------------------------------------------
    def fit(self, X, y):
        """Fit one network on (X, y) with any class labels (seed: ``random_state``); returns
        self. Trained by the reference (autograd) implementation, which also records
        ``loss_curve_``; predictions equal the fused path's up to rounding."""
        X = check_array(X, "X")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},); got {y.shape}.")
        classes, yi = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("y must contain at least two classes to train a classifier.")
        recipe = self._recipe(len(classes))
        shapes = self._shapes(X.shape[1], len(classes))
        init_seeds, shuffle_seeds = self._seeds(None, 1)
        with torch_threads(self.n_threads):
            _, model, curve = self._autograd_fit(X, yi, None, recipe, shapes, init_seeds[0],
                                                 shuffle_seeds[0], resolve_device(self.device),
                                                 record_loss=True)
        linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
        self.classes_ = classes
        self.coefs_ = [lin.weight.detach().to("cpu", torch.float64).numpy().T.copy()
                       for lin in linears]
        self.intercepts_ = [lin.bias.detach().to("cpu", torch.float64).numpy().copy()
                            for lin in linears]
        self.loss_curve_ = curve
        self.n_iter_ = len(curve)
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        """Softmax of the logits, shape (n, n_classes)."""
        check_is_fitted(self, "coefs_")
        X = check_array(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} columns; got {X.shape[1]}.")
        H = X
        for W, b in zip(self.coefs_[:-1], self.intercepts_[:-1], strict=True):
            H = np.maximum(H @ W + b, 0.0)
        logits = H @ self.coefs_[-1] + self.intercepts_[-1]
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class label."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
