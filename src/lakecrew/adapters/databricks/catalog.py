"""DatabricksCatalog: the Catalog, Grants, MaskFunctions and Lineage ports over Unity Catalog.

Reads use the SDK (`tables.get/list`, `grants.get`) plus information_schema SQL for tags
(`<catalog>.information_schema.table_tags` / `column_tags`) and `system.access.table_lineage`
for lineage. Writes follow the API's limits: `tables.update` only changes the owner, so
comments, properties, tags and column masks change through SQL statements on the warehouse,
with backtick-quoted identifiers and escaped literals (DDL takes no parameter markers).
`securable_type` is sent as a plain string. Mask functions are read with `functions.get`
(`routine_definition` is the body) and created with `CREATE FUNCTION`. Lineage is recorded
by Databricks itself, so `record()` is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from databricks.sdk.service.catalog import PermissionsChange
from databricks.sdk.service.catalog import TableInfo as SdkTable

from lakecrew.adapters.databricks.client import DatabricksClient, guarded
from lakecrew.adapters.databricks.sql import (
    quote_full_name,
    quote_ident,
    sql_string,
)
from lakecrew.core.errors import NotFound, SafetyRefusal, UsageError
from lakecrew.ports.catalog import (
    ColumnInfo,
    FunctionDef,
    Grant,
    LineageEdge,
    TableInfo,
    parse_full_name,
    same_body,
)
from lakecrew.ports.sql import SqlEngine

_PARTS_TO_TYPE = {1: "CATALOG", 2: "SCHEMA", 3: "TABLE"}


class DatabricksCatalog:
    """Catalog + Grants + Lineage over Unity Catalog (SDK + SQL on `sql`)."""

    def __init__(self, client: DatabricksClient, sql: SqlEngine) -> None:
        """``sql``: the warehouse (``DatabricksSqlEngine``), or a cluster's Spark session
        (``SparkCatalogEngine``: a Spark pipeline run on Databricks)."""
        self.client = client
        self.sql = sql

    # ------------------------------------------------------------ Catalog

    def _tags(
        self, cat: str, sch: str, tbl: str
    ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        info_schema = f"{quote_ident(cat)}.information_schema"
        where = "WHERE schema_name = :s AND table_name = :t"
        table_tags = self.sql.fetch(
            f"SELECT tag_name, tag_value FROM {info_schema}.table_tags {where}",
            {"s": sch, "t": tbl},
        )
        column_tags = self.sql.fetch(
            f"SELECT column_name, tag_name, tag_value FROM {info_schema}.column_tags {where}",
            {"s": sch, "t": tbl},
        )
        cols: dict[str, dict[str, str]] = {}
        for column, name, value in column_tags.rows:
            cols.setdefault(str(column), {})[str(name)] = str(value or "")
        return {str(n): str(v or "") for n, v in table_tags.rows}, cols

    def convert(self, t: SdkTable, with_tags: bool = True) -> TableInfo:
        """lakecrew's TableInfo of an SDK table (tags read per table when `with_tags`)."""
        return self.convert_json(t.as_dict(), with_tags)

    def convert_json(self, t: Mapping[str, Any], with_tags: bool = True) -> TableInfo:
        """lakecrew's TableInfo of a table's REST JSON (`tables.get` / `tables.list` item):
        the bulk listing reads the JSON pages as they come, without the SDK's dataclasses."""
        cat, sch, tbl = parse_full_name(str(t.get("full_name")))
        tags, col_tags = self._tags(cat, sch, tbl) if with_tags else ({}, {})
        columns = []
        for i, c in enumerate(t.get("columns") or []):
            mask = c.get("mask") or {}
            columns.append(
                ColumnInfo(
                    name=str(c.get("name")),
                    type_text=str(c.get("type_text") or ""),
                    nullable=bool(c["nullable"] if c.get("nullable") is not None else True),
                    comment=c.get("comment"),
                    tags=col_tags.get(str(c.get("name")), {}),
                    mask=mask.get("function_name") if mask else None,
                    position=int(c.get("position") or i),
                    mask_using=tuple(mask.get("using_column_names") or ()),
                )
            )
        return TableInfo(
            full_name=f"{cat}.{sch}.{tbl}",
            owner=str(t.get("owner") or ""),
            comment=t.get("comment"),
            table_type=str(t.get("table_type") or "MANAGED"),
            storage_location=t.get("storage_location"),
            data_source_format=str(t.get("data_source_format") or "DELTA"),
            properties=dict(t.get("properties") or {}),
            tags=tags,
            columns=tuple(columns),
        )

    def list_tables(self, catalog: str | None = None, schema: str | None = None) -> list[TableInfo]:
        """Tables of one schema; without a schema, of one catalog or the whole metastore (tags
        read in bulk: catalog_estate.py)."""
        if not schema:
            from lakecrew.adapters.databricks.catalog_estate import list_all_tables

            return list_all_tables(self, catalog)
        if not catalog:
            raise UsageError(f"name the catalog of schema {schema!r}")
        cat = catalog
        got = guarded(
            lambda: list(self.client.tables.list(cat, schema, max_results=0)),
            where=f"{catalog}.{schema}",
            action="tables.list",
        )
        return sorted((self.convert(t) for t in got), key=lambda t: t.full_name)

    def get_table(self, full_name: str) -> TableInfo:
        name = ".".join(parse_full_name(full_name))
        t = guarded(lambda: self.client.tables.get(name), where=name, action="tables.get")
        return self.convert(t)

    def register_table(self, info: TableInfo) -> TableInfo:
        """CREATE TABLE IF NOT EXISTS with the columns, then owner, comment, properties and
        tags (merged: SET TAGS without reading the table first), read back once."""
        target = quote_full_name(info.full_name)
        cols = ", ".join(f"{quote_ident(c.name)} {c.type_text}" for c in info.columns)
        self.sql.execute(f"CREATE TABLE IF NOT EXISTS {target} ({cols})")
        self._update(info.full_name, owner=info.owner, comment=info.comment,
                     properties=info.properties or None)  # fmt: skip
        if info.tags:
            pairs = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in info.tags.items())
            self.sql.execute(f"ALTER TABLE {target} SET TAGS ({pairs})")
        return self.get_table(info.full_name)

    def update_table(
        self,
        full_name: str,
        *,
        owner: str | None = None,
        comment: str | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> TableInfo:
        """Owner via tables.update; comment and properties via SQL."""
        self._update(full_name, owner=owner, comment=comment, properties=properties)
        return self.get_table(".".join(parse_full_name(full_name)))

    def _update(
        self,
        full_name: str,
        *,
        owner: str | None = None,
        comment: str | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> None:
        name, target = ".".join(parse_full_name(full_name)), quote_full_name(full_name)
        if owner is not None:
            guarded(lambda: self.client.tables.update(name, owner=owner), where=name,
                    action="tables.update")  # fmt: skip
        if comment is not None:
            self.sql.execute(f"COMMENT ON TABLE {target} IS {sql_string(comment)}")
        if properties:
            pairs = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in properties.items())
            self.sql.execute(f"ALTER TABLE {target} SET TBLPROPERTIES ({pairs})")

    def set_tags(
        self,
        full_name: str,
        tags: Mapping[str, str],
        *,
        column: str | None = None,
        merge: bool = True,
    ) -> TableInfo:
        """ALTER TABLE ... [ALTER COLUMN c] SET TAGS; merge=False first unsets the others."""
        info = self.get_table(full_name)
        prefix = f"ALTER TABLE {quote_full_name(full_name)}"
        current = dict(info.tags)
        if column is not None:
            col = info.column(column)
            if col is None:
                names = ", ".join(c.name for c in info.columns)
                raise NotFound(
                    f"column {column!r} not in {info.full_name}",
                    where=info.full_name,
                    fix=f"columns: {names}",
                )
            prefix += f" ALTER COLUMN {quote_ident(col.name)}"
            current = dict(col.tags)
        stale = [k for k in current if k not in tags] if not merge else []
        if stale:
            self.sql.execute(f"{prefix} UNSET TAGS ({', '.join(sql_string(k) for k in stale)})")
        if tags:
            pairs = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in tags.items())
            self.sql.execute(f"{prefix} SET TAGS ({pairs})")
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
        """Column comment and mask through ALTER TABLE ... ALTER COLUMN."""
        prefix = f"ALTER TABLE {quote_full_name(full_name)} ALTER COLUMN {quote_ident(column)}"
        if comment is not None:
            self.sql.execute(f"{prefix} COMMENT {sql_string(comment)}")
        if clear_mask:
            self.sql.execute(f"{prefix} DROP MASK")
        elif mask is not None:
            fn = ".".join(quote_ident(p) for p in mask.split("."))
            if len(mask.split(".")) != 3:
                raise UsageError(f"mask function {mask!r} is not a three-part name")
            using = (
                f" USING COLUMNS ({', '.join(quote_ident(c) for c in mask_using)})"
                if mask_using
                else ""
            )
            self.sql.execute(f"{prefix} SET MASK {fn}{using}")
        found = self.get_table(full_name).column(column)
        if found is None:
            raise NotFound(f"column {column!r} not in {full_name}", where=full_name)
        return found

    def drop_table(self, full_name: str) -> None:
        name = ".".join(parse_full_name(full_name))
        guarded(lambda: self.client.tables.delete(name), where=name, action="tables.delete")

    # ------------------------------------------------------------ Grants

    def list_grants(
        self, securable_name: str | None = None, *, principal: str | None = None,
        include_expired: bool = True,
    ) -> list[Grant]:  # fmt: skip
        """Direct grants on one securable; without one, the direct grants on every catalog,
        schema and table (system.information_schema.*_privileges). UC grants never expire."""
        if securable_name is None:
            from lakecrew.adapters.databricks.catalog_estate import list_direct_grants

            return list_direct_grants(self, principal)
        name = securable_name.lower()
        stype = _PARTS_TO_TYPE.get(len(name.split(".")))
        if stype is None:
            raise UsageError(f"{securable_name!r} is not a catalog, schema or table name")
        got = guarded(
            lambda: self.client.grants.get(stype, name, principal=principal),
            where=name,
            action="grants.get",
        )
        return [
            Grant(str(a.principal), p.value if hasattr(p, "value") else str(p), stype, name)
            for a in got.privilege_assignments or []
            for p in a.privileges or []
        ]

    def grant(self, grant: Grant) -> Grant:
        self._change(
            grant.securable_type, grant.securable_name, grant.principal, add=grant.privilege
        )
        return grant

    def revoke(
        self, principal: str, privilege: str, securable_type: str, securable_name: str
    ) -> bool:
        held = any(
            g.privilege == privilege.upper()
            for g in self.list_grants(securable_name, principal=principal)
        )
        if held:
            self._change(securable_type, securable_name, principal, remove=privilege)
        return held

    def _change(
        self, stype: str, name: str, principal: str, *, add: str = "", remove: str = ""
    ) -> None:
        change = PermissionsChange.from_dict(
            {"principal": principal, "add": [add.upper()] if add else [],
             "remove": [remove.upper()] if remove else []}
        )  # fmt: skip
        guarded(
            lambda: self.client.grants.update(stype.upper(), name.lower(), changes=[change]),
            where=name,
            action="grants.update",
        )

    # ------------------------------------------------------------ MaskFunctions

    def get_function(self, full_name: str) -> FunctionDef | None:
        name = ".".join(parse_full_name(full_name))
        try:
            fn = guarded(lambda: self.client.functions.get(name), where=name,
                         action="functions.get")  # fmt: skip
        except NotFound:
            return None
        params = (fn.input_params.parameters or []) if fn.input_params else []
        return FunctionDef(
            name,
            str(fn.routine_definition or ""),
            str(params[0].type_text or "STRING") if params else "STRING",
            str(fn.full_data_type or fn.data_type or "STRING"),
            fn.comment,
        )

    def create_function(self, fn: FunctionDef) -> FunctionDef:
        """CREATE FUNCTION when absent; the same body is a no-op, another body is refused."""
        have = self.get_function(fn.full_name)
        if have is not None:
            if not same_body(have.body, fn.body):
                raise SafetyRefusal(
                    f"function {have.full_name} already exists with another body",
                    where=have.full_name,
                    fix="compare it with `lakecrew govern plan`; drop or rename the existing "
                    "function, or point the mask table at another name",
                )
            return have
        comment = f" COMMENT {sql_string(fn.comment)}" if fn.comment else ""
        self.sql.execute(
            f"CREATE FUNCTION {quote_full_name(fn.full_name)}(value {fn.param_type}) "
            f"RETURNS {fn.returns}{comment} RETURN {fn.body}"
        )
        return fn

    # ------------------------------------------------------------ Lineage

    def record(self, edge: LineageEdge) -> None:
        raise UsageError(
            "Unity Catalog records lineage itself; lakecrew cannot write it",
            where=f"{edge.source} -> {edge.target}",
            fix="run the pipeline on Databricks compute so lineage is captured",
        )

    def edges(
        self, table: str | None = None, *,
        direction: Literal["upstream", "downstream", "both"] = "both",
    ) -> list[LineageEdge]:  # fmt: skip
        """Table-to-table edges from system.access.table_lineage."""
        where = {
            "upstream": "target_table_full_name = :t",
            "downstream": "source_table_full_name = :t",
            "both": "(source_table_full_name = :t OR target_table_full_name = :t)",
        }[direction]
        params: dict[str, Any] = {}
        sql = (
            "SELECT source_table_full_name, target_table_full_name, entity_type, entity_id, "
            "entity_run_id, event_time FROM system.access.table_lineage "
            "WHERE source_table_full_name IS NOT NULL AND target_table_full_name IS NOT NULL"
        )
        if table:
            sql += f" AND {where}"
            params["t"] = ".".join(parse_full_name(table))
        rows = self.sql.fetch(sql + " ORDER BY event_time", params)
        return [LineageEdge(str(r[0]), str(r[1]), r[2], r[3], r[4], r[5]) for r in rows.rows]


class RunLineage:
    """The Lineage port of a pipeline run on Databricks: Unity Catalog captures lineage itself
    (for what runs on Databricks compute), so ``record`` keeps nothing here; the runner writes
    the same edges to its records table (``<records schema>.access_table_lineage``).
    ``edges`` reads ``system.access.table_lineage`` through the catalog."""

    def __init__(self, catalog: DatabricksCatalog) -> None:
        self.catalog = catalog

    def record(self, edge: LineageEdge) -> None:
        return None

    def edges(
        self, table: str | None = None, *,
        direction: Literal["upstream", "downstream", "both"] = "both",
    ) -> list[LineageEdge]:  # fmt: skip
        return self.catalog.edges(table, direction=direction)
