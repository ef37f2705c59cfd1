"""Computing one chunk of rounds: the Deltas of its rows, in the plan's row order.

Two paths, chosen by the learner's backend (:mod:`scaling_kit.backends`):

* :class:`~scaling_kit.learners.ExactLogisticRegression`: the exact engine
  (:mod:`scaling_kit.exact_engine`, docs/math.md §7). Rounds of equal k are solved together:
  their datasets D are fit in one batch (warm-started from the previous batch of that k), and
  every D + {z} is solved from D's solution by batched chord/Anderson steps to the learner's
  ``tol`` (D itself to ``tol / 10``).
* any other learner: one fit on every D and one on every D + {z}, each network with its
  round's seed (common random numbers: D and every D + {z} of a round share it). Consecutive
  rounds of equal k go to the backend's ``fit_log_proba`` together, one call for their D's
  and one for their D + {z}'s, each of up to :data:`GENERIC_BATCH_ELEMENTS` training values
  (networks x rows x features): a batched learner
  (:class:`~scaling_kit.mlp.BatchedMLPClassifier`) then trains hundreds of networks per call
  even when a round has few points (one point per round with ``share_datasets=False``), which
  is what pays on a GPU and halves the per-network cost on a CPU against one network per call
  (``benchmarks/scale_out.py``); a learner that fits one dataset at a time is unaffected.

Determinism: a chunk runs with one BLAS/OpenMP thread (threadpoolctl) whatever the caller's
setting, so the floating-point operations of a chunk, and hence its bits, depend only on the
chunk, not on ``n_jobs``, the joblib backend or the parent's thread count. The setting is
reference-counted per process (:func:`one_blas_thread`): chunks running in several threads of
one process (a thread-based joblib backend, a dask worker with several threads) never restore
the caller's thread count while another chunk still runs. Warnings raised
while computing (e.g. :class:`~scaling_kit.exceptions.ConvergenceWarning`) are recorded and
returned, so the caller re-emits them even when the chunk ran in a worker process.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings

import numpy as np
from threadpoolctl import ThreadpoolController

from .. import exact_engine
from ..backends import get_backend
from ..sampling import StratifiedSampler
from .plan import draw_dataset, learner_seed

__all__ = ["BATCH_ELEMENTS", "GENERIC_BATCH_ELEMENTS", "compute_chunk", "one_blas_thread"]

#: rounds per engine batch: keep the per-iteration arrays (rounds x k x candidates x classes)
#: around this many entries, large enough to amortize Python overhead and small enough to stay
#: in cache
BATCH_ELEMENTS = 3e5
#: training values (networks x rows x features) per call of a generic learner: large enough
#: for a batched trainer to fill a GPU (about a thousand networks of 1,000 rows and 8
#: features), small enough to keep the copied training sets at 64 MiB
GENERIC_BATCH_ELEMENTS = 2**23

_PIN_LOCK = threading.Lock()
_PIN = {"depth": 0, "first": None}
_CONTROLLER = {"modules": -1, "controller": None}


def _controller() -> ThreadpoolController:
    """threadpoolctl's view of the loaded thread pools, rescanned (about 7 ms) only when
    modules were imported since the last call (a new import may load a BLAS or OpenMP)."""
    if _CONTROLLER["modules"] != len(sys.modules):
        _CONTROLLER["controller"] = ThreadpoolController()
        _CONTROLLER["modules"] = len(sys.modules)
    return _CONTROLLER["controller"]


@contextlib.contextmanager
def one_blas_thread():
    """Hold one BLAS/OpenMP thread in this process while the block runs.

    Safe for concurrent blocks in several threads of one process: each entering thread sets
    the limit (threadpoolctl; OpenMP's setting is per thread, OpenBLAS's per process), and only
    the last block to leave restores the settings found by the first, so a block never sees
    the count change under it."""
    with _PIN_LOCK:
        limiter = _controller().limit(limits=1)
        if _PIN["depth"] == 0:
            _PIN["first"] = limiter
        _PIN["depth"] += 1
    try:
        yield
    finally:
        with _PIN_LOCK:
            _PIN["depth"] -= 1
            if _PIN["depth"] == 0:
                _PIN["first"].restore_original_limits()
                _PIN["first"] = None


def compute_chunk(chunk, learner, problem, metrics, seq, pin_threads=True):
    """Deltas ``{metric: (n_rows,)}`` of the chunk's rows (plan order) and the warnings
    raised meanwhile, as ``(deltas, [(category, message), ...])``.

    ``pin_threads=False`` skips :func:`one_blas_thread`, for a caller that already holds it
    in this process."""
    pin = one_blas_thread() if pin_threads else contextlib.nullcontext()
    with pin, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = _blas_threads() if pin_threads else 1
        if threads > 1:
            warnings.warn(
                f"A chunk ran with {threads} BLAS threads: this worker thread could not pin "
                "one (OpenBLAS ignores the setting from threads other than the main one), so "
                "its results may differ from a single-threaded run in the last bits. Start "
                "the workers with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "
                "(dask's nanny does by default).", RuntimeWarning, stacklevel=2)
        deltas = _compute(chunk, get_backend(learner), problem, metrics, seq)
    return deltas, [(w.category, str(w.message)) for w in caught]


def _blas_threads() -> int:
    """The largest thread count of the BLAS libraries loaded in this process (1 if none)."""
    return max([lib.get_num_threads() for lib in _controller().lib_controllers
                if lib.user_api == "blas"], default=1)


def _compute(chunk, backend, problem, metrics, seq):
    sampler = StratifiedSampler(problem.y_pool, problem.n_classes)
    sizes = np.array([rnd.points.size for rnd in chunk])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = {name: np.empty(offsets[-1]) for name in metrics}
    if backend.kind == "exact_logistic":
        _exact_rounds(chunk, offsets, backend, problem, sampler, metrics, seq, out)
    else:
        _generic_rounds(chunk, offsets, backend, problem, sampler, metrics, seq, out)
    return out


def _generic_groups(chunk, n_features):
    """Runs of consecutive rounds of equal k, each within the element budget."""
    groups, current, size = [], [], 0
    for i, rnd in enumerate(chunk):
        cost = rnd.points.size * (rnd.k + 1) * n_features
        if current and (rnd.k != chunk[current[0]].k or size + cost > GENERIC_BATCH_ELEMENTS):
            groups.append(current)
            current, size = [], 0
        current.append(i)
        size += cost
    if current:
        groups.append(current)
    return groups


def _generic_rounds(chunk, offsets, backend, problem, sampler, metrics, seq, out):
    X_pool, y_pool = problem.X_pool, problem.y_pool
    args = (problem.X_test, problem.y_test, problem.n_classes, metrics)
    for ids in _generic_groups(chunk, X_pool.shape[1]):
        rounds = [chunk[i] for i in ids]
        Ds = np.stack([draw_dataset(sampler, seq, rnd) for rnd in rounds])  # (R, k)
        seeds = np.array([learner_seed(seq, rnd.key) for rnd in rounds], dtype=np.int64)
        counts = np.array([rnd.points.size for rnd in rounds])
        owner = np.repeat(np.arange(len(rounds)), counts)  # the round of each D + {z}
        Dz = np.concatenate([Ds[owner], np.concatenate([rnd.points for rnd in rounds])[:, None]],
                            axis=1)  # (sum of points, k + 1)
        before = backend.fit_losses(X_pool[Ds], y_pool[Ds], *args, seed=seeds.tolist())
        after = backend.fit_losses(X_pool[Dz], y_pool[Dz], *args, seed=seeds[owner].tolist())
        for name in metrics:
            delta = before[name][owner] - after[name]
            out[name][offsets[ids[0]]:offsets[ids[-1] + 1]] = delta  # consecutive rounds


def _exact_rounds(chunk, offsets, backend, problem, sampler, metrics, seq, out):
    # standardized coordinates: the same minimizers and test losses (docs/engine.md)
    model, Xa_pool, Xa_test = exact_engine.standardized_problem(
        problem.X_pool, problem.X_test, problem.n_classes, backend.C)
    y_pool, y_test = problem.y_pool, problem.y_test
    by_k = {}
    for i, rnd in enumerate(chunk):
        by_k.setdefault(rnd.k, []).append(i)
    per_round = max(rnd.k for rnd in chunk) * max(
        max(rnd.points.size for rnd in chunk) * model.m, model.size)
    batch = max(1, int(BATCH_ELEMENTS // per_round))
    for members in by_k.values():
        theta_prev = None
        for start in range(0, len(members), batch):
            ids = members[start:start + batch]
            rounds = [chunk[i] for i in ids]
            Ds = np.stack([draw_dataset(sampler, seq, rnd) for rnd in rounds])
            XaD, yD = Xa_pool[Ds], y_pool[Ds]

            def describe(r, c=None, rounds=rounds):  # names a dataset in error messages
                rnd = rounds[r]
                return (f"D (k={rnd.k}) of the round for points {rnd.points[:5].tolist()}"
                        if c is None else
                        f"D + {{z}} for point {rnd.points[c]}, k={rnd.k}, sample "
                        f"{rnd.sample_ids[c]}")

            theta_D, Hinv = exact_engine.fit_datasets(model, XaD, yD, theta_prev,
                                                      tol=backend.tol / 10,
                                                      max_iter=backend.max_iter,
                                                      describe=describe)
            theta_prev = theta_D[-1]  # warm start for the next batch of this k
            M = max(rnd.points.size for rnd in rounds)
            cand = np.stack([np.resize(rnd.points, M) for rnd in rounds])  # pad by repeating
            valid = np.arange(M)[None, :] < np.array([rnd.points.size for rnd in rounds])[:, None]
            theta_z, _, _ = exact_engine.solve_candidates_batch(
                model, XaD, yD, theta_D, Hinv, Xa_pool[cand], y_pool[cand], valid,
                tol=backend.tol, fallback_max_iter=backend.max_iter, describe=describe)
            before = exact_engine.test_losses(model, Xa_test, y_test, theta_D, metrics)
            after = exact_engine.test_losses(model, Xa_test, y_test, theta_z, metrics)
            for j, i in enumerate(ids):
                n_i = chunk[i].points.size
                for name in metrics:
                    out[name][offsets[i]:offsets[i + 1]] = before[name][j] - after[name][j, :n_i]
