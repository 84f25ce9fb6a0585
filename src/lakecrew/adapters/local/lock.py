"""Per-workspace sweep locks and one-writer pipeline locks (`pipeline.<name>.<env>`):
`fcntl.flock` on `<project>/.lakecrew/locks/<name>.lock`.

Non-blocking: a second sweep of the same workspace is refused with a `Conflict` naming the pid
that holds the lock. The kernel drops the lock when its process dies (even by kill -9), so no stale
lock survives a crash; the pid written in the file is informational only.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakecrew.core.errors import Conflict

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class FileLocks:
    """WorkspaceLocks over lock files in one folder."""

    def __init__(self, locks_dir: Path) -> None:
        self.locks_dir = Path(locks_dir)

    def path(self, workspace: str) -> Path:
        return self.locks_dir / f"{_SAFE.sub('_', workspace)}.lock"

    @contextmanager
    def acquire(self, workspace: str, purpose: str = "sweep") -> Iterator[None]:
        """Hold the workspace's lock for the duration of the block; Conflict if it is held.
        `purpose` (e.g. "rollback of action 1a2b3c") is written next to the pid so that the
        refusal says what holds the lock."""
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        path = self.path(workspace)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held = os.pread(fd, 256, 0).decode("utf-8", "replace").strip() or "unknown"
                holder, _, what = held.partition(" ")
                raise Conflict(
                    _held_message(workspace, holder, what or "sweep", purpose),
                    where=str(path),
                    fix="wait for it to finish, or stop that process; the lock is released "
                    "automatically when it exits",
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {purpose}".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _held_message(name: str, holder: str, what: str = "sweep", mine: str = "sweep") -> str:
    if name.startswith("pipeline."):
        _, pipeline, env = name.split(".", 2) if name.count(".") >= 2 else (name, name, "")
        return (
            f"another run of pipeline {pipeline!r} ({env}) is writing its tables (pid {holder}); "
            "this run did not start"
        )
    return (
        f"another {what} of workspace {name!r} is running (pid {holder}); "
        f"this {mine} was not started"
    )
