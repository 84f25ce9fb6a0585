"""Pack validation (file:line errors), the default pack's content, layering and provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.core.errors import ConfigError, UnknownName
from lakecrew.services.policy.loader import (
    explain_rule,
    load_pack,
    load_pack_text,
    validate,
)

CODES = (Path(__file__).parent / "violation_codes.txt").read_text().split()
MLFLOW_TYPES = {"models", "model_versions", "experiments"}  # SOP 3.1.5 rules (issue 18)
# identity/secret-rotation/audit-delivery checks of a databricks workspace (issue 17): the
# simulator plants none (tests/unit/security/test_platform_sweep.py covers them)
UNPLANTED_TYPES = MLFLOW_TYPES | {"platform"}


def test_default_pack_rule_ids_are_the_violation_codes() -> None:
    pack = load_pack().pack
    ids = {r.id for r in pack.rules}
    assert set(CODES) <= ids
    mlflow = {r.id for r in pack.rules if r.resource_type in UNPLANTED_TYPES}
    # the simulator creates every all-purpose cluster under its SOP policy: none planted
    assert ids - set(CODES) - mlflow == {"workspace.naming_invalid", "security.cluster.no_policy"}
    assert not mlflow & set(CODES)  # the simulator plants no MLflow violations
    assert all(r.sop_section for r in pack.rules)


def test_default_pack_encodes_the_sop_numbers() -> None:
    pack = load_pack().pack
    env = pack.environments
    assert (env["dev"].size, env["qa"].size, env["prod"].size) == ("S", "M", "L")
    assert [(e.autoscale.min_workers, e.autoscale.max_workers) for e in env.values()] == [
        (1, 2),
        (2, 4),
        (4, 16),
    ]
    assert [e.spot_required for e in env.values()] == [True, True, False]
    assert [e.interactive_allowed for e in env.values()] == [True, False, False]
    assert env["prod"].job_clusters_only
    sizes = pack.sizes
    assert [(sizes[s].max_workers, sizes[s].max_node_memory_gb) for s in "SML"] == [
        (4, 16),
        (8, 64),
        (16, 256),
    ]
    assert sizes["GPU"].requires_approval
    assert pack.auto_termination.max_minutes == 30
    assert pack.required_tags == ["cost_center", "project", "owner", "environment"]
    assert pack.node_types["g5.xlarge"].gpus == 1
    assert pack.node_types["Standard_NC6s_v3"].cloud == "azure"


def _error(text: str, tmp_path: Path, name: str = "org.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_pack(["default", path])
    return str(exc.value)


def test_unknown_key_points_at_overlay_line(tmp_path: Path) -> None:
    msg = _error("version: 1\nauto_termination:\n  max_minutez: 20\n", tmp_path)
    assert "org.yaml:3" in msg and "max_minutez" in msg


def test_bad_operator_points_at_its_line(tmp_path: Path) -> None:
    text = """version: 1
rules:
  - id: cluster.custom_rule
    title: t
    sop_section: "1.2"
    resource_type: clusters
    severity: info
    remediation: r
    min_phase: 1
    filter:
      and:
        - {key: a, op: eq, value: 1}
        - key: b
          op: equalz
          value: 2
"""
    msg = _error(text, tmp_path)
    assert "org.yaml:14" in msg and "equalz" in msg


def test_duplicate_rule_id_in_one_file(tmp_path: Path) -> None:
    rule = "  - {id: job.x_y, enabled: false, reason: r}\n"
    msg = _error("version: 1\nrules:\n" + rule + rule, tmp_path)
    assert "org.yaml:4" in msg and "duplicate rule id" in msg


def test_disable_without_reason(tmp_path: Path) -> None:
    msg = _error("version: 1\nrules:\n  - id: cluster.idle\n    enabled: false\n", tmp_path)
    assert "org.yaml:3" in msg and "reason" in msg


def test_unknown_check_action_and_version(tmp_path: Path) -> None:
    msg = _error("version: 1\nrules:\n  - id: cluster.idle\n    check: {name: nope}\n", tmp_path)
    assert "org.yaml:4" in msg and "unknown check 'nope'" in msg
    msg = _error(
        "version: 1\nrules:\n  - id: cluster.idle\n    action: {name: explode}\n", tmp_path
    )
    assert "org.yaml:4" in msg and "unknown action" in msg
    msg = _error(
        "version: 1\nrules:\n  - id: cluster.idle\n    check: {name: cluster_idle, "
        "params: {max_idle: 5}}\n",
        tmp_path,
    )
    assert "org.yaml:4" in msg and "max_idle" in msg
    assert "version" in _error("version: 2\n", tmp_path)


def test_layering_overrides_disables_and_adds(tmp_path: Path) -> None:
    org = tmp_path / "org.yaml"
    org.write_text("""version: 1
auto_termination: {max_minutes: 20}
rules:
  - id: cluster.idle
    enabled: false
    reason: FinOps runs its own idle reaper
  - id: job.retries_missing
    severity: critical
    min_phase: 2
  - id: cluster.name_prefix
    title: Cluster names start with the project
    sop_section: "4.1.2"
    resource_type: clusters
    severity: info
    filter: {key: cluster_name, op: regex, value: "^(?!${pack.name}).*"}
    remediation: Rename the cluster.
    min_phase: 1
""")
    loaded = load_pack(["default", org])
    pack = loaded.pack
    assert pack.auto_termination.max_minutes == 20
    assert pack.auto_termination.min_minutes == 10  # inherited
    idle = pack.rule("cluster.idle")
    assert idle is not None and not idle.enabled and idle.reason
    retries = pack.rule("job.retries_missing")
    assert retries is not None and retries.severity == "critical" and retries.min_phase == 2
    assert retries.filter is not None  # untouched fields inherited
    assert pack.rule("cluster.name_prefix") is not None
    assert loaded.origin(("auto_termination", "max_minutes")).endswith("org.yaml:2")
    assert loaded.origin(("auto_termination", "min_minutes")).startswith("default_pack.yaml:")
    shown = explain_rule(loaded, "job.retries_missing")
    assert shown["fields"]["severity"]["from"].endswith("org.yaml:8")
    assert shown["fields"]["filter"]["from"].startswith("default_pack.yaml:")
    report = validate(["default", org])
    assert report.disabled == {"cluster.idle": "FinOps runs its own idle reaper"}
    assert {c.kind for c in report.changes} >= {"override", "disable", "add"}


def test_overlay_params_merge_and_filter_replaces_check(tmp_path: Path) -> None:
    loaded = load_pack_text(
        """version: 1
rules:
  - id: cluster.idle
    check: {params: {max_idle_minutes: 60}}
  - id: cluster.tags_missing
    filter: {key: custom_tags, op: empty}
""",
        source="o.yaml",
    )
    idle = loaded.pack.rule("cluster.idle")
    assert idle is not None and idle.check is not None
    assert idle.check.name == "cluster_idle" and idle.check.params == {"max_idle_minutes": 60}
    assert (
        loaded.origin(("rules", loaded.rule_index("cluster.idle"), "check", "params")) == "o.yaml:4"
    )
    tags = loaded.pack.rule("cluster.tags_missing")
    assert tags is not None and tags.check is None and tags.filter is not None


def test_show_unknown_rule() -> None:
    with pytest.raises(UnknownName, match=r"unknown rule .cluster\.nope."):
        explain_rule(load_pack(), "cluster.nope")


def test_show_rule_documents_check_and_action() -> None:
    shown = explain_rule(load_pack(), "cluster.idle")
    assert "```yaml" in shown["check_doc"]
    assert shown["action_destructive"] is True
    assert shown["fields"]["sop_section"]["value"] == "1.2.2/3.1.2"
