"""`lakecrew security identity`: token, identity, workspace-conf and policy checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, WideOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out

app = typer.Typer(help="Identity and platform security checks (SOP 1.4).", no_args_is_help=True)

COLUMNS = (Col("rule_id", "rule"), Col("resource"), Col("message"), Col("evidence", wide=True))


def _render(out: Out, result: Result) -> None:
    out.table(COLUMNS, result.items)
    m = result.meta
    out.note(f"{len(result.items)} finding(s) on {m['workspace']} ({m['environment']})")
    for u in m["unseen"]:
        out.note(f"UNSEEN {u['api']} ({u['cause']}): {u['what']} — hides {', '.join(u['hides'])}")
    for n in m["not_checked"]:
        out.note(f"not checked: {n}")


def identity(
    ctx: typer.Context,
    *,
    workspace: Annotated[
        str | None, typer.Option(help="A backend: databricks workspace of lakecrew.yaml.")
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="A folder of exported API JSON (tokens.json, users.json…).")
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(help="dev, qa or prod (default: the workspace's; prod for exports)."),
    ] = None,
    now: Annotated[
        datetime | None, typer.Option(help="Judge as of this UTC time (default: now).")
    ] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check tokens, users and groups, workspace-conf keys, IP access lists, clusters without a
    policy and GPU policy permissions. Exit 1 on findings or on an API that could not be read."""
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    from lakecrew.faces.cli.options import environment
    from lakecrew.services.security.identity import report_items
    from lakecrew.wiring.security import identity_report

    when = (
        (now or datetime.now(UTC)).replace(tzinfo=UTC)
        if now and now.tzinfo is None
        else (now or datetime.now(UTC))
    )
    report = identity_report(
        state.project,
        workspace=workspace,
        export=export,
        environment=environment(env) if env else None,
        now=when,
    )
    meta = {
        "workspace": report.workspace,
        "environment": report.environment,
        "partial": report.partial,
        "unseen": [
            {"api": u.api, "cause": u.cause, "what": u.what, "hides": list(u.hides)}
            for u in report.unseen
        ],
        "not_checked": list(report.not_checked),
    }
    items = report_items(report)
    emit(state, Result("security_identity", items, meta), _render)
    if items or report.partial:
        raise typer.Exit(1)


app.command(
    "identity",
    epilog=epilog(
        "lakecrew security identity --workspace malaria-prod-westafrica",
        "lakecrew security identity --export ./exports/prod --env prod --output json",
        exits="0 nothing found and every API read; 1 findings or an unseen API; 2 usage error",
    ),
)(identity)
