"""DatabricksSqlEngine: the SqlEngine port over the Statement Execution API of a SQL warehouse.

Queries are the same Databricks SQL the local engine translates; here they run unchanged. Named
`:param` markers are bound as typed `StatementParameterListItem`s (never spliced into the text).
A statement is submitted with a short `wait_timeout`; if still PENDING/RUNNING it is polled
until `timeout_seconds`, then cancelled (`cancel_execution`) and reported as Transient.
Results stream chunk by chunk: INLINE + JSON_ARRAY (every value a string, cast here with
`manifest.schema`) or EXTERNAL_LINKS + ARROW_STREAM (Arrow IPC fetched from the presigned URLs,
without the Databricks auth header). A stopped warehouse is reported clearly (or started when
`auto_start=True`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa
import requests
from databricks.sdk.service.sql import (
    ColumnInfo,
    Disposition,
    ExecuteStatementRequestOnWaitTimeout,
    Format,
    ResultData,
    StatementParameterListItem,
    StatementResponse,
    StatementState,
)

from lakecrew.adapters.databricks.client import DatabricksClient, guarded
from lakecrew.adapters.databricks.errors import WarehouseUnavailable, clean_message
from lakecrew.core.errors import (
    ColumnMissing,
    PermissionDenied,
    TableMissing,
    Transient,
    UsageError,
)
from lakecrew.ports.catalog import parse_full_name
from lakecrew.ports.source import plain_type
from lakecrew.ports.sql import ResultSet

_RUNNING = (StatementState.PENDING, StatementState.RUNNING)
_DOWN = ("STOPPED", "STOPPING", "DELETED", "DELETING")


def quote_ident(name: str) -> str:
    """A backtick-quoted identifier (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def quote_full_name(full_name: str) -> str:
    """`catalog`.`schema`.`table` from a validated three-part name."""
    return ".".join(quote_ident(p) for p in parse_full_name(full_name))


def sql_string(value: str) -> str:
    """A SQL string literal for DDL that takes no parameter markers (COMMENT, TAGS)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def bind(params: Mapping[str, Any] | None) -> list[StatementParameterListItem] | None:
    """Typed named parameters for the Statement Execution API."""
    if not params:
        return None
    items = []
    for name, value in params.items():
        if value is None:
            items.append(StatementParameterListItem(name=name))
        elif isinstance(value, bool):
            items.append(StatementParameterListItem(name, "BOOLEAN", "true" if value else "false"))
        elif isinstance(value, int):
            items.append(StatementParameterListItem(name, "BIGINT", str(value)))
        elif isinstance(value, float):
            items.append(StatementParameterListItem(name, "DOUBLE", repr(value)))
        elif isinstance(value, Decimal):
            items.append(StatementParameterListItem(name, "DECIMAL(38,18)", format(value, "f")))
        elif isinstance(value, datetime):
            if value.tzinfo is None:
                raise UsageError(f"parameter {name!r} is a naive datetime", fix="use UTC-aware")
            items.append(StatementParameterListItem(name, "TIMESTAMP", value.isoformat()))
        elif isinstance(value, date):
            items.append(StatementParameterListItem(name, "DATE", value.isoformat()))
        elif isinstance(value, str):
            items.append(StatementParameterListItem(name, "STRING", value))
        else:
            raise UsageError(
                f"parameter {name!r} has unsupported type {type(value).__name__}",
                fix="pass str, int, float, Decimal, bool, date, datetime or None",
            )
    return items


def _arrow_type(col: ColumnInfo) -> pa.DataType:
    t = (col.type_name.value if col.type_name else "STRING").upper()
    simple: dict[str, pa.DataType] = {
        "BOOLEAN": pa.bool_(), "BYTE": pa.int8(), "SHORT": pa.int16(), "INT": pa.int32(),
        "LONG": pa.int64(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(), "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us", tz="UTC"), "TIMESTAMP_NTZ": pa.timestamp("us"),
        "BINARY": pa.binary(),
    }  # fmt: skip
    if t == "DECIMAL":
        return pa.decimal128(col.type_precision or 38, col.type_scale or 0)
    return simple.get(t, pa.string())  # STRING, CHAR, INTERVAL, ARRAY/MAP/STRUCT as JSON text


# Spark's error classes for a column / struct field the table does not have
_MISSING_COLUMN = re.compile(
    r"\[(UNRESOLVED_COLUMN|FIELD_NOT_FOUND)[A-Z_.]*\][^`]*`([^`]+)`|No such struct field `?(\w+)"
)


def _converter(dtype: pa.DataType) -> Callable[[str], Any]:
    if pa.types.is_boolean(dtype):
        return lambda v: v.lower() == "true"
    if pa.types.is_integer(dtype):
        return int
    if pa.types.is_floating(dtype):
        return float
    if pa.types.is_decimal(dtype):
        return Decimal
    if pa.types.is_date(dtype):
        return date.fromisoformat
    if pa.types.is_timestamp(dtype):
        return lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))
    if pa.types.is_binary(dtype):
        return base64.b64decode
    return str


class DatabricksSqlEngine:
    """SqlEngine (ports.sql) over one SQL warehouse."""

    def __init__(
        self,
        client: DatabricksClient,
        warehouse_id: str,
        *,
        catalog: str | None = None,
        schema: str | None = None,
        disposition: Literal["INLINE", "EXTERNAL_LINKS"] = "INLINE",
        wait_timeout_seconds: int = 10,
        timeout_seconds: float = 600.0,
        poll_seconds: float = 1.0,
        auto_start: bool = False,
    ) -> None:
        if wait_timeout_seconds != 0 and not 5 <= wait_timeout_seconds <= 50:
            raise UsageError("wait_timeout_seconds must be 0 or 5..50 (API limit)")
        self.client = client
        self.warehouse_id = warehouse_id
        self.catalog = catalog
        self.schema = schema
        self.disposition = disposition
        self.wait_timeout_seconds = wait_timeout_seconds
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds
        self.auto_start = auto_start
        self._warehouse_ok = False

    @property
    def _where(self) -> str:
        return f"SQL warehouse {self.warehouse_id}"

    # ------------------------------------------------------------ SqlEngine port

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement for its effect."""
        self._run(sql, params)

    def fetch(self, sql: str, params: Mapping[str, Any] | None = None) -> ResultSet:
        """Run a query; rows as Python values."""
        return ResultSet.from_arrow(self.fetch_arrow(sql, params))

    def fetch_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a query; an Arrow table."""
        return self.stream(sql, params).read_all()

    def stream(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.RecordBatchReader:
        """Run a query; its result chunk by chunk as Arrow record batches."""
        resp = self._run(sql, params)
        schema = pa.schema(
            [
                pa.field(str(c.name), _arrow_type(c))
                for c in (resp.manifest and resp.manifest.schema and resp.manifest.schema.columns)
                or []
            ]
        )
        return pa.RecordBatchReader.from_batches(schema, self._batches(resp, schema))

    def query_tables(self, sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
        """Refused: a SQL warehouse cannot see in-memory Arrow tables of this process."""
        raise UsageError(
            "a SQL warehouse cannot query in-memory tables",
            where=self._where,
            fix="run pipelines with silver.sql on the local or spark engine "
            "(on Databricks the job runs them on its cluster)",
        )

    def save_table(
        self, full_name: str, data: pa.Table, mode: Literal["append", "overwrite"] = "append"
    ) -> None:
        """Create the table if absent, then insert `data` as bound parameters in batches."""
        target = quote_full_name(full_name)
        cols = ", ".join(f"{quote_ident(f.name)} {_sql_type(f.type)}" for f in data.schema)
        self._run(f"CREATE TABLE IF NOT EXISTS {target} ({cols})", None)
        per = max(1, 250 // max(1, data.num_columns))
        rows = data.to_pylist()
        if not rows and mode == "overwrite":
            self._run(f"TRUNCATE TABLE {target}", None)
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            params: dict[str, Any] = {}
            values = []
            for r, row in enumerate(chunk):
                names = []
                for c, value in enumerate(row.values()):
                    params[f"p{r}_{c}"] = value
                    names.append(f":p{r}_{c}")
                values.append("(" + ", ".join(names) + ")")
            verb = "INSERT OVERWRITE" if mode == "overwrite" and start == 0 else "INSERT INTO"
            self._run(f"{verb} {target} VALUES " + ", ".join(values), params)

    # ------------------------------------------------------------ internals

    def _check_warehouse(self) -> None:
        if self._warehouse_ok:
            return
        wh = guarded(
            lambda: self.client.warehouses.get(self.warehouse_id),
            where=self._where,
            action="warehouses.get",
        )
        state = wh.state.value if wh.state else "UNKNOWN"
        if state in _DOWN:
            if not self.auto_start or state.startswith("DELET"):
                raise WarehouseUnavailable(
                    f"SQL warehouse {wh.name or self.warehouse_id} is {state}",
                    where=self._where,
                    fix="start it (Databricks UI or `databricks warehouses start`), or allow "
                    "lakecrew to start it (auto_start)",
                )
            guarded(
                lambda: self.client.warehouses.start(self.warehouse_id),
                where=self._where,
                action="warehouses.start",
            )
        self._warehouse_ok = True

    def _run(self, sql: str, params: Mapping[str, Any] | None) -> StatementResponse:
        self._check_warehouse()
        se = self.client.statement_execution
        fmt = Format.ARROW_STREAM if self.disposition == "EXTERNAL_LINKS" else Format.JSON_ARRAY
        resp = guarded(
            lambda: se.execute_statement(
                statement=sql,
                warehouse_id=self.warehouse_id,
                catalog=self.catalog,
                schema=self.schema,
                parameters=bind(params),
                wait_timeout=f"{self.wait_timeout_seconds}s",
                on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
                disposition=Disposition(self.disposition),
                format=fmt,
            ),
            where=self._where,
            action="statement_execution.execute_statement",
        )
        clock = self.client.clock
        deadline = clock.time() + self.timeout_seconds
        while resp.status is not None and resp.status.state in _RUNNING:
            if clock.time() >= deadline:
                self._cancel(str(resp.statement_id))
                raise Transient(
                    f"statement {resp.statement_id} still running after "
                    f"{self.timeout_seconds:g} s; it was cancelled",
                    where=self._where,
                    fix="raise timeout_seconds, narrow the query, or size up the warehouse",
                )
            clock.sleep(self.poll_seconds)
            sid = str(resp.statement_id)
            resp = guarded(
                lambda sid=sid: se.get_statement(sid),  # type: ignore[misc]
                where=self._where,
                action="statement_execution.get_statement",
            )
        self._raise_for_state(resp)
        return resp

    def _cancel(self, statement_id: str) -> None:
        guarded(
            lambda: self.client.statement_execution.cancel_execution(statement_id),
            where=self._where,
            action="statement_execution.cancel_execution",
        )

    def _raise_for_state(self, resp: StatementResponse) -> None:
        state = resp.status.state if resp.status else None
        if state == StatementState.SUCCEEDED:
            return
        err = resp.status.error if resp.status else None
        code = (err.error_code.value if err and err.error_code else "") or ""
        msg = clean_message(err.message if err else f"statement ended {state}")
        where = f"{self._where} statement {resp.statement_id}"
        if state in (StatementState.CANCELED, StatementState.CLOSED):
            raise Transient(f"statement was {state.value.lower()}: {msg}", where=where)
        if "TABLE_OR_VIEW_NOT_FOUND" in msg or "SCHEMA_NOT_FOUND" in msg:
            raise TableMissing(f"query failed: {msg}", where=where, fix="check the table name")
        missing = _MISSING_COLUMN.search(msg)
        if missing is not None:
            raise ColumnMissing(
                f"query failed: a column the query reads is not in the table "
                f"({missing.group(1)}; a newer Databricks release added it): {msg}",
                column=missing.group(2) or missing.group(3),
                where=where,
                fix="lakecrew reads that table without it where it can (see the notes); "
                "otherwise the workspace's system tables need the newer release",
            )
        if code == "PERMISSION_DENIED" or "INSUFFICIENT_PERMISSIONS" in msg:
            raise PermissionDenied(
                f"query refused: {msg}",
                where=where,
                fix="grant USE_CATALOG, USE_SCHEMA and SELECT on the tables to lakecrew",
            )
        raise UsageError(f"query failed [{code or 'SQL'}]: {msg}", where=where)

    def _batches(self, resp: StatementResponse, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        result: ResultData | None = resp.result
        sid = str(resp.statement_id)
        while result is not None:
            if result.external_links:
                for link in result.external_links:
                    yield from self._download(str(link.external_link), schema)
                nxt = result.external_links[-1].next_chunk_index
            else:
                if result.data_array:
                    yield _json_batch(result.data_array, schema)
                nxt = result.next_chunk_index
            if nxt is None:
                return
            result = guarded(
                lambda n=nxt: self.client.statement_execution.get_statement_result_chunk_n(sid, n),  # type: ignore[misc]
                where=self._where,
                action="statement_execution.get_statement",
            )

    def _download(self, url: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Fetch one presigned Arrow chunk; no Databricks credentials are sent to it."""
        try:
            got = requests.get(url, timeout=self.client.options.http_timeout_seconds)
            got.raise_for_status()
        except requests.RequestException as exc:
            raise Transient(
                f"result chunk download failed ({type(exc).__name__})",
                where=self._where,
                fix="retry; presigned links expire after about 15 minutes",
            ) from None
        reader = pa.ipc.open_stream(got.content)
        for batch in reader:
            yield batch.cast(schema) if batch.schema != schema else batch


def _json_batch(rows: list[list[str]], schema: pa.Schema) -> pa.RecordBatch:
    """Cast JSON_ARRAY strings to the manifest's types."""
    arrays = []
    for i, field in enumerate(schema):
        conv = _converter(field.type)
        arrays.append(
            pa.array([None if r[i] is None else conv(r[i]) for r in rows], type=field.type)
        )
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def column_type(dtype: pa.DataType) -> str:
    """The Databricks column type of an Arrow type, nested ones included (`ARRAY<...>`,
    `MAP<K, V>`, `STRUCT<name: T, ...>`) for CREATE TABLE / ADD COLUMNS."""
    dtype = plain_type(dtype)  # dictionary-encoded values: the values' type
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"ARRAY<{column_type(dtype.value_type)}>"
    if pa.types.is_map(dtype):
        return f"MAP<{column_type(dtype.key_type)}, {column_type(dtype.item_type)}>"
    if pa.types.is_struct(dtype):
        fields = ", ".join(f"{quote_ident(f.name)}: {column_type(f.type)}" for f in dtype)
        return f"STRUCT<{fields}>"
    return _sql_type(dtype)


def _sql_type(dtype: pa.DataType) -> str:
    """The Databricks column type for an Arrow type (for CREATE TABLE of save_table)."""
    if pa.types.is_boolean(dtype):
        return "BOOLEAN"
    if pa.types.is_int8(dtype) or pa.types.is_int16(dtype) or pa.types.is_int32(dtype):
        return "INT"
    if pa.types.is_integer(dtype):
        return "BIGINT"
    if pa.types.is_float32(dtype):
        return "FLOAT"
    if pa.types.is_floating(dtype):
        return "DOUBLE"
    if pa.types.is_decimal(dtype):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if pa.types.is_date(dtype):
        return "DATE"
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMP" if dtype.tz else "TIMESTAMP_NTZ"
    if pa.types.is_binary(dtype):
        return "BINARY"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "STRING"
    raise UsageError(
        f"column type {dtype} cannot be saved through the statement API",
        fix="flatten nested columns to JSON text first",
    )


__all__ = [
    "DatabricksSqlEngine",
    "bind",
    "column_type",
    "json",
    "quote_full_name",
    "quote_ident",
    "sql_string",
]
