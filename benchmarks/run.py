"""`make bench`: run every benchmark in turn and keep a log in bench-out/.

Each benchmark prints ratios against baselines run in the same session (the peers named in its
issue, and the raw engine as the limit) plus peak memory, with medians of repeats. Set
LAKECREW_BENCH_QUICK=1 for a small smoke run (CI does not run benchmarks).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

QUICK = os.environ.get("LAKECREW_BENCH_QUICK") == "1"
OUT = Path("bench-out")

# (title, module, args, args when quick)
BENCHES: list[tuple[str, str, list[str], list[str]]] = [
    (
        "foundation: simulate at 10M usage rows; cost query vs raw DuckDB",
        "benchmarks.bench_foundation",
        ["--scale", "320", "--project", str(OUT / "foundation")],
        ["--scale", "2", "--repeats", "1", "--project", str(OUT / "foundation")],
    ),
    (
        "lakehouse SQL engine vs raw DuckDB on the same Delta files",
        "benchmarks.bench_lakehouse_sql",
        ["10000000"],
        ["300000"],
    ),
    (
        "policy engine: default pack over 100,000 resources",
        "benchmarks.bench_policy_engine",
        ["100000"],
        ["5000"],
    ),
]
OPTIONAL: list[tuple[str, str, list[str], list[str]]] = [
    (
        "model drift at 10M x 20 (vs scipy directly)",
        "benchmarks.bench_drift",
        ["--no-peers"],
        ["--quick", "--no-peers"],
    ),
    (
        "model registry sweep: 1,000 models x 20 versions",
        "benchmarks.bench_registry",
        [],
        ["--quick"],
    ),
    (
        "crew sweep at 1k / 10k / 100k / 1M resources",
        "benchmarks.bench_crew_sweep",
        [],
        ["--quick"],
    ),
    (
        "crew ledger write: redaction vs Delta MERGE",
        "benchmarks.bench_ledger_write",
        [],
        ["--rows", "3000"],
    ),
    ("finops allocation, weekly report, cost cube", "benchmarks.bench_finops", [], ["--quick"]),
    (
        "near-unique PII columns (tokens, phone masks) vs per-value Python",
        "benchmarks.bench_near_unique",
        [],
        ["--rows", "100000", "--repeats", "1"],
    ),
    (
        "access review: 1M audit rows, 100k grants vs hand-written DuckDB",
        "benchmarks.bench_access_review",
        [],
        ["--quick"],
    ),
    (
        "medallion pipeline at 10M rows vs Polars, DuckDB, the I/O floor",
        "benchmarks.bench_medallion",
        [],
        ["--quick"],
    ),
    (
        "databricks backend: replay-server sweep",
        "benchmarks.bench_databricks_replay",
        [],
        ["--quick"],
    ),
    (
        "databricks backend: phase-1 crew sweep via the replay server at 1k / 10k / 100k",
        "benchmarks.bench_databricks_sweep",
        [],
        ["--quick"],
    ),
    (
        "databricks backend: issue 10's estate (20k clusters+jobs, 10k tables, 1M billing rows)",
        "benchmarks.bench_databricks_full",
        [],
        ["--quick"],
    ),
    (
        "dashboard: findings page over 100,000 findings; report --html on the demo estate",
        "benchmarks.bench_web",
        [],
        ["--findings", "5000", "--requests", "20", "--repeats", "1"],
    ),
]


def main() -> int:
    OUT.mkdir(exist_ok=True)
    log = (OUT / "bench.log").open("a", encoding="utf-8")
    failed = []
    benches = list(BENCHES)
    for title, module, args, quick in OPTIONAL:
        if Path(module.replace(".", "/") + ".py").exists():
            benches.append((title, module, args, quick))
    for title, module, args, quick in benches:
        header = f"\n##### {title}  ({time.strftime('%Y-%m-%d %H:%M:%S')})"
        print(header, flush=True)
        log.write(header + "\n")
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *(quick if QUICK else args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        if proc.wait() != 0:
            failed.append(module)
    log.close()
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}")
        return 1
    print(f"\nall benchmarks done; log in {OUT / 'bench.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
