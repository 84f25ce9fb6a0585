"""Coercion of messy raw text (real Lassa extracts) to silver types, with per-row failures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from lakecrew.core.errors import DataError
from lakecrew.services.quality.coercion import (
    DICT_SAMPLE,
    ColumnCoercion,
    coerce_column,
    coerce_table,
)
from lakecrew.testing.rawcsv import read_text_csv

FIX = Path(__file__).parents[2] / "fixtures" / "quality"


def _one(values: Sequence[str | None], type_: str, **kw: object) -> tuple[list[object], list[bool]]:
    spec = ColumnCoercion("c", "c", type_, **kw)  # type: ignore[arg-type]
    typed, bad = coerce_column(pa.array(values, pa.string()), spec)
    return typed.to_pylist(), bad.to_pylist()


def test_null_spellings_become_null_without_failing() -> None:
    typed, bad = _one(["NA", "Null", "", "  ", None, "n/a", "7"], "int")
    assert typed == [None, None, None, None, None, None, 7]
    assert bad == [False] * 7


def test_floats_written_as_ints_parse_but_fractions_fail() -> None:
    typed, bad = _one(["12.0", "12.00", "+3", "12.5", "1e3", "abc", "99999999999"], "int")
    assert typed == [12, 12, 3, None, None, None, None]
    assert bad == [False, False, False, True, True, True, True]


def test_bigint_keeps_large_values_and_double_parses_scientific() -> None:
    assert _one(["99999999999"], "bigint") == ([99999999999], [False])
    assert _one(["1.5e3", ".5", "x"], "double") == ([1500.0, 0.5, None], [False, False, True])


def test_two_digit_years_with_pivot() -> None:
    typed, bad = _one(["26", "20", "85", "2019", "NA"], "int", two_digit_year_pivot=70)
    assert typed == [2026, 2020, 1985, 2019, None]
    assert not any(bad)


def test_dates_in_several_formats_strictly() -> None:
    values = [
        "2020-01-05",
        "05/01/20",
        "30 December 2019",
        "2025-12-01T01:08:41.45",
        "99-01-01",
        "2020-02-30",
        "13/13/2020",
        "Null",
    ]
    typed, bad = _one(values, "date")
    assert typed[:5] == [
        date(2020, 1, 5),
        date(2020, 1, 5),
        date(2019, 12, 30),
        date(2025, 12, 1),
        date(1999, 1, 1),
    ]
    assert bad == [False] * 5 + [True, True, False]


def test_timestamps_iso_are_utc_and_naive_values_assumed_utc() -> None:
    typed, bad = _one(
        ["2025-12-01T01:08:41.453333", "2025-12-01T02:00", "2025-12-01T02:00+01:00", "yesterday"],
        "timestamp",
    )
    assert typed[0] == datetime(2025, 12, 1, 1, 8, 41, 453333, tzinfo=UTC)
    assert typed[2] == datetime(2025, 12, 1, 1, 0, tzinfo=UTC)
    assert bad == [False, False, False, True]


def test_a_timestamp_outside_the_years_1_to_9999_in_utc_is_bad_not_a_crash() -> None:
    typed, bad = _one(
        ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00", "0001-01-02"], "timestamp"
    )
    assert typed[:2] == [None, None] and bad == [True, True, False]


def test_booleans() -> None:
    assert _one(["yes", "N", "1", "maybe"], "boolean") == (
        [True, False, True, None],
        [False, False, False, True],
    )


def test_niyi_extract_null_rows_coerce_and_reasons_name_column_and_value() -> None:
    raw = read_text_csv(FIX / "lassa_niyi_with_null_sample.csv")
    out = coerce_table(
        raw,
        [
            ColumnCoercion("week_start_date", "week_start", "date"),
            ColumnCoercion("confirmed_cases", "confirmed", "int"),
            ColumnCoercion("extraction_timestamp", "extracted_at", "timestamp"),
            ColumnCoercion("epi_week_info", "week_info_as_int", "int"),
        ],
    )
    assert out.table.column("confirmed").null_count == 3  # the three `Null` rows
    assert out.failures_by_column["confirmed"] == 0
    # epi_week_info is free text: every non-null row fails; the reason names column and value.
    texts = [v for v in raw.column("epi_week_info").to_pylist() if v.strip()]
    assert out.failures_by_column["week_info_as_int"] == len(texts) == 14
    reasons = [r for r in out.reasons.to_pylist() if r is not None]
    assert len(reasons) == 14
    assert 'coerce.week_info_as_int: "EpiWeek18:03–09May2021" is not an integer' in reasons
    assert all(r.startswith('coerce.week_info_as_int: "') for r in reasons)
    assert max(len(r) for r in reasons) < 100  # long values are cut at 40 characters
    assert out.failed_count == 14


def test_biodivhealth_counts_as_floats() -> None:
    raw = read_text_csv(FIX / "lassa_biodivhealth_sample.csv")
    out = coerce_table(
        raw,
        [
            ColumnCoercion("deaths", "deaths", "int"),
            ColumnCoercion("year", "year", "int", two_digit_year_pivot=70),
        ],
    )
    assert out.failed_count == 0
    assert set(out.table.column("year").to_pylist()) <= {2020, 2021, 2022, 2023, 2024, 2025, 2026}
    assert 6 in out.table.column("deaths").to_pylist()


def test_missing_source_column_and_unknown_type() -> None:
    with pytest.raises(DataError, match="source column nope is missing"):
        coerce_table(pa.table({"a": ["1"]}), [ColumnCoercion("nope", "x", "int")])
    with pytest.raises(DataError, match="unknown type"):
        ColumnCoercion("a", "a", "varchar")


def test_typed_columns_pass_through_or_convert() -> None:
    typed, bad = coerce_column(pa.array([1.0, 2.5]), ColumnCoercion("c", "c", "int"))
    assert typed.to_pylist() == [1, None] and bad.to_pylist() == [False, True]
    same = pa.array([1, 2], pa.int32())
    assert coerce_column(same, ColumnCoercion("c", "c", "int"))[0] is same


def test_fast_integer_cast_keeps_the_strict_rules() -> None:
    # Arrow's own cast would read hexadecimal and 19 digits; the strict rules do not.
    typed, bad = _one(["12", "-0", "007", "0x1F"], "bigint")
    assert typed == [12, 0, 7, None] and bad == [False, False, False, True]
    typed, bad = _one(["1", "1234567890123456789"], "bigint")
    assert typed == [1, None] and bad == [False, True]
    typed, bad = _one(["5", "3000000000"], "int")
    assert typed == [5, None] and bad == [False, True]


def _reasons(values: Sequence[str], type_: str, **kw: object) -> list[str | None]:
    spec = ColumnCoercion("raw", "cases", type_, **kw)  # type: ignore[arg-type]
    return coerce_table(
        pa.table({"raw": pa.array(values, pa.string())}), [spec]
    ).reasons.to_pylist()


def test_reasons_say_what_was_found_and_how_to_read_it() -> None:
    sep = "thousands separator? set number.thousands:"
    got = _reasons(
        ["12,5", "1,234", "1.234,5", "492 272", "12.5", "abc", "99999999999", "7"], "int"
    )
    assert got == [
        'coerce.cases: "12,5" is not an integer (decimal comma? set number.decimal: ",")',
        f'coerce.cases: "1,234" is not an integer ({sep} ",")',
        'coerce.cases: "1.234,5" is not an integer (set number.decimal: "," and '
        'number.thousands: ".")',
        f'coerce.cases: "492 272" is not an integer ({sep} " ")',
        'coerce.cases: "12.5" is not an integer (it has a fraction: use type double)',
        'coerce.cases: "abc" is not an integer',
        'coerce.cases: "99999999999" is not an integer (out of range for int)',
        None,
    ]
    assert _reasons(["31/02/2020"], "date") == [
        'coerce.cases: "31/02/2020" is not a date in date_formats (between 1900 and 2100)'
    ]


def test_pii_reasons_show_the_shape_never_the_value() -> None:
    got = _reasons(["+234 803 555 0199", "Aisha Bello"], "bigint", masked=True)
    assert got == [
        'coerce.cases: a value shaped "+999 999 999 9999" is not an integer',
        'coerce.cases: a value shaped "Aaaaa Aaaaa" is not an integer',
    ]
    assert not any("0199" in r or "Aisha" in r for r in got if r)


def test_number_formats_decimal_comma_and_thousands() -> None:
    from lakecrew.services.quality.numbers import NumberFormat

    euro = NumberFormat(decimal=",", thousands=".")
    typed, bad = _one(
        ["1.234,5", "12,5", "1234", "-0,5", "1.5", "1,23.4", "NA"], "double", number=euro
    )
    assert typed == [1234.5, 12.5, 1234.0, -0.5, None, None, None]
    assert bad == [False, False, False, False, True, True, False]
    spaced = NumberFormat(thousands=" ")
    typed, bad = _one(["492 272", "492\u00a0272", "1\u202f000", "12 34", "7"], "int", number=spaced)
    assert typed == [492272, 492272, 1000, None, 7] and bad == [False, False, False, True, False]
    typed, bad = _one(
        ["1,234", "1,234,567.5", "1,23"], "double", number=NumberFormat(thousands=",")
    )
    assert typed == [1234.0, 1234567.5, None] and bad == [False, False, True]
    assert _reasons(["1,23"], "double", number=NumberFormat(thousands=",")) == [
        'coerce.cases: "1,23" is not a number (number format: decimal ".", thousands ",")'
    ]


MESSY = {
    "int": ["12", " 7 ", "12.0", "NA", "", None, "12.5", "0x1F", "3000000000", "-4"],
    "double": ["1.5", " 2 ", "1e3", "n/a", None, "abc", ".5"],
    "date": ["2020-01-05", "05/01/20", " 30 December 2019 ", "2020-02-30", "Null", None],
    "boolean": ["yes", " N ", "true", "maybe", "", None],
    "string": ["Kano", " Kano ", "NA", "", None, "Lagos"],
}


@pytest.mark.parametrize("type_", sorted(MESSY))
def test_a_column_of_few_values_coerces_as_value_by_value(type_: str) -> None:
    # Long columns of few distinct values are coerced once per distinct value: every row
    # must get what the row-by-row rules give (nulls, trims, failures), chunks or not.
    values = MESSY[type_]
    spec = ColumnCoercion("c", "c", type_)
    one_typed, one_bad = coerce_column(pa.array(values, pa.string()), spec)
    reps = 8000  # 48,000-80,000 rows: long enough for the shortcut
    long = pa.chunked_array([pa.array(values * (reps // 2), pa.string())] * 2)
    assert len(long) >= 4 * DICT_SAMPLE
    typed, bad = coerce_column(long, spec)
    assert typed.to_pylist() == one_typed.to_pylist() * reps
    assert bad.to_pylist() == one_bad.to_pylist() * reps


def test_an_untouched_text_column_is_returned_without_a_copy() -> None:
    long = pa.chunked_array([pa.array(["Kano", "Lagos", "Oyo"] * 20_000, pa.string())])
    typed, bad = coerce_column(long, ColumnCoercion("c", "c", "string"))
    assert typed is long and not any(bad.to_pylist())


@pytest.mark.parametrize("type_", sorted(MESSY))
def test_a_column_parsed_as_a_dictionary_coerces_as_its_text_does(type_: str) -> None:
    # csvstream parses columns of few values as dictionaries; chunks may carry different
    # dictionaries (unified here), and the result is plain values, as for text.
    values = MESSY[type_]
    spec = ColumnCoercion("c", "c", type_)
    one_typed, one_bad = coerce_column(pa.array(values, pa.string()), spec)
    first = pa.array(values, pa.string()).dictionary_encode()
    second = pa.array(list(reversed(values)), pa.string()).dictionary_encode()
    assert not first.dictionary.equals(second.dictionary) or type_ == "string"
    typed, bad = coerce_column(pa.chunked_array([first, second]), spec)
    assert not pa.types.is_dictionary(typed.type)
    assert typed.to_pylist() == one_typed.to_pylist() + list(reversed(one_typed.to_pylist()))
    assert bad.to_pylist() == one_bad.to_pylist() + list(reversed(one_bad.to_pylist()))
