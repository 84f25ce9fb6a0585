"""Unity Catalog information_schema views rendered from the SQLite metastore as Arrow tables.

Column names follow databricks-contract.md 1.11. Grants that have expired are not effective,
so they do not appear in the *_PRIVILEGES views (the Grants port still lists them, marked
expired). As on Databricks, each privileges view lists a securable's own grants
(`inherited_from` NULL here, 'NONE' there) and those it inherits from its schema and catalog.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pyarrow as pa

from lakecrew.adapters.local.metastore_base import _dt
from lakecrew.core.errors import NotFound
from lakecrew.ports.catalog import Grant


class SqliteMetastore(Protocol):
    """What the views read of the metastore (its rows, grants and table names)."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]: ...

    def list_grants(
        self,
        securable_name: str | None = None,
        *,
        principal: str | None = None,
        include_expired: bool = True,
    ) -> list[Grant]: ...

    def table_names(self, catalog: str | None = None, schema: str | None = None) -> list[str]: ...

    def absolute_location(self, stored: str | None) -> str | None: ...


S = pa.string()
TS = pa.timestamp("us", tz="UTC")


def _schema(*cols: str | tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([(c, S) if isinstance(c, str) else c for c in cols])


SCHEMAS: dict[str, pa.Schema] = {
    "catalogs": _schema("catalog_name", "catalog_owner", "comment", ("created", TS)),
    "schemata": _schema("catalog_name", "schema_name", "schema_owner", "comment", ("created", TS)),
    "tables": _schema(
        "table_catalog", "table_schema", "table_name", "table_type", "is_insertable_into",
        "commit_action", "table_owner", "comment", ("created", TS), "created_by",
        ("last_altered", TS), "last_altered_by", "data_source_format", "storage_sub_directory",
        "storage_path",
    ),
    "columns": _schema(
        "table_catalog", "table_schema", "table_name", "column_name",
        ("ordinal_position", pa.int32()), "column_default", "is_nullable", "full_data_type",
        "data_type", "comment",
    ),
    "table_tags": _schema("catalog_name", "schema_name", "table_name", "tag_name", "tag_value"),
    "column_tags": _schema(
        "catalog_name", "schema_name", "table_name", "column_name", "tag_name", "tag_value"
    ),
    "column_masks": _schema(
        "catalog_name", "schema_name", "table_name", "column_name", "mask_catalog",
        "mask_schema", "mask_name", "mask_col_usage",
    ),
    "table_privileges": _schema(
        "grantor", "grantee", "table_catalog", "table_schema", "table_name", "privilege_type",
        "is_grantable", "inherited_from",
    ),
    "schema_privileges": _schema(
        "grantor", "grantee", "catalog_name", "schema_name", "privilege_type", "is_grantable",
        "inherited_from",
    ),
    "catalog_privileges": _schema(
        "grantor", "grantee", "catalog_name", "privilege_type", "is_grantable", "inherited_from",
    ),
}  # fmt: skip

VIEWS = tuple(SCHEMAS)


def _cat_filter(catalog: str | None, col: str = "catalog_name") -> tuple[str, tuple[Any, ...]]:
    return (f" WHERE {col} = ?", (catalog,)) if catalog else ("", ())


def _catalogs(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    w, p = _cat_filter(catalog, "name")
    rows = ms.rows(f"SELECT name, owner, comment, created_at FROM catalogs{w} ORDER BY 1", p)
    return [(r[0], r[1], r[2], _dt(r[3])) for r in rows]


def _schemata(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    w, p = _cat_filter(catalog)
    rows = ms.rows(
        f"SELECT catalog_name, name, owner, comment, created_at FROM schemas{w} ORDER BY 1, 2", p
    )
    return [(*tuple(r)[:4], _dt(r[4])) for r in rows]


def _tables(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    w, p = _cat_filter(catalog)
    rows = ms.rows(f"SELECT * FROM tables{w} ORDER BY 1, 2, 3", p)
    return [
        (r["catalog_name"], r["schema_name"], r["name"], r["table_type"],
         "NO" if r["catalog_name"] == "system" or r["table_type"] == "VIEW" else "YES",
         "PRESERVE", r["owner"], r["comment"], _dt(r["created_at"]), r["owner"],
         _dt(r["updated_at"]), r["owner"], r["data_source_format"], None,
         ms.absolute_location(r["storage_location"]))
        for r in rows
    ]  # fmt: skip


def _columns(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    w, p = _cat_filter(catalog)
    rows = ms.rows(f"SELECT * FROM columns{w} ORDER BY 1, 2, 3, position", p)
    return [
        (r["catalog_name"], r["schema_name"], r["table_name"], r["name"], r["position"], None,
         "YES" if r["nullable"] else "NO", r["type_text"],
         r["type_text"].split("<")[0].split("(")[0].upper(), r["comment"])
        for r in rows
    ]  # fmt: skip


def _table_tags(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    w, p = _cat_filter(catalog)
    w = (w + " AND" if w else " WHERE") + " column_name = ''"
    rows = ms.rows(
        f"SELECT catalog_name, schema_name, table_name, tag_name, tag_value FROM tags{w} "
        "ORDER BY 1, 2, 3, 4",
        p,
    )
    return [tuple(r) for r in rows]


def _column_tags(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    w, p = _cat_filter(catalog)
    w = (w + " AND" if w else " WHERE") + " column_name <> ''"
    rows = ms.rows(
        "SELECT catalog_name, schema_name, table_name, column_name, tag_name, tag_value "
        f"FROM tags{w} ORDER BY 1, 2, 3, 4, 5",
        p,
    )
    return [tuple(r) for r in rows]


def _column_masks(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    import json

    w, p = _cat_filter(catalog)
    w = (w + " AND" if w else " WHERE") + " mask IS NOT NULL"
    rows = ms.rows(f"SELECT * FROM columns{w} ORDER BY 1, 2, 3, position", p)
    out = []
    for r in rows:
        mc, msch, mn = r["mask"].split(".")
        using = json.loads(r["mask_using"])
        out.append(
            (r["catalog_name"], r["schema_name"], r["table_name"], r["name"], mc, msch, mn,
             ",".join(using) if using else None)
        )  # fmt: skip
    return out


_Levels = tuple[tuple[str, str, str | None], ...]


def _privileges(
    ms: SqliteMetastore, names: Sequence[str], levels: Callable[[str], _Levels]
) -> list[tuple[Any, ...]]:
    """Each securable's effective grants: its own (inherited_from NULL), then those of the
    levels above it (grants indexed by securable, so a view costs securables + grants, not
    their product)."""
    by_securable: dict[tuple[str, str], list[Grant]] = {}
    for g in ms.list_grants(include_expired=False):
        by_securable.setdefault((g.securable_type, g.securable_name), []).append(g)
    out: list[tuple[Any, ...]] = []
    for full in names:
        for stype, name, inherited in levels(full):
            for g in by_securable.get((stype, name), ()):
                out.append((g.granted_by, g.principal, *full.split("."), g.privilege, "NO",
                            inherited))  # fmt: skip
    return out


def _table_levels(full: str) -> _Levels:
    cat, sch, _ = full.split(".")
    return (("TABLE", full, None), ("SCHEMA", f"{cat}.{sch}", "SCHEMA"),
            ("CATALOG", cat, "CATALOG"))  # fmt: skip


def _schema_levels(full: str) -> _Levels:
    return (("SCHEMA", full, None), ("CATALOG", full.split(".", maxsplit=1)[0], "CATALOG"))


def _table_privileges(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    return _privileges(ms, ms.table_names(catalog), _table_levels)


def _schema_privileges(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    w, p = _cat_filter(catalog)
    rows = ms.rows(f"SELECT catalog_name, name FROM schemas{w} ORDER BY 1, 2", p)
    return _privileges(ms, [f"{r[0]}.{r[1]}" for r in rows], _schema_levels)


def _catalog_privileges(ms: SqliteMetastore, catalog: str | None) -> list[tuple[Any, ...]]:
    w, p = _cat_filter(catalog, "name")
    names = [r[0] for r in ms.rows(f"SELECT name FROM catalogs{w} ORDER BY 1", p)]
    return _privileges(ms, names, lambda c: (("CATALOG", c, None),))


_RENDER: dict[str, Callable[[SqliteMetastore, str | None], Sequence[tuple[Any, ...]]]] = {
    "catalogs": _catalogs,
    "schemata": _schemata,
    "tables": _tables,
    "columns": _columns,
    "table_tags": _table_tags,
    "column_tags": _column_tags,
    "column_masks": _column_masks,
    "table_privileges": _table_privileges,
    "schema_privileges": _schema_privileges,
    "catalog_privileges": _catalog_privileges,
}


def render(ms: SqliteMetastore, view: str, catalog: str | None) -> pa.Table:
    """The view's rows as an Arrow table with the view's schema."""
    if view not in _RENDER:
        raise NotFound(
            f"information_schema view {view!r} is not available locally",
            where="information_schema",
            fix="available views: " + ", ".join(VIEWS),
        )
    schema = SCHEMAS[view]
    rows = _RENDER[view](ms, catalog)
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(list(c), type=f.type) for c, f in zip(cols, schema, strict=True)], schema=schema
    )
