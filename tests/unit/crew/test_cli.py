"""The crew commands end to end on a simulated project (in-process CLI runner)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, get_args

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.crew import ActionStatusChoice, FindingStatusChoice
from lakecrew.faces.cli.main import app
from lakecrew.ports.ledger import ActionStatus, FindingStatus
from lakecrew.services.crew.observer import ESTATE_SCOPE
from lakecrew.testing.crew import ground_truth

WS = "malaria-dev-westafrica"


@pytest.fixture(scope="module")
def project(seed7_project: Path) -> tuple[Path, str]:
    root = seed7_project
    return root, ground_truth(root)["now"]


@pytest.fixture(scope="module")
def phase_1(project: tuple[Path, str]) -> tuple[list[Any], Any, list[Any]]:
    """One phase-1 sweep of the whole estate with --apply (the slow command of this module, run
    once): the workspace objects before it, its JSON output, the workspace objects after it."""
    root, now = project
    before = _workspace_state(root)
    out = _run(root, "sweep", "--phase", "1", "--apply", "--now", now)
    return before, out, _workspace_state(root)


@pytest.fixture(scope="module")
def cost_report(project: tuple[Path, str]) -> Any:
    """`cost report --as-of now` as JSON (read-only; shared by the schema and piped-text tests)."""
    root, now = project
    return _run(root, "cost", "report", "--as-of", now)


def _run(root: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--project", str(root), "--output", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _workspace_state(root: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(root / ".lakecrew" / "workspace.db") as conn:
        return conn.execute(
            "SELECT workspace, kind, object_id, body FROM workspace_objects ORDER BY 1, 2, 3"
        ).fetchall()


@pytest.mark.slow  # sweeps the whole estate (13 workspaces and the estate scope)
def test_phase_1_json_lists_findings_and_changes_nothing(
    project: tuple[Path, str], phase_1: tuple[list[Any], Any, list[Any]]
) -> None:
    root, _ = project
    before, out, after = phase_1
    assert after == before
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


def test_the_status_choices_are_the_ledgers_statuses() -> None:
    assert [c.value for c in FindingStatusChoice] == list(get_args(FindingStatus))
    assert [c.value for c in ActionStatusChoice] == list(get_args(ActionStatus))


def test_a_misspelt_finding_status_is_a_usage_error_not_an_empty_list(
    project: tuple[Path, str],
) -> None:
    root, _ = project
    result = CliRunner().invoke(app, ["findings", "--status", "opn", "--project", str(root)])
    assert result.exit_code == 2 and "'opn' is not one of 'open', 'resolved', 'exempted'" in (
        " ".join(result.output.replace("│", " ").split())
    )
    typo = CliRunner().invoke(app, ["actions", "--status", "aplied", "--project", str(root)])
    assert typo.exit_code == 2 and "'aplied' is not one of 'planned'" in (
        " ".join(typo.output.replace("│", " ").split())
    )


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


SCHEMAS = Path(__file__).parents[3] / "src" / "lakecrew" / "faces" / "cli" / "schemas"


def _text(root: Path, *args: str) -> str:
    """A command's text output as a script sees it: piped (CliRunner's stdout is no terminal)."""
    result = CliRunner().invoke(app, [*args, "--project", str(root)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_outputs_validate_against_their_schemas(
    project: tuple[Path, str], cost_report: Any, tmp_path: Path
) -> None:
    from jsonschema import Draft202012Validator

    root, now = project
    assert CliRunner().invoke(app, ["init", "--project", str(tmp_path)]).exit_code == 0
    runs = {
        "sweep": ("sweep", "--workspace", WS, "--phase", "2", "--now", now),
        "findings": ("findings",),
        "actions": ("actions",),
        "sql": ("sql", "SELECT map('a', 1) AS m, CAST(1.5 AS DECIMAL(5,2)) AS d, NULL AS n"),
        "policy_rules": ("policy", "rules"),
        "estate_summary": ("estate", "summary"),
        "estate_validate": ("estate", "validate", "--skip-auth"),  # on a starter project
        "cost_report": ("cost", "report", "--as-of", now),
    }
    files = {p.name.removesuffix(".schema.json"): p for p in SCHEMAS.glob("*.schema.json")}
    assert set(runs) <= set(files), "every kind checked here has a schema file"
    for kind, args in runs.items():
        schema = json.loads(files[kind].read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        if kind == "cost_report":
            out = cost_report  # the same command, run once for the module
        else:
            out = _run(tmp_path if kind == "estate_validate" else root, *args)
        errors = sorted(Draft202012Validator(schema).iter_errors(out), key=str)
        assert not errors, f"{kind}: {errors[0].json_path}: {errors[0].message}"
    row = _run(root, *runs["sql"])["items"][0]
    assert row == {"m": {"a": 1}, "d": "1.50", "n": None}  # a map is an object, a decimal a string


@pytest.mark.slow  # the whole-estate sweep above, then the biggest workspace's and a cost report
def test_the_longest_ids_appear_whole_in_piped_output(
    project: tuple[Path, str], phase_1: Any, cost_report: Any
) -> None:
    """Like gh: piped text is one tab-separated line per row with full values, never cut."""
    root, now = project  # phase_1: the whole estate swept, so findings exist whatever ran first
    findings = _run(root, "findings")["items"]
    top = max(findings, key=lambda f: len(f["resource_id"]))
    longest = top["resource_id"]
    workspace = max((f["workspace"] for f in findings), key=len)
    # the piped sweep of the scope holding the longest id (the estate scope: a whole sweep)
    scope = () if top["workspace"] == ESTATE_SCOPE else ("--workspace", top["workspace"])
    sweep = _text(root, "sweep", "--phase", "1", *scope, "--now", now)
    fields = [line.split("\t") for line in _text(root, "findings").splitlines()]
    assert any(longest in row for row in fields), longest
    assert any(workspace in row for row in fields), workspace
    assert all(len(row) == len(fields[0]) for row in fields)  # one row per line, same columns
    swept = [line.split("\t") for line in sweep.splitlines()]
    assert any(longest in row for row in swept) and "…" not in sweep
    report = cost_report["items"][0]
    prod = next(e for e in report["sla"]["environments"] if e["environment"] == "prod")
    assert prod["target_pct"] == 99.0 and prod["status"] in ("met", "breached")  # SLA section
    ids = [b["id"] for b in report["budgets"]] + [r["resource"] for r in report["recommendations"]]
    text = _text(root, "cost", "report", "--as-of", now)
    cells = {cell for line in text.splitlines() for cell in line.split("\t")}
    assert max(ids, key=len) in cells and "…" not in text


def test_text_renders_values_never_python_reprs(project: tuple[Path, str]) -> None:
    root, _ = project
    query = "SELECT map('k', 'v') AS m, NULL AS n, X'00ff' AS b, [1, 2] AS a"
    assert _text(root, "sql", query) == '{"k": "v"}\tNULL\t0x00ff\t[1, 2]\n'


def test_unknown_names_are_usage_errors_with_a_suggestion(project: tuple[Path, str]) -> None:
    root, _ = project
    for args, hint in (
        (("findings", "--rule", "cluster.idel"), "did you mean 'cluster.idle'?"),
        (("findings", "--workspace", "malaria-dev-westafrika"), "did you mean '" + WS),
        (("policy", "show", "cluster.tag_missing"), "did you mean 'cluster.tags_missing'?"),
        (("sweep", "--workspace", "malaria-dev", "--phase", "1"), "did you mean '" + WS),
    ):
        result = CliRunner().invoke(app, [*args, "--project", str(root)])
        assert result.exit_code == 2, (args, result.output)
        assert hint in result.stderr and result.stderr.count("\n") == 1, result.stderr
