"""Where the medallion run's peak memory is: thread stacks at each new RSS peak.

Usage: .venv/bin/python -m benchmarks.peak_stacks SRC_DIR
       (SRC_DIR: CSV files from ``python -m benchmarks.bench_medallion gen
       '{"rows": 10000000, "src": "SRC_DIR"}'``)

Runs ``bench_medallion.step_lakecrew`` over SRC_DIR in this process while a thread reads the
resident set size (``/proc/self/statm``, Linux) every 10 ms; whenever it grew by 5 MiB over the
last peak, the other threads' stacks (lakecrew, delta-rs and pyarrow frames) are kept. Prints
the max RSS and the stacks at the highest peak (issue 12: the read-ahead, the raw batch and the
key index at a 10M-row load).
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
KEEP = ("lakecrew", "benchmarks", "deltalake", "pyarrow")


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * PAGE


def _stacks() -> dict[int, list[str]]:
    me = threading.get_ident()
    out = {}
    for tid, frame in sys._current_frames().items():
        if tid != me:
            picked = [
                f"{os.path.basename(f.filename)}:{f.lineno} {f.name}"
                for f in traceback.extract_stack(frame)
                if any(k in f.filename for k in KEEP)
            ]
            out[tid] = picked[-8:]
    return out


def main(src: str) -> None:
    from benchmarks import bench_medallion

    peak: list[Any] = [0, {}]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now = _rss()
            if now > peak[0] + 5 * 2**20:
                peak[:] = [now, _stacks()]
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    work = Path("bench-out") / "peak_stacks"
    work.mkdir(parents=True, exist_ok=True)
    bench_medallion.step_lakecrew({"src": src, "work": str(work)})
    done.set()
    sampler.join()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS {maxrss:,.0f} MiB; sampled peak {peak[0] / 2**20:,.0f} MiB; stacks there:")
    for tid, stack in peak[1].items():
        print(f"--- thread {tid}")
        print("\n".join(stack))


if __name__ == "__main__":
    main(sys.argv[1])
