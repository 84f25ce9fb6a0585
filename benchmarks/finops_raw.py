"""The weekly cost report's queries hand-written for DuckDB over the Delta tables' Parquet files.

The raw baseline of `bench_finops` for `cost_report(..., "week")`: the same queries lakecrew runs
(same SQL semantics, no translation layer, no ports), then only the Python needed for the
figures the benchmark compares:
- the list-price window overlap check over the report window;
- the priced aggregation of the whole report window (nine weeks + previous week + month):
  de-duplication, the price join, tag fallback, the data-quality counts, same grain;
- budgets: month-to-date actual per configured budget, from those grouped rows (lakecrew does
  this in Python over the same lines, no extra query);
- the five recommendation queries over the four weeks before the report end, with the same
  rules and thresholds (warehouse auto-stop, Dev/QA on-demand clusters, idle / over-provisioned
  clusters, jobs on all-purpose clusters, off-peak jobs).
Not mirrored: anomaly contributor queries (the benchmark checks lakecrew found no anomaly).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

TAGS = ("cost_center", "project", "owner", "environment")
CENT = Decimal("0.01")
OPEN = "TIMESTAMPTZ '9999-12-31 00:00:00+00'"
PRICE_ON = f"""u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
  AND u.usage_end_time >= lp.price_start_time
  AND u.usage_end_time < COALESCE(lp.price_end_time, {OPEN})"""
PRICE = 'lp.pricing.effective_list."default"'


def _mul(a: str, b: str) -> str:
    """decimal(38,18) × decimal(38,18) as Databricks returns it (decimal(38,6)), no overflow."""
    return f"CAST(CAST({a} AS DECIMAL(38,12)) * CAST({b} AS DECIMAL(38,12)) AS DECIMAL(38,6))"


PERIOD = "usage_date >= $start AND usage_date < $end"
LATEST = """{a} AS (SELECT workspace_id, {c} AS rid, tags FROM {t}
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, {c} ORDER BY change_time DESC) = 1)"""
FALLBACK = (("jt", "job_id", "jobs"), ("wt", "warehouse_id", "warehouses"),
            ("ct", "cluster_id", "clusters"))  # fmt: skip
CHECKS = {
    "duplicate_record": "d.copies > 1",
    "conflicting_duplicate": "d.copies > 1 AND d.q_lo <> d.q_hi",
    "negative_original": "u.record_type <> 'RETRACTION' AND u.usage_quantity < 0",
    "positive_retraction": "u.record_type = 'RETRACTION' AND u.usage_quantity > 0",
    "date_mismatch": "CAST(u.usage_start_time AS DATE) <> u.usage_date",
}
TABLES = {
    "usage": "billing/usage",
    "prices": "billing/list_prices",
    "jobs": "lakeflow/jobs",
    "warehouses": "compute/warehouses",
    "clusters": "compute/clusters",
    "nodes": "compute/node_timeline",
}


def _scan(name: str) -> str:
    return f"read_parquet(${name}, union_by_name = true)"


def priced_sql() -> str:
    """lakecrew's grouped pricing query (tags, data-quality counts) written for DuckDB."""
    cols = """record_id, workspace_id, sku_name, cloud, usage_unit, usage_date, usage_start_time,
      usage_end_time, record_type, billing_origin_product, usage_quantity,
      usage_metadata.job_id AS job_id, usage_metadata.warehouse_id AS warehouse_id,
      usage_metadata.cluster_id AS cluster_id, """ + ", ".join(
        f"NULLIF(custom_tags['{t}'], '') AS ut_{t}" for t in TAGS
    )
    usage = _scan("usage")
    ctes = [
        f"""dup AS (SELECT record_id, COUNT(*) AS copies, MIN(usage_quantity) AS q_lo,
  MAX(usage_quantity) AS q_hi FROM {usage} WHERE {PERIOD}
  GROUP BY record_id HAVING COUNT(*) > 1)""",
        f"""u AS (SELECT {cols} FROM {usage}
  WHERE {PERIOD} AND record_id NOT IN (SELECT record_id FROM dup)
  UNION ALL SELECT * FROM (SELECT {cols} FROM {usage}
  WHERE {PERIOD} AND record_id IN (SELECT record_id FROM dup)
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY record_id ORDER BY ingestion_date, usage_end_time, usage_quantity) = 1))""",
        f"lp AS (SELECT * FROM {_scan('prices')})",
        *(LATEST.format(a=a, c=c, t=_scan(t)) for a, c, t in FALLBACK),
    ]
    tags = [
        f"COALESCE(u.ut_{t}, "
        + ", ".join(f"NULLIF({a}.tags['{t}'], '')" for a, _, _ in FALLBACK)
        + f") AS {t}"
        for t in TAGS
    ]
    checks = [
        f"SUM(CASE WHEN {c} THEN 1 ELSE 0 END) AS {k}_n, MIN(CASE WHEN {c} THEN u.record_id END)"
        f" AS {k}_first"
        for k, c in CHECKS.items()
    ]
    joins = "".join(
        f"\nLEFT JOIN {a} ON {a}.workspace_id = u.workspace_id AND {a}.rid = u.{c}"
        for a, c, _ in FALLBACK
    )
    return f"""WITH {", ".join(ctes)}
SELECT u.usage_date, u.workspace_id, u.sku_name, u.cloud, u.usage_unit,
       u.billing_origin_product, u.record_type, lp.currency_code, {PRICE} AS unit_price,
       {", ".join(tags)}, SUM(u.usage_quantity) AS quantity, COUNT(*) AS records,
       {", ".join(checks)}
FROM u LEFT JOIN lp ON {PRICE_ON}
LEFT JOIN dup d ON d.record_id = u.record_id{joins}
GROUP BY ALL"""


PRICE_WINDOWS = f"""SELECT sku_name, cloud, usage_unit, price_start_time, price_end_time
FROM {_scan("prices")}
WHERE price_start_time < $end_ts AND (price_end_time IS NULL OR price_end_time > $start_ts)"""

_PRICED = f"""SELECT u.workspace_id, u.usage_metadata.{{c}} AS rid, u.usage_start_time,
  {_mul("u.usage_quantity", PRICE)} AS cost
FROM {_scan("usage")} u JOIN {_scan("prices")} lp ON {PRICE_ON}
WHERE u.{PERIOD} AND u.usage_metadata.{{c}} IS NOT NULL"""
_LAST = "QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, {c} ORDER BY change_time DESC) = 1"

WAREHOUSE = f"""WITH w AS (
  SELECT workspace_id, warehouse_id, warehouse_name, auto_stop_minutes, delete_time
  FROM {_scan("warehouses")} {_LAST.format(c="warehouse_id")}
), c AS ({_PRICED.format(c="warehouse_id")})
SELECT w.workspace_id, w.warehouse_id, w.warehouse_name, SUM(c.cost) AS cost,
  SUM(CASE WHEN hour(c.usage_start_time) < 6 OR dayofweek(c.usage_start_time) IN (0, 6)
      THEN c.cost ELSE 0 END) AS off_hours_cost
FROM w JOIN c ON c.workspace_id = w.workspace_id AND c.rid = w.warehouse_id
WHERE COALESCE(w.auto_stop_minutes, 0) = 0 AND w.delete_time IS NULL
GROUP BY ALL"""

ON_DEMAND = f"""WITH k AS (
  SELECT workspace_id, cluster_id, cluster_name, cluster_source, delete_time,
    COALESCE(aws_attributes.availability, azure_attributes.availability,
             gcp_attributes.availability) AS availability
  FROM {_scan("clusters")} {_LAST.format(c="cluster_id")}
), c AS ({_PRICED.format(c="cluster_id")})
SELECT k.workspace_id, k.cluster_id, k.cluster_name, SUM(c.cost) AS cost
FROM k JOIN c ON c.workspace_id = k.workspace_id AND c.rid = k.cluster_id
WHERE k.cluster_source IN ('UI', 'API') AND k.delete_time IS NULL
  AND k.availability IN ('ON_DEMAND', 'ON_DEMAND_AZURE', 'ON_DEMAND_GCP')
GROUP BY ALL"""

UTILISATION = f"""WITH n AS (
  SELECT workspace_id, cluster_id, date_trunc('hour', start_time) AS hr,
    AVG(COALESCE(cpu_user_percent, 0) + COALESCE(cpu_system_percent, 0)) AS cpu
  FROM {_scan("nodes")} WHERE start_time >= $start_ts AND start_time < $end_ts GROUP BY ALL
), c AS (
  SELECT workspace_id, rid, date_trunc('hour', usage_start_time) AS hr, SUM(cost) AS cost
  FROM ({_PRICED.format(c="cluster_id")}) p GROUP BY ALL
), k AS (SELECT workspace_id, cluster_id, cluster_name FROM {_scan("clusters")}
  {_LAST.format(c="cluster_id")})
SELECT n.workspace_id, n.cluster_id, k.cluster_name, n.hr, n.cpu, COALESCE(c.cost, 0) AS cost
FROM n LEFT JOIN c ON c.workspace_id = n.workspace_id AND c.rid = n.cluster_id AND c.hr = n.hr
LEFT JOIN k ON k.workspace_id = n.workspace_id AND k.cluster_id = n.cluster_id"""

AP_JOBS = f"""SELECT u.workspace_id, u.usage_metadata.job_id AS job_id,
  SUM({_mul("u.usage_quantity", PRICE)}) AS cost,
  SUM({_mul("u.usage_quantity", f'({PRICE} - jp.pricing.effective_list."default")')}) AS premium
FROM {_scan("usage")} u JOIN {_scan("prices")} lp ON {PRICE_ON}
JOIN {_scan("prices")} jp
  ON jp.sku_name = replace(u.sku_name, 'ALL_PURPOSE', 'JOBS') AND u.cloud = jp.cloud
 AND u.usage_unit = jp.usage_unit AND u.usage_end_time >= jp.price_start_time
 AND u.usage_end_time < COALESCE(jp.price_end_time, {OPEN})
WHERE u.{PERIOD} AND u.billing_origin_product = 'ALL_PURPOSE'
  AND u.usage_metadata.job_id IS NOT NULL
GROUP BY ALL"""

OFF_PEAK = f"""WITH j AS (
  SELECT workspace_id, job_id, name, tags FROM {_scan("jobs")} {_LAST.format(c="job_id")}
), c AS ({_PRICED.format(c="job_id")})
SELECT c.workspace_id, c.rid AS job_id, MIN(lower(j.tags['criticality'])) AS criticality,
  SUM(c.cost) AS cost,
  SUM(CASE WHEN hour(c.usage_start_time) >= 8 AND hour(c.usage_start_time) < 18
      AND dayofweek(c.usage_start_time) NOT IN (0, 6) THEN c.cost ELSE 0 END) AS peak_cost
FROM c LEFT JOIN j ON j.workspace_id = c.workspace_id AND j.job_id = c.rid
GROUP BY c.workspace_id, c.rid"""


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def check_price_windows(con: Any, files: dict[str, list[str]], first: date, stop: date) -> None:
    """Raise when two list-price windows of one SKU overlap in the window (as lakecrew does)."""
    bounds = {"start_ts": datetime.combine(first, time(), UTC),
              "end_ts": datetime.combine(stop, time(), UTC) + timedelta(days=1)}  # fmt: skip
    spans: dict[tuple[str, str, str], list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for sku, cloud, unit, s, e in con.execute(
        PRICE_WINDOWS, {"prices": files["prices"], **bounds}
    ).fetchall():
        spans[(sku, cloud, unit)].append((s, e))
    for key, found in spans.items():
        found.sort(key=lambda x: x[0])
        for (_, end_a), (start_b, _) in itertools.pairwise(found):
            if end_a is None or end_a > start_b:
                raise SystemExit(f"overlapping list price windows for {key}")


def _recommendations(
    con: Any, files: dict[str, list[str]], start: date, end: date, envs: dict[str, str]
) -> list[tuple[str, str, Decimal]]:
    """(code, resource, monthly saving in cents) per recommendation, lakecrew's rules."""
    scale = Decimal(30) / Decimal(max((end - start).days, 1))
    p = {"start": start, "end": end}
    out: list[tuple[str, str, Decimal]] = []

    def q(sql: str, extra: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        names = [n for n in TABLES if f"${n}" in sql]
        return list(con.execute(sql, {**{n: files[n] for n in names}, **p, **(extra or {})})
                    .fetchall())  # fmt: skip

    for ws, wid, _, _, off in q(WAREHOUSE):
        out.append(("warehouse.no_auto_stop", f"warehouse:{wid}@{ws}", Decimal(off) * scale))
    for ws, cid, _, cost in q(ON_DEMAND):
        if envs.get(ws) in ("dev", "qa"):
            out.append(("cluster.dev_on_demand", f"cluster:{cid}@{ws}",
                        Decimal(cost) * scale * Decimal("0.6")))  # fmt: skip
    ts = {"start_ts": datetime.combine(start, time(), UTC),
          "end_ts": datetime.combine(end, time(), UTC)}  # fmt: skip
    hours: dict[tuple[str, str], list[tuple[float, Decimal]]] = defaultdict(list)
    for ws, cid, _, _, cpu, cost in q(UTILISATION, ts):
        hours[(ws, cid)].append((float(cpu), Decimal(cost)))
    for (ws, cid), rows in hours.items():
        idle = sum((c for cpu, c in rows if cpu < 5.0), Decimal(0)) * scale
        if idle > 0:
            out.append(("cluster.idle", f"cluster:{cid}@{ws}", idle))
        busy = [(cpu, c) for cpu, c in rows if cpu >= 5.0]
        busy_cost = sum((c for _, c in busy), Decimal(0)) * scale
        ranked = sorted(cpu for cpu, _ in busy)
        p90 = ranked[min(len(ranked) - 1, math.ceil(0.9 * len(ranked)) - 1)] if busy else 0.0
        if busy and busy_cost > 0 and p90 < 30.0:
            out.append(("cluster.over_provisioned", f"cluster:{cid}@{ws}",
                        busy_cost * Decimal("0.5")))  # fmt: skip
    for ws, jid, _, premium in q(AP_JOBS):
        if Decimal(premium) > 0:
            out.append(("job.on_all_purpose", f"job:{jid}@{ws}", Decimal(premium) * scale))
    for ws, jid, crit, cost, peak in q(OFF_PEAK):
        ok = crit in ("low", "medium") or (crit is None and envs.get(ws) in ("dev", "qa"))
        if ok and cost > 0 and peak >= cost * Decimal("0.5"):
            out.append(("job.off_peak", f"job:{jid}@{ws}", Decimal(peak) * scale * Decimal("0.2")))
    return sorted((c, r, _cents(s)) for c, r, s in out)


def _budgets(rows: list[tuple[Any, ...]], project: Path, last: date) -> list[str]:
    """Month-to-date actual (cents) per configured budget, from the grouped rows."""
    import yaml

    conf = yaml.safe_load((project / "lakecrew.yaml").read_text())
    index = {w["workspace_id"]: w for w in conf["workspaces"] if w.get("workspace_id")}
    first = last.replace(day=1)
    out = []
    for b in conf.get("budgets") or []:
        actual = Decimal(0)
        for r in rows:
            if r[8] is None or not first <= r[0] <= last:
                continue
            ws, tags = index.get(r[1], {}), dict(zip(TAGS, r[9:13], strict=True))
            key = ws.get("name", "") if b["scope"] == "workspace" else (
                tags.get(b["scope"]) or ws.get(b["scope"], ""))  # fmt: skip
            if key == b["name"]:
                actual += Decimal(r[13]) * Decimal(r[8])
        out.append(str(_cents(actual)))
    return out


WEEKDAY_CODES = ("job.off_peak", "warehouse.no_auto_stop")
"""Findings that depend on `dayofweek` (lakecrew's local engine differs there, see bench)."""


def recs_summary(recs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Count per code, and the findings that do not depend on the day of the week."""
    found = sorted(recs)
    free = [f"{c} {r}" for c, r in found if c not in WEEKDAY_CODES]
    return {"recs_by_code": dict(Counter(c for c, _ in found)), "weekday_free_recs": free}


def weekly(project: Path, files: dict[str, list[str]], now: datetime) -> dict[str, Any]:
    """Run the weekly report's queries; return the figures compared with lakecrew's report."""
    import duckdb
    import yaml

    last = now.date() - timedelta(days=1)
    start, end = last - timedelta(days=6), last + timedelta(days=1)
    prev, prev_end = last - timedelta(days=13), start
    window = min(prev, last.replace(day=1), start - timedelta(days=63))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    check_price_windows(con, files, window, end)
    names = ("usage", "prices", "jobs", "warehouses", "clusters")
    rows = con.execute(
        priced_sql(), {**{n: files[n] for n in names}, "start": window, "end": end}
    ).fetchall()
    total = prev_total = Decimal(0)
    for r in rows:
        if r[8] is not None:
            cost = Decimal(r[13]) * Decimal(r[8])
            total += cost if start <= r[0] < end else 0
            prev_total += cost if prev <= r[0] < prev_end else 0
    conf = yaml.safe_load((project / "lakecrew.yaml").read_text())
    envs = {w["workspace_id"]: w["environment"] for w in conf["workspaces"]
            if w.get("workspace_id")}  # fmt: skip
    recs = _recommendations(con, files, start - timedelta(days=21), end, envs)
    return {"week_total": str(_cents(total)), "previous_total": str(_cents(prev_total)),
            "budgets": _budgets(rows, project, last),
            **recs_summary((c, r) for c, r, _ in recs),
            "savings": str(sum((s for _, _, s in recs), Decimal(0)))}  # fmt: skip
