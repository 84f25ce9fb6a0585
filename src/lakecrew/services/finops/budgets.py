"""Budgets (SOP 1.9.4, 1.9.5, 2.1.2): budget vs actual to date, month-end forecast, thresholds.

A budget (lakecrew.yaml `budgets`) covers one workspace, project or cost center for a calendar
month (UTC). Spend of a line counts for a project / cost center by its effective tag, else by
the configured project / cost center of its workspace. The forecast is linear: month-to-date
spend plus the average daily spend of the month's complete days (billing lag) times the days
left. Severity: the highest threshold crossed (>= 100 % critical, >= 80 % warning, else info);
a forecast breach without a crossing is a warning; an active exception (approver, reason,
expiry, optional ceiling) downgrades an overrun to info and says who approved it.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from lakecrew.core.finops import CostLine, PricedUsage, to_cents
from lakecrew.services.estate.config import Budget, BudgetException, EstateConfig

Severity = Literal["ok", "info", "warning", "critical"]
ZERO = Decimal(0)


@dataclass(frozen=True)
class BudgetStatus:
    """One budget for one month: actual to date, forecast, thresholds crossed, severity."""

    scope: str
    name: str
    month: date
    budget: Decimal
    actual: Decimal
    forecast: Decimal
    currency: str
    thresholds_crossed: tuple[int, ...]
    breach_date: date | None
    breached: bool
    severity: Severity
    exception: BudgetException | None

    @property
    def id(self) -> str:
        return f"{self.scope}:{self.name}:{self.month:%Y-%m}"

    @property
    def pct(self) -> float:
        return float(self.actual / self.budget * 100)

    def as_dict(self) -> dict[str, Any]:
        exc = self.exception
        return {
            "id": self.id,
            "scope": self.scope,
            "name": self.name,
            "month": f"{self.month:%Y-%m}",
            "budget": str(to_cents(self.budget)),
            "actual": str(to_cents(self.actual)),
            "pct": round(self.pct, 1),
            "forecast": str(to_cents(self.forecast)),
            "currency": self.currency,
            "thresholds_crossed": list(self.thresholds_crossed),
            "breach_date": self.breach_date.isoformat() if self.breach_date else None,
            "breached": self.breached,
            "severity": self.severity,
            "exception": None
            if exc is None
            else {
                "approved_by": exc.approved_by,
                "reason": exc.reason,
                "expires": exc.expires.isoformat(),
                "limit_usd": None if exc.limit_usd is None else str(exc.limit_usd),
            },
        }


def month_bounds(day: date) -> tuple[date, date]:
    """First day of the month of `day` and first day of the next month."""
    first = day.replace(day=1)
    return first, first + timedelta(days=calendar.monthrange(day.year, day.month)[1])


def scope_key(line: CostLine, scope: str, workspaces: Mapping[str, Mapping[str, str]]) -> str:
    """The workspace name, project or cost center a line's spend counts for ('' if none)."""
    ws = workspaces.get(line.workspace_id, {})
    if scope == "workspace":
        return ws.get("name", "")
    return line.tags.get(scope) or ws.get(scope, "")


def workspace_index(config: EstateConfig) -> dict[str, dict[str, str]]:
    """workspace_id → {name, project, cost_center, environment} of the inventory."""
    return {
        ws.workspace_id: {
            "name": ws.name,
            "project": ws.project,
            "cost_center": ws.cost_center,
            "environment": ws.environment,
        }
        for ws in config.workspaces
        if ws.workspace_id
    }


def budget_status(usage: PricedUsage, config: EstateConfig, as_of: date) -> list[BudgetStatus]:
    """Status of every configured budget for the month of `as_of` (usage must cover it)."""
    first, stop = month_bounds(as_of)
    index = workspace_index(config)
    lines = [ln for ln in usage.lines if first <= ln.usage_date < stop and ln.usage_date <= as_of]
    return [
        _status(b, lines, index, usage, month=(first, stop), as_of=as_of) for b in config.budgets
    ]


def _status(
    budget: Budget,
    lines: Sequence[CostLine],
    index: Mapping[str, Mapping[str, str]],
    usage: PricedUsage,
    *,
    month: tuple[date, date],
    as_of: date,
) -> BudgetStatus:
    first, stop = month
    daily: dict[date, Decimal] = {}
    for ln in lines:
        if scope_key(ln, budget.scope, index) == budget.name:
            daily[ln.usage_date] = daily.get(ln.usage_date, ZERO) + ln.cost
    actual = sum(daily.values(), ZERO)
    complete = [d for d in daily if usage.completeness.is_complete(d)]
    complete_days = sum(1 for o in range(first.toordinal(), as_of.toordinal() + 1)
                        if usage.completeness.is_complete(date.fromordinal(o)))  # fmt: skip
    rate = sum((daily[d] for d in complete), ZERO) / complete_days if complete_days else ZERO
    left = (stop - as_of).days - 1
    forecast = actual + rate * left
    amount = budget.monthly_usd
    crossed = tuple(t for t in budget.thresholds if actual * 100 >= amount * t)
    breach = _breach_date(daily, amount, rate, as_of=as_of, stop=stop, forecast=forecast)
    exception = _active_exception(budget, actual, as_of)
    return BudgetStatus(
        scope=budget.scope,
        name=budget.name,
        month=first,
        budget=amount,
        actual=actual,
        forecast=forecast,
        currency=usage.currency,
        thresholds_crossed=crossed,
        breach_date=breach,
        breached=actual > amount,
        severity=_severity(crossed, forecast > amount, exception),
        exception=exception,
    )


def _breach_date(
    daily: Mapping[date, Decimal],
    amount: Decimal,
    rate: Decimal,
    *,
    as_of: date,
    stop: date,
    forecast: Decimal,
) -> date | None:
    """The day spend crossed the budget, else the day the forecast says it will (this month)."""
    running = ZERO
    for day in sorted(daily):
        running += daily[day]
        if running > amount:
            return day
    if forecast <= amount or rate <= 0:
        return None
    days = math.ceil((amount - running) / rate)
    expected = as_of + timedelta(days=max(days, 1))
    return expected if expected < stop else None


def _active_exception(budget: Budget, actual: Decimal, as_of: date) -> BudgetException | None:
    for exc in budget.exceptions:
        if exc.expires >= as_of and (exc.limit_usd is None or actual <= exc.limit_usd):
            return exc
    return None


def _severity(
    crossed: tuple[int, ...], forecast_breach: bool, exception: BudgetException | None
) -> Severity:
    top = max(crossed, default=0)
    if top >= 100:
        return "info" if exception is not None else "critical"
    if top >= 80 or forecast_breach:
        return "warning"
    return "info" if top else "ok"
