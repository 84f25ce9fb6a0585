"""The one way lakecrew writes report and export files: atomic, no silent overwrite, no symlinks.

- `write_files(folder, {name: bytes}, force=)`: every file of one output, into one folder;
- `write_file(path, bytes, force=)`: one file (its folder is the output folder).

An existing file is refused unless `force` (a UsageError naming it, exit 2), checked for every
file before the first is written. Each file is written to a new temporary file in the same
folder (created exclusively: never through a planted link), flushed to disk and renamed over the
target, so a reader sees the old file or the new one, never half of one; a symlink at the target
is replaced by the file, never followed. `--out` naming a file where a folder is expected (or the
other way round) is a located UsageError.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from lakecrew.core.errors import UsageError


def write_files(
    folder: Path, files: Mapping[str, bytes], *, force: bool, option: str = "--out"
) -> list[Path]:
    """Write `files` into `folder` (created if needed); returns the paths written."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(
            f"{folder} is a file, not a folder", where=option, fix="give a folder to write into"
        )
    targets = []
    for name in files:
        if not name or "/" in name or name in (".", ".."):
            raise UsageError(f"invalid output file name {name!r}", where=option)
        targets.append(folder / name)
    _refuse_existing(targets, force, option)
    _mkdir(folder, option)
    for target, blob in zip(targets, files.values(), strict=True):
        _atomic(target, blob)
    return targets


def write_file(path: Path, blob: bytes, *, force: bool, option: str = "--out") -> Path:
    """Write one file atomically (see module doc); returns its path."""
    if path.is_dir() and not path.is_symlink():
        raise UsageError(f"{path} is a folder", where=option, fix="give a file name")
    _refuse_existing([path], force, option)
    _mkdir(path.parent, option)
    _atomic(path, blob)
    return path


def _refuse_existing(targets: list[Path], force: bool, option: str) -> None:
    if force:
        return
    existing = [t for t in targets if t.exists() or t.is_symlink()]
    if existing:
        shown = ", ".join(str(t) for t in existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise UsageError(
            f"{len(existing)} output file(s) exist: {shown}",
            where=option,
            fix="pass --force to replace them, or choose another --out",
        )


def _mkdir(folder: Path, option: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"{folder} cannot be a folder: a file is in the way", where=option
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot create {folder}: {exc.strerror}", where=option) from None


def _atomic(target: Path, blob: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)  # replaces a symlink at `target` itself, never its target
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
