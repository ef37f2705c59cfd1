"""Computing one chunk of rounds: the Deltas of its rows, in the plan's row order.

Two paths, chosen by the learner's backend (:mod:`scaling_kit.backends`):

* :class:`~scaling_kit.learners.ExactLogisticRegression`: the exact engine
  (:mod:`scaling_kit.exact_engine`, docs/math.md §7). Rounds of equal k are solved together:
  their datasets D are fit in one batch (warm-started from the previous batch of that k), and
  every D + {z} is solved from D's solution by batched chord/Anderson steps to the learner's
  ``tol`` (D itself to ``tol / 10``).
* any other learner: per round, one fit on D and one on every D + {z} through the backend's
  ``fit_log_proba`` (batched when the learner can), all with the round's seed (common random
  numbers).

Determinism: a chunk runs with one BLAS/OpenMP thread (threadpoolctl) whatever the caller's
setting, so the floating-point operations of a chunk, and hence its bits, depend only on the
chunk, not on ``n_jobs``, the joblib backend or the parent's thread count. Warnings raised
while computing (e.g. :class:`~scaling_kit.exceptions.ConvergenceWarning`) are recorded and
returned, so the caller re-emits them even when the chunk ran in a worker process.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from .. import exact_engine
from ..backends import get_backend
from ..sampling import StratifiedSampler
from .plan import draw_dataset, learner_seed

__all__ = ["BATCH_ELEMENTS", "compute_chunk"]

#: rounds per engine batch: keep the per-iteration arrays (rounds x k x candidates x classes)
#: around this many entries, large enough to amortize Python overhead and small enough to stay
#: in cache
BATCH_ELEMENTS = 3e5


def compute_chunk(chunk, learner, problem, metrics, seq, pin_threads=True):
    """Deltas ``{metric: (n_rows,)}`` of the chunk's rows (plan order) and the warnings
    raised meanwhile, as ``(deltas, [(category, message), ...])``.

    ``pin_threads=False`` skips setting one BLAS thread (a few milliseconds), for a caller
    that already holds that setting in this process."""
    pin = threadpool_limits(limits=1) if pin_threads else contextlib.nullcontext()
    with pin, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deltas = _compute(chunk, get_backend(learner), problem, metrics, seq)
    return deltas, [(w.category, str(w.message)) for w in caught]


def _compute(chunk, backend, problem, metrics, seq):
    sampler = StratifiedSampler(problem.y_pool, problem.n_classes)
    sizes = np.array([rnd.points.size for rnd in chunk])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = {name: np.empty(offsets[-1]) for name in metrics}
    if backend.kind == "exact_logistic":
        _exact_rounds(chunk, offsets, backend, problem, sampler, metrics, seq, out)
    else:
        for i, rnd in enumerate(chunk):
            before, after = _generic_round(rnd, backend, problem, sampler, metrics, seq)
            for name in metrics:
                out[name][offsets[i]:offsets[i + 1]] = before[name] - after[name]
    return out


def _generic_round(rnd, backend, problem, sampler, metrics, seq):
    D = draw_dataset(sampler, seq, rnd)
    seed = learner_seed(seq, rnd.key)
    XD, yD = problem.X_pool[D], problem.y_pool[D]
    n = rnd.points.size
    XDz = np.concatenate([np.broadcast_to(XD, (n,) + XD.shape),
                          problem.X_pool[rnd.points][:, None, :]], axis=1)
    yDz = np.concatenate([np.broadcast_to(yD, (n, yD.size)),
                          problem.y_pool[rnd.points][:, None]], axis=1)
    args = (problem.X_test, problem.y_test, problem.n_classes, metrics)
    before = backend.fit_losses(XD[None], yD[None], *args, seed=seed)
    after = backend.fit_losses(XDz, yDz, *args, seed=seed)
    return {m: v[0] for m, v in before.items()}, after


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
