"""Faults on the local lakehouse with real OS processes: concurrent MERGE writers and kill -9.

Each must end in a clear error or a consistent table, never a half state.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakecrew.adapters.local.delta import DeltaStore

pytestmark = pytest.mark.integration

T = "main.faults.t"
SCHEMA = pa.schema([("key", pa.int64()), ("writer", pa.string()), ("seq", pa.int64())])

MERGER = """
import os, sys, pyarrow as pa
from pathlib import Path
from lakecrew.adapters.local.delta import DeltaStore
root, who, n, gate = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.read(gate, 1)  # blocks until the test closes the pipe's other end: both start together
store = DeltaStore(root, max_attempts=60, base_delay=0.01, max_delay=0.2)
base = 1000 if who == "a" else 2000
retries = 0
for i in range(n):
    keys = list(range(10)) + [base + i]
    data = pa.table({"key": keys, "writer": [who] * len(keys), "seq": [i] * len(keys)})
    retries += store.merge("main.faults.t", data, ["key"]).attempts - 1
print(retries)
"""

WRITER = """
import os, signal, sys, pyarrow as pa
from pathlib import Path
from lakecrew.adapters.local.delta import DeltaStore
root, commits, parts, rows = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = DeltaStore(root)
def batch(b):
    return pa.table({"key": pa.array(range(rows), pa.int64()), "writer": ["w"] * rows,
                     "seq": pa.array([b] * rows, pa.int64())})
for b in range(commits):  # whole commits, each one batch
    store.append("main.faults.t", batch(b))
def killed_after(n):  # the next commit, streamed: killed once n of its 40 parts are handed over
    for part in range(40):
        if part == n:
            os.kill(os.getpid(), signal.SIGKILL)
        yield from batch(commits).slice(part * rows // 40, rows // 40).to_batches()
    os.kill(os.getpid(), signal.SIGKILL)  # every part written, the commit not made
if parts >= 0:
    stream = pa.RecordBatchReader.from_batches(batch(0).schema, killed_after(parts))
    store.append("main.faults.t", stream)
os.kill(os.getpid(), signal.SIGKILL)  # between commits
"""


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _versions_contiguous(store: DeltaStore) -> list[int]:
    versions = sorted(h["version"] for h in store.history(T))
    assert versions == list(range(store.version(T) + 1))
    return versions


def test_two_processes_merging_overlapping_keys(tmp_path: Path) -> None:
    store = DeltaStore(tmp_path)
    store.create_table(T, SCHEMA)
    n = 15
    gate, release = os.pipe()  # the children read ``gate`` until this test closes ``release``
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MERGER, str(tmp_path), who, str(n), str(gate)],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=(gate,),
        )
        for who in ("a", "b")
    ]
    os.close(gate)
    os.close(release)  # end of file on the gate: both writers start
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    table = store.read(T)
    keys = table.column("key").to_pylist()
    assert len(keys) == len(set(keys)) == 10 + 2 * n  # no duplicates, no lost inserts
    assert set(keys) >= {1000 + i for i in range(n)} | {2000 + i for i in range(n)}
    shared = table.filter(pc.less(table.column("key"), 10))
    # the last commit wins for all shared keys at once: one writer, its last merge
    assert len(set(shared.column("writer").to_pylist())) == 1
    assert set(shared.column("seq").to_pylist()) == {n - 1}
    versions = _versions_contiguous(store)
    assert len(versions) == 1 + 2 * n  # every merge committed exactly once
    ops = [h["operation"] for h in store.history(T)]
    assert ops.count("MERGE") == 2 * n


def _killed(tmp_path: Path, commits: int, parts: int, rows: int) -> None:
    """The writer makes ``commits`` whole commits, then SIGKILLs itself: inside the next
    (streamed) commit once ``parts`` of its 40 parts are written (-1: before it begins; 40:
    every part written, the commit not made). The crash point is chosen, never timed."""
    proc = subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path), str(commits), str(parts), str(rows)],
        env=_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


@pytest.mark.parametrize(("commits", "parts"), [(0, 0), (0, 40), (1, -1), (3, 0), (3, 25), (3, 40)])
def test_kill_9_between_and_during_commits_leaves_whole_commits(
    tmp_path: Path, commits: int, parts: int
) -> None:
    store = DeltaStore(tmp_path)
    store.create_table(T, SCHEMA)
    rows = 20_000
    _killed(tmp_path, commits, parts, rows)
    table = store.read(T)  # readable after the crash
    assert table.num_rows == rows * commits  # the interrupted commit left nothing
    assert sorted(table.column("seq").unique().to_pylist()) == list(range(commits))
    assert len(_versions_contiguous(store)) == commits + 1
    store.append(
        T,
        table.slice(0, 1)
        if commits
        else pa.table({"key": [1], "writer": ["w"], "seq": [0]}, schema=SCHEMA),
    )
    assert store.version(T) == commits + 1  # still writable after the crash
