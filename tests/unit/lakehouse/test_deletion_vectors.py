"""Deletion vectors written by the local store (deletion_vectors.py, delta_mark.py): read back
by delta-rs, an independent reader, and by every read path of the store."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from lakecrew.adapters.local.deletion_vectors import (
    LiveFiles,
    deserialize,
    serialize,
    z85_decode,
    z85_encode,
)
from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.delta_read import masked_read
from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.adapters.local.table_store import DeltaTableStore

NAME = "c.s.cases"
SCHEMA = pa.schema([("case_id", pa.string()), ("n", pa.int64()), ("lga", pa.string())])


def _rows(ids: list[str], n: int) -> pa.Table:
    return pa.table(
        {"case_id": ids, "n": [n] * len(ids), "lga": [f"lga{n}" for _ in ids]}, schema=SCHEMA
    )


def _delta_rs(store: DeltaStore, version: int | None = None) -> dict[str, int]:
    """The live rows as delta-rs's own scan (which applies deletion vectors) reads them."""
    table = DeltaTable(str(store.path(NAME)), version=version)
    rows = pa.RecordBatchReader.from_stream(table.scan(columns=["case_id", "n"])).read_all()
    ids, ns = rows.column("case_id").to_pylist(), rows.column("n").to_pylist()
    assert len(ids) == len(set(ids))
    return dict(zip(ids, ns, strict=True))


def _ours(store: DeltaStore, version: int | None = None) -> dict[str, int]:
    rows = store.read(NAME, version=version, columns=["case_id", "n"]).to_pylist()
    assert len(rows) == len({r["case_id"] for r in rows})
    return {r["case_id"]: r["n"] for r in rows}


@pytest.fixture
def tables(store: DeltaStore) -> DeltaTableStore:
    ts = DeltaTableStore(store, deletion_vectors=True)
    ts.create(NAME, SCHEMA)
    for part in range(3):  # three files of 40 keys each
        ts.merge(NAME, _rows([f"k{part}-{i}" for i in range(40)], 1), ["case_id"])
    return ts


def test_z85_and_the_bitmap_format_round_trip() -> None:
    assert z85_encode(bytes.fromhex("864FD26FB559F75B")) == "HelloWorld"  # ZeroMQ RFC 32
    assert z85_decode("HelloWorld") == bytes.fromhex("864FD26FB559F75B")
    rows = np.array([0, 7, 65_536, 2**32 + 5, 2**33], np.uint64)  # two 32-bit buckets and more
    payload = serialize(rows[::-1])
    assert payload[:4] == (1681511377).to_bytes(4, "little")
    assert deserialize(payload).tolist() == rows.tolist()


def test_delta_rs_reads_the_vectors_and_every_read_path_agrees(
    tables: DeltaTableStore, store: DeltaStore, engine: LocalSqlEngine
) -> None:
    before = store.version(NAME)
    tables.merge(NAME, _rows(["k0-3", "k1-5", "k2-39", "new"], 2), ["case_id"])
    tables.merge(NAME, _rows(["k0-3", "k0-4"], 3), ["case_id"])  # k0-3 again: now in a new file
    protocol = store.table(NAME).protocol()
    assert "deletionVectors" in (protocol.reader_features or [])
    expected = {f"k{p}-{i}": 1 for p in range(3) for i in range(40)}
    expected.update({"k1-5": 2, "k2-39": 2, "new": 2, "k0-3": 3, "k0-4": 3})
    assert _delta_rs(store) == expected == _ours(store)
    assert _ours(store, before) == _delta_rs(store, before)  # time travel to before the vectors
    assert tables.count(NAME) == len(expected)
    assert DeltaTable(str(store.path(NAME))).count() == len(expected) + 5  # physical rows
    assert tables.read(NAME, ["case_id"], where={"lga": "lga3"}).num_rows == 2
    assert tables.distinct(NAME, "lga") == ["lga1", "lga2", "lga3"]
    probe = pa.table({"case_id": ["k0-3", "k1-5", "k1-6", "absent"]})
    found = tables.lookup(NAME, ["case_id"], probe, ["n"]).to_pylist()
    assert sorted((r["case_id"], r["n"]) for r in found) == [
        ("k0-3", 3),
        ("k1-5", 2),
        ("k1-6", 1),
    ]
    result = engine.fetch_arrow(f"SELECT count(*) AS n, max(n) AS top FROM {NAME}")
    assert result.to_pylist() == [{"n": len(expected), "top": 3}]


def test_a_new_process_replays_the_log_through_a_checkpoint(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    tables.merge(NAME, _rows(["k0-1", "k2-2"], 2), ["case_id"])
    DeltaTable(str(store.path(NAME))).create_checkpoint()
    tables.merge(NAME, _rows(["k0-1", "k1-1"], 3), ["case_id"])  # a vector on a file again
    location = store.path(NAME)
    replayed = LiveFiles.at(location, store.version(NAME))
    os.rename(location / "_delta_log" / f"{0:020d}.json", location / "moved-away.json")
    with_checkpoint = LiveFiles.at(location, store.version(NAME))  # commit 0 is not needed
    assert with_checkpoint.adds == replayed.adds
    assert with_checkpoint.protocol == replayed.protocol
    os.rename(location / "moved-away.json", location / "_delta_log" / f"{0:020d}.json")
    fresh = DeltaTableStore(DeltaStore(store.root), deletion_vectors=True)  # a new process
    fresh.merge(NAME, _rows(["k0-1", "k2-2", "k2-3"], 4), ["case_id"])
    state = _delta_rs(fresh.store)
    assert state == _ours(fresh.store)
    assert (state["k0-1"], state["k1-1"], state["k2-2"], state["k2-3"]) == (4, 3, 4, 4)
    assert len(state) == 120


def test_maintenance_compacts_them_away_and_removes_unused_vector_files(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    tables.merge(NAME, _rows(["k0-1", "k1-1"], 2), ["case_id"])
    tables.merge(NAME, _rows(["k0-2", "k1-2"], 3), ["case_id"])
    expected = _ours(store)
    assert len(list(store.path(NAME).glob("deletion_vector_*.bin"))) == 2
    done = tables.maintain(NAME, retention_hours=0)
    assert done.files_added == 1
    assert _ours(store) == expected == _delta_rs(store)
    assert not list(store.path(NAME).glob("deletion_vector_*.bin"))
    assert tables.count(NAME) == len(expected)


def test_a_batch_holding_a_key_twice_is_refused_before_any_write(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    version = store.version(NAME)
    with pytest.raises(Exception, match="more than once"):
        tables.merge(NAME, _rows(["k0-1", "k0-1"], 2), ["case_id"])
    assert store.version(NAME) == version


@pytest.mark.parametrize("batch_size", [7, 40, 1000])
def test_positions_hold_across_the_batches_of_a_file(
    tables: DeltaTableStore, store: DeltaStore, batch_size: int
) -> None:
    tables.merge(
        NAME, _rows([f"k{p}-{i}" for p in range(3) for i in (0, 6, 7, 13, 39)], 2), ["case_id"]
    )
    tables.merge(NAME, _rows(["k1-14", "k1-20", "k1-21"], 3), ["case_id"])
    table = store.table(NAME)
    live = store.live_files(table)
    assert live is not None and len(live.deleted()) == 3
    schema = pa.schema(table.schema().to_arrow())
    rows = masked_read(live.location, live, schema, columns=["case_id", "n"], batch_size=batch_size)
    assert dict(zip(*rows.to_pydict().values(), strict=True)) == _delta_rs(store)
    only = masked_read(
        live.location,
        live,
        schema,
        columns=["case_id"],
        filter=pc.field("n") == 3,
        filter_columns=["n"],
        batch_size=batch_size,
    )
    assert sorted(only.column("case_id").to_pylist()) == ["k1-14", "k1-20", "k1-21"]


def test_the_upsert_reuses_the_lookups_positions_only_when_it_probed_every_key(
    tables: DeltaTableStore, store: DeltaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakecrew.adapters.local import delta_mark

    scans: list[int] = []
    original = delta_mark._found
    monkeypatch.setattr(delta_mark, "_found", lambda *a: scans.append(1) or original(*a))
    tables.merge(NAME, _rows(["k0-1"], 2), ["case_id"])  # no lookup before: key column read
    assert scans == [1]
    probe = pa.table({"case_id": ["k0-2", "k1-2", "brand-new"]})
    tables.lookup(NAME, ["case_id"], probe, ["n"])
    tables.merge(NAME, _rows(["k0-2", "brand-new"], 3), ["case_id"])  # probed: positions reused
    assert scans == [1]
    tables.lookup(NAME, ["case_id"], probe, ["n"])
    tables.merge(NAME, _rows(["k1-2", "k2-2"], 4), ["case_id"])  # k2-2 was not probed
    assert scans == [1, 1]
    state = _ours(store)
    assert (state["k0-1"], state["k0-2"], state["brand-new"], state["k1-2"], state["k2-2"]) == (
        2,
        3,
        3,
        4,
        4,
    )
    assert state == _delta_rs(store) and len(state) == 121


@pytest.mark.parametrize("column", ["lga", "file_row_number"])  # the latter: read in memory
def test_sql_sees_only_live_rows(store: DeltaStore, engine: LocalSqlEngine, column: str) -> None:
    schema = pa.schema([("case_id", pa.string()), ("n", pa.int64()), (column, pa.string())])
    tables = DeltaTableStore(store, deletion_vectors=True)
    tables.create(NAME, schema)

    def rows(ids: list[str], n: int) -> pa.Table:
        return pa.table({"case_id": ids, "n": [n] * len(ids), column: ["x"] * len(ids)}, schema)

    tables.merge(NAME, rows([f"a{i}" for i in range(30)], 1), ["case_id"])
    tables.merge(NAME, rows([f"b{i}" for i in range(30)], 1), ["case_id"])
    tables.merge(NAME, rows(["a3", "b4", "b29", "c1"], 2), ["case_id"])
    assert store.live_files(store.table(NAME)).deleted()  # type: ignore[union-attr]
    got = engine.fetch_arrow(
        f"SELECT n, count(*) AS k FROM {NAME} WHERE case_id <> 'a0' GROUP BY n ORDER BY n"
    ).to_pylist()
    assert got == [{"n": 1, "k": 56}, {"n": 2, "k": 4}]
    ids = engine.fetch_arrow(f"SELECT case_id FROM {NAME} WHERE n = 2").column(0).to_pylist()
    assert sorted(ids) == ["a3", "b29", "b4", "c1"]


def test_real_village_registry_upserted_in_batches_matches_an_independent_last_wins(
    store: DeltaStore,
) -> None:
    """eHealth Africa's Bo villages (tests/fixtures/real, Apache-2.0): 1,001 rows, 979
    localities, repeated ones spread over the file; loaded in four batches, then 10 % of the
    localities corrected. Every read path gives the last version of each locality."""
    import csv
    from pathlib import Path

    source = Path(__file__).parents[2] / "fixtures" / "real" / "eha_sl_bo_village.csv"
    with source.open(encoding="utf-8", newline="") as fh:
        raw = list(csv.DictReader(fh))
    keys = ["|".join((r["CHIEFDOM"], r["SECTION"], r["LOCALITY"])) for r in raw]
    schema = pa.schema([("place", pa.string()), ("line", pa.int64()), ("note", pa.string())])
    tables = DeltaTableStore(store, deletion_vectors=True)
    tables.create("c.s.villages", schema)
    expected: dict[str, tuple[int, str]] = {}
    for start in range(0, len(raw), 260):
        batch = {k: (i, "loaded") for i, k in enumerate(keys) if start <= i < start + 260}
        rows = pa.table(
            {
                "place": list(batch),
                "line": [v[0] for v in batch.values()],
                "note": ["loaded"] * len(batch),
            },
            schema,
        )
        tables.merge("c.s.villages", rows, ["place"])
        expected.update(batch)
    fixes = sorted(expected)[::10]
    tables.merge(
        "c.s.villages",
        pa.table(
            {"place": fixes, "line": [-1] * len(fixes), "note": ["fixed"] * len(fixes)}, schema
        ),
        ["place"],
    )
    expected.update({k: (-1, "fixed") for k in fixes})
    assert len(expected) == 979
    live = store.live_files(store.table("c.s.villages"))
    assert live is not None and live.deleted()  # repeated localities were marked, not copied
    ours = {r["place"]: (r["line"], r["note"]) for r in store.read("c.s.villages").to_pylist()}
    table = DeltaTable(str(store.path("c.s.villages")))
    theirs = pa.RecordBatchReader.from_stream(table.scan()).read_all().to_pylist()
    assert ours == expected and len(theirs) == 979
    assert {r["place"]: (r["line"], r["note"]) for r in theirs} == expected
    assert tables.count("c.s.villages") == 979


def test_relocated_keys_name_their_new_file_and_a_colliding_hash_keeps_every_holder() -> None:
    from lakecrew.adapters.local.key_index import KeyIndex

    hashes = np.array([5, 5, 9, 12], np.uint64)
    index = KeyIndex.build(hashes, 1, None, np.array([0, 1, 1, 0]), [("a",), ("b",)])
    index.relocate(np.array([5, 9], np.uint64), ("n",))
    assert index.holders(np.array([9], np.uint64)) == ["n"]  # held once: moved
    assert index.holders(np.array([5], np.uint64)) == ["a", "b", "n"]  # a collision: all kept
    assert index.holders(np.array([12], np.uint64)) == ["a"]  # untouched


def test_a_replay_whose_commits_were_cleaned_up_uses_the_checkpoint_or_says_what_is_missing(
    tables: DeltaTableStore, store: DeltaStore
) -> None:
    from lakecrew.core.errors import DataError

    location = store.path(NAME)
    old = LiveFiles.at(location, store.version(NAME))
    tables.merge(NAME, _rows(["k0-1", "k1-1"], 2), ["case_id"])
    tables.merge(NAME, _rows(["k0-2"], 3), ["case_id"])
    version = store.version(NAME)
    DeltaTable(str(location)).create_checkpoint()
    logs = location / "_delta_log"
    for v in range(version):  # what a log clean-up after the checkpoint removes
        (logs / f"{v:020d}.json").unlink()
    assert LiveFiles.at(location, version, old).adds == LiveFiles.at(location, version).adds
    (logs / f"{version:020d}.checkpoint.parquet").unlink()
    with pytest.raises(DataError, match=r"cannot replay the Delta log to version \d+: 0+\.json"):
        LiveFiles.at(location, version)
