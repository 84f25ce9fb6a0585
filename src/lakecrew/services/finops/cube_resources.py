"""The cost cube's resource companion: per day × workspace × resource spend, for recommendations.

`lakecrew.finops.cost_cube_resources` holds, per usage day and workspace, one row per job,
SQL warehouse and UI / API-created cluster named by that day's usage (`kind` job / warehouse /
cluster, `rid` its id; not per-run job clusters, which no finder reads) and, for clusters
that appear in `system.compute.node_timeline`, one row per hour of usage (`kind`
cluster_hour, `hr` the hour of usage_start_time). Measures, summed over the
usage rows as the recommendation finders read them (list price valid at usage_end_time, an
inner join: unpriced usage is left out; no de-duplication — the finders never had it):

- `quantity`; `off_hours_quantity` (00:00-06:00 UTC and weekends, for warehouse auto-stop);
  `peak_quantity` (weekdays 08:00-18:00 UTC, for off-peak jobs);
- `ap_records`, `ap_quantity`, `ap_cluster` (MIN cluster id): the ALL_PURPOSE rows of a job
  that have a jobs-SKU list price (jobs on all-purpose clusters).

Quantities, not costs: the list price (and the jobs-SKU price) is part of the grain, and money
is summed quantity × price per resource and price, the cost model's convention (one product
per group instead of one per usage row: the per-row decimal products were most of the
finders' time). The raw finders compute the same way, so both give identical figures.

It is computed by ONE grouped query (GROUPING SETS) over the usage rows of the days the cube
recomputes, maintained on the same `CostCube.refresh` (same stale days; a cluster that starts
or stops appearing in node_timeline, or as a UI / API cluster in system.compute.clusters,
makes the days of its usage stale: the snapshot `cost_cube_watch` of `WATCH_SQL`). Readers sum the
per-day rows over their window (`finder_source`), which gives the same sums as the finders'
queries over raw usage.
"""

from __future__ import annotations

from lakecrew.services.finops.cost import OPEN_END

RESOURCES = "lakecrew.finops.cost_cube_resources"
WATCH_SQL = """
SELECT DISTINCT 'hours' AS watch, CAST(workspace_id AS STRING) AS workspace_id,
       CAST(cluster_id AS STRING) AS cluster_id
FROM system.compute.node_timeline
UNION ALL
SELECT DISTINCT 'spend' AS watch, CAST(workspace_id AS STRING) AS workspace_id,
       CAST(cluster_id AS STRING) AS cluster_id
FROM system.compute.clusters WHERE cluster_source IN ('UI', 'API')"""
"""The clusters the companion keeps: hours of those with node_timeline rows (`hours`), spend
of those created from the UI or the API (`spend`: the on-demand finder's only candidates; a
cluster's source never changes). Per-run job clusters — most cluster ids of a big estate —
are in neither, so the companion does not carry a row per job run."""

# weekends as weekday() >= 5 (0 = Monday), not dayofweek() IN (1, 7): the same days on
# Databricks, and locally DuckDB's isodow of the timestamp instead of a time-zone-aware cast of
# every row to DATE first (3.6 s → 0.5 s of CPU per 20M rows)
_OFF_HOURS = "hour(u.usage_start_time) < 6 OR weekday(u.usage_start_time) >= 5"
_PEAK = (
    "hour(u.usage_start_time) >= 8 AND hour(u.usage_start_time) < 18 "
    "AND weekday(u.usage_start_time) < 5"
)


def companion_sql(where: str = "") -> str:
    """The companion's rows for usage days `[:start_date, :end_date)` (+ `where` on usage)."""
    return f"""
WITH w AS ({WATCH_SQL}),
p AS (
  SELECT u.usage_date, u.workspace_id, u.usage_metadata.job_id AS job_id,
         u.usage_metadata.warehouse_id AS warehouse_id,
         u.usage_metadata.cluster_id AS cluster_id,
         CASE WHEN wh.cluster_id IS NOT NULL THEN u.usage_metadata.cluster_id END AS hour_cluster,
         CASE WHEN wh.cluster_id IS NOT NULL THEN date_trunc('HOUR', u.usage_start_time) END AS hr,
         CASE WHEN ws.cluster_id IS NOT NULL THEN u.usage_metadata.cluster_id END AS spend_cluster,
         u.usage_quantity AS quantity,
         lp.pricing.effective_list.default AS price,
         jp.pricing.effective_list.default AS jobs_price,
         CASE WHEN {_OFF_HOURS} THEN 1 ELSE 0 END AS off_hours,
         CASE WHEN {_PEAK} THEN 1 ELSE 0 END AS peak,
         CASE WHEN u.billing_origin_product = 'ALL_PURPOSE' AND jp.sku_name IS NOT NULL
              THEN 1 ELSE 0 END AS ap
  FROM system.billing.usage u
  JOIN system.billing.list_prices lp
    ON u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
   AND u.usage_end_time >= lp.price_start_time
   AND u.usage_end_time < COALESCE(lp.price_end_time, {OPEN_END})
  LEFT JOIN system.billing.list_prices jp
    ON jp.sku_name = replace(u.sku_name, 'ALL_PURPOSE', 'JOBS') AND u.cloud = jp.cloud
   AND u.usage_unit = jp.usage_unit AND u.usage_end_time >= jp.price_start_time
   AND u.usage_end_time < COALESCE(jp.price_end_time, {OPEN_END})
  LEFT JOIN w wh ON wh.watch = 'hours' AND wh.workspace_id = u.workspace_id
   AND wh.cluster_id = u.usage_metadata.cluster_id
  LEFT JOIN w ws ON ws.watch = 'spend' AND ws.workspace_id = u.workspace_id
   AND ws.cluster_id = u.usage_metadata.cluster_id
  WHERE u.usage_date >= :start_date AND u.usage_date < :end_date{where}
), g AS (
  SELECT usage_date, workspace_id,
         CASE WHEN grouping(job_id) = 0 THEN 'job'
              WHEN grouping(warehouse_id) = 0 THEN 'warehouse'
              WHEN grouping(hr) = 0 THEN 'cluster_hour' ELSE 'cluster' END AS kind,
         COALESCE(job_id, warehouse_id, spend_cluster, hour_cluster) AS rid, hr, price,
         jobs_price,
         SUM(quantity) AS quantity,
         SUM(CASE WHEN off_hours = 1 THEN quantity ELSE 0 END) AS off_hours_quantity,
         SUM(CASE WHEN peak = 1 THEN quantity ELSE 0 END) AS peak_quantity,
         SUM(ap) AS ap_records,
         SUM(CASE WHEN ap = 1 THEN quantity ELSE 0 END) AS ap_quantity,
         MIN(CASE WHEN ap = 1 THEN cluster_id END) AS ap_cluster
  FROM p
  GROUP BY GROUPING SETS ((usage_date, workspace_id, job_id, price, jobs_price),
                          (usage_date, workspace_id, warehouse_id, price),
                          (usage_date, workspace_id, spend_cluster, price),
                          (usage_date, workspace_id, hour_cluster, hr, price))
)
SELECT * FROM g WHERE rid IS NOT NULL AND NOT (kind = 'cluster_hour' AND hr IS NULL)"""


def finder_source(kind: str) -> str:
    """A finder's rows from the companion over `[:start_date, :end_date)`: the columns of
    `recommendations._PRICED` (workspace_id, rid, hr, price, quantity, off_hours_quantity,
    peak_quantity)."""
    return f"""
SELECT workspace_id, rid, hr, price, quantity, off_hours_quantity, peak_quantity
FROM {RESOURCES}
WHERE kind = '{kind}' AND usage_date >= :start_date AND usage_date < :end_date"""


AP_CUBE_SOURCE = f"""
SELECT workspace_id, rid AS job_id, ap_cluster AS cluster_id, ap_quantity AS quantity, price,
       jobs_price
FROM {RESOURCES}
WHERE kind = 'job' AND ap_records > 0
  AND usage_date >= :start_date AND usage_date < :end_date"""
"""Jobs' all-purpose usage with a jobs-SKU price, from the companion (as `AP_SOURCE`)."""
