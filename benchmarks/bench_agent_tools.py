"""Tool-call overhead of the crew's agents on the local backend (issue 20; target < 1 s per call).

On the seed-7 estate (scale 1) swept in two workspaces, every evaluation question's scripted
tool sequence runs against a fresh ToolBox (cold: no cached cost report) `--repeats` times.
Reported: lakecrew time per tool call (inside the ToolBox: argument check, service, masking,
cut, record) — median, p95, max, per tool; the baseline is the reference answers computed
directly from the estate (SQL, lakecrew.yaml, the pack) in the same session, as a ratio; the
weekly cost report from raw usage vs through a run's refreshed cost cube, as a ratio; then
one `ask` end to end through smolagents against the local replay server (no model time: the
server answers at once), per tool call. Peak RSS of the process at the end.

    python -m benchmarks.bench_agent_tools [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from datetime import datetime
from pathlib import Path

from lakecrew.ports.clock import FixedClock
from lakecrew.services.assist.config import AssistantConfig
from lakecrew.services.assist.evaluation import Facts, questions
from lakecrew.testing.crew import ground_truth, simulated_project
from lakecrew.testing.openai_replay import OpenAIReplay, script
from lakecrew.wiring.assist import agent_service, assist_deps, project_toolbox
from lakecrew.wiring.context import Context
from lakecrew.wiring.crew import sweep

ROOT = Path("bench-out/agents/proj")
SWEPT = ("malaria-prod-westafrica", "lassa-prod-westafrica")


def build() -> datetime:
    if not (ROOT / "lakecrew.yaml").exists():
        simulated_project(ROOT, seed=7, scale=1)
        now = datetime.fromisoformat(ground_truth(ROOT)["now"])
        with Context.open(ROOT, writable=True, clock=FixedClock(now)) as lc:
            for ws in SWEPT:
                sweep(lc, ws, apply=False, phase=1)
    return datetime.fromisoformat(ground_truth(ROOT)["now"])


def one_pass(now: datetime) -> tuple[list[tuple[str, float]], float, float]:
    with Context.open(ROOT, writable=True, clock=FixedClock(now)) as lc:
        box = project_toolbox(lc)
        start = time.perf_counter()
        for q in questions():
            q.script(box)
        tools_s = time.perf_counter() - start
        calls = [(c.tool, c.seconds) for c in box.take_calls()]
    with Context.open(ROOT, writable=True, clock=FixedClock(now)) as lc:
        facts = Facts(lc.sql, lc.config, assist_deps(lc).pack, now)
        start = time.perf_counter()
        for q in questions():
            q.reference(facts)
        ref_s = time.perf_counter() - start
    return calls, tools_s, ref_s


def cost_paths(now: datetime, repeats: int) -> tuple[float, float]:
    """Median seconds of the agents' weekly cost report from raw usage (no cube: the path
    before the cube was read) and through a run's refreshed cube (refresh plan + read), in
    the same session; the two reports are checked equal."""
    from lakecrew.services.finops.reports import cost_report
    from lakecrew.wiring.finops import run_cube

    raw, cubed = [], []
    with Context.open(ROOT, writable=True, clock=FixedClock(now)) as lc:
        for _ in range(repeats):
            start = time.perf_counter()
            a = cost_report(lc.sql, lc.config, "week", now, detail=False)
            raw.append(time.perf_counter() - start)
            start = time.perf_counter()
            b = cost_report(lc.sql, lc.config, "week", now, cube=run_cube(lc), detail=False)
            cubed.append(time.perf_counter() - start)
            assert a == b, "the cube changed a figure"
    return statistics.median(raw), statistics.median(cubed)


def agent_pass(now: datetime) -> tuple[float, int]:
    calls = [
        ("list_findings", {"status": "open", "severity": "critical"}),
        ("cost_allocation", {"dimension": "workspace"}),
        ("run_sql", {"query": "SELECT count(*) AS n FROM system.compute.clusters"}),
    ]
    with (
        OpenAIReplay(script(calls, "done")) as server,
        Context.open(ROOT, writable=True, clock=FixedClock(now)) as lc,
    ):
        cfg = {"model": {"type": "openai", "model_id": "replay", "api_base": server.url + "/v1"}}
        lc.config = lc.config.model_copy(update={"assistant": AssistantConfig.model_validate(cfg)})
        svc = agent_service(lc)
        start = time.perf_counter()
        run = svc.ask("bench")
        return time.perf_counter() - start, len(run.calls)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    now = build()
    per_call: list[float] = []
    by_tool: dict[str, list[float]] = {}
    tools_runs, ref_runs = [], []
    calls_in_order: list[tuple[str, float]] = []
    for _ in range(repeats):
        calls, tools_s, ref_s = one_pass(now)
        calls_in_order += calls
        tools_runs.append(tools_s)
        ref_runs.append(ref_s)
        for tool, s in calls:
            per_call.append(s)
            by_tool.setdefault(tool, []).append(s)
    per_call.sort()
    n_q = len(questions())
    print(f"questions: {n_q}, tool calls per pass: {len(per_call) // repeats}, repeats: {repeats}")
    print(
        f"lakecrew time per tool call: median {statistics.median(per_call) * 1000:.1f} ms, "
        f"p95 {per_call[int(0.95 * (len(per_call) - 1))] * 1000:.1f} ms, "
        f"max {per_call[-1] * 1000:.1f} ms"
    )
    for tool, times in sorted(by_tool.items(), key=lambda kv: -max(kv[1])):
        print(f"  {tool:18s} median {statistics.median(times) * 1000:8.1f} ms  max "
              f"{max(times) * 1000:8.1f} ms  ({len(times)} calls)")  # fmt: skip
    costs = [f"{s:.2f}" for tool, s in calls_in_order if tool == "cost_report"]
    print(f"  cost_report calls in order (s): {', '.join(costs)} (the first builds the cube)")
    raw, cubed = cost_paths(now, repeats)
    print(f"weekly cost report: from raw usage {raw:.2f} s, through a run's refreshed cube "
          f"{cubed:.2f} s (ratio cube/raw {cubed / raw:.2f}; same report)")  # fmt: skip
    t, r = statistics.median(tools_runs), statistics.median(ref_runs)
    print(f"all {n_q} scripted sequences: {t:.2f} s; references computed directly: {r:.2f} s; "
          f"ratio tools/direct {t / r:.2f}")  # fmt: skip
    agent = [agent_pass(now) for _ in range(repeats)]
    secs = statistics.median(a[0] for a in agent)
    print(f"smolagents ask, 3 tool calls + answer over the replay server: {secs:.2f} s "
          f"({secs / agent[0][1]:.2f} s per tool call, model time ~0)")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
