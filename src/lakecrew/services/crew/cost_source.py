"""FinOps facts for the crew (SOP 1.9.5, 2.1.2, 2.2.1, 3.1.6): budgets and cost anomalies.

Built on the FinOps service's public API (CostModel → Allocator → detect_cost_anomalies,
`contributors`); a workspace's usage is priced once per `now` for its anomalies (only that
workspace: series are per workspace), the estate's current month once for the budgets:

- `usage_resources(info)` (a per-workspace Observer source): one `usage` resource per confirmed
  cost spike, id `<workspace>/<family>/<first day>` where the family is the billing origin
  product (JOBS, SQL, ALL_PURPOSE, ...; serverless SKUs fold into their product) and a spike of
  consecutive days is one resource. It carries `signals: [{code: cost.anomaly, ...}]`, whether it
  is `ongoing` (its last day is within `ongoing_days` of the last complete billing day), and for
  an ongoing spike the workspace's `jobs` whose cost rose that day (the phase-4 pause targets);
- `budget_resources(config, scope)` (the estate pass): one `budgets` resource per lakecrew.yaml
  budget from FinOps' `budget_status` (month-to-date, forecast, thresholds crossed, exception),
  id = the workspace name for a workspace budget (else `<scope>:<name>`), with `budget_usd`,
  `month_to_date_usd`, `thresholds` — the pack's `budget.exceeded` rule grades it 50/80/100 %
  → info/warning/critical. An approved exception in lakecrew.yaml (`budgets[].exceptions`) or a
  crew exemption (`lakecrew exempt budget.exceeded <id> --approver --until`) suppresses it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from lakecrew.core.errors import DataError, NotFound
from lakecrew.core.finops import Anomaly
from lakecrew.core.resources import Resource
from lakecrew.ports.clock import Clock
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.crew.snapshot import WorkspaceInfo
from lakecrew.services.estate.config import EstateConfig
from lakecrew.services.finops.allocation import Allocator
from lakecrew.services.finops.budgets import budget_status, month_bounds
from lakecrew.services.finops.cost import CostModel
from lakecrew.services.finops.detection import (
    contributor_days,
    contributors,
    detect_cost_anomalies,
)


@dataclass(frozen=True)
class Spike:
    """Consecutive anomalous days of one workspace × product family."""

    workspace_id: str
    family: str
    days: tuple[Anomaly, ...]

    @property
    def start(self) -> date:
        return _day(self.days[0])

    @property
    def end(self) -> date:
        return _day(self.days[-1])


def _day(a: Anomaly) -> date:
    return a.at.date() if isinstance(a.at, datetime) else a.at


def product_family(finops_family: str) -> str:
    """The billing origin product of a FinOps SKU family (JOBS_SERVERLESS → JOBS)."""
    return finops_family.removesuffix("_SERVERLESS")


def spikes(anomalies: Sequence[Anomaly]) -> list[Spike]:
    """Upward anomalies grouped per (workspace, product family) into runs of consecutive days."""
    per: dict[tuple[str, str], dict[date, Anomaly]] = defaultdict(dict)
    for a in anomalies:
        if a.delta <= 0:
            continue  # a drop is not a cost spike
        key = (str(a.series[0]), product_family(str(a.series[-1])))
        day = _day(a)
        if day not in per[key] or a.delta > per[key][day].delta:
            per[key][day] = a
    out: list[Spike] = []
    for (ws, fam), by_day in per.items():
        run: list[Anomaly] = []
        for day in sorted(by_day):
            if run and (day - _day(run[-1])).days > 1:
                out.append(Spike(ws, fam, tuple(run)))
                run = []
            run.append(by_day[day])
        out.append(Spike(ws, fam, tuple(run)))
    return sorted(out, key=lambda s: (s.start, s.workspace_id, s.family))


class CostSource:
    """Budgets and cost anomalies from system.billing.usage, computed once per `now`."""

    def __init__(
        self,
        sql: SqlEngine,
        clock: Clock,
        *,
        history_days: int = 89,
        ongoing_days: int = 1,
        model: CostModel | None = None,
    ) -> None:
        self.sql = sql
        self.clock = clock
        self.history_days = history_days
        self.ongoing_days = ongoing_days
        self.model = model or CostModel(sql)
        # per workspace: (currency, spikes), read ahead by `prefetch` or by `spikes` itself
        self._spikes: dict[str, tuple[str, list[Spike]]] = {}
        self._mtd: tuple[datetime, dict[str, Decimal]] | None = None

    def spikes(self, workspace_id: str) -> tuple[str, list[Spike]]:
        """(currency, confirmed spikes) of one workspace over `history_days`: what `prefetch`
        read for it (taken once), else read now."""
        if workspace_id not in self._spikes:
            self._detect([workspace_id], self.clock.now())
        return self._spikes.pop(workspace_id)

    def prefetched(self, workspace_id: str | None) -> bool:
        """`prefetch` read this workspace's spikes and `spikes` has not taken them yet."""
        return workspace_id in self._spikes

    def prefetch(self, workspace_ids: Sequence[str]) -> None:
        """Forget earlier sweeps' spikes, then detect those of several workspaces from one
        read of their usage (a sweep of many workspaces, judged at the sweep's start); each
        series is judged on its own, so every workspace gets what `spikes` would find for it
        alone. Workspaces without usage are left to `spikes` (NotFound there), as is
        everything when the workspaces' prices mix currencies."""
        now = self.clock.now()
        self._spikes.clear()  # a new sweep: the usage may have changed since the last
        todo = list(dict.fromkeys(workspace_ids))
        if len(todo) < 2:
            return
        try:
            self._detect(todo, now)
        except (NotFound, DataError):
            return

    def _detect(self, workspace_ids: Sequence[str], now: datetime) -> None:
        start = (now - timedelta(days=self.history_days)).date()
        usage = self.model.priced_usage(
            start, now.date() + timedelta(days=1), as_of=now, workspace_ids=list(workspace_ids)
        )
        found = spikes(detect_cost_anomalies(Allocator(usage)))
        present = {line.workspace_id for line in usage.lines}
        for wid in workspace_ids:
            if wid in present or len(workspace_ids) == 1:  # else NotFound when asked alone
                mine = [s for s in found if s.workspace_id == wid]
                self._spikes[wid] = (usage.currency, mine)

    def usage_resources(self, info: WorkspaceInfo) -> list[Resource]:
        """The workspace's confirmed cost spikes as `usage` resources (Observer source)."""
        if not info.workspace_id:
            return []
        now = self.clock.now()
        currency, found = self.spikes(info.workspace_id)
        last_complete = now.date() - timedelta(days=1)
        out = []
        for s in found:
            if s.workspace_id != info.workspace_id:
                continue
            ongoing = (last_complete - s.end).days <= self.ongoing_days
            rid = f"{info.name}/{s.family}/{s.start.isoformat()}"
            data: dict[str, Any] = {
                "id": rid,
                "workspace_id": s.workspace_id,
                "sku_family": s.family,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "ongoing": ongoing,
                "signals": [_signal(s, currency)],
                "jobs": self._jobs(s) if ongoing else [],
            }
            out.append(Resource("usage", rid, info.name, data, rid))
        return out

    def _jobs(self, s: Spike) -> list[str]:
        """Jobs of the workspace whose cost on the spike's last day rose above their usual."""
        now = self.clock.now()
        days = contributor_days(s.end)
        usage = self.model.priced_usage(
            min(days),
            max(days) + timedelta(days=1),
            as_of=now,
            by_resource=True,
            days=days,
            workspace_ids=[s.workspace_id],
        )
        per_job: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
        for line in usage.lines:
            if line.job_id:
                per_job[str(line.job_id)][line.usage_date] += float(line.cost)
        return [c.resource for c in contributors(per_job, s.end, top=10)]

    def budget_resources(self, config: EstateConfig, scope: str) -> list[Resource]:
        """One `budgets` resource per lakecrew.yaml budget (FinOps `budget_status`): id = the
        workspace name for a workspace budget, else `<scope>:<name>`."""
        if not config.budgets:
            return []
        now = self.clock.now()
        first, _ = month_bounds(now.date())
        prev_first, _ = month_bounds(first - timedelta(days=1))  # run rate + shape early on
        usage = self.model.priced_usage(prev_first, now.date() + timedelta(days=1), as_of=now)
        out = []
        for st in budget_status(usage, config, now.date()):
            rid = st.name if st.scope == "workspace" else f"{st.scope}:{st.name}"
            data = {
                **st.as_dict(),
                "id": rid,
                "budget_usd": float(st.budget),
                "month_to_date_usd": float(round(st.actual, 2)),
                "thresholds": _thresholds(config, st.scope, st.name),
            }
            out.append(Resource("budgets", rid, scope, data, f"{st.scope} {st.name}"))
        return out


def _thresholds(config: EstateConfig, scope: str, name: str) -> list[int]:
    for b in config.budgets:
        if b.scope == scope and b.name == name:
            return list(b.thresholds)
    return [50, 80, 100]


def _signal(s: Spike, currency: str) -> dict[str, Any]:
    peak = max(s.days, key=lambda a: a.delta)
    return {
        "code": "cost.anomaly",
        "start": s.start.isoformat(),
        "end": s.end.isoformat(),
        "days": len(s.days),
        "peak_day": _day(peak).isoformat(),
        "observed": round(peak.observed, 2),
        "expected": round(peak.expected, 2),
        "percent_above": round(100 * peak.pct, 1),
        "currency": currency,
    }
