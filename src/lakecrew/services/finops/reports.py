"""Cost reports (SOP 1.9.4, 2.2.1 weekly cost allocation, 3.1.6): day, week, month.

One `CostModel.priced_usage` call prices the whole window the report needs (the period, the
previous period for movers, eight weeks of history for anomalies, the month for budgets) at
day × workspace × SKU × tags grain; everything else is Python over those few thousand lines.
Only the contributors of an anomaly and the recommendations read resource-level data, each
with a bounded query. The result is a plain dict (JSON-ready, Decimal amounts as strings)
that the CLI renders as tables, Markdown, CSV or Parquet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from lakecrew.core.errors import UsageError
from lakecrew.core.finops import Anomaly, CostLine, PricedUsage, to_cents
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.estate.config import EstateConfig
from lakecrew.services.finops.allocation import AllocationConfig, Allocator, sku_family
from lakecrew.services.finops.budgets import (
    budget_status,
    month_bounds,
    scope_key,
    workspace_index,
)
from lakecrew.services.finops.cost import CostModel
from lakecrew.services.finops.cube import CostCube
from lakecrew.services.finops.detection import (
    contributor_days,
    contributors,
    detect_cost_anomalies,
    resource_parts,
)
from lakecrew.services.finops.recommendations import recommendations

Period = Literal["day", "week", "month"]
HISTORY_DAYS = 63  # nine weeks: the detector's 56-day window plus the report week
CHART_DAYS = 28  # the cost-over-time chart shows at least four weeks
ZERO = Decimal(0)


def period_bounds(period: Period, as_of: datetime) -> tuple[date, date, date, date]:
    """(start, end, previous start, previous end) of the period ending yesterday (UTC, end
    exclusive). The previous period of a day is the same weekday a week earlier."""
    last = as_of.astimezone(UTC).date() - timedelta(days=1)
    end = last + timedelta(days=1)
    if period == "day":
        return last, end, last - timedelta(days=7), last - timedelta(days=6)
    if period == "week":
        return last - timedelta(days=6), end, last - timedelta(days=13), last - timedelta(days=6)
    if period == "month":
        first, _ = month_bounds(last)
        prev, _ = month_bounds(first - timedelta(days=1))
        return first, end, prev, first
    raise UsageError(f"unknown period {period!r}", where="--period", fix="use day, week or month")


def cost_report(
    engine: SqlEngine,
    config: EstateConfig,
    period: Period,
    as_of: datetime,
    *,
    top: int = 10,
    cube: CostCube | None = None,
    detail: bool = True,
) -> dict[str, Any]:
    """The day digest, weekly review or monthly chargeback as a JSON-ready dict.

    With a `cube` (when it has been built), priced usage is read from the daily cost cube
    (stale days recomputed on the fly) instead of priced from the whole usage window, and the
    recommendations' per-resource spend from its resource companion (when the companion's
    days are all fresh; else from raw usage).
    `detail=False` leaves out the anomaly detection and the recommendations (the slow parts;
    `anomalies` and `recommendations` are then None): the agents' cost tools use it."""
    start, end, prev, prev_end = period_bounds(period, as_of)
    month_first, _ = month_bounds(end - timedelta(days=1))
    history = timedelta(days=HISTORY_DAYS if detail else CHART_DAYS)
    window_start = min(prev, month_first, start - history)
    model = CostModel(engine, cube=cube)
    usage = model.priced_usage(window_start, end, as_of=as_of)
    index = workspace_index(config)
    envs = {wid: w["environment"] for wid, w in index.items()}
    alloc_config = AllocationConfig(workspace_environments=envs)
    current = _slice(usage, start, end)
    previous = _slice(usage, prev, prev_end)
    alloc = Allocator(current, alloc_config)
    anomalies = (
        _anomalies(model, usage, alloc_config, period=(start, end), as_of=as_of, top=top)
        if detail
        else []
    )
    untagged = alloc.untagged()
    report: dict[str, Any] = {
        "period": period,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "as_of": as_of.isoformat(),
        "currency": usage.currency,
        "basis": usage.basis,
        "total": _money(current.total.amount),
        "previous_total": _money(previous.total.amount),
        "by_project": _rows(alloc, "project"),
        "by_cost_center": _rows(alloc, "cost_center"),
        "by_workspace": _named(_rows(alloc, "workspace"), index),
        "by_environment": _rows(alloc, "environment"),
        "by_sku_family": _rows(alloc, "sku_family"),
        "top_movers": _movers(current, previous, index, top),
        "budgets": [b.as_dict() for b in budget_status(usage, config, end - timedelta(days=1))],
        "daily_by_project": _daily_by_project(usage, min(start, end - timedelta(CHART_DAYS)), end),
        "anomalies": [a.as_dict() for a in anomalies] if detail else None,
        "untagged": {
            "total": _money(untagged.total.amount),
            "pct": round(untagged.share * 100, 1),  # percentages are 0–100 everywhere
            "top": [
                {"resource": r.resource, "cost": _money(r.cost), "missing": list(r.missing)}
                for r in untagged.resources[:top]
            ],
        },
        "recommendations": [
            r.as_dict()
            for r in recommendations(engine, start - timedelta(days=21), end, envs, cube=cube)
        ]
        if detail
        else None,
        "data_issues": [i.message for i in usage.issues],
        "incomplete_days": [d.isoformat() for d in usage.completeness.incomplete_days],
    }
    report["budget_burnup"] = _burnup(usage, config, report["budgets"], index)
    report["corrective_actions"] = corrective_actions(report)
    return report


def _daily_by_project(usage: PricedUsage, start: date, end: date) -> list[dict[str, Any]]:
    """Daily cost per project tag over `[start, end)` (the cost-over-time chart's data)."""
    sums: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for ln in usage.lines:
        if start <= ln.usage_date < end:
            sums[(ln.usage_date, ln.tags.get("project") or "(untagged)")] += ln.cost
    return [{"day": d.isoformat(), "project": p, "cost": _money(c)}
            for (d, p), c in sorted(sums.items())]  # fmt: skip


def _burnup(
    usage: PricedUsage,
    config: EstateConfig,
    budgets: list[dict[str, Any]],
    index: Mapping[str, Mapping[str, str]],
) -> list[dict[str, Any]]:
    """Per budget: cumulative actual per day of its month to date, budget and forecast."""
    out = []
    for budget, status in zip(config.budgets, budgets, strict=True):
        first, stop = month_bounds(date.fromisoformat(status["month"] + "-01"))
        daily: dict[date, Decimal] = defaultdict(Decimal)
        for ln in usage.lines:
            if first <= ln.usage_date < stop and scope_key(ln, budget.scope, index) == budget.name:
                daily[ln.usage_date] += ln.cost
        running, days = ZERO, []
        for day in sorted(daily):
            running += daily[day]
            days.append({"day": day.isoformat(), "cumulative": _money(running)})
        out.append({"id": status["id"], "month_start": first.isoformat(),
                    "month_end": stop.isoformat(), "budget": status["budget"],
                    "forecast": status["forecast"], "days": days})  # fmt: skip
    return out


def _slice(usage: PricedUsage, start: date, end: date) -> PricedUsage:
    lines = tuple(ln for ln in usage.lines if start <= ln.usage_date < end)
    return replace(usage, start=start, end=end, lines=lines)


def _money(amount: Decimal) -> str:
    return str(to_cents(amount))


def _rows(alloc: Allocator, dimension: str) -> list[dict[str, Any]]:
    return [
        {"key": r.key, "cost": _money(r.total), "records": r.records}
        for r in alloc.by(dimension).rows
    ]


def _named(rows: list[dict[str, Any]], index: Mapping[str, Mapping[str, str]]) -> list[Any]:
    return [{**r, "name": index.get(r["key"], {}).get("name")} for r in rows]


def _series_costs(lines: Iterable[CostLine], index: Mapping[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for ln in lines:
        ws = index.get(ln.workspace_id, {}).get("name", ln.workspace_id)
        out[f"{ws}/{ln.tags.get('project', '?')}/{sku_family(ln.sku_name)}"] += ln.cost
    return out


def _movers(
    current: PricedUsage, previous: PricedUsage, index: Mapping[str, Any], top: int
) -> list[dict[str, Any]]:
    """Largest absolute changes per workspace/project/SKU family against the previous period."""
    now, before = _series_costs(current.lines, index), _series_costs(previous.lines, index)
    keys = sorted(set(now) | set(before))
    ranked = sorted(keys, key=lambda k: -abs(now.get(k, ZERO) - before.get(k, ZERO)))
    rows = []
    for key in ranked[:top]:
        a, b = now.get(key, ZERO), before.get(key, ZERO)
        pct = None if b == 0 else round(float((a - b) / abs(b) * 100), 1)
        rows.append({"series": key, "cost": _money(a), "previous": _money(b),
                     "delta": _money(a - b), "pct": pct})  # fmt: skip
    return rows


def _anomalies(
    model: CostModel,
    usage: PricedUsage,
    alloc_config: AllocationConfig,
    *,
    period: tuple[date, date],
    as_of: datetime,
    top: int,
) -> list[Anomaly]:
    """Anomalies inside the period (history only as baseline), each with its contributors
    from one bounded resource-level query (the anomalous day and its 4 previous weekdays)."""
    start, end = period
    found = detect_cost_anomalies(Allocator(usage, alloc_config), since=start)
    out = []
    for anomaly in found:
        day = anomaly.at
        if not isinstance(day, date) or not start <= day < end:
            continue
        days = contributor_days(day)
        part = model.priced_usage(
            min(days), day + timedelta(days=1), as_of=as_of, by_resource=True, days=days,
            workspace_ids=[anomaly.series[0]],
        )  # fmt: skip
        key = (anomaly.series[0], anomaly.series[1], anomaly.series[2])
        parts = resource_parts(Allocator(part, alloc_config)).get(key, {})
        out.append(replace(anomaly, contributors=contributors(parts, day)))
    return out[: top * 3]


def corrective_actions(report: Mapping[str, Any]) -> list[str]:
    """Plain-language actions for the weekly review (SOP 1.9.4), derived from the findings."""
    actions = []
    for b in report["budgets"]:
        if b["severity"] in ("warning", "critical"):
            when = f" (breach {b['breach_date']})" if b["breach_date"] else ""
            approved = b["exception"]
            note = f"; exception approved by {approved['approved_by']}" if approved else ""
            actions.append(
                f"budget {b['scope']} {b['name']}: {b['pct']}% used, forecast "
                f"{b['forecast']} of {b['budget']} {b['currency']}{when} — review with the "
                f"owner{note}"
            )
    for a in report["anomalies"] or ():
        who = a["contributors"][0]["resource"] if a["contributors"] else "unknown resource"
        actions.append(
            f"anomaly {'/'.join(a['series'])} on {a['at']}: +{a['delta']:.2f} over expected, "
            f"top contributor {who} — investigate (runaway job, oversized cluster)"
        )
    if report["untagged"]["top"]:
        actions.append(
            f"untagged spend {report['untagged']['total']} ({report['untagged']['pct']}%)"
            " — add cost_center, project and owner tags (SOP 1.9.1)"
        )
    for r in report["recommendations"] or ():
        actions.append(f"{r['resource']}: {r['action']} (saves ~{r['monthly_savings_usd']}/month)")
    return actions
