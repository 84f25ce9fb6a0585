"""Lock port: one sweep per workspace at a time.

`acquire(workspace, purpose)` returns a context manager that holds the lock; a second holder is
refused at once (never blocks) with a `Conflict` naming what holds it (a sweep, a rollback of
action X, …) and its pid. The lock dies with its process, so
a killed sweep never leaves a stale lock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class WorkspaceLocks(Protocol):
    def acquire(self, workspace: str, purpose: str = "sweep") -> AbstractContextManager[None]: ...
