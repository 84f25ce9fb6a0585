"""Faults on the local lakehouse with real OS processes: concurrent MERGE writers and kill -9.

Each must end in a clear error or a consistent table, never a half state.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakecrew.adapters.local.delta import DeltaStore

pytestmark = pytest.mark.integration

T = "main.faults.t"
SCHEMA = pa.schema([("key", pa.int64()), ("writer", pa.string()), ("seq", pa.int64())])

MERGER = """
import sys, time, pyarrow as pa
from pathlib import Path
from lakecrew.adapters.local.delta import DeltaStore
root, who, n, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
while not go.exists():
    time.sleep(0.005)
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
import sys, time, pyarrow as pa
from pathlib import Path
from lakecrew.adapters.local.delta import DeltaStore
root, mode, rows = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
started = root / "started"
store = DeltaStore(root)
def batch(b):
    return pa.table({"key": pa.array(range(rows), pa.int64()), "writer": ["w"] * rows,
                     "seq": pa.array([b] * rows, pa.int64())})
if mode == "batches":  # many commits, each a whole batch
    for b in range(10_000):
        store.append("main.faults.t", batch(b))
        started.touch()
else:  # one large streamed commit of 40 batches
    def gen():
        for b in range(40):
            started.touch()
            time.sleep(0.02)
            yield from batch(b).to_batches()
    store.append("main.faults.t", pa.RecordBatchReader.from_batches(batch(0).schema, gen()))
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
    go, n = tmp_path / "go", 15
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MERGER, str(tmp_path), who, str(n), str(go)],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    go.touch()
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


def _kill_during(tmp_path: Path, mode: str, rows: int, delay: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), mode, str(rows)],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "writer never started"
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    time.sleep(delay)  # now inside the write loop / the streamed write
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


@pytest.mark.parametrize("attempt", range(3))
def test_kill_9_between_and_during_batch_commits(tmp_path: Path, attempt: int) -> None:
    store = DeltaStore(tmp_path)
    store.create_table(T, SCHEMA)
    rows = 20_000
    _kill_during(tmp_path, "batches", rows, random.Random(attempt).uniform(0.05, 1.0))
    table = store.read(T)  # readable after the crash
    seqs = table.column("seq").value_counts().to_pylist()
    assert all(s["counts"] == rows for s in seqs)  # whole batches only
    assert table.num_rows == rows * len(seqs)
    assert sorted(s["values"] for s in seqs) == list(range(len(seqs)))
    assert len(_versions_contiguous(store)) == len(seqs) + 1
    store.append(T, table.slice(0, 1))  # still writable after the crash
    assert store.version(T) == len(seqs) + 1


@pytest.mark.parametrize("attempt", range(3))
def test_kill_9_in_the_middle_of_one_large_write(tmp_path: Path, attempt: int) -> None:
    store = DeltaStore(tmp_path)
    store.create_table(T, SCHEMA)
    rows = 10_000
    _kill_during(tmp_path, "stream", rows, random.Random(100 + attempt).uniform(0.0, 0.5))
    count = store.read(T).num_rows
    # killed before the single commit: the previous (empty) version, nothing half-written
    assert (store.version(T), count) in {(0, 0), (1, 40 * rows)}
    _versions_contiguous(store)
