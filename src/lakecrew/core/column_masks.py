"""Column-mask functions (Unity Catalog `ALTER TABLE ... ALTER COLUMN ... SET MASK fn`).

A column mask is applied at READ: whoever queries the table sees ``fn(value)`` instead of the
stored value, unless the reader is privileged (the pipeline that owns the table). lakecrew masks
columns of tables that keep raw data by design (bronze) this way; silver masks at write instead.

Each function is one Databricks SQL expression over the column, written ``value``; the local SQL
engine translates it to DuckDB, a Databricks workspace would get it as
``CREATE FUNCTION <name>(value STRING) RETURN <body>``. Functions of the registry:

- ``lakecrew.masks.redact``: NULL of the column's own type (any column; the safe default);
- ``lakecrew.masks.phone_partial``: the country code (international numbers) and the last 2
  digits, as ``lakecrew.services.privacy.phone_mask.mask_phone`` does for one number
  (``'+234 803 123 4589'`` → ``'+234********89'``; several numbers in a cell are masked as one);
- ``lakecrew.masks.hash``: SHA-256 hex of the value's text. Unkeyed: a guessable value (a name,
  a phone number) can be found again by hashing guesses, so use it only for high-entropy ids.

A mask a reader cannot resolve (a name outside this registry) must be treated as ``redact``:
masks fail closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakecrew.core.errors import NotFound

VALUE = "value"
"""The name the mask bodies give the masked column."""


@dataclass(frozen=True)
class MaskFunction:
    """One mask: three-part name, Databricks SQL body over ``value``, what it does."""

    name: str
    body: str
    doc: str
    strings_only: bool = False
    """True when the body returns a string: a reader applies ``redact`` to other types."""


ONE_DIGIT_CC = ("1", "7")
"""Country codes of one digit (NANP, Russia/Kazakhstan); with TWO_DIGIT_CC, any other is three."""
TWO_DIGIT_CC = (
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
)  # fmt: skip
"""Country codes of two digits."""
_MIN_HIDDEN = 4
_KEEP_LAST = 2


def _phone_partial_body() -> str:
    """Digits only; country code kept for '+'/'00' numbers; fully masked if < 4 digits hidden."""
    trimmed = f"trim({VALUE})"
    intl = f"({trimmed} LIKE '+%' OR {trimmed} LIKE '00%')"
    every = f"regexp_replace({trimmed}, '[^0-9]', '')"
    digits = f"(CASE WHEN {trimmed} LIKE '00%' THEN substr({every}, 3) ELSE {every} END)"
    one = ", ".join(f"'{cc}'" for cc in ONE_DIGIT_CC)
    two = ", ".join(f"'{cc}'" for cc in TWO_DIGIT_CC)
    cc_len = (
        f"(CASE WHEN NOT {intl} THEN 0 WHEN substr({digits}, 1, 1) IN ({one}) THEN 1 "
        f"WHEN substr({digits}, 1, 2) IN ({two}) THEN 2 ELSE 3 END)"
    )
    hidden = f"(length({digits}) - {cc_len} - {_KEEP_LAST})"
    head = f"(CASE WHEN {intl} THEN concat('+', substr({digits}, 1, {cc_len})) ELSE '' END)"
    tail = f"substr({digits}, length({digits}) - {_KEEP_LAST - 1})"
    return (
        f"CASE WHEN {VALUE} IS NULL THEN NULL WHEN {trimmed} = '' THEN '' "
        f"WHEN {hidden} < {_MIN_HIDDEN} THEN repeat('*', greatest(length({digits}), 1)) "
        f"ELSE concat({head}, repeat('*', {hidden}), {tail}) END"
    )


REDACT = "lakecrew.masks.redact"
PHONE_PARTIAL = "lakecrew.masks.phone_partial"
HASH = "lakecrew.masks.hash"

MASK_FUNCTIONS: dict[str, MaskFunction] = {
    REDACT: MaskFunction(
        REDACT,
        f"CASE WHEN FALSE THEN {VALUE} END",
        "NULL of the column's type: nothing of the value is shown.",
    ),
    PHONE_PARTIAL: MaskFunction(
        PHONE_PARTIAL,
        _phone_partial_body(),
        "Country code and last 2 digits of a phone number ('+234********89').",
        strings_only=True,
    ),
    HASH: MaskFunction(
        HASH,
        f"sha2(CAST({VALUE} AS STRING), 256)",
        "SHA-256 hex of the value (unkeyed: for high-entropy ids only).",
        strings_only=True,
    ),
}


def mask_function(name: str) -> MaskFunction:
    """The registered mask called ``name`` (case-blind); NotFound listing the known ones."""
    found = MASK_FUNCTIONS.get(name.strip().lower())
    if found is None:
        raise NotFound(
            f"no column-mask function {name!r}",
            where="column mask",
            fix="use one of: " + ", ".join(sorted(MASK_FUNCTIONS)),
        )
    return found
