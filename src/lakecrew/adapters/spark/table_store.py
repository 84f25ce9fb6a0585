"""SparkTableStore: the TableStore port through a SparkSession's catalog, by three-part name.

On a Databricks cluster (``pipeline run --engine spark --workspace W``, the job a ``pipeline
bundle --workspace W`` writes) ``spark`` has Unity Catalog and the tables are UC managed Delta
tables written by Spark SQL, each write one Delta commit:

- ``create``: ``CREATE TABLE IF NOT EXISTS c.s.t (cols) USING DELTA [PARTITIONED BY]`` (column
  mapping by name when a raw header holds a space or ``,;{}()=``);
- the rows of a write become a temporary view (``spark.createDataFrame(arrow)``) loaded by one
  statement: ``INSERT INTO t (cols) SELECT`` (append), ``INSERT INTO t REPLACE WHERE <batch>``
  (rewrite one batch), ``INSERT OVERWRITE`` (replace all), ``MERGE INTO t USING view ON <keys>``
  (upsert; a key twice in the source is refused before any commit), ``DELETE`` for an empty
  batch; new columns by ``ALTER TABLE ADD COLUMNS``; a schema rewrite that drops or retypes
  columns is ``CREATE OR REPLACE TABLE ... AS SELECT`` keeping the partitioning;
- ``protect`` keeps PII-tagged columns out of Delta statistics, ``maintain`` is OPTIMIZE
  [ZORDER BY] + VACUUM, ``one_writer`` compares ``DESCRIBE HISTORY`` versions before each write
  (a check then a commit: two statements, as in the warehouse store);
- lakecrew's record tables (``system.*``, ``lakecrew.*``) go to ``<records schema>.<schema>_
  <table>``, as in ``adapters/databricks/table_store.py``; comments, tags and column masks are
  the Catalog port's (``DatabricksCatalog`` over ``SparkCatalogEngine``: the same statements on
  the cluster instead of a warehouse).

Offline there are no Delta jars (dependency-notes §3), so ``delta=False`` runs the same code
over Spark's built-in catalog: ``USING parquet`` tables at ``LOCATION <root>/<catalog>/<schema>
/<table>`` in database ``spark_catalog.<prefix><catalog>__<schema>``. Create, append, overwrite,
add columns, reads, lookups and counts are the same statements; what Parquet tables lack is done
another way and is NOT what runs on Databricks: MERGE, REPLACE WHERE and DELETE become a rewrite
(the table read to Arrow on the driver, the rows replaced there, ``INSERT OVERWRITE``: not one
atomic commit — a crash in between can lose the table's rows), there are no versions
(``one_writer`` checks nothing, writes return -1), no Delta statistics (``protect`` is a no-op)
and no OPTIMIZE/VACUUM (``maintain`` reports zero files). That mode is for the parity tests.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import SparkSession

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
from lakecrew.adapters.databricks.sql import column_type, quote_ident, sql_string
from lakecrew.adapters.databricks.table_store import (
    COLUMN_MAPPING,
    RECORD_CATALOGS,
    _check_names,
    _check_unique,
    _cols,
    _needs_mapping,
)
from lakecrew.adapters.local.schema_check import conform_filling, type_text
from lakecrew.adapters.spark.engine import SparkCatalogEngine, _spark_ready
from lakecrew.core.errors import Conflict, DataError
from lakecrew.ports.catalog import ColumnInfo, parse_full_name
from lakecrew.ports.tables import Maintenance, RowChanges


class SparkTableStore:
    """Pipeline tables through Spark SQL: UC managed Delta tables on Databricks (``delta``),
    Parquet tables of Spark's own catalog under ``local_root`` otherwise."""

    concurrent_tables = False
    """One write at a time (see the TableStore port)."""

    def __init__(
        self,
        spark: SparkSession,
        *,
        records_schema: str,
        delta: bool = True,
        local_root: Path | None = None,
        prefix: str = "",
    ) -> None:
        if len(records_schema.split(".")) != 2:
            raise ValueError(f"records_schema must be catalog.schema, not {records_schema!r}")
        if not delta and local_root is None:
            raise ValueError("Spark's own catalog (delta=False) needs local_root")
        self.spark = spark
        self.records_schema = records_schema
        self.delta = delta
        self.local_root = local_root
        self.prefix = prefix
        self._schemas: set[tuple[str, str]] = set()
        self._present: set[str] = set()  # tables this store created or found
        self._known: dict[str, pa.Schema] = {}  # schemas read (dropped when this store alters)
        self._fence: dict[str, int | None] | None = None
        self.queries: SparkCatalogEngine | None = None  # set by the wiring (gold lineage)

    # ------------------------------------------------------------ names

    def uc_name(self, full_name: str) -> str:
        """The three-part name written (record tables go under the records schema)."""
        cat, sch, tbl = parse_full_name(full_name)
        if cat in RECORD_CATALOGS:
            return f"{self.records_schema}.{sch}_{tbl}"
        return f"{cat}.{sch}.{tbl}"

    def spark_parts(self, full_name: str) -> tuple[str, str, str]:
        """Catalog, schema and table Spark knows ``full_name`` by."""
        cat, sch, tbl = parse_full_name(self.uc_name(full_name))
        if self.delta:
            return cat, sch, tbl
        return "spark_catalog", f"{self.prefix}{cat}__{sch}", tbl

    def query_parts(self, full_name: str) -> tuple[str, str, str]:
        """What a query's three-part name reads: as ``spark_parts``, except Databricks' own
        ``system`` tables on a cluster (read in place, never written by this store)."""
        if self.delta and parse_full_name(full_name)[0] == "system":
            return parse_full_name(full_name)
        return self.spark_parts(full_name)

    def _q(self, full_name: str) -> str:
        return ".".join(quote_ident(p) for p in self.spark_parts(full_name))

    def _sql(self, statement: str, args: Mapping[str, Any] | None = None) -> pa.Table:
        try:
            return self.spark.sql(statement, args=dict(args) if args else None).toArrow()
        except Exception as exc:  # Py4J and analysis errors: one line, no row values
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
            raise DataError(
                f"Spark SQL failed: {first}", where=statement.split(" (", 1)[0][:120]
            ) from exc

    # ------------------------------------------------------------ one writer

    @contextmanager
    def one_writer(self, tables: Iterable[str], writer: str) -> Iterator[None]:
        if not self.delta:  # Parquet tables have no versions: nothing to compare
            yield
            return
        names = list(dict.fromkeys(tables))
        self._fence = {self._q(t): self._version(t) if self.exists(t) else None for t in names}
        try:
            yield
        finally:
            self._fence = None

    def _version(self, full_name: str) -> int:
        got = self._sql(f"DESCRIBE HISTORY {self._q(full_name)} LIMIT 1")
        return int(got.column("version")[0].as_py()) if got.num_rows else -1

    def _check_fence(self, full_name: str) -> None:
        key = self._q(full_name)
        if self._fence is None or key not in self._fence:
            return
        expected = self._fence[key]
        current = self._version(full_name) if self.exists(full_name) else None
        if current != expected:
            raise Conflict(
                f"{self.uc_name(full_name)} was written by another writer during this run "
                f"(version {expected} → {current})",
                where=self.uc_name(full_name),
                fix="let the other run finish, then run again (nothing of this write was "
                "committed)",
            )

    def _adopt(self, full_name: str) -> int:
        key = self._q(full_name)
        if self._fence is None or key not in self._fence:
            return -1
        version = self._version(full_name)
        self._fence[key] = version
        return version

    # ------------------------------------------------------------ TableStore port

    def exists(self, full_name: str) -> bool:
        key = self._q(full_name)
        if key not in self._present and self.spark.catalog.tableExists(
            ".".join(self.spark_parts(full_name))
        ):
            self._present.add(key)
        return key in self._present

    def schema(self, full_name: str) -> pa.Schema | None:
        key = self._q(full_name)
        if key not in self._known:
            if not self.exists(full_name):
                return None
            self._known[key] = self._sql(f"SELECT * FROM {key} LIMIT 0").schema
        return self._known[key]

    def create(
        self,
        full_name: str,
        schema: pa.Schema,
        *,
        partition_by: Sequence[str] = (),
        stats_columns: Sequence[str] | None = None,
    ) -> None:
        # stats_columns: a local-engine hint; the cluster/warehouse keep Delta's default
        _check_names(self.uc_name(full_name), None, list(schema))
        if self.exists(full_name):
            self._check_fence(full_name)
            return
        self._ensure_schema(full_name)
        ready = _spark_ready(schema.empty_table()).schema
        cols = ", ".join(f"{quote_ident(f.name)} {column_type(f.type)}" for f in ready)
        parts = (
            f" PARTITIONED BY ({', '.join(quote_ident(c) for c in partition_by)})"
            if partition_by
            else ""
        )
        tail = f" USING PARQUET{parts} LOCATION {sql_string(self.location(full_name))}"
        if self.delta:
            props = f" TBLPROPERTIES ({COLUMN_MAPPING})" if _needs_mapping(schema.names) else ""
            tail = f" USING DELTA{parts}{props}"
        self._sql(f"CREATE TABLE IF NOT EXISTS {self._q(full_name)} ({cols}){tail}")
        self._present.add(self._q(full_name))
        self._known.pop(self._q(full_name), None)
        self._adopt(full_name)

    def append(self, full_name: str, data: pa.Table, *, merge_schema: bool = False) -> int:
        if not self.exists(full_name):
            self.create(full_name, data.schema)
        self._check_fence(full_name)
        if merge_schema:
            self._add_columns(full_name, data.schema)
        if data.num_rows:
            with self._view(data) as view:
                self._sql(
                    f"INSERT INTO {self._q(full_name)} ({_cols(data.schema)}) "
                    f"SELECT {_cols(data.schema)} FROM {view}"
                )
        return self._adopt(full_name)

    def replace(
        self,
        full_name: str,
        data: pa.Table,
        *,
        where: Mapping[str, str] | None = None,
        overwrite_schema: bool = False,
    ) -> int:
        self._check_fence(full_name)
        if overwrite_schema:
            self._rewrite_schema(full_name, data)
        elif not where:
            self._overwrite(full_name, data)
        elif not self.delta:
            self._rewrite(full_name, _without(self.read(full_name), where), data)
        else:
            self._replace_where(full_name, data, where)
        return self._adopt(full_name)

    def persist(self) -> None:
        """Nothing to keep between runs."""

    def persisting(self) -> AbstractContextManager[None]:
        """Nothing to keep between runs."""
        return nullcontext()

    def prepare_keys(self, column: pa.ChunkedArray) -> None:
        """Nothing to prepare: the key join runs in the engine."""

    def merge(self, full_name: str, data: pa.Table, keys: Sequence[str]) -> int:
        """One MERGE commit on Delta (new nullable columns added first); a rewrite on Parquet."""
        if not self.exists(full_name):
            self.create(full_name, data.schema)
        self._check_fence(full_name)
        if not data.num_rows:
            return self._adopt(full_name)
        _check_unique(self.uc_name(full_name), data, keys)
        self._add_columns(full_name, data.schema)
        if not self.delta:
            held = self.read(full_name)
            kept = held.join(data.select(list(keys)), keys=list(keys), join_type="left anti")
            self._rewrite(full_name, kept, data)
            return -1
        with self._view(data) as view:
            self._sql(merge_sql(self._q(full_name), view, data.schema.names, keys))
        return self._adopt(full_name)

    def read(
        self,
        full_name: str,
        columns: Sequence[str] | None = None,
        where: Mapping[str, str] | None = None,
    ) -> pa.Table:
        return self._sql(*select_sql(self._q(full_name), columns, where))

    def lookup(
        self, full_name: str, keys: Sequence[str], probe: pa.Table, columns: Sequence[str]
    ) -> pa.Table:
        """The probe's distinct non-null keys become a view, semi-joined in Spark."""
        wanted = list(dict.fromkeys([*keys, *columns]))
        schema = self.schema(full_name)
        keyset = probe_keys(probe, keys)
        if schema is None or not keyset.num_rows:
            return no_rows(schema, probe.schema, wanted)
        with self._view(keyset) as view:
            return self._sql(semi_join_sql(self._q(full_name), view, keys, wanted))

    def changes(
        self, full_name: str, since: int, columns: Sequence[str], limit: int
    ) -> RowChanges | str:
        """Not told (see the port): Spark's tables here keep no change record this store reads."""
        return "Spark's tables here keep no change record this store reads"

    def deleted_rows(self, full_name: str) -> int:
        """0: this store rewrites files on upsert (copy-on-write), leaving no deleted rows."""
        return 0

    def compact(
        self, full_name: str, *, over_files: int, retention_hours: int = 168
    ) -> Maintenance | None:
        """None: Spark's tables here are compacted by Spark's own writers."""
        return None

    def count(self, full_name: str) -> int:
        got = self._sql(f"SELECT COUNT(*) AS n FROM {self._q(full_name)}")
        return int(got.column("n")[0].as_py())

    def version(self, full_name: str) -> int | None:
        """The Delta version (``DESCRIBE HISTORY``); None for Parquet tables (no versions)."""
        return self._version(full_name) if self.delta and self.exists(full_name) else None

    def distinct(self, full_name: str, column: str) -> list[str]:
        col = quote_ident(column)
        got = self._sql(
            f"SELECT DISTINCT {col} AS v FROM {self._q(full_name)} WHERE {col} IS NOT NULL"
        )
        return sorted(str(v) for v in got.column("v").to_pylist())

    def columns(self, full_name: str) -> tuple[ColumnInfo, ...]:
        return tuple(
            ColumnInfo(name=f.name, type_text=type_text(f.type), nullable=f.nullable, position=i)
            for i, f in enumerate(self.schema(full_name) or [])
        )

    def protect(self, full_name: str) -> None:
        """Delta statistics only on columns not tagged ``pii`` (Parquet mode: no Delta log)."""
        if not self.delta:
            return
        cat, sch, tbl = parse_full_name(self.uc_name(full_name))
        tagged = self._sql(pii_columns_sql(cat), {"s": sch, "t": tbl})
        pii = set(tagged.column("column_name").to_pylist())
        if not pii:
            return
        kept = [f.name for f in self.schema(full_name) or [] if f.name not in pii]
        for statement in stats_sql(self._q(full_name), kept):
            self._sql(statement)
        self._adopt(full_name)

    def location(self, full_name: str) -> str:
        if not self.delta:
            assert self.local_root is not None
            cat, sch, tbl = parse_full_name(self.uc_name(full_name))
            return str(self.local_root / cat / sch / tbl)
        detail = self._sql(f"DESCRIBE DETAIL {self._q(full_name)}")
        return str(detail.column("location")[0].as_py() or f"uc://{self.uc_name(full_name)}")

    def maintain(
        self, full_name: str, *, zorder_by: Sequence[str] = (), retention_hours: int = 168
    ) -> Maintenance:
        """OPTIMIZE [ZORDER BY] then VACUUM on Delta; Parquet tables are not compacted."""
        raw = None
        if self.delta:
            self._check_fence(full_name)
            got = self._sql(optimize_sql(self._q(full_name), zorder_by))
            if got.num_rows and "metrics" in got.column_names:
                raw = got.column("metrics")[0].as_py()
            self._adopt(full_name)
            self._sql(vacuum_sql(self._q(full_name), retention_hours))
            self._adopt(full_name)
        return maintenance(full_name, raw, zorder_by, retention_hours)

    # ------------------------------------------------------------ internals

    def _ensure_schema(self, full_name: str) -> None:
        cat, sch, _ = self.spark_parts(full_name)
        if (cat, sch) not in self._schemas:
            self._sql(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(cat)}.{quote_ident(sch)}")
            self._schemas.add((cat, sch))

    @contextmanager
    def _view(self, data: pa.Table) -> Iterator[str]:
        """``data`` as a temporary view of this session (dropped after the statement)."""
        name = f"lc_rows_{uuid.uuid4().hex}"
        self.spark.createDataFrame(_spark_ready(data)).createOrReplaceTempView(name)
        try:
            yield name
        finally:
            self.spark.catalog.dropTempView(name)

    def _overwrite(self, full_name: str, data: pa.Table) -> None:
        target = self._q(full_name)
        if not data.num_rows and self.delta:  # one DELETE is the same single commit
            self._sql(f"DELETE FROM {target}")
            return
        current = self.schema(full_name) or data.schema
        frame = self.queries.frame_of(data) if self.queries is not None else None
        if frame is not None and set(data.schema.names) == set(current.names):
            # the rows of a query on this session (a gold model): loaded from the query, so
            # Unity Catalog records the tables it reads as this table's sources
            name = f"lc_query_{uuid.uuid4().hex}"
            frame.createOrReplaceTempView(name)
            try:
                self._sql(
                    f"INSERT OVERWRITE {target} ({_cols(current)}) "
                    f"SELECT {_cols(current)} FROM {name}"
                )
            finally:
                self.spark.catalog.dropTempView(name)
            return
        with self._view(conform_filling(data, current)) as view:
            self._sql(
                f"INSERT OVERWRITE {target} ({_cols(current)}) SELECT {_cols(current)} FROM {view}"
            )

    def _replace_where(self, full_name: str, data: pa.Table, where: Mapping[str, str]) -> None:
        target = self._q(full_name)
        cond = " AND ".join(f"{quote_ident(k)} = {sql_string(v)}" for k, v in where.items())
        if not data.num_rows:
            self._sql(f"DELETE FROM {target} WHERE {cond}")
            return
        current = self.schema(full_name) or data.schema
        with self._view(conform_filling(data, current)) as view:
            self._sql(
                f"INSERT INTO {target} REPLACE WHERE {cond} SELECT {_cols(current)} FROM {view}"
            )

    def _rewrite(self, full_name: str, kept: pa.Table, data: pa.Table) -> None:
        """Parquet mode only: the table becomes ``kept`` + ``data`` (INSERT OVERWRITE)."""
        current = self.schema(full_name) or data.schema
        rows = pa.concat_tables([conform_filling(kept, current), conform_filling(data, current)])
        with self._view(rows) as view:
            self._sql(
                f"INSERT OVERWRITE {self._q(full_name)} ({_cols(current)}) "
                f"SELECT {_cols(current)} FROM {view}"
            )

    def _add_columns(self, full_name: str, schema: pa.Schema) -> None:
        current = self.schema(full_name)
        if current is None:
            return
        new = [f for f in schema if f.name not in current.names]
        _check_names(self.uc_name(full_name), current, new)
        if not new:
            return
        target = self._q(full_name)
        if (
            self.delta
            and _needs_mapping([f.name for f in new])
            and not _needs_mapping(current.names)
        ):
            self._sql(f"ALTER TABLE {target} SET TBLPROPERTIES ({COLUMN_MAPPING})")
        ready = _spark_ready(pa.schema(new).empty_table()).schema
        cols = ", ".join(f"{quote_ident(f.name)} {column_type(f.type)}" for f in ready)
        self._sql(f"ALTER TABLE {target} ADD COLUMNS ({cols})")
        self._known.pop(target, None)

    def _rewrite_schema(self, full_name: str, data: pa.Table) -> None:
        """Replace rows and schema: ADD COLUMNS + overwrite when only columns are added, else
        CREATE OR REPLACE TABLE ... AS SELECT keeping the partitioning (Parquet: drop and
        create)."""
        current = self.schema(full_name)
        additive = current is not None and all(
            f.name in data.schema.names and data.schema.field(f.name).type == f.type
            for f in current
        )
        if additive or current is None:
            if current is None:
                self.create(full_name, data.schema)
            self._add_columns(full_name, data.schema)
            self._overwrite(full_name, data)
            return
        parts = self._partitions(full_name)
        target = self._q(full_name)
        self._known.pop(target, None)
        if not self.delta:
            self._sql(f"DROP TABLE {target}")
            self._present.discard(target)
            shutil.rmtree(self.location(full_name), ignore_errors=True)
            self.create(full_name, data.schema, partition_by=parts)
            self._overwrite(full_name, data)
            return
        by = f" PARTITIONED BY ({', '.join(quote_ident(c) for c in parts)})" if parts else ""
        with self._view(data) as view:
            self._sql(
                f"CREATE OR REPLACE TABLE {target} USING DELTA{by} AS "
                f"SELECT {_cols(data.schema)} FROM {view}"
            )

    def _partitions(self, full_name: str) -> list[str]:
        if self.delta:
            detail = self._sql(f"DESCRIBE DETAIL {self._q(full_name)}")
            raw = detail.column("partitionColumns")[0].as_py() if detail.num_rows else []
            return json.loads(raw) if isinstance(raw, str) else list(raw or [])
        cat, sch, tbl = self.spark_parts(full_name)
        return [
            c.name for c in self.spark.catalog.listColumns(f"{cat}.{sch}.{tbl}") if c.isPartition
        ]


def _without(held: pa.Table, where: Mapping[str, str]) -> pa.Table:
    """The rows of ``held`` not matching every ``column = value`` of ``where``."""
    match = None
    for column, value in where.items():
        term = pc.fill_null(pc.equal(held.column(column), pa.scalar(value)), False)
        match = term if match is None else pc.and_(match, term)
    return held if match is None else held.filter(pc.invert(match))
