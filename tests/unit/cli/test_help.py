"""Every command's --help shows Examples and Exit codes; conventions every command shares."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lakecrew import __version__
from lakecrew.faces.cli.main import app
from lakecrew.testing.cli import all_commands

runner = CliRunner()


COMMANDS = all_commands()


def test_the_tree_is_walked() -> None:
    assert {("sweep",), ("findings",), ("policy", "rules"), ("cost", "report")} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_help_has_examples_and_exit_codes(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Examples" in text, f"`lakecrew {' '.join(path)} --help` has no Examples"
    assert "$ lakecrew " in text, f"`lakecrew {' '.join(path)} --help` shows no example command"
    assert "Exit codes" in text, f"`lakecrew {' '.join(path)} --help` has no exit codes"
    assert "<bool>" not in text, f"`lakecrew {' '.join(path)} --help` types a flag as <bool>"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"lakecrew {__version__}\n"


def test_completion_is_offered() -> None:
    assert "--install-completion" in runner.invoke(app, ["--help"]).stdout


def test_enum_choices_are_validated_with_exit_2() -> None:
    for args in (
        ["policy", "export", "--env", "staging"],
        ["cost", "report", "--period", "year"],
        ["pipeline", "run", "x", "--engine", "flink"],
        ["policy", "export", "--cloud", "oracle"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert "is not one of" in result.output, args


def test_env_defaults_to_dev_everywhere() -> None:
    for path in (("policy", "export"), ("policy", "apply"), ("pipeline", "run"),
                 ("pipeline", "bundle"), ("pipeline", "validate")):  # fmt: skip
        text = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).stdout
        line = next(x for x in text.splitlines() if "--env" in x)
        assert "[default: dev]" in line, (path, line)
