"""`lakecrew security audit` on the simulated estate: rows arrive; a gap and missing log delivery
are findings; forwarding queues them for a SIEM channel through the outbox."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.crew import ground_truth

WS = "malaria-dev-westafrica"


@pytest.fixture(scope="module")
def project(seed7_project: Path) -> tuple[Path, str]:
    return seed7_project, ground_truth(seed7_project)["now"]


def _run(root: Path, *args: str, code: int) -> Any:
    result = CliRunner().invoke(
        app, ["security", "audit", "--workspace", WS, *args, "-p", str(root), "-o", "json"]
    )
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_recent_rows_then_a_gap_then_no_rows(project: tuple[Path, str]) -> None:
    root, now = project
    ok = _run(root, "--now", now, "--max-gap-hours", "72", code=0)
    assert ok["meta"]["events"] > 0 and ok["meta"]["hours_with_rows"] > 0 and ok["items"] == []
    assert "no_log_delivery" in ok["meta"]["not_checked"][0]  # said, not assumed fine
    later = (datetime.fromisoformat(now) + timedelta(days=3)).isoformat()
    gap = _run(root, "--now", later, "--max-gap-hours", "24", code=1)
    assert {i["rule_id"] for i in gap["items"]} == {"security.audit.delivery_gap"}
    gone = (datetime.fromisoformat(now) + timedelta(days=30)).isoformat()
    empty = _run(root, "--now", gone, code=1)
    assert {i["rule_id"] for i in empty["items"]} == {"security.audit.no_rows"}


def test_log_delivery_configurations(project: tuple[Path, str], tmp_path: Path) -> None:
    root, now = project
    conf = tmp_path / "log-delivery.json"
    cfg = {
        "config_id": "c1",
        "log_type": "AUDIT_LOGS",
        "output_format": "JSON",
        "status": "ENABLED",
    }
    conf.write_text(json.dumps({"log_delivery_configurations": [{**cfg, "status": "DISABLED"}]}))
    off = _run(root, "--now", now, "--max-gap-hours", "72", "--log-delivery", str(conf), code=1)
    assert "security.audit.no_log_delivery" in {i["rule_id"] for i in off["items"]}
    conf.write_text(json.dumps({"log_delivery_configurations": [cfg]}))
    on = _run(root, "--now", now, "--max-gap-hours", "72", "--log-delivery", str(conf), code=0)
    assert on["items"] == [] and on["meta"]["not_checked"] == []
    from jsonschema import Draft202012Validator

    schema = Path(__file__).parents[3] / "src/lakecrew/faces/cli/schemas/security_audit.schema.json"
    validator = Draft202012Validator(json.loads(schema.read_text()))
    assert not list(validator.iter_errors(off)) and not list(validator.iter_errors(on))
