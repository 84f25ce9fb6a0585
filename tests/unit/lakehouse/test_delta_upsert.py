"""The upserts of the key index's files — the file rewrite (delta_upsert.py) and the deletion
vectors (delta_mark.py): same rows as MERGE, one commit, crash-safe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lakecrew.adapters.local import delta_upsert
from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.delta_upsert import STAGE
from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.core.errors import Conflict

NAME = "c.s.cases"
SCHEMA = pa.schema([("case_id", pa.string()), ("n", pa.int64()), ("phone", pa.string())])


def _rows(ids: list[str], n: int) -> pa.Table:
    return pa.table(
        {"case_id": ids, "n": [n] * len(ids), "phone": [f"+234{n}" for _ in ids]}, schema=SCHEMA
    )


def _state(store: DeltaStore, name: str = NAME) -> dict[str, int]:
    rows = store.read(name).to_pylist()
    assert len(rows) == len({r["case_id"] for r in rows})  # never a doubled key
    return {r["case_id"]: r["n"] for r in rows}


def _logged(store: DeltaStore) -> set[str]:
    return {Path(p).name for p in store.table(NAME).file_uris()}


class Crash(BaseException):
    """Stands for a kill: nothing after the crash point runs (not even except Exception)."""


@pytest.fixture(params=[False, True], ids=["rewrite", "marks"])
def tables(store: DeltaStore, request: pytest.FixtureRequest) -> DeltaTableStore:
    ts = DeltaTableStore(store, deletion_vectors=request.param)
    ts.create(NAME, SCHEMA)
    for part in range(3):  # three files of 20 keys each
        ts.merge(NAME, _rows([f"k{part}-{i}" for i in range(20)], 1), ["case_id"])
    return ts


@pytest.fixture
def crash_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    points: list[str] = []

    def point(step: str) -> None:
        if step in points:
            raise Crash(step)

    monkeypatch.setattr(delta_upsert, "CRASH_POINT", point)
    yield points


@pytest.mark.parametrize("step", ["staged", "moved"])
def test_a_crash_before_the_commit_changes_nothing_and_the_rerun_succeeds(
    tables: DeltaTableStore, store: DeltaStore, crash_at: list[str], step: str
) -> None:
    before, files = _state(store), _logged(store)
    version = store.version(NAME)
    crash_at.append(step)
    batch = _rows(["k1-3", "k1-4", "fresh"], 2)
    with pytest.raises(Crash):
        tables.merge(NAME, batch, ["case_id"])
    reopened = DeltaTableStore(DeltaStore(store.root), deletion_vectors=tables.deletion_vectors)
    assert reopened.store.version(NAME) == version
    assert _state(reopened.store) == before and _logged(reopened.store) == files
    crash_at.clear()
    with reopened.one_writer([NAME], "rerun"):
        reopened.merge(NAME, batch, ["case_id"])
    assert _state(reopened.store) == {**before, "k1-3": 2, "k1-4": 2, "fresh": 2}
    assert not (store.path(NAME) / STAGE).exists()  # the fenced rerun cleared the leftovers


def test_a_crash_after_the_commit_leaves_the_upsert_done(
    tables: DeltaTableStore, store: DeltaStore, crash_at: list[str]
) -> None:
    crash_at.append("committed")
    with pytest.raises(Crash):
        tables.merge(NAME, _rows(["k0-1"], 3), ["case_id"])
    assert _state(DeltaStore(store.root))["k0-1"] == 3


def test_another_writer_between_write_and_commit_is_a_conflict_under_the_fence(
    tables: DeltaTableStore, store: DeltaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = DeltaStore(store.root)

    def intrude(step: str) -> None:
        if step == "moved":
            other.append(NAME, _rows(["intruder"], 9))

    monkeypatch.setattr(delta_upsert, "CRASH_POINT", intrude)
    files = _logged(store)
    with tables.one_writer([NAME], "run-1"), pytest.raises(Conflict):
        tables.merge(NAME, _rows(["k2-0"], 5), ["case_id"])
    state = _state(store)
    assert state["k2-0"] == 1 and state["intruder"] == 9  # the intruder's commit only
    on_disk = {p.name for p in store.path(NAME).glob("*.parquet")}
    assert on_disk == _logged(store) and files < on_disk  # the unused files were removed


def test_without_a_fence_a_lost_race_falls_back_to_merge(
    tables: DeltaTableStore, store: DeltaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = DeltaStore(store.root)

    def intrude(step: str) -> None:
        if step == "moved" and "intruder" not in _state(other):
            other.append(NAME, _rows(["intruder"], 9))

    monkeypatch.setattr(delta_upsert, "CRASH_POINT", intrude)
    tables.merge(NAME, _rows(["k2-0", "new"], 5), ["case_id"])
    state = _state(store)
    assert state["k2-0"] == 5 and state["new"] == 5 and state["intruder"] == 9
    assert store.history(NAME, 1)[0]["operation"] == "MERGE"


def test_rewritten_files_keep_no_statistics_of_pii_columns(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    tables.merge(NAME, _rows(["k0-0", "new"], 4), ["case_id"])
    log = store.path(NAME) / "_delta_log" / f"{store.version(NAME):020d}.json"
    adds = [json.loads(line)["add"] for line in log.read_text().splitlines() if '"add"' in line]
    assert len(adds) == 2
    for add in adds:
        stats = json.loads(add["stats"])
        assert "phone" not in stats["minValues"] and "case_id" in stats["minValues"]
        assert add["partitionValues"] == {}


KEYS = [f"k{p}-{i}" for p in range(3) for i in range(20)] + [f"x{i}" for i in range(6)]


@pytest.mark.slow  # a few small tables per example
@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(st.lists(st.sampled_from(KEYS), unique=True), min_size=1, max_size=3),
    marks=st.booleans(),
)
def test_same_rows_as_delta_rs_merge_on_random_batches(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[str]], marks: bool
) -> None:
    store = DeltaStore(tmp_path_factory.mktemp("lake"))
    tables = DeltaTableStore(store, deletion_vectors=marks)
    tables.create(NAME, SCHEMA)
    store.create_table("c.s.merged", SCHEMA)
    first = _rows([k for k in KEYS if not k.startswith("x")], 1)
    tables.merge(NAME, first, ["case_id"])
    store.merge("c.s.merged", first, ["case_id"])
    for n, keys in enumerate(batches, start=2):
        if keys:
            tables.merge(NAME, _rows(keys, n), ["case_id"])
            store.merge("c.s.merged", _rows(keys, n), ["case_id"])
    assert _state(store) == _state(store, "c.s.merged")
    assert "MERGE" not in [h.get("operation") for h in store.history(NAME)]


def test_rewritten_rows_are_written_in_pieces_still_one_commit(
    tables: DeltaTableStore, store: DeltaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delta_upsert, "FLUSH_ROWS", 15)  # each 20-row file is its own write
    before, version = _state(store), store.version(NAME)
    tables.merge(NAME, _rows(["k0-1", "k1-2", "k2-3", "fresh"], 7), ["case_id"])
    files = "filesMarked" if tables.deletion_vectors else "filesRemoved"
    assert store.version(NAME) == version + 1
    assert store.history(NAME, 1)[0]["lakecrew.upsert"][files] == 3
    assert _state(store) == {**before, "k0-1": 7, "k1-2": 7, "k2-3": 7, "fresh": 7}
    tables.merge(NAME, _rows(["k0-1", "fresh"], 8), ["case_id"])  # the file map followed
    assert store.history(NAME, 1)[0]["lakecrew.upsert"][files] == (
        1 if tables.deletion_vectors else 2  # both keys are now in the batch's new file
    )
