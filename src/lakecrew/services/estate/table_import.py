"""Turn CSV or Parquet exports of Databricks system tables into Arrow tables of the right schema.

Exports are named after the table: `billing.usage.csv`, `system.billing.usage.parquet`,
`system_billing_usage.csv`, or split into parts (`billing.usage.part-0001.csv`). Columns are matched
by name; missing columns become null; columns the schema does not know are kept (CSV: as strings).
CSV cells are text: empty means null, maps/structs/arrays are JSON text (as Databricks SQL
downloads render them), timestamps ISO 8601 (naive means UTC).

Numbers must be finite and within ±1e15 (`MAX_MAGNITUDE`; no DBU quantity, price or percentage
of a real export comes near it): NaN, infinities and 1e308-style values are refused, as is any
value whose type cannot hold it, so nothing absurd reaches the cost model.

Errors name the file, the line and the column, never the cell value (it may be personal data).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core.errors import DataError
from lakecrew.core.system_tables import SYSTEM_TABLES

ParquetReader = Callable[[Path], pa.Table]
NULL_WORDS = frozenset({"", "null", "NULL"})
MAX_MAGNITUDE = 10**15


class OutOfBounds(ValueError):
    """A number that parses but is not a sane value (non-finite or beyond ±MAX_MAGNITUDE)."""


def _bounded(number: float | Decimal) -> None:
    finite = number.is_finite() if isinstance(number, Decimal) else math.isfinite(number)
    if not finite:
        raise OutOfBounds("not a finite number")
    exact = number if isinstance(number, Decimal) else Decimal(number)
    if abs(exact) > MAX_MAGNITUDE:
        raise OutOfBounds("number outside the sane range ±1e15")


def table_for_file(path: Path, tables: Mapping[str, pa.Schema] = SYSTEM_TABLES) -> str | None:
    """The system table a CSV/Parquet export file holds, judged by its name; None if unknown."""
    stem = path.name[: -len(path.suffix)].lower().replace("-", "_")
    for full in sorted(tables, key=len, reverse=True):
        short = full.removeprefix("system.")
        names = {full, short, full.replace(".", "_"), short.replace(".", "_")}
        names |= {short.replace(".", "__")}
        if stem in names or any(stem.startswith(n + ".") for n in names):
            return full
    return None


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError("not a boolean")


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        at = value
    else:
        at = datetime.fromisoformat(str(value).strip().replace(" UTC", "+00:00"))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _date(value: Any) -> date:
    text = str(value).strip()
    return (
        date.fromisoformat(text[:10])
        if len(text) > 10 and text[10] in "T "
        else date.fromisoformat(text)
    )


def convert(value: Any, dtype: pa.DataType) -> Any:
    """One CSV cell (text) or decoded JSON value as a Python value of Arrow type `dtype`.

    Raises ValueError (or TypeError) when it does not fit; the caller names the place.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str) and value in NULL_WORDS and not pa.types.is_string(dtype):
        return None
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return value if isinstance(value, str) else json.dumps(value)
    if pa.types.is_nested(dtype):
        return _convert_nested(json.loads(value) if isinstance(value, str) else value, dtype)
    return _convert_scalar(value, dtype)


def _convert_nested(value: Any, dtype: pa.DataType) -> Any:
    if pa.types.is_map(dtype):
        if not isinstance(value, dict):
            raise TypeError("expected a JSON object")
        return [(convert(k, dtype.key_type), convert(v, dtype.item_type)) for k, v in value.items()]
    if pa.types.is_struct(dtype):
        if not isinstance(value, dict):
            raise TypeError("expected a JSON object")
        return {f.name: convert(value.get(f.name), f.type) for f in dtype}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        if not isinstance(value, list):
            raise TypeError("expected a JSON array")
        return [convert(v, dtype.value_type) for v in value]
    raise TypeError(f"unsupported column type {dtype}")


def _convert_scalar(value: Any, dtype: pa.DataType) -> Any:
    if pa.types.is_boolean(dtype):
        return value if isinstance(value, bool) else _bool(str(value))
    if pa.types.is_integer(dtype):
        if isinstance(value, (bool, float)):
            raise TypeError("expected an integer")
        return value if isinstance(value, int) else int(str(value).strip())
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        try:  # exact first: 1e4000 is out of range, not the infinity float() makes of it
            exact = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError("not a number") from exc
        _bounded(exact)
        return float(exact) if pa.types.is_floating(dtype) else exact
    if pa.types.is_timestamp(dtype):
        return _timestamp(value)
    if pa.types.is_date(dtype):
        return _date(value)
    raise TypeError(f"unsupported column type {dtype}")


def _array(
    values: list[Any], dtype: pa.DataType, where: str, column: str, line_of: Callable[[int], int]
) -> pa.Array:
    try:
        return pa.array(values, type=dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError):
        for i, value in enumerate(values):
            try:
                pa.array([value], type=dtype)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError):
                raise DataError(
                    f"line {line_of(i)} column {column!r}: value does not fit {dtype}",
                    where=where,
                    fix="correct that cell or re-export the table",
                ) from None
        raise


def read_csv_export(path: Path, schema: pa.Schema, where: str) -> pa.Table:
    """A CSV export as an Arrow table of `schema` (plus unknown columns kept as strings)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise DataError("empty CSV file (no header line)", where=where, fix="re-export it")
            rows: list[list[str]] = []
            lines: list[int] = []
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"line {reader.line_num} has {len(row)} fields, the header {len(header)}",
                        where=where,
                        fix="the file is truncated or badly quoted; re-export it",
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise DataError("not UTF-8 text", where=where, fix="export as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise DataError(f"malformed CSV ({exc})", where=where, fix="re-export the file") from exc
    duplicates = {c for c in header if header.count(c) > 1}
    if duplicates:
        raise DataError(f"duplicate column(s) {sorted(duplicates)}", where=where)
    index = {name: i for i, name in enumerate(header)}
    fields = list(schema) + [pa.field(c, pa.string()) for c in header if c not in schema.names]
    arrays = []
    for f in fields:
        position = index.get(f.name)
        if position is None:
            arrays.append(pa.nulls(len(rows), f.type))
            continue
        values = []
        for r, row in enumerate(rows):
            try:
                values.append(convert(row[position], f.type))
            except (ValueError, TypeError) as exc:
                why = str(exc) if isinstance(exc, OutOfBounds) else f"cannot read it as {f.type}"
                raise DataError(
                    f"line {lines[r]} column {f.name!r}: {why}",
                    where=where,
                    fix="correct that cell or re-export the table",
                ) from None
        arrays.append(_array(values, f.type, where, f.name, lambda i: lines[i]))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def conform_parquet(table: pa.Table, schema: pa.Schema, where: str) -> pa.Table:
    """A Parquet export cast to `schema`: same names, safe casts only; unknown columns kept."""
    fields, arrays = [], []
    for f in schema:
        if f.name not in table.column_names:
            fields.append(f)
            arrays.append(pa.nulls(table.num_rows, f.type))
            continue
        column = table.column(f.name).combine_chunks()
        if column.type != f.type:
            try:
                column = pc.cast(column, f.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                values = column.to_pylist()
                _array_cast_row(values, column.type, f.type, where, f.name)
                raise DataError(
                    f"column {f.name!r} of type {column.type} cannot become {f.type}",
                    where=where,
                    fix="export the table with Databricks' own column types",
                ) from None
        _check_bounds(column, f.type, where, f.name)
        fields.append(f)
        arrays.append(column)
    for name in table.column_names:
        if name not in schema.names:
            fields.append(table.schema.field(name))
            arrays.append(table.column(name).combine_chunks())
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _check_bounds(column: pa.Array, dtype: pa.DataType, where: str, name: str) -> None:
    """DataError naming the first row of a float/decimal column that is not a sane number."""
    if not (pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)) or not len(column):
        return
    if pa.types.is_floating(dtype):
        bad = pc.invert(pc.is_finite(column))
        bad = pc.or_kleene(bad, pc.greater(pc.abs(column), float(MAX_MAGNITUDE)))
    else:
        bad = pc.greater(pc.abs(column.cast(pa.float64())), float(MAX_MAGNITUDE))
    first = pc.index(bad.fill_null(False), True).as_py()
    if first < 0:
        return
    try:
        _bounded(column[first].as_py())
    except OutOfBounds as exc:
        raise DataError(
            f"row {first + 1} column {name!r}: {exc}",
            where=where,
            fix="correct that row or re-export the table",
        ) from None


def _array_cast_row(
    values: list[Any], source: pa.DataType, target: pa.DataType, where: str, column: str
) -> None:
    """Raise a DataError naming the first row whose value cannot be cast (rows count from 1)."""
    for i, value in enumerate(values):
        try:
            pc.cast(pa.array([value], type=source), target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise DataError(
                f"row {i + 1} column {column!r}: value does not fit {target}",
                where=where,
                fix="correct that row or re-export the table with Databricks' column types",
            ) from None


def read_table_export(
    path: Path, full_name: str, where: str, read_parquet: ParquetReader | None
) -> pa.Table:
    """Read one export file of system table `full_name` (CSV or Parquet)."""
    schema = SYSTEM_TABLES[full_name]
    if path.suffix.lower() == ".csv":
        return read_csv_export(path, schema, where)
    if read_parquet is None:
        raise DataError(
            "Parquet reading is not available here", where=where, fix="export the table as CSV"
        )
    return conform_parquet(read_parquet(path), schema, where)
