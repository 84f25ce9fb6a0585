"""`lakecrew govern | access | compliance` on the simulated estate: JSON outputs validate
against their schemas, the temporary-access lifecycle through the CLI (grant → expiry sweep →
rollback), and the compliance report in its three formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app

SCHEMAS = Path(__file__).parents[3] / "src" / "lakecrew" / "faces" / "cli" / "schemas"
LATER = "2027-02-01T00:00:00+00:00"


def _json(root: Path, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--project", str(root), "--output", "json"])
    assert result.exit_code == code, result.output
    out = json.loads(result.stdout)
    schema = json.loads((SCHEMAS / f"{out['kind']}.schema.json").read_text())
    errors = list(Draft202012Validator(schema).iter_errors(out))
    assert not errors, errors[:3]
    return out


def test_review_grant_expire_rollback_and_report(seed7_project: Path, tmp_path: Path) -> None:
    root = seed7_project
    rev = _json(root, "access", "review")
    assert rev["meta"]["grants"] == len(rev["items"]) > 0
    assert rev["meta"]["flags"]["user_grant"] > 0
    read = [i for i in rev["items"] if i["securable"].endswith(".gold.weekly_summary")]
    assert read and all(i["last_used"] for i in read)  # the audit log's getTable reads count
    table = rev["items"][0]["securable"]
    granted = _json(
        root,
        "access",
        "grant",
        "amina@moh.example",
        "SELECT",
        table,
        "--until",
        "2027-01-15",
        "--reason",
        "outbreak",
        "--approver",
        "steward",
    )
    assert granted["items"][0]["status"] == "applied"
    plan = _json(root, "access", "expire", "--now", LATER)
    principals = [i["resource_id"].split(" ")[-1] for i in plan["items"]]
    assert "amina@moh.example" in principals  # with the simulator's planted expired grants
    assert {i["status"] for i in plan["items"]} == {"planned"}
    text = CliRunner().invoke(app, ["access", "expire", "--now", LATER, "--project", str(root)])
    assert "apply with `lakecrew access expire --apply`" in text.output  # not `govern apply`
    low = _json(root, "access", "expire", "--apply", "--phase", "2", "--now", LATER)
    assert low["meta"]["applied"] is False
    done = _json(root, "access", "expire", "--apply", "--phase", "3", "--now", LATER)
    assert {i["status"] for i in done["items"]} == {"applied"}
    (item,) = [i for i in done["items"] if i["resource_id"].endswith(" amina@moh.example")]
    outbox = (root / ".lakecrew" / "outbox" / "notifications.jsonl").read_text()
    assert item["action_id"] in outbox  # the owner is told, with the rollback command
    back = _json(root, "rollback", item["action_id"])
    assert back["items"][0]["status"] == "rolled_back"
    plan = _json(root, "govern", "plan", "--phase", "3")
    assert {i["action"] for i in plan["items"]} >= {"set_column_mask"}
    _json(root, "govern", "apply", "--phase", "3")
    assert _json(root, "govern", "plan", "--phase", "3")["items"] == []
    report = _json(root, "compliance", "report", "--month", "2026-11")
    totals = report["items"][0]["totals"]
    assert totals["tables"] > 0 and totals["pii_masked_pct"] == 100.0
    for fmt in ("md", "html"):
        out = tmp_path / f"r.{fmt}"
        result = CliRunner().invoke(
            app,
            [
                "compliance",
                "report",
                "--month",
                "2026-12",
                "--format",
                fmt,
                "--out",
                str(out),
                "--project",
                str(root),
            ],
        )
        assert result.exit_code == 0, result.output
        assert "compliance report" in out.read_text()
    trend = json.loads((root / ".lakecrew" / "reports" / "compliance-2026-12.json").read_text())
    assert trend["previous"]["tables"] == totals["tables"]  # November's archive is the baseline
    bad = CliRunner().invoke(app, ["compliance", "report", "--month", "2026-13", "-p", str(root)])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
