"""LocalSqlEngine: the SqlEngine port over DuckDB, the Delta tables and the SQLite metastore.

Queries are Databricks SQL with `:name` parameters. Each statement is translated once with
sqlglot (see sql_translate.py); every table it names is registered for that query as an Arrow
dataset of the table's live Delta files, so DuckDB pushes projections and filters down.
`<catalog>.information_schema.<view>` and `system.information_schema.<view>` come from the
metastore. The engine is read-only unless opened with `writable=True`; DuckDB itself runs with
external file access disabled, so SQL cannot read or write arbitrary files. `query_tables`
runs a query over in-memory Arrow tables instead of catalog tables (the runner's silver.sql).

Column masks are enforced: a table whose columns carry a registered mask (`ColumnInfo.mask`, see
core/column_masks.py) is exposed as `SELECT * REPLACE (<mask>(col) AS col, ...)` over its data,
so no query (nor a CREATE TABLE AS / INSERT built on it) sees the stored values; a mask name
outside the registry redacts (fails closed). Only an engine opened with `privileged=True` (the
owner's maintenance, never a user-facing query) reads the stored values.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias
from urllib.parse import unquote

import duckdb
import pyarrow as pa
from sqlglot import exp

from lakecrew.adapters.local.delta import DeltaStore, WriteResult
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.schema_check import type_text
from lakecrew.adapters.local.sql_catalog import answer as catalog_answer
from lakecrew.adapters.local.sql_catalog import is_catalog_statement
from lakecrew.adapters.local.sql_translate import (
    Parsed,
    TableRef,
    bind_inputs,
    mask_expression,
    parse,
    rewrite_decimal_products,
    to_duckdb,
)
from lakecrew.core.column_masks import MASK_FUNCTIONS, REDACT
from lakecrew.core.errors import (
    DataError,
    SafetyRefusal,
    SchemaMismatch,
    TableMissing,
    UsageError,
)
from lakecrew.ports.catalog import ColumnInfo, TableInfo, parse_full_name
from lakecrew.ports.sql import ResultSet

if TYPE_CHECKING:  # imported by the queries that read a table (pyarrow.dataset pulls pandas)
    import pyarrow.dataset as pads
    from deltalake import DeltaTable

Relation: TypeAlias = "pa.Table | pads.Dataset"


@dataclass(frozen=True)
class _Vectors:
    """Stands for a table version whose files carry deletion vectors (its schema only):
    scanned by DuckDB with the deleted positions anti-joined, else read in memory."""

    schema: pa.Schema


class LocalSqlEngine:
    """DuckDB over the local lakehouse; implements ports.sql.SqlEngine.

    `owner` is recorded as owner of tables created through `save_table`; `default_catalog`
    resolves two-part names (None: three-part names required).
    """

    def __init__(
        self,
        store: DeltaStore,
        metastore: SqliteMetastore,
        *,
        writable: bool = False,
        default_catalog: str | None = None,
        owner: str = "lakecrew",
        privileged: bool = False,
    ) -> None:
        self.store = store
        self.metastore = metastore
        self.writable = writable
        self.privileged = privileged
        self.default_catalog = default_catalog
        self.owner = owner
        self._lock = threading.Lock()
        self._parsed: dict[str, Parsed] = {}
        self._translated: dict[tuple[str, str], str] = {}
        self._deleted: tuple[object, pa.Table | None] = (None, None)  # the last DV version's
        self._con = duckdb.connect(
            # no Python-variable replacement scans: a name resolves to a registered relation
            config={"autoinstall_known_extensions": False, "python_enable_replacements": False}
        )
        self._con.execute("LOAD icu")
        self._con.execute("SET TimeZone = 'UTC'")
        # DuckDB may read Parquet under the lakehouse folder only (native scans push struct and
        # map projections down, ~10x faster than an Arrow dataset scan); nothing else on disk.
        self._root = store.root.resolve()
        # a literal, not a bound parameter: binding Python values makes DuckDB import pandas
        self._con.execute(f"SET allowed_directories = [{_literal(str(self._root))}]")
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")

    @classmethod
    def open(
        cls, layout: ProjectLayout, *, writable: bool = False, **kwargs: Any
    ) -> LocalSqlEngine:
        """The engine of a local project (its lakehouse folder and metastore.db)."""
        layout.ensure()
        store = DeltaStore.for_project(layout)
        return cls(store, SqliteMetastore(layout.metastore_path), writable=writable, **kwargs)

    def close(self) -> None:
        self._con.close()

    # ------------------------------------------------------------ SqlEngine port

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement for its effect (writes need `writable=True`)."""
        parsed = self._parse(sql)
        if parsed.is_read or is_catalog_statement(parsed.tree):
            self.fetch_arrow(sql, params)
            return
        self._write(parsed, params)

    def fetch(self, sql: str, params: Mapping[str, Any] | None = None) -> ResultSet:
        """Run a query and return its rows as Python values."""
        return ResultSet.from_arrow(self.fetch_arrow(sql, params))

    def fetch_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a query and return an Arrow table."""
        return self.stream(sql, params).read_all()

    def stream(
        self, sql: str, params: Mapping[str, Any] | None = None, *, batch_rows: int = 131_072
    ) -> pa.RecordBatchReader:
        """Run a query and stream its result as Arrow record batches (for big results)."""
        parsed = self._parse(sql)
        if is_catalog_statement(parsed.tree):
            return catalog_answer(parsed.tree, self.metastore, self.default_catalog).to_reader()
        if not parsed.is_read:
            self._refuse(parsed)
        cursor = self._con.cursor()
        ok = False
        try:
            duck_sql = self._prepare(cursor, sql, parsed)
            result = cursor.execute(duck_sql, dict(params or {}))
            wide = _hugeint_columns(result.description)
            reader = result.to_arrow_reader(batch_rows)
            ok = True
        except duckdb.Error as exc:
            raise _translate_error(exc) from exc
        finally:
            if not ok:
                cursor.close()
        schema = _as_bigint(reader.schema, wide)
        return pa.RecordBatchReader.from_batches(schema, _owning(reader, cursor, schema))

    def save_table(
        self, full_name: str, data: pa.Table, mode: Literal["append", "overwrite"] = "append"
    ) -> None:
        """Write `data` to a Delta table (created if absent) and register it in the metastore."""
        self.write_table(full_name, data, mode)

    def query_tables(self, sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
        """Run one Spark SQL query over in-memory Arrow tables named by their keys (see port)."""
        tree, names = bind_inputs(sql, tables)
        schema = {
            names[k]: {f.name: type_text(f.type) for f in t.schema} for k, t in _lower(tables)
        }
        cursor = self._con.cursor()
        try:
            for key, data in _lower(tables):
                cursor.register(names[key], data)
            duck_sql = to_duckdb(rewrite_decimal_products(tree, schema))
            result = cursor.execute(duck_sql)
            wide = _hugeint_columns(result.description)
            table = result.to_arrow_table()
            return table.cast(_as_bigint(table.schema, wide)) if wide else table
        except duckdb.Error as exc:
            raise _translate_error(exc) from exc
        finally:
            cursor.close()

    def write_table(
        self,
        full_name: str,
        data: pa.Table,
        mode: Literal["append", "overwrite"] = "append",
        *,
        comment: str | None = None,
    ) -> WriteResult:
        """`save_table` returning the commit (version, attempts)."""
        if not self.writable:
            raise SafetyRefusal(
                f"engine is read-only; refusing to write {full_name}",
                where=full_name,
                fix="open the engine with writable=True",
            )
        full_name = ".".join(parse_full_name(full_name))
        if parse_full_name(full_name)[0] == "system":
            raise SafetyRefusal("system tables are written by lakecrew only", where=full_name)
        if not self.store.exists(full_name):
            self.store.create_table(full_name, data.schema)
            result = self.store.append(full_name, data)
        elif mode == "overwrite":
            result = self.store.overwrite(full_name, data)
        else:
            result = self.store.append(full_name, data)
        register(self.store, self.metastore, full_name, owner=self.owner, comment=comment)
        return result

    # ------------------------------------------------------------ internals

    def _parse(self, sql: str) -> Parsed:
        parsed = self._parsed.get(sql)
        if parsed is None:
            parsed = parse(sql, self.default_catalog)
            if len(self._parsed) > 512:
                self._parsed.clear()
            self._parsed[sql] = parsed
        return parsed

    def _refuse(self, parsed: Parsed) -> None:
        kind = type(parsed.tree).__name__.upper()
        raise SafetyRefusal(
            f"{kind} refused: this SQL engine is read-only",
            where="sql",
            fix="run queries only (SELECT, DESCRIBE, SHOW TABLES/SCHEMAS/CATALOGS); tables are "
            "written by pipelines and imports",
        )

    def _prepare(self, cursor: duckdb.DuckDBPyConnection, sql: str, parsed: Parsed) -> str:
        schema: dict[str, dict[str, str]] = {}
        for ref in parsed.refs:
            relation, table = self._relation(ref)
            native = self._native_scan(cursor, relation, table)
            if native is None and table is not None and isinstance(relation, _Vectors):
                relation = self.store.dataset_of(table)  # the live rows, read in memory
            scan = native if native is not None else relation
            cursor.register(ref.alias, self._masked(cursor, ref, scan, relation.schema))
            schema[ref.alias] = {f.name: type_text(f.type) for f in relation.schema}
        key = (sql, repr(sorted(schema.items())))
        duck_sql = self._translated.get(key)
        if duck_sql is None:
            duck_sql = to_duckdb(rewrite_decimal_products(parsed.tree, schema))
            if len(self._translated) > 512:
                self._translated.clear()
            self._translated[key] = duck_sql
        return duck_sql

    def _relation(self, ref: TableRef) -> tuple[Relation, DeltaTable | None]:
        cat, sch, tbl = parse_full_name(ref.full_name)
        if sch == "information_schema":
            return self.metastore.information_schema(tbl, None if cat == "system" else cat), None
        location: str | None = None
        if self.metastore.has_table(ref.full_name):
            location = self.metastore.get_table(ref.full_name).storage_location
        if location is None and not self.store.exists(ref.full_name):
            if self.metastore.has_table(ref.full_name):
                raise TableMissing(
                    f"table {ref.full_name} is registered in the metastore but holds no data"
                    " (no storage location, no Delta table of that name)",
                    where=f"{cat}.{sch}",
                    fix="run the pipeline that writes it, or register it with its location",
                )
            raise TableMissing(
                f"table {ref.full_name} does not exist",
                where=f"{cat}.{sch}",
                fix="tables in this schema: " + (", ".join(self._names_in(cat, sch)) or "none"),
            )
        table = (
            self.store.table_at(location, ref.version)
            if location is not None
            else self.store.table(ref.full_name, ref.version)
        )
        live = self.store.live_files(table)
        if live is not None and live.deleted():  # scanned by DuckDB below, or read in memory
            return _Vectors(pa.schema(table.schema().to_arrow())), table
        return self.store.dataset_of(table), table

    def _native_scan(
        self, cursor: duckdb.DuckDBPyConnection, relation: Relation, table: DeltaTable | None
    ) -> duckdb.DuckDBPyRelation | None:
        """DuckDB's own Parquet scan of a plain Delta version's files, when that is exact.

        Only for tables whose files lie under the lakehouse folder and hold every column of the
        table schema, without partition columns, deletion vectors or column mapping (delta-rs
        resolves those in the Arrow dataset, which stays the fallback).
        """
        if isinstance(relation, _Vectors) and table is not None:
            return self._vector_scan(cursor, relation.schema.names, table)
        if table is None or isinstance(relation, pa.Table):
            return None
        protocol, meta = table.protocol(), table.metadata()
        if protocol.min_reader_version > 1 or protocol.reader_features or meta.partition_columns:
            return None
        if meta.configuration.get("delta.columnMapping.mode", "none") != "none":
            return None
        files = [str(Path(u.removeprefix("file://")).resolve()) for u in table.file_uris()]
        if not files or not all(f.startswith(str(self._root) + "/") for f in files):
            return None
        scan = cursor.read_parquet(files, union_by_name=True)
        names = relation.schema.names
        if scan.columns == names:
            return scan
        if not set(names) <= set(scan.columns):
            return None
        return scan.select(*(duckdb.ColumnExpression(c) for c in names))

    def _vector_scan(
        self, cursor: duckdb.DuckDBPyConnection, names: list[str], table: DeltaTable
    ) -> duckdb.DuckDBPyRelation | None:
        """DuckDB's Parquet scan of a version whose files carry deletion vectors: each row's
        file and position (``file_index``, ``file_row_number``, one BIGINT) anti-joined with the
        positions the vectors delete (deletion_vectors.py). Projections and filters still reach the
        Parquet scan. None (the live rows then read in memory) when the files lie outside the
        lakehouse folder or lack a column, or the table is partitioned or column-mapped."""
        meta = table.metadata()
        if meta.partition_columns or meta.configuration.get("delta.columnMapping.mode"):
            return None
        live = self.store.live_files(table)
        if live is None:
            return None
        paths = list(live.adds)
        files = [str((live.location / unquote(p)).resolve()) for p in paths]
        if not files or not all(f.startswith(str(self._root) + "/") for f in files):
            return None
        if {"file_index", "file_row_number", "_lc_at"} & set(names):
            return None  # DuckDB's row numbers would clash with columns of those names
        listing = "[" + ", ".join(_literal(f) for f in files) + "]"
        try:
            scan = cursor.sql(
                f"SELECT *, (file_index::BIGINT << 32) + file_row_number AS _lc_at "
                f"FROM read_parquet({listing}, union_by_name = true, file_row_number = true)"
            )
        except duckdb.Error:
            return None
        if not set(names) <= set(scan.columns):
            return None
        from lakecrew.adapters.local.delta_read import deleted_rows  # pyarrow.dataset: lazily

        marks = tuple(
            (p, d.get("pathOrInlineDv"), d.get("offset")) for p, d in live.deleted().items()
        )
        key = (str(live.location), tuple(paths), marks)
        if self._deleted[0] != key:  # a batch's gold models read one silver version
            self._deleted = (key, deleted_rows(live, paths))
        gone = cursor.from_arrow(self._deleted[1])
        kept = scan.join(gone, "_lc_at = _lc_dv", how="anti")
        return kept.select(*(duckdb.ColumnExpression(c) for c in names))

    def _masked(
        self,
        cursor: duckdb.DuckDBPyConnection,
        ref: TableRef,
        scan: Relation | duckdb.DuckDBPyRelation,
        schema: pa.Schema,
    ) -> Relation | duckdb.DuckDBPyRelation:
        """`scan` with the table's column masks applied (unchanged when privileged or unmasked).

        The unmasked scan is never registered under a name a query could reach.
        """
        if self.privileged or not self.metastore.has_table(ref.full_name):
            return scan
        masked = [c for c in self.metastore.get_table(ref.full_name).columns if c.mask]
        present = {f.name: f.type for f in schema}
        exprs = [
            f"{_mask_sql(c.mask or '', c.name, present[c.name])} AS {_quote(c.name)}"
            for c in masked
            if c.name in present
        ]
        if not exprs:
            return scan
        rel = scan if isinstance(scan, duckdb.DuckDBPyRelation) else cursor.from_arrow(scan)
        return rel.project(f"* REPLACE ({', '.join(exprs)})")

    def _names_in(self, cat: str, sch: str) -> list[str]:
        names = set(self.metastore.table_names(cat, sch)) | set(self.store.list_tables(cat, sch))
        return sorted(names)

    def _write(self, parsed: Parsed, params: Mapping[str, Any] | None) -> None:
        tree = parsed.tree
        if not self.writable:
            self._refuse(parsed)
        if isinstance(tree, exp.Insert) and isinstance(tree.this, exp.Table):
            target, source = tree.this, tree.expression
            mode: Literal["append", "overwrite"] = (
                "overwrite" if tree.args.get("overwrite") else "append"
            )
        elif isinstance(tree, exp.Create) and tree.kind == "TABLE" and tree.expression:
            target, source = tree.this, tree.expression
            if not isinstance(target, exp.Table):
                raise UsageError("CREATE TABLE with a column list is not supported", where="sql")
            mode = "overwrite" if tree.args.get("replace") else "append"
        else:
            raise UsageError(
                f"{type(tree).__name__.upper()} is not supported by the local engine",
                where="sql",
                fix="use INSERT INTO/OVERWRITE ... SELECT, CREATE [OR REPLACE] TABLE ... AS "
                "SELECT, or the DeltaStore API",
            )
        ref = next(r for r in parsed.refs if r.alias == target.name)
        exists = self.store.exists(ref.full_name)
        if isinstance(tree, exp.Create) and not tree.args.get("replace") and exists:
            raise UsageError(f"table {ref.full_name} already exists", where="sql")
        data = self._run_subquery(source, parsed, params)
        if isinstance(tree, exp.Insert) and self.store.exists(ref.full_name):
            data = _positional(ref.full_name, self.store.schema(ref.full_name), data)
        self.write_table(ref.full_name, data, mode)

    def _run_subquery(
        self, source: exp.Expression, parsed: Parsed, params: Mapping[str, Any] | None
    ) -> pa.Table:
        query = source if isinstance(source, exp.Query) else exp.select("*").from_(source)
        cursor = self._con.cursor()
        try:
            sub = Parsed(query, tuple(r for r in parsed.refs if self._exists(r)))
            duck_sql = self._prepare(cursor, query.sql("databricks"), sub)
            return cursor.execute(duck_sql, dict(params or {})).to_arrow_table()
        except duckdb.Error as exc:
            raise _translate_error(exc) from exc
        finally:
            cursor.close()

    def _exists(self, ref: TableRef) -> bool:
        return (
            parse_full_name(ref.full_name)[1] == "information_schema"
            or self.metastore.has_table(ref.full_name)
            or self.store.exists(ref.full_name)
        )


def register(
    store: DeltaStore,
    metastore: SqliteMetastore,
    full_name: str,
    *,
    owner: str,
    comment: str | None = None,
    table_type: str = "MANAGED",
    properties: Mapping[str, str] | None = None,
) -> TableInfo:
    """Register (or refresh) a Delta table of `store` in `metastore` from its current schema.

    Existing owner, tags, masks and comments are kept; the column list follows the Delta schema.
    """
    schema = store.schema(full_name)
    existing = metastore.get_table(full_name) if metastore.has_table(full_name) else None
    cols = tuple(
        ColumnInfo(name=f.name, type_text=type_text(f.type), nullable=f.nullable, position=i)
        for i, f in enumerate(schema)
    )
    info = TableInfo(
        full_name=full_name,
        owner=existing.owner if existing else owner,
        comment=comment,
        table_type=existing.table_type if existing else table_type,
        storage_location=str(store.path(full_name)),
        data_source_format="DELTA",
        properties={**(existing.properties if existing else {}), **(properties or {})},
        columns=cols,
    )
    if existing is not None and _same_registration(existing, info):
        return existing  # nothing changed: no write, no updated_at refresh (read-only friendly)
    return metastore.register_table(info)


def _same_registration(old: TableInfo, new: TableInfo) -> bool:
    def cols(info: TableInfo) -> list[tuple[str, str, bool, int | None]]:
        return [(c.name, c.type_text, c.nullable, c.position) for c in info.columns]

    return (
        old.owner == new.owner
        and (new.comment is None or new.comment == old.comment)
        and old.table_type == new.table_type
        and old.storage_location == new.storage_location
        and dict(old.properties) == dict(new.properties)
        and cols(old) == cols(new)
    )


def _literal(text: str) -> str:
    """A SQL string literal (DuckDB's standard strings: a quote is doubled, nothing else)."""
    return "'" + text.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _mask_sql(mask: str, column: str, type_: pa.DataType) -> str:
    """DuckDB SQL of mask `mask` over `column`; unknown masks, and string masks of a non-string
    column, redact (fail closed)."""
    is_text = pa.types.is_string(type_) or pa.types.is_large_string(type_)
    return _mask_sql_cached(mask.strip().lower(), column, is_text or pa.types.is_string_view(type_))


@functools.lru_cache(maxsize=256)
def _mask_sql_cached(mask: str, column: str, is_text: bool) -> str:
    fn = MASK_FUNCTIONS.get(mask, MASK_FUNCTIONS[REDACT])
    if fn.strings_only and not is_text:
        fn = MASK_FUNCTIONS[REDACT]
    return mask_expression(fn.body, column)


def _lower(tables: Mapping[str, pa.Table]) -> list[tuple[str, pa.Table]]:
    return [(k.lower(), v) for k, v in tables.items()]


def _positional(full_name: str, target: pa.Schema, data: pa.Table) -> pa.Table:
    """INSERT matches columns by position, as Databricks does."""
    if data.num_columns != len(target):
        raise SchemaMismatch(
            f"INSERT gives {data.num_columns} column(s), the table has {len(target)}",
            where=full_name,
            fix="select exactly the table's columns, in order",
        )
    return data.rename_columns(target.names)


def _hugeint_columns(description: Any) -> set[int]:
    """Positions of HUGEINT result columns (DuckDB's SUM of integers; Spark's is BIGINT)."""
    return {i for i, col in enumerate(description or ()) if str(col[1]) == "HUGEINT"}


def _as_bigint(schema: pa.Schema, wide: set[int]) -> pa.Schema:
    """The result schema with HUGEINT columns (Arrow decimal128(38, 0)) as int64, as on
    Databricks, where SUM(int) is BIGINT: the same gold schema from either engine."""
    for i in sorted(wide):
        schema = schema.set(i, schema.field(i).with_type(pa.int64()))
    return schema


def _owning(
    reader: pa.RecordBatchReader, cursor: duckdb.DuckDBPyConnection, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    cast = reader.schema != schema
    try:
        for batch in reader:
            if not cast:
                yield batch
                continue
            try:
                yield batch.cast(schema)
            except pa.ArrowInvalid:
                raise DataError(
                    "an integer sum overflows BIGINT (as it would on Databricks)",
                    where="sql",
                    fix="cast the summed column to DECIMAL(38, 0) or DOUBLE first",
                ) from None
    except duckdb.Error as exc:
        raise _translate_error(exc) from exc
    finally:
        cursor.close()


def _translate_error(exc: duckdb.Error) -> Exception:
    first = str(exc).splitlines()[0][:300]
    if isinstance(exc, duckdb.ConversionException | duckdb.OutOfRangeException):
        return DataError(f"query failed on the data: {first}", where="sql")
    if isinstance(exc, duckdb.CatalogException) and "does not exist" in first:
        return TableMissing(f"query failed: {first}", where="sql", fix="check the table name")
    return UsageError(f"query failed: {first}", where="sql", fix="check names and types")
