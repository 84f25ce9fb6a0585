"""Every command with `--output json` has a JSON Schema for its kind, and outputs conform.

- The command tree is walked: a command missing from KINDS (a new command) fails here, as does a
  kind without a schema file, a schema that is not valid JSON Schema 2020-12, a schema no
  command emits, or a `Result("kind", ...)` in faces/cli that KINDS does not know.
- Conformance is checked on every JSON output of the whole suite: tests/conftest.py sets
  LAKECREW_CHECK_SCHEMAS=1, so `emit` validates each envelope (in process and in the
  subprocesses of the integration tests) and a breach fails that command.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.faces.cli.schema_check import SCHEMAS, enabled, problems
from lakecrew.testing.cli import all_commands

# command path → the kinds its `--output json` envelope can have
KINDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("access", "expire"): ("govern_plan",),
    ("access", "grant"): ("actions",),
    ("access", "review"): ("access_review",),
    ("agent", "digest"): ("agent_run",),
    ("agent", "eval"): ("agent_eval",),
    ("agent", "runs"): ("agent_runs",),
    ("agent", "triage"): ("agent_run",),
    ("ask",): ("agent_run",),
    ("compliance", "report"): ("compliance_report",),
    ("govern", "apply"): ("actions",),
    ("govern", "plan"): ("govern_plan",),
    ("mcp",): (),  # a stdio MCP server: no JSON envelope
    ("proposals", "approve"): ("proposals",),
    ("proposals", "list"): ("proposals",),
    ("proposals", "reject"): ("proposals",),
    ("report",): ("report",),
    ("security", "audit"): ("security_audit",),
    ("serve",): (),  # the web server: no JSON envelope
    ("users", "add"): ("users",),
    ("users", "list"): ("users",),
    ("users", "remove"): ("users",),
    ("ack",): ("ack",),
    ("actions",): ("actions",),
    ("anomalies", "detect"): ("anomalies",),
    ("approve",): ("actions",),
    ("classify",): ("classify",),
    ("cost", "cube"): ("cost_cube",),
    ("cost", "export"): ("cost_export",),
    ("cost", "report"): ("cost_report",),
    ("demo",): ("demo",),
    ("deploy", "bundle"): ("deploy_bundle",),
    ("deploy", "check"): ("deploy_check",),
    ("doctor",): ("doctor",),
    ("estate", "import"): ("estate_import",),
    ("estate", "summary"): ("estate_summary",),
    ("estate", "validate"): ("estate_validate",),
    ("exempt",): ("exemption",),
    ("findings",): ("findings",),
    ("init",): ("init",),
    ("model", "drift"): ("model_drift",),
    ("model", "hygiene"): ("model_hygiene",),
    ("model", "promote"): ("model_promote",),
    ("models",): ("models",),
    ("notify", "test"): ("outbox_delivery",),
    ("outbox",): ("outbox",),
    ("outbox", "deliver"): ("outbox_delivery",),
    ("outbox", "retry"): ("outbox_retry",),
    ("pipeline", "bundle"): ("pipeline_bundle",),
    ("pipeline", "list"): ("pipeline_list",),
    ("pipeline", "plan"): ("pipeline_plan",),
    ("pipeline", "run"): ("pipeline_run",),
    ("pipeline", "validate"): ("pipeline_validate",),
    ("policy", "apply"): ("policy_apply",),
    ("policy", "export"): ("policy_export",),
    ("policy", "rules"): ("policy_rules",),
    ("policy", "show"): ("policy_show",),
    ("policy", "validate"): ("policy_validate",),
    ("rollback",): ("actions",),
    ("secrets", "scan"): ("secrets_scan",),
    ("security", "identity"): ("security_identity",),
    ("simulate",): ("simulate",),
    ("sql",): ("sql",),
    ("sweep",): ("sweep",),
}
FACES = Path(__file__).parents[3] / "src" / "lakecrew" / "faces" / "cli"


def test_every_command_with_json_output_names_its_kinds() -> None:
    commands = set(all_commands())
    missing = sorted(" ".join(c) for c in commands - set(KINDS))
    assert not missing, f"commands without a kind here (add them and their schema): {missing}"
    gone = sorted(" ".join(c) for c in set(KINDS) - commands)
    assert not gone, f"KINDS names commands that no longer exist: {gone}"


def test_every_kind_has_a_valid_schema_and_every_schema_a_command() -> None:
    from jsonschema import Draft202012Validator

    kinds = {k for ks in KINDS.values() for k in ks}
    files = {p.name.removesuffix(".schema.json"): p for p in SCHEMAS.glob("*.schema.json")}
    missing = kinds - set(files)
    assert not missing, f"kinds without a schema: {sorted(missing)}"
    assert not sorted(set(files) - kinds), f"schemas no command emits: {sorted(set(files) - kinds)}"
    for kind, path in files.items():
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["properties"]["kind"] == {"const": kind}, path
        assert set(schema["required"]) == {"kind", "items", "meta"}, path


def test_the_code_emits_only_known_kinds() -> None:
    emitted = {
        m.group(1)
        for path in FACES.glob("*.py")
        for m in re.finditer(r'Result\(\s*"(\w+)"', path.read_text(encoding="utf-8"))
    }
    emitted.discard("things")  # the README's example (not code)
    assert emitted == {k for ks in KINDS.values() for k in ks}


def test_the_suite_checks_every_json_output() -> None:
    assert enabled(), "tests/conftest.py sets LAKECREW_CHECK_SCHEMAS=1"


def test_a_breach_fails_the_command() -> None:
    from lakecrew.core.errors import LakecrewError
    from lakecrew.faces.cli.schema_check import check

    bad = {"kind": "policy_rules", "items": [{"rule_id": 1}], "meta": {"count": 1}}
    assert problems(bad)
    with pytest.raises(LakecrewError, match="breaks its schema"):
        check(bad)
    ok = {"kind": "policy_rules", "items": [], "meta": {"count": 0}}
    assert problems(ok) == []


def test_cheap_commands_conform_on_a_starter_project(tmp_path: Path) -> None:
    """Commands a starter project answers in well under a second (the rest are checked where
    their own tests run them, by the LAKECREW_CHECK_SCHEMAS hook)."""
    runner = CliRunner()
    p = ["--project", str(tmp_path), "--output", "json"]
    assert runner.invoke(app, [*p, "init"]).exit_code == 0
    for args in (
        ("policy", "validate"),
        ("policy", "show", "cluster.idle"),
        ("policy", "export", "--env", "prod"),
        ("pipeline", "list"),
        ("pipeline", "plan", "lassa_weekly"),
        ("pipeline", "validate", "lassa_weekly"),
        ("pipeline", "bundle", "lassa_weekly"),
    ):
        result = runner.invoke(app, [*p, *args])
        assert result.exit_code == 0, (args, result.output)
        envelope = json.loads(result.stdout)
        assert (envelope["kind"],) == KINDS[args[:2]]
        assert problems(envelope) == [], args
