"""Atomic file writes: a reader never sees a half-written file (write to a temporary file in
the same directory, then ``os.replace``, which is atomic on POSIX and Windows)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_save_npz(path, arrays: dict, *, compressed: bool = False) -> Path:
    """Write ``arrays`` to ``path`` (.npz) atomically; create the directory if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp.npz")
    os.close(fd)
    try:
        (np.savez_compressed if compressed else np.savez)(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
