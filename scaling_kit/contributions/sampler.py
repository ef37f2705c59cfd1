"""The contribution sampler: plan, compute chunks (in parallel, cached, sharded), assemble."""

from __future__ import annotations

import os
import warnings

import joblib
from joblib.parallel import get_active_backend
from tqdm.auto import tqdm

from .._checks import check_bool, check_int
from . import compute
from .cache import ChunkCache
from .plan import check_shard, draw_dataset, shard_chunk_ids
from .run import ENGINE_VERSION, prepare_run

__all__ = ["ENGINE_VERSION", "planned_datasets", "run_contributions", "sample_contributions"]


def _check_n_jobs(n_jobs):
    if n_jobs is None:
        return None
    n_jobs = check_int(n_jobs, "n_jobs")
    if n_jobs == 0:
        raise ValueError("n_jobs must be a positive number of workers, -1 (all cores) or None; "
                         "got 0.")
    return n_jobs


def _check_options(n_jobs, strict, progress, shard, cache):
    n_jobs = _check_n_jobs(n_jobs)
    strict = check_bool(strict, "strict")
    progress = check_bool(progress, "progress")
    shard = check_shard(shard)
    if cache is not None and not isinstance(cache, (str, os.PathLike)):
        raise TypeError(f"cache must be a directory (str or pathlib.Path) or None; got "
                        f"{cache!r} ({type(cache).__name__}).")
    if shard is not None and cache is None:
        raise ValueError(f"shard={shard} computes part of a run into a shared cache directory; "
                         "pass cache=DIR (the same for every shard), or shard=None.")
    return n_jobs, strict, progress, shard


def _warn_if_cluster_unused(n_jobs, stacklevel):
    backend, _ = get_active_backend()
    if n_jobs == 1 and type(backend).__name__ == "DaskDistributedBackend":
        warnings.warn("joblib's dask backend is active but n_jobs=1 computes every chunk in "
                      "this process; pass n_jobs=-1 to run the chunks on the cluster.",
                      UserWarning, stacklevel=stacklevel)


def _indexed_chunk(i, chunk, *args):
    """``(i, compute_chunk(chunk, *args))``: a worker's result names its chunk."""
    return i, compute.compute_chunk(chunk, *args)


#: joblib >= 1.4 returns results as they finish (``return_as="generator_unordered"``)
_UNORDERED = tuple(int(v) for v in joblib.__version__.split(".")[:2]) >= (1, 4)


def _map_chunks(chunks, todo, args, n_jobs):
    """Yield ``(i, result)`` for the chunks in ``todo`` as they finish.

    ``n_jobs=1`` runs in this process, in ``todo`` order. Otherwise joblib's active backend
    (switch it with ``joblib.parallel_config``; ``backend="dask"`` runs the chunks on a dask
    cluster): in order of completion where the backend can stream results (joblib >= 1.4;
    a slow chunk does not hold back the caching of those finished after it), else in waves of
    a few chunks per worker (e.g. the ``multiprocessing`` backend), so that finished chunks
    are cached while the others run. The table never depends on the order.
    """
    if n_jobs == 1:  # in this process, whose caller holds one BLAS thread already
        for i in todo:
            yield i, compute.compute_chunk(chunks[i], *args, pin_threads=False)
        return
    backend, _ = get_active_backend()
    if getattr(backend, "supports_return_generator", False):
        jobs = (joblib.delayed(_indexed_chunk)(i, chunks[i], *args) for i in todo)
        mode = "generator_unordered" if _UNORDERED else "generator"
        yield from joblib.Parallel(n_jobs=n_jobs, return_as=mode)(jobs)
        return
    jobs = [joblib.delayed(compute.compute_chunk)(chunks[i], *args) for i in todo]
    wave = 4 * max(1, joblib.effective_n_jobs(n_jobs))
    with joblib.Parallel(n_jobs=n_jobs) as parallel:
        for start in range(0, len(todo), wave):
            yield from zip(todo[start:start + wave], parallel(jobs[start:start + wave]))


def sample_contributions(learner, data, points, *, k=None, k_range=None, n_samples=100,
                         metric="log_loss", share_datasets=True, allow_z_in_D=False,
                         random_state=None, n_jobs=1, cache=None, strict=False, progress=True,
                         chunk_size=2000, shard=None, storage="npz"):
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
    n_jobs : joblib workers (``-1``: all cores, or every worker of a dask cluster); the
        backend follows ``joblib.parallel_config``: ``loky`` (default), ``threading``,
        ``multiprocessing``, or ``dask`` (``with Client(address),
        joblib.parallel_config(backend="dask")``: the chunks run on the cluster;
        ``n_jobs=1`` would compute them here, and warns). See docs/scale-out.md.
    cache : a directory; finished chunks are written atomically and verified when reused
        (:mod:`scaling_kit.contributions.cache`): a rerun or an interrupted run resumes, and
        several processes or machines sharing the directory share the run.
    strict : with ``cache``, every chunk must come from the cache intact: missing chunks (all
        of them named at once) or a damaged one raise
        :class:`~scaling_kit.exceptions.CacheError` instead of being computed (a damaged one
        with a :class:`~scaling_kit.exceptions.CacheWarning`). The merge step of a sharded
        run.
    progress : show a progress bar (``tqdm.auto``).
    chunk_size : contributions per chunk (the unit of parallel work, caching and sharding).
    shard : None (the whole run), or ``(i, n)`` / ``"i/n"``: compute only chunks ``i, i + n,
        i + 2n, ...`` of the run into ``cache`` (required), so that n processes or machines
        sharing the directory compute one run together (:func:`~scaling_kit.contributions.
        plan.shard_chunk_ids`). Returns the table of this shard's rows only; once every
        shard is done, the same call without ``shard`` (``strict=True`` to refuse computing
        anything) assembles the full table from the cache, and
        :func:`~scaling_kit.contributions.plan_contributions` ``(..., cache=).missing`` or
        :func:`~scaling_kit.contributions.open_contributions` ``(cache).missing_chunks()``
        name the chunks still missing.
    storage : chunk file format in ``cache``: ``"npz"`` (default), ``"parquet"`` (needs the
        optional pyarrow; smaller files) or ``"auto"``; either is read back.

    Returns
    -------
    pandas.DataFrame sorted by (point, k, sample): ``point``, ``k``, ``sample`` (smallest
    signed integer types; ``k`` at least int32, so that ``np.log(df.k)`` is float64),
    ``delta`` (the first metric) and ``delta_<metric>`` for every further metric;
    ``attrs["metrics"]`` lists the metrics in order. With ``shard``, only that shard's rows.

    Reproducibility: the plan is fixed before any work starts, and each chunk runs with one
    BLAS/OpenMP thread (threadpoolctl), so for the same arguments the table is bitwise
    identical for any ``n_jobs``, joblib backend (loky, threading, multiprocessing, dask),
    thread setting of the caller, fresh process, cache reuse or split into shards, on one
    machine or a cluster of identical machines (tested on a dask ``LocalCluster``). Another
    ``chunk_size`` or another set of ``points`` (same D for the same row with fixed k) groups
    the fits into other batches, which changes the rounding: Deltas then agree up to rounding
    (exact engine, measured: at most 6.5e-14 on digits, 1.1e-15 on wine; tested to 1e-10).
    Use ``n_jobs`` for parallel speed: BLAS inside a chunk is single-threaded.
    """
    _check_options(n_jobs, strict, progress, shard, cache)  # before planning, which can be long
    if cache is not None and random_state is None:
        raise ValueError(
            "cache= needs a fixed random_state (an int, say): the cache stores the chunks of "
            "one planned run, and random_state=None plans a different run every call."
        )
    run = prepare_run(learner, data, points, k=k, k_range=k_range, n_samples=n_samples,
                      metric=metric, share_datasets=share_datasets, allow_z_in_D=allow_z_in_D,
                      random_state=random_state, chunk_size=chunk_size)
    return run_contributions(run, n_jobs=n_jobs, cache=cache, strict=strict, progress=progress,
                             shard=shard, storage=storage, stacklevel=3)


def run_contributions(run, *, n_jobs=1, cache=None, strict=False, progress=True, shard=None,
                      storage="npz", stacklevel=2):
    """Compute (or read from ``cache``) the chunks of a prepared run
    (:func:`~scaling_kit.contributions.run.prepare_run`) and return its table: the second half
    of :func:`sample_contributions`, whose arguments these are. For callers that plan once and
    also inspect the plan (the command line); ``stacklevel`` places re-emitted warnings."""
    n_jobs, strict, progress, shard = _check_options(n_jobs, strict, progress, shard, cache)
    _warn_if_cluster_unused(n_jobs, stacklevel + 1)
    ids = shard_chunk_ids(run.n_chunks, shard)
    store = None
    if cache is not None:
        store = ChunkCache(cache, run.run_key, run.n_chunks, run.metrics, strict=strict,
                           storage=storage, description=run.describe())
        if strict:
            store.require(ids)
    rows = run.rows
    results = {i: None if store is None else store.load(i, rows[i]) for i in ids}
    todo = [i for i in ids if results[i] is None]
    n_rows = {i: rows[i]["point"].size for i in ids}
    n_read = sum(n_rows[i] for i in ids if results[i] is not None)
    args = (run.learner, run.problem, run.metrics, run.seq)
    caught = {}
    # one BLAS/OpenMP thread here too: thread-based joblib backends share this process's
    # (global) thread setting, which each chunk's own pin would otherwise race to restore
    with compute.one_blas_thread(), \
            tqdm(total=sum(n_rows.values()), desc="contributions", unit="Δ",
                 disable=not progress) as bar:
        bar.update(n_read)
        for i, (deltas, messages) in _map_chunks(run.chunks, todo, args, n_jobs):
            results[i] = deltas
            if store is not None:
                store.save(i, rows[i], deltas, run.row_dtypes)
            for category, message in messages:
                caught[(category, message)] = caught.get((category, message), 0) + 1
            bar.update(n_rows[i])
    if store is not None and (shard is None or not store.missing()):
        store.mark_complete()
    if store is not None:  # for the main job's report: which numbers an earlier run computed
        from ..report import _note_cache

        _note_cache(run.run_key[:20], n_read, sum(n_rows.values()) - n_read)
    for (category, message), count in caught.items():
        suffix = "" if count == 1 else f" (in {count} chunks)"
        warnings.warn(message + suffix, category, stacklevel=stacklevel)
    table = run.table(ids, results)
    if shard is not None:
        table.attrs["shard"] = shard
    return table


def planned_datasets(data, points, *, k=None, k_range=None, n_samples=100, share_datasets=True,
                     allow_z_in_D=False, random_state=None):
    """The datasets D that :func:`sample_contributions` draws for the same arguments, in order.

    Returns a list of dicts with keys ``k``, ``D`` (pool indices), ``points`` and ``sample``
    (the per-point sample index of each point computed on that D). Useful to recompute a
    contribution independently (tests, benchmarks) or to inspect the sampling. Pass the same
    ``random_state`` as to :func:`sample_contributions` (an int or a SeedSequence; a Generator
    would advance).
    """
    run = prepare_run(None, data, points, k=k, k_range=k_range, n_samples=n_samples,
                      share_datasets=share_datasets, allow_z_in_D=allow_z_in_D,
                      random_state=random_state)
    return [{"k": rnd.k, "D": draw_dataset(run.sampler, run.seq, rnd), "points": rnd.points,
             "sample": rnd.sample_ids} for rnd in run.rounds]

