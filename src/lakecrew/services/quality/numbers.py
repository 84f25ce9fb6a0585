"""Number formats (decimal comma, thousands separators) and why a raw value did not coerce.

``NumberFormat(decimal=",", thousands=".")`` reads ``1.234,5`` as 1234.5; ``thousands=" "``
also accepts the no-break and narrow no-break spaces French-style exports use (``492 272``).
A declared format is strict: digit groups must be of three (``1,23`` fails with
``thousands=","``), and a value in another notation fails (``1.5`` with ``decimal=","``) rather
than being guessed. Plain digits (``1234``) always parse.

``failure_reasons`` words the quarantine reason of each value that did not coerce, vectorised
over the failing values only: ``coerce.cases: "12,5" is not an integer (decimal comma? set
number.decimal: ",")``. The value is quoted (cut at 40 characters) unless the column holds PII:
then only its shape is shown (digits as ``9``, letters as ``a``/``A``, cut at 24), so a
quarantine reason never carries personal data that the quarantine table tokenizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

SPACES = "[ \\x{00A0}\\x{202F}]"
"""``thousands: " "`` matches a space, a no-break space or a narrow no-break space."""
NUMERIC = ("int", "bigint", "double", "float")
_NOUN = {
    "int": "an integer",
    "bigint": "an integer",
    "double": "a number",
    "float": "a number",
    "boolean": "a boolean (true/false, yes/no, y/n, t/f, 1/0)",
    "date": "a date in date_formats (between 1900 and 2100)",
    "timestamp": "an ISO 8601 timestamp",
    "string": "text",
}
_SIGN = r"^[+-]?"
# (regex over the trimmed raw text, hint, types it applies to): the first match wins.
_HINTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        _SIGN + r"\d{1,3}(\.\d{3})+,\d+$",
        'set number.decimal: "," and number.thousands: "."',
        NUMERIC,
    ),
    (
        _SIGN + r"\d{1,3}(" + SPACES + r"\d{3})+,\d+$",
        'set number.decimal: "," and number.thousands: " "',
        NUMERIC,
    ),
    (
        _SIGN + r"\d{1,3}(,\d{3})+(\.\d+)?$",
        'thousands separator? set number.thousands: ","',
        NUMERIC,
    ),
    (
        _SIGN + r"\d{1,3}(" + SPACES + r"\d{3})+(\.\d+)?$",
        'thousands separator? set number.thousands: " "',
        NUMERIC,
    ),
    (_SIGN + r"\d{1,3}(\.\d{3})+$", 'thousands separator? set number.thousands: "."', NUMERIC),
    (_SIGN + r"\d*,\d+$", 'decimal comma? set number.decimal: ","', NUMERIC),
    (_SIGN + r"\d+\.\d+$", "it has a fraction: use type double", ("int", "bigint")),
    (_SIGN + r"\d+$", "out of range", ("int", "bigint")),
)


@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written: the decimal mark and the thousands separator (None: none)."""

    decimal: str = "."
    thousands: str | None = None

    @property
    def plain(self) -> bool:
        """True for ``1234.5`` notation (nothing to normalise)."""
        return self.decimal == "." and self.thousands is None

    def describe(self) -> str:
        """``decimal ",", thousands "."``."""
        return f'decimal "{self.decimal}", thousands ' + (
            f'"{self.thousands}"' if self.thousands is not None else "none"
        )

    def pattern(self) -> str:
        """An RE2 pattern of a number in this format (sign, grouped or plain digits, fraction)."""
        dec = "\\" + self.decimal
        if self.thousands is None:
            whole = r"\d+"
        else:
            sep = SPACES if self.thousands == " " else "\\" + self.thousands
            whole = r"(\d{1,3}(" + sep + r"\d{3})+|\d+)"
        number = f"({whole}({dec}\\d*)?|{dec}\\d+)"
        return _SIGN + number + r"([eE][+-]?\d{1,3})?$"


def normalize(clean: pa.Array, fmt: NumberFormat) -> pa.Array:
    """``clean`` in plain notation (``1234.5``); null where a value is not in ``fmt``."""
    fits = pc.match_substring_regex(clean, fmt.pattern())
    text = clean
    if fmt.thousands is not None:
        sep = SPACES if fmt.thousands == " " else "\\" + fmt.thousands
        text = pc.replace_substring_regex(text, sep, "")
    if fmt.decimal != ".":
        text = pc.replace_substring(text, fmt.decimal, ".")
    return pc.if_else(fits, text, pa.scalar(None, pa.string()))


def failure_reasons(
    values: pa.Array, *, column: str, type_: str, masked: bool, fmt: NumberFormat
) -> pa.Array:
    """One reason per failing value (``values``: the trimmed raw text of failing rows)."""
    if not len(values):
        return pa.array([], pa.string())
    shown = _shape(values) if masked else _quoted(values)
    what = "a value shaped " if masked else ""
    base = pc.binary_join_element_wise(
        f"coerce.{column}: {what}", shown, f" is not {_NOUN[type_]}", ""
    )
    hint = _hints(values, type_, fmt)
    with_hint = pc.binary_join_element_wise(base, " (", hint, ")", "")
    return pc.coalesce(with_hint, base)


def _quoted(values: pa.Array) -> pa.Array:
    text = pc.replace_substring_regex(values, r"[\x00-\x1f\x7f]", "?")
    text = pc.replace_substring_regex(text, r'(["\\])', "\\\\\\1")
    return _cut(text, 40)


def _shape(values: pa.Array) -> pa.Array:
    text = pc.replace_substring_regex(values, r"\p{Nd}", "9")
    text = pc.replace_substring_regex(text, r"\p{Ll}", "a")
    text = pc.replace_substring_regex(text, r"\p{Lu}", "A")
    text = pc.replace_substring_regex(text, r"[\p{Lo}\p{Lm}\p{Lt}]", "a")
    text = pc.replace_substring_regex(text, r"[^\p{L}\p{N}\p{P}\p{S} ]", "?")
    return _cut(text, 24)


def _cut(text: pa.Array, limit: int) -> pa.Array:
    """``"text"``, cut to ``limit`` characters with an ellipsis."""
    short = pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, limit - 1), "…", "")
    text = pc.if_else(pc.greater(pc.utf8_length(text), limit), short, text)
    return pc.binary_join_element_wise('"', text, '"', "")


def _hints(values: pa.Array, type_: str, fmt: NumberFormat) -> pa.Array:
    out: pa.Array = pa.nulls(len(values), pa.string())
    if type_ not in NUMERIC:
        return out
    if not fmt.plain:
        fits = pc.match_substring_regex(values, fmt.pattern())
        numeric = pc.match_substring_regex(values, r"\d")
        out = pc.if_else(pc.or_(fits, pc.invert(numeric)), out, f"number format: {fmt.describe()}")
        values = normalize(values, fmt)
    for regex, hint, types in _HINTS:
        if type_ not in types:
            continue
        text = f"out of range for {type_}" if hint == "out of range" else hint
        hit = pc.fill_null(pc.and_(pc.match_substring_regex(values, regex), pc.is_null(out)), False)
        out = pc.if_else(hit, text, out)
    return out
