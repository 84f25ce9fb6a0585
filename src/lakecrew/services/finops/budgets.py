"""Budgets (SOP 1.9.4, 1.9.5, 2.1.2): budget vs actual to date, month-end forecast, thresholds.

A budget (lakecrew.yaml `budgets`) covers one workspace, project or cost center for a calendar
month (UTC). Spend of a line counts for a project / cost center by its effective tag, else by
the configured project / cost center of its workspace. The forecast is month-to-date spend plus
a daily run rate times the days left, and says its basis (`forecast_basis`): with at least
`MIN_MONTH_DAYS` complete billing days this month, their average; earlier in the month (on the
1st or 2nd no complete day may exist yet), the average of the last `RUN_RATE_DAYS` complete days
before today, reaching into the previous month, shaped by the previous month's weekday pattern
(each remaining day × that weekday's share of the previous month's average day), when the usage
given covers it. Severity: the highest threshold crossed (>= 100 % critical, >= 80 % warning,
else info); a forecast breach without a crossing is a warning; an active exception (approver,
reason, expiry, optional ceiling) downgrades an overrun to info and says who approved it.
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
MIN_MONTH_DAYS = 3
RUN_RATE_DAYS = 7


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
    forecast_basis: str = "month-to-date run rate"

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
            "forecast_basis": self.forecast_basis,
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
    lines = [ln for ln in usage.lines if ln.usage_date <= as_of]
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
    every: dict[date, Decimal] = {}
    for ln in lines:
        if scope_key(ln, budget.scope, index) == budget.name:
            every[ln.usage_date] = every.get(ln.usage_date, ZERO) + ln.cost
    daily = {d: v for d, v in every.items() if first <= d < stop}
    actual = sum(daily.values(), ZERO)
    rate, basis, shape = _run_rate(every, usage, first, as_of)
    left_days = [as_of + timedelta(days=i) for i in range(1, (stop - as_of).days)]
    forecast = actual + sum((rate * shape.get(d.weekday(), Decimal(1)) for d in left_days), ZERO)
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
        forecast_basis=basis,
    )


def _run_rate(
    every: Mapping[date, Decimal], usage: PricedUsage, first: date, as_of: date
) -> tuple[Decimal, str, dict[int, Decimal]]:
    """(daily rate, basis, weekday shape) for the forecast; see the module docstring."""
    complete = usage.completeness.is_complete
    month_days = [
        date.fromordinal(o)
        for o in range(first.toordinal(), as_of.toordinal() + 1)
        if complete(date.fromordinal(o))
    ]
    if len(month_days) >= MIN_MONTH_DAYS:
        rate = sum((every.get(d, ZERO) for d in month_days), ZERO) / len(month_days)
        return rate, f"run rate of this month's {len(month_days)} complete day(s)", {}
    earliest = min(every, default=as_of)
    back = [as_of - timedelta(days=i) for i in range(60)]
    recent = [d for d in back if d >= earliest and complete(d)][:RUN_RATE_DAYS]
    if not recent:
        return ZERO, "spend so far only (no complete billing day yet)", {}
    rate = sum((every.get(d, ZERO) for d in recent), ZERO) / len(recent)
    shape = _weekday_shape(every, first)
    basis = f"run rate of the last {len(recent)} complete day(s) ({min(recent)} to {max(recent)})"
    if shape:
        basis += ", shaped by the previous month's weekdays"
    return rate, basis, shape


def _weekday_shape(every: Mapping[date, Decimal], first: date) -> dict[int, Decimal]:
    """Weekday → that weekday's average spend / the average day, over the previous month."""
    prev_first, _ = month_bounds(first - timedelta(days=1))
    days = [prev_first + timedelta(days=i) for i in range((first - prev_first).days)]
    if not all(d in every for d in days):
        return {}  # the previous month is not (fully) in the usage given: no shape
    mean = sum((every[d] for d in days), ZERO) / len(days)
    if mean <= 0:
        return {}
    per: dict[int, list[Decimal]] = {}
    for d in days:
        per.setdefault(d.weekday(), []).append(every[d])
    return {wd: (sum(v, ZERO) / len(v)) / mean for wd, v in per.items()}


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
