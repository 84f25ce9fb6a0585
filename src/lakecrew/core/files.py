"""Whole-file writes that a crash cannot leave half done (the one implementation).

`write_atomic(path, data)` writes to a temporary file in the same folder, fsyncs it, renames it
over `path` and fsyncs the folder: a reader sees the old file or the new one, whole, never a
mix; a failed write leaves no temporary file behind. `mode` sets the permissions before the
file becomes visible (0o600 for secrets; mkstemp's default is 0o600 too).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = None) -> Path:
    """Replace `path` with `data` (str is written as UTF-8) atomically; returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path
