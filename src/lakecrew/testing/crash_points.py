"""Run a lakecrew command that SIGKILLs itself at a chosen write: deterministic crash points.

    python -m lakecrew.testing.crash_points KILL_AT COUNT_FILE -- <lakecrew arguments>

Every durable write of the local backend is counted: each Delta commit (``DeltaStore.append``,
``overwrite``, ``merge``, ``delete``) and each workspace mutation (``LocalWorkspace._mutate``,
one SQLite transaction). Crash point ``k`` (1-based) kills the process just *before* write
``(k + 1) // 2`` when ``k`` is odd and just *after* it when ``k`` is even, so points ``1 ..
2 * writes`` cover both sides of every write. ``KILL_AT`` 0 never kills; the number of writes
the run made is then saved in ``COUNT_FILE`` (the range a test picks its points from). Used by
tests/integration/test_crew_faults.py and test_pipeline_kill_points.py instead of sleeping for a
random time. Writes made on two threads at once (a pipeline run commits bronze beside silver)
are counted in the order they begin.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def install(kill_at: int) -> Callable[[], int]:
    """Patch the write methods; returns a function giving the writes made so far."""
    from lakecrew.adapters.local.delta import DeltaStore
    from lakecrew.adapters.local.workspace_store import LocalWorkspace

    seen = [0]
    lock = threading.Lock()  # a pipeline run commits bronze on a writer thread beside silver
    inner = threading.local()  # a write made inside another (e.g. overwrite → delete) is part of it

    def counted(original: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any, **kwargs: Any) -> Any:
            if getattr(inner, "depth", 0):
                return original(*args, **kwargs)
            with lock:
                seen[0] += 1
                mine = seen[0]
            if kill_at == 2 * mine - 1:
                os.kill(os.getpid(), signal.SIGKILL)
            inner.depth = 1
            try:
                result = original(*args, **kwargs)
            finally:
                inner.depth = 0
            if kill_at == 2 * mine:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return write

    for name in ("append", "overwrite", "merge", "delete"):
        setattr(DeltaStore, name, counted(getattr(DeltaStore, name)))
    LocalWorkspace._mutate = counted(LocalWorkspace._mutate)  # type: ignore[method-assign]
    return lambda: seen[0]


def main(argv: list[str]) -> int:
    kill_at, count_file = int(argv[0]), Path(argv[1])
    args = argv[3:] if argv[2:3] == ["--"] else argv[2:]
    writes = install(kill_at)
    from lakecrew.faces.cli.main import app

    try:
        app(args=args, prog_name="lakecrew", standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    if kill_at == 0:
        count_file.write_text(str(writes()), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
