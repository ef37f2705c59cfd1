"""The contribution sampler: plan, compute chunks (in parallel, cached), assemble the table."""

from __future__ import annotations

import hashlib
import json
import os
import warnings

import joblib
import numpy as np
from joblib.parallel import get_active_backend
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .. import __version__
from .._checks import as_problem, check_bool, check_indices, check_int, seed_sequence
from ..backends import get_backend
from ..metrics import check_metrics
from ..sampling import StratifiedSampler
from . import compute
from .cache import ChunkCache
from .plan import check_plan_sizes, chunk_rounds, chunk_rows, draw_dataset, plan_rounds
from .table import build_table, compact_int_dtype

__all__ = ["ENGINE_VERSION", "planned_datasets", "sample_contributions"]

#: bump when a change to the computation changes the numbers (invalidates caches)
ENGINE_VERSION = "3"  # 3: the verified engine (scaling_kit.engine), standardized coordinates


def _prepare(data, points, k, k_range, n_samples, share_datasets, allow_z_in_D, random_state):
    problem = as_problem(data)
    points = check_indices(points, "points", problem.X_pool.shape[0])
    n_samples = check_int(n_samples, "n_samples", low=1)
    share_datasets = check_bool(share_datasets, "share_datasets")
    allow_z_in_D = check_bool(allow_z_in_D, "allow_z_in_D")
    seq = seed_sequence(random_state)
    sampler = StratifiedSampler(problem.y_pool, problem.n_classes)
    ks, k_range = check_plan_sizes(sampler, k, k_range, allow_z_in_D)
    rounds = plan_rounds(sampler, points, ks, k_range, n_samples, share_datasets, allow_z_in_D,
                         seq)
    options = dict(points=points, ks=ks, k_range=k_range, n_samples=n_samples,
                   share=share_datasets, allow_z_in_D=allow_z_in_D)
    return problem, sampler, seq, rounds, options


def _run_key(backend, problem, options, metrics, seq, chunk_size) -> str:
    h = hashlib.sha256()
    header = dict(engine=ENGINE_VERSION, kit=__version__, learner=backend.cache_key(),
                  metrics=list(metrics), chunk_size=chunk_size,
                  seed=[np.asarray(seq.entropy).tolist(), list(seq.spawn_key), seq.pool_size],
                  points=options["points"].tolist(),
                  ks=None if options["ks"] is None else options["ks"].tolist(),
                  k_range=options["k_range"], n_samples=options["n_samples"],
                  share=options["share"], allow_z_in_D=options["allow_z_in_D"])
    h.update(json.dumps(header, sort_keys=True).encode())
    for a in (problem.X_pool, problem.y_pool, problem.X_test, problem.y_test):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _check_n_jobs(n_jobs):
    if n_jobs is None:
        return None
    n_jobs = check_int(n_jobs, "n_jobs")
    if n_jobs == 0:
        raise ValueError("n_jobs must be a positive number of workers, -1 (all cores) or None; "
                         "got 0.")
    return n_jobs


def _map_chunks(chunks, todo, args, n_jobs):
    """Yield ``(i, result)`` for the chunks in ``todo`` as they finish (``todo`` order).

    ``n_jobs=1`` runs in this process. Otherwise joblib's active backend (switch it with
    ``joblib.parallel_config``): as a generator where the backend supports it, else in waves
    of a few chunks per worker (e.g. the ``multiprocessing`` backend), so that finished chunks
    are cached while the others run.
    """
    if n_jobs == 1:  # in this process, whose caller holds one BLAS thread already
        for i in todo:
            yield i, compute.compute_chunk(chunks[i], *args, pin_threads=False)
        return
    jobs = [joblib.delayed(compute.compute_chunk)(chunks[i], *args) for i in todo]
    backend, _ = get_active_backend()
    if getattr(backend, "supports_return_generator", False):
        results = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
        yield from zip(todo, results)
        return
    wave = 4 * max(1, joblib.effective_n_jobs(n_jobs))
    with joblib.Parallel(n_jobs=n_jobs) as parallel:
        for start in range(0, len(todo), wave):
            yield from zip(todo[start:start + wave], parallel(jobs[start:start + wave]))


def sample_contributions(learner, data, points, *, k=None, k_range=None, n_samples=100,
                         metric="log_loss", share_datasets=True, allow_z_in_D=False,
                         random_state=None, n_jobs=1, cache=None, strict=False, progress=True,
                         chunk_size=2000):
    """Sample marginal contributions Delta(z, D) for many points and dataset sizes.

    ``Delta(z, D) = loss(fit on D) - loss(fit on D + {z})`` on the test set, for D drawn
    with proportional stratification from the pool without z (Covert et al. 2024, §2-3;
    docs/math.md §3); the mean over D of size k estimates psi_z(k).

    Parameters
    ----------
    learner : :class:`~scaling_kit.learners.ExactLogisticRegression` (exact fast engine), any
        scikit-learn classifier with ``predict_proba``, or an object with
        ``fit_predict_proba(X, y, X_eval, n_classes, random_state)`` (optionally
        ``fit_predict_proba_batch``): see :mod:`scaling_kit.backends`. A random learner gets
        one seed per drawn D, shared by D and every D + {z} (common random numbers).
    data : a :class:`~scaling_kit.datasets.Dataset` or a tuple
        ``(X_pool, y_pool, X_test, y_test)``; labels 0..K-1.
    points : indices into the pool of the points z whose contributions are wanted.
    k : dataset size or sizes; ``n_samples`` per (point, k). Or
    k_range : ``(k_min, k_max)``; ``n_samples`` per point with k uniform on the range.
    n_samples : samples per (point, k), or per point with ``k_range``.
    metric : a name or list among ``log_loss`` (default), ``softmax_ce`` (reference code),
        ``error``, ``brier``; one fit serves every metric.
    share_datasets : share each drawn D across points (fast, same per-point distribution);
        False draws one D per sample as the paper's code does.
    allow_z_in_D : reproduce the reference code's quirk: D drawn from the whole pool, so z may
        already be in D (then D + {z} holds it twice). Off by default.
    random_state : None, a non-negative int, a ``numpy.random.SeedSequence`` or ``Generator``
        (docs/api.md); the whole plan (every D, every learner seed) flows from it. Required
        (not None) with ``cache``.
    n_jobs : joblib workers (``-1``: all cores; the backend follows
        ``joblib.parallel_config``, ``multiprocessing`` included).
    cache : a directory; finished chunks are written atomically and verified when reused
        (:mod:`scaling_kit.contributions.cache`): a rerun or an interrupted run resumes.
    strict : with ``cache``, every chunk must come from the cache intact: a missing or damaged
        chunk raises :class:`~scaling_kit.exceptions.CacheError` instead of being recomputed
        with a :class:`~scaling_kit.exceptions.CacheWarning`.
    progress : show a progress bar (``tqdm.auto``).
    chunk_size : contributions per chunk (the unit of parallel work and of caching).

    Returns
    -------
    pandas.DataFrame sorted by (point, k, sample): ``point``, ``k``, ``sample`` (smallest
    signed integer types; ``k`` at least int32, so that ``np.log(df.k)`` is float64), ``delta`` (the first metric) and ``delta_<metric>`` for every
    further metric; ``attrs["metrics"]`` lists the metrics in order.

    Reproducibility: the plan is fixed before any work starts, and each chunk runs with one
    BLAS/OpenMP thread (threadpoolctl), so for the same arguments the table is bitwise
    identical for any ``n_jobs``, joblib backend (loky, threading, multiprocessing), thread
    setting of the caller, fresh process or cache reuse, on one machine (tested). Another
    ``chunk_size`` or another set of ``points`` (same D for the same row with fixed k) groups
    the exact engine's fits into other batches, which changes the rounding: Deltas then agree
    up to rounding (measured: at most 6.5e-14 on digits, 1.1e-15 on wine; tested to 1e-10).
    Use ``n_jobs`` for parallel speed: BLAS inside a chunk is single-threaded.
    """
    metrics = check_metrics(metric)
    backend = get_backend(learner)
    chunk_size = check_int(chunk_size, "chunk_size", low=1)
    n_jobs = _check_n_jobs(n_jobs)
    strict = check_bool(strict, "strict")
    progress = check_bool(progress, "progress")
    if cache is not None and not isinstance(cache, (str, os.PathLike)):
        raise TypeError(f"cache must be a directory (str or pathlib.Path) or None; got "
                        f"{cache!r} ({type(cache).__name__}).")
    if cache is not None and random_state is None:
        raise ValueError(
            "cache= needs a fixed random_state (an int, say): the cache stores the chunks of "
            "one planned run, and random_state=None plans a different run every call."
        )
    problem, sampler, seq, rounds, options = _prepare(
        data, points, k, k_range, n_samples, share_datasets, allow_z_in_D, random_state)
    chunks = chunk_rounds(rounds, chunk_size)
    rows = [chunk_rows(chunk) for chunk in chunks]
    row_dtypes = {
        "point": compact_int_dtype(problem.X_pool.shape[0] - 1),
        "k": compact_int_dtype(max(rnd.k for rnd in rounds), at_least=np.int32),  # log k: float64
        "sample": compact_int_dtype(options["n_samples"] - 1),
    }
    store = None
    if cache is not None:
        store = ChunkCache(cache, _run_key(backend, problem, options, metrics, seq, chunk_size),
                           len(chunks), metrics, strict=strict)
    results = [None if store is None else store.load(i, rows[i]) for i in range(len(chunks))]
    todo = [i for i, res in enumerate(results) if res is None]
    args = (learner, problem, metrics, seq)
    caught = {}
    # one BLAS/OpenMP thread here too: thread-based joblib backends share this process's
    # (global) thread setting, which each chunk's own pin would otherwise race to restore
    with threadpool_limits(limits=1), \
            tqdm(total=sum(r["point"].size for r in rows), desc="contributions", unit="Δ",
                 disable=not progress) as bar:
        bar.update(sum(rows[i]["point"].size for i, res in enumerate(results) if res is not None))
        for i, (deltas, messages) in _map_chunks(chunks, todo, args, n_jobs):
            results[i] = deltas
            if store is not None:
                store.save(i, rows[i], deltas, row_dtypes)
            for category, message in messages:
                caught[(category, message)] = caught.get((category, message), 0) + 1
            bar.update(rows[i]["point"].size)
    if store is not None:
        store.mark_complete()
    for (category, message), count in caught.items():
        suffix = "" if count == 1 else f" (in {count} chunks)"
        warnings.warn(message + suffix, category, stacklevel=2)
    all_rows = {key: np.concatenate([r[key] for r in rows]) for key in ("point", "k", "sample")}
    all_deltas = {m: np.concatenate([res[m] for res in results]) for m in metrics}
    return build_table(all_rows, all_deltas, metrics, row_dtypes,
                       dict(n_classes=problem.n_classes, share_datasets=options["share"],
                            allow_z_in_D=options["allow_z_in_D"]))


def planned_datasets(data, points, *, k=None, k_range=None, n_samples=100, share_datasets=True,
                     allow_z_in_D=False, random_state=None):
    """The datasets D that :func:`sample_contributions` draws for the same arguments, in order.

    Returns a list of dicts with keys ``k``, ``D`` (pool indices), ``points`` and ``sample``
    (the per-point sample index of each point computed on that D). Useful to recompute a
    contribution independently (tests, benchmarks) or to inspect the sampling. Pass the same
    ``random_state`` as to :func:`sample_contributions` (an int or a SeedSequence; a Generator
    would advance).
    """
    _, sampler, seq, rounds, _ = _prepare(data, points, k, k_range, n_samples, share_datasets,
                                          allow_z_in_D, random_state)
    return [{"k": rnd.k, "D": draw_dataset(sampler, seq, rnd), "points": rnd.points,
             "sample": rnd.sample_ids} for rnd in rounds]
