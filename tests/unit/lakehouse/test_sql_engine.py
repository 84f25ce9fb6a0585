"""LocalSqlEngine: three-part names, system.*, information_schema, params, read-only, cost query."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.adapters.local.system_tables import ensure_system_tables
from lakecrew.core.errors import NotFound, SafetyRefusal, SchemaMismatch, UsageError
from lakecrew.core.system_tables import SYSTEM_TABLES
from lakecrew.ports.catalog import TableInfo
from lakecrew.ports.sql import SqlEngine

COST_SQL = """
SELECT u.billing_origin_product,
       u.custom_tags['cost_center']                      AS cost_center,
       SUM(u.usage_quantity)                             AS usage_qty,
       SUM(u.usage_quantity * lp.pricing.effective_list.default) AS list_cost,
       MAX(lp.currency_code)                             AS currency
FROM system.billing.usage u
LEFT JOIN system.billing.list_prices lp
  ON  u.sku_name   = lp.sku_name
  AND u.cloud      = lp.cloud
  AND u.usage_unit = lp.usage_unit
  AND u.usage_end_time >= lp.price_start_time
  AND (lp.price_end_time IS NULL OR u.usage_end_time < lp.price_end_time)
WHERE u.usage_date >= :since
GROUP BY ALL
ORDER BY 1
"""


def ts(day: int, hour: int, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def usage(rid: str, sku: str, qty: str, kind: str, end: datetime, *, cc: str = "cc-1") -> dict:
    return {
        "account_id": "acc", "workspace_id": "100", "record_id": rid, "sku_name": sku,
        "cloud": "AWS", "usage_start_time": end.replace(hour=end.hour - 1),
        "usage_end_time": end, "usage_date": end.date(), "custom_tags": [("cost_center", cc)],
        "usage_unit": "DBU", "usage_quantity": Decimal(qty),
        "usage_metadata": {"job_id": "42"}, "record_type": kind,
        "ingestion_date": end.date(), "billing_origin_product": sku.split("_", maxsplit=1)[0],
    }  # fmt: skip


def price(sku: str, p: str, start: datetime, end: datetime | None, cloud: str = "AWS") -> dict:
    return {
        "account_id": "acc", "price_start_time": start, "price_end_time": end, "sku_name": sku,
        "cloud": cloud, "currency_code": "USD", "usage_unit": "DBU",
        "pricing": {"default": Decimal(p), "effective_list": {"default": Decimal(p)}},
    }  # fmt: skip


@pytest.fixture
def billing(engine: LocalSqlEngine) -> LocalSqlEngine:
    ensure_system_tables(engine.store, engine.metastore)
    rows = [
        usage("r1", "JOBS_COMPUTE", "10.5", "ORIGINAL", ts(10, 11)),
        usage("r1x", "JOBS_COMPUTE", "-10.5", "RETRACTION", ts(10, 11)),
        usage("r1y", "JOBS_COMPUTE", "8.25", "RESTATEMENT", ts(10, 11)),
        usage("r2", "JOBS_COMPUTE", "4", "ORIGINAL", ts(1, 11, month=2)),
        usage("r3", "SQL_PRO", "3", "ORIGINAL", ts(12, 5), cc="cc-2"),  # no price: kept
        usage("r0", "JOBS_COMPUTE", "1000", "ORIGINAL", ts(1, 5, month=1)),  # before :since
    ]
    prices = [
        price("JOBS_COMPUTE", "0.55", ts(1, 0, month=1), ts(15, 0)),
        price("JOBS_COMPUTE", "0.65", ts(15, 0), None),
        price("JOBS_COMPUTE", "9.99", ts(1, 0, month=1), None, cloud="AZURE"),
    ]
    store = engine.store
    usage_schema = SYSTEM_TABLES["system.billing.usage"]
    store.append("system.billing.usage", pa.Table.from_pylist(rows, schema=usage_schema))
    store.append(
        "system.billing.list_prices",
        pa.Table.from_pylist(prices, schema=SYSTEM_TABLES["system.billing.list_prices"]),
    )
    return engine


def test_engine_satisfies_the_port(engine: LocalSqlEngine) -> None:
    port: SqlEngine = engine
    port.save_table("main.s.t", pa.table({"a": [1, 2]}))
    assert port.fetch("SELECT sum(a) FROM main.s.t").scalar() == 3


def test_cost_query_with_corrections_is_exact(billing: LocalSqlEngine) -> None:
    result = billing.fetch(COST_SQL, {"since": date(2026, 1, 5)}).as_dicts()
    assert result == [
        {"billing_origin_product": "JOBS", "cost_center": "cc-1", "usage_qty": Decimal("12.25"),
         "list_cost": Decimal("7.137500"), "currency": "USD"},  # 8.25*0.55 + 4*0.65
        {"billing_origin_product": "SQL", "cost_center": "cc-2", "usage_qty": Decimal("3"),
         "list_cost": None, "currency": None},
    ]  # fmt: skip


def test_system_tables_count_and_struct_access(billing: LocalSqlEngine) -> None:
    assert billing.fetch("SELECT count(*) FROM system.billing.usage").scalar() == 6
    sql = "SELECT count(*) FROM system.billing.usage WHERE usage_metadata.job_id = :job"
    assert billing.fetch(sql, {"job": "42"}).scalar() == 6
    sql = "SELECT usage.record_id FROM system.billing.usage WHERE record_type = 'RETRACTION'"
    assert billing.fetch(sql).rows == (("r1x",),)


def test_information_schema_through_sql(billing: LocalSqlEngine) -> None:
    sql = ("SELECT table_name, table_owner FROM system.information_schema.tables "
           "WHERE table_schema = 'billing' ORDER BY 1")  # fmt: skip
    assert billing.fetch(sql).rows == (("list_prices", "system"), ("usage", "system"))
    billing.save_table("main.sales.orders", pa.table({"id": [1]}))
    rows = billing.fetch("SELECT table_name FROM main.information_schema.tables").rows
    assert rows == (("orders",),)
    cols = billing.fetch(
        "SELECT column_name, full_data_type FROM system.information_schema.columns "
        "WHERE table_name = 'list_prices' AND column_name = 'pricing'"
    ).scalar()
    assert cols == "pricing"


def test_three_part_names_ctes_and_time_travel(engine: LocalSqlEngine) -> None:
    engine.save_table("main.sales.orders", pa.table({"id": [1, 2], "amt": [1.5, 2.5]}))
    engine.save_table("main.sales.orders", pa.table({"id": [3], "amt": [3.5]}))
    sql = ("WITH big AS (SELECT * FROM main.sales.orders o WHERE amt > :min) "
           "SELECT count(*) AS n FROM big")  # fmt: skip
    assert engine.fetch(sql, {"min": 2.0}).as_dicts() == [{"n": 2}]
    assert engine.fetch("SELECT count(*) FROM main.sales.orders VERSION AS OF 1").scalar() == 2
    assert engine.fetch_arrow("SELECT * FROM main.sales.orders ORDER BY id").num_rows == 3
    batches = list(engine.stream("SELECT * FROM main.sales.orders", batch_rows=1))
    assert sum(b.num_rows for b in batches) == 3


def test_unknown_table_names_schema_contents(engine: LocalSqlEngine) -> None:
    engine.save_table("main.sales.orders", pa.table({"id": [1]}))
    with pytest.raises(NotFound, match=r"main\.sales\.nope.*main\.sales\.orders"):
        engine.fetch("SELECT * FROM main.sales.nope")
    with pytest.raises(UsageError, match="three-part"):
        engine.fetch("SELECT * FROM orders")
    engine.metastore.register_table(TableInfo("main.sales.returns", "x"))  # metadata only
    with pytest.raises(NotFound, match=r"main\.sales\.returns is registered .* holds no data"):
        engine.fetch("SELECT * FROM main.sales.returns")
    with pytest.raises(UsageError, match="one SQL statement"):
        engine.fetch("SELECT 1; SELECT 2")


def test_params_are_bound_not_spliced(engine: LocalSqlEngine) -> None:
    engine.save_table("main.s.people", pa.table({"name": ["a", "b'; DROP TABLE x; --"]}))
    sql = "SELECT count(*) FROM main.s.people WHERE name = :n"
    assert engine.fetch(sql, {"n": "b'; DROP TABLE x; --"}).scalar() == 1
    assert engine.fetch(sql, {"n": "' OR '1'='1"}).scalar() == 0


def test_a_project_folder_with_a_quote_in_its_name(tmp_path: Path) -> None:
    """DuckDB may read the lakehouse folder only; that folder's name is written into the
    setting as a SQL literal, so a quote in it neither breaks the engine nor widens access."""
    layout = ProjectLayout(tmp_path / "it's data").ensure()
    metastore = SqliteMetastore(layout.metastore_path)
    engine = LocalSqlEngine(DeltaStore.for_project(layout), metastore, writable=True)
    try:
        engine.save_table("main.s.t", pa.table({"x": [1, 2]}))
        assert engine.fetch("SELECT sum(x) FROM main.s.t").scalar() == 3  # DuckDB's own scan
        setting = engine._con.execute("SELECT current_setting('allowed_directories')")
        assert f"{engine.store.root.resolve()}/" in setting.fetchone()[0]  # (and DuckDB's temp)
    finally:
        engine.close()
        metastore.close()


def test_read_only_by_default(store: DeltaStore, metastore: SqliteMetastore) -> None:
    ro = LocalSqlEngine(store, metastore)
    for sql in ("INSERT INTO main.s.t VALUES (1)", "DELETE FROM main.s.t",
                "DROP TABLE main.s.t", "CREATE TABLE main.s.t AS SELECT 1 AS a",
                "UPDATE main.s.t SET a = 1"):  # fmt: skip
        with pytest.raises(SafetyRefusal, match="read-only"):
            ro.execute(sql)
    with pytest.raises(SafetyRefusal, match="read-only"):
        ro.save_table("main.s.t", pa.table({"a": [1]}))
    with pytest.raises(UsageError, match=r"table function .* is not allowed"):
        ro.fetch("SELECT * FROM read_csv('/etc/hostname')")
    assert store.list_tables() == []


def test_writable_sql_insert_and_ctas(engine: LocalSqlEngine) -> None:
    engine.execute("CREATE TABLE main.s.t AS SELECT 1 AS a, 'x' AS b")
    engine.execute("INSERT INTO main.s.t SELECT a + 1, b FROM main.s.t")
    engine.execute("INSERT INTO main.s.t VALUES (:a, :b)", {"a": 10, "b": "z"})
    assert engine.fetch("SELECT sum(a) FROM main.s.t").scalar() == 13
    with pytest.raises(SchemaMismatch, match="1 column"):
        engine.execute("INSERT INTO main.s.t SELECT 1")
    with pytest.raises(UsageError, match="already exists"):
        engine.execute("CREATE TABLE main.s.t AS SELECT 1 AS a")
    engine.execute("CREATE OR REPLACE TABLE main.s.t AS SELECT 5 AS a, 'y' AS b")
    assert engine.fetch("SELECT a, b FROM main.s.t").rows == ((5, "y"),)
    with pytest.raises(UsageError, match="not supported"):
        engine.execute("DELETE FROM main.s.t")
    with pytest.raises(SafetyRefusal, match="system tables"):
        engine.save_table("system.billing.usage", pa.table({"a": [1]}))
    assert engine.metastore.get_table("main.s.t").owner == "lakecrew"


def test_save_table_refuses_lossy_append(engine: LocalSqlEngine) -> None:
    engine.save_table("main.s.n", pa.table({"n": pa.array([1], pa.int64())}))
    with pytest.raises(SchemaMismatch, match=r"main\.s\.n\.n"):
        engine.save_table("main.s.n", pa.table({"n": [9.7]}))
    assert engine.fetch("SELECT n FROM main.s.n").rows == ((1,),)


def test_day_numbering_follows_databricks(engine: LocalSqlEngine) -> None:
    # 2026-11-29 is a Sunday, 2026-11-28 a Saturday, 2026-11-30 a Monday.
    row = engine.fetch(
        "SELECT dayofweek(DATE'2026-11-29') AS sun, dayofweek(DATE'2026-11-28') AS sat, "
        "weekday(DATE'2026-11-30') AS mon_wd, weekday(DATE'2026-11-29') AS sun_wd"
    ).as_dicts()[0]
    assert row == {"sun": 1, "sat": 7, "mon_wd": 0, "sun_wd": 6}


def test_integer_sums_are_bigint_as_on_databricks(engine: LocalSqlEngine) -> None:
    engine.save_table(
        "c.s.n", pa.table({"g": ["a", "a", "b"], "x": pa.array([1, 2, 3], pa.int32())})
    )
    sql = (
        "SELECT g, SUM(x) AS total, CAST(SUM(x) AS DECIMAL(38, 0)) AS exact, COUNT(*) AS n "
        "FROM c.s.n GROUP BY g ORDER BY g"
    )
    got = engine.fetch_arrow(sql)
    assert got.schema.field("total").type == pa.int64()  # DuckDB's HUGEINT, Spark's BIGINT
    assert got.schema.field("exact").type == pa.decimal128(38, 0)  # asked for: kept
    assert got.column("total").to_pylist() == [3, 3]
    over = engine.query_tables(
        "SELECT SUM(x) AS s FROM t", {"t": pa.table({"x": pa.array([1], pa.int64())})}
    )
    assert over.schema.field("s").type == pa.int64()
