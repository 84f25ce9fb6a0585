"""FinOps on a workspace: the weekly cost report over ~1M billing rows, local vs warehouse path.

A simulated project (`simulate_project`, seed 7, `--scale`; 16 ≈ 1.02M rows of
`system.billing.usage`) is built once. Two ways of producing `cost_report(..., "week")` (budgets,
movers, anomalies, untagged spend, recommendations) are timed, each in a fresh child process:

- `local`: the project's LocalSqlEngine reads the Delta tables (what `--source local` does);
- `warehouse`: the real databricks-sdk over real HTTP to the replay server, whose warehouse is
  `lakecrew.testing.duck_warehouse` answering the Statement Execution API from the same
  project's engine, through `ListPriceFallback` as `Context.billing_sql` builds it (what a
  `backend: databricks` workspace with a `warehouse_id` does). Its time includes the server's
  own work (the same DuckDB queries), which a real warehouse does on its side, plus the JSON
  rendering of every result row.

Both must give the same figures (week and previous totals, budget actuals, recommendations).
Statements are counted on the server: a fixed number per report, independent of the row
count. Peak RSS is the child's (client side only; the server runs in this process).

Run: .venv/bin/python -m benchmarks.bench_databricks_billing [--scale N] [--repeats R] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.bench_finops import build_project  # the same simulated seed-7 project
from benchmarks.harness import Measurement, child_main, measure, report

OUT = Path("bench-out") / "databricks_billing"
WAREHOUSE = "wh00billing00001"


def _now(project: Path) -> datetime:
    truth = json.loads((project / ".lakecrew" / "simulation" / "ground_truth.json").read_text())
    return datetime.fromisoformat(truth["now"])


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "week_total": data["total"],
        "previous_total": data["previous_total"],
        "budgets": [b["actual"] for b in data["budgets"]],
        "recommendations": sorted((r["code"], r["resource"]) for r in data["recommendations"]),
        "anomalies": len(data["anomalies"]),
    }


def local(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.services.finops.reports import cost_report
    from lakecrew.wiring.context import Context

    project = Path(args["project"])
    ctx = Context.open(project)
    t0 = time.perf_counter()
    data = cost_report(ctx.sql, ctx.config, "week", _now(project))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, **_figures(data)}


def warehouse(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.adapters.databricks.client import build_client
    from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
    from lakecrew.services.estate.config import load_estate
    from lakecrew.services.finops.prices import ListPriceFallback
    from lakecrew.services.finops.reports import cost_report
    from lakecrew.testing.databricks_replay import TOKEN

    project = Path(args["project"])
    config = load_estate(project / "lakecrew.yaml", require_approved=False)
    client = build_client(host=args["url"], token=TOKEN)
    engine = ListPriceFallback(DatabricksSqlEngine(client, args.get("warehouse", WAREHOUSE)))
    t0 = time.perf_counter()
    data = cost_report(engine, config, "week", _now(project))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, **_figures(data)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args()
    scale, repeats = (2, 1) if opts.quick else (opts.scale, opts.repeats)
    from lakecrew.testing.databricks_replay import DatabricksReplay
    from lakecrew.testing.duck_warehouse import DuckWarehouse

    project = (OUT / f"project-{scale}").resolve()
    built = measure("bench_databricks_billing", "build",
                    {"project": str(project), "scale": scale}, repeats=1, name="build")  # fmt: skip
    rows: list[Measurement] = [
        measure(
            "bench_databricks_billing",
            "local",
            {"project": str(project)},
            repeats=repeats,
            name=f"cost report, local engine (scale {scale})",
        )
    ]
    with DuckWarehouse(project, WAREHOUSE) as wh, DatabricksReplay(handlers=[wh]) as replay:
        rows.append(
            measure(
                "bench_databricks_billing",
                "warehouse",
                {"project": str(project), "url": replay.url},
                repeats=repeats,
                name=f"cost report, databricks-sdk + warehouse (scale {scale})",
            )
        )
        statements = len(replay.requests_to("POST", "/api/2.0/sql/statements"))
    rows[1].extra["statements_per_run"] = statements / repeats
    rows[0].extra["usage_rows"] = built.extra.get("usage_rows", "reused")
    a, b = ({k: v for k, v in r.extra.items() if k in _figures_keys()} for r in rows)
    if a != b:
        raise SystemExit(f"local and warehouse reports differ: {a} vs {b}")
    out = report(
        "cost report over system.billing.*: local engine vs Statement Execution API",
        rows,
        baseline=rows[0].name,
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "result.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")


def _figures_keys() -> tuple[str, ...]:
    return ("week_total", "previous_total", "budgets", "recommendations", "anomalies")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("build", "local", "warehouse"):
        child_main({"build": build_project, "local": local, "warehouse": warehouse})
    else:
        main()
