"""Top-level commands: init, simulate, sql, demo. Each parses, calls one service, renders."""

from __future__ import annotations

from typing import Annotated

import typer

from lakecrew.faces.cli.console import Result, emit, progress, render_items
from lakecrew.faces.cli.demo_view import render_demo
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, WideOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out


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
    from lakecrew.services.estate.starter import write_starter

    state = state_of(ctx, project=project, output=output, debug=debug)
    path = write_starter(state.project, force=force)
    emit(state, Result("init", [{"file": path}]), _render_init)


def _render_init(out: Out, result: Result) -> None:
    out.line(f"wrote {result.items[0]['file']}")
    out.note("next: edit it, then run `lakecrew estate validate`")


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
    emit(state, Result("simulate", [result]), render_items)


def sql(
    ctx: typer.Context,
    *,
    query: Annotated[
        str, typer.Argument(help='Databricks SQL, e.g. "SELECT * FROM system.billing.usage"')
    ],
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run one SQL query (Databricks dialect) against the project's engine and show the rows.

    JSON: one item per row (column → value; decimals as strings, maps as objects, binary as
    0x-hex) and meta.columns with each column's name and Arrow type.
    """
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    from lakecrew.wiring.context import Context

    with Context.open(state.project) as lc:
        table = lc.sql.fetch_arrow(query)
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    rows = table.to_pylist(maps_as_pydicts="lossy")
    emit(state, Result("sql", rows, {"columns": columns, "row_count": len(rows)}), _render_rows)


def _render_rows(out: Out, result: Result) -> None:
    out.table([Col(c["name"], c["name"]) for c in result.meta["columns"]], result.items)
    out.note(f"{len(result.items)} row(s)")


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
    emit(state, Result("demo", [result]), render_demo)


def register(app: typer.Typer) -> None:
    """Add the top-level commands to the root app."""
    app.command("init", epilog=epilog("lakecrew init", "lakecrew init --force -p my-estate"))(init)
    app.command(
        "simulate", epilog=epilog("lakecrew simulate --seed 7", "lakecrew simulate --scale 4")
    )(simulate)
    app.command(
        "sql",
        epilog=epilog(
            'lakecrew sql "SELECT sku_name, sum(usage_quantity) AS dbus FROM '
            'system.billing.usage GROUP BY ALL"',
            'lakecrew sql "SELECT * FROM system.compute.clusters LIMIT 5" --output json',
            exits="0 success; 1 the query failed; 2 bad SQL (position and token named) or usage",
        ),
    )(sql)
    app.command("demo", epilog=epilog("lakecrew demo", "lakecrew demo -p /tmp/estate --seed 7"))(
        demo
    )
