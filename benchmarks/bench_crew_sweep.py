"""Crew sweep at 1,000 / 10,000 / 100,000 / 1,000,000 resources: time, peak memory, growth.

The estate is the simulator's (seed 7, scale 4), replicated with fresh ids into one Dev workspace
until it holds N resources. Each measurement is a fresh process running one plan-only sweep,
batch by batch (`list → evaluate → track → plan → record`, then resolve, notify, tickets); it
reports wall seconds, the sweep's CPU seconds (user + sys) and the load average, because the
machine is shared.

Targets (issue 15): 1,000,000 resources in < 3 min with memory flat in the number of resources
(the verdict line compares the peak at the largest size with the peak at 10,000 resources).
Each size also prints seconds per sweep step (open, list + evaluate, track, plan, findings
write, outbox, tickets) — where the time goes; `--listing` adds the Observer alone (no rules,
no ledger) at the largest size.
Run: .venv/bin/python -m benchmarks.bench_crew_sweep [--quick] [--sizes 1000,10000,...] [--listing]
     [--reuse]  (reuse the projects an earlier run built: building 1,000,000 takes minutes)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import child_main, measure, report

OUT = Path("bench-out") / "crew"
NOW = "2026-03-02T10:00:00+00:00"
WS = "malaria-dev-westafrica"
YAML = f"""version: 1
workspaces:
  - name: {WS}
    environment: dev
    region: westafrica
    workspace_id: "3900000000000001"
    owner: malaria-data@sim.ehealthafrica.example
    project: malaria
    cost_center: Health
    approval: {{status: approved, approved_by: Board, approved_on: 2025-03-12}}
rollout: {{phases: {{dev: 2}}}}
"""


def _templates() -> dict[Any, list[Any]]:
    from lakecrew.services.simulate.simulator import simulate
    from lakecrew.testing.memory_sinks import MemorySink

    sink = MemorySink()
    simulate(sink, seed=7, scale=4, as_of=date(2026, 3, 2))
    out: dict[Any, dict[str, Any]] = {}
    for by_kind in sink.objects.values():
        for kind, objs in by_kind.items():
            out.setdefault(kind, {}).update(objs)  # ids repeat across workspaces: keep one
    return {kind: list(objs.values()) for kind, objs in out.items()}


def _copy(kind: Any, obj: Any, k: int, text: str) -> Any:
    """Copy k of a template object (`text`: its JSON, decoded afresh: a deep copy at a
    fraction of `copy.deepcopy`'s cost, which made building 1,000,000 resources slow)."""
    from lakecrew.ports.workspace import ID_FIELD, ObjectKind, WorkspaceObject

    data = json.loads(text)
    if kind is ObjectKind.SECRET_ACL:
        scope, _, principal = obj.object_id.partition("/")
        return WorkspaceObject(kind, f"{scope}-r{k}/{principal}", data)
    if kind is ObjectKind.JOB:
        data["job_id"] = int(obj.object_id) + (k + 1) * 10**15
    else:
        data[ID_FIELD[kind]] = f"{obj.object_id}-r{k}"
    return WorkspaceObject(kind, str(data[ID_FIELD[kind]]), data)


def build(args: dict[str, Any]) -> dict[str, Any]:
    """A project whose one workspace holds about `n` resources."""
    from lakecrew.ports.workspace import ObjectKind
    from lakecrew.wiring.context import Context

    n, root = int(args["n"]), Path(args["project"])
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "lakecrew.yaml").write_text(YAML, encoding="utf-8")
    templates = _templates()
    texts = {id(o): json.dumps(o.data) for objs in templates.values() for o in objs}
    per_copy = sum(len(v) for k, v in templates.items() if k is not ObjectKind.SECRET_ACL)
    from lakecrew.adapters.local.workspace_store import LocalWorkspace

    ctx = Context.open(root, writable=True)
    ws = ctx.workspace(WS)
    assert isinstance(ws, LocalWorkspace)
    total, k = 0, 0
    while total < n - 1:  # the workspace itself is one resource
        take = min(per_copy, n - 1 - total)
        batch: dict[Any, list[Any]] = {}
        left = take
        for kind, objs in templates.items():
            chosen = objs if kind is ObjectKind.SECRET_ACL else objs[:left]
            if kind is not ObjectKind.SECRET_ACL:
                left -= len(chosen)
            batch[kind] = [_copy(kind, o, k, texts[id(o)]) for o in chosen]
        ws.load(batch)
        total += take
        k += 1
    ctx.close()
    return {"resources": total + 1}


class _Steps:
    """Seconds per sweep step: the time from one on_step mark to the next belongs to the first
    mark's step, summed over the batches (a batched sweep runs each step once per batch)."""

    def __init__(self, t0: float) -> None:
        self.last, self.name = t0, "open"
        self.seconds: dict[str, float] = {}

    def mark(self, step: str) -> None:
        now = time.perf_counter()
        key = STEP_NAMES.get(self.name, self.name)
        self.seconds[key] = self.seconds.get(key, 0.0) + now - self.last
        self.last, self.name = now, "batch" if step.startswith("batch ") else step

    def done(self, end: float) -> dict[str, float]:
        self.mark("end")
        return {k: round(v, 2) for k, v in self.seconds.items()}


def sweep(args: dict[str, Any]) -> dict[str, Any]:
    """One plan-only sweep of the workspace; core = observe + evaluate + plan."""
    from lakecrew.ports.clock import FixedClock
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.crew import sweep as run_sweep

    root = Path(args["project"])
    shutil.rmtree(root / ".lakecrew" / "lakehouse" / "lakecrew", ignore_errors=True)
    load0 = os.getloadavg()[0]
    cpu0 = _cpu()
    t0 = time.perf_counter()
    steps = _Steps(t0)
    ctx = Context.open(root, writable=True, clock=FixedClock(datetime.fromisoformat(NOW)))
    [result] = run_sweep(ctx, WS, apply=False, on_step=steps.mark)
    ctx.close()
    end = time.perf_counter()
    return {
        "seconds": end - t0,
        "steps": steps.done(end),
        "discovered": result.discovered,
        "evaluated": result.evaluated,
        "findings": result.finding_count,
        "cpu_s": round(_cpu() - cpu0, 2),  # user + sys of the sweep (the machine is shared)
        "load": [round(load0, 1), round(os.getloadavg()[0], 1)],  # 1-min load: start, end
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


STEP_NAMES = {  # the sweep's on_step marks → what runs between a mark and the next one
    "observe": "list + evaluate",  # the first batch (and the ledger look-ups' set-up)
    "batch": "list + evaluate",  # every later batch
    "evaluate": "track (owners, history)",
    "plan": "plan + record actions",
    "record": "write findings",
    "notify": "notify (group; outbox + delivery)",
    "tickets": "tickets",
    "resolve": "resolve unseen + verify",
    "end": "close",
}


def listing(args: dict[str, Any]) -> dict[str, Any]:
    """The Observer alone: read every resource of the workspace (no rules, no ledger)."""
    from lakecrew.ports.clock import FixedClock
    from lakecrew.wiring.context import Context

    ctx = Context.open(Path(args["project"]), clock=FixedClock(datetime.fromisoformat(NOW)))
    ws = ctx.workspace(WS)
    from lakecrew.wiring.crew import workspace_info

    t0 = time.perf_counter()
    obs = ctx.crew.deps.observer.stream(ws, workspace_info(ctx, WS))
    n = sum(1 for _ in obs.resources)
    end = time.perf_counter()
    ctx.close()
    return {"seconds": end - t0, "listed": n}


def detection() -> None:
    """Precision and recall of a full plan-only sweep against the simulator's ground truth."""
    from lakecrew.ports.clock import FixedClock
    from lakecrew.testing.crew import ground_truth, simulated_project
    from lakecrew.testing.detection import flagged_compliant, score, table
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.crew import sweep as run_sweep

    root = OUT / "detection"
    shutil.rmtree(root, ignore_errors=True)
    simulated_project(root, seed=7, scale=1)
    truth = ground_truth(root)
    ctx = Context.open(root, writable=True, clock=FixedClock(datetime.fromisoformat(truth["now"])))
    results = run_sweep(ctx, apply=False, phase=1)
    ctx.close()
    found = [
        (tf.finding.rule_id, tf.finding.resource_type, tf.finding.resource_id)
        for r in results
        for tf in r.findings
    ]
    print("\n== detection vs ground truth (simulator seed 7, scale 1)")
    print(table(score(truth, found)))
    print(f"findings on resources planted as compliant: {len(flagged_compliant(truth, found))}")


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = [1_000, 5_000] if quick else [1_000, 10_000, 100_000, 1_000_000]
    if "--sizes" in sys.argv:
        sizes = [int(x) for x in sys.argv[sys.argv.index("--sizes") + 1].split(",")]
    reuse = "--reuse" in sys.argv  # skip building a size whose project exists
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in sizes:
        project = OUT / f"n{n}"
        if reuse and (project / "lakecrew.yaml").exists():
            print(f"reusing {project} (built by an earlier run)")
        else:
            built = measure(
                "bench_crew_sweep", "build", {"n": n, "project": str(project)}, repeats=1
            )
            print(f"built {n:,} resources in {built.median_s:.1f} s (peak {built.peak:.0f} MiB)")
        rows.append(
            measure(
                "bench_crew_sweep",
                "sweep",
                {"project": str(project)},
                repeats=1 if n > 100_000 else 3,
                name=f"sweep {n:,} resources",
            )
        )
    out = report("crew sweep (plan only), one Dev workspace", rows, baseline=rows[0].name)
    per = [r.median_s / n * 1000 for r, n in zip(rows, sizes, strict=True)]
    print(
        "ms per resource: " + ", ".join(f"{n:,}: {p:.3f}" for n, p in zip(sizes, per, strict=True))
    )
    print(
        "CPU (user+sys) s of the last run, ms per resource, load average start→end: "
        + "; ".join(
            f"{n:,}: {r.cpu_s[-1]:.1f} s, {r.cpu_s[-1] / n * 1000:.3f} ms,"
            f" load {r.extra.get('load')}"
            for n, r in zip(sizes, rows, strict=True)
        )
    )
    print("seconds per step (last run of each size):")
    for n, r in zip(sizes, rows, strict=True):
        steps = r.extra.get("steps", {})
        print(f"  {n:>9,}: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    if "--listing" in sys.argv:  # the Observer alone at the largest size
        lone = measure(
            "bench_crew_sweep",
            "listing",
            {"project": str(OUT / f"n{sizes[-1]}")},
            repeats=1 if sizes[-1] >= 100_000 else 3,
        )
        print(f"listing alone at {sizes[-1]:,}: {lone.median_s:.1f} s, peak {lone.peak:.0f} MiB")
    # memory is judged against 10,000 resources (the reference) when it was run, else
    # against the smallest size; with one size there is nothing to compare (the verdict is false)
    ref = sizes.index(10_000) if 10_000 in sizes[:-1] else 0
    big, small = rows[-1], rows[ref]
    verdict = {
        f"{sizes[-1]:,}_under_3_min": big.median_s < 180,
        f"memory_flat (peak at {sizes[-1]:,} <= 1.5x peak at {sizes[ref]:,})": (
            len(rows) > 1 and big.peak <= 1.5 * small.peak
        ),
    }
    print("targets:", json.dumps(verdict))
    (OUT / "result.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    detection()  # last: children forked after it would inherit its peak RSS


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("build", "sweep", "listing"):
        child_main({"build": build, "sweep": sweep, "listing": listing})
    else:
        main()
