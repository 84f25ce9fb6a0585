"""De-duplication by key, keeping the latest row of each key.

"Latest" is decided by ``order_by`` (e.g. ``[("epi_week_end", "descending"), ("_ingested_at",
"descending")]``); ties go to the row that came later in the batch. Rows whose key has a null
part form their own group per distinct key (nulls compare equal here, as in Spark's
``dropDuplicates``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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


def dedupe_latest(table: pa.Table, keys: Sequence[str], order_by: Sequence[Order] = ()) -> Deduped:
    """Keep one row per key: the first by ``order_by``, ties broken by the later row."""
    missing = [c for c in (*keys, *(c for c, _ in order_by)) if c not in table.column_names]
    if missing:
        raise ConfigError(
            f"dedupe column(s) {', '.join(missing)} not in the silver table",
            where="silver.dedupe",
            fix="use silver column names (after renaming) in keys and order_by",
        )
    if not keys:
        return Deduped(table, pa.array(range(table.num_rows), pa.int64()), 0)
    indexed = table.select([*keys, *(c for c, _ in order_by)]).append_column(
        _IDX, pa.array(range(table.num_rows), pa.int64())
    )
    sort_keys = [*order_by, (_IDX, "descending")]
    ordered = indexed.take(pc.sort_indices(indexed, sort_keys=sort_keys))
    firsts = ordered.group_by(list(keys), use_threads=False).aggregate([(_IDX, "first")])
    kept = pc.sort_indices(firsts.column(f"{_IDX}_first"))
    rows = firsts.column(f"{_IDX}_first").take(kept).combine_chunks()
    return Deduped(table.take(rows), rows, table.num_rows - len(rows))
