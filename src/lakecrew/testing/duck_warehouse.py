"""A SQL warehouse for the replay server, answered by a local project's DuckDB engine.

`DuckWarehouse(project_dir, warehouse_id)` is a `DatabricksReplay` handler (and a context
manager): `GET /api/2.0/sql/warehouses/{id}` says RUNNING, and `POST /api/2.0/sql/statements`
runs the statement (Databricks SQL, with its typed named parameters) read-only on the project's
local engine — which translates Databricks SQL for DuckDB — and answers in the Statement
Execution API's shape: a SUCCEEDED status, a manifest with Databricks type names, and an INLINE
JSON_ARRAY result where every value is a string. A failing statement answers FAILED with the
engine's message (missing tables as TABLE_OR_VIEW_NOT_FOUND), as a warehouse does. Statements
run one at a time on one worker thread (the engine's SQLite connection belongs to its thread).

It also answers Unity Catalog's listings from the project's metastore, in the REST API's shape
(`GET /api/2.1/unity-catalog/catalogs`, `schemas?catalog_name=`, `tables?catalog_name=&
schema_name=`: owner, comment, properties, columns with masks), so a `backend: databricks`
estate scope lists the same tables the local one does; tags and grants then come through the
warehouse from `system.information_schema`.

Tests use it to check that a `backend: databricks` command reading system tables through a
warehouse gives the same answer as the local engine over imported exports (parity).
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakecrew.core.errors import LakecrewError, TableMissing
from lakecrew.testing.databricks_replay import Answer, Request

_PARAM: dict[str, Any] = {
    "BIGINT": int,
    "INT": int,
    "DOUBLE": float,
    "BOOLEAN": lambda v: v == "true",
    "DATE": date.fromisoformat,
    "TIMESTAMP": datetime.fromisoformat,
    "STRING": str,
}


def _param(item: dict[str, Any]) -> Any:
    value = item.get("value")
    if value is None:
        return None
    kind = str(item.get("type", "STRING")).upper()
    if kind.startswith("DECIMAL"):
        return Decimal(value)
    return _PARAM.get(kind, str)(value)


def _type(dtype: pa.DataType) -> tuple[str, str, dict[str, int]]:
    """(type_name, type_text, extra manifest keys) of an Arrow type."""
    if pa.types.is_decimal(dtype):
        text = f"DECIMAL({dtype.precision},{dtype.scale})"
        return "DECIMAL", text, {"type_precision": dtype.precision, "type_scale": dtype.scale}
    names = (
        (pa.types.is_boolean, "BOOLEAN"),
        (pa.types.is_int8, "BYTE"),
        (pa.types.is_int16, "SHORT"),
        (pa.types.is_int32, "INT"),
        (pa.types.is_int64, "LONG"),
        (pa.types.is_float32, "FLOAT"),
        (pa.types.is_float64, "DOUBLE"),
        (pa.types.is_date, "DATE"),
        (pa.types.is_binary, "BINARY"),
    )
    for test, name in names:
        if test(dtype):
            return name, "BIGINT" if name == "LONG" else name, {}
    if pa.types.is_timestamp(dtype):
        name = "TIMESTAMP" if dtype.tz else "TIMESTAMP_NTZ"
        return name, name, {}
    return "STRING", "STRING", {}


def _text(value: Any) -> str | None:
    """A value as the JSON_ARRAY format writes it (every value a string)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _answer(status: int, body: dict[str, Any]) -> Answer:
    return status, {}, json.dumps(body).encode(), "application/json"


def _result(table: pa.Table, statement_id: str) -> dict[str, Any]:
    columns = []
    for i, field in enumerate(table.schema):
        name, text, extra = _type(field.type)
        columns.append(
            {"name": field.name, "position": i, "type_name": name, "type_text": text, **extra}
        )
    rows = [[_text(v) for v in row.values()] for row in table.to_pylist()]
    return {
        "statement_id": statement_id,
        "status": {"state": "SUCCEEDED"},
        "manifest": {
            "format": "JSON_ARRAY",
            "schema": {"column_count": len(columns), "columns": columns},
            "total_chunk_count": 1,
            "total_row_count": len(rows),
        },
        "result": {"chunk_index": 0, "row_offset": 0, "row_count": len(rows), "data_array": rows},
    }


class DuckWarehouse:
    """A replay handler serving one RUNNING warehouse over a local project's engine."""

    def __init__(
        self,
        project_dir: Path,
        warehouse_id: str,
        *,
        name: str = "billing",
        writable: bool = False,
    ) -> None:
        from lakecrew.wiring.context import Context

        self.warehouse_id, self.name = warehouse_id, name
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="duck-warehouse")
        self._context = self._worker.submit(Context.open, project_dir, writable=writable).result()
        self._ids = iter(range(1, 1_000_000))

    def __enter__(self) -> DuckWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._worker.submit(self._context.close).result()
        self._worker.shutdown()

    def _fetch(self, sql: str, params: dict[str, Any] | None) -> pa.Table:
        """On the worker thread: the engine (and its SQLite connection) is created there.
        A subclass may answer more statements (uc_lakehouse.py: writes)."""
        return self._context.sql.fetch_arrow(sql, params)

    def _unity_catalog(self, path: str, query: dict[str, str]) -> dict[str, Any] | None:
        """On the worker thread: one UC listing from the metastore (None: not a listing)."""
        ms = self._context.metastore
        if path == "catalogs":
            names = ms.information_schema("catalogs").column("catalog_name").to_pylist()
            return {"catalogs": [{"name": n, "full_name": n} for n in names]}
        if path == "schemas":
            cat = query.get("catalog_name", "")
            view = ms.information_schema("schemata", cat).column("schema_name").to_pylist()
            return {"schemas": [{"name": n, "catalog_name": cat, "full_name": f"{cat}.{n}"}
                                for n in view]}  # fmt: skip
        if path == "tables":
            cat, sch = query.get("catalog_name", ""), query.get("schema_name", "")
            return {"tables": [uc_table(t) for t in ms.list_tables(cat, sch)]}
        return None

    def __call__(self, req: Request) -> Answer | None:
        prefix = "/api/2.1/unity-catalog/"
        if req.method == "GET" and req.path.startswith(prefix):
            query = {k: v[0] for k, v in req.query.items() if v}
            listing = self._worker.submit(
                self._unity_catalog, req.path[len(prefix) :], query
            ).result()
            return None if listing is None else _answer(200, listing)
        if req.method == "GET" and req.path == f"/api/2.0/sql/warehouses/{self.warehouse_id}":
            return _answer(200, {"id": self.warehouse_id, "name": self.name, "state": "RUNNING"})
        if not (req.method == "POST" and req.path == "/api/2.0/sql/statements"):
            return None
        body = req.body or {}
        statement_id = f"st-{next(self._ids)}"
        if body.get("warehouse_id") != self.warehouse_id:
            return _answer(404, {"error_code": "NOT_FOUND", "message": "warehouse not found"})
        params = {p["name"]: _param(p) for p in body.get("parameters") or []}
        sql = str(body.get("statement", ""))
        try:
            table = self._worker.submit(self._fetch, sql, params or None).result()
        except LakecrewError as exc:
            missing = "[TABLE_OR_VIEW_NOT_FOUND] " if isinstance(exc, TableMissing) else ""
            error = {"error_code": "BAD_REQUEST", "message": missing + exc.what}
            failed = {"state": "FAILED", "error": error}
            return _answer(200, {"statement_id": statement_id, "status": failed})
        return _answer(200, _result(table, statement_id))


def uc_table(t: Any) -> dict[str, Any]:
    """A local TableInfo in the Unity Catalog REST shape (`GET .../tables` items)."""
    columns = []
    for i, c in enumerate(t.columns):
        col: dict[str, Any] = {
            "name": c.name,
            "type_text": c.type_text,
            "type_name": c.type_text.split("<")[0].split("(")[0].upper(),
            "position": c.position if c.position is not None else i,
            "nullable": c.nullable,
        }
        if c.comment is not None:
            col["comment"] = c.comment
        if c.mask:
            col["mask"] = {"function_name": c.mask, "using_column_names": list(c.mask_using)}
        columns.append(col)
    out: dict[str, Any] = {
        "name": t.name,
        "catalog_name": t.catalog_name,
        "schema_name": t.schema_name,
        "full_name": t.full_name,
        "owner": t.owner,
        "table_type": t.table_type,
        "data_source_format": t.data_source_format,
        "properties": dict(t.properties),
        "columns": columns,
    }
    if t.comment is not None:
        out["comment"] = t.comment
    return out
