"""Measure a step in a fresh subprocess: wall time and that process's peak RSS.

Each measurement runs `python -m benchmarks.<module> <step> <json-args>` in its own process so
peak memory belongs to that step alone (plus any child it started and waited for, such as
Spark's JVM). The peak is the process's own high-water mark (`VmHWM` in /proc/self/status), not
`ru_maxrss`: on Linux a process started by fork/vfork + exec inherits its parent's high-water
RSS in `ru_maxrss`, so a child of a benchmark whose parent holds a replay server over a
million-row warehouse reported the parent's RSS, not its own (a 9 MiB child of a 400 MiB
parent reads 410 MiB). Repeats report the median, because the
machines here are noisy. Results are printed as a table and written as JSON for the record.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULT_MARK = "@@BENCH@@"


@dataclass
class Measurement:
    name: str
    seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    """CPU seconds (user + sys, every thread) of each run's core, when the step reports them as
    ``cpu_s``: on a machine of few cores, whether a wall time is bound by CPU."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak(self) -> float:
        return max(self.peak_mib)

    @property
    def median_cpu_s(self) -> float | None:
        return statistics.median(self.cpu_s) if self.cpu_s else None

    def absorb(self, other: Measurement) -> None:
        """Add another measurement's runs of the same step to this one."""
        self.seconds += other.seconds
        self.peak_mib += other.peak_mib
        self.cpu_s += other.cpu_s
        self.extra.update(other.extra)


def own_peak_kib() -> int:
    """This process's peak RSS in KiB: VmHWM (its own memory map, reset by exec), or
    ru_maxrss where /proc is missing (an upper bound: it may include the parent's at fork)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_main(steps: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]]) -> None:
    """Entry point inside the child: run one step, print its timing and peak memory."""
    step, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
    args = json.loads(raw)
    t0 = time.perf_counter()
    extra = steps[step](args) or {}
    # A step may time its own core (e.g. the query without interpreter start-up and imports).
    elapsed = extra.pop("seconds", time.perf_counter() - t0)
    peak_kib = own_peak_kib()
    # A step that starts a helper process (Spark's JVM) must wait for it; its peak then counts
    # too (the largest finished child, added to this process's: an upper bound of the pair).
    child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if child_kib:
        extra["child_peak_mib"] = round(child_kib / 1024)
    peak_mib = (peak_kib + child_kib) / 1024
    print(RESULT_MARK + json.dumps({"seconds": elapsed, "peak_mib": peak_mib, **extra}))


def measure(
    module: str, step: str, args: dict[str, Any], *, repeats: int = 3, name: str | None = None
) -> Measurement:
    m = Measurement(name or step)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    for _ in range(repeats):
        proc = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{module}", step, json.dumps(args)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark step {module}.{step} failed:\n{proc.stderr[-3000:]}")
        line = next(x for x in proc.stdout.splitlines() if x.startswith(RESULT_MARK))
        data = json.loads(line[len(RESULT_MARK) :])
        m.seconds.append(data.pop("seconds"))
        m.peak_mib.append(data.pop("peak_mib"))
        if "cpu_s" in data:
            m.cpu_s.append(data.pop("cpu_s"))
        m.extra.update(data)
    return m


def measure_rounds(
    module: str, steps: list[str], args: dict[str, Any], *, repeats: int, must: str
) -> tuple[list[Measurement], dict[str, str]]:
    """Each step ``repeats`` times, round by round (every step once, then again), so that the
    machine's drift and the order of the steps (a step run after another one reuses the memory
    and page cache it freed) fall on every step alike. A step other than ``must`` that fails is
    reported in the second value (its last error line), not dropped silently."""
    runs: dict[str, Measurement] = {}
    failed: dict[str, str] = {}
    for _ in range(repeats):
        for step in steps:
            if step in failed:
                continue
            try:
                one = measure(module, step, args, repeats=1, name=step)
            except RuntimeError as exc:
                if step == must:
                    raise
                failed[step] = str(exc).strip().splitlines()[-1][:200]
                runs.pop(step, None)
                continue
            runs.setdefault(step, Measurement(step)).absorb(one)
    return [runs[s] for s in steps if s in runs], failed


def report(
    title: str, rows: list[Measurement], baseline: str | None = None
) -> list[dict[str, Any]]:
    base = next((r for r in rows if r.name == baseline), None)
    print(f"\n== {title}")
    print(f"{'step':<44}{'median s':>10}{'ratio':>8}{'peak MiB':>10}{'cpu s':>8}  runs")
    out = []
    for r in rows:
        ratio = r.median_s / base.median_s if base else float("nan")
        runs = ", ".join(f"{s:.2f}" for s in r.seconds)
        cpu = r.median_cpu_s
        shown = f"{cpu:>8.2f}" if cpu is not None else f"{'':>8}"
        print(
            f"{r.name:<44}{r.median_s:>10.2f}{ratio:>8.2f}{r.peak:>10.0f}{shown}"
            f"  [{runs}] {r.extra or ''}"
        )
        out.append(
            {
                "step": r.name,
                "median_s": r.median_s,
                "ratio": ratio,
                "peak_mib": r.peak,
                "runs": r.seconds,
                **({"cpu_median_s": cpu, "cpu_runs": r.cpu_s} if cpu is not None else {}),
                **r.extra,
            }
        )
    return out
