"""UnityCatalogTableStore: the TableStore port over Unity Catalog managed tables, by name.

A pipeline run with ``--workspace W`` (a ``backend: databricks`` workspace with a
``warehouse_id``) writes its tables as UC managed Delta tables ``catalog.schema.table``
through the workspace's SQL warehouse; nothing is written to a path:

- rows are staged as one Parquet file per write in a UC Volume through the Files API
  (``PUT /api/2.0/fs/files/Volumes/<catalog>/<schema>/<volume>/<table folder>/<file>``, single
  shot, at most 5 GiB; ``staging.VolumeStaging``) and loaded by ONE statement reading exactly
  that file with ``read_files(path, format => 'parquet')``: ``INSERT INTO t (cols) SELECT ...``
  (append), ``INSERT INTO t REPLACE WHERE <batch> SELECT ...`` (rewrite one batch), ``INSERT
  OVERWRITE`` (replace all), ``MERGE INTO t USING (...) ON <keys>`` (upsert). Each is one Delta
  commit, so a crash leaves the previous version readable; a crash after the upload and before
  the load leaves only an orphan file that no statement reads (every load names its own file),
  so a re-run adds its rows once. The staged file is deleted after the load; orphans of a
  crashed run are deleted by a later run once stale (rules in ``staging``);
- new columns are added with ``ALTER TABLE ... ADD COLUMNS`` before the load (``merge_schema``);
  a schema rewrite that drops or retypes columns is ``CREATE OR REPLACE TABLE ... AS SELECT``
  keeping the table's partitioning (``DESCRIBE DETAIL``);
- reads, lookups and counts are statements on the warehouse (a lookup stages the probe keys and
  semi-joins them); ``protect`` excludes PII-tagged columns from Delta statistics
  (``delta.dataSkippingStatsColumns``) and recomputes them (``ANALYZE TABLE ... COMPUTE DELTA
  STATISTICS``); ``maintain`` is ``OPTIMIZE [ZORDER BY]`` then ``VACUUM ... RETAIN n HOURS``
  (Databricks SQL does not report how many files VACUUM removed: ``vacuumed_files`` is 0);
- ``one_writer``: before each write to a covered table its latest version (``DESCRIBE
  HISTORY t LIMIT 1``) must be the one the block began with or this writer's own last commit,
  else Conflict and nothing is written. Writes return the new version for covered tables and
  -1 for others (not read). The check and the commit are two statements, and this is NOT
  atomic: Databricks SQL has no single statement that commits only on top of a given version
  (Delta's optimistic concurrency judges conflicts from the statement's own snapshot; DESCRIBE
  HISTORY cannot be a subquery). The race that remains, for a writer on another machine (the
  pipeline's writer lock covers one): a commit landing after the check and before the load
  statement reads its snapshot is not seen — an append (INSERT) lands on top of it (two runs
  appending the same bronze batch both succeed: that batch's rows twice), while MERGE, REPLACE
  WHERE and INSERT OVERWRITE re-apply this batch on top (per batch, the same result as the
  two runs one after the other). A commit landing after the snapshot and before the commit
  may be refused by Delta itself for those three (ConcurrentAppend/ConcurrentDelete, depending
  on the isolation level and row-level concurrency), never for a blind append. A commit
  between this write's commit and the version read after it is taken as this writer's.
  After the fact it shows in ``DESCRIBE HISTORY``: two WRITE commits from two runs for the
  same batch, which the next run's check does not repair. The atomic way exists only as a
  preview: multi-statement transactions (``BEGIN ATOMIC ... END`` on a SQL warehouse, Public
  Preview), for tables with catalog-managed commits (``delta.feature.catalogManaged``) — not
  used here (a preview feature every pipeline table would need; the emulator cannot check its
  isolation);
- lakecrew's own record tables (``system.*`` — read-only on Databricks — and ``lakecrew.*``)
  are written to ``<records catalog>.<records schema>.<schema>_<table>`` (``uc_name``), e.g.
  ``lassa_dev.lakecrew.lakeflow_job_run_timeline``; the staging volume lives in that schema.

Secrets never pass through here. ``CRASH_POINT`` is called after each upload ("staged") and
each load ("loaded"): tests replace it to stop a run at a chosen write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import pyarrow as pa

from lakecrew.adapters.databricks.client import DatabricksClient, guarded
from lakecrew.adapters.databricks.delta_sql import (
    maintenance,
    merge_sql,
    no_rows,
    optimize_sql,
    pii_columns_sql,
    probe_keys,
    select_sql,
    semi_join_sql,
    stats_sql,
    vacuum_sql,
)
from lakecrew.adapters.databricks.sql import (
    DatabricksSqlEngine,
    column_type,
    quote_full_name,
    quote_ident,
    sql_string,
)
from lakecrew.adapters.databricks.staging import VolumeStaging
from lakecrew.core.errors import Conflict, DataError, TableMissing
from lakecrew.ports.catalog import ColumnInfo, parse_full_name
from lakecrew.ports.tables import Maintenance, RowChanges

RECORD_CATALOGS = ("system", "lakecrew")
"""Catalogs of lakecrew's own record tables, written under the records schema instead."""


def _no_crash(step: str) -> None:
    return None


CRASH_POINT: Callable[[str], None] = _no_crash


class UnityCatalogTableStore:
    """Pipeline tables as Unity Catalog managed tables, written through one SQL warehouse.

    ``records_schema`` (``catalog.schema``) holds lakecrew's record tables and the staging
    volume ``volume``; the catalogs must exist (schemas and the volume are created if absent).
    """

    concurrent_tables = False
    """One write at a time (see the TableStore port)."""

    def __init__(
        self,
        client: DatabricksClient,
        sql: DatabricksSqlEngine,
        *,
        records_schema: str,
        volume: str = "lakecrew_staging",
        stale_after_seconds: float | None = None,
    ) -> None:
        parts = records_schema.split(".")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"records_schema must be catalog.schema, not {records_schema!r}")
        self.client = client
        self.sql = sql
        self.records_schema = records_schema
        self.volume = f"{records_schema}.{volume}"
        self._schemas: set[str] = set()
        self.staging = VolumeStaging(
            client,
            sql,
            self.volume,
            ensure_schema=self._ensure_schema,
            stale_after_seconds=stale_after_seconds,
        )
        self._known: dict[str, pa.Schema] = {}
        self._present: set[str] = set()  # tables this store created, wrote or found
        self._got: dict[str, Any] = {}  # one tables.get answer shared by columns and location
        self._fence: dict[str, int | None] | None = None

    # ------------------------------------------------------------ names

    def uc_name(self, full_name: str) -> str:
        """The UC table a name is written to (record tables go under the records schema)."""
        cat, sch, tbl = parse_full_name(full_name)
        if cat in RECORD_CATALOGS:
            return f"{self.records_schema}.{sch}_{tbl}"
        return f"{cat}.{sch}.{tbl}"

    def _q(self, full_name: str) -> str:
        return quote_full_name(self.uc_name(full_name))

    # ------------------------------------------------------------ one writer

    @contextmanager
    def one_writer(self, tables: Iterable[str], writer: str) -> Iterator[None]:
        names = [self.uc_name(t) for t in dict.fromkeys(tables)]
        self._fence = {n: self._version(n) if self._exists(n) else None for n in names}
        try:
            yield
        finally:
            self._fence = None

    def _check_fence(self, name: str) -> None:
        if self._fence is None or name not in self._fence:
            return
        expected = self._fence[name]
        current = self._version(name) if self._exists(name) else None
        if current != expected:
            raise Conflict(
                f"{name} was written by another writer during this run (version {expected} "
                f"→ {current})",
                where=name,
                fix="let the other run finish, then run again (nothing of this write was "
                "committed)",
            )

    def _adopt(self, name: str) -> int:
        """The version this writer just committed, for a table under ``one_writer`` (read with
        DESCRIBE HISTORY); -1 for other tables (not read: a statement per write saved)."""
        if self._fence is None or name not in self._fence:
            return -1
        version = self._version(name)
        self._fence[name] = version
        return version

    def _version(self, name: str) -> int:
        got = self.sql.fetch(f"DESCRIBE HISTORY {quote_full_name(name)} LIMIT 1")
        return int(got.rows[0][got.columns.index("version")]) if got.rows else -1

    # ------------------------------------------------------------ TableStore port

    def exists(self, full_name: str) -> bool:
        return self._exists(self.uc_name(full_name))

    def _exists(self, name: str) -> bool:
        if name in self._known or name in self._present:
            return True
        got = guarded(lambda: self.client.tables.exists(name), where=name, action="tables.exists")
        if got.table_exists:
            self._present.add(name)
        return bool(got.table_exists)

    def schema(self, full_name: str) -> pa.Schema | None:
        name = self.uc_name(full_name)
        if name not in self._known:
            try:
                self._known[name] = self.sql.fetch_arrow(
                    f"SELECT * FROM {quote_full_name(name)} LIMIT 0"
                ).schema
            except TableMissing:
                return None
        return self._known[name]

    def create(
        self,
        full_name: str,
        schema: pa.Schema,
        *,
        partition_by: Sequence[str] = (),
        stats_columns: Sequence[str] | None = None,
    ) -> None:
        # stats_columns: a local-engine hint; the cluster/warehouse keep Delta's default
        name = self.uc_name(full_name)
        _check_names(name, None, list(schema))
        if self._exists(name):
            self._check_fence(name)
            return
        self._ensure_schema(name)
        cols = ", ".join(f"{quote_ident(f.name)} {column_type(f.type)}" for f in schema)
        parts = (
            f" PARTITIONED BY ({', '.join(quote_ident(c) for c in partition_by)})"
            if partition_by
            else ""
        )
        props = f" TBLPROPERTIES ({COLUMN_MAPPING})" if _needs_mapping(schema.names) else ""
        self.sql.execute(
            f"CREATE TABLE IF NOT EXISTS {quote_full_name(name)} ({cols}) USING DELTA{parts}{props}"
        )
        self._known.pop(name, None)
        self._present.add(name)
        self._adopt(name)

    def append(self, full_name: str, data: pa.Table, *, merge_schema: bool = False) -> int:
        name = self.uc_name(full_name)
        if not self._exists(name):
            self.create(full_name, data.schema)
        self._check_fence(name)
        if merge_schema:
            self._add_columns(name, data.schema)
        if data.num_rows:
            cols = _cols(data.schema)
            self._load(
                name, data, lambda src: f"INSERT INTO {quote_full_name(name)} ({cols}) {src}"
            )
        return self._adopt(name)

    def replace(
        self,
        full_name: str,
        data: pa.Table,
        *,
        where: Mapping[str, str] | None = None,
        overwrite_schema: bool = False,
    ) -> int:
        name = self.uc_name(full_name)
        target = quote_full_name(name)
        self._check_fence(name)
        if overwrite_schema:
            self._rewrite_schema(name, data)
            return self._adopt(name)
        cond = " AND ".join(f"{quote_ident(k)} = {sql_string(v)}" for k, v in (where or {}).items())
        if not data.num_rows:  # nothing to load: one DELETE is the same single commit
            self.sql.execute(f"DELETE FROM {target}" + (f" WHERE {cond}" if cond else ""))
            return self._adopt(name)
        cols = _cols(data.schema)
        if cond:  # REPLACE WHERE takes no column list on every release: table order, by position
            current = self.schema(full_name) or data.schema
            picked = ", ".join(
                quote_ident(f.name)
                if f.name in data.schema.names
                else f"CAST(NULL AS {column_type(f.type)}) AS {quote_ident(f.name)}"
                for f in current
            )
            self._load(
                name,
                data,
                lambda src: (
                    f"INSERT INTO {target} REPLACE WHERE {cond} SELECT {picked} FROM ({src}) AS s"
                ),
            )
        else:
            self._load(name, data, lambda src: f"INSERT OVERWRITE {target} ({cols}) {src}")
        return self._adopt(name)

    def persist(self) -> None:
        """Nothing to keep between runs."""

    def persisting(self) -> AbstractContextManager[None]:
        """Nothing to keep between runs."""
        return nullcontext()

    def prepare_keys(self, column: pa.ChunkedArray) -> None:
        """Nothing to prepare: the key join runs in the engine."""

    def merge(self, full_name: str, data: pa.Table, keys: Sequence[str]) -> int:
        """One MERGE commit; new nullable columns are added first (ALTER TABLE ADD COLUMNS)."""
        name = self.uc_name(full_name)
        if not self._exists(name):
            self.create(full_name, data.schema)
        self._check_fence(name)
        if not data.num_rows:
            return self._adopt(name)
        _check_unique(name, data, keys)
        self._add_columns(name, data.schema)
        target, names = quote_full_name(name), data.schema.names

        def statement(src: str) -> str:
            return merge_sql(target, f"({src})", names, keys)

        self._load(name, data, statement)
        return self._adopt(name)

    def read(
        self,
        full_name: str,
        columns: Sequence[str] | None = None,
        where: Mapping[str, str] | None = None,
    ) -> pa.Table:
        sql, params = select_sql(self._q(full_name), columns, where)
        return self.sql.fetch_arrow(sql, params or None)

    def lookup(
        self, full_name: str, keys: Sequence[str], probe: pa.Table, columns: Sequence[str]
    ) -> pa.Table:
        """The probe's distinct non-null keys are staged and semi-joined on the warehouse."""
        wanted = list(dict.fromkeys([*keys, *columns]))
        name = self.uc_name(full_name)
        schema = self.schema(full_name) if self._exists(name) else None
        keyset = probe_keys(probe, keys)
        if schema is None or not keyset.num_rows:
            return no_rows(schema, probe.schema, wanted)
        path = self.staging.stage(name, keyset)
        try:
            return self.sql.fetch_arrow(
                semi_join_sql(quote_full_name(name), _read_files(path), keys, wanted)
            )
        finally:
            self.staging.unstage(path)

    def changes(
        self, full_name: str, since: int, columns: Sequence[str], limit: int
    ) -> RowChanges | str:
        """Not told (see the port): this store does not read Unity Catalog's change data feed."""
        return "this store does not read Unity Catalog's change data feed"

    def deleted_rows(self, full_name: str) -> int:
        """0: deletion vectors Databricks writes are compacted by Databricks (OPTIMIZE,
        predictive optimization): none are lakecrew's to count."""
        return 0

    def compact(
        self, full_name: str, *, over_files: int, retention_hours: int = 168
    ) -> Maintenance | None:
        """None: Databricks compacts managed tables itself (predictive optimization)."""
        return None

    def count(self, full_name: str) -> int:
        got = self.sql.fetch(f"SELECT COUNT(*) AS n FROM {self._q(full_name)}")
        return int(got.rows[0][0])

    def version(self, full_name: str) -> int | None:
        name = self.uc_name(full_name)
        return self._version(name) if self._exists(name) else None

    def distinct(self, full_name: str, column: str) -> list[str]:
        col = quote_ident(column)
        got = self.sql.fetch(
            f"SELECT DISTINCT {col} FROM {self._q(full_name)} WHERE {col} IS NOT NULL"
        )
        return sorted(str(r[0]) for r in got.rows)

    def columns(self, full_name: str) -> tuple[ColumnInfo, ...]:
        """The columns as Unity Catalog reports them (``tables.get``)."""
        got = self._table_info(self.uc_name(full_name))
        return tuple(
            ColumnInfo(
                name=str(c.name),
                type_text=str(c.type_text or ""),
                nullable=bool(c.nullable if c.nullable is not None else True),
                position=int(c.position if c.position is not None else i),
            )
            for i, c in enumerate(got.columns or [])
        )

    def protect(self, full_name: str) -> None:
        """Delta statistics only on columns not tagged ``pii``, recomputed for existing files."""
        name = self.uc_name(full_name)
        cat, sch, tbl = parse_full_name(name)
        tagged = self.sql.fetch(pii_columns_sql(cat), {"s": sch, "t": tbl})
        pii = {str(r[0]) for r in tagged.rows}
        if not pii:
            return
        schema = self.schema(full_name)
        kept = [f.name for f in schema or [] if f.name not in pii]
        for statement in stats_sql(quote_full_name(name), kept):
            self.sql.execute(statement)
        self._adopt(name)

    def location(self, full_name: str) -> str:
        name = self.uc_name(full_name)
        got = self._table_info(name)
        self._got.pop(name, None)  # read again next time (registration asks columns first)
        return str(got.storage_location or f"uc://{name}")

    def _table_info(self, name: str) -> Any:
        if name not in self._got:
            self._got[name] = guarded(
                lambda: self.client.tables.get(name), where=name, action="tables.get"
            )
        return self._got[name]

    def maintain(
        self, full_name: str, *, zorder_by: Sequence[str] = (), retention_hours: int = 168
    ) -> Maintenance:
        name = self.uc_name(full_name)
        target = quote_full_name(name)
        self._check_fence(name)
        got = self.sql.fetch(optimize_sql(target, zorder_by))
        raw = (
            got.rows[0][got.columns.index("metrics")]
            if got.rows and "metrics" in got.columns
            else None
        )
        self._adopt(name)
        self.sql.execute(vacuum_sql(target, retention_hours))
        self._adopt(name)
        return maintenance(full_name, raw, zorder_by, retention_hours)

    # ------------------------------------------------------------ internals

    def _ensure_schema(self, name: str) -> None:
        cat, sch, _ = parse_full_name(name)
        if f"{cat}.{sch}" not in self._schemas:
            self.sql.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(cat)}.{quote_ident(sch)}")
            self._schemas.add(f"{cat}.{sch}")

    def _load(self, name: str, data: pa.Table, statement: Callable[[str], str]) -> None:
        """Stage ``data`` and run the one statement that loads exactly that file."""
        path = self.staging.stage(name, data)
        CRASH_POINT(f"staged {name}")
        self.sql.execute(statement(f"SELECT {_cols(data.schema)} FROM {_read_files(path)}"))
        CRASH_POINT(f"loaded {name}")
        self.staging.unstage(path)

    def _add_columns(self, name: str, schema: pa.Schema) -> None:
        current = self._known.get(name) or self.schema(name)
        if current is None:
            return
        new = [f for f in schema if f.name not in current.names]
        _check_names(name, current, new)
        if new and _needs_mapping([f.name for f in new]) and not _needs_mapping(current.names):
            self.sql.execute(
                f"ALTER TABLE {quote_full_name(name)} SET TBLPROPERTIES ({COLUMN_MAPPING})"
            )
        if new:
            cols = ", ".join(f"{quote_ident(f.name)} {column_type(f.type)}" for f in new)
            self.sql.execute(f"ALTER TABLE {quote_full_name(name)} ADD COLUMNS ({cols})")
            self._known.pop(name, None)

    def _rewrite_schema(self, name: str, data: pa.Table) -> None:
        """Replace rows and schema: ADD COLUMNS + INSERT OVERWRITE when only columns are added,
        else CREATE OR REPLACE TABLE ... AS SELECT keeping the partitioning."""
        current = self.schema(name)
        target = quote_full_name(name)
        cols = _cols(data.schema)
        additive = current is not None and all(
            f.name in data.schema.names and data.schema.field(f.name).type == f.type
            for f in current
        )
        if additive:
            self._add_columns(name, data.schema)
            if data.num_rows:
                self._load(name, data, lambda src: f"INSERT OVERWRITE {target} ({cols}) {src}")
            else:
                self.sql.execute(f"DELETE FROM {target}")
            return
        detail = self.sql.fetch(f"DESCRIBE DETAIL {target}")
        parts: list[str] = []
        if detail.rows and "partitionColumns" in detail.columns:
            raw = detail.rows[0][detail.columns.index("partitionColumns")]
            parts = json.loads(raw) if isinstance(raw, str) else list(raw or [])
        by = f" PARTITIONED BY ({', '.join(quote_ident(c) for c in parts)})" if parts else ""
        self._load(
            name, data, lambda src: f"CREATE OR REPLACE TABLE {target} USING DELTA{by} AS {src}"
        )
        self._known.pop(name, None)


COLUMN_MAPPING = (
    "'delta.columnMapping.mode' = 'name', 'delta.minReaderVersion' = '2', "
    "'delta.minWriterVersion' = '5'"
)
"""Delta column mapping by name: lets column names hold spaces and ``,;{}()=`` (raw CSV
headers in bronze), which Delta tables without it refuse."""
_MAPPED_CHARS = set(" ,;{}()\n\t=")


def _needs_mapping(names: Iterable[str]) -> bool:
    return any(set(n) & _MAPPED_CHARS for n in names)


def _check_names(name: str, current: pa.Schema | None, new: Sequence[pa.Field]) -> None:
    """DataError before any statement when two columns differ only by case: Unity Catalog
    column names are case-insensitive, so the table cannot hold both."""
    seen = {n.lower(): n for n in (current.names if current is not None else [])}
    for f in new:
        other = seen.get(f.name.lower())
        if other is not None and other != f.name:
            raise DataError(
                f"columns {other!r} and {f.name!r} differ only by case; Unity Catalog column "
                "names are case-insensitive, so one table cannot hold both",
                where=name,
                fix="set `bronze: {unify_column_case: true}` in the spec (one column, each "
                "file's header kept in _renamed_columns), or rename the column at the source",
            )
        seen[f.name.lower()] = f.name


def _cols(schema: pa.Schema) -> str:
    return ", ".join(quote_ident(n) for n in schema.names)


def _read_files(path: str) -> str:
    return f"read_files({sql_string(path)}, format => 'parquet')"


def _check_unique(name: str, data: pa.Table, keys: Sequence[str]) -> None:
    """DataError before any commit when a key occurs twice in the source (MERGE would fail)."""
    distinct = data.select(list(keys)).group_by(list(keys)).aggregate([]).num_rows
    if distinct < data.num_rows:
        raise DataError(
            f"{data.num_rows - distinct} merge key value(s) occur more than once in the source",
            where=f"{name} keys {list(keys)}",
            fix="deduplicate the source on the merge keys",
        )
