"""Identity, secret-rotation and audit-delivery checks inside `lakecrew sweep`: the export folder
`.lakecrew/identity/<workspace>/` of a local workspace (the SDK path is the same source over
DatabricksIdentity) becomes `platform` resources the pack's rules turn into findings with their
SOP sections; the limits come from the pack's `identity:` section (an overlay changes them, a bad
value is refused with file:line); an API the export lacks is a finding "not evaluated"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.databricks_project import project_yaml

FIX = Path(__file__).parents[2] / "fixtures" / "databricks" / "identity"
NOW = "2026-12-04T12:00:00+00:00"
WS = "malaria-prod-westafrica"  # prod: rotation and the prod-only conf keys apply


def _project(tmp: Path, overlay: str | None = None, drop: str | None = None) -> Path:
    root = tmp / "p"
    root.mkdir()
    text = project_yaml().replace("environment: dev", "environment: prod")
    text = text.replace("malaria-dev-westafrica", WS)
    if overlay is not None:
        (root / "pack.yaml").write_text(overlay)
        text += "sop_pack: pack.yaml\n"
    (root / "lakecrew.yaml").write_text(text)
    shutil.copytree(FIX, root / ".lakecrew" / "identity" / WS)
    if drop:
        (root / ".lakecrew" / "identity" / WS / drop).unlink()
    return root


def _sweep(root: Path, code: int = 0) -> Any:
    args = ["sweep", "--workspace", WS, "--phase", "1", "--now", NOW, "-p", str(root)]
    result = CliRunner().invoke(app, [*args, "--output", "json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def _found(out: Any) -> dict[str, dict[str, Any]]:
    return {
        f["resource_id"]: f for f in out["items"][0]["findings"] if f["resource_type"] == "platform"
    }


def test_identity_findings_flow_through_the_sweep(tmp_path: Path) -> None:
    found = _found(_sweep(_project(tmp_path)))
    rules = {f["rule_id"] for f in found.values()}
    assert {
        "security.token.no_expiry",
        "security.token.too_old",
        "security.token.deactivated_owner",
        "security.workspace_conf",
        "security.network.no_ip_access_list",
        "security.identity.admin_count",
        "security.secret.rotation_overdue",
    } <= rules
    # GPU policy permissions are platform findings with their SOP section; clusters without a
    # policy are judged on the sweep's own cluster listing (resource `clusters`), not here
    assert "security.cluster.no_policy" not in rules
    gpu = [f for f in found.values() if f["rule_id"] == "security.policy.gpu_broad_use"]
    assert gpu and {f["sop_section"] for f in gpu} == {"1.2.6"}
    rot = found["security.secret.rotation_overdue:secret/etl/postgres-password"]
    assert rot["sop_section"] == "1.4.3" and rot["severity"] == "warning"
    conf = {f["resource_id"] for f in found.values() if f["rule_id"] == "security.workspace_conf"}
    keys = ("enableIpAccessLists", "enableDbfsFileBrowser", "maxTokenLifetimeDays")
    assert conf == {f"security.workspace_conf:workspace/{WS}#{k}" for k in keys}
    text = json.dumps(found)
    assert "dapi" not in text  # token ids only, never a value


def test_limits_come_from_the_pack(tmp_path: Path) -> None:
    overlay = "version: 1\nidentity:\n  token_max_age_days: 100000\n  secret_max_age_days: 100000\n"
    rules = {f["rule_id"] for f in _found(_sweep(_project(tmp_path, overlay))).values()}
    assert "security.token.too_old" not in rules
    assert "security.secret.rotation_overdue" not in rules
    assert "security.token.no_expiry" in rules


def test_a_bad_limit_is_refused_with_its_line(tmp_path: Path) -> None:
    root = _project(tmp_path, "version: 1\nidentity:\n  max_admins: 0\n")
    args = ["sweep", "--workspace", WS, "--now", NOW, "-p", str(root), "--output", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "pack.yaml:3" in result.output and "max_admins" in result.output


def test_an_unreadable_api_is_a_finding_not_silence(tmp_path: Path) -> None:
    found = _found(_sweep(_project(tmp_path, drop="tokens.json")))
    unseen = found["security.platform.unseen:api/tokens.list"]
    assert "security.token.no_expiry" in unseen["evidence"]["hides"]
    assert not any(f["rule_id"].startswith("security.token.") for f in found.values())
