"""`lakecrew sweep | findings | actions | rollback | exempt`: the crew (SOP 3.1–3.3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated, Any

import typer

from lakecrew.core.errors import UsageError
from lakecrew.faces.cli.console import Result, emit, progress
from lakecrew.faces.cli.jsonable import to_jsonable
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, WideOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out

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
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Observe, evaluate the SOP pack, plan (and with --apply act), notify, ticket."""
    from lakecrew.faces.cli.views import sweep_view
    from lakecrew.services.crew.sweep import raise_if_partial, raise_if_unsynced, refuse_if_blocked
    from lakecrew.wiring import crew as cw

    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    with _context(state.project, writable=True, now=now) as lc, progress(state, "sweeping") as bar:
        results = cw.sweep(lc, workspace, apply=apply, phase=phase, on_step=bar.step)
    sweeps = [sweep_view(r.as_dict()) for r in results]
    meta = {
        "findings": sum(s["findings_total"] for s in sweeps),
        "applied": sum(len(s["applied"]) for s in sweeps),
        "complete": all(s["complete"] for s in sweeps),
    }
    emit(state, Result("sweep", sweeps, meta), _render_sweep)
    raise_if_partial(results)  # exit 1: never a full sweep when a page failed
    for r in results:
        refuse_if_blocked(r)
    raise_if_unsynced(results)  # exit 1: a tracker or channel was not reached (kept, retried)


PLAN_COLUMNS = (
    Col("status"), Col("action"), Col("resource_type", "type"), Col("resource_id", "resource"),
    Col("action_id", "action id"), Col("reason", wide=True),
)  # fmt: skip
FINDING_COLUMNS = (
    Col("workspace"), Col("severity"), Col("rule_id", "rule"), Col("resource_type", "type"),
    Col("resource_id", "resource"), Col("owner"), Col("resource_name", "name", wide=True),
    Col("fingerprint", wide=True),
)  # fmt: skip


def _render_sweep(out: Out, result: Result) -> None:
    for s in result.items:
        mode = "apply" if s["apply"] else "plan only"
        mode += "" if s["complete"] else ", PARTIAL"
        out.line(
            f"{s['workspace']}: phase {s['phase']} ({mode}) — discovered "
            f"{s['discovered']}, evaluated {s['evaluated']}, {s['findings_total']} "
            f"finding(s), {s['resolved']} resolved, {len(s['applied'])} applied"
        )
        if s["plan"]:
            out.table(PLAN_COLUMNS, s["plan"], title=f"plan of {s['workspace']}")
        if s["plan_total"] > len(s["plan"]):
            out.line(
                f"  plan: the first {len(s['plan'])} of {s['plan_total']} action(s) shown; "
                "all are in the ledger (`lakecrew actions`)"
            )
        for failed in s["failed"]:
            out.line(f"  FAILED {failed['action_id']}: {failed['reason']}")
        for note in s.get("notes", []):
            out.line(f"  note: {note}")
        for error in s.get("sync_errors", []):
            out.line(f"  NOT SYNCED {error}")
        for g in s["gaps"]:
            rules = ", ".join(g["unseen_rules"]) or "none"
            seen = "UNSEEN" if g["delivered"] == 0 else f"PARTIAL ({g['delivered']} read)"
            out.line(f"  {seen} {g['kind']}: {g['reason']} — rules: {rules}")
        if s["refused"]:
            out.line(f"  REFUSED: {s['refused']}")
    findings = [f for s in result.items for f in s["findings"]]
    out.table(FINDING_COLUMNS, findings, title="findings")
    total = sum(s["findings_total"] for s in result.items)
    if total > len(findings):
        out.note(
            f"the first {len(findings)} of {total} findings shown; all are in the ledger "
            "(`lakecrew findings`, the dashboard)"
        )
    if any(s["applied"] for s in result.items):
        out.note("undo an applied action with `lakecrew rollback ACTION_ID`")


class FindingStatusChoice(StrEnum):
    """``FindingStatus`` (ports/ledger.py) as choices: a misspelt status is a usage error (exit
    2), not an empty list (tests/unit/crew/test_cli.py keeps the two alike)."""

    open = "open"
    resolved = "resolved"
    exempted = "exempted"


class ActionStatusChoice(StrEnum):
    """``ActionStatus`` (ports/ledger.py) as choices, like ``FindingStatusChoice``."""

    planned = "planned"
    pending = "pending"
    intent = "intent"
    applied = "applied"
    failed = "failed"
    skipped = "skipped"
    awaiting_approval = "awaiting_approval"
    approved = "approved"
    rolling_back = "rolling_back"
    rolled_back = "rolled_back"


def findings(
    ctx: typer.Context,
    *,
    workspace: WorkspaceOpt = None,
    status: Annotated[FindingStatusChoice | None, typer.Option(help="Only this status.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Findings history from the ledger (open, resolved, exempted)."""
    from lakecrew.faces.cli.views import finding_view

    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    with _context(state.project, writable=False) as lc:
        if workspace is not None:
            lc.config.workspace(workspace)  # exit 2 with "did you mean" when misspelt
        if rule is not None:
            _known_rule(lc, rule)
        rows = lc.crew.findings(workspace, str(status) if status else None, rule)
    items = [finding_view(r) for r in rows]
    emit(state, Result("findings", items, {"count": len(items)}), _render_findings)


def _known_rule(lc: Any, rule: str) -> None:
    """An unknown --rule is a usage error (exit 2) naming the closest rule ids."""
    from lakecrew.core.errors import UnknownName

    ids = sorted(r.id for r in lc.pack.rules)
    if rule not in ids:
        raise UnknownName(
            "rule", rule, ids, where="--rule", fix="list the rule ids with `lakecrew policy rules`"
        )


def _short_time(value: Any) -> str:
    return to_jsonable(value)[:16].replace("T", " ") if value is not None else "NULL"


def _render_findings(out: Out, result: Result) -> None:
    columns = (
        Col("workspace"), Col("status"), Col("severity"), Col("rule_id", "rule"),
        Col("resource_type", "type"), Col("resource_id", "resource"), Col("owner"),
        Col("first_seen", "first seen", fmt=_short_time),
        Col("last_seen", "last seen", fmt=_short_time),
        Col("resource_name", "name", wide=True), Col("fingerprint", wide=True),
    )  # fmt: skip
    out.table(columns, result.items)
    out.note(f"{len(result.items)} finding(s)")


def actions(
    ctx: typer.Context,
    *,
    workspace: WorkspaceOpt = None,
    status: Annotated[ActionStatusChoice | None, typer.Option(help="Only this status.")] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Actions from the ledger, with before/after states (objects in JSON; `--wide` in text)."""
    from lakecrew.faces.cli.views import action_view

    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    with _context(state.project, writable=False) as lc:
        if workspace is not None:
            lc.config.workspace(workspace)  # exit 2 with "did you mean" when misspelt
        rows = lc.crew.actions(workspace, str(status) if status else None)
    items = [action_view(r) for r in rows]
    emit(state, Result("actions", items, {"count": len(items)}), _render_actions)


def _render_actions(out: Out, result: Result) -> None:
    columns = (
        Col("action_id", "action id"), Col("workspace"), Col("status"), Col("action"),
        Col("resource_type", "type"), Col("resource_id", "resource"), Col("rule_id", "rule"),
        Col("reason"), Col("before", wide=True), Col("after", wide=True),
    )  # fmt: skip
    out.table(columns, result.items)
    out.note(f"{len(result.items)} action(s)")


def rollback(
    ctx: typer.Context,
    *,
    action_id: Annotated[str, typer.Argument(help="The action id (or a unique prefix).")],
    force: Annotated[
        bool, typer.Option("--force", help="Restore even if the object changed after the action.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Finish a rollback a killed process left rolling_back."),
    ] = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Restore the before-state saved by an applied action."""

    from lakecrew.services.governance.executor import is_catalog_scope, workspace_of_scope

    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=True) as lc:
        row = lc.crew.action(action_id)
        if row.workspace == "(models)":  # a model action (promotion, archive, tags)
            from lakecrew.faces.cli.models import rollback_model_action

            done = rollback_model_action(lc, row, force=force, resume=resume)
        elif is_catalog_scope(row.workspace):  # Unity Catalog / temporary access
            from lakecrew.wiring.governance import executor

            ws = workspace_of_scope(row.workspace)
            done = executor(lc, ws).rollback(row, force=force)
        else:
            done = lc.crew.rollback(row, lc.workspace(row.workspace), force=force, resume=resume)
    from lakecrew.faces.cli.views import action_view

    emit(
        state,
        Result("actions", [action_view(done)], {"count": 1}),
        lambda o, r: o.line(
            f"rolled back {r.items[0]['action_id']}: {r.items[0]['resource_type']}/"
            f"{r.items[0]['resource_id']} restored to its before-state"
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
            lc.config.workspace(workspace)  # exit 2 with "did you mean" when misspelt
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
        Result("exemption", [row]),
        lambda o, r: o.line(
            f"exempted {r.items[0].resource_id} from {r.items[0].rule_id} until "
            f"{to_jsonable(r.items[0].until)} (approved by {r.items[0].approver})"
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
    from lakecrew.faces.cli.views import action_view

    emit(
        state,
        Result("actions", [action_view(row)], {"count": 1}),
        lambda o, r: o.line(f"{r.items[0]['action_id']}: {r.items[0]['reason']}"),
    )


def register(app: typer.Typer) -> None:
    """Add the crew commands to the root app."""
    ws = "malaria-dev-westafrica"
    app.command(
        "sweep",
        epilog=epilog(
            "lakecrew sweep --phase 1",
            f"lakecrew sweep --workspace {ws} --phase 2 --apply",
            "lakecrew sweep --phase 1 --output json | jq '.items[].findings[].rule_id'",
            exits="0 swept; 1 a partial listing, a refused or failed action; 2 usage error",
        ),
    )(sweep)
    app.command(
        "findings",
        epilog=epilog(
            "lakecrew findings --status open",
            "lakecrew findings --rule cluster.idle --output json",
            "lakecrew findings | cut -f1,4,6   # piped: tab-separated, full ids",
        ),
    )(findings)
    app.command(
        "actions",
        epilog=epilog("lakecrew actions --status applied", "lakecrew actions --wide"),
    )(actions)
    app.command(
        "rollback",
        epilog=epilog("lakecrew rollback 3f2a9c1b7e", "lakecrew rollback 3f2a9c1b7e --force"),
    )(rollback)
    app.command(
        "exempt",
        epilog=epilog(
            'lakecrew exempt cluster.idle 0612-093512-abcd1234 --reason "training run" '
            '--until 2026-12-31 --approver "DGB"'
        ),
    )(exempt)
    app.command(
        "approve",
        epilog=epilog('lakecrew approve 3f2a9c1b7e --approver "DGB" --reason "weekend job"'),
    )(approve)
