"""Options shared by every command, defined once, and the conventions every command follows.

``--project``, ``--output``, ``--wide`` and ``--debug`` are accepted before the subcommand
(``lakecrew --output json estate summary``) and after it (``lakecrew estate summary --output
json``); a value given after the subcommand wins. The project is ``--project``, else
``$LAKECREW_PROJECT``, else the nearest folder holding lakecrew.yaml from the current one up (as
dbt and git do), else the current folder. ``--env`` defaults to ``dev`` everywhere.
``epilog(...)`` writes the Examples and exit codes every ``--help`` shows; ``suggest`` gives
"did you mean" hints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lakecrew.faces.cli.console import CliState, OutputFormat

ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project folder with lakecrew.yaml (default: $LAKECREW_PROJECT, else the nearest "
        "folder with lakecrew.yaml from here up, else here)",
        file_okay=False,
        show_default=False,
    ),
]
OutputOpt = Annotated[
    OutputFormat | None,
    typer.Option("--output", "-o", help="Render the result as text or JSON.", show_default=False),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace output files that exist already.")]
DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug", help="Show the full traceback and library logs (e.g. Spark's) when it fails."
    ),
]
WideOpt = Annotated[
    bool,
    typer.Option("--wide", help="Show every column on the terminal (piped output has them all)."),
]


def default_project(start: Path | None = None) -> Path:
    """$LAKECREW_PROJECT, else the nearest folder with lakecrew.yaml from ``start`` (the current
    folder) upwards, else the current folder."""
    env = os.environ.get("LAKECREW_PROJECT")
    if env:
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "lakecrew.yaml").is_file():
            return folder
    return here


def state_of(
    ctx: typer.Context,
    *,
    project: Path | None = None,
    output: OutputFormat | None = None,
    debug: bool = False,
    wide: bool = False,
) -> CliState:
    """The CliState of this invocation, updated with options given after the subcommand."""
    root = ctx.find_root()
    state = root.obj if isinstance(root.obj, CliState) else None
    if state is None:
        state = CliState(project=default_project())
        root.obj = state
    if project is not None:
        state.project = project
    _check_project(state.project)
    if output is not None:
        state.output = output
    if debug:
        state.debug = True
        os.environ.setdefault("LAKECREW_SPARK_LOG_LEVEL", "WARN")  # Spark's log back on
        os.environ.setdefault("LAKECREW_MLFLOW_EVENTS", "1")  # MLflow's stderr lines too
    if wide:
        state.wide = True
    return state


def _check_project(project: Path) -> None:
    """A project folder that loops or is a file is a located usage error (exit 2)."""
    from lakecrew.core.errors import UsageError

    try:
        resolved = project.resolve(strict=False)
    except (RuntimeError, OSError):
        raise UsageError(
            f"{project} is a symlink loop", where="--project", fix="give the project folder"
        ) from None
    if resolved.exists() and not resolved.is_dir():
        raise UsageError(f"{project} is a file", where="--project", fix="give the project folder")


ENVIRONMENTS = ("dev", "qa", "prod")


class Env(StrEnum):
    """The environments of SOP 1.1.1 (a choice: validated and completed by the shell)."""

    DEV = "dev"
    QA = "qa"
    PROD = "prod"


DEFAULT_ENV = Env.DEV
EnvOpt = Annotated[Env, typer.Option("--env", help="Environment of the estate.")]


def environment(value: str, option: str = "--env") -> str:
    """An --env value, checked once for every command (UsageError, exit 2, when unknown)."""
    from lakecrew.core.errors import UsageError

    value = str(value.value if isinstance(value, Env) else value)
    if value not in ENVIRONMENTS:
        raise UsageError(
            f"unknown environment {value!r}{suggest(value, ENVIRONMENTS)}",
            where=option,
            fix="use dev, qa or prod",
        )
    return value


def suggest(value: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known names, or an empty string."""
    from lakecrew.core.errors import did_you_mean

    return did_you_mean(value, list(known))


EXIT_CODES = "0 success; 1 failure (a finding, a refused action, a failed run); 2 usage error"


def epilog(*examples: str, exits: str = EXIT_CODES) -> str:
    """The Examples and Exit codes section of a command's ``--help`` (required for every
    command: tests/unit/cli/test_help.py)."""
    lines = ["[bold]Examples[/bold]", *(f"  $ {e}" for e in examples)]
    lines.append(f"[bold]Exit codes[/bold]: {exits}")
    return "\n\n".join(lines)  # typer's help joins single newlines; a double one is a line break
