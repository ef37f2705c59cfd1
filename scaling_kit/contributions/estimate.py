"""What a run of :func:`~scaling_kit.contributions.sample_contributions` will cost, before it runs.

:func:`plan_contributions` takes the sampler's arguments, fixes the same plan (:mod:`.run`)
and returns a :class:`ContributionPlan`: rounds (datasets D), fits (one per D and one per
D + {z}: ``n_fits = n_rounds + n_contributions``), chunks, the chunks of a shard and which of
them a cache already holds, and an estimated time from a short calibration run.

Calibration: at up to three sizes of the plan (smallest, middle, largest k) the planner
computes the first ``calibrate`` contributions of the plan at that size (whole rounds, the
last one cut to the budget) in this process with one BLAS thread, exactly as a worker computes
a chunk, and divides the time by the fits made: seconds per fit ``t(k)``, interpolated
linearly in k between the calibrated sizes (constant beyond them). Then

    estimated seconds (one worker) = sum over rounds r of (1 + points of r) * t(k_r),

and on W workers ``estimated seconds / (W * efficiency)``. The calibration results are thrown
away (nothing is cached). The estimate assumes that the calibration batches are as efficient
as the run's (true on a CPU, where a batched trainer is at full speed with tens of networks;
on a GPU pass ``calibrate=chunk_size`` so that the calibration batches are as large as the
run's) and that the machine is as loaded as during the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .._checks import check_int, check_number
from ..results import Summary
from . import compute
from .cache import STORAGES, chunk_path
from .plan import Round, check_shard, shard_chunk_ids
from .run import prepare_run

__all__ = ["ContributionPlan", "learner_device", "plan_contributions", "plan_run"]


def learner_device(learner) -> str:
    """The device a learner trains on: its ``device`` parameter (``"auto"``: ``"cuda"`` when
    torch sees a GPU, else ``"cpu"``), or ``"cpu"`` for a learner without one."""
    device = getattr(learner, "device", None)
    if device is None:
        return "cpu"
    device = str(device)
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@dataclass(frozen=True)
class ContributionPlan:
    """The plan of one run, and its estimated cost (see the module docstring).

    Attributes
    ----------
    learner, device : the learner's class name and the device it trains on.
    n_points, n_sizes, n_samples : the run's points, distinct sizes k and samples per
        (point, k) (per point with ``k_range``).
    n_rounds, n_fits, n_contributions : datasets D drawn, model fits (``n_rounds +
        n_contributions``), table rows.
    n_chunks, chunk_size : chunks (units of parallel work, caching, sharding) and their size.
    networks_per_call : mean number of D + {z} fits per call of the learner (generic learners;
        what a batched trainer gets per call).
    shard, shard_chunks : the shard ``(i, n)`` (None: all) and the ids of its chunks.
    cache_directory, missing : with ``cache``, the run's folder and the shard's chunk ids not
        yet on disk (None without a cache).
    seconds_per_fit : Series indexed by the calibrated k (None without calibration).
    calibration_seconds : time the calibration took.
    estimated_seconds : the whole run on one worker of this kind (None without calibration).
    shard_estimated_seconds : the shard's chunks still missing (or all of the shard's), on
        one worker.
    """

    learner: str
    device: str
    n_points: int
    n_sizes: int
    n_samples: int
    n_rounds: int
    n_fits: int
    n_contributions: int
    n_chunks: int
    chunk_size: int
    networks_per_call: float
    shard: tuple | None
    shard_chunks: tuple
    cache_directory: str | None
    missing: tuple | None
    seconds_per_fit: pd.Series | None = None
    calibration_seconds: float = 0.0
    estimated_seconds: float | None = None
    shard_estimated_seconds: float | None = None
    notes: tuple = field(default=())

    def seconds_on(self, n_workers: int, efficiency: float = 1.0) -> float | None:
        """Estimated wall time of the whole run on ``n_workers`` workers like this one, at a
        scaling ``efficiency`` in (0, 1] (measure it with ``benchmarks/scale_out.py``)."""
        n_workers = check_int(n_workers, "n_workers", low=1)
        efficiency = check_number(efficiency, "efficiency", low=0, high=1, low_open=True)
        if self.estimated_seconds is None:
            return None
        return self.estimated_seconds / (n_workers * efficiency)

    def lines(self, n_workers=(1, 10, 100)) -> list:
        """The plan as lines of text (what ``print(plan)`` and ``--plan`` show)."""
        out = [f"Contribution plan: {self.learner} on {self.device}",
               f"  {self.n_contributions:,} contributions ({self.n_points:,} points x "
               f"{self.n_sizes} sizes x {self.n_samples:,} samples)",
               f"  {self.n_rounds:,} datasets D, {self.n_fits:,} fits, {self.n_chunks:,} chunks "
               f"of about {self.chunk_size:,} contributions"]
        if np.isfinite(self.networks_per_call):
            out.append(f"  {self.networks_per_call:,.0f} D + {{z}} fits per call of the learner")
        if self.shard is not None or self.missing is not None:
            where = "" if self.shard is None else \
                f"shard {self.shard[0]}/{self.shard[1]}: {len(self.shard_chunks):,} chunks"
            if self.missing is not None:
                where += (", " if where else "") + \
                    f"{len(self.missing):,} not yet in {self.cache_directory}"
            out.append("  " + where)
        if self.seconds_per_fit is not None:
            per_fit = ", ".join(f"{1e3 * v:.3g} ms at k={k}"
                                for k, v in self.seconds_per_fit.items())
            out.append(f"  calibration ({self.calibration_seconds:.1f} s): {per_fit} per fit")
            out.append(f"  estimated wall time on {self.device} workers (100% efficiency): "
                       + ", ".join(f"{_duration(self.seconds_on(w))} on {w}"
                                   for w in n_workers))
            if self.shard is not None or self.missing is not None:
                out.append(f"  this shard's chunks still to compute: "
                           f"{_duration(self.shard_estimated_seconds)} on one worker")
        out += [f"  note: {note}" for note in self.notes]
        return out

    def summary(self, n_workers=(1, 10, 100)) -> Summary:
        """The plan as a :class:`~scaling_kit.results.Summary`: counts as facts, and with a
        calibration the seconds per fit and the estimated hours on ``n_workers`` workers."""
        facts = {"learner": f"{self.learner} on {self.device}",
                 "contributions": self.n_contributions, "datasets D": self.n_rounds,
                 "fits": self.n_fits, "chunks": self.n_chunks, "chunk_size": self.chunk_size}
        if self.shard is not None:
            facts["shard"] = f"{self.shard[0]}/{self.shard[1]} ({len(self.shard_chunks)} chunks)"
        if self.missing is not None:
            facts["chunks not yet in the cache"] = len(self.missing)
        tables = {}
        if self.seconds_per_fit is not None:
            tables["seconds per fit (calibration)"] = self.seconds_per_fit.to_frame("seconds")
            tables["estimated wall time (100% efficiency)"] = pd.DataFrame(
                {"workers": list(n_workers),
                 "hours": [self.seconds_on(w) / 3600 for w in n_workers]}).set_index("workers")
        return Summary(title="Contribution plan", facts=facts, tables=tables,
                       notes=list(self.notes))

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:,.1f} h"


def _calibration_sizes(ks: np.ndarray) -> np.ndarray:
    ks = np.unique(ks)
    if ks.size <= 3:
        return ks
    return np.unique(ks[[0, (ks.size - 1) // 2, ks.size - 1]])


def _calibration_chunk(rounds, k: int, budget: int) -> list:
    """The first rounds of size ``k`` up to ``budget`` contributions (the last one cut)."""
    chunk, size = [], 0
    for rnd in rounds:
        if rnd.k != k:
            continue
        take = min(rnd.points.size, budget - size)
        chunk.append(rnd if take == rnd.points.size else
                     Round(rnd.k, rnd.key, rnd.exclude, rnd.points[:take],
                           rnd.sample_ids[:take]))
        size += take
        if size >= budget:
            break
    return chunk


def _calibrate(run, budget: int) -> pd.Series:
    ks = np.array([rnd.k for rnd in run.rounds])
    args = (run.learner, run.problem, run.metrics, run.seq)
    sizes = _calibration_sizes(ks)
    # warm-up (imports, first-call allocations) on one small round, not timed
    compute.compute_chunk(_calibration_chunk(run.rounds, int(sizes[0]), 1), *args)
    seconds = {}
    for k in sizes.tolist():
        chunk = _calibration_chunk(run.rounds, k, budget)
        fits = len(chunk) + sum(rnd.points.size for rnd in chunk)
        start = time.perf_counter()
        compute.compute_chunk(chunk, *args)
        seconds[k] = (time.perf_counter() - start) / fits
    return pd.Series(seconds, name="seconds per fit").rename_axis("k")


def plan_contributions(learner, data, points, *, k=None, k_range=None, n_samples=100,
                       metric="log_loss", share_datasets=True, allow_z_in_D=False,
                       random_state=None, chunk_size=2000, shard=None, cache=None,
                       calibrate=200) -> ContributionPlan:
    """The plan of :func:`~scaling_kit.contributions.sample_contributions` for the same
    arguments, and its estimated time (module docstring), without running it.

    ``shard`` and ``cache`` as in the sampler: the plan then names the shard's chunks and those
    the cache does not hold yet (nothing is written). ``calibrate``: contributions computed per
    calibrated size to time the learner (0: no estimate). Pass the same ``random_state`` as to
    the sampler (an int or a SeedSequence).
    """
    calibrate = check_int(calibrate, "calibrate", low=0)
    shard = check_shard(shard)
    run = prepare_run(learner, data, points, k=k, k_range=k_range, n_samples=n_samples,
                      metric=metric, share_datasets=share_datasets, allow_z_in_D=allow_z_in_D,
                      random_state=random_state, chunk_size=chunk_size)
    return plan_run(run, shard=shard, cache=cache, calibrate=calibrate)


def plan_run(run, *, shard=None, cache=None, calibrate=200) -> ContributionPlan:
    """The :class:`ContributionPlan` of a prepared run
    (:func:`~scaling_kit.contributions.run.prepare_run`; arguments as in
    :func:`plan_contributions`), for callers that plan once and then run it."""
    calibrate = check_int(calibrate, "calibrate", low=0)
    shard = check_shard(shard)
    ids = shard_chunk_ids(run.n_chunks, shard)
    directory = missing = None
    if cache is not None:
        directory = run.directory(cache)
        missing = tuple(i for i in ids if not any(
            chunk_path(directory, i, storage).is_file() for storage in STORAGES))
    ks = np.array([rnd.k for rnd in run.rounds])
    per_round_fits = np.array([1 + rnd.points.size for rnd in run.rounds])
    notes = []
    if run.backend.kind == "exact_logistic":
        calls = float("nan")
        notes.append("ExactLogisticRegression: the exact engine fits each D once and solves "
                     "every D + {z} from it (docs/math.md §7); a 'fit' here is one of those.")
    else:
        groups = [len(g) for chunk in run.chunks for g in compute._generic_groups(
            chunk, run.problem.X_pool.shape[1])]
        calls = run.n_contributions / max(1, len(groups))
    plan = ContributionPlan(
        learner=run.backend.name, device=learner_device(run.learner),
        n_points=int(run.options["points"].size), n_sizes=int(np.unique(ks).size),
        n_samples=run.options["n_samples"], n_rounds=run.n_rounds, n_fits=run.n_fits,
        n_contributions=run.n_contributions, n_chunks=run.n_chunks,
        chunk_size=run.chunk_size, networks_per_call=calls, shard=shard,
        shard_chunks=tuple(ids), cache_directory=None if directory is None else str(directory),
        missing=missing, notes=tuple(notes))
    if calibrate == 0:
        return plan
    start = time.perf_counter()
    seconds = _calibrate(run, calibrate)
    elapsed = time.perf_counter() - start
    per_fit = np.interp(ks, seconds.index.to_numpy(float), seconds.to_numpy())
    round_seconds = per_round_fits * per_fit
    chunk_of_round = np.repeat(np.arange(run.n_chunks), [len(c) for c in run.chunks])
    chunk_seconds = np.bincount(chunk_of_round, weights=round_seconds, minlength=run.n_chunks)
    todo = ids if missing is None else list(missing)
    return replace(plan, seconds_per_fit=seconds, calibration_seconds=elapsed,
                   estimated_seconds=float(round_seconds.sum()),
                   shard_estimated_seconds=float(chunk_seconds[todo].sum()))
