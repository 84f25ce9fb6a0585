"""CLI start-up: `lakecrew --help` and `lakecrew sql "SELECT 1"` on the demo project.

Each command runs in a fresh interpreter (what a user waits for), `--repeats` times, for this
tree's `src/` and for a baseline commit's `src/` (`git archive BASE src`, put first on
PYTHONPATH with the same venv), in the same session, interleaved so load hits both alike.
Prints medians, the ratio after/before and the peak RSS (the child's ru_maxrss).

    python -m benchmarks.bench_cli_startup --base c0e8cc9 --repeats 5

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


def _once(src: Path, args: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak MiB and exit code of one CLI run in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(src), "LAKECREW_PROJECT": str(cwd)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RUN, *args], env=env, cwd=cwd, capture_output=True, check=False
    )
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024, proc.returncode


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
    parser.add_argument("--base", default="c0e8cc9", help="baseline commit (before)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--project", type=Path, default=Path("bench-out/cli-demo"))
    opts = parser.parse_args()
    project = opts.project.resolve()
    _demo(project)
    cases = {"--help": ["--help"], 'sql "SELECT 1"': ["sql", "SELECT 1"]}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": _baseline_src(opts.base, Path(tmp)), "after": ROOT / "src"}
        times: dict[tuple[str, str], list[float]] = {}
        peaks: dict[tuple[str, str], float] = {}
        for _ in range(opts.repeats):
            for case, args in cases.items():
                for tree, src in trees.items():
                    seconds, peak, code = _once(src, args, project)
                    if code != 0:
                        raise SystemExit(f"{tree} {case} exited {code}")
                    times.setdefault((case, tree), []).append(seconds)
                    peaks[(case, tree)] = peak
    load = os.getloadavg()[0]
    print(f"CLI start-up, medians of {opts.repeats} (load average {load:.1f}), base {opts.base}")
    print(f"{'command':18} {'before s':>9} {'after s':>9} {'after/before':>13} {'peak MiB':>9}")
    for case in cases:
        before = statistics.median(times[(case, "before")])
        after = statistics.median(times[(case, "after")])
        print(
            f"{case:18} {before:9.3f} {after:9.3f} {after / before:13.2f} "
            f"{peaks[(case, 'after')]:9.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
