"""`lakecrew classify`: PII proposals per column of a catalog table or a CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lakecrew.core.errors import UsageError
from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, WideOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out

COLUMNS = (
    Col("column"),
    Col("kind"),
    Col("confidence", fmt=lambda v: f"{v:.2f}", justify="right"),
    Col("matched", justify="right"),
    Col("sampled", justify="right"),
    Col("reason"),
    Col("mask", wide=True),
)


def _render(out: Out, result: Result) -> None:
    out.table(COLUMNS, result.items)
    meta = result.meta
    pii = sum(1 for i in result.items if i["kind"] != "none")
    out.note(
        f"{meta['source']}: {pii} of {len(result.items)} column(s) proposed as PII from "
        f"{meta['rows_read']} row(s); lowest label {meta['classification']} "
        "(proposals: a steward confirms them in the pipeline spec)"
    )
    for a in meta.get("actions", []):
        if "note" in a:
            out.note(a["note"])
        else:
            out.note(f"{a['action_id']} set_column_mask {a['column']} {a['mask']}: "
                     f"{a['status']} ({a['reason']})")  # fmt: skip


def _apply(
    lc: Any, table: str, done: Any, phase: int | None, min_confidence: float
) -> list[dict[str, Any]]:
    """Plan (and at phase >= 3 apply) a mask per confident proposal; one row per action."""
    from lakecrew.services.governance.enforce import apply_plan, proposal_plan
    from lakecrew.wiring.governance import executor, phase_of_catalog, run_id

    info = lc.metastore.get_table(table)
    ph = phase if phase is not None else phase_of_catalog(lc, info.catalog_name)
    props = {c.column: (str(c.pii), c.confidence) for c in done.proposal.columns}
    plan = apply_plan(proposal_plan(info, props, ph, min_confidence), executor(lc), run_id(lc))
    rows = {r.action_id: r for r in plan.applied}
    out = []
    for a in plan.actions:
        row = rows.get(a.action_id)
        out.append(
            {
                "action_id": a.action_id,
                "column": a.resource_id.partition("#")[2],
                "mask": str(a.target["function"]["full_name"]),
                "status": row.status if row else a.status,
                "reason": row.reason if row else a.reason,
            }
        )
    out += [{"note": n} for n in plan.notes]
    return out


def classify(
    ctx: typer.Context,
    *,
    table: Annotated[
        str | None, typer.Argument(help="catalog.schema.table read through the project's engine")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Classify a CSV file (header line) instead.")
    ] = None,
    sample: Annotated[
        int, typer.Option(min=1, max=10_000, help="Values sampled per column.")
    ] = 200,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Mask the proposed PII columns of TABLE in the metastore (phase >= 3; "
            "ledger, `lakecrew rollback`).",
        ),
    ] = False,
    min_confidence: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Lowest confidence --apply acts on.")
    ] = 0.8,
    phase: Annotated[
        int | None,
        typer.Option(min=1, max=4, help="Rollout phase (default: the catalog's environment's)."),
    ] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Propose a PII kind per column (kind, confidence, sampled values that matched).

    Values are matched in memory and never shown: the output holds counts only.
    """
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    from lakecrew.services.privacy import proposals

    if (table is None) == (csv is None):
        raise UsageError(
            "give either TABLE or --csv FILE", where="classify", fix="lakecrew classify --csv x.csv"
        )
    masked: list[str] = []
    actions: list[dict[str, Any]] = []
    if apply and csv is not None:
        raise UsageError("--apply needs a TABLE, not --csv", where="--apply")
    if csv is not None:
        done = proposals.classify_csv(csv, sample=sample)
    else:
        from lakecrew.wiring.context import Context

        proposals.quoted_table_name(str(table))  # a bad name is a usage error before opening
        with Context.open(state.project, writable=apply) as lc:
            ms = lc.metastore
            masked = (
                [c.name for c in ms.get_table(str(table)).columns if c.mask]
                if ms.has_table(str(table))
                else []
            )
            done = proposals.classify_sql_table(lc.sql, str(table), sample=sample, masked=masked)
            if apply:
                actions = _apply(lc, str(table), done, phase, min_confidence)
    items: list[dict[str, Any]] = [
        {
            "column": c.column,
            "kind": str(c.pii),
            "confidence": c.confidence,
            "matched": c.matched,
            "sampled": c.sampled,
            "reason": c.reason,
            "mask": str(c.mask),
        }
        for c in done.proposal.columns
    ]
    meta = {
        "source": done.source,
        "rows_read": done.rows_read,
        "masked_columns": masked,
        "actions": actions,
        "classification": str(done.proposal.classification),
    }
    emit(state, Result("classify", items, meta), _render)
    if any(a.get("status") == "failed" for a in actions):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `lakecrew classify` to the root app."""
    app.command(
        "classify",
        epilog=epilog(
            "lakecrew classify --csv contacts.csv",
            "lakecrew classify lassa.silver.cases --output json | jq '.items[].kind'",
            exits="0 classified; 1 unreadable data; 2 usage error",
        ),
    )(classify)
