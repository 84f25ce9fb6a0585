"""`lakecrew estate validate | summary | import`: the workspace inventory of SOP 1.1.3."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lakecrew.faces.cli.console import Result, emit, progress, render_items, warn
from lakecrew.faces.cli.cost import SourceChoice, SourceOpt
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, WideOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out, money

app = typer.Typer(help="The estate: registered workspaces (lakecrew.yaml).", no_args_is_help=True)


@app.command(
    "validate",
    epilog=epilog(
        "lakecrew estate validate",
        "lakecrew estate validate -p ../other-estate --output json",
        "lakecrew estate validate --skip-auth   # in CI, where credentials come at run time",
        exits="0 valid; 2 lakecrew.yaml has problems (each printed as file:line: what — fix)",
    ),
)
def validate(
    ctx: typer.Context,
    *,
    skip_auth: Annotated[
        bool,
        typer.Option(
            "--skip-auth",
            help="Do not check Databricks auth profiles (when credentials come at run time).",
        ),
    ] = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Check lakecrew.yaml: names, duplicates, unknown keys, types, Board approval, and (offline)
    that each Databricks workspace's auth profile exists for its host."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.services.estate.config import CONFIG_FILENAME, check_estate
    from lakecrew.services.estate.yamlpos import ConfigProblems

    report = check_estate(state.project / CONFIG_FILENAME, require_approved=True)
    if report.problems or report.config is None:
        raise ConfigProblems(report.problems)
    config = report.config
    checks = [] if skip_auth else _auth_checks(config)
    items = [
        {"workspace": ws.name, "environment": ws.environment, "approved": ws.approved}
        for ws in config.workspaces
    ]
    meta = {"ok": True, "file": report.source, "version": config.version, "auth": checks}
    emit(state, Result("estate_validate", items, meta), _render_validate)


def _auth_checks(config: Any) -> list[dict[str, Any]]:
    """Offline checks of each Databricks workspace's auth (profile exists, host well-formed);
    a problem is a ConfigError (exit 2) naming the workspace and how to fix it."""
    from lakecrew.services.estate.auth_check import check_databricks_auth

    return check_databricks_auth(config)


def _render_validate(out: Out, result: Result) -> None:
    n = len(result.items)
    out.line(f"{result.meta['file']}: OK — {n} workspace(s), all approved")
    for check in result.meta["auth"]:
        out.line(f"  {check['workspace']}: databricks auth {check['method']} ({check['detail']})")


@app.command(
    "summary",
    epilog=epilog(
        "lakecrew estate summary",
        "lakecrew estate summary --output json",
        exits="0 every workspace read; 1 a workspace could not be read (the rest is shown, "
        "and why); 2 usage or configuration error",
    ),
)
def summary(
    ctx: typer.Context,
    *,
    source: SourceOpt = SourceChoice.AUTO,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Workspaces, resource counts and list cost (USD) of the estate. Resources are listed
    through each workspace's API; cost is read where `--source` says (a databricks
    workspace's warehouse in place, or the local tables)."""
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    from lakecrew.services.estate.summary import estate_summary
    from lakecrew.services.finops.prices import with_price_note
    from lakecrew.wiring.context import Context

    with Context.open(state.project) as lc:
        for ws in lc.config.unapproved():
            warn(state, f"workspace {ws.name!r} is not approved ({ws.approval.status})")
        with progress(state, "reading workspaces", total=len(lc.config.workspaces)) as bar:
            engine, read_from = lc.billing_sql(source.value)
            data = estate_summary(lc.config, lc.workspace, engine, on_workspace=bar.step)
            read_from = with_price_note(engine, read_from)
    per_ws = data["resources"]["per_workspace"]
    items = [
        {"workspace": ws["name"], **{k: v for k, v in ws.items() if k != "name"},
         "resources": per_ws.get(ws["name"])}
        for ws in data["workspaces"]
    ]  # fmt: skip
    meta = {k: v for k, v in data.items() if k != "workspaces"} | {"billing_source": read_from}
    emit(state, Result("estate_summary", items, meta), _render_summary)
    if data["unreachable"]:
        raise typer.Exit(1)  # a partial summary: never the same exit as a whole one


SUMMARY_COLUMNS = (
    Col("workspace"), Col("environment", "env"), Col("region"), Col("project"),
    Col("backend", wide=True), Col("approved"), Col("phase"), Col("objects", justify="right"),
)  # fmt: skip


def _render_summary(out: Out, result: Result) -> None:
    data = result.meta
    rows = [
        {**ws, "objects": sum(ws["resources"].values()) if ws["resources"] is not None
         else "unreachable"}
        for ws in result.items
    ]  # fmt: skip
    out.table(SUMMARY_COLUMNS, rows, title="Estate")
    kinds = {k: v for k, v in data["resources"].items() if k != "per_workspace"}
    out.line("resources: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    out.line(f"list cost: {money(data['cost_usd'])} USD (billing: {data['billing_source']})")
    for label, key in (
        ("by project", "cost_by_project"),
        ("by environment", "cost_by_environment"),
    ):
        if data[key]:
            parts = ", ".join(f"{k} {money(v)}" for k, v in data[key].items())
            out.line(f"  {label}: {parts}")
    if data["unattributed_cost_usd"]:
        out.line(f"  unattributed: {money(data['unattributed_cost_usd'])}")
    if data["unpriced_usage_records"]:
        out.line(f"  usage records without a price: {data['unpriced_usage_records']}")
    for name, reason in data["unreachable"].items():
        out.line(f"unreachable {name}: {reason}", style="yellow")


@app.command(
    "import",
    epilog=epilog(
        "lakecrew estate import malaria-dev-westafrica exports/",
        "lakecrew estate import lassa-prod-westafrica ~/Downloads/lassa-export --output json",
        exits="0 imported; 1 an export could not be read (file:line named); 2 unknown "
        "workspace or usage",
    ),
)
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
        lc.config.workspace(workspace)  # exit 2 with "did you mean" when misspelt
        with progress(state, f"importing into {workspace}") as bar:
            result = import_workspace(lc, workspace, path, on_progress=bar.report)
    emit(state, Result("estate_import", [result]), render_items)
