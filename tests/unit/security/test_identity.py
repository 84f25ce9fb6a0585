"""Identity and platform checks on exported REST payloads (`lakecrew security identity`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lakecrew.faces.cli.main import app

FIX = Path(__file__).parents[2] / "fixtures" / "databricks" / "identity"
SCHEMAS = Path(__file__).parents[3] / "src" / "lakecrew" / "faces" / "cli" / "schemas"
NOW = "2026-12-04T12:00:00"
EXPECTED = {
    ("security.token.no_expiry", "token/5684c955822ac792a51ae2aeb80de7c1f4b4aa10"),
    ("security.token.too_old", "token/5684c955822ac792a51ae2aeb80de7c1f4b4aa10"),
    ("security.token.deactivated_owner", "token/0c1d2e3f405162738495a6b7c8d9eaf0b1c2d3e4"),
    ("security.workspace_conf.enableIpAccessLists", "workspace/prod-export"),
    ("security.workspace_conf.enableDbfsFileBrowser", "workspace/prod-export"),
    ("security.workspace_conf.maxTokenLifetimeDays", "workspace/prod-export"),
    ("security.network.no_ip_access_list", "workspace/prod-export"),
    ("security.identity.unmanaged_group", "group/malaria-analysts"),
    ("security.identity.admin_count", "group/admins"),
    ("security.cluster.no_policy", "cluster/1204-101500-abc123"),
    ("security.policy.gpu_broad_use", "cluster_policy/E0631F5C0D000002"),
    ("security.secret.rotation_overdue", "secret/etl/postgres-password"),
}


def _run(export: Path, *extra: str, code: int = 1) -> Any:
    args = ["security", "identity", "--export", str(export), "--workspace", "prod-export"]
    result = CliRunner().invoke(app, [*args, "--now", NOW, *extra, "--output", "json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_every_rule_on_an_export(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    out = _run(FIX, "-p", str(tmp_path))
    schema = json.loads((SCHEMAS / "security_identity.schema.json").read_text())
    assert not list(Draft202012Validator(schema).iter_errors(out))
    assert {(i["rule_id"], i["resource"]) for i in out["items"]} == EXPECTED
    assert out["meta"]["unseen"] == [] and not out["meta"]["partial"]
    assert "sso" in out["meta"]["not_checked"][0]
    dev = _run(FIX, "--env", "dev", "-p", str(tmp_path))
    rules = {i["rule_id"] for i in dev["items"]}
    assert "security.network.no_ip_access_list" not in rules  # IP lists are a prod rule
    assert "security.workspace_conf.enableIpAccessLists" not in rules


def test_a_missing_token_export_is_unseen_not_empty(tmp_path: Path) -> None:
    export = tmp_path / "exp"
    shutil.copytree(FIX, export)
    (export / "tokens.json").unlink()
    out = _run(export, "-p", str(tmp_path))
    assert not any(i["rule_id"].startswith("security.token.") for i in out["items"])
    unseen = out["meta"]["unseen"]
    assert out["meta"]["partial"] and unseen[0]["api"] == "tokens.list"
    assert "security.token.no_expiry" in unseen[0]["hides"]


def test_forward_queues_ocsf_lines_for_a_siem_channel(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["init", "-p", str(tmp_path)]).exit_code == 0
    with (tmp_path / "lakecrew.yaml").open("a") as fh:
        fh.write("notifications:\n  channels:\n    siem: {type: siem_file, path: siem.jsonl}\n")
    out = _run(FIX, "--forward", "siem", "--tickets", "-p", str(tmp_path))
    assert out["meta"]["rotation_tickets"] == 1
    assert out["meta"]["forwarded"]["queued"] == 1 and out["meta"]["forwarded"]["delivered"] == 1
    lines = [json.loads(x) for x in (tmp_path / "siem.jsonl").read_text().splitlines()]
    assert {x["finding_info"]["types"][0] for x in lines} == {r for r, _ in EXPECTED}
    from lakecrew.adapters.local.ticket_store import LocalTicketStore

    (ticket,) = LocalTicketStore(tmp_path / ".lakecrew" / "tickets.db").list()
    assert ticket.title.startswith("Rotate etl/postgres-password") and ticket.status == "open"
    again = _run(FIX, "--forward", "siem", "--tickets", "-p", str(tmp_path))
    assert again["meta"]["rotation_tickets"] == 1  # upserted by fingerprint: still one ticket
    assert again["meta"]["forwarded"]["queued"] == 0  # the same findings are not sent twice
