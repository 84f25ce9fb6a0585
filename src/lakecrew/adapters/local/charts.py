"""PNG charts of a cost report (matplotlib, Agg canvas; no pyplot global state, no display).

- `cost_over_time_png(report)`: daily cost per project (lines, the largest projects named, the
  rest summed as "other"), anomalies marked with a red ring on the day of the anomalous
  project, the report period shaded.
- `budget_burnup_png(report)`: one panel per budget: cumulative actual to date, the budget as
  a horizontal line, and the linear forecast from the last actual day to month end.

Both take the JSON-ready dict of `reports.cost_report` and return PNG bytes (callers write).
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

TOP_PROJECTS = 6
DPI = 110


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _x(days: list[date]) -> list[float]:
    """Dates as matplotlib date numbers (typed floats)."""
    return [float(date2num(d)) for d in days]  # type: ignore[no-untyped-call]


def _dates(ax: Any) -> None:
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def cost_over_time_png(report: Mapping[str, Any]) -> bytes:
    """Daily cost per project with anomalies marked (PNG bytes)."""
    series: dict[str, dict[date, float]] = defaultdict(dict)
    for row in report["daily_by_project"]:
        series[row["project"]][date.fromisoformat(row["day"])] = float(row["cost"])
    ranked = sorted(series, key=lambda p: -sum(series[p].values()))
    shown, rest = ranked[:TOP_PROJECTS], ranked[TOP_PROJECTS:]
    if rest:
        other: dict[date, float] = defaultdict(float)
        for project in rest:
            for day, cost in series[project].items():
                other[day] += cost
        series["other"] = dict(other)
        shown.append("other")
    days = sorted({d for s in series.values() for d in s})
    fig = Figure(figsize=(10, 4.8))
    ax = fig.add_subplot()
    for project in shown:
        ax.plot(_x(days), [series[project].get(d, 0.0) for d in days], marker=".", lw=1.6,
                label=project)  # fmt: skip
    marked = False
    for anomaly in report["anomalies"]:
        day, project = date.fromisoformat(anomaly["at"][:10]), anomaly["series"][1]
        key = project if project in shown else "other"
        if key not in series or day not in days:
            continue
        ax.scatter(_x([day]), [series[key].get(day, 0.0)], s=160, facecolors="none",
                   edgecolors="red", linewidths=2, zorder=5,
                   label=None if marked else "anomaly")  # fmt: skip
        marked = True
    start, end = date.fromisoformat(report["start"]), date.fromisoformat(report["end"])
    ax.axvspan(*_x([start, end - timedelta(days=1)]), color="0.92", zorder=0, label="report period")
    ax.set_title(f"Daily cost per project ({report['currency']}, {report['basis']} price)")
    ax.set_ylabel(report["currency"])
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _dates(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _png(fig)


def budget_burnup_png(report: Mapping[str, Any]) -> bytes:
    """Cumulative actual vs budget and forecast, one panel per budget (PNG bytes)."""
    budgets = sorted(  # the budgets forecast to breach first
        report["budget_burnup"], key=lambda b: float(b["budget"]) >= float(b["forecast"])
    )
    cols = 2 if len(budgets) > 1 else 1
    rows = max(1, math.ceil(len(budgets) / cols))
    fig = Figure(figsize=(5.2 * cols, 3.4 * rows), layout="constrained")
    if not budgets:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no budgets configured", ha="center", va="center")
        ax.set_axis_off()
        return _png(fig)
    for i, b in enumerate(budgets):
        ax = fig.add_subplot(rows, cols, i + 1)
        days = [date.fromisoformat(d["day"]) for d in b["days"]]
        cum = [float(d["cumulative"]) for d in b["days"]]
        first = date.fromisoformat(b["month_start"])
        last = date.fromisoformat(b["month_end"]) - timedelta(days=1)
        amount, forecast = float(b["budget"]), float(b["forecast"])
        ax.plot(_x(days), cum, color="tab:blue", lw=2, label="actual (cumulative)")
        if days:
            ax.plot(_x([days[-1], last]), [cum[-1], forecast], color="tab:blue", ls="--",
                    label="forecast")  # fmt: skip
        ax.axhline(amount, color="tab:red", lw=1.2, label="budget")
        over = forecast > amount
        label = b["id"].rsplit(":", 1)[0]
        ax.set_title(f"{label}: forecast {forecast:,.0f} / {amount:,.0f}", fontsize=9,
                     color="tab:red" if over else "black")  # fmt: skip
        ax.set_xlim(*_x([first, last]))
        ax.set_ylim(bottom=0, top=max([amount, forecast, *cum]) * 1.1 or 1)
        ax.grid(alpha=0.3)
        _dates(ax)
        if i == 0:
            ax.legend(fontsize=7, loc="upper left")
    month = budgets[0]["month_start"][:7]
    fig.suptitle(f"Budget burn-up {month} ({report['currency']}; red title = forecast over)")
    return _png(fig)


CHARTS = {"cost_over_time.png": cost_over_time_png, "budget_burnup.png": budget_burnup_png}
"""File name → renderer, in the order the report's Markdown embeds them."""
