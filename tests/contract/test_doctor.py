"""`lakecrew doctor` against a replay-served workspace: real SDK, real HTTP, text and JSON.

The workspace answers clusters, policies, warehouses, pools and scopes; refuses jobs (403);
lacks the workspace conf (404); its SQL warehouse runs; of the system tables, billing is readable,
the audit log is not granted and the others are not enabled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.databricks_export import rest_calls
from lakecrew.testing.databricks_project import cli_env, project_yaml
from lakecrew.testing.databricks_replay import (
    Call,
    DatabricksReplay,
    Request,
    SyntheticWorkspace,
    error_body,
)

WAREHOUSE = "wh0123456789abcd"
READABLE = ("system.billing.usage", "system.billing.list_prices")


def _json(status: int, body: Any) -> Any:
    return status, {}, json.dumps(body).encode(), "application/json"


def workspace(req: Request) -> Any:
    """Jobs refused, the statement API answering per system table."""
    if req.path == "/api/2.2/jobs/list":
        return _json(403, error_body(403, "PERMISSION_DENIED", "no access to jobs"))
    if req.method == "POST" and req.path == "/api/2.0/sql/statements":
        sql = str((req.body or {}).get("statement", ""))
        status: dict[str, Any]
        if any(t in sql for t in READABLE):
            status = {"state": "SUCCEEDED"}
        elif "system.access.audit" in sql:
            error = {
                "error_code": "BAD_REQUEST",
                "message": "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not "
                "have SELECT on Table 'system.access.audit'.",
            }
            status = {"state": "FAILED", "error": error}
        else:
            error = {"error_code": "BAD_REQUEST", "message": "[TABLE_OR_VIEW_NOT_FOUND] no table"}
            status = {"state": "FAILED", "error": error}
        manifest = {"format": "JSON_ARRAY", "schema": {"column_count": 0, "columns": []},
                    "total_chunk_count": 0, "total_row_count": 0}  # fmt: skip
        return _json(200, {"statement_id": "st-1", "status": status, "manifest": manifest})
    return None


def calls() -> list[Call]:
    recorded = [c for c in rest_calls({}, {}) if "workspace-conf" not in c.path]
    me = {"userName": "lakecrew-sp@ehealthafrica.example", "id": "7"}
    wh = {"id": WAREHOUSE, "name": "governance", "state": "RUNNING", "cluster_size": "Small"}
    return [
        *recorded,
        Call("GET", "/api/2.0/preview/scim/v2/Me", body=me),
        Call("GET", f"/api/2.0/sql/warehouses/{WAREHOUSE}", body=wh),
    ]


def test_doctor_names_what_answers_and_what_is_missing(tmp_path: Path) -> None:
    synth = SyntheticWorkspace(clusters=3)
    with DatabricksReplay(calls(), handlers=[workspace, synth]) as replay:
        root = tmp_path / "p"
        root.mkdir()
        yaml = project_yaml(replay.url).replace(
            f"host: {replay.url}", f"host: {replay.url}\n    warehouse_id: {WAREHOUSE}"
        )
        (root / "lakecrew.yaml").write_text(yaml)
        env = cli_env(tmp_path)
        runner = CliRunner()
        as_json = runner.invoke(
            app, ["doctor", "--project", str(root), "--output", "json"], env=env
        )
        as_text = runner.invoke(app, ["doctor", "--project", str(root)], env=env)
    assert as_json.exit_code == 1, as_json.output
    [w] = json.loads(as_json.stdout)["items"]
    assert (w["backend"], w["auth_type"], w["identity"]) == (
        "databricks",
        "pat",
        "lakecrew-sp@ehealthafrica.example",
    )
    apis = {c["name"]: c for c in w["apis"]}
    assert apis["clusters.list"]["ok"] and apis["warehouses.list"]["ok"]
    assert apis["jobs.list"]["cause"] == "permission" and "CAN_VIEW" in apis["jobs.list"]["detail"]
    assert apis["workspace_conf.get_status"]["cause"] == "not_enabled"
    assert w["warehouse"]["ok"] and "governance" in w["warehouse"]["name"]
    tables = {c["name"]: c for c in w["system_tables"]}
    assert tables["system.billing.usage"]["ok"] and tables["system.billing.list_prices"]["ok"]
    audit = tables["system.access.audit"]
    assert audit["cause"] == "permission" and "security monitor" in audit["detail"]
    timeline = tables["system.compute.node_timeline"]
    assert timeline["cause"] == "not_enabled" and "idle detection" in timeline["detail"]
    assert w["problems"] == 2 + 9  # jobs, conf; 9 system tables
    assert as_text.exit_code == 1
    assert "FAIL jobs.list" in as_text.stdout and "ok   clusters.list" in as_text.stdout
    assert "11 check(s) failed" in as_text.stderr


def test_doctor_on_an_unreachable_host_is_one_failed_check(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path / "p"
    root.mkdir()
    (root / "lakecrew.yaml").write_text(project_yaml(f"http://127.0.0.1:{port}"))
    result = CliRunner().invoke(
        app, ["doctor", "--project", str(root), "--output", "json"], env=cli_env(tmp_path)
    )
    assert result.exit_code == 1
    [w] = json.loads(result.stdout)["items"]
    assert w["fatal"]["name"] == "connect" and "cannot reach" in w["fatal"]["detail"]
