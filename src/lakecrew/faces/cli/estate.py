"""`lakecrew estate validate | summary | import`: the workspace inventory of SOP 1.1.3."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lakecrew.faces.cli.console import emit, progress, render_mapping, warn
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, state_of
from lakecrew.services.estate.config import CONFIG_FILENAME, check_estate
from lakecrew.services.estate.yamlpos import ConfigProblems

app = typer.Typer(help="The estate: registered workspaces (lakecrew.yaml).", no_args_is_help=True)


@app.command("validate")
def validate(
    ctx: typer.Context,
    *,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Check lakecrew.yaml: names, duplicates, unknown keys, types, Board approval."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    report = check_estate(state.project / CONFIG_FILENAME, require_approved=True)
    if report.problems or report.config is None:
        raise ConfigProblems(report.problems)
    config = report.config
    data = {
        "ok": True,
        "file": report.source,
        "version": config.version,
        "workspaces": [
            {"name": ws.name, "environment": ws.environment, "approved": ws.approved}
            for ws in config.workspaces
        ],
    }
    emit(state, data, _render_validate)


def _render_validate(console: Console, data: dict[str, Any]) -> None:
    n = len(data["workspaces"])
    console.print(f"{data['file']}: OK — {n} workspace(s), all approved", markup=False)


@app.command("summary")
def summary(
    ctx: typer.Context,
    *,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Workspaces, resource counts and list cost (USD) of the estate."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.services.estate.summary import estate_summary
    from lakecrew.wiring.context import Context

    with Context.open(state.project) as lc:
        for ws in lc.config.unapproved():
            warn(state, f"workspace {ws.name!r} is not approved ({ws.approval.status})")
        with progress(state, "reading workspaces", total=len(lc.config.workspaces)) as bar:
            data = estate_summary(lc.config, lc.workspace, lc.sql, on_workspace=bar.step)
    emit(state, data, _render_summary)


def _render_summary(console: Console, data: dict[str, Any]) -> None:
    per_ws = data["resources"]["per_workspace"]
    table = Table(title="Estate")
    for col in ("workspace", "env", "region", "project", "backend", "approved", "phase", "objects"):
        table.add_column(col)
    for ws in data["workspaces"]:
        counts = per_ws.get(ws["name"])
        objects = str(sum(counts.values())) if counts is not None else "unreachable"
        table.add_row(
            ws["name"], ws["environment"], ws["region"], ws["project"], ws["backend"],
            "yes" if ws["approved"] else "NO", str(ws["phase"]), objects,
        )  # fmt: skip
    console.print(table)
    kinds = {k: v for k, v in data["resources"].items() if k != "per_workspace"}
    console.print("resources: " + ", ".join(f"{k} {v}" for k, v in kinds.items()), markup=False)
    console.print(f"list cost: ${data['cost_usd']:,} USD", markup=False)
    for label, key in (
        ("by project", "cost_by_project"),
        ("by environment", "cost_by_environment"),
    ):
        if data[key]:
            parts = ", ".join(f"{k} ${v:,}" for k, v in data[key].items())
            console.print(f"  {label}: {parts}", markup=False)
    if data["unattributed_cost_usd"]:
        console.print(f"  unattributed: ${data['unattributed_cost_usd']:,}", markup=False)
    if data["unpriced_usage_records"]:
        console.print(f"  usage records without a price: {data['unpriced_usage_records']}")
    for name, reason in data["unreachable"].items():
        console.print(f"unreachable {name}: {reason}", style="yellow", markup=False)


@app.command("import")
def import_(
    ctx: typer.Context,
    *,
    workspace: Annotated[str, typer.Argument(help="Registered workspace to import into.")],
    path: Annotated[
        Path, typer.Argument(help="Folder of JSON and system-table exports of a real workspace.")
    ],
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Import a real workspace's exports into the local backend, to audit it offline."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.estate import import_workspace

    with Context.open(state.project, writable=True) as lc:
        lc.config.workspace(workspace)  # NotFound with the registered names when misspelt
        with progress(state, f"importing into {workspace}") as bar:
            result = import_workspace(lc, workspace, path, on_progress=bar.report)
    emit(state, result, render_mapping)
