"""Cost and job-duration anomalies from allocated usage (SOP 2.2.1 phase 2, 3.1.6).

Daily cost is one series per (workspace, project, SKU family); days the billing lag has not
closed are never evaluated. Each cost anomaly names its top contributing resources: the
resources of the series whose cost that day rose most above their own same-weekday median
of the previous weeks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from statistics import median

from lakecrew.core.finops import Anomaly, Contributor, ResourceRef
from lakecrew.services.finops.allocation import Allocator, sku_family
from lakecrew.services.finops.anomaly import (
    COST_CONFIG,
    DURATION_CONFIG,
    DetectorConfig,
    detect_daily,
    detect_sequence,
)

SeriesKey = tuple[str, str, str]
CONTRIBUTOR_WEEKS = 4


Breakdown = Callable[[SeriesKey, date], Mapping[str, Mapping[date, float]]]
"""(series, day) → daily cost per resource of the series on `day` and the same weekday of the
previous CONTRIBUTOR_WEEKS weeks (see `breakdown_from`)."""


def daily_cost(alloc: Allocator) -> dict[SeriesKey, dict[date, float]]:
    """Daily cost per (workspace, project, SKU family)."""
    series: dict[SeriesKey, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for item in alloc.records:
        line = item.line
        key = (line.workspace_id, alloc.key(item, "project"), sku_family(line.sku_name))
        series[key][line.usage_date] += float(line.cost)
    return {k: dict(v) for k, v in series.items()}


def resource_parts(alloc: Allocator) -> dict[SeriesKey, dict[str, dict[date, float]]]:
    """Daily cost per resource inside each series (usage priced by resource)."""
    parts: dict[SeriesKey, dict[str, dict[date, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for item in alloc.records:
        line = item.line
        key = (line.workspace_id, alloc.key(item, "project"), sku_family(line.sku_name))
        refs = line.resources()
        name = str(refs[0]) if refs else f"sku:{line.sku_name}@{line.workspace_id}"
        parts[key][name][line.usage_date] += float(line.cost)
    return {k: {r: dict(d) for r, d in v.items()} for k, v in parts.items()}


def contributor_days(day: date) -> list[date]:
    """The anomalous day and the same weekday of the previous CONTRIBUTOR_WEEKS weeks."""
    return [day - timedelta(weeks=w) for w in range(CONTRIBUTOR_WEEKS + 1)]


def contributors(
    by_resource: Mapping[str, Mapping[date, float]], day: date, top: int = 5
) -> tuple[Contributor, ...]:
    """Resources whose cost on `day` exceeds their same-weekday median of the previous weeks."""
    found = []
    for name, values in by_resource.items():
        observed = values.get(day, 0.0)
        history = [
            values.get(day - timedelta(weeks=w), 0.0) for w in range(1, CONTRIBUTOR_WEEKS + 1)
        ]
        expected = float(median(history))
        if observed - expected > 0:
            found.append(Contributor(name, observed, expected, observed - expected))
    found.sort(key=lambda c: (-c.delta, c.resource))
    return tuple(found[:top])


def detect_cost_anomalies(
    alloc: Allocator,
    *,
    config: DetectorConfig = COST_CONFIG,
    top: int = 5,
    breakdown: Breakdown | None = None,
    since: date | None = None,
) -> list[Anomaly]:
    """Anomalies of daily cost per (workspace, project, SKU family), with contributors.

    With `since`, only days from it on are judged (the earlier ones are history).

    Contributors come from the lines when the usage is priced by resource, else from
    `breakdown` (none when neither). Days after `completeness.complete_through` (billing lag)
    are skipped, never read as drops.
    """
    series = daily_cost(alloc)
    parts = resource_parts(alloc) if alloc.usage.by_resource else {}
    done = alloc.usage.completeness
    found: list[Anomaly] = []
    for key in sorted(series):
        values = series[key]
        incomplete = [d for d in values if not done.is_complete(d)]
        for anomaly in detect_daily(
            values, key=key, incomplete=incomplete, since=since, config=config
        ):
            day = anomaly.at if isinstance(anomaly.at, date) else anomaly.at.date()
            by_resource = parts.get(key) or (breakdown(key, day) if breakdown else {})
            found.append(replace(anomaly, contributors=contributors(by_resource, day, top)))
    return sorted(found, key=lambda a: (a.at, -abs(a.delta)))


def detect_duration_anomalies(
    runs: Mapping[ResourceRef, Sequence[tuple[datetime, float]]],
    *,
    config: DetectorConfig = DURATION_CONFIG,
) -> list[Anomaly]:
    """Runs much longer than the job's robust baseline; series key (workspace_id, job_id)."""
    found: list[Anomaly] = []
    for ref in sorted(runs):
        found.extend(detect_sequence(runs[ref], key=(ref.workspace_id, ref.id), config=config))
    return sorted(found, key=lambda a: (str(a.at), a.series))
