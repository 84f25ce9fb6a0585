"""DeltaStore: write helpers, schema checks before writing, reading and history."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.core.errors import Conflict, DataError, NotFound, SchemaMismatch, UsageError

T = "main.sales.orders"
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("qty", pa.int64()),
        pa.field("amt", pa.float64()),
        pa.field("price", pa.decimal128(38, 18)),
        pa.field("at", pa.timestamp("us", tz="UTC")),
    ]
)


def rows(ids: list[int], qty: int = 1) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "qty": pa.array([qty] * n, pa.int64()),
            "amt": pa.array([1.5] * n),
            "price": pa.array([decimal.Decimal("0.55")] * n, pa.decimal128(38, 18)),
            "at": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC")),
        }
    )


@pytest.fixture
def table(store: DeltaStore) -> str:
    store.create_table(T, SCHEMA)
    return T


def test_layout_is_catalog_schema_table(store: DeltaStore, table: str) -> None:
    assert store.path(table) == store.root / "main" / "sales" / "orders"
    assert store.list_tables() == [T]
    assert store.list_tables("main", "sales") == [T]
    assert store.list_tables("other") == []
    assert store.version(table) == 0


def test_append_overwrite_merge_and_history(store: DeltaStore, table: str) -> None:
    assert store.append(table, rows([1, 2])).version == 1
    result = store.merge(table, rows([2, 3], qty=7), ["id"])
    assert (result.version, result.operation, result.attempts) == (2, "MERGE", 1)
    assert result.metrics["num_target_rows_updated"] == 1
    assert result.metrics["num_target_rows_inserted"] == 1
    got = store.read(table).sort_by("id")
    assert got.column("id").to_pylist() == [1, 2, 3]
    assert got.column("qty").to_pylist() == [1, 7, 7]
    assert store.overwrite(table, rows([9])).version == 3
    assert store.read(table).column("id").to_pylist() == [9]
    assert store.read(table, version=1).num_rows == 2
    ops = [h["operation"] for h in store.history(table)]
    assert ops[:3] == ["WRITE", "MERGE", "WRITE"]


def test_merge_delete_missing_and_delete(store: DeltaStore, table: str) -> None:
    store.append(table, rows([1, 2, 3]))
    store.merge(table, rows([2, 4]), ["id"], delete_missing=True)
    assert sorted(store.read(table).column("id").to_pylist()) == [2, 4]
    store.delete(table, "id = 2")
    assert store.read(table).column("id").to_pylist() == [4]


def test_float_into_int_refused_not_truncated(store: DeltaStore, table: str) -> None:
    bad = rows([1]).set_column(1, "qty", pa.array([9.7]))
    with pytest.raises(SchemaMismatch, match=r"main\.sales\.orders\.qty.*truncated"):
        store.append(table, bad)
    assert store.version(table) == 0


def test_string_into_number_refused(store: DeltaStore, table: str) -> None:
    bad = rows([1]).set_column(2, "amt", pa.array(["1.5"]))
    with pytest.raises(SchemaMismatch, match=r"orders\.amt.*text into a number"):
        store.append(table, bad)


def test_float_into_decimal_refused(store: DeltaStore, table: str) -> None:
    bad = rows([1]).set_column(3, "price", pa.array([0.55]))
    with pytest.raises(SchemaMismatch, match=r"orders\.price"):
        store.append(table, bad)


def test_naive_timestamp_refused(store: DeltaStore, table: str) -> None:
    bad = rows([1]).set_column(4, "at", pa.array([datetime(2026, 1, 1)], pa.timestamp("us")))
    with pytest.raises(SchemaMismatch, match=r"orders\.at.*UTC"):
        store.append(table, bad)


def test_missing_column_refused_unless_merge_schema(store: DeltaStore, table: str) -> None:
    with pytest.raises(SchemaMismatch, match=r"orders\.amt.*missing"):
        store.append(table, rows([1]).drop_columns(["amt"]))
    store.append(table, rows([1]).drop_columns(["amt"]), merge_schema=True)
    assert store.read(table).column("amt").to_pylist() == [None]


def test_extra_column_refused_unless_merge_schema(store: DeltaStore, table: str) -> None:
    extra = rows([1]).append_column("note", pa.array(["x"]))
    with pytest.raises(SchemaMismatch, match=r"orders\.note.*not in the table"):
        store.append(table, extra)
    store.append(table, extra, merge_schema=True)
    assert "note" in store.schema(table).names


def test_merge_would_drop_new_source_column_is_refused(store: DeltaStore, table: str) -> None:
    store.append(table, rows([1]))
    extra = rows([1, 2]).append_column("note", pa.array(["x", "y"]))
    with pytest.raises(SchemaMismatch, match=r"orders\.note"):
        store.merge(table, extra, ["id"])
    store.merge(table, extra, ["id"], merge_schema=True)
    got = store.read(table).sort_by("id")
    assert got.column("note").to_pylist() == ["x", "y"]


def test_null_in_not_null_column_refused(store: DeltaStore, table: str) -> None:
    bad = rows([1, 2]).set_column(0, "id", pa.array([1, None], pa.int64()))
    with pytest.raises(SchemaMismatch, match=r"orders\.id.*NOT NULL"):
        store.append(table, bad)
    with pytest.raises(SchemaMismatch, match=r"orders\.id.*NOT NULL"):
        store.merge(table, bad, ["id"])


def test_streamed_write_with_bad_batch_commits_nothing(store: DeltaStore, table: str) -> None:
    good, bad = rows([1, 2]), rows([3]).set_column(0, "id", pa.array([None], pa.int64()))
    reader = pa.RecordBatchReader.from_batches(good.schema, [*good.to_batches(), *bad.to_batches()])
    with pytest.raises(SchemaMismatch, match="NOT NULL"):
        store.append(table, reader)
    assert store.version(table) == 0
    assert store.read(table).num_rows == 0


def test_streamed_append_commits_once(store: DeltaStore, table: str) -> None:
    batches = [b for i in range(5) for b in rows([i * 10 + j for j in range(10)]).to_batches()]
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, batches)
    assert store.append(table, reader).version == 1
    assert store.read(table).num_rows == 50


def test_safe_widenings_allowed(store: DeltaStore, table: str) -> None:
    data = rows([1, 2])
    data = data.set_column(0, "id", pa.array([1, 2], pa.int32()))
    data = data.set_column(1, "qty", pa.array([3, 4], pa.int8()))
    data = data.set_column(2, "amt", pa.array([1.5, 2.5], pa.float32()))
    data = data.set_column(3, "price", pa.array([decimal.Decimal("1.5")] * 2, pa.decimal128(10, 2)))
    data = data.set_column(4, "at", pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 2,
                                             pa.timestamp("ms", tz="UTC")))  # fmt: skip
    store.append(table, data.select(["qty", "id", "amt", "price", "at"]))  # column order free
    got = store.read(table)
    assert got.schema.field("id").type == pa.int64()
    assert sorted(got.column("qty").to_pylist()) == [3, 4]


def test_narrowing_int_and_decimal_refused(store: DeltaStore, table: str) -> None:
    wide = rows([1]).set_column(3, "price", pa.array([decimal.Decimal("1")], pa.decimal128(38, 20)))
    with pytest.raises(SchemaMismatch, match=r"orders\.price.*rounded"):
        store.append(table, wide)
    store.create_table("main.sales.small", pa.schema([("n", pa.int32())]))
    with pytest.raises(SchemaMismatch, match=r"small\.n.*narrowing"):
        store.append("main.sales.small", pa.table({"n": pa.array([1], pa.int64())}))


def test_merge_duplicate_keys_and_bad_keys(store: DeltaStore, table: str) -> None:
    with pytest.raises(DataError, match="more than once"):
        store.merge(table, rows([1, 1]), ["id"])
    with pytest.raises(UsageError, match="not in the data"):
        store.merge(table, rows([1]), ["nope"])
    with pytest.raises(UsageError):
        store.merge(table, rows([1]), [])


def test_create_twice_and_unknown_table(store: DeltaStore, table: str) -> None:
    with pytest.raises(Conflict, match="already exists"):
        store.create_table(table, SCHEMA)
    assert store.create_table(table, SCHEMA, exist_ok=True) == 0
    with pytest.raises(SchemaMismatch, match=r"lacks or retypes column\(s\) \['x'\]"):
        store.create_table(table, pa.schema([("x", pa.int64())]), exist_ok=True)
    with pytest.raises(SchemaMismatch, match=r"\['qty'\]"):
        store.create_table(table, pa.schema([("qty", pa.string())]), exist_ok=True)
    assert store.create_table(table, pa.schema([("id", pa.int64())]), exist_ok=True) == 0
    with pytest.raises(NotFound, match=r"main\.sales\.nope.*main\.sales\.orders"):
        store.append("main.sales.nope", rows([1]))
    with pytest.raises(UsageError, match="three-part"):
        store.path("orders")


def test_only_delta_properties_reach_the_log(store: DeltaStore) -> None:
    store.create_table(
        "main.s.t",
        pa.schema([("a", pa.int64())]),
        properties={"delta.appendOnly": "true", "team": "x"},
    )
    config = store.table("main.s.t").metadata().configuration
    assert config.get("delta.appendOnly") == "true"
    assert "team" not in config


def test_a_table_dropped_and_recreated_is_not_served_from_the_open_cache(
    store: DeltaStore,
) -> None:
    import shutil

    name = "c.s.cached"
    store.create_table(name, pa.schema([("a", pa.int64())]))
    store.append(name, pa.table({"a": [1, 2]}))
    assert store.table(name).version() == 1  # now held open
    shutil.rmtree(store.path(name))  # dropped behind the store's back, then recreated
    store.create_table(name, pa.schema([("b", pa.string())]))
    assert store.schema(name).names == ["b"]
    assert store.read(name).num_rows == 0
    store.append(name, pa.table({"b": ["x"]}))
    assert store.version(name) == 1 and store.read(name).num_rows == 1
