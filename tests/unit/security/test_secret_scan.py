"""`lakecrew secrets scan`: every notebook export format, bad input, baselines, no secret shown."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app

SCHEMA = Path(__file__).parents[3] / "src/lakecrew/faces/cli/schemas/secrets_scan.schema.json"
# generated, never issued: 32 hex after the prefix
PAT = "dapi" + hashlib.md5(b"lakecrew-test-1").hexdigest()
PAT2 = "dapi" + hashlib.md5(b"lakecrew-test-2").hexdigest()
PG_PASSWORD = "Kx9vTq2Lw7"


def _tree(root: Path) -> Path:
    (root / "nb").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f"token = {PAT}\n")  # VCS folders are not scanned
    (root / "nb" / "etl.py").write_text(
        "# Databricks notebook source\n"
        f'HOST_TOKEN = "{PAT}"\n'
        f'URL = "postgresql://dhis:{PG_PASSWORD}@db.example.org:5432/dhis2"\n'
        "ok = 1  # nothing here\n"
        f'JDBC = "jdbc:sqlserver://h:1433;database=odk;user=odk;password={PG_PASSWORD}z"\n'
    )
    half = len(PAT2) // 2
    (root / "nb" / "split.py").write_text(f'T = ("{PAT2[:half]}"\n     "{PAT2[half:]}")\n')
    enc = base64.b64encode(f"token: {PAT2}".encode()).decode()
    (root / "nb" / "config.yaml").write_text(f"blob: {enc}\n")
    nb = {"cells": [{"cell_type": "code", "source": ["x = 1\n", f"key = '{PAT}'\n"]}]}
    (root / "nb" / "explore.ipynb").write_text(json.dumps(nb))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("proj/clean.python", json.dumps({"commands": [{"command": "print(1)"}]}))
        dbc_cmd = {"commands": [{"command": f"w = WorkspaceClient(token='{PAT2}')"}]}
        z.writestr("proj/load.python", json.dumps(dbc_cmd))
    (root / "nb" / "archive.dbc").write_bytes(buf.getvalue())
    model = base64.b64encode(urllib.parse.quote(json.dumps(dbc_cmd)).encode()).decode()
    (root / "nb" / "report.html").write_text(f"<script>__DATABRICKS_NOTEBOOK_MODEL = '{model}';")
    (root / "logo.png").write_bytes(b"\x89PNG\x00\x00" + PAT.encode())
    (root / "huge.txt").write_text("x" * 2_000)
    return root


def _run(*args: str, code: int = 1) -> Any:
    result = CliRunner().invoke(app, [*args, "--output", "json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_every_format_is_scanned_and_no_secret_is_shown(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    root = _tree(tmp_path / "repo")
    out = _run("secrets", "scan", str(root), "--max-bytes", "1500", "-p", str(tmp_path))
    assert not list(Draft202012Validator(json.loads(SCHEMA.read_text())).iter_errors(out))
    got = {(i["path"], i["rule_id"], i["view"]) for i in out["items"]}
    token = "security.secret.databricks_token"
    assert {
        ("nb/etl.py", token, "text"),
        ("nb/etl.py", "security.secret.url_with_password", "text"),
        ("nb/etl.py", "security.secret.jdbc_password", "text"),
        ("nb/split.py", token, "joined"),
        ("nb/config.yaml", token, "base64"),
        ("nb/explore.ipynb[cell 1]", token, "text"),
        ("nb/archive.dbc!proj/load.python[cmd 1]", token, "text"),
        ("nb/report.html[cmd 1]", token, "text"),
    } <= got
    assert not any(p.startswith(".git") for p, _, _ in got)
    skipped = {s["name"]: s["reason"] for s in out["meta"]["skipped"]}
    assert skipped["logo.png"] == "binary file" and "1500-byte limit" in skipped["huge.txt"]
    text = json.dumps(out)
    for secret in (PAT, PAT2, PG_PASSWORD, PAT2[:16], PAT2[16:]):
        assert secret not in text


def test_baseline_allowlist_and_detect_secrets_baseline(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text(f'T = "{PAT}"\nU = "{PAT2}"\n')
    base = tmp_path / "base.json"
    first = _run("secrets", "scan", str(root), "--write-baseline", str(base), code=0)
    assert len(first["items"]) == 2
    again = _run("secrets", "scan", str(root), "--baseline", str(base), code=0)
    assert again["items"] == [] and again["meta"]["baselined"] == 2
    assert PAT not in base.read_text()
    allow = tmp_path / "allow.txt"
    allow.write_text(f"# reviewed\n{first['items'][0]['fingerprint']}\n")
    one = _run("secrets", "scan", str(root), "--allowlist", str(allow))
    assert len(one["items"]) == 1 and one["meta"]["allowlisted"] == 1
    sha1 = hashlib.sha1(PAT.encode()).hexdigest()
    ds = tmp_path / ".secrets.baseline"
    ds.write_text(json.dumps({"results": {"a.py": [{"hashed_secret": sha1, "type": "x"}]}}))
    assert len(_run("secrets", "scan", str(root), "--baseline", str(ds))["items"]) == 1


@pytest.mark.parametrize(
    ("content", "where"),
    [("bogus entry\n", "allow.txt:1"), ("sha256:xyz\n", "allow.txt:1")],
)
def test_a_bad_allowlist_names_file_and_line(tmp_path: Path, content: str, where: str) -> None:
    (tmp_path / "allow.txt").write_text(content)
    result = CliRunner().invoke(
        app, ["secrets", "scan", str(tmp_path), "--allowlist", str(tmp_path / "allow.txt")]
    )
    assert result.exit_code == 2 and where in result.output


def test_a_clean_tree_exits_0_and_a_missing_path_2(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("import os\nx = os.environ['DB_PASSWORD']\n")
    assert _run("secrets", "scan", str(tmp_path), code=0)["items"] == []
    assert CliRunner().invoke(app, ["secrets", "scan", str(tmp_path / "nope")]).exit_code == 2
