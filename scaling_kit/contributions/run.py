"""One planned run of :func:`~scaling_kit.contributions.sample_contributions`.

Everything that is fixed before any work starts: the checked arguments, the rounds and chunks
of the plan (:mod:`.plan`), the rows each chunk produces, the compact dtypes of the table's
integer columns and the *run key*, a SHA-256 that identifies the run on disk (the cache, the
shards of one run and :func:`~scaling_kit.contributions.open_contributions` find each other
through it). :func:`prepare_run` builds it; the sampler, the planner
(:func:`~scaling_kit.contributions.plan_contributions`) and the command line share it, so they
cannot disagree about which chunk holds which rows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import __version__
from .._checks import Problem, as_problem, check_bool, check_indices, check_int, seed_sequence
from ..backends import LearnerBackend, get_backend
from ..metrics import check_metrics
from ..sampling import StratifiedSampler
from .cache import run_directory
from .plan import check_plan_sizes, chunk_rounds, chunk_rows, plan_rounds
from .table import build_table, compact_int_dtype

__all__ = ["ENGINE_VERSION", "PlannedRun", "prepare_run"]

#: bump when a change to the computation changes the numbers (invalidates caches)
ENGINE_VERSION = "4"  # 4: the verified engine (scaling_kit.engine) with the planned run and shards


@dataclass
class PlannedRun:
    """A run fixed before any work starts (see the module docstring).

    ``rounds``: every drawn dataset in plan order; ``chunks``: consecutive rounds of about
    ``chunk_size`` contributions; ``rows[i]``: the ``point``, ``k``, ``sample`` arrays of chunk
    ``i`` in the table's compact dtypes (``row_dtypes``).
    """

    learner: object
    backend: LearnerBackend | None
    problem: Problem
    sampler: StratifiedSampler
    seq: np.random.SeedSequence
    metrics: list
    options: dict
    chunk_size: int
    rounds: list
    chunks: list
    row_dtypes: dict = field(default_factory=dict)

    @property
    def n_chunks(self) -> int:
        """Number of chunks (units of parallel work, caching and sharding)."""
        return len(self.chunks)

    @property
    def n_rounds(self) -> int:
        """Number of drawn datasets D."""
        return len(self.rounds)

    @cached_property
    def chunk_sizes(self) -> np.ndarray:
        """Contributions (table rows) per chunk."""
        return np.array([sum(rnd.points.size for rnd in chunk) for chunk in self.chunks],
                        dtype=np.int64)

    @property
    def n_contributions(self) -> int:
        """Rows of the full table: ``len(points) * len(k) * n_samples`` (or ``* n_samples``
        with ``k_range``)."""
        return int(self.chunk_sizes.sum())

    @property
    def n_fits(self) -> int:
        """Model fits: one on every D and one on every D + {z}."""
        return self.n_rounds + self.n_contributions

    @cached_property
    def rows(self) -> list:
        """The rows of every chunk, in plan order and compact dtypes."""
        return [{key: value.astype(self.row_dtypes[key])
                 for key, value in chunk_rows(chunk).items()} for chunk in self.chunks]

    @cached_property
    def run_key(self) -> str:
        """SHA-256 over everything that changes the numbers (:mod:`.cache` lists it)."""
        o = self.options
        h = hashlib.sha256()
        seq = self.seq
        header = dict(engine=ENGINE_VERSION, kit=__version__, learner=self.backend.cache_key(),
                      metrics=list(self.metrics), chunk_size=self.chunk_size,
                      seed=[np.asarray(seq.entropy).tolist(), list(seq.spawn_key),
                            seq.pool_size],
                      points=o["points"].tolist(),
                      ks=None if o["ks"] is None else o["ks"].tolist(),
                      k_range=o["k_range"], n_samples=o["n_samples"],
                      share=o["share"], allow_z_in_D=o["allow_z_in_D"])
        h.update(json.dumps(header, sort_keys=True).encode())
        p = self.problem
        for a in (p.X_pool, p.y_pool, p.X_test, p.y_test):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}|{a.shape}|".encode())
            h.update(a.tobytes())
        return h.hexdigest()

    def directory(self, cache) -> Path:
        """This run's folder in the cache directory ``cache``."""
        return run_directory(cache, self.run_key)

    @property
    def table_attrs(self) -> dict:
        """``DataFrame.attrs`` of the table (besides ``metrics``)."""
        return dict(n_classes=self.problem.n_classes, share_datasets=self.options["share"],
                    allow_z_in_D=self.options["allow_z_in_D"])

    def describe(self) -> dict:
        """A JSON-able record of the run, written beside its cached chunks so that
        :func:`~scaling_kit.contributions.open_contributions` can read them without the data."""
        o = self.options
        return dict(learner=self.backend.cache_key(), learner_name=self.backend.name,
                    n_pool=int(self.problem.X_pool.shape[0]),
                    points=o["points"].tolist(),
                    ks=None if o["ks"] is None else o["ks"].tolist(),
                    k_range=None if o["k_range"] is None else list(o["k_range"]),
                    n_samples=o["n_samples"], chunk_size=self.chunk_size,
                    n_rounds=self.n_rounds, n_contributions=self.n_contributions,
                    chunk_rows=self.chunk_sizes.tolist(),
                    row_dtypes={key: np.dtype(d).str for key, d in self.row_dtypes.items()},
                    attrs=self.table_attrs)

    def table(self, ids, deltas: dict):
        """The tidy table of chunks ``ids`` whose Deltas are ``deltas[i] = {metric: array}``
        (:func:`~scaling_kit.contributions.table.build_table`)."""
        ids = list(ids)
        if ids:
            rows = {key: np.concatenate([self.rows[i][key] for i in ids])
                    for key in ("point", "k", "sample")}
            values = {m: np.concatenate([deltas[i][m] for i in ids]) for m in self.metrics}
        else:
            rows = {key: np.empty(0, self.row_dtypes[key]) for key in ("point", "k", "sample")}
            values = {m: np.empty(0) for m in self.metrics}
        return build_table(rows, values, self.metrics, self.row_dtypes, self.table_attrs)


def prepare_run(learner, data, points, *, k=None, k_range=None, n_samples=100,
                metric="log_loss", share_datasets=True, allow_z_in_D=False, random_state=None,
                chunk_size=2000) -> PlannedRun:
    """Check the arguments of :func:`~scaling_kit.contributions.sample_contributions` (same
    meaning) and fix its plan: rounds, chunks and row dtypes. ``learner=None`` plans without
    a learner (the datasets only; no run key)."""
    metrics = check_metrics(metric)
    backend = None if learner is None else get_backend(learner)
    chunk_size = check_int(chunk_size, "chunk_size", low=1)
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
    row_dtypes = {
        "point": compact_int_dtype(problem.X_pool.shape[0] - 1),
        "k": compact_int_dtype(max(rnd.k for rnd in rounds), at_least=np.int32),  # log k: float64
        "sample": compact_int_dtype(n_samples - 1),
    }
    return PlannedRun(learner, backend, problem, sampler, seq, metrics, options, chunk_size,
                      rounds, chunk_rounds(rounds, chunk_size), row_dtypes)
