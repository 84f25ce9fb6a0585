"""DeltaTableStore.merge: append what is new, MERGE what may exist, via the hashed key index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.delta_upsert import OPERATION
from lakecrew.adapters.local.key_index import KeyIndex, distinct_hashes, key_hashes
from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.core.errors import DataError

NAME = "c.s.cases"
SCHEMA = pa.schema([("case_id", pa.string()), ("n", pa.int64())])


def _rows(ids: list[str | None], n: int) -> pa.Table:
    return pa.table({"case_id": ids, "n": [n] * len(ids)}, schema=SCHEMA)


def _state(store: DeltaStore) -> dict[str | None, list[int]]:
    out: dict[str | None, list[int]] = {}
    for row in store.read(NAME).to_pylist():
        out.setdefault(row["case_id"], []).append(row["n"])
    return out


@pytest.fixture(params=[False, True], ids=["rewrite", "marks"])
def tables(store: DeltaStore, request: pytest.FixtureRequest) -> DeltaTableStore:
    ts = DeltaTableStore(store, deletion_vectors=request.param)
    ts.create(NAME, SCHEMA)
    return ts


def test_new_keys_append_and_known_keys_update(tables: DeltaTableStore, store: DeltaStore) -> None:
    tables.merge(NAME, _rows(["a", "b"], 1), ["case_id"])
    tables.merge(NAME, _rows(["b", "c"], 2), ["case_id"])
    assert _state(store) == {"a": [1], "b": [2], "c": [2]}
    last = store.history(NAME, 1)[0]  # the batch with a known key: one file rewritten/marked
    files = "filesMarked" if tables.deletion_vectors else "filesRemoved"
    assert last[OPERATION] == {
        files: 1,
        "rowsCopied": 0 if tables.deletion_vectors else 1,
        "rowsUpdated": 1,
        "rowsInserted": 1,
    }
    assert "MERGE" not in [h.get("operation") for h in store.history(NAME)]


def test_index_is_rebuilt_when_someone_else_wrote(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    tables.merge(NAME, _rows(["a"], 1), ["case_id"])
    store.append(NAME, _rows(["x"], 9))  # a writer the index does not know about
    tables.merge(NAME, _rows(["x", "y"], 3), ["case_id"])
    assert _state(store) == {"a": [1], "x": [3], "y": [3]}  # x updated, not duplicated


def test_hash_false_positives_are_harmless(tables: DeltaTableStore, store: DeltaStore) -> None:
    tables.merge(NAME, _rows(["a"], 1), ["case_id"])
    index = tables._indexes[(NAME, "case_id")]
    # Pretend every key of the next batch collides with a held hash (in a's file): all
    # "may exist"; the file rewrite finds only a there and inserts p and q.
    index.add(np.sort(key_hashes(pa.array(["p", "q"]))), index.version, index.groups[0])
    tables.merge(NAME, _rows(["p", "q", "a"], 2), ["case_id"])
    assert _state(store) == {"a": [2], "p": [2], "q": [2]}
    assert store.history(NAME, 1)[0][OPERATION]["rowsInserted"] == 2
    # The same through MERGE (the file map dropped, as after a MERGE of an ineligible table).
    index = tables._indexes[(NAME, "case_id")]
    index.add(np.sort(key_hashes(pa.array(["r"]))), index.version, None)
    before = store.version(NAME)
    tables.merge(NAME, _rows(["r", "a"], 3), ["case_id"])
    assert _state(store) == {"a": [3], "p": [2], "q": [2], "r": [3]}
    assert store.version(NAME) == before + 1  # the file map was read again: one rewrite


def test_duplicate_source_keys_fail_before_any_commit(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    before = store.version(NAME)
    with pytest.raises(DataError, match="more than once"):
        tables.merge(NAME, _rows(["a", "b", "a"], 1), ["case_id"])
    assert store.version(NAME) == before


def test_null_keys_are_appended_not_matched(tables: DeltaTableStore, store: DeltaStore) -> None:
    tables.merge(NAME, _rows([None, "a"], 1), ["case_id"])
    tables.merge(NAME, _rows(["a"], 2), ["case_id"])
    assert _state(store) == {None: [1], "a": [2]}


def test_key_index_lookup_and_distinct_check() -> None:
    held = key_hashes(pa.array([f"K{i}" for i in range(1000)]))
    index = KeyIndex.build(held, version=3)
    probe = key_hashes(pa.array(["K5", "K999", "K1000", "nope"]))
    assert index.may_hold(probe).tolist() == [True, True, False, False]
    index.add(np.sort(key_hashes(pa.array(["K1000", "K1001"]))), version=4)
    assert index.may_hold(probe).tolist() == [True, True, True, False]
    assert index.version == 4
    assert bool((index.hashes[1:] >= index.hashes[:-1]).all())  # still sorted
    assert len(index.hashes) == 1002
    assert distinct_hashes(held)
    assert not distinct_hashes(key_hashes(pa.array(["x", "y", "x"])))


def test_a_recreated_table_gets_a_new_index(tables: DeltaTableStore, store: DeltaStore) -> None:
    import shutil

    tables.merge(NAME, _rows(["a"], 1), ["case_id"])
    tables.merge(NAME, _rows(["b"], 1), ["case_id"])  # index at version 2, holds a and b
    shutil.rmtree(store.path(NAME))
    store.create_table(NAME, SCHEMA)
    store.append(NAME, _rows(["b"], 7))
    store.append(NAME, _rows(["z"], 7))  # same version number (2) as the index, other table
    tables.merge(NAME, _rows(["b", "z"], 9), ["case_id"])
    assert _state(store) == {"b": [9], "z": [9]}  # z is in the new table: updated, not doubled


def test_an_upsert_rewrites_only_the_files_holding_a_changed_key(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    # An upsert rewrites (or marks) the files it must, not the table (bench_incremental).
    for part in range(4):  # four batches of new keys: appended, one file each
        tables.merge(NAME, _rows([f"p{part}-{i}" for i in range(50)], 1), ["case_id"])
    files_before = set(store.table(NAME).file_uris())
    holder = next(f for f in files_before if "p2-7" in _keys(f))
    for other in files_before - {holder}:  # proof that no other file is even opened
        Path(other).write_bytes(b"not parquet")
    tables.merge(NAME, _rows(["p2-7", "p2-8", "new"], 2), ["case_id"])
    last = store.history(NAME, 1)[0]
    if tables.deletion_vectors:  # the holder stays, with its rows 7 and 8 marked deleted
        assert last[OPERATION]["filesMarked"] == 1 and last[OPERATION]["rowsCopied"] == 0
        after = set(store.table(NAME).file_uris())
        assert files_before < after and len(after - files_before) == 1
        vectors = pa.RecordBatchReader.from_stream(store.table(NAME).deletion_vectors())
        [marked] = vectors.read_all().to_pylist()
        assert marked["filepath"].removeprefix("file://") == holder
        assert [i for i, keep in enumerate(marked["selection_vector"]) if not keep] == [7, 8]
        [new] = after - files_before
        assert {r["case_id"]: r["n"] for r in _rows_of(new)} == {"p2-7": 2, "p2-8": 2, "new": 2}
        return
    assert last[OPERATION]["filesRemoved"] == 1 and last[OPERATION]["rowsCopied"] == 48
    after = set(store.table(NAME).file_uris())
    assert files_before - after == {holder}
    assert len(after - files_before) == 2  # p2's keys again, and the new key's file
    for other in files_before - {holder}:
        Path(other).unlink()
    rows = {r["case_id"]: r["n"] for f in after - files_before for r in _rows_of(f)}
    assert rows == {**{f"p2-{i}": 1 for i in range(50)}, "p2-7": 2, "p2-8": 2, "new": 2}


def test_merge_is_the_fallback_and_also_rewrites_only_the_files_it_must(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    for part in range(4):
        tables.merge(NAME, _rows([f"p{part}-{i}" for i in range(50)], 1), ["case_id"])
    wider = _rows(["p2-7", "new"], 2).append_column("note", pa.array(["x", "y"]))
    tables.merge(NAME, wider, ["case_id"])  # adds a column: MERGE evolves the schema
    merge = next(h for h in store.history(NAME) if h.get("operation") == "MERGE")
    assert int(merge["operationMetrics"]["num_target_files_removed"]) == 1
    same = _rows(["p1-3"], 5).append_column("note", pa.array(["z"]))
    tables.merge(NAME, same, ["case_id"])  # the file map is read again: a file rewrite
    assert OPERATION in store.history(NAME, 1)[0]
    state = _state(store)
    assert state["p2-7"] == [2] and state["new"] == [2] and state["p1-3"] == [5]
    assert len(state) == 201


def _keys(path: str) -> set[str]:
    return set(pq.read_table(path, columns=["case_id"]).column(0).to_pylist())


def _rows_of(path: str) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def test_distinct_comes_from_file_statistics_and_falls_back_to_a_scan(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    tables.append(NAME, _rows(["b", "b"], 1))
    tables.append(NAME, _rows(["a"], 2))
    tables.append(NAME, _rows([None], 3))  # no value: a file of nulls spans nothing
    # Every file holds one value: answered from the log, so the data files are never opened.
    for data in store.path(NAME).glob("*.parquet"):
        data.write_bytes(b"not parquet")
    assert tables.distinct(NAME, "case_id") == ["a", "b"]


def test_distinct_scans_when_a_file_holds_several_values(tables: DeltaTableStore) -> None:
    tables.append(NAME, _rows(["b", "a"], 1))
    tables.append(NAME, _rows(["c"], 2))
    long = "x" * 40  # statistics of long text may be truncated: never trusted
    assert tables.distinct(NAME, "case_id") == ["a", "b", "c"]
    tables.append(NAME, _rows([long], 3))
    assert tables.distinct(NAME, "case_id") == ["a", "b", "c", long]


def test_count_comes_from_the_log_without_opening_data_files(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    tables.merge(NAME, _rows(["a", "b", "c"], 1), ["case_id"])
    tables.merge(NAME, _rows(["b", "d"], 2), ["case_id"])  # a rewrite: b counted once
    assert tables.count(NAME) == 4 == store.read(NAME).num_rows
    for data in store.path(NAME).glob("*.parquet"):
        data.write_bytes(b"not parquet")
    assert tables.count(NAME) == 4


def test_index_add_places_hashes_and_files_as_an_insert_would() -> None:
    """``KeyIndex.add`` places each new hash (ties with held ones, repeats, both ends) and its
    file group where ``np.insert`` at its ``searchsorted`` position puts it."""
    from lakecrew.adapters.local.key_index import KeyIndex

    rng = np.random.default_rng(7)
    held = np.sort(rng.integers(0, 50, 200).astype(np.uint64))
    files = rng.integers(0, 3, 200).astype(np.int32)
    index = KeyIndex.build(held, 1, None, files, [("a",), ("b",), ("c",)])
    new = np.sort(np.concatenate([rng.integers(0, 60, 80), [0, 0, 59]]).astype(np.uint64))
    at = np.searchsorted(index.hashes, new)
    want_hashes = np.insert(index.hashes, at, new)
    want_files = np.insert(index.files, at, 3) if index.files is not None else None
    index.add(new, 2, ("d",))
    assert (index.hashes == want_hashes).all() and index.version == 2
    assert index.files is not None and want_files is not None
    assert (index.files == want_files).all() and index.groups[3] == ("d",)
