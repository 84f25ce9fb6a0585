"""Column masks are enforced by the local SQL engine (UC `SET MASK`), unless it is privileged."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import LocalSqlEngine, register
from lakecrew.core.column_masks import HASH, MASK_FUNCTIONS, PHONE_PARTIAL, REDACT, mask_function
from lakecrew.core.errors import NotFound, UsageError
from lakecrew.services.privacy.phone_mask import mask_phone

PHONES = [
    "+234 803 123 4589",
    "+22522477561",
    "+226 01041060",
    "0803 111 2222",
    "00234 803 123 4589",
    "+1 202 555 0143",
    "+7 495 123 45 67",
    "12345",
    "",
    "abc",
    None,
]
T = "main.bronze.people"


@pytest.fixture
def masked(store: DeltaStore, metastore: SqliteMetastore) -> str:
    data = pa.table(
        {
            "id": [f"{i:03d}" for i in range(len(PHONES))],
            "phone": PHONES,
            "name": [f"person {i}" for i in range(len(PHONES))],
            "age": list(range(len(PHONES))),
            "user": ["u1"] * len(PHONES),
        }
    )
    store.create_table(T, data.schema)
    store.append(T, data)
    register(store, metastore, T, owner="data-eng")
    metastore.set_column(T, "phone", mask=PHONE_PARTIAL)
    metastore.set_column(T, "name", mask=REDACT)
    metastore.set_column(T, "age", mask=HASH)  # a string mask on an int column redacts
    metastore.set_column(T, "user", mask="other.schema.unknown_fn")  # unknown: fails closed
    return T


def test_masked_columns_are_masked_for_every_query(
    masked: str, store: DeltaStore, metastore: SqliteMetastore
) -> None:
    eng = LocalSqlEngine(store, metastore)
    rows = eng.fetch(f"SELECT id, phone, name, age, user FROM {masked} ORDER BY id").as_dicts()
    assert [r["phone"] for r in rows] == [None if p is None else mask_phone(p) for p in PHONES]
    assert {r["name"] for r in rows} == {None}
    assert {r["age"] for r in rows} == {None}
    assert {r["user"] for r in rows} == {None}
    assert eng.fetch(f"SELECT count(*) FROM {masked} WHERE name LIKE 'person%'").scalar() == 0
    eng.close()


def test_privileged_engine_reads_stored_values(
    masked: str, store: DeltaStore, metastore: SqliteMetastore
) -> None:
    eng = LocalSqlEngine(store, metastore, privileged=True)
    phones = eng.fetch(f"SELECT phone FROM {masked} ORDER BY id").as_dicts()
    assert [r["phone"] for r in phones] == PHONES
    eng.close()


def test_copying_a_masked_table_copies_masked_values(masked: str, engine: LocalSqlEngine) -> None:
    engine.execute(f"CREATE TABLE main.s.copy AS SELECT * FROM {masked}")
    names = engine.fetch("SELECT DISTINCT name FROM main.s.copy").as_dicts()
    assert names == [{"name": None}]


def test_information_schema_lists_the_masks(masked: str, engine: LocalSqlEngine) -> None:
    rows = engine.fetch(
        "SELECT column_name, mask_catalog, mask_schema, mask_name "
        "FROM main.information_schema.column_masks ORDER BY column_name"
    ).rows
    assert ("phone", "lakecrew", "masks", "phone_partial") in rows
    assert ("name", "lakecrew", "masks", "redact") in rows


@pytest.mark.parametrize("fn", ["read_parquet('x.parquet')", "query_table('t')", "read_csv('a')"])
def test_file_readers_cannot_bypass_the_catalog(engine: LocalSqlEngine, fn: str) -> None:
    with pytest.raises(UsageError, match="not allowed"):
        engine.fetch(f"SELECT * FROM {fn}")
    assert engine.fetch("SELECT count(*) FROM range(3)").scalar() == 3


def test_mask_registry() -> None:
    assert mask_function("LAKECREW.MASKS.REDACT") is MASK_FUNCTIONS[REDACT]
    assert all(f.doc and f.name.count(".") == 2 for f in MASK_FUNCTIONS.values())
    with pytest.raises(NotFound, match="phone_partial"):
        mask_function("lakecrew.masks.nope")
