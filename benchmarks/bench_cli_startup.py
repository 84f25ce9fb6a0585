"""CLI start-up: `lakecrew --help` and `lakecrew sql "SELECT 1"` on the demo project.

Each command runs in a fresh interpreter (what a user waits for), `--repeats` times, for this
tree's `src/` and for a baseline commit's `src/` (`git archive BASE src`, put first on
PYTHONPATH with the same venv), in the same session, interleaved so load hits both alike.
Prints medians, the ratio after/before and the peak RSS (the child's ru_maxrss).

    python -m benchmarks.bench_cli_startup --base 9d91c5b --repeats 5

The demo project is built once with `lakecrew demo` into bench-out/cli-demo (reused after).
Targets (issue 13): --help under 0.3 s, sql "SELECT 1" under 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = "from lakecrew.faces.cli.main import run; run()"
# The child reports its own peak RSS at exit (its ru_maxrss, KiB on Linux).
PROBE = (
    "import atexit, resource, sys; atexit.register(lambda: sys.stderr.write("
    "'@@RSS %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)); " + RUN
)


def _once(src: Path, args: list[str], cwd: Path) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (user + system), peak MiB and exit code of one CLI run in a
    fresh interpreter. CPU time is what the command costs; wall time is what a user waits."""
    env = {**os.environ, "PYTHONPATH": str(src), "LAKECREW_PROJECT": str(cwd)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, cwd=cwd, capture_output=True, check=False
    )
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss = [int(x.split()[1]) for x in proc.stderr.decode().splitlines() if x.startswith("@@RSS")]
    return elapsed, cpu, (rss[-1] / 1024 if rss else float("nan")), proc.returncode


def _baseline_src(base: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", base, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def _demo(project: Path) -> None:
    if (project / ".lakecrew").is_dir():
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(
        [sys.executable, "-c", RUN, "demo", "--project", str(project)],
        env=env,
        check=True,
        capture_output=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="9d91c5b", help="baseline commit (before)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--project", type=Path, default=Path("bench-out/cli-demo"))
    opts = parser.parse_args()
    project = opts.project.resolve()
    _demo(project)
    cases = {"--help": ["--help"], 'sql "SELECT 1"': ["sql", "SELECT 1"]}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": _baseline_src(opts.base, Path(tmp)), "after": ROOT / "src"}
        wall: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        peaks: dict[tuple[str, str], float] = {}
        for _ in range(opts.repeats):
            for case, args in cases.items():
                for tree, src in trees.items():
                    seconds, cpu_s, peak, code = _once(src, args, project)
                    if code != 0:
                        raise SystemExit(f"{tree} {case} exited {code}")
                    wall.setdefault((case, tree), []).append(seconds)
                    cpu.setdefault((case, tree), []).append(cpu_s)
                    peaks[(case, tree)] = max(peaks.get((case, tree), 0.0), peak)
    load = os.getloadavg()[0]
    print(f"CLI start-up, medians of {opts.repeats} (load average {load:.1f}), base {opts.base}")
    print(
        f"{'command':18} {'wall before':>12} {'wall after':>11} {'ratio':>6} "
        f"{'cpu before':>11} {'cpu after':>10} {'ratio':>6} {'peak MiB b/a':>13}"
    )
    for case in cases:
        wb, wa = (statistics.median(wall[(case, t)]) for t in ("before", "after"))
        cb, ca = (statistics.median(cpu[(case, t)]) for t in ("before", "after"))
        pb, pa = peaks[(case, "before")], peaks[(case, "after")]
        print(
            f"{case:18} {wb:12.3f} {wa:11.3f} {wa / wb:6.2f} {cb:11.3f} {ca:10.3f} "
            f"{ca / cb:6.2f} {pb:6.0f}/{pa:<6.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
