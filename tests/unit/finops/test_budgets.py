"""Budgets on hand-made lines: actual to date, forecast, breach date, thresholds, exceptions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lakecrew.core.finops import CostLine, PricedUsage
from lakecrew.services.estate.config import EstateConfig
from lakecrew.services.finops.budgets import budget_status, month_bounds
from lakecrew.services.finops.cost import completeness

WS = "1001"
NAME = "malaria-prod-westafrica"
AS_OF = date(2026, 4, 10)  # 9 complete days of April (lag 24 h at 10 Apr 00:00 + 1 day)


def config(*budgets: dict[str, Any]) -> EstateConfig:
    approval = {"status": "approved", "approved_by": "board", "approved_on": "2026-01-01"}
    ws = {"name": NAME, "environment": "prod", "region": "westafrica", "backend": "local",
          "workspace_id": WS, "owner": "ana@example.org", "project": "malaria",
          "cost_center": "Health", "approval": approval}  # fmt: skip
    return EstateConfig.model_validate({"version": 1, "workspaces": [ws], "budgets": budgets})


def usage(daily: float, *, tags: dict[str, str] | None = None) -> PricedUsage:
    first, _ = month_bounds(AS_OF)
    lines = tuple(
        CostLine(
            usage_date=first + timedelta(days=i),
            workspace_id=WS,
            sku_name="PREMIUM_JOBS_COMPUTE",
            cloud="AWS",
            usage_unit="DBU",
            billing_origin_product="JOBS",
            record_type="ORIGINAL",
            quantity=Decimal(daily) / Decimal("0.15"),
            unit_price=Decimal("0.15"),
            cost=Decimal(daily),
            basis="list",
            currency="USD",
            records=24,
            tags=tags or {},
        )
        for i in range(AS_OF.day)
    )
    end = AS_OF + timedelta(days=1)
    as_of = datetime.combine(AS_OF, datetime.min.time(), UTC) + timedelta(hours=6)
    done = completeness(first, end, as_of, timedelta(hours=24))
    return PricedUsage(first, end, "list", "USD", lines, (), (), done)


def test_under_budget_with_forecast_breach_is_a_warning_with_a_date() -> None:
    # 100/day: 1000 by 10 Apr; 9 complete days → rate 100; forecast 1000 + 20 × 100 = 3000
    cfg = config({"scope": "workspace", "name": NAME, "monthly_usd": 2500})
    (s,) = budget_status(usage(100), cfg, AS_OF)
    assert (s.actual, s.forecast, s.budget) == (Decimal(1000), Decimal(3000), Decimal(2500))
    assert s.thresholds_crossed == () and not s.breached
    assert s.severity == "warning" and s.breach_date == date(2026, 4, 25)  # 1500 left / 100
    assert s.as_dict()["pct"] == 40.0


@pytest.mark.parametrize(
    ("budget", "crossed", "severity"),
    [
        (1900, (50,), "warning"),  # 52.6 % used, and the forecast (3000) breaches
        (3500, (), "ok"),  # 28.6 %, forecast 3000 within budget
        (1200, (50, 80), "warning"),
        (900, (50, 80, 100), "critical"),
    ],
)
def test_thresholds_give_the_severity(budget: int, crossed: tuple[int, ...], severity: str) -> None:
    cfg = config({"scope": "project", "name": "malaria", "monthly_usd": budget})
    (s,) = budget_status(usage(100, tags={"project": "malaria"}), cfg, AS_OF)
    assert (s.thresholds_crossed, s.severity) == (crossed, severity)


def test_breach_date_is_the_day_spend_crossed() -> None:
    cfg = config({"scope": "cost_center", "name": "Health", "monthly_usd": 450})
    (s,) = budget_status(usage(100), cfg, AS_OF)  # no tag: the workspace's cost center
    assert s.breached and s.breach_date == date(2026, 4, 5) and s.severity == "critical"


def test_exception_with_approver_and_expiry_downgrades_an_overrun() -> None:
    exc = {"approved_by": "FinOps lead", "reason": "outbreak response", "expires": "2026-04-30"}
    cfg = config({"scope": "workspace", "name": "malaria-prod-westafrica",
                  "monthly_usd": 450, "exceptions": [exc]})  # fmt: skip
    (s,) = budget_status(usage(100), cfg, AS_OF)
    assert s.severity == "info" and s.exception is not None
    assert s.as_dict()["exception"]["approved_by"] == "FinOps lead"
    expired = {**exc, "expires": "2026-04-01"}
    capped = {**exc, "limit_usd": 800}  # 1000 spent: over the approved ceiling
    for other in (expired, capped):
        cfg = config({"scope": "workspace", "name": "malaria-prod-westafrica",
                      "monthly_usd": 450, "exceptions": [other]})  # fmt: skip
        assert budget_status(usage(100), cfg, AS_OF)[0].severity == "critical"


def _lines(first: date, days: int, cost: Any) -> tuple[CostLine, ...]:
    return tuple(
        CostLine(
            usage_date=first + timedelta(days=i),
            workspace_id=WS,
            sku_name="PREMIUM_JOBS_COMPUTE",
            cloud="AWS",
            usage_unit="DBU",
            billing_origin_product="JOBS",
            record_type="ORIGINAL",
            quantity=Decimal(1),
            unit_price=Decimal(cost(first + timedelta(days=i))),
            cost=Decimal(cost(first + timedelta(days=i))),
            basis="list",
            currency="USD",
            records=24,
            tags={},
        )
        for i in range(days)
    )


def test_forecast_works_on_the_second_day_of_a_month_from_last_month() -> None:
    """2 December, 06:00 with a 24 h billing lag: no complete December day exists; the forecast
    uses the last 7 complete November days and November's weekday shape, and says so."""
    as_of = date(2026, 12, 2)
    nov = date(2026, 11, 1)

    def cost(d: date) -> int:
        return 0 if d.weekday() >= 5 else 140  # weekends idle: 700/week = 100/day on average

    lines = _lines(nov, 32, cost)
    end = as_of + timedelta(days=1)
    seen = datetime.combine(as_of, datetime.min.time(), UTC) + timedelta(hours=6)
    done = completeness(nov, end, seen, timedelta(hours=24))
    priced = PricedUsage(nov, end, "list", "USD", lines, (), (), done)
    cfg = config({"scope": "workspace", "name": NAME, "monthly_usd": 2500})
    (s,) = budget_status(priced, cfg, as_of)
    assert s.actual == Decimal(280)  # Tue 1 + Wed 2 Dec
    assert "last 7 complete day(s)" in s.forecast_basis
    assert "previous month's weekdays" in s.forecast_basis
    # 29 days left (3..31 Dec): 21 weekdays at the weekday rate, 8 weekend days at ~0
    assert Decimal(2900) < s.forecast < Decimal(3300)
    assert s.severity == "warning"  # it can warn on the 2nd; before, the forecast was 280
    assert s.as_dict()["forecast_basis"] == s.forecast_basis
