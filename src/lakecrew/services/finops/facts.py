"""Facts for the crew's Observer: budget status and cost anomalies as policy resources.

`finops_facts` returns resources of the SOP pack's `budgets` and `usage` types (the data the
registered checks `budget_exceeded` and `detector_signal` read) plus the budget exceptions of
lakecrew.yaml as `Approval`s of kind `budget` (SOP 1.9.5), so an approved overrun is no finding.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from lakecrew.core.findings import Approval
from lakecrew.core.resources import RESOURCE_TYPES, Resource
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.estate.config import EstateConfig
from lakecrew.services.finops.allocation import AllocationConfig, Allocator
from lakecrew.services.finops.budgets import budget_status, month_bounds, workspace_index
from lakecrew.services.finops.cost import CostModel
from lakecrew.services.finops.detection import detect_cost_anomalies
from lakecrew.services.finops.reports import HISTORY_DAYS

ANOMALY_DAYS = 7  # anomalies of the last week become signals


def finops_facts(engine: SqlEngine, config: EstateConfig, as_of: datetime) -> dict[str, Any]:
    """{"budgets": [Resource], "usage": [Resource], "approvals": [Approval]} at `as_of`.

    Budget resources live in the workspace they cover (scope workspace) or in "*" (project,
    cost center); usage resources in the workspace of the anomalous series.
    """
    today = as_of.astimezone(UTC).date()
    first, _ = month_bounds(today)
    start = min(first, today - timedelta(days=HISTORY_DAYS))
    usage = CostModel(engine).priced_usage(start, today + timedelta(days=1), as_of=as_of)
    index = workspace_index(config)
    budgets, approvals = [], []
    for status in budget_status(usage, config, today):
        data = {
            **status.as_dict(),
            "budget_configuration_id": status.id,
            "display_name": f"{status.scope} {status.name}",
            "budget_usd": float(status.budget),
            "month_to_date_usd": float(status.actual),
        }
        workspace = status.name if status.scope == "workspace" else "*"
        budgets.append(RESOURCE_TYPES.get("budgets").obj.make(workspace, data))
        if status.exception is not None:
            exc = status.exception
            approvals.append(
                Approval(
                    kind="budget",
                    approved_by=exc.approved_by,
                    reason=exc.reason,
                    resource_type="budgets",
                    resource_id=status.id,
                    expires=datetime.combine(exc.expires + timedelta(days=1), time(), UTC),
                )
            )
    envs = {wid: w["environment"] for wid, w in index.items()}
    alloc = Allocator(usage, AllocationConfig(workspace_environments=envs))
    recent = today - timedelta(days=ANOMALY_DAYS)
    anomalies = [
        a for a in detect_cost_anomalies(alloc) if isinstance(a.at, date) and a.at >= recent
    ]
    signals = [_usage_resource(a.as_dict(), index) for a in anomalies]
    return {"budgets": budgets, "usage": signals, "approvals": approvals}


def _usage_resource(anomaly: dict[str, Any], index: dict[str, dict[str, str]]) -> Resource:
    ws_id, project, family = anomaly["series"]
    name = index.get(ws_id, {}).get("name", ws_id)
    data = {
        "id": f"{name}/{project}/{family}/{anomaly['at']}",
        "workspace_id": ws_id,
        "project": project,
        "sku_family": family,
        "signals": [{"code": "cost.anomaly", **anomaly}],
    }
    return RESOURCE_TYPES.get("usage").obj.make(name, data)
