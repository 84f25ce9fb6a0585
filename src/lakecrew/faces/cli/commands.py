"""Top-level commands: init, simulate, sql, demo. Each parses, calls one service, renders."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lakecrew.faces.cli.console import emit, progress, render_mapping
from lakecrew.faces.cli.demo_view import render_demo
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, state_of
from lakecrew.services.estate.starter import write_starter


def init(
    ctx: typer.Context,
    *,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing lakecrew.yaml.")
    ] = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write a commented starter lakecrew.yaml (four example workspaces) into the project."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    path = write_starter(state.project, force=force)
    emit(state, {"written": path}, _render_init)


def _render_init(console: Console, data: dict[str, Any]) -> None:
    console.print(f"wrote {data['written']}", markup=False)
    console.print("next: edit it, then run `lakecrew estate validate`", markup=False)


def simulate(
    ctx: typer.Context,
    *,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same estate.")
    ] = 7,
    scale: Annotated[int, typer.Option(min=1, help="Size multiplier of the demo estate.")] = 1,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Fill the local backend with a clearly labelled, simulated demo estate."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.demo.project import simulate_project

    with progress(state, "simulating") as bar:
        result = simulate_project(state.project, seed=seed, scale=scale, on_progress=bar.report)
    emit(state, result, render_mapping)


def sql(
    ctx: typer.Context,
    *,
    query: Annotated[
        str, typer.Argument(help='Databricks SQL, e.g. "SELECT * FROM system.billing.usage"')
    ],
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run one SQL query (Databricks dialect) against the project's engine and show the rows."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.wiring.context import Context

    with Context.open(state.project) as lc:
        result = lc.sql.fetch(query)
    emit(state, {"columns": list(result.columns), "rows": result.as_dicts()}, _render_rows)


def _render_rows(console: Console, data: dict[str, Any]) -> None:
    table = Table(*data["columns"])
    for row in data["rows"]:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    console.print(table)
    console.print(f"{len(data['rows'])} row(s)", markup=False)


def demo(
    ctx: typer.Context,
    *,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated estate.")] = 7,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """End-to-end demo on a simulated estate: init, simulate, sweep, report."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.demo.project import run_demo

    with progress(state, "demo") as bar:
        result = run_demo(state.project, seed=seed, on_progress=bar.report)
    emit(state, result, render_demo)


def register(app: typer.Typer) -> None:
    """Add the top-level commands to the root app."""
    app.command("init")(init)
    app.command("simulate")(simulate)
    app.command("sql")(sql)
    app.command("demo")(demo)
