"""The paper's two-layer ReLU MLP, trained one network at a time or many networks at once.

Covert et al. (ICML 2024, Section 4.1 and Appendix C.1) use "two-layer ReLU networks" of width
32 with weight decay, trained with Adam, as their second model class. Measuring marginal
contributions (MATH.md section 2) needs two fits per sampled dataset (D and D + {z}) and
thousands of datasets, so this module trains many small networks at once.

Model and objective (the same in both paths)
--------------------------------------------
``f(x) = W2^T relu(W1^T x + b1) + b2`` with ``W1`` (p, h), ``W2`` (h, K), ``K`` logits and a
softmax. The training objective for a dataset of ``n`` points (or a minibatch of ``m``) is
scikit-learn's ``MLPClassifier`` objective with ``alpha = weight_decay``::

    J = (1/n) * [ sum_i CE(y_i, softmax(f(x_i))) + (weight_decay / 2) * (||W1||^2 + ||W2||^2) ]

(biases unpenalized; like :class:`scaling_kit.learners.ExactLogisticRegression`, the penalty is
fixed relative to the *sum* of the losses, so it weakens as the dataset grows).

Training budget (fixed and documented, identical for every dataset size)
----------------------------------------------------------------------
``n_epochs`` passes of Adam (``torch.optim.Adam``, betas (0.9, 0.999), eps 1e-8, learning rate
``lr``), full batch by default (``batch_size=None``: one Adam step per epoch, as in the public
reference code, whose batch size 1280 exceeds every dataset of the validation protocol). No early
stopping, so the fit is a deterministic function of (data, seed).

Initialization and seeds
------------------------
A network with seed ``s`` is initialized from ``torch.Generator().manual_seed(s)`` in float64,
in this order: ``W1`` (stored (h, p)), ``b1``, ``W2`` (stored (K, h)), ``b2``, each uniform on
``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (the ``torch.nn.Linear`` default); the same generator then
draws the minibatch permutations (``torch.randperm``), one per epoch. ``random_state`` may be:

* an int: every network of the call uses that seed (so a D batch and a D + {z} batch called with
  the same int share initializations: common random numbers, and the reference code's choice
  of a fixed initialization "to reduce variance");
* a sequence of ints, one per network of a batch call (e.g. to measure optimization noise by
  refitting the same D with different seeds, see :func:`seed_noise`);
* ``None``: the estimator's ``random_state``; a ``numpy`` Generator/RandomState draws one int.

Two paths, one result
---------------------
:meth:`BatchedMLPClassifier.fit_predict_proba` is the general path: a ``torch.nn.Sequential``
model and ``torch.optim.Adam`` over its parameters, one network at a time.
:meth:`BatchedMLPClassifier.fit_predict_proba_batch` trains B independent networks at once with
batched matrix products (``torch.baddbmm``); the loss is the sum of the B objectives, so each
network gets exactly its own gradient, and Adam is elementwise, so network b follows the same
trajectory as the general path with the same seed (up to floating-point rounding of the
different matrix kernels; tested to tight tolerance). Computations run in ``dtype``
(default float64, so that the tiny loss differences at large k are not rounding noise; float32
is faster). Deterministic on CPU given the seeds.
"""

from __future__ import annotations

import numbers
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["BatchedMLPClassifier", "SeedNoiseResult", "seed_noise"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _check_seed_int(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"Seeds must be integers; got {seed!r}.")
    seed = int(seed)
    if not 0 <= seed < 2**63:
        raise ValueError(f"Seeds must be in [0, 2**63); got {seed}.")
    return seed


def _resolve_seeds(random_state, n_networks: int) -> np.ndarray:
    """One integer seed per network (see the module docstring for the accepted forms)."""
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        draw = (
            random_state.integers(0, 2**31 - 1)
            if isinstance(random_state, np.random.Generator)
            else random_state.randint(0, 2**31 - 1)
        )
        return np.full(n_networks, int(draw), dtype=np.int64)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.full(n_networks, _check_seed_int(random_state), dtype=np.int64)
    seeds = np.asarray(random_state)
    if seeds.ndim != 1 or seeds.shape[0] != n_networks:
        raise ValueError(
            "random_state must be an int, a numpy Generator/RandomState, or a sequence of one "
            f"int per network ({n_networks}); got {random_state!r}."
        )
    return np.array([_check_seed_int(s) for s in seeds.tolist()], dtype=np.int64)


def _initial_parameters(seed: int, p: int, h: int, K: int):
    """(W1 (h, p), b1 (h,), W2 (K, h), b2 (K,)) in float64, and the generator (for shuffling)."""
    g = torch.Generator().manual_seed(int(seed))

    def uniform(shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return (torch.rand(shape, generator=g, dtype=torch.float64) * 2.0 - 1.0) * bound

    W1 = uniform((h, p), p)
    b1 = uniform((h,), p)
    W2 = uniform((K, h), h)
    b2 = uniform((K,), h)
    return (W1, b1, W2, b2), g


@contextmanager
def _torch_threads(n):
    """Temporarily set torch's intra-op thread count (no-op for ``None``)."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _log_loss(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean cross-entropy over the last-but-one axis: proba (..., n, K), y (n,) -> (...)."""
    picked = np.take_along_axis(proba, np.broadcast_to(y[:, None], proba.shape[:-1] + (1,)), -1)
    return -np.mean(np.log(np.maximum(picked[..., 0], np.finfo(float).tiny)), axis=-1)


class BatchedMLPClassifier(ClassifierMixin, BaseEstimator):
    """Two-layer ReLU MLP (width ``hidden``) with weight decay, trained by Adam for a fixed budget.

    The model class of Covert et al. (ICML 2024), Section 4.1 / Appendix C.1; objective, budget,
    initialization and seeding are specified in the :mod:`scaling_kit.mlp` docstring.

    Parameters
    ----------
    hidden : width of the hidden layer (paper: 32).
    weight_decay : L2 coefficient on the weights, scikit-learn's ``alpha`` convention
        (penalty ``weight_decay/2 * ||W||^2`` added to the *summed* loss).
    lr : Adam learning rate.
    n_epochs : number of passes over the data (full batch: number of Adam steps).
    batch_size : minibatch size, or ``None`` for full batch.
    dtype : ``"float64"`` (default) or ``"float32"``.
    chunk_size : largest number of networks trained together in one batched call (memory bound;
        results do not depend on it).
    n_threads : torch intra-op threads while training (restored afterwards; ``None``: leave
        torch's setting). Default 1: these networks are too small to gain from threads, and on
        a busy machine torch's spinning threads made training 20x slower in our measurements;
        parallelize over datasets instead (the engine's ``n_jobs``).
    random_state : int seed (see the module docstring).

    Attributes (after ``fit``)
    --------------------------
    classes_, coefs_ ([W1 (p, h), W2 (h, K)]), intercepts_ ([b1 (h,), b2 (K,)]),
    loss_curve_ (objective J at each Adam step, before the update), n_features_in_.

    Learner protocol (used by :mod:`scaling_kit.contributions`)
    ----------------------------------------------------------
    ``fit_predict_proba(X, y, X_eval, n_classes, random_state=None) -> (n_eval, n_classes)`` and
    ``fit_predict_proba_batch(Xs (B, n, p), ys (B, n), X_eval, n_classes, random_state=None)
    -> (B, n_eval, n_classes)``; labels are integers ``0..n_classes-1``.
    """

    def __init__(
        self,
        hidden=32,
        weight_decay=1.0,
        lr=0.01,
        n_epochs=200,
        batch_size=None,
        dtype="float64",
        chunk_size=512,
        n_threads=1,
        random_state=0,
    ):
        self.hidden = hidden
        self.weight_decay = weight_decay
        self.lr = lr
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.dtype = dtype
        self.chunk_size = chunk_size
        self.n_threads = n_threads
        self.random_state = random_state

    # --- validation -------------------------------------------------------------------------
    def _check_params(self):
        def positive_int(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")

        positive_int("hidden")
        positive_int("n_epochs")
        positive_int("chunk_size")
        if self.n_threads is not None:
            positive_int("n_threads")
        if self.batch_size is not None:
            positive_int("batch_size")
        if not (isinstance(self.lr, numbers.Real) and np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number; got {self.lr!r}.")
        wd = self.weight_decay
        if not (isinstance(wd, numbers.Real) and np.isfinite(wd) and wd >= 0):
            raise ValueError(f"weight_decay must be a non-negative finite number; got {wd!r}.")
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {tuple(_DTYPES)}; got {self.dtype!r}.")
        return _DTYPES[self.dtype]

    @staticmethod
    def _check_n_classes(n_classes):
        if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
        return int(n_classes)

    @staticmethod
    def _check_labels(y, n_classes, what):
        y = np.asarray(y)
        if y.size and not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise ValueError(f"{what} must hold integer labels 0..{n_classes - 1}.")
            y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(
                f"{what} must hold integer labels 0..{n_classes - 1}; found labels in "
                f"[{y.min()}, {y.max()}]. Encode classes as indices first."
            )
        return y.astype(np.int64)

    @staticmethod
    def _check_X(X, ndim, what):
        X = np.asarray(X, dtype=float)
        if X.ndim != ndim:
            raise ValueError(f"{what} must be {ndim}-D; got shape {X.shape}.")
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{what} contains NaN or infinite values.")
        if X.shape[-2] < 1:
            raise ValueError(f"{what} has no rows.")
        return X

    # --- the general path: one torch.nn.Module at a time --------------------------------------
    def _train_single(self, X, y, n_classes, seed, torch_dtype):
        """Train one network with ``torch.nn`` and ``torch.optim.Adam``; returns (model, curve)."""
        n, p = X.shape
        (W1, b1, W2, b2), g = _initial_parameters(seed, p, self.hidden, n_classes)
        model = torch.nn.Sequential(
            torch.nn.Linear(p, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, n_classes),
        ).to(torch_dtype)
        with torch.no_grad():
            for param, value in zip(model.parameters(), (W1, b1, W2, b2), strict=True):
                param.copy_(value)
        Xt = torch.tensor(X, dtype=torch_dtype)
        yt = torch.tensor(y)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr, foreach=False)
        weights = (model[0].weight, model[2].weight)
        m = n if self.batch_size is None else min(self.batch_size, n)
        curve = []
        for _ in range(self.n_epochs):
            order = None if m == n else torch.randperm(n, generator=g)
            for start in range(0, n, m):
                rows = slice(None) if order is None else order[start : start + m]
                xb, yb = Xt[rows], yt[rows]
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(xb), yb, reduction="sum")
                penalty = 0.5 * self.weight_decay * sum(torch.sum(w * w) for w in weights)
                objective = (loss + penalty) / xb.shape[0]
                curve.append(objective.item())
                objective.backward()
                optimizer.step()
        return model, curve

    def fit_predict_proba(self, X_train, y_train, X_eval, n_classes, random_state=None):
        """Fit one network on (X_train, y_train); class probabilities (n_eval, n_classes) on X_eval.

        The general (reference) path; see :meth:`fit_predict_proba_batch` for the fast one.
        """
        torch_dtype = self._check_params()
        n_classes = self._check_n_classes(n_classes)
        X = self._check_X(X_train, 2, "X_train")
        y = self._check_labels(y_train, n_classes, "y_train")
        X_eval = self._check_X(X_eval, 2, "X_eval")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y_train must have shape ({X.shape[0]},); got {y.shape}.")
        if X_eval.shape[1] != X.shape[1]:
            raise ValueError(f"X_eval must have {X.shape[1]} columns; got {X_eval.shape[1]}.")
        rs = self.random_state if random_state is None else random_state
        seed = int(_resolve_seeds(rs, 1)[0])
        with _torch_threads(self.n_threads):
            model, _ = self._train_single(X, y, n_classes, seed, torch_dtype)
        with torch.no_grad():
            logits = model(torch.as_tensor(X_eval, dtype=torch_dtype))
            return torch.softmax(logits, dim=-1).to(torch.float64).numpy()

    # --- the fast path: B networks at once ----------------------------------------------------
    def fit_predict_proba_batch(self, X_trains, y_trains, X_eval, n_classes, random_state=None):
        """Train B independent networks on ``X_trains[b], y_trains[b]`` at once.

        Returns probabilities of shape (B, n_eval, n_classes) on the shared ``X_eval``. Network b
        gets the initialization and Adam updates of :meth:`fit_predict_proba` with seed
        ``seeds[b]`` (``random_state`` as in the module docstring).
        """
        torch_dtype = self._check_params()
        n_classes = self._check_n_classes(n_classes)
        X = self._check_X(X_trains, 3, "X_trains")
        y = self._check_labels(y_trains, n_classes, "y_trains")
        X_eval = self._check_X(X_eval, 2, "X_eval")
        B, n, p = X.shape
        if y.shape != (B, n):
            raise ValueError(f"y_trains must have shape ({B}, {n}); got {y.shape}.")
        if X_eval.shape[1] != p:
            raise ValueError(f"X_eval must have {p} columns; got {X_eval.shape[1]}.")
        rs = self.random_state if random_state is None else random_state
        seeds = _resolve_seeds(rs, B)
        out = np.empty((B, X_eval.shape[0], n_classes))
        for start in range(0, B, self.chunk_size):
            stop = min(start + self.chunk_size, B)
            with _torch_threads(self.n_threads):
                out[start:stop] = self._train_batch(
                    X[start:stop], y[start:stop], X_eval, n_classes, seeds[start:stop], torch_dtype
                )
        return out

    def _train_batch(self, X, y, X_eval, n_classes, seeds, torch_dtype):
        B, n, p = X.shape
        h = self.hidden
        unique, inverse = np.unique(seeds, return_inverse=True)
        inits, generators = [], []
        for seed in unique.tolist():
            params, g = _initial_parameters(seed, p, h, n_classes)
            inits.append(params)
            generators.append(g)
        idx = torch.as_tensor(inverse)

        def stacked(j, transpose):
            t = torch.stack([params[j] for params in inits])[idx]
            return (t.transpose(1, 2) if transpose else t[:, None, :]).to(torch_dtype)

        W1 = stacked(0, True).contiguous().requires_grad_()  # (B, p, h)
        b1 = stacked(1, False).requires_grad_()  # (B, 1, h)
        W2 = stacked(2, True).contiguous().requires_grad_()  # (B, h, K)
        b2 = stacked(3, False).requires_grad_()  # (B, 1, K)
        Xt = torch.tensor(X, dtype=torch_dtype)
        yt = torch.tensor(y)
        optimizer = torch.optim.Adam([W1, b1, W2, b2], lr=self.lr, foreach=False)
        m = n if self.batch_size is None else min(self.batch_size, n)
        for _ in range(self.n_epochs):
            if m == n:
                order = None
            else:
                perms = torch.stack([torch.randperm(n, generator=g) for g in generators])
                order = perms[idx]  # (B, n)
            for start in range(0, n, m):
                if order is None:
                    xb, yb = Xt, yt
                else:
                    rows = order[:, start : start + m]
                    xb = torch.gather(Xt, 1, rows[:, :, None].expand(-1, -1, p))
                    yb = torch.gather(yt, 1, rows)
                optimizer.zero_grad()
                logits = torch.baddbmm(b2, torch.relu(torch.baddbmm(b1, xb, W1)), W2)
                ce = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, n_classes), yb.reshape(-1), reduction="none"
                ).reshape(B, -1)
                penalty = 0.5 * self.weight_decay * (
                    torch.sum(W1 * W1, dim=(1, 2)) + torch.sum(W2 * W2, dim=(1, 2))
                )
                objective = torch.sum((ce.sum(dim=1) + penalty) / xb.shape[1])
                objective.backward()
                optimizer.step()
        with torch.no_grad():
            Xe = torch.as_tensor(X_eval, dtype=torch_dtype).expand(B, -1, -1)
            logits = torch.baddbmm(b2, torch.relu(torch.baddbmm(b1, Xe, W1)), W2)
            return torch.softmax(logits, dim=-1).to(torch.float64).numpy()

    # --- scikit-learn estimator API -----------------------------------------------------------
    def fit(self, X, y):
        """Fit one network (general path) on (X, y) with any class labels; returns self."""
        torch_dtype = self._check_params()
        X = self._check_X(X, 2, "X")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},); got {y.shape}.")
        classes, yi = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("Training data must contain at least two classes.")
        seed = int(_resolve_seeds(self.random_state, 1)[0])
        with _torch_threads(self.n_threads):
            model, curve = self._train_single(X, yi, len(classes), seed, torch_dtype)
        self.classes_ = classes
        self.coefs_ = [
            model[0].weight.detach().to(torch.float64).numpy().T.copy(),
            model[2].weight.detach().to(torch.float64).numpy().T.copy(),
        ]
        self.intercepts_ = [
            model[0].bias.detach().to(torch.float64).numpy().copy(),
            model[2].bias.detach().to(torch.float64).numpy().copy(),
        ]
        self.loss_curve_ = curve
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        """Softmax of the logits, shape (n, n_classes_)."""
        X = self._check_X(X, 2, "X")
        if not hasattr(self, "coefs_"):
            raise ValueError("This BatchedMLPClassifier is not fitted yet; call fit first.")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}); got {X.shape}.")
        hidden = np.maximum(X @ self.coefs_[0] + self.intercepts_[0], 0.0)
        logits = hidden @ self.coefs_[1] + self.intercepts_[1]
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


@dataclass
class SeedNoiseResult:
    """Optimization noise of one marginal contribution, measured by refitting with many seeds.

    ``loss_D[s]``, ``loss_Dz[s]``: test log loss of the fits on D and D + {z} with seed s;
    ``delta_crn[s] = loss_D[s] - loss_Dz[s]`` (same seed for both fits: common random numbers);
    ``delta_independent[s] = loss_D[s] - loss_Dz[s+1 mod S]`` (different seeds).
    """

    seeds: np.ndarray
    loss_D: np.ndarray
    loss_Dz: np.ndarray
    delta_crn: np.ndarray
    delta_independent: np.ndarray

    @property
    def mean_delta(self) -> float:
        return float(np.mean(self.delta_crn))

    @property
    def std_loss(self) -> float:
        """Standard deviation over seeds of the test loss of the fit on D."""
        return float(np.std(self.loss_D, ddof=1))

    @property
    def std_delta_crn(self) -> float:
        return float(np.std(self.delta_crn, ddof=1))

    @property
    def std_delta_independent(self) -> float:
        return float(np.std(self.delta_independent, ddof=1))

    def summary(self) -> str:
        snr = abs(self.mean_delta) / self.std_delta_crn if self.std_delta_crn > 0 else np.inf
        return "\n".join(
            [
                f"Optimization noise over {len(self.seeds)} seeds (same D, same z):",
                f"  mean contribution (same seed)      {self.mean_delta: .3e}",
                f"  std of test loss on D              {self.std_loss: .3e}",
                f"  std of contribution, same seed     {self.std_delta_crn: .3e}",
                f"  std of contribution, other seeds   {self.std_delta_independent: .3e}",
                f"  |mean| / std (same seed)           {snr: .3g}",
            ]
        )


def seed_noise(learner, X_D, y_D, x_z, y_z, X_test, y_test, n_classes, seeds=range(20)):
    """Refit the same D and D + {z} with several seeds and measure the spread of the contribution.

    The paper (Section 2.1 and 4.1) attributes poorly fitting log-linear laws to noise in the
    estimated means; this isolates the part due to optimization (initialization, shuffling),
    with the data held fixed. ``learner`` follows the learner protocol with a ``random_state``
    argument (e.g. :class:`BatchedMLPClassifier`; its batched path is used when present).
    Loss: mean test cross-entropy ``-mean log p(y_test)``.
    """
    seeds = np.array([_check_seed_int(s) for s in seeds], dtype=np.int64)
    if len(seeds) < 2:
        raise ValueError("seed_noise needs at least two seeds.")
    X_D = np.asarray(X_D, dtype=float)
    y_D = np.asarray(y_D)
    x_z = np.asarray(x_z, dtype=float).reshape(1, -1)
    y_test = np.asarray(y_test)
    if X_D.ndim != 2 or y_D.shape != (X_D.shape[0],) or x_z.shape[1] != X_D.shape[1]:
        raise ValueError(
            f"Expected X_D (n, p), y_D (n,), x_z (p,); got {X_D.shape}, {y_D.shape}, {x_z.shape}."
        )
    X_Dz = np.concatenate([X_D, x_z])
    y_Dz = np.concatenate([y_D, np.asarray([y_z], dtype=y_D.dtype)])
    S = len(seeds)
    if hasattr(learner, "fit_predict_proba_batch"):
        P_D = learner.fit_predict_proba_batch(
            np.broadcast_to(X_D, (S,) + X_D.shape), np.broadcast_to(y_D, (S,) + y_D.shape),
            X_test, n_classes, random_state=seeds,
        )
        P_Dz = learner.fit_predict_proba_batch(
            np.broadcast_to(X_Dz, (S,) + X_Dz.shape), np.broadcast_to(y_Dz, (S,) + y_Dz.shape),
            X_test, n_classes, random_state=seeds,
        )
    else:
        P_D = np.stack([learner.fit_predict_proba(X_D, y_D, X_test, n_classes, random_state=int(s)) for s in seeds])
        P_Dz = np.stack([learner.fit_predict_proba(X_Dz, y_Dz, X_test, n_classes, random_state=int(s)) for s in seeds])
    loss_D = _log_loss(P_D, y_test)
    loss_Dz = _log_loss(P_Dz, y_test)
    return SeedNoiseResult(
        seeds=seeds,
        loss_D=loss_D,
        loss_Dz=loss_Dz,
        delta_crn=loss_D - loss_Dz,
        delta_independent=loss_D - np.roll(loss_Dz, -1),
    )
