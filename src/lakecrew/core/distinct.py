"""How repetitive a column is, judged on its first values: the share of them that are distinct.

Three places choose an encoding from it — a CSV column parsed as a dictionary
(adapters/sources/csvstream.py), a text column coerced value by value (services/quality/
coercion.py), a near-unique column written without a Parquet dictionary (adapters/local/
delta_append.py) — each with its own threshold.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def distinct_share(values: pa.Array | pa.ChunkedArray, sample: int) -> float:
    """Distinct values among the first ``sample`` (nulls count as one value), divided by how
    many were looked at; 1.0 when there are none."""
    head = values.slice(0, sample)
    return len(pc.unique(head)) / len(head) if len(head) else 1.0
