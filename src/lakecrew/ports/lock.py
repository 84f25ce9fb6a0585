"""Lock port: one sweep per workspace at a time.

`acquire(workspace)` returns a context manager that holds the lock; a second holder is refused at
once (never blocks) with a `Conflict` naming the holder's pid. The lock dies with its process, so
a killed sweep never leaves a stale lock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class WorkspaceLocks(Protocol):
    def acquire(self, workspace: str) -> AbstractContextManager[None]: ...
