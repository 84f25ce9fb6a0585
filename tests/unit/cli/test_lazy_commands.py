"""The lazy root: the table of command families against the real tree, the root's --help against
typer's own renderer, completion, and what `lakecrew --help` / `lakecrew sql` import."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer import rich_utils
from typer.testing import CliRunner

import lakecrew.faces.cli as cli_package
from lakecrew.faces.cli.families import FAMILIES, Family, LazyCommands
from lakecrew.faces.cli.main import app, make_app

runner = CliRunner()


@pytest.fixture(scope="module")
def real() -> Any:
    """The root with every family built (what an eager typer app would hold)."""
    return typer.main.get_command(make_app(eager=True))


def _first_paragraph(command: Any) -> str:
    return inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]


def test_the_table_says_what_the_real_commands_say(real: Any) -> None:
    assert list(real.commands) == [f.name for f in FAMILIES]
    for family in FAMILIES:
        command = real.commands[family.name]
        fix = f"families.py: Family({family.name!r}, ..., {_first_paragraph(command)!r})"
        assert family.help == _first_paragraph(command), fix
        # a stub carries name and help only: a family shown otherwise needs more in the table
        assert not command.hidden and not command.deprecated, family.name
        assert not getattr(command, "rich_help_panel", None), family.name  # the default panel


def _typer_apps(module: Any) -> dict[str, typer.Typer]:
    return {k: v for k, v in vars(module).items() if isinstance(v, typer.Typer)}


def _reachable(app_: typer.Typer) -> set[int]:
    seen = {id(app_)}
    for group in app_.registered_groups:
        if group.typer_instance is not None:
            seen |= _reachable(group.typer_instance)
    return seen


def test_every_command_of_every_cli_module_is_in_the_table() -> None:
    """A command added to a module's register(), a module with a new register() or a new
    top-level typer app fails here until its line is in families.py."""
    listed = {f.name: f for f in FAMILIES}
    for info in pkgutil.iter_modules(cli_package.__path__):
        module = importlib.import_module(f"{cli_package.__name__}.{info.name}")
        sub = typer.Typer()
        if callable(getattr(module, "register", None)):
            module.register(sub)
            for name in typer.main.get_group(sub).commands:
                where = (info.name, "register")
                assert name in listed, f"{info.name}.register adds {name!r}: add it to FAMILIES"
                assert (listed[name].module, listed[name].attach) == where, name
        reached = _reachable(sub)
        for attr, typer_app in _typer_apps(module).items():
            if id(typer_app) in reached or info.name == "main":
                continue
            attached = [f for f in FAMILIES if (f.module, f.attach) == (info.name, attr)]
            assert attached, f"{info.name}.{attr} is a typer app no family attaches"


def test_root_help_is_typers_own_rendering(
    real: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`lakecrew --help` (lazy table, root_help.py) is, character for character, what typer's
    renderer draws for the real tree — at two widths, in colour and without."""
    for width, colour in ((120, False), (80, True)):
        env = {"COLUMNS": str(width), "FORCE_COLOR": "1" if colour else ""}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(rich_utils, "FORCE_TERMINAL", True if colour else None)
        ctx = real.context_class(real, info_name="lakecrew")
        drawn = io.StringIO()
        with contextlib.redirect_stdout(drawn):
            rich_utils.rich_format_help(obj=real, ctx=ctx, markup_mode="rich")
        ours = runner.invoke(app, ["--help"], env=env)
        assert ours.exit_code == 0, ours.output
        # click echoes get_help()'s empty string after the help is drawn: one more newline
        assert ours.stdout == drawn.getvalue() + "\n", (width, colour)


def test_help_builds_no_command_and_a_command_builds_its_own_module_only() -> None:
    commands = LazyCommands()
    with commands.listing():
        stub = commands["sweep"]
    assert stub.callback is None
    assert stub.help == next(f.help for f in FAMILIES if f.name == "sweep")
    sweep = commands["sweep"]
    assert sweep.callback is not None and commands["sweep"] is sweep
    assert commands["findings"].callback is not None  # same module: built with sweep
    with commands.listing():
        assert commands["findings"].callback is not None  # built stays built
        assert commands["estate"].callback is None
    assert list(commands) == [f.name for f in FAMILIES] and len(commands) == len(FAMILIES)


def test_a_wrong_table_line_says_what_to_fix() -> None:
    commands = LazyCommands((Family("nosuch", "crew", "register", "x"),))
    with pytest.raises(LookupError, match="lists 'nosuch' in module 'crew', which defines"):
        commands.build_all()


def test_typos_are_suggested_and_subgroups_still_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["swep"])
    assert result.exit_code == 2 and "Did you mean 'sweep'?" in result.output
    result = runner.invoke(app, ["estate", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0 and "validate" in result.stdout
    result = runner.invoke(app, ["-p", str(tmp_path), "init"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("words", ["lakecrew s", "lakecrew ", "lakecrew estate ", "lakecrew sql -"])
def test_completion_is_what_the_real_tree_completes(words: str) -> None:
    env = {"_LAKECREW_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": words}
    lazy = runner.invoke(app, [], env=env, prog_name="lakecrew")
    eager = runner.invoke(make_app(eager=True), [], env=env, prog_name="lakecrew")
    assert lazy.exit_code == eager.exit_code == 0
    assert lazy.stdout == eager.stdout and lazy.stdout.strip()


# What a start-up imports, in a fresh interpreter (the time itself is measured by
# benchmarks/bench_cli_startup.py, never here).
_PROBE = (
    "import atexit, json, sys; atexit.register(lambda: sys.stderr.write("
    "'@@' + json.dumps(sorted(sys.modules)) + '\\n')); "
    "from lakecrew.faces.cli.main import run; run()"
)


def _imported(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("@@"))
    return set(json.loads(line[2:]))


def test_startup_imports_only_what_it_uses(tmp_path: Path) -> None:
    modules = _imported(["--help"], tmp_path)
    commands = {f"lakecrew.faces.cli.{f.module}" for f in FAMILIES}
    assert not modules & commands, modules & commands
    heavy = {"typer.rich_utils", "rich.markdown", "pydantic", "duckdb", "pyarrow", "pandas"}
    assert not modules & heavy, modules & heavy
    assert runner.invoke(app, ["-p", str(tmp_path), "init"]).exit_code == 0
    modules = _imported(["-p", str(tmp_path), "sql", "SELECT 1"], tmp_path)
    assert modules & commands == {"lakecrew.faces.cli.commands"}
    # nothing registered: no Arrow dataset, and so no pandas (pyarrow.dataset and DuckDB's
    # bound parameters import it)
    assert not modules & {"pyarrow.dataset", "pandas", "typer.rich_utils"}
