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
from typer.core import TyperGroup, TyperOption

from lakecrew.core.errors import LakecrewError
from lakecrew.faces.cli import (
    alerts,
    assist,
    commands,
    cost,
    crew,
    deploy,
    doctor,
    estate,
    governance,
    models,
    pipeline,
    policy,
    privacy,
    secrets,
    security,
    web,
)
from lakecrew.faces.cli.console import CliState, print_error, print_internal
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
    """The root group: turns every exception raised by a command into one line and an exit code."""

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


def _state(ctx: Any) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState(project=default_project())


def _traceback_if_debug(state: CliState, exc: BaseException) -> None:
    if state.debug:
        sys.stderr.write("".join(traceback.format_exception(exc)))


app = typer.Typer(
    name="lakecrew",
    cls=LakecrewGroup,
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


def _version(value: bool) -> None:
    if value:
        from lakecrew import __version__

        sys.stdout.write(f"lakecrew {__version__}\n")
        raise typer.Exit(0)


@app.callback()
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


# --- command families: one line each (keep this block easy to merge) ---
app.add_typer(estate.app, name="estate")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(policy.app, name="policy")
app.add_typer(cost.app, name="cost")
app.add_typer(cost.anomalies_app, name="anomalies")
app.add_typer(deploy.app, name="deploy")
app.add_typer(secrets.app, name="secrets")
app.add_typer(security.app, name="security")
commands.register(app)
crew.register(app)
models.register(app)
alerts.register(app)
doctor.register(app)
assist.register(app)
governance.register(app)
web.register(app)
app.add_typer(web.users_app, name="users")
privacy.register(app)
# --- end of command families ---


def run() -> None:
    """Console-script entry point (``lakecrew``). A native crash (SIGABRT/SIGSEGV in a
    library: DuckDB, delta-rs, Arrow) prints every thread's Python stack to stderr first, so a
    rare abort (exit 134) says where it happened."""
    import faulthandler

    faulthandler.enable(file=sys.stderr, all_threads=True)
    app(prog_name="lakecrew")
