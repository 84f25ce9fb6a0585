"""PNG charts of a cost report (matplotlib, Agg canvas; no pyplot global state, no display).

- `cost_over_time_png(report)`: daily cost per project (lines, the largest projects named, the
  rest summed as "other"), anomalies marked with a red ring on the day of the anomalous
  project, the report period shaded.
- `budget_burnup_png(report)`: one chart, one bar per budget sorted by forecast ÷ budget: the
  actual to date, the forecast to month end, the budget as a mark; money on the axis.

Colours are the Okabe–Ito palette (colour-blind safe).

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
from matplotlib.ticker import FuncFormatter

TOP_PROJECTS = 6
DPI = 110
# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
PALETTE = {"actual": "#0072B2", "forecast": "#56B4E9", "budget": "#D55E00", "anomaly": "#D55E00"}


def _money_tick(currency: str) -> Any:
    """An axis formatter: $12.3k / $1.2M (USD) or 12.3k EUR."""

    def fmt(value: float, _pos: Any = None) -> str:
        size = abs(value)
        text = (f"{value / 1e6:,.1f}M" if size >= 1e6 else f"{value / 1e3:,.1f}k"
                if size >= 1e3 else f"{value:,.0f}")  # fmt: skip
        return f"${text}" if currency == "USD" else f"{text} {currency}"

    return fmt


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
    for i, project in enumerate(shown):
        ax.plot(_x(days), [series[project].get(d, 0.0) for d in days], marker=".", lw=1.6,
                label=project, color=OKABE_ITO[i % len(OKABE_ITO)])  # fmt: skip
    marked = False
    for anomaly in report["anomalies"]:
        day, project = date.fromisoformat(anomaly["at"][:10]), anomaly["series"][1]
        key = project if project in shown else "other"
        if key not in series or day not in days:
            continue
        ax.scatter(_x([day]), [series[key].get(day, 0.0)], s=160, facecolors="none",
                   edgecolors=PALETTE["anomaly"], linewidths=2, zorder=5,
                   label=None if marked else "anomaly")  # fmt: skip
        marked = True
    start, end = date.fromisoformat(report["start"]), date.fromisoformat(report["end"])
    ax.axvspan(*_x([start, end - timedelta(days=1)]), color="0.92", zorder=0, label="report period")
    ax.set_title(f"Daily cost per project ({report['currency']}, {report['basis']} price)")
    ax.set_ylabel(report["currency"])
    ax.yaxis.set_major_formatter(FuncFormatter(_money_tick(report["currency"])))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _dates(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _png(fig)


def budget_burnup_png(report: Mapping[str, Any]) -> bytes:
    """Budget vs forecast, one bar per budget on one chart, sorted by forecast ÷ budget (the
    worst first): actual to date, the forecast to month end, the budget as a mark (PNG bytes)."""
    rows = []
    for b in report["budget_burnup"]:
        actual = float(b["days"][-1]["cumulative"]) if b["days"] else 0.0
        amount, forecast = float(b["budget"]), float(b["forecast"])
        rows.append((forecast / amount if amount else math.inf, b, actual, amount, forecast))
    rows.sort(key=lambda r: r[0])  # barh draws bottom-up: the worst ends on top
    fig = Figure(figsize=(10, 1.2 + 0.42 * max(len(rows), 1)), layout="constrained")
    ax = fig.add_subplot()
    if not rows:
        ax.text(0.5, 0.5, "no budgets configured", ha="center", va="center")
        ax.set_axis_off()
        return _png(fig)
    y = list(range(len(rows)))
    names = [b["id"].rsplit(":", 1)[0].removeprefix("workspace:") for _, b, *_ in rows]
    ax.barh(y, [r[4] for r in rows], color=PALETTE["forecast"], label="forecast to month end")
    ax.barh(y, [r[2] for r in rows], color=PALETTE["actual"], label="actual to date")
    ax.scatter([r[3] for r in rows], y, marker="|", s=420, linewidths=3, color=PALETTE["budget"],
               zorder=5, label="budget")  # fmt: skip
    for i, (ratio, _, _, amount, forecast) in enumerate(rows):
        over = forecast > amount
        note = f"{ratio:.0%} of budget" + (" — over" if over else "")
        weight = "bold" if over else "normal"
        ax.text(max(forecast, amount) * 1.01, i, note, va="center", fontsize=8, fontweight=weight)
    ax.set_yticks(y, names, fontsize=8)
    ax.xaxis.set_major_formatter(FuncFormatter(_money_tick(report["currency"])))
    ax.set_xlim(0, max(max(r[3], r[4]) for r in rows) * 1.25)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    month = rows[0][1]["month_start"][:7]
    ax.set_title(f"Budget vs forecast, {month} ({report['currency']}), worst first")
    return _png(fig)


CHARTS = {"cost_over_time.png": cost_over_time_png, "budget_burnup.png": budget_burnup_png}
"""File name → renderer, in the order the report's Markdown embeds them."""
