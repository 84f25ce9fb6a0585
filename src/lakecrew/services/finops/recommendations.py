"""Optimisation recommendations with estimated monthly savings (SOP 1.9.2-1.9.3, 2.2.1 phase 3).

Each finder is one SQL query through the SqlEngine port (bounded by the number of resources),
and states the basis of its estimate; money is list price, scaled to 30 days from the window:

- `warehouse.no_auto_stop`: SQL warehouses whose latest config has auto-stop off (0 / null).
  Savings = the warehouse's spend in the hours nobody works (00:00-06:00 UTC and weekends),
  which auto-stop would not have billed for an idle warehouse.
- `cluster.dev_on_demand`: all-purpose clusters of Dev/QA workspaces on on-demand instances
  (SOP 1.9.3: spot for non-critical workloads). DBUs are the same on spot; the saving is on
  the cloud VM bill, which system.billing does not hold. Estimate = DBU spend ×
  `SPOT_VM_FACTOR` (VM cost ≈ DBU cost for general-purpose nodes, spot ≈ 60 % cheaper).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from lakecrew.core.finops import to_cents
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.finops.cost import OPEN_END

SPOT_VM_FACTOR = Decimal("0.6")
MONTH_DAYS = 30

_PRICED = f"""
SELECT u.workspace_id, u.usage_metadata.{{id_col}} AS rid, u.usage_start_time,
       u.usage_quantity * lp.pricing.effective_list.default AS cost
FROM system.billing.usage u
JOIN system.billing.list_prices lp
  ON u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
 AND u.usage_end_time >= lp.price_start_time
 AND u.usage_end_time < COALESCE(lp.price_end_time, {OPEN_END})
WHERE u.usage_date >= :start_date AND u.usage_date < :end_date
  AND u.usage_metadata.{{id_col}} IS NOT NULL"""

WAREHOUSE_SQL = f"""
WITH w AS (
  SELECT workspace_id, warehouse_id, warehouse_name, auto_stop_minutes, delete_time
  FROM system.compute.warehouses
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, warehouse_id ORDER BY change_time DESC) = 1
), c AS ({_PRICED.format(id_col="warehouse_id")})
SELECT w.workspace_id, w.warehouse_id, w.warehouse_name,
       SUM(c.cost) AS cost,
       SUM(CASE WHEN hour(c.usage_start_time) < 6 OR dayofweek(c.usage_start_time) IN (1, 7)
                THEN c.cost ELSE 0 END) AS off_hours_cost
FROM w JOIN c ON c.workspace_id = w.workspace_id AND c.rid = w.warehouse_id
WHERE COALESCE(w.auto_stop_minutes, 0) = 0 AND w.delete_time IS NULL
GROUP BY w.workspace_id, w.warehouse_id, w.warehouse_name"""

ON_DEMAND_SQL = f"""
WITH k AS (
  SELECT workspace_id, cluster_id, cluster_name, cluster_source, delete_time,
         COALESCE(aws_attributes.availability, azure_attributes.availability,
                  gcp_attributes.availability) AS availability
  FROM system.compute.clusters
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, cluster_id ORDER BY change_time DESC) = 1
), c AS ({_PRICED.format(id_col="cluster_id")})
SELECT k.workspace_id, k.cluster_id, k.cluster_name, SUM(c.cost) AS cost
FROM k JOIN c ON c.workspace_id = k.workspace_id AND c.rid = k.cluster_id
WHERE k.cluster_source IN ('UI', 'API') AND k.delete_time IS NULL
  AND k.availability IN ('ON_DEMAND', 'ON_DEMAND_AZURE', 'ON_DEMAND_GCP')
GROUP BY k.workspace_id, k.cluster_id, k.cluster_name"""


@dataclass(frozen=True)
class Recommendation:
    """One corrective action on one resource, with its estimated monthly saving."""

    code: str
    workspace_id: str
    resource: str
    name: str | None
    action: str
    monthly_cost: Decimal
    monthly_savings: Decimal
    basis: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "workspace_id": self.workspace_id,
            "resource": self.resource,
            "name": self.name,
            "action": self.action,
            "monthly_cost_usd": str(to_cents(self.monthly_cost)),
            "monthly_savings_usd": str(to_cents(self.monthly_savings)),
            "basis": self.basis,
        }


def recommendations(
    engine: SqlEngine,
    start: date,
    end: date,
    environments: Mapping[str, str],
) -> list[Recommendation]:
    """All recommendations from usage of `[start, end)`, largest saving first.

    `environments` maps workspace_id → dev / qa / prod (from the inventory).
    """
    scale = Decimal(MONTH_DAYS) / Decimal(max((end - start).days, 1))
    params = {"start_date": start, "end_date": end}
    out: list[Recommendation] = []
    for r in engine.fetch(WAREHOUSE_SQL, params).as_dicts():
        out.append(
            Recommendation(
                code="warehouse.no_auto_stop",
                workspace_id=str(r["workspace_id"]),
                resource=f"warehouse:{r['warehouse_id']}@{r['workspace_id']}",
                name=r["warehouse_name"],
                action="enable auto-stop (e.g. 10 minutes) on the SQL warehouse",
                monthly_cost=Decimal(r["cost"]) * scale,
                monthly_savings=Decimal(r["off_hours_cost"]) * scale,
                basis="spend 00:00-06:00 UTC and at weekends, list price",
            )
        )
    for r in engine.fetch(ON_DEMAND_SQL, params).as_dicts():
        if environments.get(str(r["workspace_id"])) not in ("dev", "qa"):
            continue
        cost = Decimal(r["cost"]) * scale
        out.append(
            Recommendation(
                code="cluster.dev_on_demand",
                workspace_id=str(r["workspace_id"]),
                resource=f"cluster:{r['cluster_id']}@{r['workspace_id']}",
                name=r["cluster_name"],
                action="use spot instances with fallback (SPOT_WITH_FALLBACK) for Dev/QA",
                monthly_cost=cost,
                monthly_savings=cost * SPOT_VM_FACTOR,
                basis=f"VM bill estimated as DBU spend; spot saves {SPOT_VM_FACTOR:.0%} of it",
            )
        )
    return sorted(out, key=lambda x: (-x.monthly_savings, x.resource))
