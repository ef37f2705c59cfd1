"""Read a cached run lazily: summaries and per-point tables without the whole table in memory.

A run computed with ``cache=DIR`` (in one process, on a cluster, or as shards) lives in
``DIR/contributions-<key>/`` as chunk files and a ``run.json`` that describes it
(:mod:`.cache`). :func:`open_contributions` opens it without the data or the learner:

* :meth:`ContributionStore.summarize` streams the chunks once and keeps only per-(point, k)
  accumulators (count, mean, sum of squared deviations), merged chunk by chunk with the
  parallel update of Chan, Golub & LeVeque (1979)::

      n = n_a + n_b,  d = mean_b - mean_a,  mean = mean_a + d n_b / n,
      M2 = M2_a + M2_b + d^2 n_a n_b / n,   std = sqrt(M2 / (n - 1)),

  the same quantities as :func:`~scaling_kit.contributions.summarize_contributions` (psi_z(k)
  estimates, docs/math.md §3) up to rounding, in memory proportional to the number of
  (point, k) cells, not of contributions;
* :meth:`ContributionStore.iter_points` yields one point's rows at a time, reading the chunks
  in passes over blocks of points sized to ``max_rows``;
* :meth:`ContributionStore.table` assembles the tidy table (all points or some), identical to
  what :func:`~scaling_kit.contributions.sample_contributions` returns for the run.

Every chunk read is verified (run key, chunk id, row count, checksum; :func:`.cache.
verify_chunk`); a missing or damaged chunk raises :class:`~scaling_kit.exceptions.CacheError`
naming it (a store never computes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import CacheError
from .cache import STORAGES, chunk_path, missing_message, read_chunk, verify_chunk
from .cache import _read_errors as _chunk_read_errors
from .table import build_table, delta_column

__all__ = ["ContributionStore", "open_contributions"]

_ROW_KEYS = ("point", "k", "sample")


def _run_directories(root: Path) -> list:
    return sorted(d for d in root.glob("contributions-*") if (d / "run.json").is_file())


def open_contributions(cache, run=None) -> ContributionStore:
    """Open a cached run for lazy reading (see the module docstring).

    ``cache`` is the directory passed as ``cache=`` to
    :func:`~scaling_kit.contributions.sample_contributions` (or one run's
    ``contributions-<key>`` folder inside it). When it holds several runs, ``run`` picks one
    by the start of its key (the folder name's suffix); the error lists them.
    """
    if not isinstance(cache, (str, Path)):
        raise TypeError(f"cache must be a directory (str or pathlib.Path); got {cache!r} "
                        f"({type(cache).__name__}).")
    root = Path(cache)
    if (root / "run.json").is_file():
        return ContributionStore(root)
    if not root.is_dir():
        raise ValueError(f"cache: {root} is not a directory; pass the cache= directory of a "
                         "run of sample_contributions.")
    runs = _run_directories(root)
    if run is not None:
        if not isinstance(run, str) or not run:
            raise TypeError(f"run must be the start of a run key (str); got {run!r}.")
        runs = [d for d in runs if d.name.removeprefix("contributions-").startswith(run)]
    if len(runs) == 1:
        return ContributionStore(runs[0])
    if not runs:
        raise ValueError(f"cache: no cached run{'' if run is None else f' {run!r}'} in {root} "
                         "(looked for contributions-*/run.json).")
    listing = "; ".join(f"{d.name.removeprefix('contributions-')}: "
                        f"{ContributionStore(d).label}" for d in runs)
    raise ValueError(f"cache: {root} holds {len(runs)} runs ({listing}); pass run= with the "
                     "start of one key.")


class ContributionStore:
    """The chunks of one cached run, read lazily (see the module docstring)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        try:
            record = json.loads((self.directory / "run.json").read_text(encoding="utf-8"))
            self.run_key = record["run_key"]
            self.n_chunks = int(record["n_chunks"])
            self.metrics = list(record["metrics"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CacheError(f"{self.directory / 'run.json'} is unreadable or damaged "
                             f"({type(err).__name__}: {err}).") from err
        self.complete = bool(record.get("complete"))
        self.description = record.get("description")
        if self.description is None:
            raise CacheError(f"{self.directory} was written by an older version of the kit "
                             "(no run description); rerun sample_contributions with the same "
                             "arguments and cache= once to add it.")
        self.row_dtypes = {key: np.dtype(d) for key, d in
                           self.description["row_dtypes"].items()}
        self.chunk_rows = np.asarray(self.description["chunk_rows"], dtype=np.int64)

    # --- what the run is ---------------------------------------------------------------------
    @property
    def label(self) -> str:
        """A one-line description: learner, points, sizes, samples."""
        d = self.description
        sizes = f"k={d['ks']}" if d["ks"] is not None else f"k_range={tuple(d['k_range'])}"
        return (f"{d['learner_name']}, {len(d['points'])} points, {sizes}, "
                f"{d['n_samples']} samples, {d['n_contributions']:,} contributions")

    @property
    def points(self) -> np.ndarray:
        """The pool indices of the run's points (sorted)."""
        return np.asarray(self.description["points"], dtype=np.int64)

    @property
    def n_contributions(self) -> int:
        """Rows of the full table."""
        return int(self.chunk_rows.sum())

    def __repr__(self):
        return f"ContributionStore({str(self.directory)!r}: {self.label})"

    # --- chunks ------------------------------------------------------------------------------
    def _path(self, i: int):
        for storage in STORAGES:
            path = chunk_path(self.directory, i, storage)
            if path.is_file():
                return path
        return None

    def missing_chunks(self) -> list:
        """Ids of the chunks without a file (not yet computed by their shard)."""
        return [i for i in range(self.n_chunks) if self._path(i) is None]

    def _require_complete(self):
        missing = self.missing_chunks()
        if missing:
            raise CacheError(missing_message(self.directory, missing, self.n_chunks)
                             + ". Finish the shards that own them first.")

    def chunk(self, i: int) -> dict:
        """The verified arrays of chunk ``i``: ``point``, ``k``, ``sample`` (compact dtypes) and
        ``delta_<metric>`` (float64)."""
        path = self._path(i)
        if path is None:
            raise CacheError(f"Chunk {i} of {self.directory} is missing; compute it first "
                             "(its shard, or sample_contributions with this cache).")
        try:
            arrays, meta = read_chunk(path)
            reason = verify_chunk(arrays, meta, self.run_key, i, self.metrics,
                                  n_rows=int(self.chunk_rows[i]))
        except _chunk_read_errors() as err:
            reason = f"is unreadable or damaged ({type(err).__name__}: {err})"
        if reason is not None:
            raise CacheError(f"Cache file {path} {reason}. Delete it and rerun "
                             "sample_contributions with this cache to recompute it.")
        for key in _ROW_KEYS:
            arrays[key] = arrays[key].astype(self.row_dtypes[key], copy=False)
        return arrays

    def nbytes_on_disk(self) -> int:
        """Bytes of the chunk files and the run record."""
        files = [self._path(i) for i in range(self.n_chunks)] + [self.directory / "run.json"]
        return sum(f.stat().st_size for f in files if f is not None)

    # --- reading -----------------------------------------------------------------------------
    def _column(self, metric):
        if metric is None:
            return "delta_" + self.metrics[0]
        delta_column(metric, self.metrics)  # checks that it was sampled
        return "delta_" + metric

    def summarize(self, metric=None) -> pd.DataFrame:
        """Per-(point, k) ``mean``, ``std`` (ddof=1), ``count`` and ``sem`` of a metric's
        contributions (default: the first), streamed over the chunks (module docstring);
        the frame :func:`~scaling_kit.contributions.summarize_contributions` returns for the
        full table, up to rounding."""
        self._require_complete()
        column = self._column(metric)
        points = self.points
        d = self.description
        ks = np.asarray(d["ks"] if d["ks"] is not None
                        else np.arange(d["k_range"][0], d["k_range"][1] + 1), dtype=np.int64)
        n_cells = points.size * ks.size
        count = np.zeros(n_cells)
        mean = np.zeros(n_cells)
        m2 = np.zeros(n_cells)
        for i in range(self.n_chunks):
            arrays = self.chunk(i)
            cell = (np.searchsorted(points, arrays["point"]) * ks.size
                    + np.searchsorted(ks, arrays["k"]))
            cells, inverse = np.unique(cell, return_inverse=True)
            x = arrays[column]
            n_b = np.bincount(inverse).astype(float)
            mean_b = np.bincount(inverse, weights=x) / n_b
            m2_b = np.bincount(inverse, weights=(x - mean_b[inverse]) ** 2)
            n_a = count[cells]
            n = n_a + n_b
            delta = mean_b - mean[cells]
            mean[cells] += delta * (n_b / n)
            m2[cells] += m2_b + delta ** 2 * (n_a * n_b / n)
            count[cells] = n
        seen = count > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.where(count > 1, np.sqrt(m2 / (count - 1)), np.nan)
        index = pd.MultiIndex.from_arrays(
            [np.repeat(points, ks.size)[seen].astype(self.row_dtypes["point"]),
             np.tile(ks, points.size)[seen].astype(self.row_dtypes["k"])], names=["point", "k"])
        out = pd.DataFrame({"mean": mean[seen], "std": std[seen],
                            "count": count[seen].astype(np.int64)}, index=index)
        out["sem"] = out["std"] / np.sqrt(out["count"])
        return out

    def iter_points(self, points=None, *, max_rows: int = 2_000_000):
        """Yield ``(point, table)`` for each point (all, or ``points``) in order, where
        ``table`` holds that point's rows (as :meth:`table` would). The chunks are read in
        passes over blocks of points of at most about ``max_rows`` rows in all."""
        wanted = self.points if points is None else self._check_points(points)
        per_point = max(1, self.n_contributions // max(1, self.points.size))
        block = max(1, int(max_rows) // per_point)
        for start in range(0, wanted.size, block):
            part = self.table(wanted[start:start + block])
            for point, rows in part.groupby("point", sort=True):
                yield int(point), rows.reset_index(drop=True)

    def _check_points(self, points) -> np.ndarray:
        wanted = np.unique(np.asarray(points, dtype=np.int64))
        unknown = np.setdiff1d(wanted, self.points)
        if unknown.size:
            raise ValueError(f"points {unknown[:10].tolist()} are not in this run (it has "
                             f"{self.points.size} points).")
        return wanted

    def table(self, points=None) -> pd.DataFrame:
        """The tidy table of the run (all points, or only ``points``): the columns, order,
        dtypes and ``attrs`` of :func:`~scaling_kit.contributions.sample_contributions`."""
        self._require_complete()
        wanted = None if points is None else self._check_points(points)
        parts = []
        for i in range(self.n_chunks):
            arrays = self.chunk(i)
            if wanted is not None:
                keep = np.isin(arrays["point"], wanted)
                arrays = {name: a[keep] for name, a in arrays.items()}
            parts.append(arrays)
        rows = {key: np.concatenate([a[key] for a in parts]) for key in _ROW_KEYS}
        deltas = {m: np.concatenate([a["delta_" + m] for a in parts]) for m in self.metrics}
        return build_table(rows, deltas, self.metrics, self.row_dtypes,
                           dict(self.description["attrs"]))
