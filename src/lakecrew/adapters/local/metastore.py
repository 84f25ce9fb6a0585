"""SQLite metastore with Unity Catalog's information model (Catalog, Grants and Lineage ports).

Catalogs, schemas, tables (owner, comment, properties, tags, location, type), columns (type,
comment, tags, mask), grants (with an optional expiry) and lineage edges, in one SQLite file
(WAL, foreign keys on). `information_schema(view)` renders the UC information-schema views as
Arrow tables for the SQL engine.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa

from lakecrew.adapters.local import metastore_views
from lakecrew.adapters.local.metastore_base import GrantsAndLineage, _dt, _ts
from lakecrew.core.errors import NotFound, UsageError
from lakecrew.ports.catalog import ColumnInfo, TableInfo, parse_full_name


class SqliteMetastore(GrantsAndLineage):
    """Unity Catalog's information model in SQLite; implements Catalog, Grants and Lineage.

    Constructor: `SqliteMetastore(path, *, clock=None, read_only=False, external_locations=False)`
    (clock defaults to the system clock; `read_only` opens without writing anything, also on a
    read-only file system; tables are registered only inside the project unless
    `external_locations`).
    """

    # ------------------------------------------------------------ catalogs and schemas

    def ensure_schema(
        self, catalog: str, schema: str, *, owner: str = "lakecrew", comment: str | None = None
    ) -> None:
        """Create the catalog and schema if absent (existing ones are left unchanged)."""
        cat, sch = catalog.lower(), schema.lower()
        with self._tx() as c:
            self._ensure_schema(c, cat, sch, owner, comment)

    def _ensure_schema(
        self, c: sqlite3.Connection, cat: str, sch: str, owner: str, comment: str | None
    ) -> None:
        now = self._now()
        c.execute(
            "INSERT OR IGNORE INTO catalogs VALUES (?, ?, NULL, ?)",
            (cat, owner, now),
        )
        c.execute(
            "INSERT OR IGNORE INTO schemas VALUES (?, ?, ?, ?, ?)",
            (cat, sch, owner, comment, now),
        )

    def list_catalogs(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM catalogs ORDER BY name")]

    def list_schemas(self, catalog: str | None = None) -> list[str]:
        rows = self._conn.execute(
            "SELECT catalog_name || '.' || name FROM schemas "
            "WHERE ? IS NULL OR catalog_name = ? ORDER BY 1",
            (catalog and catalog.lower(), catalog and catalog.lower()),
        )
        return [r[0] for r in rows]

    # ------------------------------------------------------------ Catalog port

    def list_tables(self, catalog: str | None = None, schema: str | None = None) -> list[TableInfo]:
        """Tables, optionally of one catalog / schema, sorted by full name."""
        cat = catalog.lower() if catalog else None
        sch = schema.lower() if schema else None
        return self._load_many(
            "(? IS NULL OR catalog_name = ?) AND (? IS NULL OR schema_name = ?)",
            (cat, cat, sch, sch),
        )

    def table_names(self, catalog: str | None = None, schema: str | None = None) -> list[str]:
        """Full names only (cheap)."""
        cat = catalog.lower() if catalog else None
        sch = schema.lower() if schema else None
        rows = self._conn.execute(
            "SELECT catalog_name || '.' || schema_name || '.' || name FROM tables WHERE "
            "(? IS NULL OR catalog_name = ?) AND (? IS NULL OR schema_name = ?) ORDER BY 1",
            (cat, cat, sch, sch),
        )
        return [r[0] for r in rows]

    def get_table(self, full_name: str) -> TableInfo:
        cat, sch, tbl = parse_full_name(full_name)
        found = self._conn.execute(
            "SELECT 1 FROM tables WHERE catalog_name=? AND schema_name=? AND name=?",
            (cat, sch, tbl),
        ).fetchone()
        if not found:
            existing = self.table_names(cat, sch)
            raise NotFound(
                f"table {cat}.{sch}.{tbl} is not registered",
                where=f"metastore {cat}.{sch}",
                fix="tables in this schema: " + (", ".join(existing) or "none"),
            )
        return self._load(cat, sch, tbl)

    def has_table(self, full_name: str) -> bool:
        cat, sch, tbl = parse_full_name(full_name)
        return bool(
            self._conn.execute(
                "SELECT 1 FROM tables WHERE catalog_name=? AND schema_name=? AND name=?",
                (cat, sch, tbl),
            ).fetchone()
        )

    def _load(self, cat: str, sch: str, tbl: str) -> TableInfo:
        return self._load_many("catalog_name=? AND schema_name=? AND {t}=?", (cat, sch, tbl))[0]

    def _load_many(self, where: str, params: tuple[Any, ...]) -> list[TableInfo]:
        """The tables matching `where` (over catalog_name, schema_name and `{t}`, the table
        name column) with their tags and columns: three queries whatever the number of tables."""
        tables = self._conn.execute(
            f"SELECT * FROM tables WHERE {where.format(t='name')} ORDER BY 1, 2, 3", params
        ).fetchall()
        tags: dict[tuple[str, str, str], dict[str, dict[str, str]]] = {}
        for r in self._conn.execute(
            "SELECT catalog_name, schema_name, table_name, column_name, tag_name, tag_value "
            f"FROM tags WHERE {where.format(t='table_name')} ORDER BY tag_name",
            params,
        ):
            key = (r[0], r[1], r[2])
            tags.setdefault(key, {}).setdefault(r["column_name"], {})[r["tag_name"]] = r[5]
        cols: dict[tuple[str, str, str], list[ColumnInfo]] = {}
        for r in self._conn.execute(
            f"SELECT * FROM columns WHERE {where.format(t='table_name')} ORDER BY position",
            params,
        ):
            key = (r["catalog_name"], r["schema_name"], r["table_name"])
            cols.setdefault(key, []).append(
                ColumnInfo(
                    name=r["name"],
                    type_text=r["type_text"],
                    nullable=bool(r["nullable"]),
                    comment=r["comment"],
                    tags=tags.get(key, {}).get(r["name"], {}),
                    mask=r["mask"],
                    position=r["position"],
                    mask_using=tuple(json.loads(r["mask_using"])),
                )
            )
        out = []
        for t in tables:
            key = (t["catalog_name"], t["schema_name"], t["name"])
            out.append(
                TableInfo(
                    full_name=".".join(key),
                    owner=t["owner"],
                    comment=t["comment"],
                    table_type=t["table_type"],
                    storage_location=self.absolute_location(t["storage_location"]),
                    data_source_format=t["data_source_format"],
                    properties=json.loads(t["properties"]),
                    tags=tags.get(key, {}).get("", {}),
                    columns=tuple(cols.get(key, ())),
                    created_at=_dt(t["created_at"]),
                    updated_at=_dt(t["updated_at"]),
                )
            )
        return out

    def register_table(self, info: TableInfo) -> TableInfo:
        """Create or update a table.

        On update, owner/type/location/format/properties come from `info` (and the comment
        when `info.comment` is not None); tags in
        `info` are merged over existing ones; the column list is replaced by `info.columns`, but
        each surviving column keeps its existing comment, tags and mask unless `info` sets them.
        """
        cat, sch, tbl = parse_full_name(info.full_name)
        self.check_location(info.full_name, info.storage_location)
        now_dt = self.clock.now()
        now = _ts(now_dt)
        with self._tx() as c:
            self._ensure_schema(c, cat, sch, info.owner, None)
            old = c.execute(
                "SELECT created_at FROM tables WHERE catalog_name=? AND schema_name=? AND name=?",
                (cat, sch, tbl),
            ).fetchone()
            created = old["created_at"] if old else _ts(info.created_at or now_dt)
            c.execute(
                "INSERT INTO tables VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                "owner=excluded.owner, comment=coalesce(excluded.comment, comment),"
                " table_type=excluded.table_type,"
                " data_source_format=excluded.data_source_format,"
                " storage_location=excluded.storage_location, properties=excluded.properties,"
                " updated_at=excluded.updated_at",
                (cat, sch, tbl, info.owner, info.comment, info.table_type,
                 info.data_source_format, self.stored_location(info.storage_location),
                 json.dumps(dict(info.properties), sort_keys=True), created, now),
            )  # fmt: skip
            self._replace_columns(c, (cat, sch, tbl), info.columns)
            for name, value in info.tags.items():
                self._put_tag(c, (cat, sch, tbl), "", name, value)
        return self._load(cat, sch, tbl)

    def _replace_columns(
        self, c: sqlite3.Connection, key: tuple[str, str, str], columns: Sequence[ColumnInfo]
    ) -> None:
        old = {
            r["name"].lower(): r
            for r in c.execute(
                "SELECT * FROM columns WHERE catalog_name=? AND schema_name=? AND table_name=?",
                key,
            )
        }
        keep = {col.name.lower() for col in columns}
        for name in old.keys() - keep:
            c.execute(
                "DELETE FROM tags WHERE catalog_name=? AND schema_name=? AND table_name=? "
                "AND column_name=?",
                (*key, old[name]["name"]),
            )
            c.execute(
                "DELETE FROM columns WHERE catalog_name=? AND schema_name=? AND table_name=? "
                "AND name=?",
                (*key, old[name]["name"]),
            )
        for pos, col in enumerate(columns):
            prev = old.get(col.name.lower())
            comment = col.comment if col.comment is not None else (prev and prev["comment"])
            mask = col.mask if col.mask is not None else (prev and prev["mask"])
            using = (
                list(col.mask_using)
                if col.mask
                else json.loads(prev["mask_using"] if prev else "[]")
            )
            c.execute(
                "INSERT INTO columns VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                "position=excluded.position, type_text=excluded.type_text,"
                " nullable=excluded.nullable, comment=excluded.comment, mask=excluded.mask,"
                " mask_using=excluded.mask_using",
                (*key, col.name, pos, col.type_text, int(col.nullable), comment, mask,
                 json.dumps(using)),
            )  # fmt: skip
            for name, value in col.tags.items():
                self._put_tag(c, key, col.name, name, value)

    def _put_tag(
        self, c: sqlite3.Connection, key: tuple[str, str, str], column: str, name: str, value: str
    ) -> None:
        c.execute(
            "INSERT INTO tags VALUES (?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
            "tag_value=excluded.tag_value",
            (*key, column, name, value),
        )

    def update_table(
        self,
        full_name: str,
        *,
        owner: str | None = None,
        comment: str | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> TableInfo:
        """Change owner, comment or (merge) properties of a registered table."""
        info = self.get_table(full_name)
        props = {**info.properties, **(properties or {})}
        new = replace(
            info,
            owner=owner if owner is not None else info.owner,
            comment=comment if comment is not None else info.comment,
            properties=props,
            tags={},
        )
        return self.register_table(new)

    def set_tags(
        self,
        full_name: str,
        tags: Mapping[str, str],
        *,
        column: str | None = None,
        merge: bool = True,
    ) -> TableInfo:
        """Set table tags (or a column's tags); `merge=False` replaces the whole tag set."""
        info = self.get_table(full_name)
        key = parse_full_name(full_name)
        col_name = ""
        if column is not None:
            col = info.column(column)
            if col is None:
                raise NotFound(
                    f"column {column!r} not in {info.full_name}",
                    where=info.full_name,
                    fix="columns: " + ", ".join(c.name for c in info.columns),
                )
            col_name = col.name
        with self._tx() as c:
            if not merge:
                c.execute(
                    "DELETE FROM tags WHERE catalog_name=? AND schema_name=? AND table_name=? "
                    "AND column_name=?",
                    (*key, col_name),
                )
            for name, value in tags.items():
                self._put_tag(c, key, col_name, name, value)
            self._touch(c, key)
        return self.get_table(full_name)

    def set_column(
        self,
        full_name: str,
        column: str,
        *,
        comment: str | None = None,
        mask: str | None = None,
        mask_using: Sequence[str] = (),
        clear_mask: bool = False,
    ) -> ColumnInfo:
        """Set a column's comment and/or mask function (`clear_mask=True` drops the mask)."""
        info = self.get_table(full_name)
        col = info.column(column)
        if col is None:
            raise NotFound(
                f"column {column!r} not in {info.full_name}",
                where=info.full_name,
                fix="columns: " + ", ".join(c.name for c in info.columns),
            )
        if mask is not None and len(mask.split(".")) != 3:
            raise UsageError(
                f"mask function {mask!r} is not a three-part name",
                where=f"{info.full_name}.{col.name}",
                fix="name the function as catalog.schema.function",
            )
        key = parse_full_name(full_name)
        new_mask = None if clear_mask else (mask if mask is not None else col.mask)
        using = [] if clear_mask else (list(mask_using) if mask else list(col.mask_using))
        with self._tx() as c:
            c.execute(
                "UPDATE columns SET comment=?, mask=?, mask_using=? WHERE catalog_name=? AND "
                "schema_name=? AND table_name=? AND name=?",
                (comment if comment is not None else col.comment, new_mask, json.dumps(using),
                 *key, col.name),
            )  # fmt: skip
            self._touch(c, key)
        found = self.get_table(full_name).column(col.name)
        assert found is not None
        return found

    def _touch(self, c: sqlite3.Connection, key: tuple[str, str, str]) -> None:
        c.execute(
            "UPDATE tables SET updated_at=? WHERE catalog_name=? AND schema_name=? AND name=?",
            (self._now(), *key),
        )

    def drop_table(self, full_name: str) -> None:
        """Unregister a table (its tags, columns and table grants go with it)."""
        self.get_table(full_name)
        key = parse_full_name(full_name)
        with self._tx() as c:
            c.execute("DELETE FROM tables WHERE catalog_name=? AND schema_name=? AND name=?", key)
            c.execute(
                "DELETE FROM grants WHERE securable_type='TABLE' AND securable_name=?",
                (".".join(key),),
            )

    # ------------------------------------------------------------ information_schema

    def information_schema(self, view: str, catalog: str | None = None) -> pa.Table:
        """One UC information_schema view as Arrow (`catalog` None = all catalogs)."""
        return metastore_views.render(self, view.lower(), catalog.lower() if catalog else None)
