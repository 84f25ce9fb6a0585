"""`lakecrew cost report` and `lakecrew anomalies detect`: FinOps reports and CSV anomalies."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lakecrew.context import Context
from lakecrew.core.errors import UsageError
from lakecrew.faces.cli.console import dumps, emit
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, state_of
from lakecrew.services.finops.csv_series import detect_csv
from lakecrew.services.finops.reports import Period, cost_report

app = typer.Typer(help="FinOps: cost reports (SOP 1.9.4, 2.2.1, 3.1.6).")
anomalies_app = typer.Typer(help="Anomaly detection on any time series.")

TABLES = ("by_project", "by_cost_center", "by_workspace", "by_sku_family", "top_movers",
          "budgets", "recommendations")  # fmt: skip


def parse_as_of(text: str | None, now: datetime) -> datetime:
    """--as-of: a date (that day 00:00 UTC) or an ISO datetime with zone; default: now."""
    if text is None:
        return now.astimezone(UTC)
    try:
        if "T" in text:
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                raise ValueError("no time zone")
            return value.astimezone(UTC)
        return datetime.combine(date.fromisoformat(text), time(), UTC)
    except ValueError as exc:
        raise UsageError(
            f"--as-of {text!r} is not a date or a zoned ISO datetime ({exc})",
            where="--as-of",
            fix="use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS+00:00",
        ) from None


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    period: Annotated[str, typer.Option("--period", help="day, week or month")] = "week",
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default now)")] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write report.md, report.json and one CSV per table"),
    ] = None,
    top: Annotated[int, typer.Option(help="Rows in ranked lists")] = 10,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The daily digest, weekly review (budget vs actual, movers, anomalies, untagged spend,
    actions) or monthly chargeback."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    if period not in ("day", "week", "month"):
        raise UsageError(f"unknown period {period!r}", where="--period", fix="day, week or month")
    lc = Context.open(state.project)
    try:
        when = parse_as_of(as_of, lc.clock.now())
        data = cost_report(lc.sql, lc.config, _period(period), when, top=top)
    finally:
        lc.close()
    if out is not None:
        write_report_files(data, out)
    emit(state, data, _render)


def _period(text: str) -> Period:
    return "day" if text == "day" else "month" if text == "month" else "week"


def write_report_files(data: dict[str, Any], out: Path) -> None:
    """report.json, report.md and <table>.csv under `out` (each written whole, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"report.json": dumps(data) + "\n", "report.md": markdown(data)}
    for name in TABLES:
        files[f"{name}.csv"] = _csv(data[name])
    for name, text in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in row.items()
            if not isinstance(v, dict)}  # fmt: skip


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    flat = [_flat(r) for r in rows]
    fields = list(dict.fromkeys(k for r in flat for k in r))
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(flat)
    return buf.getvalue()


def markdown(data: dict[str, Any]) -> str:
    """The report as Markdown: totals, one table per section, corrective actions."""
    lines = [
        f"# Cost report ({data['period']}) {data['start']} – {data['end']} (end exclusive)",
        "",
        f"Total **{data['total']} {data['currency']}** ({data['basis']} price); previous "
        f"period {data['previous_total']}. Untagged spend {data['untagged']['total']} "
        f"({data['untagged']['share']:.1%}).",
        "",
    ]
    for name in TABLES:
        rows = [_flat(r) for r in data[name]]
        lines += [f"## {name.replace('_', ' ')}", ""]
        if not rows:
            lines += ["(none)", ""]
            continue
        cols = list(dict.fromkeys(k for r in rows for k in r))
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "---|" * len(cols))
        lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
        lines.append("")
    lines += ["## anomalies", ""]
    lines += [f"- {'/'.join(a['series'])} on {a['at']}: observed {a['observed']:.2f}, "
              f"expected {a['expected']:.2f}" for a in data["anomalies"]] or ["(none)"]  # fmt: skip
    lines += ["", "## corrective actions", ""]
    lines += [f"- {a}" for a in data["corrective_actions"]] or ["(none)"]
    lines += ["", *(f"> data issue: {i}" for i in data["data_issues"])]
    return "\n".join(lines) + "\n"


def _render(console: Console, data: dict[str, Any]) -> None:
    console.print(
        f"cost {data['period']} {data['start']} – {data['end']}: {data['total']} "
        f"{data['currency']} (previous {data['previous_total']})",
        markup=False,
    )
    for name in ("by_project", "by_cost_center", "budgets", "top_movers", "recommendations"):
        rows = [_flat(r) for r in data[name]]
        if not rows:
            continue
        cols = list(dict.fromkeys(k for r in rows for k in r))
        table = Table(*cols, title=name.replace("_", " "))
        for r in rows:
            table.add_row(*(str(r.get(c, "")) for c in cols))
        console.print(table)
    for action in data["corrective_actions"]:
        console.print(f"- {action}", markup=False)


@anomalies_app.command("detect")
def detect_cmd(
    ctx: typer.Context,
    csv_file: Annotated[Path, typer.Option("--csv", help="CSV file", dir_okay=False)],
    time_col: Annotated[str, typer.Option("--time-col", help="Column with dates/times")],
    value_col: Annotated[str, typer.Option("--value-col", help="Column with the values")],
    group_col: Annotated[str | None, typer.Option("--group-col", help="Series key column")] = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print the anomalous points of a CSV time series as JSON."""
    state = state_of(ctx, output=output, debug=debug)
    state.output = state.output.__class__("json")
    emit(state, detect_csv(csv_file, time_col, value_col, group_col))
