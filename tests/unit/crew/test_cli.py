"""The crew commands end to end on a simulated project (in-process CLI runner)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.crew import ground_truth

WS = "malaria-dev-westafrica"


@pytest.fixture(scope="module")
def project(seed7_project: Path) -> tuple[Path, str]:
    root = seed7_project
    return root, ground_truth(root)["now"]


def _run(root: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--project", str(root), "--output", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _workspace_state(root: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(root / ".lakecrew" / "workspace.db") as conn:
        return conn.execute(
            "SELECT workspace, kind, object_id, body FROM workspace_objects ORDER BY 1, 2, 3"
        ).fetchall()


def test_phase_1_json_lists_findings_and_changes_nothing(project: tuple[Path, str]) -> None:
    root, now = project
    before = _workspace_state(root)
    out = _run(root, "sweep", "--phase", "1", "--apply", "--now", now)
    assert _workspace_state(root) == before
    assert out["kind"] == "sweep"
    findings = [f for s in out["items"] for f in s["findings"]]
    assert findings and all(
        {"rule_id", "resource_type", "resource_id", "workspace", "severity", "fingerprint"}
        <= f.keys()
        for f in findings
    )
    assert all(not s["applied"] for s in out["items"])
    rows = _run(root, "sql", "SELECT count(*) AS n FROM lakecrew.crew.findings")["items"]
    assert rows[0]["n"] == len({f["fingerprint"] for f in findings})


def test_phase_2_apply_rerun_and_rollback(project: tuple[Path, str]) -> None:
    root, now = project
    before = _workspace_state(root)
    out = _run(root, "sweep", "--workspace", WS, "--phase", "2", "--apply", "--now", now)
    applied = {a["action_id"]: a for a in out["items"][0]["plan"] if a["status"] == "applied"}
    assert set(out["items"][0]["applied"]) == set(applied)
    assert {a["action"] for a in applied.values()} == {"add_tags", "terminate"}
    after = _workspace_state(root)
    old = set(before)
    changed = {(w, k, i) for (w, k, i, b) in after if (w, k, i, b) not in old}
    assert changed == {(WS, "clusters", a["resource_id"]) for a in applied.values()}
    again = _run(root, "sweep", "--workspace", WS, "--phase", "2", "--apply", "--now", now)
    assert again["items"][0]["applied"] == []
    assert _workspace_state(root) == after
    listed = _run(root, "actions", "--workspace", WS, "--status", "applied")["items"]
    assert {a["action_id"] for a in listed} == set(applied)
    assert all(isinstance(a["before"], dict) and isinstance(a["target"], dict) for a in listed)
    for action_id in applied:
        assert _run(root, "rollback", action_id)["items"][0]["status"] == "rolled_back"
    assert _workspace_state(root) == before
    resolved = _run(root, "findings", "--workspace", WS, "--status", "resolved")["items"]
    assert {f["rule_id"] for f in resolved} == {"cluster.idle", "cluster.tags_missing"}


def test_exempt_validates_and_records(project: tuple[Path, str]) -> None:
    root, _ = project
    out = _run(
        root,
        "exempt",
        "cluster.idle",
        "c-1",
        "--reason",
        "training",
        "--until",
        "2099-01-01T00:00:00+00:00",
        "--approver",
        "dgb@x.example",
    )
    item = out["items"][0]
    assert item["approver"] == "dgb@x.example" and item["rule_id"] == "cluster.idle"
    bad = CliRunner().invoke(
        app,
        [
            "exempt",
            "cluster.idle",
            "c-1",
            "--reason",
            "x",
            "--until",
            "2001-01-01T00:00:00+00:00",
            "--approver",
            "a",
            "--project",
            str(root),
        ],
    )
    assert bad.exit_code == 2 and "in the past" in bad.output


def test_approve_refuses_an_unknown_action(project: tuple[Path, str]) -> None:
    root, _ = project
    result = CliRunner().invoke(
        app, ["approve", "abcdef012345", "--approver", "lead", "--project", str(root)]
    )
    assert result.exit_code != 0
    assert "no action matches 'abcdef012345'" in result.output


def test_until_accepts_a_bare_date_as_that_days_end_in_utc() -> None:
    from datetime import UTC, datetime

    import pytest as _pytest

    from lakecrew.core.errors import UsageError
    from lakecrew.faces.cli.crew import _parse_time

    assert _parse_time("2026-12-31", "--until") == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert _parse_time("2026-03-02T10:00:00+00:00", "--now").hour == 10
    with _pytest.raises(UsageError, match="not a date"):
        _parse_time("2026-13-45", "--until")
    with _pytest.raises(UsageError, match="no timezone"):
        _parse_time("2026-03-02T10:00:00", "--now")
