"""`lakecrew govern | access | compliance`: Unity Catalog enforcement, temporary access and
access reviews, the monthly compliance report (SOP 1.3, 1.4)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from lakecrew.core.errors import UsageError
from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.crew import _context
from lakecrew.faces.cli.options import DebugOpt, ForceOpt, OutputOpt, ProjectOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out

govern_app = typer.Typer(
    help="Unity Catalog enforcement: owners, tags, masks, comments (SOP 1.3.1)."
)
access_app = typer.Typer(help="Temporary access and access reviews (SOP 1.3.2).")
compliance_app = typer.Typer(help="The monthly Unity Catalog compliance report (SOP 1.3.4).")

PhaseOpt = Annotated[
    int | None,
    typer.Option(
        "--phase",
        min=1,
        max=4,
        help="Rollout phase (default: each catalog's environment in lakecrew.yaml).",
    ),
]
NowOpt = Annotated[str | None, typer.Option("--now", help="Act as of this ISO 8601 time.")]
UcWorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="A backend: databricks workspace: act on its Unity Catalog (SDK + its "
        "warehouse_id) instead of the project's metastore.",
    ),
]
SchemaOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--schema",
        help="catalog.schema to cover on Unity Catalog besides those the specs write (repeatable).",
    ),
]
_PLAN_COLS = (
    Col("action_id"),
    Col("action"),
    Col("resource_id"),
    Col("rule_id"),
    Col("status"),
    Col("reason", wide=True),
    Col("target", wide=True),
)


def _plan_items(actions: Any) -> list[dict[str, Any]]:
    return [
        {
            "action_id": a.action_id,
            "action": a.action,
            "resource_type": a.kind,
            "resource_id": a.resource_id,
            "rule_id": a.rule_id,
            "status": a.status,
            "reason": a.reason,
            "target": dict(a.target),
        }
        for a in actions
    ]


def _render_plan(out: Out, result: Result, how: str = "lakecrew govern apply") -> None:
    out.table(list(_PLAN_COLS), result.items)
    for note in result.meta.get("notes", []):
        out.note(note)
    if result.meta.get("applied"):
        out.note(f"{len(result.items)} action(s); undo one with `lakecrew rollback ACTION_ID`")
    else:
        out.note(f"{len(result.items)} action(s); apply with `{how}` (phase >= 3)")


def _render_expiry(out: Out, result: Result) -> None:
    _render_plan(out, result, "lakecrew access expire --apply")


def _render_actions(out: Out, result: Result) -> None:
    cols = [Col("action_id"), Col("action"), Col("resource_id"), Col("status"), Col("reason")]
    out.table(cols, result.items)
    out.note(f"{len(result.items)} action(s); undo one with `lakecrew rollback ACTION_ID`")


def govern_plan(
    ctx: typer.Context,
    *,
    phase: PhaseOpt = None,
    workspace: UcWorkspaceOpt = None,
    schema: SchemaOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Compare every table with its governed state (specs, registry, approved comments)."""
    from lakecrew.wiring.governance import enforcement_plan

    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=False) as lc:
        plan = enforcement_plan(lc, phase, workspace=workspace, schemas=schema or ())
    emit(
        state,
        Result("govern_plan", _plan_items(plan.actions), {"notes": list(plan.notes)}),
        _render_plan,
    )


def govern_apply(
    ctx: typer.Context,
    *,
    phase: PhaseOpt = None,
    workspace: UcWorkspaceOpt = None,
    schema: SchemaOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Apply the plan's actions the rollout phase allows (before-state saved; rollback-able)."""
    from lakecrew.faces.cli.views import action_view
    from lakecrew.services.governance.enforce import apply_plan
    from lakecrew.services.governance.executor import CATALOG_SCOPE
    from lakecrew.wiring.governance import enforcement_plan, executor, run_id

    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=True) as lc:
        ex = executor(lc, workspace)
        ex.reconcile(lc.ledger.actions(ex.scope(CATALOG_SCOPE)))
        plan = enforcement_plan(lc, phase, workspace=workspace, schemas=schema or ())
        done = apply_plan(plan, ex, run_id(lc))
    rows = [action_view(r) for r in done.applied]
    emit(
        state,
        Result("actions", rows, {"count": len(rows), "notes": list(done.notes)}),
        _render_actions,
    )
    if any(r.status == "failed" for r in done.applied):
        raise typer.Exit(1)


def _parse_until(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--until {value!r} is not a date", where="--until", fix="e.g. --until 2026-12-31"
        ) from None


def access_grant(
    ctx: typer.Context,
    *,
    principal: Annotated[str, typer.Argument(help="User e-mail, group or service principal.")],
    privilege: Annotated[str, typer.Argument(help="SELECT, MODIFY, USE_SCHEMA, ...")],
    securable: Annotated[
        str, typer.Argument(help="catalog, catalog.schema or catalog.schema.table")
    ],
    until: Annotated[str, typer.Option("--until", help="Expiry (ISO date or time, UTC).")],
    reason: Annotated[str, typer.Option("--reason", help="Business justification.")],
    approver: Annotated[str, typer.Option("--approver", help="Who approved it.")],
    workspace: UcWorkspaceOpt = None,
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Record an approved temporary grant and apply it; the sweep revokes it when it expires."""
    from lakecrew.faces.cli.views import action_view
    from lakecrew.services.governance.access import checked_request, grant_temporary
    from lakecrew.wiring.governance import executor, run_id

    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=True, now=now) as lc:
        req = checked_request(
            principal,
            privilege,
            securable,
            _parse_until(until),
            reason,
            approver,
            now=lc.clock.now(),
        )
        row = grant_temporary(req, executor(lc, workspace), run_id(lc))
    emit(state, Result("actions", [action_view(row)], {"count": 1}), _render_actions)
    if row.status == "failed":
        raise typer.Exit(1)


def access_expire(
    ctx: typer.Context,
    *,
    apply: Annotated[bool, typer.Option("--apply", help="Revoke them.")] = False,
    phase: PhaseOpt = None,
    workspace: UcWorkspaceOpt = None,
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Temporary grants past their expiry; `--apply` revokes them (phase >= 3) and notifies."""
    from lakecrew.wiring.governance import revoke_expired_grants

    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=apply, now=now) as lc:
        rep = revoke_expired_grants(lc, apply=apply, phase=phase, workspace=workspace)
    items = _plan_items(rep.planned)
    done = {r.action_id: r for r in rep.rows}
    for item in items:
        row = done.get(item["action_id"])
        if row is not None:
            item["status"], item["reason"] = row.status, row.reason
        elif not rep.applied:
            item["reason"] = (
                f"phase {rep.phase} < 3: not revoked"
                if apply
                else "plan only: revoke with --apply (phase >= 3)"
            )
    emit(
        state,
        Result("govern_plan", items, {"phase": rep.phase, "applied": rep.applied}),
        _render_expiry,
    )
    if any(r.status == "failed" for r in rep.rows):
        raise typer.Exit(1)


def access_review(
    ctx: typer.Context,
    *,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only grants with a flag.")] = False,
    unused_days: Annotated[int, typer.Option("--unused-days", min=1)] = 90,
    window_days: Annotated[
        int, typer.Option("--window-days", min=1, help="Audit days read for last use.")
    ] = 365,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a Markdown report.")
    ] = None,
    period: Annotated[str, typer.Option("--period", help="week or month (report)")] = "week",
    workspace: UcWorkspaceOpt = None,
    schema: SchemaOpt = None,
    force: ForceOpt = False,
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Every grant by principal and securable, its last use from the audit log, and flags."""
    from lakecrew.services.governance.review_report import review_markdown
    from lakecrew.wiring.governance import access_review as run_review
    from lakecrew.wiring.governance import archive_review

    if period not in ("week", "month"):
        raise UsageError(f"--period {period!r}", where="--period", fix="week or month")
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=False, now=now) as lc:
        rev = run_review(
            lc,
            window_days=window_days,
            unused_days=unused_days,
            workspace=workspace,
            schemas=schema or (),
        )
        archive = archive_review(lc, rev)
        if report is not None:
            from lakecrew.services.governance.executor import ACCESS_SCOPE, scope_for
            from lakecrew.services.output_files import write_file
            from lakecrew.wiring.governance import remote

            scope = scope_for(ACCESS_SCOPE, remote(lc, workspace))
            text = review_markdown(rev, lc.ledger.actions(scope), period=period)
            write_file(report, text.encode(), force=force, option="--report")
    items = [g.as_dict() for g in (rev.flagged if flagged else rev.grants)]
    meta = {
        "grants": len(rev.grants),
        "flags": rev.counts(),
        "unused_days": unused_days,
        "window_days": window_days,
        "at": rev.at.isoformat(),
        "archived": archive,
        "report": str(report) if report else None,
        "notes": list(rev.notes),
    }
    emit(state, Result("access_review", items, meta), _render_review)


def _render_review(out: Out, result: Result) -> None:
    cols = [
        Col("principal"),
        Col("privilege"),
        Col("securable"),
        Col("classification", wide=True),
        Col("last_used"),
        Col("flags"),
    ]
    out.table(
        cols,
        [
            {
                **i,
                "flags": ", ".join(i["flags"]) or "-",
                "last_used": (i["last_used"] or "never")[:10],
            }
            for i in result.items
        ],
    )
    for note in result.meta.get("notes", []):
        out.note(note)
    flags = result.meta["flags"]
    out.note(
        f"{result.meta['grants']} grant(s); " + ", ".join(f"{k} {v}" for k, v in flags.items() if v)
    )


def compliance_report(
    ctx: typer.Context,
    *,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    fmt: Annotated[str, typer.Option("--format", help="md, html or json")] = "md",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Read the Unity Catalog of this backend: databricks workspace (a local one: the "
            "project's metastore). Default: the estate's — the first databricks workspace with "
            "a warehouse_id, else the project's metastore.",
        ),
    ] = None,
    force: ForceOpt = False,
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Classified/owned/masked shares, grants reviewed and revoked, token, secret and audit
    findings per catalog and workspace, with the trend against the previous month."""
    import json
    import sys

    from lakecrew.services.governance.compliance_render import html_page, markdown
    from lakecrew.wiring.governance import compliance

    if fmt not in ("md", "html", "json"):
        raise UsageError(f"--format {fmt!r}", where="--format", fix="md, html or json")
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=False, now=now) as lc:
        rep = compliance(lc, month, workspace=workspace)
    if state.json:
        emit(state, Result("compliance_report", [rep.as_dict()], {"month": month}))
        return
    text = {"md": markdown, "html": html_page}.get(
        fmt, lambda r: json.dumps(r.as_dict(), indent=2, sort_keys=True)
    )(rep)
    if out_file is None:
        sys.stdout.write(text + "\n")
        return
    from lakecrew.services.output_files import write_file

    write_file(out_file, text.encode(), force=force)
    Out().line(f"wrote {out_file}")


def register(root: typer.Typer) -> None:
    t = "lassa_prod.silver.case_reports"
    govern_app.command(
        "plan", epilog=epilog("lakecrew govern plan", "lakecrew govern plan --phase 3")
    )(govern_plan)
    govern_app.command(
        "apply",
        epilog=epilog("lakecrew govern apply", exits="0 applied; 1 an action failed; 2 usage"),
    )(govern_apply)
    access_app.command(
        "grant",
        epilog=epilog(
            f"lakecrew access grant amina@moh.example SELECT {t} --until 2026-12-31 "
            "--reason 'outbreak analysis' --approver 'data steward'"
        ),
    )(access_grant)
    access_app.command(
        "review",
        epilog=epilog(
            "lakecrew access review --flagged",
            "lakecrew access review --report review.md --period month",
        ),
    )(access_review)
    access_app.command(
        "expire", epilog=epilog("lakecrew access expire", "lakecrew access expire --apply")
    )(access_expire)
    compliance_app.command(
        "report",
        epilog=epilog(
            "lakecrew compliance report --month 2026-11",
            "lakecrew compliance report --month 2026-11 --format html --out nov.html",
        ),
    )(compliance_report)
    root.add_typer(govern_app, name="govern")
    root.add_typer(access_app, name="access")
    root.add_typer(compliance_app, name="compliance")
