"""`lakecrew models` and `lakecrew model promote | drift | hygiene | rollback` (SOP 1.7, 3.1.5)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from lakecrew.core.errors import LakecrewError, UsageError
from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, WideOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out

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
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Registered models: versions, aliases, owners, last use and lineage."""
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    lc = _open(state.project, writable=False)
    try:
        rows = _ops(lc).inventory()
    finally:
        lc.close()
    emit(state, Result("models", rows, {"count": len(rows)}), _render_models)


VERSION_COLUMNS = (
    Col("model"), Col("version"), Col("aliases"), Col("lifecycle"), Col("datasets"),
    Col("last_used", "last used"), Col("last_use_source", "source"), Col("run"),
)  # fmt: skip


def _render_models(out: Out, result: Result) -> None:
    if not result.items:
        out.line("no registered models")
        return
    for m in result.items:
        up, down = m["lineage"]["upstream"], m["lineage"]["downstream"]
        out.line(
            f"{m['name']}  owner {m['owner'] or '(none)'}  last used {m['last_used'] or 'never'}"
            f"  lineage: {', '.join(up) or '(no source tables)'} → model → "
            f"{', '.join(down) or '(not served)'}",
            style="bold",
        )
        rows = [
            {
                **v,
                "model": m["name"],
                "aliases": ", ".join(v["aliases"]),
                "datasets": ", ".join(v["datasets"]),
                "run": v["run_problem"] or v["run_id"],
            }
            for v in m["versions"]
        ]
        out.table(VERSION_COLUMNS, rows)


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
    emit(state, Result("model_promote", [data]), _render_gates)
    if not result.passed:
        raise typer.Exit(1)


def _render_gates(out: Out, result: Result) -> None:
    d = result.items[0]
    for ch in d["checks"]:
        mark = "pass" if ch["passed"] else "FAIL"
        out.line(f"  {mark:4}  {ch['gate']:<10} {ch['detail']}")
    base = f" (champion was v{d['baseline']})" if d["baseline"] else ""
    if d["passed"] and d["action_id"]:
        out.line(
            f"promoted {d['model']} v{d['version']} to @{d['alias']}{base}; "
            f"action {d['action_id']} (roll back with `lakecrew rollback {d['action_id']}`)"
        )
    elif d["passed"]:
        out.line("all gates pass (dry run: nothing moved)")
    else:
        failing = [ch["gate"] for ch in d["checks"] if not ch["passed"]]
        out.line(f"refused: {d['model']} v{d['version']} fails {', '.join(failing)}")


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
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Drift of the inference table against the training baseline; findings into the ledger."""
    from lakecrew.services.mlops.monitor import model_drift, weekly_section

    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
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
        alerts = _route_drift(lc, ops, run, name)
    finally:
        lc.close()
    if report is not None:
        report.write_text("\n".join(weekly_section(run)) + "\n", encoding="utf-8")
    emit(state, Result("model_drift", [run.as_dict()], {"alerts": alerts}), _render_drift)
    if run.findings or alerts.get("errors"):
        raise typer.Exit(1)


def _route_drift(lc: Any, ops: Any, run: Any, name: str) -> dict[str, Any]:
    """Record the drift findings in the crew ledger and, with `notifications:` in
    lakecrew.yaml, route them through the outbox like a sweep's (new or changed evidence)."""
    from lakecrew.services.mlops.hygiene import MODELS_SCOPE
    from lakecrew.services.mlops.monitor import alert_context, record_findings
    from lakecrew.wiring.notify import alert_pipeline

    cfg = lc.config.mlops
    prior = {r.fingerprint: r.evidence_json for r in lc.ledger.findings(MODELS_SCOPE)}
    rows = record_findings(ops.deps, run, cfg.settings(name).owner or "")
    pipeline = alert_pipeline(lc)
    if pipeline is None:
        return {"routed": False}
    env, project = alert_context(name, cfg.prod_catalog, cfg.project_tags)
    done = pipeline.publish_rows(
        rows, prior_evidence=prior, environment=env, project=project, now=lc.clock.now()
    )
    errors = [f"{ch}: {e}" for ch, e in sorted(done.drain.errors.items())]
    return {"routed": True, "items": done.items, "queued": done.queued,
            "delivered": done.drain.delivered, "errors": errors}  # fmt: skip


DRIFT_COLUMNS = (
    Col("column"), Col("kind"), Col("psi", "PSI", fmt=lambda v: f"{v:.3f}", justify="right"),
    Col("js", "JS", fmt=lambda v: f"{v:.3f}", justify="right"),
    Col("ks", "KS", fmt=lambda v: f"{v:.3f}", justify="right"),
    Col("ks_pvalue", "p", fmt=lambda v: f"{v:.2g}", justify="right"), Col("drifted"),
)  # fmt: skip
FINDING_COLUMNS = (
    Col("severity"), Col("rule_id", "rule"), Col("sop_section", "SOP"),
    Col("resource_type", "type"), Col("resource_id", "resource"), Col("title", wide=True),
)  # fmt: skip


def _render_drift(out: Out, result: Result) -> None:
    d = result.items[0]
    out.line(
        f"{d['model']} v{d['version']}: baseline {d['baseline']} ({d['rows_ref']:,} rows) vs "
        f"{d['inference_table']} ({d['rows_cur']:,} rows)"
    )
    out.table(DRIFT_COLUMNS, d["columns"], title="drift per column")
    for f in d["findings"]:
        out.line(f"  {f['severity']:8} {f['rule_id']}: {f['detail']}")
    if d["performance_note"]:
        out.line(d["performance_note"])
    alerts = result.meta.get("alerts", {})
    if alerts.get("routed"):
        out.note(f"alerts: {alerts['queued']} queued, {alerts['delivered']} delivered")
    for error in alerts.get("errors", []):
        out.line(f"  NOT DELIVERED {error} (kept in the outbox; `lakecrew outbox deliver`)")


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
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The SOP pack's model rules over the registry, as the crew's `(models)` sweep scope:
    findings recorded, archive/tag actions planned (or, with --apply, taken) by the Executor."""
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    lc = _open(state.project, writable=True, now=now)
    try:
        _ops(lc)  # one clear line when the project has no MLflow store
        from lakecrew.wiring.mlops import sweep_models

        res = sweep_models(lc, apply=apply, phase=phase, only=model)
    finally:
        lc.close()
    assert res is not None
    done = {a.action_id: a for a in (*res.applied, *res.failed)}
    data = {
        "evaluated": res.evaluated,
        "discovered": dict(res.discovered_by_type),
        "notes": list(res.notes),
        "findings": [
            {
                "rule_id": tf.finding.rule_id,
                "sop_section": tf.finding.sop_section,
                "severity": tf.finding.severity,
                "resource_type": tf.finding.resource_type,
                "resource_id": tf.finding.resource_id,
                "title": tf.finding.title,
            }
            for tf in res.findings
        ],
        "actions": [
            {
                "action_id": a.action_id,
                "action": a.action,
                "resource_id": a.resource_id,
                "status": done[a.action_id].status if a.action_id in done else a.status,
                "reason": done[a.action_id].reason if a.action_id in done else a.reason,
            }
            for a in res.plan.actions
        ],
    }
    emit(state, Result("model_hygiene", [data]), _render_hygiene)


ACTION_COLUMNS = (
    Col("status"), Col("action"), Col("resource_id", "resource"), Col("action_id", "action id"),
    Col("reason", wide=True),
)  # fmt: skip


def _render_hygiene(out: Out, result: Result) -> None:
    d = result.items[0]
    out.line(f"{d['evaluated']} registry objects evaluated; {len(d['findings'])} findings")
    out.table(FINDING_COLUMNS, d["findings"], title="findings")
    for note in d.get("notes", []):
        out.note(note)
    if d["actions"]:
        out.table(ACTION_COLUMNS, d["actions"], title="actions")


def rollback_model_action(lc: Any, row: Any, *, force: bool, resume: bool = False) -> Any:
    """Roll back a model action of the ledger (called by `lakecrew rollback`)."""
    from lakecrew.wiring.mlops import rollback_action

    _ops(lc)  # one clear line when the project has no MLflow store
    return rollback_action(lc, row, force=force, resume=resume)


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
            exits="0 no drift; 1 drift findings (or an alert not delivered); 2 usage",
        ),
    )(drift)
    app.command(
        "hygiene",
        epilog=epilog(
            "lakecrew model hygiene --phase 1", "lakecrew model hygiene --phase 2 --apply"
        ),
    )(hygiene)
    root.add_typer(app, name="model")
