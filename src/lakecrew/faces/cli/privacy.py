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
    if csv is not None:
        done = proposals.classify_csv(csv, sample=sample)
    else:
        from lakecrew.wiring.context import Context

        proposals.quoted_table_name(str(table))  # a bad name is a usage error before opening
        with Context.open(state.project) as lc:
            ms = lc.metastore
            masked = (
                [c.name for c in ms.get_table(str(table)).columns if c.mask]
                if ms.has_table(str(table))
                else []
            )
            done = proposals.classify_sql_table(lc.sql, str(table), sample=sample, masked=masked)
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
        "classification": str(done.proposal.classification),
    }
    emit(state, Result("classify", items, meta), _render)


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
