"""Read-only commands write nothing, and neither does a command that fails."""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.pipelines import make_project
from lakecrew.wiring.context import Context

runner = CliRunner()


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_read_only_and_failed_commands_leave_every_file_as_it_was(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    Context.open(root, writable=True).close()  # system tables exist, as after any import
    runner.invoke(app, ["-p", str(root), "sql", "SELECT 1"])  # first open settles the files
    before = _snapshot(root)
    commands = [
        ["sql", "SELECT count(*) FROM system.billing.usage"],
        ["sql", "SHOW TABLES IN system.billing"],
        ["sql", "DESCRIBE system.billing.usage"],
        ["sql", "SELECT * FROM nope.nope.nope"],  # fails
        ["sql", "INSERT INTO system.billing.usage SELECT * FROM system.billing.usage"],  # refused
        ["findings"],
        ["actions"],
        ["estate", "validate"],
    ]
    for cmd in commands:
        result = runner.invoke(app, ["-p", str(root), *cmd])
        assert "internal error" not in result.stderr, (cmd, result.stderr)
    assert _snapshot(root) == before
