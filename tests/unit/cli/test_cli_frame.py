"""The CLI frame: init, estate validate, --output json, exit codes, one-line errors, --debug."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lakecrew.core.errors import NotFound
from lakecrew.faces.cli.main import LakecrewGroup, app

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_init_then_validate(tmp_path: Path) -> None:
    code, out, err = invoke("--project", str(tmp_path), "init")
    assert code == 0, err
    assert (tmp_path / "lakecrew.yaml").is_file()
    assert "wrote" in out
    code, out, err = invoke("-p", str(tmp_path), "estate", "validate", "--skip-auth")
    assert code == 0, err
    assert "OK" in out and "4 workspace(s)" in out


def test_validate_checks_databricks_auth_offline(tmp_path: Path) -> None:
    """The starter's Databricks workspace names a profile; without it validate fails in one
    line per workspace (exit 2) instead of saying OK; with it, validate names the method."""
    assert invoke("-p", str(tmp_path), "init")[0] == 0
    cfg = tmp_path / "databrickscfg"
    env = {"DATABRICKS_CONFIG_FILE": str(cfg), "DATABRICKS_TOKEN": "", "DATABRICKS_HOST": ""}
    code, out, err = invoke("-p", str(tmp_path), "estate", "validate", env=env)
    assert code == 2 and out == ""
    assert "auth_profile 'malaria-prod' is not in" in err and "databricks auth login" in err
    cfg.write_text(
        "[malaria-prod]\nhost = https://adb-1000000000000003.3.azuredatabricks.net\n"
        "token = dapi-not-a-real-token\n",
        encoding="utf-8",
    )
    code, out, err = invoke("-p", str(tmp_path), "estate", "validate", env=env)
    assert code == 0, err
    assert "malaria-prod-westafrica: databricks auth pat (profile malaria-prod" in out
    assert "dapi-not" not in out
    cfg.write_text("[malaria-prod]\nhost = https://elsewhere.cloud.databricks.com\n", "utf-8")
    code, _, err = invoke("-p", str(tmp_path), "estate", "validate", env=env)
    assert code == 2 and "is for host https://elsewhere.cloud.databricks.com" in err


def test_init_twice_is_refused_in_one_line_with_exit_1(tmp_path: Path) -> None:
    assert invoke("-p", str(tmp_path), "init")[0] == 0
    code, out, err = invoke("-p", str(tmp_path), "init")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "already exists" in err and "--force" in err
    assert "Traceback" not in err
    assert invoke("-p", str(tmp_path), "init", "--force")[0] == 0


def test_output_json_before_or_after_the_subcommand(tmp_path: Path) -> None:
    code, out, _ = invoke("init", "--project", str(tmp_path), "--output", "json")
    assert code == 0 and json.loads(out)["items"][0]["file"].endswith("lakecrew.yaml")
    for args in (
        ("--output", "json", "-p", str(tmp_path), "estate", "validate", "--skip-auth"),
        ("estate", "validate", "-p", str(tmp_path), "--output", "json", "--skip-auth"),
    ):
        code, out, err = invoke(*args)
        assert code == 0, err
        data = json.loads(out)
        assert data["kind"] == "estate_validate" and data["meta"]["ok"] is True
        assert data["items"][0] == {
            "workspace": "malaria-dev-westafrica",
            "environment": "dev",
            "approved": True,
        }


def test_project_from_environment_variable(tmp_path: Path) -> None:
    env = {"LAKECREW_PROJECT": str(tmp_path)}
    assert invoke("init", env=env)[0] == 0
    code, out, _ = invoke("estate", "validate", "--skip-auth", "-o", "json", env=env)
    assert code == 0 and json.loads(out)["meta"]["ok"] is True


def test_project_found_in_a_parent_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like dbt and git: from a subfolder, the nearest lakecrew.yaml above is the project."""
    assert invoke("-p", str(tmp_path), "init")[0] == 0
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.delenv("LAKECREW_PROJECT", raising=False)
    code, out, err = invoke("estate", "validate", "--skip-auth")
    assert code == 0, err
    assert str(tmp_path / "lakecrew.yaml") in out


BAD = """\
version: 1
workspaces:
  - name: malaria-dev-westafrica
    environment: qa
    region: westafrica
    owner: a@example.org
    project: malaria
    cost_center: CC-1
    approval: {status: approved, approved_by: board, approved_on: 2025-01-01}
  - name: malaria-dev-westafrica
    environment: dev
    region: westafrica
    owner: a@example.org
    project: malaria
    cost_center: CC-1
    approval: {status: pending}
"""


def test_invalid_estate_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    (tmp_path / "lakecrew.yaml").write_text(BAD, encoding="utf-8")
    code, out, err = invoke("-p", str(tmp_path), "estate", "validate")
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "error: 3 problems:"
    assert "lakecrew.yaml:4: workspace 'malaria-dev-westafrica': environment 'qa'" in lines[1]
    assert "lakecrew.yaml:10: duplicate workspace name" in lines[2]
    assert "lakecrew.yaml:16: workspace 'malaria-dev-westafrica' is not approved" in lines[3]
    assert len(lines) == 4


def test_invalid_estate_as_json_error(tmp_path: Path) -> None:
    (tmp_path / "lakecrew.yaml").write_text(BAD.replace("version: 1", "version: 9"), "utf-8")
    code, out, err = invoke("-p", str(tmp_path), "estate", "validate", "-o", "json")
    assert code == 2 and out == ""
    error = json.loads(err)["error"]
    assert error["type"] == "ConfigProblems" and error["exit_code"] == 2
    assert error["where"].endswith("lakecrew.yaml:1")
    assert "unsupported config version 9" in error["what"]
    assert error["problems"][0]["fix"].startswith("write 'version: 1'")


def test_missing_config_file(tmp_path: Path) -> None:
    code, _, err = invoke("-p", str(tmp_path), "estate", "validate")
    assert code == 2
    assert "lakecrew.yaml: file not found" in err and "lakecrew init" in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke("estate", "validate", "--bogus")[0] == 2
    assert invoke("no-such-command")[0] == 2
    assert invoke("-p", str(tmp_path), "--output", "yaml", "estate", "validate")[0] == 2


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "lakecrew.yaml").write_text(BAD, encoding="utf-8")
    code, _, err = invoke("-p", str(tmp_path), "estate", "validate", "--debug")
    assert code == 2
    assert "Traceback (most recent call last)" in err
    assert err.index("Traceback") < err.index("error: 3 problems:")
    assert "lakecrew.yaml:16: workspace 'malaria-dev-westafrica' is not approved" in err


# The error handler itself, on a small app built with the same root group class.
probe = typer.Typer(cls=LakecrewGroup)


@probe.callback()
def _probe_root(ctx: typer.Context, debug: bool = typer.Option(False, "--debug")) -> None:
    from lakecrew.faces.cli.console import CliState

    ctx.obj = CliState(project=Path.cwd(), debug=debug)


@probe.command("boom")
def _boom() -> None:
    raise RuntimeError("disk on fire")


@probe.command("missing")
def _missing() -> None:
    raise NotFound("table x.y.z not found", where="x.y.z", fix="run simulate")


@pytest.mark.parametrize("debug", [False, True])
def test_unexpected_exception_is_one_line_exit_1(debug: bool) -> None:
    args = ["--debug", "boom"] if debug else ["boom"]
    result = runner.invoke(probe, args)
    assert result.exit_code == 1
    last = result.stderr.rstrip().splitlines()[-1]
    assert last == "internal error: RuntimeError: disk on fire (rerun with --debug)"
    assert ("Traceback" in result.stderr) is debug


def test_lakecrew_error_uses_its_exit_code() -> None:
    result = runner.invoke(probe, ["missing"])
    assert result.exit_code == NotFound.exit_code == 1
    assert result.stderr == "error: x.y.z: table x.y.z not found — fix: run simulate\n"


def test_json_rendering_is_stable_and_plain() -> None:
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from pydantic import SecretStr

    from lakecrew.faces.cli.console import dumps

    text = dumps(
        {
            "b": Decimal("7.10"),
            "a": [date(2026, 3, 1), datetime(2026, 3, 1, 10, tzinfo=UTC)],
            "path": Path("x/y"),
            "token": SecretStr("dapi-secret"),
        }
    )
    assert json.loads(text) == {
        "a": ["2026-03-01", "2026-03-01T10:00:00+00:00"],
        "b": "7.10",  # decimals are strings: exact, as Databricks' Statement API returns them
        "path": "x/y",
        "token": "**********",
    }
    assert text.index('"a"') < text.index('"b"') and "dapi-secret" not in text
