"""Schema checks run BEFORE every Delta write, and Arrow → Databricks type names.

delta-rs silently casts some data (float 9.7 into an int column becomes 9; merge drops new source
columns unless `merge_schema`). These checks refuse every cast that can lose or change data and
name the table and column; only safe widenings (int32 → int64, float32 → float64, decimal with
more room, string ↔ large_string, timestamp unit changes with the same timezone-awareness) pass.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pt

from lakecrew.core.errors import SchemaMismatch
from lakecrew.ports.source import encoded_as, plain_type

_INT_ORDER = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]
_UINT_ORDER = [pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]


def type_text(t: pa.DataType) -> str:
    """The Databricks SQL type name of an Arrow type (`bigint`, `map<string,string>`, ...)."""
    simple = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.uint8(): "smallint",
        pa.uint16(): "int",
        pa.uint32(): "bigint",
        pa.uint64(): "decimal(20,0)",
        pa.float16(): "float",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.bool_(): "boolean",
        pa.date32(): "date",
        pa.null(): "void",
    }
    if t in simple:
        return simple[t]
    if pt.is_string(t) or pt.is_large_string(t) or pt.is_string_view(t):
        return "string"
    if pt.is_binary(t) or pt.is_large_binary(t) or pt.is_fixed_size_binary(t):
        return "binary"
    if pt.is_timestamp(t):
        return "timestamp" if t.tz else "timestamp_ntz"
    if pt.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pt.is_map(t):
        return f"map<{type_text(t.key_type)},{type_text(t.item_type)}>"
    if pt.is_list(t) or pt.is_large_list(t):
        return f"array<{type_text(t.value_type)}>"
    if pt.is_struct(t):
        inner = ",".join(f"{f.name}:{type_text(f.type)}" for f in t)
        return f"struct<{inner}>"
    return str(t)


def _rank(t: pa.DataType, order: list[pa.DataType]) -> int:
    return next((i for i, o in enumerate(order) if o == t), -1)


def _is_text(t: pa.DataType) -> bool:
    return bool(pt.is_string(t) or pt.is_large_string(t) or pt.is_string_view(t))


def _int_digits(t: pa.DataType) -> int:
    return {1: 3, 2: 5, 4: 10, 8: 19}[t.bit_width // 8]


def _is_number(t: pa.DataType) -> bool:
    return bool(pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t))


def _why_not_number(src: pa.DataType, dst: pa.DataType) -> str | None:
    """None if numbers of `src` fit `dst` without loss; else a short reason."""
    if pt.is_integer(src) and pt.is_integer(dst):
        if pt.is_signed_integer(src) == pt.is_signed_integer(dst):
            order = _INT_ORDER if pt.is_signed_integer(src) else _UINT_ORDER
            return None if _rank(src, order) <= _rank(dst, order) else "narrowing integer"
        if pt.is_unsigned_integer(src) and src.bit_width < dst.bit_width:
            return None
        return "integer sign/width change may overflow"
    if pt.is_floating(src) and pt.is_floating(dst):
        return None if src.bit_width <= dst.bit_width else "narrowing float"
    if pt.is_integer(src) and pt.is_floating(dst):
        return None if src.bit_width <= 32 and dst.bit_width == 64 else "int may lose precision"
    if pt.is_integer(src) and pt.is_decimal(dst):
        fits = _int_digits(src) <= dst.precision - dst.scale
        return None if fits else "integer may not fit the decimal"
    if pt.is_decimal(src) and pt.is_decimal(dst):
        ok = src.scale <= dst.scale and src.precision - src.scale <= dst.precision - dst.scale
        return None if ok else "decimal would be rounded or overflow"
    if pt.is_floating(src) and (pt.is_integer(dst) or pt.is_decimal(dst)):
        return "float would be truncated/rounded (e.g. 9.7 → 9)"
    return f"{type_text(src)} cannot be stored as {type_text(dst)}"


def _why_not(src: pa.DataType, dst: pa.DataType) -> str | None:
    """None if `src` values fit `dst` without loss; else a short reason."""
    src = plain_type(src)  # dictionary-encoded values are stored as their values
    if src == dst or pt.is_null(src):
        return None
    if _is_text(src) and _is_text(dst):
        return None
    if _is_number(src) and _is_number(dst):
        return _why_not_number(src, dst)
    if _is_text(src) and _is_number(dst):
        return "text into a number column"
    if pt.is_timestamp(src) and pt.is_timestamp(dst):
        if bool(src.tz) != bool(dst.tz):
            return "timezone-aware and naive timestamps mixed (use UTC-aware timestamps)"
        return None
    if pt.is_date(src) and pt.is_timestamp(dst):
        return "date into a timestamp column"
    if pt.is_struct(src) and pt.is_struct(dst):
        return _why_not_struct(src, dst)
    if (pt.is_list(src) or pt.is_large_list(src)) and (pt.is_list(dst) or pt.is_large_list(dst)):
        return _why_not(src.value_type, dst.value_type)
    if pt.is_map(src) and pt.is_map(dst):
        return _why_not(src.key_type, dst.key_type) or _why_not(src.item_type, dst.item_type)
    return f"{type_text(src)} cannot be stored as {type_text(dst)}"


def _why_not_struct(src: pa.StructType, dst: pa.StructType) -> str | None:
    dst_names = {f.name for f in dst}
    extra = [f.name for f in src if f.name not in dst_names]
    if extra:
        return f"struct has fields the table lacks: {', '.join(extra)}"
    by_name = {f.name: f for f in src}
    for f in dst:
        if f.name in by_name:
            reason = _why_not(by_name[f.name].type, f.type)
            if reason:
                return f"field {f.name}: {reason}"
    return None


def check_schema(
    table: str,
    target: pa.Schema,
    source: pa.Schema,
    *,
    merge_schema: bool = False,
) -> pa.Schema:
    """Refuse lossy casts and missing/extra columns; return the schema to cast the data to.

    With `merge_schema`, extra source columns are added (nullable) and missing nullable target
    columns are filled with null; without it both are refused.
    """
    tgt = {f.name.lower(): f for f in target}
    src = {f.name.lower(): f for f in source}
    for name in src.keys() - tgt.keys():
        if not merge_schema:
            raise SchemaMismatch(
                f"column {src[name].name!r} is not in the table",
                where=f"{table}.{src[name].name}",
                fix="add the column to the table first, or write with merge_schema=True",
            )
    for name, field in tgt.items():
        if name not in src and (not merge_schema or not field.nullable):
            raise SchemaMismatch(
                f"column {field.name!r} ({type_text(field.type)}) is missing from the data",
                where=f"{table}.{field.name}",
                fix="include the column (null where unknown), or write with merge_schema=True",
            )
        if name in src:
            reason = _why_not(src[name].type, field.type)
            if reason:
                raise SchemaMismatch(
                    f"{type_text(src[name].type)} data into {type_text(field.type)} column "
                    f"refused: {reason}",
                    where=f"{table}.{field.name}",
                    fix=f"convert the data to {type_text(field.type)} explicitly",
                )
    fields = [f for f in target if f.name.lower() in src]
    fields += [src[n].with_nullable(True) for n in src if n not in tgt]
    return pa.schema(fields)


def check_nulls(table: str, target: pa.Schema, data: pa.Table | pa.RecordBatch) -> None:
    """Refuse nulls in NOT NULL columns (top-level), naming the column."""
    names = {n.lower(): n for n in data.schema.names}
    for field in target:
        col = names.get(field.name.lower())
        if col is None or field.nullable:
            continue
        values = data.column(col)
        if values.null_count:
            raise SchemaMismatch(
                f"{values.null_count} null value(s) in NOT NULL column {field.name!r}",
                where=f"{table}.{field.name}",
                fix="fill or drop the rows with nulls before writing",
            )


def conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select, rename (case) and cast `data` to `schema` after `check_schema` allowed it.

    A dictionary column of the column's own type stays encoded: delta-rs writes its values
    (decoding it here would copy every row's text)."""
    names = {n.lower(): n for n in data.schema.names}
    cols = [data.column(names[f.name.lower()]) for f in schema]
    out = pa.Table.from_arrays(cols, names=[f.name for f in schema])
    kept = [
        f.with_type(c.type) if encoded_as(c.type, f.type) else f
        for f, c in zip(schema, cols, strict=True)
    ]
    return out.cast(pa.schema(kept, metadata=schema.metadata))


def conform_filling(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """`data` with `schema`'s columns in order, cast to its types; a column `data` lacks is
    null (a table whose schema grew since the rows were written)."""
    import pyarrow.compute as pc  # ~40 ms to import: only for the writes that need it

    arrays = [
        pc.cast(data.column(f.name), f.type)
        if f.name in data.column_names
        else pa.nulls(data.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def duplicate_keys(data: pa.Table, keys: list[str]) -> int:
    """How many key values occur more than once in `data`."""
    if data.num_rows == 0:
        return 0
    import pyarrow.compute as pc

    counts = data.group_by(keys).aggregate([([], "count_all")])
    return int(pc.sum(pc.greater(counts.column("count_all"), 1)).as_py() or 0)
