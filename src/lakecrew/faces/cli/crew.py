"""`lakecrew sweep | findings | actions | rollback | exempt`: the crew (SOP 3.1–3.3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lakecrew.core.errors import UsageError
from lakecrew.faces.cli.console import emit, progress, to_jsonable
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, state_of

WorkspaceOpt = Annotated[
    str | None, typer.Option("--workspace", "-w", help="Only this workspace (default: all).")
]
NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Evaluate as of this UTC time (ISO 8601), e.g. for an imported "
        "export or a simulated estate; default: the current time.",
    ),
]


def _parse_time(value: str, option: str) -> datetime:
    """An ISO 8601 time with a zone; a bare date (YYYY-MM-DD) means that day's end, in UTC."""
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise UsageError(f"{option} {value!r} is not a date", fix="e.g. 2026-12-31") from None
        return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{option} {value!r} is not an ISO 8601 time", fix="e.g. 2026-03-02T10:00:00+00:00"
        ) from None
    if parsed.tzinfo is None:
        raise UsageError(f"{option} {value!r} has no timezone", fix="add +00:00 (UTC)")
    return parsed


def _context(project: Any, *, writable: bool, now: str | None = None) -> Any:
    from lakecrew.ports.clock import FixedClock
    from lakecrew.wiring.context import Context

    clock = FixedClock(_parse_time(now, "--now")) if now else None
    return Context.open(project, writable=writable, clock=clock)


def sweep(
    ctx: typer.Context,
    *,
    workspace: WorkspaceOpt = None,
    phase: Annotated[
        int | None,
        typer.Option(
            min=1, max=4, help="Rollout phase (default: per environment from lakecrew.yaml)."
        ),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Act on the plan (phase 2+); without it nothing is changed."),
    ] = False,
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Observe, evaluate the SOP pack, plan (and with --apply act), notify, ticket."""
    from lakecrew.services.crew.sweep import raise_if_partial, refuse_if_blocked
    from lakecrew.wiring import crew as cw

    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=True, now=now) as lc, progress(state, "sweeping") as bar:
        results = cw.sweep(lc, workspace, apply=apply, phase=phase, on_step=bar.step)
    sweeps = [r.as_dict() for r in results]
    findings = [{**f, "workspace": s["workspace"]} for s in sweeps for f in s["findings"]]
    emit(state, {"sweeps": sweeps, "findings": findings}, _render_sweep)
    raise_if_partial(results)  # exit 1: never a full sweep when a page failed
    for r in results:
        refuse_if_blocked(r)


def _render_sweep(console: Console, data: dict[str, Any]) -> None:
    for s in data["sweeps"]:
        mode = "apply" if s["apply"] else "plan only"
        mode += "" if s["complete"] else ", PARTIAL"
        console.print(
            f"{s['workspace']}: phase {s['phase']} ({mode}) — discovered "
            f"{s['discovered']}, evaluated {s['evaluated']}, {len(s['findings'])} "
            f"finding(s), {s['resolved']} resolved, {len(s['applied'])} applied",
            markup=False,
        )
        for a in s["plan"]:
            console.print(
                f"  {a['status']:8} {a['action']} {a['kind']}/{a['resource_id']} "
                f"[{a['action_id'][:10]}] {a['reason']}",
                markup=False,
            )
        for g in s["gaps"]:
            rules = ", ".join(g["unseen_rules"]) or "none"
            seen = "UNSEEN" if g["delivered"] == 0 else f"PARTIAL ({g['delivered']} read)"
            console.print(f"  {seen} {g['kind']}: {g['reason']} — rules: {rules}", markup=False)
        if s["refused"]:
            console.print(f"  REFUSED: {s['refused']}", markup=False)
    table = Table("workspace", "severity", "rule", "resource", "owner")
    for f in data["findings"]:
        table.add_row(
            f["workspace"],
            f["severity"],
            f["rule"],
            f"{f['resource_type']}/{f['resource_id']}",
            f["owner"],
        )
    console.print(table)


def findings(
    ctx: typer.Context,
    *,
    workspace: WorkspaceOpt = None,
    status: Annotated[str | None, typer.Option(help="open, resolved or exempted")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Findings history from the ledger (open, resolved, exempted)."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=False) as lc:
        rows = lc.crew.findings(workspace, status, rule)
    emit(state, {"findings": to_jsonable(rows)}, _render_findings)


def _render_findings(console: Console, data: dict[str, Any]) -> None:
    table = Table("status", "severity", "rule", "resource", "owner", "first seen", "last seen")
    for f in data["findings"]:
        table.add_row(
            f["status"],
            f["severity"],
            f["rule_id"],
            f"{f['resource_type']}/{f['resource_id']}",
            f["owner"],
            f["first_seen"][:16],
            f["last_seen"][:16],
        )
    console.print(table)
    console.print(f"{len(data['findings'])} finding(s)", markup=False)


def actions(
    ctx: typer.Context,
    *,
    workspace: WorkspaceOpt = None,
    status: Annotated[
        str | None,
        typer.Option(help="planned, pending, intent, applied, failed, skipped, rolled_back"),
    ] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Actions from the ledger, with before/after states (JSON output)."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=False) as lc:
        rows = lc.crew.actions(workspace, status)
    emit(state, {"actions": to_jsonable(rows)}, _render_actions)


def _render_actions(console: Console, data: dict[str, Any]) -> None:
    table = Table("action id", "status", "action", "resource", "rule", "reason")
    for a in data["actions"]:
        table.add_row(
            a["action_id"],
            a["status"],
            a["action"],
            f"{a['kind']}/{a['resource_id']}",
            a["rule_id"],
            a["reason"],
        )
    console.print(table)


def rollback(
    ctx: typer.Context,
    *,
    action_id: Annotated[str, typer.Argument(help="The action id (or a unique prefix).")],
    force: Annotated[
        bool, typer.Option("--force", help="Restore even if the object changed after the action.")
    ] = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Restore the before-state saved by an applied action."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=True) as lc:
        row = lc.crew.action(action_id)
        if row.workspace == "(models)":  # a model action (promotion, archive, tags)
            from lakecrew.faces.cli.models import rollback_model_action

            done = rollback_model_action(lc, row, force=force)
        else:
            done = lc.crew.rollback(row, lc.workspace(row.workspace), force=force)
    emit(
        state,
        {
            "action_id": done.action_id,
            "status": done.status,
            "kind": done.kind,
            "resource_id": done.resource_id,
            "reason": done.reason,
        },
        lambda c, d: c.print(
            f"rolled back {d['action_id']}: {d['kind']}/{d['resource_id']} "
            "restored to its before-state",
            markup=False,
        ),
    )


def exempt(
    ctx: typer.Context,
    *,
    rule: Annotated[str, typer.Argument(help="Rule id, e.g. cluster.idle (or * for all rules).")],
    resource: Annotated[str, typer.Argument(help="Resource id, e.g. a cluster_id.")],
    reason: Annotated[str, typer.Option(help="Why the resource is exempt.")],
    until: Annotated[str, typer.Option(help="Expiry, ISO 8601 with timezone.")],
    approver: Annotated[str, typer.Option(help="Who approved the exemption.")],
    workspace: WorkspaceOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Exempt one resource from one rule until a date (reason and approver recorded)."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=True) as lc:
        if workspace is not None:
            lc.config.workspace(workspace)  # NotFound names the registered ones
        row = lc.crew.exempt(
            rule,
            resource,
            reason=reason,
            approver=approver,
            until=_parse_time(until, "--until"),
            workspace=workspace or "*",
        )
    emit(
        state,
        to_jsonable(row),
        lambda c, d: c.print(
            f"exempted {d['resource_id']} from {d['rule_id']} until {d['until']} "
            f"(approved by {d['approver']})",
            markup=False,
        ),
    )


def approve(
    ctx: typer.Context,
    *,
    action_id: Annotated[str, typer.Argument(help="The action id (or a unique prefix).")],
    approver: Annotated[str, typer.Option(help="Who approves the action.")],
    reason: Annotated[str, typer.Option(help="Why (optional).")] = "",
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Approve an action awaiting approval (e.g. pause_job); the next --apply sweep runs it."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=True) as lc:
        row = lc.crew.approve(action_id, approver=approver, reason=reason)
    emit(
        state,
        {"action_id": row.action_id, "status": row.status, "reason": row.reason},
        lambda c, d: c.print(f"{d['action_id']}: {d['reason']}", markup=False),
    )


def register(app: typer.Typer) -> None:
    """Add the crew commands to the root app."""
    app.command("sweep")(sweep)
    app.command("findings")(findings)
    app.command("actions")(actions)
    app.command("rollback")(rollback)
    app.command("exempt")(exempt)
    app.command("approve")(approve)
