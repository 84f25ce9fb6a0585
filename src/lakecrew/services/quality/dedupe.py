"""De-duplication by key, keeping the latest row of each key.

"Latest" is decided by ``order_by`` (e.g. ``[("epi_week_end", "descending"), ("_ingested_at",
"descending")]``); a null order value ranks last (oldest) whatever the direction; ties go to
the row that arrived later (later in the batch, or in a later batch). Rows whose key has a null
part form their own group per distinct key (nulls compare equal here, as in Spark's
``dropDuplicates``).

Across batches, ``not_older(incoming, held, ...)`` applies the same rule to a batch's winners
and the rows the table already holds for their keys, so the result does not depend on how rows
were split into batches or files: an incoming row replaces the held one unless the held one
ranks strictly before it (a tie goes to the incoming row, which arrived later).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core.errors import ConfigError

Order = tuple[str, Literal["ascending", "descending"]]
_IDX = "__lakecrew_row"


@dataclass(frozen=True)
class Deduped:
    """Rows kept (in their original order) and how many duplicates were dropped."""

    table: pa.Table
    kept: pa.Array
    dropped_count: int
    keep_mask: pa.BooleanArray | None = None
    """True for kept rows (same rows as ``kept``), for filtering tables aligned with the input."""


def dedupe_latest(table: pa.Table, keys: Sequence[str], order_by: Sequence[Order] = ()) -> Deduped:
    """Keep one row per key: the first by ``order_by``, ties broken by the later row."""
    missing = [c for c in (*keys, *(c for c, _ in order_by)) if c not in table.column_names]
    if missing:
        raise ConfigError(
            f"dedupe column(s) {', '.join(missing)} not in the silver table",
            where="silver.dedupe",
            fix="use silver column names (after renaming) in keys and order_by",
        )
    n = table.num_rows
    if not keys:
        return Deduped(table, pa.array(np.arange(n, dtype=np.int64)), 0, _all(n))
    # Only rows whose key occurs more than once need ordering: a text key finds them (and a
    # few more) by a fingerprint of its bytes; other keys with one hash count.
    maybe = repeated_text(table.column(keys[0])) if len(keys) == 1 else None
    if maybe is None:
        counts = (
            table.select(list(keys))
            .group_by(list(keys), use_threads=False)
            .aggregate([([], "count_all")])
        )
        if counts.num_rows == n:
            return Deduped(table, pa.array(np.arange(n, dtype=np.int64)), 0, _all(n))
    elif not maybe.any():
        return Deduped(table, pa.array(np.arange(n, dtype=np.int64)), 0, _all(n))
    indexed = table.select([*keys, *(c for c, _ in order_by)]).append_column(
        _IDX, pa.array(np.arange(n, dtype=np.int64))
    )
    hits = indexed
    if maybe is not None:
        # The rows below are ordered and grouped exactly: a row whose key is in fact unique
        # (fingerprints collided) is its key's only row there, and is kept.
        hits = indexed.filter(pa.array(maybe))
    elif len(keys) == 1:
        repeated = counts.filter(pc.greater(counts.column("count_all"), 1)).column(keys[0])
        # skip_nulls=False: a null key matches the null group, as group_by groups nulls.
        hits = indexed.filter(pc.is_in(indexed.column(keys[0]), repeated, skip_nulls=False))
    sort_keys = [*order_by, (_IDX, "descending")]
    ordered = hits.take(pc.sort_indices(hits, sort_keys=sort_keys))
    firsts = ordered.group_by(list(keys), use_threads=False).aggregate([(_IDX, "first")])
    dup_rows = hits.column(_IDX).to_numpy()
    keep = np.ones(n, np.bool_)
    keep[dup_rows] = False
    keep[firsts.column(f"{_IDX}_first").to_numpy()] = True
    mask = pa.array(keep)
    rows = pa.array(np.flatnonzero(keep).astype(np.int64))
    return Deduped(table.filter(mask), rows, n - len(rows), mask)


_NULL_PRINT = np.uint64(0x9E3779B97F4A7C15)
_MIX = (np.uint64(0x9E3779B185EBCA87), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


def repeated_text(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """For a text (or binary) column: True for every row whose fingerprint (length, first and
    last 8 bytes; nulls all alike) another row shares. Equal values have equal fingerprints,
    so every row whose value repeats is True (some others may be). None for other types.

    About half the CPU of a hash count (``group_by``) of the same column: a sort of 64-bit
    numbers instead of a hash table of the strings."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_string(arr.type) or pa.types.is_binary(arr.type):
        width: type[np.signedinteger[Any]] = np.int32
    elif pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        width = np.int64
    else:
        return None
    n = len(arr)
    if n < 2:
        return np.zeros(n, np.bool_)
    _, offsets_buf, data_buf = arr.buffers()
    assert offsets_buf is not None
    offsets = np.frombuffer(offsets_buf, width, n + 1, arr.offset * np.dtype(width).itemsize)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    padded = np.zeros(len(data) + 16, np.uint8)  # 8 bytes either side: no read out of bounds
    padded[8 : 8 + len(data)] = data
    words = np.ndarray((len(padded) - 7,), "<u8", padded, 0, (1,))  # 8 bytes from any byte
    start = offsets[:-1].astype(np.int64) + 8
    end = offsets[1:].astype(np.int64) + 8
    length = (end - start).astype(np.uint64)
    short = length < 8
    bits = np.where(short, length * np.uint64(8), np.uint64(0))
    first = words[start] & np.where(short, (np.uint64(1) << bits) - np.uint64(1), ~np.uint64(0))
    last = np.where(short, np.uint64(0), words[end - 8])  # within the value when it is long
    prints = first * _MIX[0] ^ last * _MIX[1] ^ length * _MIX[2]
    if arr.null_count:
        prints[~np.asarray(arr.is_valid())] = _NULL_PRINT
    order = np.argsort(prints)
    ordered = prints[order]
    same = ordered[1:] == ordered[:-1]
    repeated = np.zeros(n, np.bool_)
    if same.any():
        shared = np.zeros(n, np.bool_)
        shared[1:] |= same
        shared[:-1] |= same
        repeated[order[shared]] = True
    return repeated


def _all(n: int) -> pa.BooleanArray:
    return pa.array(np.ones(n, np.bool_))


def not_older(
    incoming: pa.Table, held: pa.Table, keys: Sequence[str], order_by: Sequence[Order]
) -> pa.BooleanArray:
    """Per incoming row: True unless the held row of its key ranks strictly before it.

    ``held`` holds at most one row per key (the table's current version of it); ``incoming``
    is already de-duplicated. Without ``order_by`` every incoming row wins (later arrival).
    """
    n = incoming.num_rows
    if not order_by or not held.num_rows or not n:
        return _all(n)
    names = [c for c, _ in order_by]
    left = incoming.select([*keys, *names]).append_column(
        _IDX, pa.array(np.arange(n, dtype=np.int64))
    )
    right = held.select([*keys, *names]).rename_columns([*keys, *(f"__held_{c}" for c in names)])
    right = right.cast(
        pa.schema(
            [
                *(left.schema.field(k) for k in keys),
                *(left.schema.field(c).with_name(f"__held_{c}") for c in names),
            ]
        )
    )
    joined = left.join(right, keys=list(keys), join_type="inner", use_threads=False)
    if not joined.num_rows:
        return _all(n)
    verdict = np.zeros(joined.num_rows, np.int8)  # 1 incoming first, -1 held first, 0 tie
    for column, direction in reversed(order_by):
        cmp = _compare(joined.column(column), joined.column(f"__held_{column}"), direction)
        verdict = np.where(cmp != 0, cmp, verdict)
    keep = np.ones(n, np.bool_)
    keep[joined.column(_IDX).to_numpy()[verdict < 0]] = False
    return pa.array(keep)


def _compare(mine: pa.ChunkedArray, theirs: pa.ChunkedArray, direction: str) -> np.ndarray:
    """1 where ``mine`` ranks first, -1 where ``theirs`` does, 0 on a tie (nulls rank last)."""
    first = pc.greater if direction == "descending" else pc.less
    a_null = pc.is_null(mine).to_numpy(zero_copy_only=False)
    b_null = pc.is_null(theirs).to_numpy(zero_copy_only=False)
    ahead = pc.fill_null(first(mine, theirs), False).to_numpy(zero_copy_only=False)
    behind = pc.fill_null(first(theirs, mine), False).to_numpy(zero_copy_only=False)
    out = np.where(ahead, 1, np.where(behind, -1, 0)).astype(np.int8)
    out[~a_null & b_null] = 1
    out[a_null & ~b_null] = -1
    return out
