"""A self-verifying on-disk cache of finished chunks (resume an interrupted run, reuse a run).

Layout: ``<cache>/contributions-<run key[:20]>/`` holds ``run.json`` (the full run key, the
number of chunks, whether the run completed) and one ``chunk-NNNNNN.npz`` per chunk with its
rows (``point``, ``k``, ``sample``), one ``delta_<metric>`` array per metric and a ``meta``
record: format, full run key, chunk id, row count, metrics and a SHA-256 of the arrays.

The *run key* is a SHA-256 over everything that changes the numbers: the cache format and
engine version, the kit's version, the learner's identity
(:func:`scaling_kit.backends.learner_cache_key`: class and hashed parameters, so ``tol`` and
``max_iter`` count), the data (bytes, shapes and dtypes of the four arrays), the points, sizes,
``n_samples``, metrics, sampling options, the seed (entropy, spawn key, pool size) and the
chunk size.

Loading a chunk verifies it against the plan: readable (a truncated, emptied or foreign file
raises BadZipFile, EOFError, pickle or key errors: all caught), written for this run key and
this chunk id, holding exactly the rows the plan assigns to the chunk, and with intact arrays
(hash). A chunk that fails is recomputed with a :class:`~scaling_kit.exceptions.CacheWarning`
naming the file and the reason; with ``strict=True`` a :class:`~scaling_kit.exceptions.
CacheError` is raised instead (and a missing chunk is an error too: ``strict`` means "every
number must come from the cache"). Writes are atomic (:mod:`scaling_kit._io`), so a killed
run leaves only whole chunks and two processes filling one cache at once agree.
"""

from __future__ import annotations

import json
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._io import atomic_save_npz, atomic_write_text, hash_arrays
from ..exceptions import CacheError, CacheWarning

__all__ = ["CACHE_FORMAT", "ChunkCache"]

#: Version of the on-disk chunk layout; chunks written by another version are recomputed.
CACHE_FORMAT = 2
_ROW_KEYS = ("point", "k", "sample")
# what np.load / reading a damaged or foreign file can raise
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error)


class ChunkCache:
    """The chunk files of one run (see the module docstring)."""

    def __init__(self, root, run_key: str, n_chunks: int, metrics, *, strict: bool = False):
        self.root = Path(root)
        self.run_key = run_key
        self.n_chunks = int(n_chunks)
        self.metrics = tuple(metrics)
        self.strict = bool(strict)
        self.directory = self.root / f"contributions-{run_key[:20]}"
        self.manifest = self.directory / "run.json"
        self.complete = False
        if self.strict and not self.directory.is_dir():
            raise CacheError(
                f"No cached run for these arguments in {self.root} (looked for "
                f"{self.directory.name}); strict=True forbids computing it. Pass strict=False."
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self._read_manifest()

    # --- the run record --------------------------------------------------------------------
    def _read_manifest(self):
        if not self.manifest.is_file():
            if not self.strict:
                self._write_manifest(False)
            return
        try:
            record = json.loads(self.manifest.read_text(encoding="utf-8"))
            foreign = record.get("run_key") != self.run_key or \
                record.get("n_chunks") != self.n_chunks
            self.complete = bool(record.get("complete")) and not foreign
        except (OSError, ValueError, AttributeError) as err:
            foreign, reason = True, f"is unreadable ({type(err).__name__})"
        else:
            reason = "belongs to another run"
        if foreign:
            self._damaged(self.manifest, reason)
            self._write_manifest(False)

    def _write_manifest(self, complete: bool):
        record = dict(format=CACHE_FORMAT, run_key=self.run_key, n_chunks=self.n_chunks,
                      metrics=list(self.metrics), complete=complete)
        atomic_write_text(self.manifest, json.dumps(record, indent=1) + "\n")

    def mark_complete(self):
        """Record that every chunk was written (a later missing chunk is then reported)."""
        if not self.complete:
            self._write_manifest(True)
            self.complete = True

    # --- chunks ----------------------------------------------------------------------------
    def path(self, i: int) -> Path:
        """The file of chunk ``i`` in this run's directory."""
        return self.directory / f"chunk-{i:06d}.npz"

    def _damaged(self, path: Path, reason: str):
        if self.strict:
            raise CacheError(
                f"Cache file {path} {reason}; strict=True forbids recomputing it. Delete it "
                f"(or the folder {self.directory}) or pass strict=False to recompute it."
            )
        warnings.warn(f"Cache file {path} {reason}; recomputing it.", CacheWarning,
                      stacklevel=4)

    def load(self, i: int, rows: dict):
        """The verified deltas ``{metric: array}`` of chunk ``i`` whose plan rows are ``rows``
        (int64 ``point``, ``k``, ``sample``), or None if it must be (re)computed."""
        path = self.path(i)
        if not path.is_file():
            if self.strict:
                self._damaged(path, "is missing")
            elif self.complete:
                self._damaged(path, "is missing from a completed run")
            return None
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}  # (own handle: closed
            # even when np.load fails on a damaged file)
            meta = json.loads(str(arrays.pop("meta")))
            reason = self._check(i, rows, arrays, meta)
        except _READ_ERRORS as err:
            reason = f"is unreadable or damaged ({type(err).__name__}: {err})"
        if reason is not None:
            self._damaged(path, reason)
            return None
        return {name: arrays["delta_" + name] for name in self.metrics}

    def _check(self, i, rows, arrays, meta):
        if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
            return "has another cache format"
        if meta.get("run_key") != self.run_key:
            return "belongs to another run (run key differs)"
        if meta.get("chunk") != i:
            return f"holds chunk {meta.get('chunk')!r}, not chunk {i} (a copied or swapped file)"
        names = list(_ROW_KEYS) + ["delta_" + m for m in self.metrics]
        if sorted(arrays) != sorted(names) or list(meta.get("metrics", [])) != list(self.metrics):
            return f"holds arrays {sorted(arrays)}, expected {sorted(names)}"
        n = rows["point"].size
        if meta.get("n_rows") != n or any(arrays[name].shape != (n,) for name in names):
            return f"does not hold the {n} rows of chunk {i} (truncated or edited)"
        for key in _ROW_KEYS:
            if not np.array_equal(arrays[key], rows[key]):
                return f"holds other rows ({key}) than the plan assigns to chunk {i}"
        if any(arrays["delta_" + m].dtype != np.float64 for m in self.metrics):
            return "holds contributions of the wrong dtype"
        if hash_arrays(arrays, names=names) != meta.get("sha256"):
            return "fails its checksum (edited or damaged)"
        return None

    def save(self, i: int, rows: dict, deltas: dict, row_dtypes: dict):
        """Write chunk ``i`` atomically (rows in ``row_dtypes``, deltas float64)."""
        arrays = {key: np.asarray(rows[key]).astype(row_dtypes[key]) for key in _ROW_KEYS}
        for name in self.metrics:
            arrays["delta_" + name] = np.asarray(deltas[name], dtype=np.float64)
        names = list(_ROW_KEYS) + ["delta_" + m for m in self.metrics]
        meta = dict(format=CACHE_FORMAT, run_key=self.run_key, chunk=int(i),
                    n_rows=int(arrays["point"].size), metrics=list(self.metrics),
                    sha256=hash_arrays(arrays, names=names))
        arrays["meta"] = np.array(json.dumps(meta))
        atomic_save_npz(self.path(i), arrays)
