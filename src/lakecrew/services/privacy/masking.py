"""Masking of PII columns over Arrow: keyed tokens, partial masks, generalisation, drop.

- ``Tokenizer``: deterministic HMAC-SHA256 tokens. The same value, kind and key give the same
  token in every table, so tokenized columns still join; another key gives other tokens. The key
  comes from a SecretStore, is held only inside the Tokenizer and never appears in its repr,
  in outputs or in exceptions.
- ``mask_email`` / ``mask_text``: partial masks (``a***@example.org``); phone numbers are masked
  by ``phone_mask.py`` (``+234*******89``) and tokens normalised in ``token_text.py``.
- ``generalize_year`` (date → year) and ``coarsen_geo`` (coordinate → lower-left corner of a grid
  cell of ``grid`` degrees).
- ``apply_masks``: apply a list of ``ColumnMask`` to a table.

Per-value Python functions run once per distinct value (``_distinct``). The normalisation of
tokens and the phone masks of ASCII values are pyarrow.compute (token_text.py, phone_mask.py), as
are generalisation and coarsening.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import SecretStr

from lakecrew.core.errors import ConfigError, DataError
from lakecrew.ports.secrets import SecretStore
from lakecrew.services.privacy.kinds import MaskMethod, PiiKind
from lakecrew.services.privacy.phone_mask import masked_phones
from lakecrew.services.privacy.token_text import HmacPads, normalize, normalized

MIN_KEY_BYTES = 16
TOKEN_PREFIX = "tok_"


class Tokenizer:
    """Deterministic keyed tokens: ``tok_`` + 32 hex chars of HMAC-SHA256(key, kind, value)."""

    __slots__ = ("_key", "_length")

    def __init__(self, key: SecretStr, *, length: int = 32) -> None:
        raw = key.get_secret_value().encode("utf-8")
        if len(raw) < MIN_KEY_BYTES:
            raise ConfigError(
                f"the tokenization key is shorter than {MIN_KEY_BYTES} bytes",
                where="secret store",
                fix="store a random key of at least 32 characters (e.g. `openssl rand -hex 32`)",
            )
        self._key = HmacPads(raw)
        self._length = length

    @classmethod
    def from_store(cls, store: SecretStore, scope: str, key: str) -> Tokenizer:
        """Build a Tokenizer with the key ``scope/key`` of a SecretStore."""
        return cls(store.get(scope, key))

    def __repr__(self) -> str:
        return "Tokenizer(key=**********)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Tokenizer holds a secret key and cannot be pickled")

    def token(self, value: str, kind: PiiKind | str = PiiKind.NONE) -> str:
        """The token of one value (after the normalisation of its kind)."""
        message = f"{kind}\x1f{normalize(value, kind)}".encode()
        return TOKEN_PREFIX + self._key.hexdigests([message])[0][: self._length]

    def tokenize(self, values: pa.Array | pa.ChunkedArray, kind: PiiKind | str) -> pa.Array:
        """Tokenize a column (any type; non-strings are tokenized as their text): each
        distinct value once, normalised by pyarrow.compute where it is ASCII."""
        words, indices = _distinct(_as_string(values))
        text = pc.binary_join_element_wise(f"{kind}\x1f", normalized(words, kind), "")
        digests = self._key.hexdigests(pc.cast(text, pa.binary()).to_pylist())
        n = self._length
        return pa.array([TOKEN_PREFIX + d[:n] for d in digests], pa.string()).take(indices)


def mask_email(value: str) -> str:
    """``'amina.bello@example.org'`` → ``'a***@example.org'``."""
    local, sep, domain = value.strip().partition("@")
    if not sep:
        return mask_text(value)
    return f"{local[:1]}***@{domain}"


def mask_text(value: str, *, keep_first: int = 1, keep_last: int = 0) -> str:
    """Keep ``keep_first``/``keep_last`` characters around a fixed ``***`` (length not leaked)."""
    text = value.strip()
    if len(text) <= keep_first + keep_last + 2:
        return "***"
    tail = text[len(text) - keep_last :] if keep_last else ""
    return f"{text[:keep_first]}***{tail}"


def generalize_year(values: pa.Array | pa.ChunkedArray, *, column: str = "?") -> pa.Array:
    """Date or timestamp → year (int32); nulls stay null."""
    arr = _combine(values)
    if not (pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type)):
        raise DataError(
            f"column {column}: generalize_year needs a date or timestamp column, got {arr.type}",
            where=f"column {column}",
            fix="give the column type date or timestamp in the silver spec",
        )
    return pc.cast(pc.year(arr), pa.int32())


def coarsen_geo(
    values: pa.Array | pa.ChunkedArray, *, grid: float = 0.1, column: str = "?"
) -> pa.Array:
    """Coordinate → south-west corner of its ``grid``-degree cell (0.1° ≈ 11 km)."""
    if grid <= 0:
        raise ConfigError("coarsen_geo grid must be > 0", where=f"column {column}", fix="e.g. 0.1")
    arr = _combine(values)
    try:
        num = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise DataError(
            f"column {column}: coarsen_geo needs a numeric column, got {arr.type}",
            where=f"column {column}",
            fix="give the column type double in the silver spec",
        ) from None
    decimals = max(0, -math.floor(math.log10(grid)) + 1)
    cells = pc.floor(pc.divide(num, grid))
    return pc.round(pc.multiply(cells, grid), ndigits=decimals)


@dataclass(frozen=True)
class ColumnMask:
    """How to protect one column (built from a pipeline spec's silver columns)."""

    column: str
    method: MaskMethod
    pii: PiiKind = PiiKind.NONE
    keep_last: int = 2
    keep_first: int = 1
    keep_country_code: bool = True
    grid: float = 0.1


def partial(values: pa.Array | pa.ChunkedArray, mask: ColumnMask) -> pa.Array:
    """Partial mask of a column, chosen by its PII kind."""
    text = _as_string(values)
    if mask.pii == PiiKind.PHONE:
        words, indices = _distinct(text)
        keep = mask.keep_country_code
        return masked_phones(words, keep_last=mask.keep_last, keep_country_code=keep).take(indices)
    fn: Callable[[str], str]
    if mask.pii == PiiKind.EMAIL:
        fn = mask_email
    else:
        fn = lambda v: mask_text(v, keep_first=mask.keep_first, keep_last=mask.keep_last)  # noqa: E731
    return _map_unique(text, fn)


def apply_masks(
    table: pa.Table, masks: Sequence[ColumnMask], tokenizer: Tokenizer | None = None
) -> pa.Table:
    """Return ``table`` with every mask applied (dropped columns removed)."""
    out = table
    for mask in masks:
        if mask.method == MaskMethod.NONE:
            continue
        if mask.column not in out.column_names:
            raise DataError(
                f"masked column {mask.column} is not in the table",
                where=f"column {mask.column}",
                fix="fix the column name in the silver spec",
            )
        if mask.method == MaskMethod.DROP:
            out = out.drop_columns([mask.column])
            continue
        col = out.column(mask.column)
        new = _masked(col, mask, tokenizer)
        idx = out.column_names.index(mask.column)
        out = out.set_column(idx, pa.field(mask.column, new.type), new)
    return out


def _masked(col: pa.ChunkedArray, mask: ColumnMask, tokenizer: Tokenizer | None) -> pa.Array:
    if mask.method == MaskMethod.TOKENIZE:
        if tokenizer is None:
            raise ConfigError(
                f"column {mask.column} is tokenized but no tokenization key is configured",
                where=f"column {mask.column}",
                fix="set the pipeline's privacy.key_scope/key_name secret",
            )
        return tokenizer.tokenize(col, mask.pii)
    if mask.method == MaskMethod.PARTIAL:
        return partial(col, mask)
    if mask.method == MaskMethod.GENERALIZE_YEAR:
        return generalize_year(col, column=mask.column)
    if mask.method == MaskMethod.COARSEN_GEO:
        return coarsen_geo(col, grid=mask.grid, column=mask.column)
    raise ConfigError(f"unknown mask method {mask.method}", where=f"column {mask.column}")


def _combine(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    return values


def _as_string(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text values (a plain text column is not copied: chunks are kept)."""
    if pa.types.is_string(values.type):
        return values
    arr = _combine(values)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type) or not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return arr


def _map_unique(text: pa.Array | pa.ChunkedArray, fn: Callable[[str], str]) -> pa.Array:
    """Apply ``fn`` once per distinct non-null value and spread the results back (one hash
    pass: the distinct values and each row's index into them come from one encoding)."""
    words, indices = _distinct(text)
    mapped = pa.array([fn(v) for v in words.to_pylist()], pa.string())
    return mapped.take(indices)


def _distinct(text: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """The distinct non-null values, and each row's index into them (null for a null)."""
    encoded = pc.dictionary_encode(text)  # nulls stay null (masked), chunks share a dictionary
    if isinstance(encoded, pa.ChunkedArray):
        if not encoded.num_chunks:
            return pa.array([], pa.string()), pa.array([], pa.int32())
        words = encoded.chunk(0).dictionary
        return words, pa.concat_arrays([c.indices for c in encoded.chunks])
    return encoded.dictionary, encoded.indices
