"""The `lakecrew` command: the typer app, global options and the one error handler.

Exit codes: 0 success; 1 failure (LakecrewError with exit_code 1, or an unexpected exception);
2 wrong usage (typer/click usage errors, UsageError, ConfigError). Errors are one line on stderr;
``--debug`` adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Any

import typer
from typer.core import HAS_RICH, TyperGroup, TyperOption

from lakecrew.core.errors import LakecrewError
from lakecrew.faces.cli.console import CliState, print_error, print_internal
from lakecrew.faces.cli.families import LazyCommands
from lakecrew.faces.cli.options import (
    DebugOpt,
    OutputOpt,
    ProjectOpt,
    WideOpt,
    default_project,
    epilog,
    state_of,
)

_type_label = TyperOption.display_type_rich


def _flag_without_type(self: TyperOption, ctx: Any) -> str | None:
    """A flag takes no value: typer 0.29 labels it `<bool>` in --help, which reads as if it
    wanted one (`--apply <bool>`); show no type for flags, as click and gh do."""
    return None if self.is_flag else _type_label(self, ctx)


TyperOption.display_type_rich = _flag_without_type  # type: ignore[method-assign]


class LakecrewGroup(TyperGroup):
    """The error handler of a root group: every exception a command raises becomes one line and
    an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer/click's own exits and usage errors (exit code 2)
        except BrokenPipeError:
            # `lakecrew findings | head`: the reader has what it wanted; stop quietly, as cat does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except LakecrewError as err:
            state = _state(ctx)
            _traceback_if_debug(state, err)
            print_error(state, err)
            raise typer.Exit(err.exit_code) from None
        except Exception as exc:  # noqa: BLE001 - the CLI's last resort: one line, exit 1
            state = _state(ctx)
            _traceback_if_debug(state, exc)
            print_internal(state, exc)
            raise typer.Exit(1) from None


class RootGroup(LakecrewGroup):
    """`lakecrew` itself: its commands are the families of faces/cli/families.py, each built
    when first used. Listing them (`lakecrew --help`, completing a command name) reads the table
    and imports no command module; the root's --help is drawn by root_help.py."""

    eager = False  # EagerRootGroup: every family built up front (tests compare the two)

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        commands = LazyCommands()
        commands.update(self.commands)  # a command given to the group itself, if any
        if self.eager:
            commands.build_all()
        self.commands = self.lazy = commands

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self.lazy.listing():
            if HAS_RICH and self.rich_markup_mode == "rich":
                from lakecrew.faces.cli import root_help

                try:
                    root_help.draw(self, ctx)  # typer's layout without importing typer.rich_utils
                    return
                except AttributeError:  # a typer whose parameters differ: its own renderer
                    pass
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        with self.lazy.listing():
            return super().shell_complete(ctx, incomplete)


class EagerRootGroup(RootGroup):
    """The same root with every family built: the tree as typer would have it."""

    eager = True


def _state(ctx: Any) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState(project=default_project())


def _traceback_if_debug(state: CliState, exc: BaseException) -> None:
    if state.debug:
        sys.stderr.write("".join(traceback.format_exception(exc)))


def make_app(*, eager: bool = False) -> typer.Typer:
    """The `lakecrew` typer app; its families (faces/cli/families.py) are built when used, or
    all up front with ``eager``."""
    root = typer.Typer(
        name="lakecrew",
        cls=EagerRootGroup if eager else RootGroup,
        help="Run the Databricks SOP: estate inventory, policies, crew, pipelines.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        epilog=epilog(
            "lakecrew demo",
            "lakecrew sweep --phase 1",
            "lakecrew findings --status open --output json",
            "lakecrew --install-completion   # shell completion for bash, zsh, fish",
        ),
    )
    root.callback()(main)
    return root


def _version(value: bool) -> None:
    if value:
        from lakecrew import __version__

        sys.stdout.write(f"lakecrew {__version__}\n")
        raise typer.Exit(0)


def main(
    ctx: typer.Context,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """lakecrew turns the Databricks SOP into running software."""
    ctx.obj = CliState(project=default_project())
    state_of(ctx, project=project, output=output, debug=debug, wide=wide)


# The command families (what each top-level command is, where it lives, its help line) are the
# table in faces/cli/families.py: add a family there, not here.
app = make_app()


def run() -> None:
    """Console-script entry point (``lakecrew``). A native crash (SIGABRT/SIGSEGV in a
    library: DuckDB, delta-rs, Arrow) prints every thread's Python stack to stderr first, so a
    rare abort (exit 134) says where it happened."""
    import faulthandler

    faulthandler.enable(file=sys.stderr, all_threads=True)
    app(prog_name="lakecrew")
