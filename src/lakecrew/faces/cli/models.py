"""`lakecrew models` and `lakecrew model promote | drift | hygiene | rollback` (SOP 1.7, 3.1.5)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lakecrew.core.errors import LakecrewError, UsageError
from lakecrew.faces.cli.console import emit
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, epilog, state_of

app = typer.Typer(help="MLflow models: promotion gates, drift, hygiene (SOP 1.7, 3.1.5).")

NowOpt = Annotated[
    str | None, typer.Option("--now", help="Evaluate as of this ISO 8601 time (tests, replays).")
]


def _open(project: Path, *, writable: bool, now: str | None = None) -> Any:
    from lakecrew.ports.clock import FixedClock
    from lakecrew.wiring.context import Context

    clock = None
    if now:
        try:
            clock = FixedClock(datetime.fromisoformat(now))
        except ValueError:
            raise UsageError(
                f"--now {now!r} is not ISO 8601", fix="e.g. 2026-11-30T00:00:00+00:00"
            ) from None
    return Context.open(project, writable=writable, clock=clock)


def _ops(ctx: Any) -> Any:
    from lakecrew.wiring import mlops as mlops_wiring

    if not mlops_wiring.has_registry(ctx):
        raise LakecrewError(
            "this project has no MLflow store yet",
            where=str(ctx.layout.state_dir / "mlflow"),
            fix="log a model to it (see `lakecrew demo`), or check --project",
        )
    return mlops_wiring.model_ops(ctx)


def list_models(
    ctx: typer.Context,
    *,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Registered models: versions, aliases, owners, last use and lineage."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    lc = _open(state.project, writable=False)
    try:
        rows = _ops(lc).inventory()
    finally:
        lc.close()
    emit(state, {"models": rows}, _render_models)


def _render_models(c: Console, data: Any) -> None:
    if not data["models"]:
        c.print("no registered models")
        return
    for m in data["models"]:
        c.print(
            f"[bold]{m['name']}[/bold]  owner {m['owner'] or '(none)'}  "
            f"last used {m['last_used'] or 'never'}",
            markup=True,
            highlight=False,
        )
        up, down = m["lineage"]["upstream"], m["lineage"]["downstream"]
        c.print(
            f"  lineage: {', '.join(up) or '(no source tables)'} → model → "
            f"{', '.join(down) or '(not served)'}",
            markup=False,
            highlight=False,
        )
        t = Table("version", "aliases", "lifecycle", "datasets", "last used", "source", "run")
        for v in m["versions"]:
            t.add_row(
                v["version"],
                ", ".join(v["aliases"]),
                v["lifecycle"] or "",
                ", ".join(v["datasets"]),
                v["last_used"] or "",
                v["last_use_source"],
                v["run_problem"] or (v["run_id"] or ""),
            )
        c.print(t)


def promote(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="The version to promote.")],
    to: Annotated[str, typer.Option("--to", help="The alias to move, e.g. champion.")] = "champion",
    approver: Annotated[
        str | None, typer.Option("--approver", help="Who approves (must be a declared approver).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the gates only.")] = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Check the promotion gates of lakecrew.yaml; move the alias only if all pass."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    lc = _open(state.project, writable=True)
    try:
        result, row = _ops(lc).promote(
            name, version, alias=to, approver=approver, apply=not dry_run
        )
    finally:
        lc.close()
    data = {
        **result.as_dict(),
        "alias": to,
        "action_id": row.action_id if row else None,
        "status": row.status if row else ("checked" if result.passed else "refused"),
    }
    emit(state, data, _render_gates)
    if not result.passed:
        raise typer.Exit(1)


def _render_gates(c: Console, d: Any) -> None:
    for ch in d["checks"]:
        mark = "pass" if ch["passed"] else "FAIL"
        c.print(f"  {mark:4}  {ch['gate']:<10} {ch['detail']}", markup=False, highlight=False)
    base = f" (champion was v{d['baseline']})" if d["baseline"] else ""
    if d["passed"] and d["action_id"]:
        c.print(
            f"promoted {d['model']} v{d['version']} to @{d['alias']}{base}; "
            f"action {d['action_id']} (roll back with `lakecrew rollback {d['action_id']}`)",
            markup=False,
            highlight=False,
        )
    elif d["passed"]:
        c.print("all gates pass (dry run: nothing moved)", markup=False)
    else:
        failing = [ch["gate"] for ch in d["checks"] if not ch["passed"]]
        c.print(
            f"refused: {d['model']} v{d['version']} fails {', '.join(failing)}",
            markup=False,
            highlight=False,
        )


def drift(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[
        str | None, typer.Option("--version", help="Default: the production alias's version.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only inference rows scored since (ISO date).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the weekly report section (Markdown).")
    ] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Drift of the inference table against the training baseline; findings into the ledger."""
    from lakecrew.services.mlops.monitor import model_drift, record_findings, weekly_section

    state = state_of(ctx, project=project, output=output, debug=debug)
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise UsageError(
                f"--since {since!r} is not an ISO date", fix="e.g. 2026-11-01"
            ) from None
    lc = _open(state.project, writable=True)
    try:
        ops = _ops(lc)
        run = model_drift(ops.deps, name, version, since=start)
        owner = lc.config.mlops.settings(name).owner or ""
        record_findings(ops.deps, run, owner)
    finally:
        lc.close()
    if report is not None:
        report.write_text("\n".join(weekly_section(run)) + "\n", encoding="utf-8")
    emit(state, run.as_dict(), _render_drift)
    if run.findings:
        raise typer.Exit(1)


def _render_drift(c: Console, d: Any) -> None:
    c.print(
        f"{d['model']} v{d['version']}: baseline {d['baseline']} ({d['rows_ref']:,} rows) vs "
        f"{d['inference_table']} ({d['rows_cur']:,} rows)",
        markup=False,
        highlight=False,
    )
    t = Table("column", "kind", "PSI", "JS", "KS", "p", "drifted")
    for col in d["columns"]:
        t.add_row(
            col["column"],
            col["kind"],
            f"{col['psi']:.3f}",
            f"{col['js']:.3f}",
            f"{col['ks']:.3f}",
            f"{col['ks_pvalue']:.2g}",
            "YES" if col["drifted"] else "",
        )
    c.print(t)
    for f in d["findings"]:
        c.print(f"  {f['severity']:8} {f['rule_id']}: {f['detail']}", markup=False, highlight=False)
    if d["performance_note"]:
        c.print(d["performance_note"], markup=False)


def hygiene(
    ctx: typer.Context,
    *,
    phase: Annotated[int, typer.Option("--phase", min=1, max=4, help="Rollout phase.")] = 1,
    apply: Annotated[bool, typer.Option("--apply", help="Take the allowed actions.")] = False,
    now: NowOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Only models matching this glob.")
    ] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The SOP pack's model rules over the registry; plans (or applies) archive/tag actions."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    lc = _open(state.project, writable=True, now=now)
    try:
        res = _ops(lc).hygiene(phase=phase, apply=apply, only=model)
    finally:
        lc.close()
    data = {
        "evaluated": res.evaluated,
        "discovered": dict(res.discovered),
        "findings": [
            {
                "rule_id": f.rule_id,
                "sop_section": f.sop_section,
                "severity": f.severity,
                "resource_type": f.resource_type,
                "resource_id": f.resource_id,
                "title": f.title,
            }
            for f in res.findings
        ],
        "actions": [
            {
                "action_id": a.action_id,
                "action": a.action,
                "resource_id": a.resource_id,
                "status": a.status,
                "reason": a.reason,
            }
            for a in res.actions
        ],
    }
    emit(state, data, _render_hygiene)


def _render_hygiene(c: Console, d: Any) -> None:
    c.print(
        f"{d['evaluated']} registry objects evaluated; {len(d['findings'])} findings", markup=False
    )
    for f in d["findings"]:
        c.print(
            f"  {f['severity']:8} {f['rule_id']} [{f['sop_section']}] {f['resource_id']}",
            markup=False,
            highlight=False,
        )
    for a in d["actions"]:
        c.print(
            f"  action {a['action_id']} {a['action']} {a['resource_id']}: {a['status']} "
            f"({a['reason']})",
            markup=False,
            highlight=False,
        )


def rollback_model_action(lc: Any, row: Any, *, force: bool) -> Any:
    """Roll back a model action of the ledger (called by `lakecrew rollback`)."""
    return _ops(lc).rollback(row, force=force)


def register(root: typer.Typer) -> None:
    m = "lassa_dev.ml.lassa_risk"
    root.command("models", epilog=epilog("lakecrew models", "lakecrew models --output json"))(
        list_models
    )
    app.command(
        "promote",
        epilog=epilog(
            f"lakecrew model promote {m} 2 --to champion --approver 'DGB' --dry-run",
            f"lakecrew model promote {m} 2 --to champion --approver 'DGB'",
            exits="0 promoted (or the gates pass with --dry-run); 1 a gate refused; 2 usage",
        ),
    )(promote)
    app.command(
        "drift",
        epilog=epilog(
            f"lakecrew model drift {m}",
            f"lakecrew model drift {m} --since 2026-11-01 --report drift.md",
            exits="0 no drift; 1 drift findings; 2 usage",
        ),
    )(drift)
    app.command(
        "hygiene",
        epilog=epilog(
            "lakecrew model hygiene --phase 1", "lakecrew model hygiene --phase 2 --apply"
        ),
    )(hygiene)
    root.add_typer(app, name="model")
