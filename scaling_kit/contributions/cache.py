"""A self-verifying on-disk cache of finished chunks (resume an interrupted run, reuse a run,
let several machines compute one run together).

Layout: ``<cache>/contributions-<run key[:20]>/`` holds ``run.json`` (the full run key, the
number of chunks, whether the run completed, and a description of the run: points, sizes,
row dtypes, rows per chunk; :func:`~scaling_kit.contributions.open_contributions` reads it) and
one file per chunk, ``chunk-NNNNNN.npz`` (default) or ``chunk-NNNNNN.parquet``
(``storage="parquet"``, needs the optional ``pyarrow``), with its rows (``point``, ``k``,
``sample`` in the table's compact dtypes), one float64 ``delta_<metric>`` array per metric and a
``meta`` record: format, full run key, chunk id, row count, metrics and a SHA-256 of the arrays.
Either format is read whichever the current call writes.

The *run key* is a SHA-256 over everything that changes the numbers: the cache format and
engine version, the kit's version, the learner's identity
(:func:`scaling_kit.backends.learner_cache_key`: class and hashed parameters, so ``tol`` and
``max_iter`` count), the data (bytes, shapes and dtypes of the four arrays), the points, sizes,
``n_samples``, metrics, sampling options, the seed (entropy, spawn key, pool size) and the
chunk size.

Loading a chunk verifies it against the plan: readable (a truncated, emptied or foreign file
raises BadZipFile, EOFError, pickle, Arrow or key errors: all caught), written for this run key
and this chunk id, holding exactly the rows the plan assigns to the chunk, and with intact
arrays (hash). A chunk that fails is recomputed with a
:class:`~scaling_kit.exceptions.CacheWarning` naming the file and the reason; with
``strict=True`` a :class:`~scaling_kit.exceptions.CacheError` is raised instead (and missing
chunks are an error too, all of them named at once: ``strict`` means "every number must come
from the cache", the merge step of a sharded run). Writes are atomic (:mod:`scaling_kit._io`),
so a killed run leaves only whole chunks and several processes filling one cache at once
agree.
"""

from __future__ import annotations

import importlib.util
import io
import json
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._io import atomic_save_npz, atomic_write_bytes, atomic_write_text, hash_arrays
from ..exceptions import CacheError, CacheWarning

__all__ = ["CACHE_FORMAT", "STORAGES", "ChunkCache", "check_storage", "chunk_path",
           "missing_message", "read_chunk", "run_directory", "verify_chunk"]

#: Version of the on-disk chunk layout; chunks written by another version are recomputed.
CACHE_FORMAT = 2
#: Chunk file formats: ``npz`` (numpy, always available) and ``parquet`` (optional pyarrow).
STORAGES = ("npz", "parquet")
_ROW_KEYS = ("point", "k", "sample")
_META_KEY = b"scaling_kit"
# what reading a damaged or foreign file can raise (pyarrow's errors subclass ValueError or
# OSError; ArrowException is added when pyarrow is importable)
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile,
                zlib.error)


def _read_errors():
    if importlib.util.find_spec("pyarrow") is None:
        return _READ_ERRORS
    import pyarrow as pa

    return _READ_ERRORS + (pa.ArrowException,)


def check_storage(storage) -> str:
    """``"npz"``, ``"parquet"`` (needs pyarrow) or ``"auto"`` (parquet when pyarrow is
    installed, else npz), returned as one of :data:`STORAGES`."""
    if storage == "auto":
        return "parquet" if importlib.util.find_spec("pyarrow") is not None else "npz"
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {STORAGES} or 'auto'; got {storage!r}.")
    if storage == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise ValueError("storage='parquet' needs pyarrow (pip install pyarrow); use "
                         "storage='npz' (always available) or 'auto'.")
    return storage


def run_directory(root, run_key: str) -> Path:
    """The folder of run ``run_key`` in the cache directory ``root``."""
    return Path(root) / f"contributions-{run_key[:20]}"


def chunk_path(directory, i: int, storage: str) -> Path:
    """The file of chunk ``i`` in a run's directory, in format ``storage``."""
    return Path(directory) / f"chunk-{i:06d}.{storage}"


def missing_message(directory, missing, n_chunks: int, storage: str = "npz") -> str:
    """What a missing-chunks error says: how many, which files, and which shards own them."""
    names = [chunk_path(directory, i, storage).name for i in missing[:20]]
    shown = ", ".join(names) + (", ..." if len(missing) > 20 else "")
    return (f"{len(missing)} of {n_chunks} chunks are missing from {directory} ({shown}; "
            "chunk i belongs to shard i % n of a run split in n shards)")


def read_chunk(path) -> tuple:
    """``(arrays, meta)`` of a chunk file (npz or parquet, by its suffix); raises what a
    damaged file raises (see the module docstring), never unpickles."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        with open(path, "rb") as fh:
            table = pq.read_table(fh)
        meta = json.loads((table.schema.metadata or {})[_META_KEY].decode("utf-8"))
        arrays = {name: table.column(name).to_numpy() for name in table.column_names}
        return arrays, meta
    # (own handle: closed even when np.load fails on a damaged file)
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    return arrays, json.loads(str(arrays.pop("meta")))


def _write_chunk(path: Path, arrays: dict, meta: dict):
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(arrays).replace_schema_metadata(
            {_META_KEY: json.dumps(meta).encode("utf-8")})
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        atomic_write_bytes(path, buffer.getvalue())
    else:
        atomic_save_npz(path, {**arrays, "meta": np.array(json.dumps(meta))})


def verify_chunk(arrays: dict, meta, run_key: str, i: int, metrics, n_rows=None):
    """None if a chunk's arrays and meta record are intact and belong to chunk ``i`` of run
    ``run_key`` (with ``n_rows`` rows when given), else the reason it does not."""
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
        return "has another cache format"
    if meta.get("run_key") != run_key:
        return "belongs to another run (run key differs)"
    if meta.get("chunk") != i:
        return f"holds chunk {meta.get('chunk')!r}, not chunk {i} (a copied or swapped file)"
    names = list(_ROW_KEYS) + ["delta_" + m for m in metrics]
    if sorted(arrays) != sorted(names) or list(meta.get("metrics", [])) != list(metrics):
        return f"holds arrays {sorted(arrays)}, expected {sorted(names)}"
    n = meta.get("n_rows") if n_rows is None else n_rows
    if meta.get("n_rows") != n or any(arrays[name].shape != (n,) for name in names):
        return f"does not hold the {n} rows of chunk {i} (truncated or edited)"
    if any(arrays["delta_" + m].dtype != np.float64 for m in metrics):
        return "holds contributions of the wrong dtype"
    if hash_arrays(arrays, names=names) != meta.get("sha256"):
        return "fails its checksum (edited or damaged)"
    return None


class ChunkCache:
    """The chunk files of one run (see the module docstring).

    ``description``: a JSON-able record of the run written into ``run.json``
    (:meth:`scaling_kit.contributions.run.PlannedRun.describe`)."""

    def __init__(self, root, run_key: str, n_chunks: int, metrics, *, strict: bool = False,
                 storage: str = "npz", description: dict | None = None):
        self.root = Path(root)
        self.run_key = run_key
        self.n_chunks = int(n_chunks)
        self.metrics = tuple(metrics)
        self.strict = bool(strict)
        self.storage = check_storage(storage)
        self.description = description
        self.directory = run_directory(self.root, run_key)
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
        elif self.description is not None and "description" not in record:
            self._write_manifest(self.complete)  # a record from before descriptions

    def _write_manifest(self, complete: bool):
        record = dict(format=CACHE_FORMAT, run_key=self.run_key, n_chunks=self.n_chunks,
                      metrics=list(self.metrics), complete=complete)
        if self.description is not None:
            record["description"] = self.description
        atomic_write_text(self.manifest, json.dumps(record, indent=1) + "\n")

    def mark_complete(self):
        """Record that every chunk was written (a later missing chunk is then reported)."""
        if not self.complete:
            self._write_manifest(True)
            self.complete = True

    # --- chunks ----------------------------------------------------------------------------
    def path(self, i: int) -> Path:
        """The file that chunk ``i`` is written to (this cache's ``storage``)."""
        return chunk_path(self.directory, i, self.storage)

    def existing(self, i: int):
        """The file of chunk ``i`` on disk (this cache's format first), or None."""
        for storage in (self.storage,) + tuple(s for s in STORAGES if s != self.storage):
            path = chunk_path(self.directory, i, storage)
            if path.is_file():
                return path
        return None

    def missing(self, ids=None) -> list:
        """The chunk ids among ``ids`` (default: all) without a file (not verified)."""
        ids = range(self.n_chunks) if ids is None else ids
        return [i for i in ids if self.existing(i) is None]

    def require(self, ids):
        """Raise :class:`~scaling_kit.exceptions.CacheError` naming every chunk of ``ids``
        without a file (the merge step of a sharded run, ``strict=True``)."""
        missing = self.missing(ids)
        if missing:
            raise CacheError(
                missing_message(self.directory, missing, self.n_chunks, self.storage)
                + "; strict=True forbids computing them. Finish the shards that own them, or "
                "pass strict=False to compute them here."
            )

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
        (``point``, ``k``, ``sample``), or None if it must be (re)computed."""
        path = self.existing(i)
        if path is None:
            path = self.path(i)
            if self.strict:
                self._damaged(path, "is missing")
            elif self.complete:
                self._damaged(path, "is missing from a completed run")
            return None
        try:
            arrays, meta = read_chunk(path)
            reason = verify_chunk(arrays, meta, self.run_key, i, self.metrics,
                                  n_rows=rows["point"].size)
            if reason is None:
                for key in _ROW_KEYS:
                    if not np.array_equal(arrays[key], rows[key]):
                        reason = f"holds other rows ({key}) than the plan assigns to chunk {i}"
                        break
        except _read_errors() as err:
            reason = f"is unreadable or damaged ({type(err).__name__}: {err})"
        if reason is not None:
            self._damaged(path, reason)
            return None
        return {name: arrays["delta_" + name] for name in self.metrics}

    def save(self, i: int, rows: dict, deltas: dict, row_dtypes: dict):
        """Write chunk ``i`` atomically (rows in ``row_dtypes``, deltas float64); a file of
        the chunk in the other format is removed."""
        arrays = {key: np.asarray(rows[key]).astype(row_dtypes[key]) for key in _ROW_KEYS}
        for name in self.metrics:
            arrays["delta_" + name] = np.asarray(deltas[name], dtype=np.float64)
        names = list(_ROW_KEYS) + ["delta_" + m for m in self.metrics]
        meta = dict(format=CACHE_FORMAT, run_key=self.run_key, chunk=int(i),
                    n_rows=int(arrays["point"].size), metrics=list(self.metrics),
                    sha256=hash_arrays(arrays, names=names))
        _write_chunk(self.path(i), arrays, meta)
        for storage in STORAGES:
            if storage != self.storage:
                chunk_path(self.directory, i, storage).unlink(missing_ok=True)
