"""One writer per set of tables, checked at commit time (optimistic concurrency on Delta).

A pipeline run holds a flock so that a second run of the same pipeline and environment fails at
once; a writer that gets around the lock (another machine on a shared folder, a file system
without flock) is stopped here. A `Fence` remembers, for each table of the run, the version it
had when the run began. Every commit to one of them is made on top of exactly that version
(the DeltaTable loaded at it, `max_commit_retries=0`): Delta's commit is a put-if-absent of
`_delta_log/<version + 1>.json`, so if anyone else committed in between, the commit fails and
nothing of it becomes visible — a `Conflict` naming the table, never a doubled layer. The
fence's own commits carry its writer id in `commitInfo` (`lakecrew.writer`) and move the
expected version on, so one run may commit to a table many times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from deltalake import CommitProperties, DeltaTable

from lakecrew.core.errors import Conflict

WRITER_KEY = "lakecrew.writer"


def _commit_file(path: Path, version: int) -> Path:
    return path / "_delta_log" / f"{version:020d}.json"


def _writer_of(commit: Path) -> str | None:
    """The `lakecrew.writer` of a commit file (None when absent or unreadable)."""
    try:
        lines = commit.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        info = json.loads(line).get("commitInfo") if line.strip() else None
        if isinstance(info, dict):
            writer = info.get(WRITER_KEY)
            return writer if isinstance(writer, str) else None
    return None


@dataclass
class Fence:
    """The versions one writer expects its tables at (None: the table did not exist)."""

    writer: str
    expected: dict[str, int | None] = field(default_factory=dict)  # full name → version

    def covers(self, full_name: str) -> bool:
        return full_name in self.expected

    def properties(self) -> CommitProperties:
        """Commit on top of the expected version only, marked as this writer's."""
        return CommitProperties(max_commit_retries=0, custom_metadata={WRITER_KEY: self.writer})

    def check(self, full_name: str, path: Path) -> None:
        """Conflict when another writer committed to the table since this one last did."""
        expected = self.expected[full_name]
        after = 0 if expected is None else expected + 1
        if _commit_file(path, after).exists():
            raise self.conflict(full_name)

    def table(self, full_name: str, path: Path, live: DeltaTable | None = None) -> DeltaTable:
        """The table at the expected version (after `check`); commits go on top of it.
        `live`, an up-to-date open table, is used as is when it is at that version."""
        self.check(full_name, path)
        expected = self.expected[full_name]
        if expected is None:
            raise self.conflict(full_name)  # created by someone else: no version to build on
        if live is not None and live.version() == expected:
            return live
        return DeltaTable(str(path), version=expected)

    def adopt(self, full_name: str, path: Path) -> None:
        """Move the expected version over the commits this writer just made."""
        version = self.expected[full_name]
        nxt = 0 if version is None else version + 1
        while _writer_of(_commit_file(path, nxt)) == self.writer:
            self.expected[full_name] = nxt
            nxt += 1

    def conflict(self, full_name: str) -> Conflict:
        expected = self.expected.get(full_name)
        since = "it was created" if expected is None else f"version {expected}"
        return Conflict(
            f"another writer committed to this table since {since}, while this run was "
            "writing it; this run's commit was not made (nothing doubled)",
            where=full_name,
            fix="make sure one run per pipeline and environment writes at a time (the lock "
            "needs a file system with flock); rerun once the other run has finished",
        )
