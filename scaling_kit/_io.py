"""Atomic file writes: a reader never sees a half-written file.

The data go to a hidden temporary file in the same directory, are flushed to disk
(``os.fsync``) and then renamed over the target with ``os.replace``, which is atomic on POSIX
and Windows. A process killed mid-write leaves at most a hidden ``.<name>*.tmp`` file, never a
truncated target; two processes writing the same file leave one complete version.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["atomic_save_npz", "atomic_write_bytes", "atomic_write_text", "hash_arrays"]


def _atomic_write(path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_save_npz(path, arrays: dict, *, compressed: bool = False) -> Path:
    """Write ``arrays`` to ``path`` (.npz) atomically; create the directory if needed."""
    save = np.savez_compressed if compressed else np.savez
    return _atomic_write(path, lambda fh: save(fh, **arrays))


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; create the directory if needed."""
    return _atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; create the directory if needed."""
    return _atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def hash_arrays(arrays: dict, *, names=None) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``arrays`` (in ``names`` order,
    default sorted): a checksum stored beside cached arrays to detect damage or edits."""
    h = hashlib.sha256()
    for name in (sorted(arrays) if names is None else names):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
