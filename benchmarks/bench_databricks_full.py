"""Issue 10's whole estate in one run: clusters, jobs, tables with grants, billing rows.

One estate per size, read two ways, each in a fresh child process that does the three parts in
turn (so its peak RSS is the whole path's):

1. the phase-1 crew sweep of N/2 clusters + N/2 jobs (`bench_databricks_sweep.sweep`: one in
   20 untagged; streamed in chunks of 5,000);
2. the estate scope's `tables` resources of T tables, two direct grants each
   (`bench_databricks_estate`: tables, tags, column tags, masks, grants);
3. the weekly cost report over the simulated project's `system.billing.usage` (seed 7, scale S;
   16 ≈ 1.02M rows; `bench_databricks_billing`).

- `local`: a local workspace store (SQLite), the project's metastore, its Delta tables;
- `databricks`: the real databricks-sdk over real HTTP to one replay server answering the
  clusters/jobs pages (`SyntheticWorkspace`), the Unity Catalog listings and every statement
  (`DuckWarehouse` over the same project: information_schema and system.billing).

Each part must give the same result both ways (findings digest, resources digest, report
figures). The replay server runs in this process: its CPU while a `databricks` child runs is the
server's own time, reported apart (the issue's target: ≤ 1.5× the local path plus the server's
time). Requests are counted on the server (list pages, UC pages, statements). Two sizes (half,
full) show whether peak memory grows with the objects.

`--part-peaks` (after a full run) runs each part alone in its own child, once per path and
size, to show which part's peak memory grows with the size.

Run: .venv/bin/python -m benchmarks.bench_databricks_full [--repeats R] [--quick] [--part-peaks]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Measurement, child_main, measure, report

OUT = Path("bench-out") / "databricks_full"
WAREHOUSE = "wh00fullestate01"
PARTS = ("sweep", "tables", "cost")
SHOWN = ("findings", "tables", "week_total")  # printed beside each part's digest


def full(args: dict[str, Any]) -> dict[str, Any]:
    """The three parts in turn, over the local stores or the replay server."""
    from benchmarks import bench_databricks_billing as billing
    from benchmarks import bench_databricks_estate as estate
    from benchmarks import bench_databricks_sweep as sweep

    project, parts = args["project"], args.get("parts", PARTS)
    if args.get("url"):
        remote = {"url": args["url"], "project": project, "warehouse": WAREHOUSE}
        steps = {
            "sweep": lambda: sweep.sweep({"url": args["url"], "chunk": 5000}),
            "tables": lambda: _tables(estate.databricks, remote),
            "cost": lambda: billing.warehouse(remote),
        }
    else:
        steps = {
            "sweep": lambda: sweep.sweep({"db": args["db"], "chunk": 5000}),
            "tables": lambda: _tables(estate.local, {"project": project}),
            "cost": lambda: billing.local({"project": project}),
        }
    got = {part: steps[part]() for part in parts}
    out: dict[str, Any] = {}
    for part, result in got.items():
        out[f"{part}_s"] = round(float(result.pop("seconds")), 2)
        text = json.dumps(result, sort_keys=True, default=str)  # compared between the paths
        out[part] = {"digest": hashlib.sha256(text.encode()).hexdigest()[:12]}
        out[part].update({k: v for k, v in result.items() if k in SHOWN})
    out["seconds"] = sum(out[f"{p}_s"] for p in parts)
    return out


def _tables(step: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The estate step, its digest taken without grant expiry: the simulated project has
    temporary grants whose expiry the local metastore keeps and Unity Catalog has no field for
    (a known difference, not a read error)."""
    import benchmarks.bench_databricks_estate as estate

    digest = estate._digest

    def without_expiry(resources: list[Any]) -> str:
        for r in resources:
            for g in r.data.get("grants") or []:
                g.pop("expires_at", None)
        return digest(resources)

    estate._digest = without_expiry
    try:
        return dict(step(args))
    finally:
        estate._digest = digest


def build(args: dict[str, Any]) -> dict[str, Any]:
    """The simulated billing project (scale S) with T more tables in its metastore."""
    from benchmarks.bench_databricks_estate import register_tables
    from benchmarks.bench_finops import build_project

    project = Path(args["project"])
    built = build_project({"project": str(project), "scale": args["scale"]})
    marker = project / f"tables-{args['tables']}"
    if not marker.exists():
        register_tables(project / ".lakecrew" / "metastore.db", int(args["tables"]))
        marker.write_text("done")
    return built


def run_size(objects: int, tables: int, scale: int, repeats: int) -> list[Measurement]:
    from benchmarks.bench_databricks_sweep import (
        _local_db,
        mostly_compliant_cluster,
        mostly_compliant_job,
    )
    from lakecrew.services.crew.observer import CONF_KEYS
    from lakecrew.testing.databricks_export import rest_calls
    from lakecrew.testing.databricks_replay import DatabricksReplay, SyntheticWorkspace
    from lakecrew.testing.duck_warehouse import DuckWarehouse

    project = (OUT / f"project-{scale}").resolve()
    measure("bench_databricks_full", "build",
            {"project": str(project), "scale": scale, "tables": tables}, repeats=1)  # fmt: skip
    synth = SyntheticWorkspace(
        clusters=objects // 2,
        jobs=objects - objects // 2,
        make_cluster=mostly_compliant_cluster,
        make_job=mostly_compliant_job,
    )
    size = f"{objects:,} objects, {tables:,}+ tables, scale {scale}"
    local = measure("bench_databricks_full", "full",
                    {"project": str(project), "db": str(_local_db(objects, synth))},
                    repeats=repeats, name=f"local, {size}")  # fmt: skip
    calls = rest_calls({}, dict.fromkeys(CONF_KEYS, "true"))
    with (
        DuckWarehouse(project, WAREHOUSE) as wh,
        DatabricksReplay(calls, handlers=[synth, wh], keep_seen=True) as replay,
    ):
        cpu = time.process_time()
        remote = measure("bench_databricks_full", "full",
                         {"project": str(project), "url": replay.url},
                         repeats=repeats, name=f"databricks, {size}")  # fmt: skip
        remote.extra["server_cpu_s_per_run"] = round((time.process_time() - cpu) / repeats, 2)
        seen = replay.seen
    lists = [r for r in seen if r.path in ("/api/2.1/clusters/list", "/api/2.2/jobs/list")]
    uc = [r for r in seen if r.path.startswith("/api/2.1/unity-catalog/")]
    statements = [r for r in seen if r.path == "/api/2.0/sql/statements"]
    remote.extra["requests_per_run"] = {
        "list_pages": len(lists) / repeats,
        "uc_pages": len(uc) / repeats,
        "statements": len(statements) / repeats,
    }
    for part in PARTS:
        a, b = dict(local.extra[part]), dict(remote.extra[part])
        if a != b:
            raise SystemExit(f"{part} differs at {size}: local {a} vs databricks {b}")
    return [local, remote]


def part_peaks(objects: int, tables: int, scale: int) -> None:
    """Each part alone in its own child, once per path: which part's peak grows with size."""
    from benchmarks.bench_databricks_sweep import (
        _local_db,
        mostly_compliant_cluster,
        mostly_compliant_job,
    )
    from lakecrew.services.crew.observer import CONF_KEYS
    from lakecrew.testing.databricks_export import rest_calls
    from lakecrew.testing.databricks_replay import DatabricksReplay, SyntheticWorkspace
    from lakecrew.testing.duck_warehouse import DuckWarehouse

    project = str((OUT / f"project-{scale}").resolve())
    synth = SyntheticWorkspace(clusters=objects // 2, jobs=objects - objects // 2,
                               make_cluster=mostly_compliant_cluster,
                               make_job=mostly_compliant_job)  # fmt: skip
    db = str(_local_db(objects, synth))
    calls = rest_calls({}, dict.fromkeys(CONF_KEYS, "true"))
    with (
        DuckWarehouse(Path(project), WAREHOUSE) as wh,
        DatabricksReplay(calls, handlers=[synth, wh], keep_seen=False) as replay,
    ):
        for part in PARTS:
            for path, extra in (("local", {"db": db}), ("databricks", {"url": replay.url})):
                m = measure("bench_databricks_full", "full",
                            {"project": project, "parts": [part], **extra}, repeats=1)  # fmt: skip
                print(f"peak of {part:<6} alone, {path:<10} ({objects:,} objects, {tables:,}+ "
                      f"tables, scale {scale}): {m.peak:.0f} MiB, {m.median_s:.2f} s",
                      flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part-peaks", action="store_true", help="each part alone, once")
    opts = parser.parse_args()
    # (objects, tables, billing scale): half and full size of the estate
    sizes = [(2_000, 1_000, 2)] if opts.quick else [(10_000, 5_000, 8), (20_000, 10_000, 16)]
    repeats = 1 if opts.quick else opts.repeats
    OUT.mkdir(parents=True, exist_ok=True)
    if opts.part_peaks:  # after a full run (the projects are built)
        for objects, tables, scale in sizes:
            part_peaks(objects, tables, scale)
        return
    rows: list[Measurement] = []
    for objects, tables, scale in sizes:
        rows.extend(run_size(objects, tables, scale, repeats))
    out = report("issue 10's estate: sweep + tables + cost report, local vs databricks-sdk", rows,
                 baseline=rows[0].name)  # fmt: skip
    for local, remote in zip(rows[::2], rows[1::2], strict=True):
        server = float(remote.extra["server_cpu_s_per_run"])
        client = remote.median_s - server
        print(f"{remote.name}: {remote.median_s:.2f} s, of which server CPU {server:.2f} s → "
              f"{client:.2f} s = {client / local.median_s:.2f}x the local path "
              f"({local.median_s:.2f} s; target <= 1.5x); peak {remote.peak:.0f} MiB vs "
              f"{local.peak:.0f} MiB local")  # fmt: skip
    (OUT / "result.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("full", "build"):
        child_main({"full": full, "build": build})
    else:
        main()
