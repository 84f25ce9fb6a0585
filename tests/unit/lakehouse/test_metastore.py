"""SQLite metastore: UC information model, tags, masks, grants with expiry, lineage, views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.core.errors import NotFound, UsageError
from lakecrew.ports.catalog import ColumnInfo, Grant, LineageEdge, TableInfo
from lakecrew.ports.clock import FixedClock

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def ms(tmp_path: Path) -> SqliteMetastore:
    return SqliteMetastore(tmp_path / "m.db", clock=FixedClock(T0))


def orders(owner: str = "alice", **kw: object) -> TableInfo:
    cols = (
        ColumnInfo("id", "bigint", nullable=False),
        ColumnInfo("email", "string", tags={"pii": "email"}),
    )
    return TableInfo("Main.Sales.Orders", owner=owner, comment="orders", columns=cols, **kw)  # type: ignore[arg-type]


def test_register_and_get_normalises_names(ms: SqliteMetastore) -> None:
    info = ms.register_table(orders(properties={"quality": "gold"}, tags={"team": "fin"}))
    assert info.full_name == "main.sales.orders"
    assert (info.catalog_name, info.schema_name, info.name) == ("main", "sales", "orders")
    got = ms.get_table("MAIN.sales.orders")
    assert got.owner == "alice" and got.comment == "orders"
    assert got.properties == {"quality": "gold"} and got.tags == {"team": "fin"}
    assert [(c.name, c.position, c.nullable) for c in got.columns] == [
        ("id", 0, False),
        ("email", 1, True),
    ]
    assert got.column("EMAIL") is not None and got.column("EMAIL").tags == {"pii": "email"}  # type: ignore[union-attr]
    assert got.created_at == T0 and got.updated_at == T0
    assert ms.list_catalogs() == ["main"] and ms.list_schemas() == ["main.sales"]


def test_reregister_keeps_governance_metadata(ms: SqliteMetastore) -> None:
    ms.register_table(orders())
    ms.set_column("main.sales.orders", "email", comment="contact", mask="main.gov.mask_email")
    ms.set_tags("main.sales.orders", {"team": "fin"})
    cols = (ColumnInfo("id", "bigint"), ColumnInfo("email", "string"), ColumnInfo("amt", "double"))
    got = ms.register_table(TableInfo("main.sales.orders", owner="bob", columns=cols))
    email = got.column("email")
    assert email is not None
    assert (email.comment, email.mask, dict(email.tags)) == (
        "contact",
        "main.gov.mask_email",
        {"pii": "email"},
    )
    assert got.owner == "bob" and got.comment == "orders" and got.tags == {"team": "fin"}
    assert [c.name for c in got.columns] == ["id", "email", "amt"]
    dropped = ms.register_table(TableInfo("main.sales.orders", owner="bob", columns=cols[:1]))
    assert [c.name for c in dropped.columns] == ["id"]
    assert ms.information_schema("column_tags").num_rows == 0


def test_tags_merge_replace_and_column_tags(ms: SqliteMetastore) -> None:
    ms.register_table(orders())
    ms.set_tags("main.sales.orders", {"a": "1", "b": "2"})
    assert ms.set_tags("main.sales.orders", {"b": "3"}).tags == {"a": "1", "b": "3"}
    assert ms.set_tags("main.sales.orders", {"c": "4"}, merge=False).tags == {"c": "4"}
    info = ms.set_tags("main.sales.orders", {"class": "restricted"}, column="email")
    assert info.column("email").tags == {"pii": "email", "class": "restricted"}  # type: ignore[union-attr]
    with pytest.raises(NotFound, match=r"'nope'.*columns: id, email"):
        ms.set_tags("main.sales.orders", {"x": "y"}, column="nope")


def test_masks_and_update_table(ms: SqliteMetastore) -> None:
    ms.register_table(orders())
    col = ms.set_column("main.sales.orders", "email", mask="main.gov.m", mask_using=["id"])
    assert (col.mask, col.mask_using) == ("main.gov.m", ("id",))
    masks = ms.information_schema("column_masks", "main").to_pylist()
    assert masks == [
        {"catalog_name": "main", "schema_name": "sales", "table_name": "orders",
         "column_name": "email", "mask_catalog": "main", "mask_schema": "gov",
         "mask_name": "m", "mask_col_usage": "id"}
    ]  # fmt: skip
    assert ms.set_column("main.sales.orders", "email", clear_mask=True).mask is None
    with pytest.raises(UsageError, match="three-part"):
        ms.set_column("main.sales.orders", "email", mask="m")
    info = ms.update_table("main.sales.orders", owner="carol", properties={"p": "1"})
    assert info.owner == "carol" and info.properties == {"p": "1"}


def test_unknown_table_lists_schema(ms: SqliteMetastore) -> None:
    ms.register_table(orders())
    with pytest.raises(NotFound, match=r"main\.sales\.nope.*main\.sales\.orders"):
        ms.get_table("main.sales.nope")
    ms.drop_table("main.sales.orders")
    assert ms.list_tables() == []


def test_grants_with_expiry_are_reported_expired(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    ms = SqliteMetastore(tmp_path / "g.db", clock=clock)
    ms.register_table(orders())
    ms.grant(Grant("bob", "select", "table", "main.sales.orders", granted_by="alice",
                   expires_at=T0 + timedelta(days=1)))  # fmt: skip
    ms.grant(Grant("data-eng", "USE_SCHEMA", "SCHEMA", "main.sales", granted_by="alice"))
    assert [g.expired for g in ms.list_grants("main.sales.orders")] == [False]
    assert ms.information_schema("table_privileges").num_rows == 2
    clock.advance(days=2)
    grants = ms.list_grants("main.sales.orders")
    assert len(grants) == 1 and grants[0].expired and grants[0].privilege == "SELECT"
    assert ms.list_grants("main.sales.orders", include_expired=False) == []
    privs = ms.information_schema("table_privileges").to_pylist()
    assert [(p["grantee"], p["inherited_from"]) for p in privs] == [("data-eng", "SCHEMA")]
    ms.grant(Grant("readers", "USE_CATALOG", "CATALOG", "main", granted_by="alice"))
    schema_privs = ms.information_schema("schema_privileges", "main").to_pylist()
    assert [(p["schema_name"], p["grantee"], p["inherited_from"]) for p in schema_privs] == [
        ("sales", "data-eng", None), ("sales", "readers", "CATALOG")
    ]  # fmt: skip
    [cat] = ms.information_schema("catalog_privileges").to_pylist()
    assert (cat["catalog_name"], cat["privilege_type"], cat["inherited_from"]) == (
        "main",
        "USE_CATALOG",
        None,
    )
    assert [g.principal for g in ms.list_grants(principal="data-eng")] == ["data-eng"]
    assert ms.revoke("bob", "select", "TABLE", "main.sales.orders") is True
    assert ms.revoke("bob", "select", "TABLE", "main.sales.orders") is False
    with pytest.raises(UsageError, match="needs 3 part"):
        ms.grant(Grant("bob", "SELECT", "TABLE", "orders"))
    with pytest.raises(UsageError, match="securable type"):
        ms.grant(Grant("bob", "SELECT", "SHARE", "x"))


def test_lineage_edges(ms: SqliteMetastore) -> None:
    ms.record(LineageEdge("main.raw.a", "main.silver.b", "JOB", "42", "7"))
    ms.record(LineageEdge("main.silver.b", "main.gold.c", "PIPELINE", "p1"))
    assert [e.source for e in ms.edges("main.silver.b", direction="upstream")] == ["main.raw.a"]
    assert [e.target for e in ms.edges("main.silver.b", direction="downstream")] == ["main.gold.c"]
    both = ms.edges("main.silver.b")
    assert len(both) == 2 and both[0].event_time == T0 and both[0].entity_run_id == "7"
    assert len(ms.edges()) == 2


def test_information_schema_views(ms: SqliteMetastore) -> None:
    ms.register_table(orders(tags={"team": "fin"}))
    ms.register_table(TableInfo("other.s.t", owner="x", columns=(ColumnInfo("a", "int"),)))
    tables = ms.information_schema("tables", "main").to_pylist()
    assert [(t["table_name"], t["table_owner"], t["commit_action"]) for t in tables] == [
        ("orders", "alice", "PRESERVE")
    ]
    assert ms.information_schema("tables").num_rows == 2
    cols = ms.information_schema("columns", "main").to_pylist()
    assert [(c["column_name"], c["ordinal_position"], c["is_nullable"]) for c in cols] == [
        ("id", 0, "NO"),
        ("email", 1, "YES"),
    ]
    assert ms.information_schema("table_tags").to_pylist()[0]["tag_value"] == "fin"
    assert ms.information_schema("column_tags").to_pylist()[0]["column_name"] == "email"
    with pytest.raises(NotFound, match="available views"):
        ms.information_schema("volumes")


def test_metastore_is_shared_between_connections(tmp_path: Path) -> None:
    a = SqliteMetastore(tmp_path / "m.db")
    b = SqliteMetastore(tmp_path / "m.db")
    a.register_table(orders())
    assert b.get_table("main.sales.orders").owner == "alice"
    mode = a.rows("PRAGMA journal_mode")[0][0]
    assert mode == "wal"
