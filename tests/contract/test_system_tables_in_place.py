"""A `backend: databricks` sweep reads the workspace's system tables in place (no import).

With `warehouse_id` set, the Observer's system facts come from the Statement Execution API on
that warehouse: node_timeline utilisation makes the public Azure cluster (RUNNING, no
`last_activity_time`) idle, with the source in the evidence; the tables the warehouse cannot
read are named in the sweep's notes with what they hide, and so is one missing a column that
newer releases added (an older `node_types` without `gpu_count`). Without a warehouse, the
sweep says that system tables were not read (never a silent zero).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.services.crew.observer import CONF_KEYS
from lakecrew.testing.databricks_export import rest_calls
from lakecrew.testing.databricks_project import WS, cli_env, project_yaml
from lakecrew.testing.databricks_replay import Call, DatabricksReplay, Request
from lakecrew.wiring.context import Context

PUBLIC = Path(__file__).parents[1] / "fixtures" / "databricks" / "public"
WAREHOUSE = "wh0123456789abcd"
NOW = "2026-03-02T10:00:00+00:00"
CLUSTER = "1234-567890-reef123"


def _json(status: int, body: Any) -> Any:
    return status, {}, json.dumps(body).encode(), "application/json"


def statements(req: Request) -> Any:
    """node_timeline answers (the cluster was last busy at 07:00); other tables are absent."""
    if not (req.method == "POST" and req.path == "/api/2.0/sql/statements"):
        return None
    sql = str((req.body or {}).get("statement", ""))
    if "system.compute.node_types" in sql:  # an older release, before gpu_count was added
        message = (
            "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with "
            "name `gpu_count` cannot be resolved. Did you mean one of the following? "
            "[`node_type`, `core_count`, `memory_mb`]. SQLSTATE: 42703"
        )
        error = {"error_code": "BAD_REQUEST", "message": message}
        return _json(200, {"statement_id": "st-y", "status": {"state": "FAILED", "error": error}})
    if "system.compute.node_timeline" not in sql:
        error = {"error_code": "BAD_REQUEST", "message": "[TABLE_OR_VIEW_NOT_FOUND] not enabled"}
        return _json(200, {"statement_id": "st-x", "status": {"state": "FAILED", "error": error}})
    cols = [
        {"name": "cluster_id", "position": 0, "type_name": "STRING", "type_text": "STRING"},
        {"name": "last_busy", "position": 1, "type_name": "TIMESTAMP", "type_text": "TIMESTAMP"},
        {"name": "last_seen", "position": 2, "type_name": "TIMESTAMP", "type_text": "TIMESTAMP"},
    ]
    row = [CLUSTER, "2026-03-02T07:00:00.000Z", "2026-03-02T09:59:00.000Z"]
    body = {
        "statement_id": "st-1",
        "status": {"state": "SUCCEEDED"},
        "manifest": {
            "format": "JSON_ARRAY",
            "schema": {"column_count": 3, "columns": cols},
            "total_chunk_count": 1,
            "total_row_count": 1,
        },
        "result": {"chunk_index": 0, "row_offset": 0, "row_count": 1, "data_array": [row]},
    }
    return _json(200, body)


def calls() -> list[Call]:
    clusters = json.loads((PUBLIC / "azure-clusters-list.json").read_text())["clusters"]
    listed = [c for c in rest_calls({}, dict.fromkeys(CONF_KEYS, "true"))]
    listed = [c for c in listed if c.path != "/api/2.1/clusters/list"]
    wh = {"id": WAREHOUSE, "name": "governance", "state": "RUNNING"}
    return [
        *listed,
        Call("GET", "/api/2.1/clusters/list", body={"clusters": clusters}),
        Call("GET", f"/api/2.0/sql/warehouses/{WAREHOUSE}", body=wh),
    ]


def _sweep(tmp_path: Path, *, warehouse: bool) -> dict[str, Any]:
    with DatabricksReplay(calls(), handlers=[statements]) as replay:
        root = tmp_path / ("with" if warehouse else "without")
        root.mkdir()
        yaml = project_yaml(replay.url)
        if warehouse:
            yaml = yaml.replace(
                f"host: {replay.url}", f"host: {replay.url}\n    warehouse_id: {WAREHOUSE}"
            )
        (root / "lakecrew.yaml").write_text(yaml)
        args = ["sweep", "--workspace", WS, "--phase", "1", "--now", NOW, "--project", str(root)]
        result = CliRunner().invoke(app, [*args, "--output", "json"], env=cli_env(tmp_path))
        assert result.exit_code == 0, result.output
        statements_sent = len(replay.requests_to("POST", "/api/2.0/sql/statements"))
    sweep: dict[str, Any] = json.loads(result.stdout)["items"][0]
    sweep["statements_sent"] = statements_sent
    with pytest.MonkeyPatch.context() as mp:  # the run record keeps what was not read, too
        mp.setenv("LAKECREW_ALLOW_INSECURE_HOSTS", "1")
        with Context.open(root) as ctx:
            [run] = ctx.ledger.sweeps(WS)
    sweep["recorded_notes"] = run.notes
    return sweep


def test_node_timeline_is_read_in_place_and_missing_tables_are_named(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, warehouse=True)
    [idle] = [f for f in sweep["findings"] if f["rule_id"] == "cluster.idle"]
    assert idle["resource_id"] == CLUSTER
    assert idle["evidence"]["activity_source"].startswith("system.compute.node_timeline")
    assert idle["evidence"]["last_activity"].startswith("2026-03-02T07:00")
    notes = " ".join(sweep["notes"])
    assert "system.lakeflow.job_run_timeline not read (not enabled)" in notes
    assert "running-job safety" in notes
    # a system table missing a column newer releases added: named, the sweep goes on
    assert "system.compute.node_types not read (it has no column 'gpu_count'" in notes
    assert sweep["statements_sent"] >= 3
    recorded = sweep["recorded_notes"]
    assert "system.lakeflow.job_run_timeline not read (not enabled)" in recorded
    assert "system.compute.node_types not read (it has no column 'gpu_count'" in recorded


def test_without_a_warehouse_the_sweep_says_system_tables_were_not_read(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, warehouse=False)
    assert not [f for f in sweep["findings"] if f["rule_id"] == "cluster.idle"]
    assert any("system tables not read: no SQL warehouse" in n for n in sweep["notes"])
    assert "system tables not read: no SQL warehouse" in sweep["recorded_notes"]
    assert sweep["statements_sent"] == 0
