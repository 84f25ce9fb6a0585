"""Sweep-sized listing through the real databricks-sdk: 100,000 clusters + 100,000 jobs.

The replay server generates the synthetic workspace page by page (clusters in pages of 100,
jobs with expand_tasks in pages of 100); the adapter streams WorkspaceObjects. We report wall
time and peak Python memory (tracemalloc) of the client side, plus the process peak RSS, and
compare with materialising every object in a list first.

    .venv/bin/python -m benchmarks.bench_databricks_replay [N]
"""

from __future__ import annotations

import json
import resource
import sys
import time
import tracemalloc
from typing import Any

from lakecrew.adapters.databricks.client import build_client
from lakecrew.adapters.databricks.workspace import DatabricksWorkspace
from lakecrew.ports.workspace import ObjectKind
from lakecrew.testing.databricks_replay import TOKEN, DatabricksReplay, SyntheticWorkspace


def run(n: int, materialise: bool) -> dict[str, Any]:
    synth = SyntheticWorkspace(clusters=n, jobs=n)
    with DatabricksReplay(handlers=[synth], keep_seen=False) as replay:
        ws = DatabricksWorkspace("bench-dev-eu", build_client(host=replay.url, token=TOKEN))
        tracemalloc.start()
        start = time.perf_counter()
        counts: dict[str, int] = {}
        for kind in (ObjectKind.CLUSTER, ObjectKind.JOB):
            stream = ws.list(kind)
            objects = list(stream) if materialise else stream
            counts[kind.value] = sum(1 for _ in objects)
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        requests = replay.count
    return {
        "mode": "materialised" if materialise else "streamed",
        "objects": counts,
        "seconds": round(seconds, 2),
        "objects_per_s": round(sum(counts.values()) / seconds),
        "peak_traced_mib": round(peak / 2**20, 1),
        "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "http_requests": requests,
    }


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--quick"]
    n = int(args[0]) if args else 10_000 if "--quick" in sys.argv else 100_000
    for materialise in (False, True):
        print(json.dumps(run(n, materialise)))


if __name__ == "__main__":
    main()
