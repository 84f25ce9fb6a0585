"""Time to a clear answer when a Databricks workspace misbehaves (issue 10, Measure).

Real databricks-sdk, real HTTP, real clock (no virtual time here), in this process:

- unreachable host: a closed loopback port (refused) and a name that does not resolve
  (`*.invalid`): time from `build_client` to the one-line `Unreachable`; with `--blackhole`
  also a listener that accepts and never answers, which waits the whole
  `connect_timeout_seconds` (30 s by default);
- one API answering 403: a phase-1 observe+evaluate+plan of a synthetic workspace (N resources,
  half clusters half jobs) whose `jobs/list` is refused, against the same sweep with jobs
  readable, as a ratio measured in the same session (medians of repeats);
- a 429 storm (`Retry-After: 1` on every clusters page) with `retry_budget_seconds=5`: time to
  the PartialListing naming the budget.

Run: .venv/bin/python -m benchmarks.bench_databricks_errors [--quick] [--blackhole]
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path("bench-out") / "databricks_errors"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_to_error(build: Callable[[], Any]) -> tuple[float, str]:
    """Seconds until `build` raises a lakecrew error, and its one line."""
    from lakecrew.core.errors import LakecrewError

    t0 = time.perf_counter()
    try:
        build()
    except LakecrewError as exc:
        return time.perf_counter() - t0, exc.one_line()
    raise SystemExit("expected an error, got none")


def unreachable(blackhole: bool) -> list[dict[str, Any]]:
    from lakecrew.adapters.databricks.client import build_client
    from lakecrew.testing.databricks_replay import TOKEN

    hosts = {
        "refused (closed port)": f"http://127.0.0.1:{_closed_port()}",
        "DNS failure (.invalid)": "https://lakecrew-nowhere.invalid",
    }
    silent = socket.socket()  # accepts connections (kernel backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    if blackhole:
        hosts["silent (accepts, never answers)"] = f"http://127.0.0.1:{silent.getsockname()[1]}"
    rows = []
    try:
        for label, host in hosts.items():
            seconds, line = time_to_error(lambda h=host: build_client(host=h, token=TOKEN))
            rows.append({"case": f"unreachable: {label}", "seconds": seconds, "line": line[:120]})
    finally:
        silent.close()
    return rows


def sweep_with_jobs(n: int, denied: bool, repeats: int) -> dict[str, Any]:
    """Median seconds of a phase-1 core sweep; jobs/list refused (403) when `denied`."""
    from benchmarks.bench_databricks_sweep import (
        mostly_compliant_cluster,
        mostly_compliant_job,
        sweep,
    )
    from lakecrew.services.crew.observer import CONF_KEYS
    from lakecrew.testing.databricks_export import rest_calls
    from lakecrew.testing.databricks_replay import DatabricksReplay, SyntheticWorkspace, error_body

    def refuse_jobs(req: Any) -> Any:
        if denied and req.path == "/api/2.2/jobs/list":
            body = json.dumps(error_body(403, "PERMISSION_DENIED", "no access")).encode()
            return 403, {}, body, "application/json"
        return None

    synth = SyntheticWorkspace(
        clusters=n // 2,
        jobs=n - n // 2,
        make_cluster=mostly_compliant_cluster,
        make_job=mostly_compliant_job,
    )
    calls = rest_calls({}, dict.fromkeys(CONF_KEYS, "true"))
    times, last = [], {}
    with DatabricksReplay(calls, handlers=[refuse_jobs, synth], keep_seen=False) as replay:
        for _ in range(repeats):
            last = sweep({"url": replay.url, "chunk": 5000})
            times.append(last["seconds"])
    return {"seconds": statistics.median(times), "discovered": last["discovered"]}


def storm() -> dict[str, Any]:
    from lakecrew.adapters.databricks.client import ClientOptions, build_client
    from lakecrew.adapters.databricks.workspace import DatabricksWorkspace
    from lakecrew.ports.workspace import ObjectKind
    from lakecrew.testing.databricks_replay import TOKEN, Call, DatabricksReplay, error_body

    call = Call(
        "GET",
        "/api/2.1/clusters/list",
        status=429,
        body=error_body(429, "REQUEST_LIMIT_EXCEEDED", "slow down"),
        headers={"Retry-After": "1"},
    )
    opts = ClientOptions(retry_budget_seconds=5)
    with DatabricksReplay([call]) as replay:
        ws = DatabricksWorkspace(
            "x-dev-eu", build_client(host=replay.url, token=TOKEN, options=opts)
        )
        seconds, line = time_to_error(lambda: list(ws.list(ObjectKind.CLUSTER)))
    return {"case": "429 storm, retry budget 5 s", "seconds": seconds, "line": line[:120]}


def main() -> None:
    quick = "--quick" in sys.argv
    n, repeats = (1_000, 1) if quick else (4_000, 3)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = unreachable("--blackhole" in sys.argv)
    rows.append(storm())
    base = sweep_with_jobs(n, denied=False, repeats=repeats)
    denied = sweep_with_jobs(n, denied=True, repeats=repeats)
    rows.append({"case": f"sweep {n:,} resources, all APIs answer", **base})
    rows.append({"case": f"sweep {n:,} resources, jobs/list 403 (jobs unseen)", **denied,
                 "ratio_vs_all_answer": denied["seconds"] / base["seconds"]})  # fmt: skip
    for row in rows:
        extra = f"  ratio {row['ratio_vs_all_answer']:.2f}" if "ratio_vs_all_answer" in row else ""
        print(f"{row['case']:<55} {row['seconds']:8.2f} s{extra}")
    (OUT / "result.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
