"""Databricks SQL statements on Delta tables that both Unity Catalog stores send: the warehouse
one (``table_store.py``, sources are ``read_files`` of a staged file) and the Spark one on a
cluster (``adapters/spark/table_store.py``, sources are temporary views)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.adapters.databricks.sql import quote_ident, sql_string
from lakecrew.ports.tables import Maintenance

PII_COLUMNS = (
    "SELECT DISTINCT column_name FROM {catalog}.information_schema.column_tags "
    "WHERE schema_name = :s AND table_name = :t AND tag_name = 'pii'"
)
"""The columns of table ``:t`` in schema ``:s`` tagged ``pii`` (format with ``catalog``)."""


def pii_columns_sql(catalog: str) -> str:
    return PII_COLUMNS.format(catalog=quote_ident(catalog))


def cols(names: Sequence[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


def merge_sql(target: str, source: str, names: Sequence[str], keys: Sequence[str]) -> str:
    """One MERGE of ``source`` (a relation: a view or ``(SELECT ...)``) into ``target`` on
    ``keys``: matched rows updated, new ones inserted (rows with a null key never match)."""
    on = " AND ".join(f"t.{quote_ident(k)} = s.{quote_ident(k)}" for k in keys)
    update = ", ".join(f"t.{quote_ident(c)} = s.{quote_ident(c)}" for c in names if c not in keys)
    matched = f" WHEN MATCHED THEN UPDATE SET {update}" if update else ""
    inserted = ", ".join(f"s.{quote_ident(c)}" for c in names)
    return (
        f"MERGE INTO {target} AS t USING {source} AS s ON {on}{matched}"
        f" WHEN NOT MATCHED THEN INSERT ({cols(names)}) VALUES ({inserted})"
    )


def stats_sql(target: str, kept: Sequence[str]) -> list[str]:
    """Delta statistics only on ``kept`` columns, recomputed for the files already there."""
    return [
        f"ALTER TABLE {target} SET TBLPROPERTIES ("
        f"'delta.dataSkippingStatsColumns' = {sql_string(','.join(kept))})",
        f"ANALYZE TABLE {target} COMPUTE DELTA STATISTICS",
    ]


def optimize_sql(target: str, zorder_by: Sequence[str]) -> str:
    zorder = f" ZORDER BY ({cols(zorder_by)})" if zorder_by else ""
    return f"OPTIMIZE {target}{zorder}"


def vacuum_sql(target: str, retention_hours: int) -> str:
    return f"VACUUM {target} RETAIN {int(retention_hours)} HOURS"


def maintenance(
    full_name: str, raw_metrics: Any, zorder_by: Sequence[str], retention_hours: int
) -> Maintenance:
    """What OPTIMIZE's ``metrics`` (a struct, or its JSON text) says; Databricks SQL does not
    report how many files VACUUM removed (0)."""
    metrics = json.loads(raw_metrics) if isinstance(raw_metrics, str) else dict(raw_metrics or {})
    return Maintenance(
        table=full_name,
        files_removed=int(metrics.get("numFilesRemoved", 0) or 0),
        files_added=int(metrics.get("numFilesAdded", 0) or 0),
        zorder_by=tuple(zorder_by),
        vacuumed_files=0,
        retention_hours=retention_hours,
    )


def select_sql(
    target: str, columns: Sequence[str] | None, where: Mapping[str, str] | None
) -> tuple[str, dict[str, str]]:
    """``SELECT cols FROM target [WHERE col = :w0 AND ...]`` and its parameters."""
    picked = cols(columns) if columns else "*"
    params = {f"w{i}": v for i, v in enumerate((where or {}).values())}
    cond = " AND ".join(f"{quote_ident(k)} = :w{i}" for i, k in enumerate(where or {}))
    return f"SELECT {picked} FROM {target}" + (f" WHERE {cond}" if cond else ""), params


def probe_keys(probe: pa.Table, keys: Sequence[str]) -> pa.Table:
    """The distinct key tuples of ``probe`` without a null part (they never match)."""
    keyset = probe.select(list(keys)).group_by(list(keys)).aggregate([])
    for k in keys:
        keyset = keyset.filter(pc.is_valid(keyset.column(k)))
    return keyset


def no_rows(schema: pa.Schema | None, probe: pa.Schema, wanted: Sequence[str]) -> pa.Table:
    """An empty lookup result with the table's column types (the probe's when it is absent)."""
    source = schema if schema is not None else probe
    return pa.schema(
        [source.field(c) if c in source.names else pa.field(c, pa.null()) for c in wanted]
    ).empty_table()


def semi_join_sql(target: str, source: str, keys: Sequence[str], wanted: Sequence[str]) -> str:
    """``wanted`` columns of the rows of ``target`` whose ``keys`` a row of ``source`` has."""
    on = " AND ".join(f"t.{quote_ident(k)} = p.{quote_ident(k)}" for k in keys)
    picked = ", ".join(f"t.{quote_ident(c)}" for c in wanted)
    return f"SELECT {picked} FROM {target} AS t LEFT SEMI JOIN {source} AS p ON {on}"
