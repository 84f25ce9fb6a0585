"""SparkSqlEngine: the SqlEngine port on a local (or given) SparkSession, over delta-rs tables.

Locally Spark has no Delta jars (dependency-notes §3), so each table a query names is read from
the live files of its current Delta version: ``spark.read.option("basePath", root)
.parquet(*DeltaTable(root).file_uris())`` (removed files are never read; partition columns kept),
and registered as a temporary view; the query's three-part names are rewritten to those views
with sqlglot. Results come back as Arrow. Writes go through the TableStore (``save_table``
converts to Arrow and appends/overwrites with delta-rs), so commits stay atomic.

``SparkCatalogEngine`` is the same port over the tables of the session's own catalog, by name:
Unity Catalog on a Databricks cluster (``--engine spark --workspace W``), Spark's built-in
catalog locally (the offline parity mode of ``adapters/spark/table_store.py``).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal

import pyarrow as pa
import sqlglot
from deltalake import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from sqlglot import exp

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.sql_translate import bind_inputs
from lakecrew.core.errors import DataError, NotFound, TableMissing, UsageError
from lakecrew.ports.catalog import parse_full_name
from lakecrew.ports.sql import ResultSet


def local_session(
    app_name: str = "lakecrew", extra: Mapping[str, str] | None = None
) -> SparkSession:
    """A quiet local[2] session (UI off, 1 GiB driver) whose workers use this Python.

    Spark's own log is off (``LAKECREW_SPARK_LOG_LEVEL`` turns it back on, e.g. ``WARN``): a
    failing expression logs the row's values, which may be patient data; lakecrew raises its
    own error instead, without values. ``extra`` adds settings (JVM options only take effect
    when this call starts the JVM; a later call returns the running session with them).
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in (extra or {}).items():
        builder = builder.config(key, value)
    session = (
        builder.master("local[2]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Kafka's JAAS config carries a secret: redact it from plans and logs like passwords.
        .config("spark.sql.redaction.options.regex", "(?i)secret|password|token|access[.]key|jaas")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel(os.environ.get("LAKECREW_SPARK_LOG_LEVEL", "OFF"))
    return session


class _SparkSql:
    """Spark SQL through the SqlEngine port; subclasses say what a three-part name reads."""

    spark: SparkSession

    def _relation(self, table: exp.Table, full_name: str) -> bool:
        """Point ``table`` (a three-part name of a query) at what Spark reads for it; False
        when the name stays as it is."""
        raise NotImplementedError

    def _prepare(self, sql: str) -> str:
        try:
            tree = sqlglot.parse_one(sql, read="databricks")
        except sqlglot.errors.ParseError as exc:
            raise UsageError(f"SQL does not parse: {str(exc).splitlines()[0][:200]}") from None
        changed = False
        for table in tree.find_all(exp.Table):
            if not (table.catalog and table.db):
                continue
            full = ".".join(parse_full_name(f"{table.catalog}.{table.db}.{table.name}"))
            alias = table.alias_or_name
            if self._relation(table, full):
                changed = True
                if not table.alias:
                    table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        # unchanged names: the statement goes to Spark as written (DDL sqlglot would reword)
        return tree.sql(dialect="spark") if changed else sql

    def _params(self, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if params:
            raise UsageError(f"{type(self).__name__} does not take query parameters", where="sql")
        return None

    def fetch_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run one query; results as Arrow."""
        args = self._params(params)
        try:
            return self.spark.sql(self._prepare(sql), args=args).toArrow()
        except Exception as exc:  # Spark raises many Py4J and analysis error types
            if isinstance(exc, NotFound | UsageError):
                raise
            raise DataError(f"Spark SQL failed: {str(exc).splitlines()[0][:300]}") from exc

    def fetch(self, sql: str, params: Mapping[str, Any] | None = None) -> ResultSet:
        return ResultSet.from_arrow(self.fetch_arrow(sql, params))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.fetch_arrow(sql, params)

    def query_tables(self, sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
        """Run one Spark SQL query over Arrow tables, each a temporary view (see the port)."""
        tree, views = bind_inputs(sql, tables, prefix=f"lc_in_{uuid.uuid4().hex}_")
        try:
            for key, data in tables.items():
                self.spark.createDataFrame(_spark_ready(data)).createOrReplaceTempView(
                    views[key.lower()]
                )
            return self.spark.sql(tree.sql(dialect="spark")).toArrow()
        except AnalysisException as exc:
            raise UsageError(f"Spark SQL failed: {_first_line(exc)}", where="sql") from exc
        except Exception as exc:  # Py4J and execution errors
            raise DataError(f"Spark SQL failed: {_first_line(exc)}", where="sql") from exc
        finally:
            for view in views.values():
                self.spark.catalog.dropTempView(view)


class SparkSqlEngine(_SparkSql):
    """Run Spark SQL over the Delta tables of a DeltaStore; results as Arrow."""

    def __init__(self, store: DeltaStore, spark: SparkSession | None = None) -> None:
        self.store = store
        self.spark = spark or local_session()

    def frame(self, full_name: str) -> DataFrame:
        """A DataFrame over the live files of the table's current version."""
        if not self.store.exists(full_name):
            raise TableMissing(
                f"table {full_name} does not exist", where=str(self.store.path(full_name))
            )
        root = str(self.store.path(full_name))
        table = DeltaTable(root)
        live = self.store.live_files(table)
        files = table.file_uris()
        if not files or (live is not None and live.deleted()):
            # no file (the schema only), or deletion vectors, which Spark's Parquet reader
            # would not apply (a local run wrote them): the live rows, read by the store
            rows = self.store.read(full_name)
            return self.spark.createDataFrame(rows.to_pandas())
        return self.spark.read.option("basePath", root).parquet(*files)

    def _relation(self, table: exp.Table, full_name: str) -> bool:
        view = "lc_" + full_name.replace(".", "__")
        self.frame(full_name).createOrReplaceTempView(view)
        table.set("catalog", None)
        table.set("db", None)
        table.set("this", exp.to_identifier(view))
        return True

    def save_table(
        self, full_name: str, data: pa.Table, mode: Literal["append", "overwrite"] = "append"
    ) -> None:
        """Write Arrow rows with delta-rs (one atomic commit)."""
        if not self.store.exists(full_name):
            self.store.create_table(full_name, data.schema)
        if mode == "overwrite":
            self.store.overwrite(full_name, data)
        else:
            self.store.append(full_name, data)


class SparkCatalogEngine(_SparkSql):
    """Spark SQL over tables of the session's catalog, by name: Unity Catalog on a Databricks
    cluster, Spark's own catalog locally. ``resolve`` maps a three-part name to the catalog,
    schema and table Spark knows it by (``SparkTableStore.spark_parts``). Named parameters
    (``:name``) are bound by Spark (``spark.sql(args=...)``)."""

    def __init__(self, spark: SparkSession, resolve: Callable[[str], tuple[str, str, str]]) -> None:
        self.spark = spark
        self.resolve = resolve

    def _prepare(self, sql: str) -> str:
        try:
            return super()._prepare(sql)
        except UsageError:  # DDL sqlglot cannot read (masks, functions): Spark parses it
            return sql

    def _relation(self, table: exp.Table, full_name: str) -> bool:
        parts = self.resolve(full_name)
        if ".".join(parts) == full_name:
            return False
        cat, sch, tbl = parts
        table.set("catalog", exp.to_identifier(cat, quoted=True))
        table.set("db", exp.to_identifier(sch, quoted=True))
        table.set("this", exp.to_identifier(tbl, quoted=True))
        return True

    def _params(self, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
        return dict(params) if params else None

    def fetch_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run one query; the result is remembered with its DataFrame (``frame_of``)."""
        args = self._params(params)
        try:
            frame = self.spark.sql(self._prepare(sql), args=args)
            result = frame.toArrow()
        except Exception as exc:  # Spark raises many Py4J and analysis error types
            if isinstance(exc, NotFound | UsageError):
                raise
            raise DataError(f"Spark SQL failed: {str(exc).splitlines()[0][:300]}") from exc
        self._last = (result, frame)
        return result

    def frame_of(self, result: pa.Table) -> DataFrame | None:
        """The query DataFrame of the last result, when ``result`` is that very object: a
        store writing it can load from the query (UC then records its tables as the write's
        sources) instead of from the rows on the driver."""
        last = getattr(self, "_last", None)
        return last[1] if last is not None and last[0] is result else None

    def save_table(
        self, full_name: str, data: pa.Table, mode: Literal["append", "overwrite"] = "append"
    ) -> None:
        """Write Arrow rows with the DataFrame writer (``saveAsTable``: the catalog's default
        format, Delta on Databricks)."""
        name = ".".join(f"`{p.replace('`', '``')}`" for p in self.resolve(full_name))
        self.spark.createDataFrame(_spark_ready(data)).write.mode(mode).saveAsTable(name)


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def _spark_ready(data: pa.Table) -> pa.Table:
    """View and dictionary types as plain ones (Spark's Arrow conversion lacks string_view,
    binary_view and dictionaries), without empty record batches."""
    fields = []
    for f in data.schema:
        if pa.types.is_dictionary(f.type):
            fields.append(f.with_type(f.type.value_type))
        elif pa.types.is_string_view(f.type):
            fields.append(f.with_type(pa.large_string()))
        elif pa.types.is_binary_view(f.type):
            fields.append(f.with_type(pa.large_binary()))
        else:
            fields.append(f)
    schema = pa.schema(fields)
    plain = data if schema.equals(data.schema) else data.cast(schema)
    batches = plain.to_batches()
    if all(b.num_rows for b in batches):
        return plain
    # PySpark 4.0's createDataFrame stops at an empty record batch after the first: the rows
    # after it were lost (7 rows in batches of 0, 3, 0, 3, 1 became 3).
    return pa.Table.from_batches([b for b in batches if b.num_rows], schema)
