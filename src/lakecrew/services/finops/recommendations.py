"""Optimisation recommendations with estimated monthly savings (SOP 1.9.2-1.9.3, 2.2.1 phase 3).

Each finder is one SQL query through the SqlEngine port (bounded by the number of resources),
and states the basis of its estimate; money is list price (summed quantity × price per
resource and price, as in the cost model), scaled to 30 days from the window. The finders read
raw usage, or the cost cube's resource companion when it is fresh (cube_resources.py):

- `warehouse.no_auto_stop`: SQL warehouses whose latest config has auto-stop off (0 / null).
  Savings = the warehouse's spend in the hours nobody works (00:00-06:00 UTC and weekends),
  which auto-stop would not have billed for an idle warehouse.
- `cluster.dev_on_demand`: all-purpose clusters of Dev/QA workspaces on on-demand instances
  (SOP 1.9.3: spot for non-critical workloads). DBUs are the same on spot; the saving is on
  the cloud VM bill, which system.billing does not hold. Estimate = DBU spend ×
  `SPOT_VM_FACTOR` (VM cost ≈ DBU cost for general-purpose nodes, spot ≈ 60 % cheaper).
- `cluster.idle`: clusters with node_timeline rows; an hour is idle when the mean CPU
  (user + system, all nodes) is below `IDLE_CPU_PCT`. Savings = the spend in idle hours
  (auto-termination would have stopped the cluster). Needs node_timeline: none, no finding.
- `cluster.over_provisioned`: over the busy (non-idle) hours, the 90th percentile of hourly
  mean CPU is below `OVERSIZE_P90_PCT`: one size smaller (half the workers) would do.
  Savings = busy-hour spend × `DOWNSIZE_FACTOR`.
- `job.on_all_purpose`: ALL_PURPOSE usage that names a job (a task on an existing
  all-purpose cluster). Savings = DBUs × (all-purpose list price − jobs list price of the same
  tier and cloud: the SKU name with ALL_PURPOSE replaced by JOBS).
- `job.off_peak`: non-critical jobs (tag `criticality` low / medium, or no `criticality`
  tag in a Dev/QA workspace) with at least `PEAK_SHARE` of their spend in peak hours
  (weekdays 08:00-18:00 UTC). Assumption: DBU list prices have no time-of-day component, so
  the saving is on the cloud VM bill (spot capacity is cheaper and more available off-peak):
  estimate = peak-hour DBU spend × `OFF_PEAK_FACTOR` (VM bill ≈ DBU spend, as above).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lakecrew.core.finops import to_cents
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.finops.cost import OPEN_END

if TYPE_CHECKING:
    from lakecrew.services.finops.cube import CostCube

SPOT_VM_FACTOR = Decimal("0.6")
MONTH_DAYS = 30
IDLE_CPU_PCT = 5.0
OVERSIZE_P90_PCT = 30.0
DOWNSIZE_FACTOR = Decimal("0.5")
PEAK_SHARE = Decimal("0.5")
OFF_PEAK_FACTOR = Decimal("0.2")

_PRICED = f"""
SELECT u.workspace_id, u.usage_metadata.{{id_col}} AS rid,
       date_trunc('HOUR', u.usage_start_time) AS hr,
       lp.pricing.effective_list.default AS price, u.usage_quantity AS quantity,
       CASE WHEN hour(u.usage_start_time) < 6 OR weekday(u.usage_start_time) >= 5
            THEN u.usage_quantity ELSE 0 END AS off_hours_quantity,
       CASE WHEN hour(u.usage_start_time) >= 8 AND hour(u.usage_start_time) < 18
             AND weekday(u.usage_start_time) < 5
            THEN u.usage_quantity ELSE 0 END AS peak_quantity
FROM system.billing.usage u
JOIN system.billing.list_prices lp
  ON u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
 AND u.usage_end_time >= lp.price_start_time
 AND u.usage_end_time < COALESCE(lp.price_end_time, {OPEN_END})
WHERE u.usage_date >= :start_date AND u.usage_date < :end_date
  AND u.usage_metadata.{{id_col}} IS NOT NULL"""
"""Per usage row of a resource kind: its list price, quantity and off-hours / peak parts."""


def _costs(source: str, *, hourly: bool = False) -> str:
    """Per resource (and hour): cost = summed quantity × list price, per price, then summed
    (the cost model's convention; one decimal product per group, not per usage row)."""
    hr = ", hr" if hourly else ""
    return f"""
SELECT workspace_id, rid{hr}, SUM(cost) AS cost, SUM(off_hours_cost) AS off_hours_cost,
       SUM(peak_cost) AS peak_cost
FROM (
  SELECT workspace_id, rid{hr}, SUM(quantity) * price AS cost,
         SUM(off_hours_quantity) * price AS off_hours_cost,
         SUM(peak_quantity) * price AS peak_cost
  FROM ({source}) s GROUP BY workspace_id, rid{hr}, price
) q GROUP BY workspace_id, rid{hr}"""


WAREHOUSE_SQL = """
WITH w AS (
  SELECT workspace_id, warehouse_id, warehouse_name, auto_stop_minutes, delete_time
  FROM system.compute.warehouses
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, warehouse_id ORDER BY change_time DESC) = 1
), c AS ({source})
SELECT w.workspace_id, w.warehouse_id, w.warehouse_name,
       SUM(c.cost) AS cost, SUM(c.off_hours_cost) AS off_hours_cost
FROM w JOIN c ON c.workspace_id = w.workspace_id AND c.rid = w.warehouse_id
WHERE COALESCE(w.auto_stop_minutes, 0) = 0 AND w.delete_time IS NULL
GROUP BY w.workspace_id, w.warehouse_id, w.warehouse_name"""

ON_DEMAND_SQL = """
WITH k AS (
  SELECT workspace_id, cluster_id, cluster_name, cluster_source, delete_time,
         COALESCE(aws_attributes.availability, azure_attributes.availability,
                  gcp_attributes.availability) AS availability
  FROM system.compute.clusters
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, cluster_id ORDER BY change_time DESC) = 1
), c AS ({source})
SELECT k.workspace_id, k.cluster_id, k.cluster_name, SUM(c.cost) AS cost
FROM k JOIN c ON c.workspace_id = k.workspace_id AND c.rid = k.cluster_id
WHERE k.cluster_source IN ('UI', 'API') AND k.delete_time IS NULL
  AND k.availability IN ('ON_DEMAND', 'ON_DEMAND_AZURE', 'ON_DEMAND_GCP')
GROUP BY k.workspace_id, k.cluster_id, k.cluster_name"""


UTILISATION_SQL = """
WITH n AS (
  SELECT workspace_id, cluster_id, date_trunc('HOUR', start_time) AS hr,
         AVG(COALESCE(cpu_user_percent, 0) + COALESCE(cpu_system_percent, 0)) AS cpu
  FROM system.compute.node_timeline
  WHERE start_time >= :start_ts AND start_time < :end_ts
  GROUP BY ALL
), c AS ({source}), k AS (
  SELECT workspace_id, cluster_id, cluster_name FROM system.compute.clusters
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, cluster_id ORDER BY change_time DESC) = 1
)
SELECT n.workspace_id, n.cluster_id, k.cluster_name, n.hr, n.cpu, COALESCE(c.cost, 0) AS cost
FROM n
LEFT JOIN c ON c.workspace_id = n.workspace_id AND c.rid = n.cluster_id AND c.hr = n.hr
LEFT JOIN k ON k.workspace_id = n.workspace_id AND k.cluster_id = n.cluster_id"""
"""Hourly mean CPU and spend per cluster (bounded by clusters × hours of the window)."""

AP_SOURCE = f"""
SELECT u.workspace_id, u.usage_metadata.job_id AS job_id,
       u.usage_metadata.cluster_id AS cluster_id, u.usage_quantity AS quantity,
       lp.pricing.effective_list.default AS price, jp.pricing.effective_list.default AS jobs_price
FROM system.billing.usage u
JOIN system.billing.list_prices lp
  ON u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
 AND u.usage_end_time >= lp.price_start_time
 AND u.usage_end_time < COALESCE(lp.price_end_time, {OPEN_END})
JOIN system.billing.list_prices jp
  ON jp.sku_name = replace(u.sku_name, 'ALL_PURPOSE', 'JOBS') AND u.cloud = jp.cloud
 AND u.usage_unit = jp.usage_unit AND u.usage_end_time >= jp.price_start_time
 AND u.usage_end_time < COALESCE(jp.price_end_time, {OPEN_END})
WHERE u.usage_date >= :start_date AND u.usage_date < :end_date
  AND u.billing_origin_product = 'ALL_PURPOSE' AND u.usage_metadata.job_id IS NOT NULL"""
"""ALL_PURPOSE usage naming a job, with its list price and the jobs-SKU price."""

AP_JOBS_SQL = """
WITH b AS (
  SELECT workspace_id, job_id, MIN(cluster_id) AS cluster_id, SUM(quantity) AS dbus,
         SUM(quantity) * price AS cost, SUM(quantity) * (price - jobs_price) AS premium
  FROM ({source}) a GROUP BY workspace_id, job_id, price, jobs_price
)
SELECT workspace_id, job_id, MIN(cluster_id) AS cluster_id, SUM(dbus) AS dbus,
       SUM(cost) AS cost, SUM(premium) AS premium
FROM b GROUP BY workspace_id, job_id"""

OFF_PEAK_SQL = """
WITH j AS (
  SELECT workspace_id, job_id, name, tags FROM system.lakeflow.jobs
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, job_id ORDER BY change_time DESC) = 1
), c AS ({source})
SELECT c.workspace_id, c.rid AS job_id, MIN(j.name) AS name,
       MIN(lower(j.tags['criticality'])) AS criticality, SUM(c.cost) AS cost,
       SUM(c.peak_cost) AS peak_cost
FROM c LEFT JOIN j ON j.workspace_id = c.workspace_id AND j.job_id = c.rid
GROUP BY c.workspace_id, c.rid
HAVING SUM(c.peak_cost) > 0
   AND (MIN(lower(j.tags['criticality'])) IS NULL
        OR MIN(lower(j.tags['criticality'])) IN ('low', 'medium'))"""
"""Jobs with peak-hour spend that are not tagged critical (the finder decides on the rest:
a share of peak spend, an untagged job's environment): at estate scale most jobs drop out in
SQL instead of crossing into Python."""


@dataclass(frozen=True)
class _Sources:
    """Where the finders read per-resource spend: raw usage, or the cube's companion."""

    warehouse: str
    cluster: str
    cluster_hour: str
    job: str
    ap_jobs: str

    @classmethod
    def raw(cls) -> _Sources:
        return cls(
            warehouse=_costs(_PRICED.format(id_col="warehouse_id")),
            cluster=_costs(_PRICED.format(id_col="cluster_id")),
            cluster_hour=_costs(_PRICED.format(id_col="cluster_id"), hourly=True),
            job=_costs(_PRICED.format(id_col="job_id")),
            ap_jobs=AP_JOBS_SQL.format(source=AP_SOURCE),
        )

    @classmethod
    def cube(cls) -> _Sources:
        from lakecrew.services.finops.cube_resources import AP_CUBE_SOURCE, finder_source

        return cls(
            warehouse=_costs(finder_source("warehouse")),
            cluster=_costs(finder_source("cluster")),
            cluster_hour=_costs(finder_source("cluster_hour"), hourly=True),
            job=_costs(finder_source("job")),
            ap_jobs=AP_JOBS_SQL.format(source=AP_CUBE_SOURCE),
        )


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
    evidence: str = ""

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
            "evidence": self.evidence,
        }


def recommendations(
    engine: SqlEngine,
    start: date,
    end: date,
    environments: Mapping[str, str],
    *,
    cube: CostCube | None = None,
) -> list[Recommendation]:
    """All recommendations from usage of `[start, end)`, largest saving first.

    `environments` maps workspace_id → dev / qa / prod (from the inventory). With a `cube`
    whose days of `[start, end)` are all fresh, per-resource spend is read from its resource
    companion (the same sums); otherwise from raw usage.
    """
    scale = Decimal(MONTH_DAYS) / Decimal(max((end - start).days, 1))
    params = {"start_date": start, "end_date": end}
    src = _Sources.cube() if cube is not None and cube.fresh(start, end) else _Sources.raw()
    out: list[Recommendation] = []
    for r in engine.fetch(WAREHOUSE_SQL.format(source=src.warehouse), params).as_dicts():
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
    for r in engine.fetch(ON_DEMAND_SQL.format(source=src.cluster), params).as_dicts():
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
    out += _utilisation(engine, start, end, scale, src.cluster_hour)
    out += _jobs_on_all_purpose(engine, params, scale, src.ap_jobs)
    out += _off_peak(engine, params, scale, environments, src.job)
    return sorted(out, key=lambda x: (-x.monthly_savings, x.resource))


def _p90(values: list[float]) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, math.ceil(0.9 * len(ranked)) - 1)]


def _utilisation(
    engine: SqlEngine, start: date, end: date, scale: Decimal, source: str
) -> list[Recommendation]:
    """Idle hours and over-provisioned busy hours per cluster, from node_timeline."""
    params = {"start_date": start, "end_date": end,
              "start_ts": datetime.combine(start, time(), UTC),
              "end_ts": datetime.combine(end, time(), UTC)}  # fmt: skip
    hours: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in engine.fetch(UTILISATION_SQL.format(source=source), params).as_dicts():
        hours[(str(r["workspace_id"]), str(r["cluster_id"]))].append(r)
    out = []
    for (ws, cluster), rows in sorted(hours.items()):
        idle = [r for r in rows if float(r["cpu"]) < IDLE_CPU_PCT]
        busy = [r for r in rows if float(r["cpu"]) >= IDLE_CPU_PCT]
        cost = sum((Decimal(r["cost"]) for r in rows), Decimal(0)) * scale
        name, ref = rows[0]["cluster_name"], f"cluster:{cluster}@{ws}"
        idle_cost = sum((Decimal(r["cost"]) for r in idle), Decimal(0)) * scale
        if idle_cost > 0:
            out.append(Recommendation(
                "cluster.idle", ws, ref, name,
                "lower auto-termination (e.g. 20 minutes) or stop the cluster when unused",
                cost, idle_cost, f"spend in hours with mean CPU < {IDLE_CPU_PCT:g} %, list price",
                f"{len(idle)} of {len(rows)} running hours idle",
            ))  # fmt: skip
        busy_cost = sum((Decimal(r["cost"]) for r in busy), Decimal(0)) * scale
        p90 = _p90([float(r["cpu"]) for r in busy]) if busy else 0.0
        if busy and busy_cost > 0 and p90 < OVERSIZE_P90_PCT:
            out.append(Recommendation(
                "cluster.over_provisioned", ws, ref, name,
                "downsize one step (half the workers or the next smaller node type)",
                cost, busy_cost * DOWNSIZE_FACTOR,
                f"busy-hour spend × {DOWNSIZE_FACTOR} (one size down), list price",
                f"p90 of hourly mean CPU {p90:.1f} % over {len(busy)} busy hours "
                f"(threshold {OVERSIZE_P90_PCT:g} %)",
            ))  # fmt: skip
    return out


def _jobs_on_all_purpose(
    engine: SqlEngine, params: Mapping[str, Any], scale: Decimal, sql: str
) -> list[Recommendation]:
    out = []
    for r in engine.fetch(sql, params).as_dicts():
        premium = Decimal(r["premium"]) * scale
        if premium <= 0:
            continue
        out.append(Recommendation(
            "job.on_all_purpose", str(r["workspace_id"]),
            f"job:{r['job_id']}@{r['workspace_id']}", None,
            "run the job on a job cluster (new_cluster / job_cluster_key) instead of an "
            "existing all-purpose cluster",
            Decimal(r["cost"]) * scale, premium,
            "DBUs × (all-purpose − jobs list price of the same tier and cloud)",
            f"{Decimal(r['dbus']).normalize()} DBU on all-purpose cluster {r['cluster_id']}",
        ))  # fmt: skip
    return out


def _off_peak(
    engine: SqlEngine,
    params: Mapping[str, Any],
    scale: Decimal,
    environments: Mapping[str, str],
    source: str,
) -> list[Recommendation]:
    out = []
    for r in engine.fetch(OFF_PEAK_SQL.format(source=source), params).as_dicts():
        ws, crit = str(r["workspace_id"]), r["criticality"]
        non_critical = crit in ("low", "medium") or (
            crit is None and environments.get(ws) in ("dev", "qa")
        )
        cost, peak = Decimal(r["cost"]), Decimal(r["peak_cost"])
        if not non_critical or cost <= 0 or peak < cost * PEAK_SHARE:
            continue
        out.append(Recommendation(
            "job.off_peak", ws, f"job:{r['job_id']}@{ws}", r["name"],
            "schedule the non-critical job off-peak (nights / weekends) on spot capacity",
            cost * scale, peak * scale * OFF_PEAK_FACTOR,
            f"assumption: no time-of-day DBU pricing; VM bill ≈ DBU spend, off-peak spot "
            f"saves {OFF_PEAK_FACTOR:.0%} of peak-hour spend",
            f"{peak / cost:.0%} of spend on weekdays 08:00-18:00 UTC; criticality "
            f"{crit or 'untagged'}, environment {environments.get(ws, 'unknown')}",
        ))  # fmt: skip
    return out
