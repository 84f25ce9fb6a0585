"""Cost anomalies per (workspace, project, SKU family) with contributors; duration anomalies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np

from lakecrew.core.finops import CostLine, PricedUsage, ResourceRef
from lakecrew.services.finops.allocation import Allocator
from lakecrew.services.finops.cost import completeness
from lakecrew.services.finops.detection import (
    detect_cost_anomalies,
    detect_duration_anomalies,
)

START = date(2026, 3, 2)
DAYS = 70
TAGS = {"project": "malaria", "cost_center": "cc1", "owner": "ana"}


def record(day: date, job: str, cost: float) -> CostLine:
    amount = Decimal(f"{cost:.2f}")
    return CostLine(
        usage_date=day, workspace_id="ws1", sku_name="PREMIUM_JOBS_COMPUTE", cloud="AWS",
        usage_unit="DBU", billing_origin_product="JOBS", record_type="ORIGINAL",
        quantity=amount / Decimal("0.15"), unit_price=Decimal("0.15"), cost=amount,
        basis="list", currency="USD", records=1, tags=TAGS, job_id=job,
    )  # fmt: skip


def usage(spikes: dict[int, float], as_of_day: int) -> PricedUsage:
    rng = np.random.default_rng(3)
    records = []
    for i in range(DAYS):
        day = START + timedelta(days=i)
        weekly = 0.4 if day.weekday() >= 5 else 1.0
        for job, base in (("j1", 300.0), ("j2", 120.0)):
            cost = base * weekly * (1 + rng.normal(0, 0.03))
            if job == "j2":
                cost *= spikes.get(i, 1.0)
            records.append(record(day, job, cost))
    end = START + timedelta(days=DAYS)
    as_of = datetime.combine(START + timedelta(days=as_of_day), datetime.min.time(), tzinfo=UTC)
    return PricedUsage(START, end, "list", "USD", tuple(records), (), (),
                       completeness(START, end, as_of, timedelta(hours=24)),
                       by_resource=True)  # fmt: skip


def test_cost_spike_found_with_its_top_contributor() -> None:
    found = detect_cost_anomalies(Allocator(usage({50: 6.0}, DAYS + 2)))
    assert [a.at for a in found] == [START + timedelta(days=50)]
    (a,) = found
    assert a.series == ("ws1", "malaria", "JOBS")
    assert a.delta > 25 and a.pct >= 1.0
    assert a.contributors[0].resource == "job:j2@ws1"
    assert a.contributors[0].delta > 200
    assert a.as_dict()["contributors"][0]["resource"] == "job:j2@ws1"  # type: ignore[index]


def test_contributors_from_a_breakdown_when_priced_by_day() -> None:
    by_day = usage({50: 6.0}, DAYS + 2)
    lines = tuple(replace(r, job_id=None) for r in by_day.lines)
    alloc = Allocator(replace(by_day, lines=lines, by_resource=False))
    asked = []

    def breakdown(key: tuple[str, str, str], day: date) -> dict[str, dict[date, float]]:
        asked.append((key, day))
        return {"job:j2@ws1": {day: 700.0, day - timedelta(weeks=1): 120.0}}

    (a,) = detect_cost_anomalies(alloc, breakdown=breakdown)
    assert asked == [(("ws1", "malaria", "JOBS"), START + timedelta(days=50))]
    assert a.contributors[0].resource == "job:j2@ws1" and a.contributors[0].expected == 0.0
    assert detect_cost_anomalies(alloc)[0].contributors == ()


def test_no_alert_on_the_incomplete_last_day() -> None:
    last = DAYS - 1
    complete = detect_cost_anomalies(Allocator(usage({last: 6.0}, DAYS + 2)))
    assert [a.at for a in complete] == [START + timedelta(days=last)]
    lagging = Allocator(usage({last: 6.0}, DAYS))  # as_of = day after the last: lag not over
    assert lagging.usage.completeness.incomplete_days[-1] == START + timedelta(days=last)
    assert detect_cost_anomalies(lagging) == []


def test_job_duration_anomalies_per_job() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    normal = [(t0 + timedelta(hours=8 * i), 900.0 + 7 * (i % 5)) for i in range(40)]
    slow = list(normal)
    slow[33] = (slow[33][0], 4000.0)
    runs = {ResourceRef("job", "ws1", "j1"): normal, ResourceRef("job", "ws1", "j2"): slow}
    found = detect_duration_anomalies(runs)
    assert [(a.series, a.at) for a in found] == [(("ws1", "j2"), slow[33][0])]
    assert found[0].observed == 4000.0
