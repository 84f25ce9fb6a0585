"""Coerce raw (text) columns to their silver types, reporting every row that does not fit.

Nothing is cast silently: a value either parses exactly or its row is reported as failed with
a reason naming the column, the value (only its shape when the column holds PII) and, for
numbers, the likely fix: ``coerce.cases: "12,5" is not an integer (decimal comma? set
number.decimal: ",")`` (numbers.py). Rules:

- trimmed values in ``null_values`` (case-insensitive; default ``''``, ``NA``, ``N/A``, ``Null``,
  ``None``, ``nan``, ``-``) become null;
- ``int``/``bigint``: ``12``, ``+12``, ``12.0`` and ``12.00`` parse; ``12.5``, ``1e3`` and
  values out of range fail. With ``two_digit_year_pivot`` (e.g. 70) values 0–99 become years
  (``26`` → 2026, ``85`` → 1985);
- ``double``/``float``: decimal or scientific notation;
- numbers in another notation need a ``NumberFormat`` (numbers.py): ``decimal=","`` and/or
  ``thousands`` (``,`` ``.`` ``'`` ``_`` or a space), strictly (groups of three digits);
- ``boolean``: true/false, t/f, yes/no, y/n, 1/0;
- ``date``: each of ``date_formats`` in order, strictly (day-first, as written in West Africa;
  ``30/02/2020`` fails); an ISO timestamp keeps its date part; dates outside 1900–2100 fail;
- ``timestamp``: ISO 8601 (``T`` or space, optional fraction and offset); naive values are UTC;
- ``string``: trimmed, null spellings become null.

Columns that already have the target type pass through unchanged; other typed columns are
converted through their text form with the same rules.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core.distinct import distinct_share
from lakecrew.core.errors import DataError
from lakecrew.services.quality.numbers import NUMERIC, NumberFormat, failure_reasons, normalize
from lakecrew.services.quality.parallel import map_threads

DEFAULT_NULLS = ("", "na", "n/a", "null", "none", "nan", "-", "#n/a")
DEFAULT_DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d/%m/%y",
    "%d-%m-%y",
    "%y-%m-%d",
)
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_INT_RE = r"^[+-]?\d{1,18}(\.0*)?$"
_FLOAT_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_MIN_DATE, _MAX_DATE = date(1900, 1, 1), date(2100, 12, 31)
_INT32 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True)
class ColumnCoercion:
    """How to build one silver column from one raw column."""

    source: str
    target: str
    type: str
    null_values: tuple[str, ...] = DEFAULT_NULLS
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    two_digit_year_pivot: int | None = None
    number: NumberFormat = field(default_factory=NumberFormat)
    masked: bool = False
    """The column holds PII: a failure reason shows the value's shape, never the value."""

    def __post_init__(self) -> None:
        if self.type not in ARROW_TYPES:
            raise DataError(
                f"column {self.target}: unknown type {self.type}",
                where=f"column {self.target}",
                fix=f"use one of {', '.join(ARROW_TYPES)}",
            )


@dataclass(frozen=True)
class CoercionOutcome:
    """The typed table, which rows failed, and why (reasons name columns and types only)."""

    table: pa.Table
    failed: pa.BooleanArray
    failures_by_column: dict[str, int] = field(default_factory=dict)
    bad_by_column: dict[str, tuple[pa.BooleanArray, pa.StringArray]] = field(default_factory=dict)
    """Per column with failures: its failure mask and per-row reasons (null where the value
    coerced); a row failing several columns gets the first column's reason."""

    @property
    def failed_count(self) -> int:
        """Rows with at least one value that did not coerce."""
        return int(pc.sum(self.failed).as_py() or 0)

    @property
    def reasons(self) -> pa.StringArray:
        """Per row: the reason of its first failing column, null where the row coerced."""
        return self.reasons_where(None)

    def reasons_where(self, mask: pa.BooleanArray | None) -> pa.StringArray:
        """``reasons`` of the rows selected by ``mask`` only (all rows when None)."""
        n = len(self.failed) if mask is None else int(pc.sum(mask).as_py() or 0)
        out: pa.Array = pa.nulls(n, pa.string())
        for bad, reason in self.bad_by_column.values():
            hit = bad if mask is None else bad.filter(mask)
            text = reason if mask is None else reason.filter(mask)
            out = pc.if_else(pc.and_(hit, pc.is_null(out)), text, out)
        return out


def coerce_table(raw: pa.Table, columns: Sequence[ColumnCoercion]) -> CoercionOutcome:
    """Build the typed table of ``columns`` from ``raw`` and report rows that failed."""
    n = raw.num_rows
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    failed = pa.array(np.zeros(n, np.bool_))
    counts: dict[str, int] = {}
    bad_by: dict[str, tuple[pa.BooleanArray, pa.StringArray]] = {}
    for spec in columns:
        if spec.source not in raw.column_names:
            raise DataError(
                f"source column {spec.source} is missing from the bronze batch",
                where=f"column {spec.target}",
                fix="fix `source:` of the column in the silver spec, or the source",
            )
    # Columns are independent and Arrow kernels release the GIL: coerce them side by side.
    done = map_threads(lambda s: coerce_column(raw.column(s.source), s), columns)
    for spec, (values, bad) in zip(columns, done, strict=True):
        arrays.append(values)
        fields.append(pa.field(spec.target, values.type))
        counts[spec.target] = int(pc.sum(bad).as_py() or 0)
        if counts[spec.target]:
            bad_by[spec.target] = (bad, _reasons(raw.column(spec.source), bad, spec))
            failed = pc.or_(failed, bad)
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return CoercionOutcome(table, failed, counts, bad_by)


def _reasons(values: pa.ChunkedArray, bad: pa.BooleanArray, spec: ColumnCoercion) -> pa.Array:
    """Per row: why its value did not coerce (null where it did); worded on failing rows only."""
    failing = values.filter(bad)
    text = failing if pa.types.is_string(failing.type) else pc.cast(failing, pa.string())
    worded = failure_reasons(
        pc.utf8_trim_whitespace(text.combine_chunks()),
        column=spec.target,
        type_=spec.type,
        masked=spec.masked,
        fmt=spec.number,
    )
    return pc.replace_with_mask(pa.nulls(len(bad), pa.string()), bad, worded)


def coerce_column(
    values: pa.Array | pa.ChunkedArray, spec: ColumnCoercion
) -> tuple[pa.Array | pa.ChunkedArray, pa.BooleanArray]:
    """(typed values with failures as null, per-row failure flags).

    Chunks are kept (no copy into one array). A column with few distinct values (judged on its
    first ``DICT_SAMPLE`` values) is coerced once per distinct value and the results gathered
    back by index: the same answer per value, a fraction of the passes over the rows; a text
    column that coercion leaves as it is comes back unchanged, without a copy.
    """
    target = ARROW_TYPES[spec.type]
    if values.type == target and spec.type != "string" and spec.two_digit_year_pivot is None:
        return values, pa.array(np.zeros(len(values), np.bool_))
    text: pa.Array | pa.ChunkedArray | None = None
    if _text_dictionary(values.type):  # parsed as a dictionary (csvstream): already encoded
        encoded = _one_dictionary(values)
    else:
        text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
        if not _few_distinct(text):
            typed, bad = _coerce_text(text, spec)
            return typed, _one_chunk(bad)
        encoded = pc.dictionary_encode(text)
    if isinstance(encoded, pa.ChunkedArray):  # chunks share one dictionary
        words = encoded.chunk(0).dictionary if encoded.num_chunks else pa.array([], pa.string())
        indices: pa.Array | pa.ChunkedArray = pa.chunked_array(
            [c.indices for c in encoded.chunks], pa.int32()
        )
    else:
        words, indices = encoded.dictionary, encoded.indices
    typed_words, bad_words = _coerce_text(words, spec)
    bad = _one_chunk(pc.fill_null(pc.take(bad_words, indices), False))
    if text is not None and spec.type == "string" and _unchanged(words, typed_words):
        return text, bad
    return pc.take(typed_words, indices), bad


def _text_dictionary(kind: pa.DataType) -> bool:
    return bool(pa.types.is_dictionary(kind) and pa.types.is_string(kind.value_type))


def _one_dictionary(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A dictionary column whose chunks all share one dictionary (unified when they do not)."""
    if not isinstance(values, pa.ChunkedArray) or values.num_chunks < 2:
        return values
    first = values.chunk(0).dictionary
    if all(c.dictionary is first or c.dictionary.equals(first) for c in values.chunks[1:]):
        return values
    return pa.Table.from_arrays([values], ["v"]).unify_dictionaries().column(0)


DICT_SAMPLE = 8192
"""Values looked at to tell whether a column has few distinct values (see coerce_column)."""


def _few_distinct(text: pa.Array | pa.ChunkedArray) -> bool:
    """At most a quarter of the first ``DICT_SAMPLE`` values distinct (long columns only)."""
    return len(text) >= 4 * DICT_SAMPLE and distinct_share(text, DICT_SAMPLE) <= 0.25


def _unchanged(words: pa.Array, typed: pa.Array) -> bool:
    """True when coercion kept every distinct text value as it was (no trim, no null)."""
    if typed.null_count != words.null_count:
        return False
    return bool(pc.all(pc.equal(words, typed)).as_py() in (True, None))


def _one_chunk(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _coerce_text(
    text: pa.Array | pa.ChunkedArray, spec: ColumnCoercion
) -> tuple[pa.Array | pa.ChunkedArray, pa.Array | pa.ChunkedArray]:
    """Coerce text values one by one: (typed values with failures as null, failure flags)."""
    target = ARROW_TYPES[spec.type]
    trimmed = pc.utf8_trim_whitespace(text)
    nullish = pc.fill_null(_nullish(trimmed, spec.null_values), True)
    present = pc.and_(pc.is_valid(trimmed), pc.invert(nullish))
    clean = trimmed
    if pc.any(nullish).as_py():
        clean = pc.if_else(present, trimmed, pa.scalar(None, pa.string()))
    if spec.type in NUMERIC and not spec.number.plain:
        clean = normalize(clean, spec.number)
    parsed, ok = _PARSERS[spec.type](clean, spec)
    bad = pc.fill_null(pc.and_(present, pc.invert(pc.fill_null(ok, False))), False)
    typed = pc.cast(parsed, target)
    if pc.any(bad).as_py():
        typed = pc.if_else(bad, pa.scalar(None, target), typed)
    return typed, bad


def _nullish(trimmed: pa.Array, spellings: Sequence[str]) -> pa.Array:
    """Values that spell null in any letter case (without lower-casing the whole column)."""
    variants = _case_variants(spellings)
    if variants is None:
        lowered = pa.array(list(dict.fromkeys(v.lower() for v in spellings)), pa.string())
        return pc.is_in(pc.utf8_lower(trimmed), value_set=lowered)
    return pc.is_in(trimmed, value_set=pa.array(variants, pa.string()))


def _case_variants(spellings: Sequence[str], limit: int = 4096) -> list[str] | None:
    """Every upper/lower-case spelling of short ASCII ``spellings``; None when too many."""
    out: dict[str, None] = {}
    for word in spellings:
        low = word.lower()
        # Only the Kelvin sign lower-cases into ASCII ("k"): words with k take the slow path.
        if not low.isascii() or "k" in low or 2 ** sum(c.isalpha() for c in low) > limit:
            return None
        for combo in itertools.product(*((c, c.upper()) if c.isalpha() else (c,) for c in low)):
            out["".join(combo)] = None
        if len(out) > limit:
            return None
    return list(out)


def _plain_ints(clean: pa.Array) -> pa.Array | None:
    """Arrow's own cast when every value is plain digits within the regex's 18; else None."""
    if (
        pc.any(pc.match_substring(clean, "x")).as_py()
        or pc.any(pc.match_substring(clean, "X")).as_py()
    ):
        return None  # Arrow also reads hexadecimal (0x1F); the strict path rejects it
    try:
        nums = pc.cast(clean, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    big = pc.max(pc.abs_checked(nums)).as_py() if nums.null_count < len(nums) else 0
    return nums if big is not None and big < 10**18 else None


def _ints(clean: pa.Array, spec: ColumnCoercion) -> tuple[pa.Array, pa.Array]:
    plain = _plain_ints(clean)
    if plain is not None:
        return _int_range(plain, pc.is_valid(clean), spec)
    fmt = pc.match_substring_regex(clean, _INT_RE)
    digits = pc.replace_substring_regex(pc.replace_substring_regex(clean, r"\.0*$", ""), r"^\+", "")
    nums = pc.cast(pc.if_else(fmt, digits, pa.scalar(None, pa.string())), pa.int64())
    return _int_range(nums, fmt, spec)


def _int_range(nums: pa.Array, fmt: pa.Array, spec: ColumnCoercion) -> tuple[pa.Array, pa.Array]:
    if spec.two_digit_year_pivot is not None:
        small = pc.and_(pc.greater_equal(nums, 0), pc.less_equal(nums, 99))
        century = pc.if_else(pc.less(nums, spec.two_digit_year_pivot), 2000, 1900)
        nums = pc.if_else(small, pc.add(nums, century), nums)
    ok = fmt
    if spec.type == "int":
        ok = pc.and_(
            fmt, pc.and_(pc.greater_equal(nums, _INT32[0]), pc.less_equal(nums, _INT32[1]))
        )
        nums = pc.if_else(ok, nums, pa.scalar(None, pa.int64()))
    return nums, ok


def _floats(clean: pa.Array, spec: ColumnCoercion) -> tuple[pa.Array, pa.Array]:
    ok = pc.match_substring_regex(clean, _FLOAT_RE)
    nums = pc.cast(pc.if_else(ok, clean, pa.scalar(None, pa.string())), pa.float64())
    if spec.type == "float":
        ok = pc.and_(ok, pc.less_equal(pc.abs(nums), 3.4e38))
        nums = pc.if_else(ok, nums, pa.scalar(None, pa.float64()))
    return nums, ok


def _bools(clean: pa.Array, spec: ColumnCoercion) -> tuple[pa.Array, pa.Array]:
    low = pc.utf8_lower(clean)
    is_true = pc.is_in(low, value_set=pa.array(_TRUE))
    is_false = pc.is_in(low, value_set=pa.array(_FALSE))
    # A null (or a null spelling) stays null: is_in alone would make it false.
    typed = pc.if_else(pc.is_valid(clean), is_true, pa.scalar(None, pa.bool_()))
    return typed, pc.or_(is_true, is_false)


def _parse_date(value: str, formats: Sequence[str]) -> date | None:
    text = value[:10] if re.match(r"^\d{4}-\d{2}-\d{2}[T ]", value) else value
    text = " ".join(text.replace(",", " ").split())
    for fmt in formats:
        try:
            got = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if _MIN_DATE <= got <= _MAX_DATE:
            return got
    return None


def _dates(clean: pa.Array, spec: ColumnCoercion) -> tuple[pa.Array, pa.Array]:
    uniques = pc.unique(pc.drop_null(clean))
    formats = spec.date_formats
    mapped = pa.array([_parse_date(v, formats) for v in uniques.to_pylist()], pa.date32())
    values = mapped.take(pc.index_in(clean, value_set=uniques, skip_nulls=True))
    return values, pc.is_valid(values)


def _iso(value: str) -> datetime | None:
    """UTC, or None when ``fromisoformat`` rejects the value or its UTC time falls outside the
    years 1-9999 (``0001-01-01T00:00+01:00`` raised OverflowError and stopped the run)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _timestamps(clean: pa.Array, spec: ColumnCoercion) -> tuple[pa.Array, pa.Array]:
    uniques = pc.unique(pc.drop_null(clean))
    mapped = pa.array([_iso(v) for v in uniques.to_pylist()], pa.timestamp("us", tz="UTC"))
    values = mapped.take(pc.index_in(clean, value_set=uniques, skip_nulls=True))
    return values, pc.is_valid(values)


def _strings(clean: pa.Array, spec: ColumnCoercion) -> tuple[pa.Array, pa.Array]:
    return clean, pc.is_valid(clean)


_PARSERS = {
    "string": _strings,
    "int": _ints,
    "bigint": _ints,
    "double": _floats,
    "float": _floats,
    "boolean": _bools,
    "date": _dates,
    "timestamp": _timestamps,
}
