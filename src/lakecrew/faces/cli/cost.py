"""`lakecrew cost report` and `lakecrew anomalies detect`: FinOps reports and CSV anomalies."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakecrew.core.errors import UsageError
from lakecrew.faces.cli.console import Result, dumps, emit, render_items
from lakecrew.faces.cli.options import (
    DebugOpt,
    ForceOpt,
    OutputOpt,
    ProjectOpt,
    WideOpt,
    epilog,
    state_of,
)
from lakecrew.faces.cli.render import Col, Out, money, percent
from lakecrew.faces.cli.sla_view import render_sla, sla_markdown
from lakecrew.services.output_files import write_files

if TYPE_CHECKING:
    from lakecrew.services.finops.reports import Period

app = typer.Typer(help="FinOps: cost reports (SOP 1.9.4, 2.2.1, 3.1.6).", no_args_is_help=True)
anomalies_app = typer.Typer(help="Anomaly detection on any time series.", no_args_is_help=True)


class SourceChoice(StrEnum):
    AUTO = "auto"
    LOCAL = "local"
    WAREHOUSE = "warehouse"


SourceOpt = Annotated[
    SourceChoice,
    typer.Option(
        "--source",
        help="Where billing system tables are read: warehouse (in place, on the warehouse_id of "
        "a databricks workspace), local (simulated or imported), auto (warehouse if configured).",
    ),
]

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


class PeriodChoice(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@app.command(
    "report",
    epilog=epilog(
        "lakecrew cost report --period week",
        "lakecrew cost report --period month --as-of 2026-03-01 --out reports/",
        "lakecrew cost report --output json | jq '.items[0].budgets'",
    ),
)
def report_cmd(
    ctx: typer.Context,
    period: Annotated[PeriodChoice, typer.Option("--period", help="Report period.")] = (
        PeriodChoice.WEEK
    ),
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default now)")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Also write report.md/.json, charts (PNG), CSV and Parquet per table"
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="Rows in ranked lists")] = 10,
    source: SourceOpt = SourceChoice.AUTO,
    force: ForceOpt = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The daily digest, weekly review (budget vs actual, movers, anomalies, untagged spend,
    actions) or monthly chargeback."""
    from lakecrew.services.finops.cube import CostCube
    from lakecrew.services.finops.prices import with_price_note
    from lakecrew.services.finops.reports import cost_report
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.crew import sla_section_at

    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    lc = Context.open(state.project)
    try:
        when = parse_as_of(as_of, lc.clock.now())
        engine, read_from = lc.billing_sql(source.value)
        cube = CostCube(lc.sql) if engine is lc.sql else None  # the cube lives in the project
        data = cost_report(engine, lc.config, _period(period.value), when, top=top, cube=cube)
        read_from = with_price_note(engine, read_from)
        data["sla"] = sla_section_at(lc, when)
    finally:
        lc.close()
    written = write_report_files(data, out, force=force) if out is not None else []
    meta = {"written": written, "billing_source": read_from}
    emit(state, Result("cost_report", [data], meta), _render)


@app.command(
    "cube",
    epilog=epilog("lakecrew cost cube", "lakecrew cost cube --output json"),
)
def cube_cmd(
    ctx: typer.Context,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Build or update the daily cost cube (lakecrew.finops.cost_cube): only days whose usage,
    list prices or resource tags changed are recomputed; reports then read it."""
    from lakecrew.services.finops.cube import CostCube
    from lakecrew.wiring.context import Context

    state = state_of(ctx, project=project, output=output, debug=debug)
    lc = Context.open(state.project, writable=True)
    try:
        plan = CostCube(lc.sql).refresh()
    finally:
        lc.close()
    emit(state, Result("cost_cube", [plan.as_dict()]), render_items)


def _day(text: str | None, default: date, name: str) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{name} {text!r} is not a date", where=name, fix="use YYYY-MM-DD"
        ) from None


@app.command(
    "export",
    epilog=epilog(
        "lakecrew cost export --focus --out focus.parquet",
        "lakecrew cost export --focus --start 2026-01-01 --end 2026-02-01 --out jan.csv",
    ),
)
def export_cmd(
    ctx: typer.Context,
    focus: Annotated[bool, typer.Option("--focus", help="Write a FOCUS 1.2 dataset")] = False,
    start: Annotated[
        str | None, typer.Option("--start", help="First day (default: first day of last month)")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end", help="Day after the last (exclusive; default: first day of this month)"
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="FILE.parquet or FILE.csv")] = None,
    source: SourceOpt = SourceChoice.AUTO,
    force: ForceOpt = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Export priced usage as a FOCUS-compatible dataset (plus <FILE>.metadata.json)."""
    import pyarrow.parquet as pq

    from lakecrew.services.finops.focus import focus_csv, focus_export, focus_metadata, sub_accounts
    from lakecrew.services.finops.prices import with_price_note
    from lakecrew.wiring.context import Context

    state = state_of(ctx, project=project, output=output, debug=debug)
    if not focus:
        raise UsageError("no export format chosen", where="cost export", fix="pass --focus")
    lc = Context.open(state.project)
    try:
        now = lc.clock.now().astimezone(UTC)
        this_month = now.date().replace(day=1)
        first = _day(start, (this_month - timedelta(days=1)).replace(day=1), "--start")
        stop = _day(end, this_month, "--end")
        target = out or Path(f"focus_cost_{first:%Y%m%d}_{stop:%Y%m%d}.parquet")
        if target.suffix not in (".parquet", ".csv"):
            raise UsageError(f"--out {target} must end in .parquet or .csv", where="--out",
                             fix="e.g. --out focus_cost_202601.parquet")  # fmt: skip
        engine, read_from = lc.billing_sql(source.value)
        table, usage = focus_export(engine, first, stop, as_of=now,
                                    workspaces=sub_accounts(lc.config))  # fmt: skip
        read_from = with_price_note(engine, read_from)
    finally:
        lc.close()
    if target.suffix == ".csv":
        blob = focus_csv(table).encode("utf-8")
    else:
        import pyarrow as pa

        buf = pa.BufferOutputStream()
        pq.write_table(table, buf)
        blob = bytes(buf.getvalue().to_pybytes())
    meta = (dumps(focus_metadata(table, now)) + "\n").encode("utf-8")
    write_files(
        target.parent,
        {target.name: blob, target.name + ".metadata.json": meta},
        force=force,
    )
    summary = {
        "file": str(target),
        "rows": table.num_rows,
        "start": first.isoformat(),
        "end": stop.isoformat(),
        "billed_cost": str(usage.total.cents()),
        "currency": usage.currency,
        "not_exported": [i.message for i in usage.issues if i.kind == "unpriced_sku"],
        "billing_source": read_from,
    }
    emit(state, Result("cost_export", [summary]), render_items)


def _period(text: str) -> Period:
    return "day" if text == "day" else "month" if text == "month" else "week"


def write_report_files(data: dict[str, Any], out: Path, *, force: bool = False) -> list[str]:
    """report.json, report.md (embedding the charts), <table>.csv, <table>.parquet and the PNG
    charts under `out` (all rendered first, then written atomically; existing files only with
    `force`); the paths."""
    from lakecrew.adapters.local.charts import CHARTS

    files: dict[str, bytes] = {name: render(data) for name, render in CHARTS.items()}
    files["report.json"] = (dumps(data) + "\n").encode()
    files["report.md"] = markdown(data, charts=list(CHARTS)).encode()
    for name in TABLES:
        files[f"{name}.csv"] = _csv(data[name]).encode()
        files[f"{name}.parquet"] = _parquet(data[name])
    return [str(p) for p in write_files(out, files, force=force)]


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    flat = [_flat(r) for r in rows]
    fields = list(dict.fromkeys(k for r in flat for k in r))
    table = pa.Table.from_pylist([{f: r.get(f) for f in fields} for r in flat])
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    return bytes(buf.getvalue().to_pybytes())


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


def markdown(data: dict[str, Any], charts: list[str] | None = None) -> str:
    """The report as Markdown: totals, charts (PNG files next to it), one table per section,
    corrective actions."""
    lines = [
        f"# Cost report ({data['period']}) {data['start']} – {data['end']} (end exclusive)",
        "",
        f"Total **{data['total']} {data['currency']}** ({data['basis']} price); previous "
        f"period {data['previous_total']}. Untagged spend {data['untagged']['total']} "
        f"({data['untagged']['pct']}%).",
        "",
    ]
    for chart in charts or []:
        lines += [f"![{chart.removesuffix('.png').replace('_', ' ')}]({chart})", ""]
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
    if "sla" in data:
        lines += ["", *sla_markdown(data["sla"])]
    lines += ["", *(f"> data issue: {i}" for i in data["data_issues"])]
    return "\n".join(lines) + "\n"


REPORT_TABLES: dict[str, tuple[Col, ...]] = {
    "by_project": (Col("key", "project"), Col("cost", fmt=money, justify="right"),
                   Col("records", justify="right", wide=True)),
    "by_cost_center": (Col("key", "cost center"), Col("cost", fmt=money, justify="right"),
                       Col("records", justify="right", wide=True)),
    "budgets": (Col("id"), Col("scope"), Col("name"), Col("month"),
                Col("budget", fmt=money, justify="right"),
                Col("actual", fmt=money, justify="right"),
                Col("pct", "used", fmt=percent, justify="right"),
                Col("forecast", fmt=money, justify="right"), Col("severity"),
                Col("breach_date", "breach", wide=True)),
    "top_movers": (Col("series", "workspace / project / SKU family"),
                   Col("cost", fmt=money, justify="right"),
                   Col("previous", fmt=money, justify="right"),
                   Col("delta", fmt=money, justify="right"),
                   Col("pct", "change", fmt=percent, justify="right")),
    "recommendations": (Col("code"), Col("resource"), Col("name"), Col("action"),
                        Col("monthly_cost_usd", "monthly cost", fmt=money, justify="right"),
                        Col("monthly_savings_usd", "saves / month", fmt=money, justify="right"),
                        Col("workspace_id", "workspace id", wide=True)),
}  # fmt: skip


def _render(out: Out, result: Result) -> None:
    data = result.items[0]
    cur = data["currency"]
    out.line(
        f"cost {data['period']} {data['start']} – {data['end']}: {money(data['total'], cur)} "
        f"(previous {money(data['previous_total'], cur)})"
    )
    for name, columns in REPORT_TABLES.items():
        rows = [_flat(r) for r in data[name]]
        if rows:
            out.table(columns, rows, title=name.replace("_", " "))
    for action in data["corrective_actions"]:
        out.line(f"- {action}")
    if "sla" in data:
        render_sla(out, data["sla"])
    for path in result.meta.get("written", []):
        out.note(f"wrote {path}")


ANOMALY_COLUMNS = (
    Col("group"), Col("at"), Col("observed", justify="right"), Col("expected", justify="right"),
    Col("pct", "change", fmt=percent, justify="right"), Col("score", justify="right"),
)  # fmt: skip


@anomalies_app.command(
    "detect",
    epilog=epilog(
        "lakecrew anomalies detect --csv series.csv --time-col day --value-col usd "
        "--group-col project",
        "lakecrew anomalies detect --csv runs.csv --time-col started --value-col seconds -o json",
    ),
)
def detect_cmd(
    ctx: typer.Context,
    csv_file: Annotated[Path, typer.Option("--csv", help="CSV file", dir_okay=False)],
    time_col: Annotated[str, typer.Option("--time-col", help="Column with dates/times")],
    value_col: Annotated[str, typer.Option("--value-col", help="Column with the values")],
    group_col: Annotated[str | None, typer.Option("--group-col", help="Series key column")] = None,
    sensitivity: Annotated[
        float | None,
        typer.Option("--k", min=0.1, help="Robust z-score a point must exceed (default 4)."),
    ] = None,
    direction: Annotated[
        str | None, typer.Option(help="up (default), down or both: which side is anomalous.")
    ] = None,
    period: Annotated[
        int | None,
        typer.Option(
            min=0, help="Seasonality period in points (daily default 7, irregular 0 = none)."
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option(
            min=3,
            help="Points of history behind each verdict (daily default 56, irregular 30); "
            "at least two periods.",
        ),
    ] = None,
    no_floors: Annotated[
        bool,
        typer.Option(
            "--no-floors",
            help="Drop the dollar floors ($25 and +100 %) for series that are not money.",
        ),
    ] = False,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The anomalous points of a CSV time series (a table, or JSON with --output json).

    Defaults suit daily cost in dollars (weekly seasonality, floors of $25 and +100 %); for
    counts, durations or rates pass --no-floors, and tune --k, --direction, --period and
    --window (e.g. 5-minute metrics with a daily cycle: --period 288 --window 576).
    """
    from lakecrew.services.finops.csv_series import detect_csv

    state = state_of(ctx, output=output, debug=debug, wide=wide)
    if direction not in (None, "up", "down", "both"):
        raise UsageError(f"unknown direction {direction!r}", where="--direction",
                         fix="up, down or both")  # fmt: skip
    tuning: dict[str, Any] = {
        "k": sensitivity, "direction": direction, "period": period, "window": window
    }  # fmt: skip
    if no_floors:
        tuning.update(abs_floor=0.0, pct_floor=0.0)
    found = detect_csv(csv_file, time_col, value_col, group_col, tuning=tuning)
    emit(state, Result("anomalies", found, {"count": len(found)}), _render_anomalies)


def _render_anomalies(out: Out, result: Result) -> None:
    rows = result.items
    out.table(ANOMALY_COLUMNS, rows)
    out.note(f"{len(rows)} anomal{'y' if len(rows) == 1 else 'ies'}")
