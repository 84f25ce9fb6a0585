"""DeltaTableStore.merge: append what is new, MERGE what may exist, via the hashed key index."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
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


@pytest.fixture
def tables(store: DeltaStore) -> DeltaTableStore:
    ts = DeltaTableStore(store)
    ts.create(NAME, SCHEMA)
    return ts


def test_new_keys_append_and_known_keys_update(tables: DeltaTableStore, store: DeltaStore) -> None:
    tables.merge(NAME, _rows(["a", "b"], 1), ["case_id"])
    tables.merge(NAME, _rows(["b", "c"], 2), ["case_id"])
    assert _state(store) == {"a": [1], "b": [2], "c": [2]}
    ops = [h.get("operation") for h in store.history(NAME)]
    assert "MERGE" in ops  # only the batch with a known key went through MERGE


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
    # Pretend every key of the next batch collides with a held hash: all "may exist".
    index.hashes = np.sort(np.concatenate([index.hashes, key_hashes(pa.array(["p", "q"]))]))
    tables.merge(NAME, _rows(["p", "q", "a"], 2), ["case_id"])
    assert _state(store) == {"a": [2], "p": [2], "q": [2]}


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


def test_merge_rewrites_only_the_files_holding_a_changed_key(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    # Copy-on-write: an upsert rewrites the files it must, not the table (bench_incremental).
    for part in range(4):  # four batches of new keys: appended, one file each
        tables.merge(NAME, _rows([f"p{part}-{i}" for i in range(50)], 1), ["case_id"])
    files_before = {f for f in store.table(NAME).file_uris()}
    tables.merge(NAME, _rows(["p2-7", "p2-8", "new"], 2), ["case_id"])
    merge = next(h for h in store.history(NAME) if h.get("operation") == "MERGE")
    assert int(merge["operationMetrics"]["num_target_files_removed"]) == 1
    assert len(files_before - set(store.table(NAME).file_uris())) == 1
    state = _state(store)
    assert state["p2-7"] == [2] and state["p2-9"] == [1] and state["new"] == [2]
    assert len(state) == 201


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
