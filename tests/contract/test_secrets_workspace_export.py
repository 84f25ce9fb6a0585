"""`lakecrew secrets scan --workspace W`: notebooks and files pulled through the Workspace API
(`workspace/list` one folder at a time, `workspace/export` SOURCE for notebooks and AUTO for
files, base64 content) by the real SDK from the replay server, in the REST shapes of the
Workspace API; a folder the caller may not list and a dashboard are reported as skipped, never
left out silently; an unreadable root is an error, not an empty scan."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.databricks_project import WS, cli_env, project_yaml
from lakecrew.testing.databricks_replay import Call, DatabricksReplay, error_body

LIST, EXPORT = "/api/2.0/workspace/list", "/api/2.0/workspace/export"
PAT = "dapi" + "0123456789abcdef" * 2  # a generated token shape, not a real token
NOTEBOOK = f'# Databricks notebook source\nTOKEN = "{PAT}"\n'
CLEAN = "# Databricks notebook source\nprint('weekly lassa counts')\n"


def _b64(text: str) -> dict[str, Any]:
    return {"content": base64.b64encode(text.encode()).decode(), "file_type": "py"}


def _calls() -> list[Call]:
    root = {
        "objects": [
            {"path": "/Shared", "object_type": "DIRECTORY", "object_id": 1},
            {"path": "/Repos", "object_type": "DIRECTORY", "object_id": 2},
            {"path": "/Lassa dashboard", "object_type": "DASHBOARD", "object_id": 3},
        ]
    }
    shared = {
        "objects": [
            {"path": "/Shared/etl", "object_type": "NOTEBOOK", "language": "PYTHON",
             "object_id": 11},
            {"path": "/Shared/report", "object_type": "NOTEBOOK", "language": "PYTHON",
             "object_id": 12},
            {"path": "/Shared/conf.env", "object_type": "FILE", "object_id": 13, "size": 40},
        ]
    }  # fmt: skip
    denied = error_body(403, "PERMISSION_DENIED", "no permission on /Repos")
    return [
        Call("GET", LIST, root, query={"path": "/"}),
        Call("GET", LIST, shared, query={"path": "/Shared"}),
        Call("GET", LIST, denied, status=403, query={"path": "/Repos"}),
        Call("GET", EXPORT, _b64(NOTEBOOK), query={"path": "/Shared/etl", "format": "SOURCE"}),
        Call("GET", EXPORT, _b64(CLEAN), query={"path": "/Shared/report", "format": "SOURCE"}),
        Call(
            "GET",
            EXPORT,
            _b64("DHIS2_URL=https://admin:district@dhis2.example.org\n"),
            query={"path": "/Shared/conf.env", "format": "AUTO"},
        ),
        Call("GET", LIST, error_body(404, "RESOURCE_DOES_NOT_EXIST", "Path (/nope) doesn't exist."),
             status=404, query={"path": "/nope"}),
    ]  # fmt: skip


def _scan(env: dict[str, str], root: Path, *extra: str, code: int) -> Any:
    args = ["secrets", "scan", "--workspace", WS, "-p", str(root), *extra, "--output", "json"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == code, result.output
    return result


def test_notebooks_and_files_exported_and_scanned(tmp_path: Path) -> None:
    with DatabricksReplay(_calls()) as replay:
        env, root = cli_env(tmp_path), tmp_path / "p"
        root.mkdir()
        (root / "lakecrew.yaml").write_text(project_yaml(replay.url))
        out = json.loads(_scan(env, root, code=1).stdout)
        missing = _scan(env, root, "--root", "/nope", code=2)
    found = {(f["path"], f["rule_id"]) for f in out["items"]}
    assert ("Shared/etl.py", "security.secret.databricks_token") in found
    assert any(p == "Shared/conf.env" for p, _ in found)  # the URL with a password
    assert not any(p == "Shared/report.py" for p, _ in found)
    assert PAT not in json.dumps(out)  # a fingerprint and a hint, never the token
    skipped = {s["name"]: s["reason"] for s in out["meta"]["skipped"]}
    assert skipped["/Repos"] == "workspace.list: permission"
    assert skipped["/Lassa dashboard"] == "dashboard: not scanned"
    assert out["meta"]["files"] == 3
    assert "/nope" in missing.output
