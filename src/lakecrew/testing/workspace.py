"""A LocalWorkspace wired for tests: fixed clock, audit events recorded in a list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.ports.clock import FixedClock

T0 = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)


@dataclass
class RecordingAuditSink:
    """An audit sink that keeps every row; set `fail_with` to make it raise."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    fail_with: Exception | None = None

    def __call__(self, row: dict[str, Any]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.rows.append(row)


def local_workspace(
    db_path: Path, name: str = "ehealth-dev-eu", workspace_id: str = "1234567890123456"
) -> tuple[LocalWorkspace, RecordingAuditSink, FixedClock]:
    """A fresh LocalWorkspace over `db_path` with a FixedClock at T0 and a recording sink."""
    sink = RecordingAuditSink()
    clock = FixedClock(T0)
    return LocalWorkspace(name, workspace_id, db_path, sink, clock), sink, clock
