"""`lakecrew security identity`: token, identity, workspace-conf and policy checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, WideOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out

ForwardOpt = Annotated[
    str | None,
    typer.Option(help="Also queue the findings for this notification channel (a SIEM)."),
]

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
    forward: ForwardOpt = None,
    tickets: Annotated[
        bool, typer.Option("--tickets", help="Open a rotation ticket per overdue secret.")
    ] = False,
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
    if forward:
        meta["forwarded"] = _forward(
            state.project, forward, report.workspace, report.environment, items, when
        )
    if tickets:
        from lakecrew.wiring.security import rotation_tickets

        meta["rotation_tickets"] = rotation_tickets(state.project, report, when)
    emit(state, Result("security_identity", items, meta), _render)
    if items or report.partial:
        raise typer.Exit(1)


def _forward(
    project: Path,
    channel: str,
    workspace: str,
    env: str,
    items: list[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    from lakecrew.wiring.security import forward_findings

    return forward_findings(project, channel, workspace, env, items, now)


def audit(
    ctx: typer.Context,
    *,
    workspace: Annotated[str, typer.Option(help="A workspace of lakecrew.yaml.")],
    max_gap_hours: Annotated[
        float, typer.Option(min=1, help="Longest allowed time without audit rows.")
    ] = 24,
    log_delivery: Annotated[
        Path | None,
        typer.Option(
            help="The account's log-delivery configurations (exported JSON; default: read "
            "through the account API of lakecrew.yaml's `account:` section)."
        ),
    ] = None,
    now: Annotated[
        datetime | None, typer.Option(help="Judge as of this UTC time (default: now).")
    ] = None,
    forward: ForwardOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Verify audit delivery: recent rows in system.access.audit (a gap over --max-gap-hours is a
    finding) and an enabled AUDIT_LOGS log delivery — read through the account API when
    lakecrew.yaml has an `account:` section, or from an exported --log-delivery file. Judge
    the week's interactive sign-ins too: any that did not go through SSO is a finding."""
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    from lakecrew.wiring.security import audit_report

    when = now.replace(tzinfo=now.tzinfo or UTC) if now else datetime.now(UTC)
    report, signs = audit_report(
        state.project,
        workspace=workspace,
        now=when,
        max_gap_hours=max_gap_hours,
        log_delivery=log_delivery,
    )
    findings = [*report.findings, *signs.findings]
    items = [{"workspace": workspace, **f} for f in findings]
    meta: dict[str, Any] = {
        "workspace": workspace,
        "last_event_hour": report.last_event.isoformat() if report.last_event else None,
        "hours_with_rows": report.hours_with_rows,
        "events": report.events,
        "not_checked": report.not_checked,
        "unseen": [*report.unseen, *signs.unseen],
        "sign_ins": {
            "window_days": signs.window_days,
            "sso": signs.sso,
            "non_sso": dict(signs.non_sso),
            "users": len(signs.users),
            "notes": signs.notes,
        },
    }
    if forward:
        meta["forwarded"] = _forward(state.project, forward, workspace, "", findings, when)
    emit(state, Result("security_audit", items, meta), _render_audit)
    if items or meta["unseen"]:  # an unreadable account API is not "configured"
        raise typer.Exit(1)


def _render_audit(out: Out, result: Result) -> None:
    out.table(COLUMNS, result.items)
    m = result.meta
    out.note(
        f"{len(result.items)} finding(s); {m['events']} audit event(s) in {m['hours_with_rows']}"
        f" hour(s), newest hour {m['last_event_hour']}"
    )
    s = m["sign_ins"]
    non_sso = sum(s["non_sso"].values())
    out.note(
        f"sign-ins in {s['window_days']} days: {s['sso']} through SSO, {non_sso} not"
        f" (by {s['users']} user(s))"
    )
    for n in [*m["not_checked"], *s["notes"]]:
        out.note(f"not checked: {n}")


app.command(
    "identity",
    epilog=epilog(
        "lakecrew security identity --workspace malaria-prod-westafrica",
        "lakecrew security identity --export ./exports/prod --env prod --output json",
        exits="0 nothing found and every API read; 1 findings or an unseen API; 2 usage error",
    ),
)(identity)


app.command(
    "audit",
    epilog=epilog(
        "lakecrew security audit --workspace malaria-prod-westafrica --max-gap-hours 6",
        "lakecrew security audit --workspace W --log-delivery log-delivery.json --forward siem",
        exits="0 audit logs arrive; 1 a gap, no rows, no log delivery, or the account's "
        "log-delivery API unseen (401/403/404); 2 usage error",
    ),
)(audit)
