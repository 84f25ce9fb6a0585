"""lakecrew.yaml: every bad input gets a clear problem with file:line and a fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lakecrew.core.errors import ConfigError, NotFound
from lakecrew.services.estate.config import (
    EstateConfig,
    check_estate,
    load_estate,
)
from lakecrew.services.estate.yamlpos import ConfigProblems, Problem

# Line numbers matter in this file: line 1 is "version: 1".
GOOD = """\
version: 1
workspaces:
  - name: malaria-dev-westafrica
    environment: dev
    region: westafrica
    backend: local
    workspace_id: "1001"
    owner: de@example.org
    project: malaria
    cost_center: CC-1
    approval:
      status: approved
      approved_by: Data Governance Board
      approved_on: 2025-01-15
  - name: malaria-prod-westafrica
    environment: prod
    region: westafrica
    backend: databricks
    host: https://adb-1.1.azuredatabricks.net
    auth_profile: malaria-prod
    workspace_id: "1002"
    owner: platform@example.org
    project: malaria
    cost_center: CC-1
    approval:
      status: approved
      approved_by: Data Governance Board
      approved_on: 2025-02-01
rollout:
  phases:
    dev: 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lakecrew.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str, *, require_approved: bool = True) -> list[Problem]:
    report = check_estate(write(tmp_path, text), require_approved=require_approved)
    assert not report.ok, "expected problems"
    return list(report.problems)


def the_problem(tmp_path: Path, text: str) -> Problem:
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    return problems[0]


def test_good_file_loads_with_defaults(tmp_path: Path) -> None:
    config = load_estate(write(tmp_path, GOOD), require_approved=True)
    assert isinstance(config, EstateConfig)
    assert config.names() == ["malaria-dev-westafrica", "malaria-prod-westafrica"]
    assert config.phase_for("dev") == 2
    assert config.phase_for("prod") == 1
    assert config.workspace("malaria-prod-westafrica").auth_profile == "malaria-prod"
    assert config.unapproved() == []


def test_unknown_workspace_lookup_lists_names(tmp_path: Path) -> None:
    config = load_estate(write(tmp_path, GOOD), require_approved=True)
    with pytest.raises(NotFound, match="did you mean 'malaria-dev-westafrica'") as err:
        config.workspace("tb-dev-westafrica")
    assert err.value.exit_code == 2  # a name the user typed: a usage error
    assert err.value.known == ["malaria-dev-westafrica", "malaria-prod-westafrica"]  # type: ignore[attr-defined]


def test_bad_name_points_at_name_line(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace("malaria-dev-westafrica", "Malaria_Dev"))
    assert p.where.endswith("lakecrew.yaml:3")
    assert "<project>-<environment>-<region>" in p.what
    assert p.fix and "malaria-dev-westafrica" in p.fix


@pytest.mark.parametrize(
    "name",
    ["malaria-staging-westafrica", "malaria-dev-west-africa", "malaria-dev-", "-dev-westafrica"],
)
def test_names_outside_the_convention_are_refused(tmp_path: Path, name: str) -> None:
    problems = problems_of(tmp_path, GOOD.replace("malaria-dev-westafrica", name))
    assert any(p.where.endswith(":3") and "does not follow" in p.what for p in problems)


def test_project_with_underscore_is_allowed(tmp_path: Path) -> None:
    text = GOOD.replace("malaria-dev-westafrica", "child_health-dev-westafrica").replace(
        "project: malaria\n    cost_center: CC-1\n    approval:\n      status: approved\n"
        "      approved_by: Data Governance Board\n      approved_on: 2025-01-15",
        "project: child_health\n    cost_center: CC-1\n    approval:\n      status: approved\n"
        "      approved_by: Data Governance Board\n      approved_on: 2025-01-15",
    )
    config = load_estate(write(tmp_path, text), require_approved=True)
    assert config.workspaces[0].project == "child_health"


def test_duplicate_name_points_at_second_and_first(tmp_path: Path) -> None:
    text = GOOD.replace("malaria-prod-westafrica", "malaria-dev-westafrica").replace(
        "environment: prod", "environment: dev"
    )
    p = the_problem(tmp_path, text)
    assert p.where.endswith("lakecrew.yaml:15")
    assert "duplicate workspace name 'malaria-dev-westafrica' (first at line 3)" in p.what


def test_duplicate_workspace_id(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace('"1002"', "1001"))  # unquoted: read as int, still an id
    assert p.where.endswith("lakecrew.yaml:21")
    assert "duplicate workspace_id 1001" in p.what and "first at line 7" in p.what


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace("    owner: de@", "    ownr: de@"))
    assert p.where.endswith("lakecrew.yaml:8")
    assert "unknown key 'ownr'" in p.what
    assert p.fix and "did you mean 'owner'" in p.fix


def test_unknown_top_level_key(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, GOOD + "alerting: {}\n")
    assert [p.where.rsplit(":", 1)[1] for p in problems] == ["32"]
    assert "unknown key 'alerting' in (top level)" in problems[0].what


def test_token_key_is_refused_without_echoing_the_value(tmp_path: Path) -> None:
    text = GOOD.replace("    auth_profile: malaria-prod\n", "    token: dapiSECRETVALUE123\n")
    p = the_problem(tmp_path, text)
    assert p.where.endswith(":20")
    assert "dapiSECRETVALUE123" not in p.one_line()
    assert p.fix and "secrets never go in this file" in p.fix


def test_wrong_type(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace("    dev: 2", "    dev: [2]"))
    assert p.where.endswith("lakecrew.yaml:31")
    assert "rollout.phases.dev" in p.what and "integer" in p.what


def test_phase_out_of_range(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace("    dev: 2", "    dev: 5"))
    assert p.where.endswith(":31") and "less than or equal to 4" in p.what


def test_bad_environment_value(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace("environment: dev", "environment: staging"))
    assert p.where.endswith(":4")
    assert "'dev', 'qa' or 'prod'" in p.what and "got 'staging'" in p.what


def test_environment_not_matching_name(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace("environment: dev", "environment: qa"))
    assert p.where.endswith("lakecrew.yaml:4")
    assert "environment 'qa' does not match the name, which says 'dev'" in p.what
    assert p.fix and "environment: dev" in p.fix


def test_project_and_region_must_match_name(tmp_path: Path) -> None:
    text = GOOD.replace("    region: westafrica\n    backend: local", "    region: eastafrica\n"
                        "    backend: local").replace("project: malaria\n    cost_center: CC-1\n"
                        "    approval:\n      status: approved\n      approved_by: Data Governance"
                        " Board\n      approved_on: 2025-01-15", "project: tb\n    cost_center: "
                        "CC-1\n    approval:\n      status: approved\n      approved_by: Data "
                        "Governance Board\n      approved_on: 2025-01-15")  # fmt: skip
    problems = problems_of(tmp_path, text)
    wheres = sorted(p.where.rsplit(":", 1)[1] for p in problems)
    assert wheres == ["5", "9"]


def test_unapproved_is_an_error_for_validate(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      status: approved\n      approved_by: Data Governance Board\n"
        "      approved_on: 2025-02-01",
        "      status: pending",
    )
    p = the_problem(tmp_path, text)
    assert p.where.endswith("lakecrew.yaml:26")
    assert "'malaria-prod-westafrica' is not approved" in p.what and "pending" in p.what
    with pytest.raises(ConfigError, match="not approved"):
        load_estate(tmp_path / "lakecrew.yaml", require_approved=True)


def test_unapproved_is_a_warning_for_read_only_loading(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      status: approved\n      approved_by: Data Governance Board\n"
        "      approved_on: 2025-02-01",
        "      status: rejected",
    )
    path = write(tmp_path, text)
    report = check_estate(path, require_approved=False)
    assert report.ok and len(report.warnings) == 1
    config = load_estate(path, require_approved=False)
    assert [ws.name for ws in config.unapproved()] == ["malaria-prod-westafrica"]


def test_approved_needs_who_and_when(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace("      approved_on: 2025-01-15\n", ""))
    assert p.where.endswith(":11") and "approved_by and approved_on" in p.what


def test_databricks_backend_requires_host(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace("    host: https://adb-1.1.azuredatabricks.net\n", ""))
    assert p.where.endswith(":18") and "has no host" in p.what


def test_host_must_be_a_plain_https_url(tmp_path: Path) -> None:
    bad = "    host: https://user:pw@adb-1.net/?o=1\n"
    p = the_problem(tmp_path, GOOD.replace("    host: https://adb-1.1.azuredatabricks.net\n", bad))
    assert p.where.endswith(":19") and "host must be a workspace URL" in p.what
    assert "user:pw" not in p.one_line()  # a value that long is never echoed


def test_local_backend_refuses_host(tmp_path: Path) -> None:
    text = GOOD.replace("    backend: local\n", "    backend: local\n    host: https://x.net\n")
    p = the_problem(tmp_path, text)
    assert p.where.endswith(":7") and "only apply to backend databricks" in p.what


def test_several_problems_are_all_reported_one_line_each(tmp_path: Path) -> None:
    text = GOOD.replace("    owner: de@", "    ownr: de@").replace("dev: 2", "dev: x")
    with pytest.raises(ConfigProblems) as info:
        load_estate(write(tmp_path, text), require_approved=True)
    err = info.value
    assert err.exit_code == 2
    assert [p.where.rsplit(":", 1)[1] for p in err.problems] == ["8", "31"]
    lines = str(err).splitlines()
    assert lines[0] == "2 problems:"
    assert len(lines) == 3
    assert "lakecrew.yaml:8: unknown key 'ownr' in workspaces[0]" in lines[1]
    assert "lakecrew.yaml:31: rollout.phases.dev:" in lines[2] and "got 'x'" in lines[2]


@pytest.mark.parametrize(
    ("version_line", "message"),
    [
        ("version: 2", "unsupported config version 2"),
        ("version: 0", "unsupported config version 0"),
        ('version: "1"', "unsupported config version '1'"),
        ("# no version", "missing 'version:'"),
    ],
)
def test_version_is_checked_first(tmp_path: Path, version_line: str, message: str) -> None:
    p = the_problem(tmp_path, GOOD.replace("version: 1", version_line, 1))
    assert message in p.what
    assert p.fix and "version: 1" in p.fix


def test_malformed_yaml_syntax_reports_the_line(tmp_path: Path) -> None:
    p = the_problem(
        tmp_path, GOOD.replace("    region: westafrica\n", "    region: [westafrica\n", 1)
    )
    assert p.what.startswith("invalid YAML")
    assert p.where.endswith(":6")


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("    owner: de@example.org\n", "    owner: de@example.org\n    owner: x\n")
    p = the_problem(tmp_path, text)
    assert p.where.endswith(":9") and "duplicate key 'owner' (first at line 8)" in p.what


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    assert "is empty" in the_problem(tmp_path, "# nothing\n").what
    assert "must be a mapping" in the_problem(tmp_path, "- a\n- b\n").what


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found") as info:
        load_estate(tmp_path / "lakecrew.yaml", require_approved=False)
    assert info.value.fix and "lakecrew init" in info.value.fix


def test_missing_required_key(tmp_path: Path) -> None:
    p = the_problem(tmp_path, GOOD.replace("    cost_center: CC-1\n", "", 1))
    assert p.where.endswith(":3") and "missing required key workspaces[0].cost_center" in p.what


def test_budgets_are_validated(tmp_path: Path) -> None:
    text = GOOD + textwrap.dedent(
        """\
        budgets:
          - scope: project
            name: malaria
            monthly_usd: 100
          - scope: project
            name: tb
            monthly_usd: 100
          - scope: cost_center
            name: CC-1
            monthly_usd: 50
            thresholds: [80, 50]
        """
    )
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1 and "thresholds must increase" in problems[0].what
    assert problems[0].where.endswith(":42")
    fixed = text.replace("[80, 50]", "[50, 80]")
    p = the_problem(tmp_path, fixed)
    assert p.where.endswith(":37") and "budget for unknown project 'tb'" in p.what


def test_databricks_warehouse_and_timeouts_load_and_are_refused_on_local(tmp_path: Path) -> None:
    extra = "    warehouse_id: abc123\n    timeouts: {connect_timeout_seconds: 5}\n"
    host = "    host: https://adb-1.1.azuredatabricks.net\n"
    config = load_estate(write(tmp_path, GOOD.replace(host, host + extra)), require_approved=True)
    [remote] = [w for w in config.workspaces if w.backend == "databricks"]
    assert remote.warehouse_id == "abc123" and remote.timeouts is not None
    assert remote.timeouts.connect_timeout_seconds == 5
    assert remote.timeouts.retry_budget_seconds == 300
    local = GOOD.replace("    backend: local\n", "    backend: local\n    warehouse_id: w1\n")
    p = the_problem(tmp_path, local)
    assert "warehouse_id only apply to backend databricks" in p.what
