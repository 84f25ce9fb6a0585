"""Foundation benchmark: build the simulated estate at ~10M usage rows, then the cost query.

Steps (each in its own subprocess, for honest peak memory):
- `build`: `simulate_project` at a scale giving >= 10M rows of system.billing.usage;
Query steps time the query alone (the context is opened first); peak memory is the process's.
- `cost_local`: the documented cost query (usage ⋈ list_prices on SKU, cloud, unit and price
  window, contract section 1.4) through lakecrew's LocalSqlEngine (Databricks SQL, translated);
- `cost_raw`: the same query hand-written for DuckDB over the same Parquet files (the Delta
  tables' live files), with the same decimal(38,6) product rounding Databricks applies; the
  practical limit.
Run: python -m benchmarks.bench_foundation [--scale N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import child_main, measure, report

COST_SQL = """
SELECT u.workspace_id, u.billing_origin_product,
       SUM(u.usage_quantity) AS usage_qty,
       SUM(u.usage_quantity * lp.pricing.effective_list.default) AS list_cost
FROM system.billing.usage u
LEFT JOIN system.billing.list_prices lp
  ON  u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
  AND u.usage_end_time >= lp.price_start_time
  AND (lp.price_end_time IS NULL OR u.usage_end_time < lp.price_end_time)
GROUP BY ALL
"""

RAW_SQL = """
SELECT u.workspace_id, u.billing_origin_product,
       SUM(u.usage_quantity) AS usage_qty,
       SUM(CAST(CAST(u.usage_quantity AS DECIMAL(38, 12))
                * CAST(lp.pricing.effective_list.default AS DECIMAL(38, 12)) AS DECIMAL(38, 6)))
           AS list_cost
FROM read_parquet($usage) u
LEFT JOIN read_parquet($prices) lp
  ON  u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
  AND u.usage_end_time >= lp.price_start_time
  AND (lp.price_end_time IS NULL OR u.usage_end_time < lp.price_end_time)
GROUP BY ALL
"""


def _build(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.demo.project import simulate_project

    out = simulate_project(Path(args["project"]), scale=args["scale"], seed=7)
    return {"usage_rows": out["rows"]["system.billing.usage"], "resources": out["resource_total"]}


def _cost_local(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.wiring.context import Context

    ctx = Context.open(Path(args["project"]))
    t0 = time.perf_counter()
    rows = ctx.sql.fetch(COST_SQL).rows
    seconds = time.perf_counter() - t0
    total = sum(float(r[3] or 0) for r in rows)
    return {"groups": len(rows), "total_usd": round(total, 2), "seconds": seconds}


def _cost_raw(args: dict[str, Any]) -> dict[str, Any]:
    import duckdb
    from deltalake import DeltaTable

    lake = Path(args["project"]) / ".lakecrew" / "lakehouse" / "system"
    usage = DeltaTable(str(lake / "billing" / "usage")).file_uris()
    prices = DeltaTable(str(lake / "billing" / "list_prices")).file_uris()
    con = duckdb.connect()
    t0 = time.perf_counter()
    rows = con.execute(RAW_SQL, {"usage": usage, "prices": prices}).fetchall()
    seconds = time.perf_counter() - t0
    total = sum(float(r[3] or 0) for r in rows)
    return {"groups": len(rows), "total_usd": round(total, 2), "seconds": seconds}


STEPS = {"build": _build, "cost_local": _cost_local, "cost_raw": _cost_raw}


def run(project: Path, scale: int, repeats: int) -> list[dict[str, Any]]:
    args = {"project": str(project), "scale": scale}
    build = measure("bench_foundation", "build", args, repeats=1, name=f"simulate scale={scale}")
    report("foundation: build the simulated estate", [build])
    local = measure(
        "bench_foundation", "cost_local", args, repeats=repeats, name="cost query: lakecrew"
    )
    raw = measure(
        "bench_foundation", "cost_raw", args, repeats=repeats, name="cost query: raw duckdb"
    )
    if local.extra.get("total_usd") != raw.extra.get("total_usd"):
        raise SystemExit(f"results differ: {local.extra} vs {raw.extra}")
    return [
        *report("foundation: build", [build]),
        *report("foundation: cost query (ratio vs raw DuckDB)", [raw, local], baseline=raw.name),
    ]


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        child_main(STEPS)
    else:
        parser = argparse.ArgumentParser()
        parser.add_argument("--scale", type=int, default=320)
        parser.add_argument("--repeats", type=int, default=3)
        parser.add_argument("--project", default="bench-out/foundation")
        ns = parser.parse_args()
        print(json.dumps(run(Path(ns.project), ns.scale, ns.repeats), indent=2))
