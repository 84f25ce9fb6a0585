"""Options shared by every command, defined once.

``--project``, ``--output`` and ``--debug`` are accepted before the subcommand
(``lakecrew --output json estate summary``) and after it (``lakecrew estate summary --output
json``); a value given after the subcommand wins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lakecrew.faces.cli.console import CliState, OutputFormat

ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project folder with lakecrew.yaml (default: $LAKECREW_PROJECT, else cwd)",
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
    bool, typer.Option("--debug", help="Show the full traceback when something fails.")
]


def default_project() -> Path:
    """$LAKECREW_PROJECT, else the current folder."""
    env = os.environ.get("LAKECREW_PROJECT")
    return Path(env) if env else Path.cwd()


def state_of(
    ctx: typer.Context,
    *,
    project: Path | None = None,
    output: OutputFormat | None = None,
    debug: bool = False,
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


def environment(value: str, option: str = "--env") -> str:
    """An --env value, checked once for every command (UsageError, exit 2, when unknown)."""
    from lakecrew.core.errors import UsageError

    if value not in ENVIRONMENTS:
        raise UsageError(f"unknown environment {value!r}", where=option, fix="use dev, qa or prod")
    return value
