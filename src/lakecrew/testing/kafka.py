"""Kafka-shaped records for tests (no broker): Parquet files with the Kafka source's schema.

Offline there is no broker and no Kafka connector jar, so streaming tests feed these files
through Spark's built-in file stream source (``spark.readStream.schema(kafka_schema())
.parquet(folder)``) into the same projection and ``foreachBatch`` writer a Kafka query uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HEADER_TYPE = pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))


def kafka_records(
    topic: str,
    partition: int,
    offsets: Sequence[int],
    *,
    with_headers: bool = False,
    start: datetime = datetime(2026, 1, 5, 6, 0, tzinfo=UTC),
) -> pa.Table:
    """Records at ``offsets`` of ``topic``/``partition``: JSON values, text keys."""
    values = [
        json.dumps(
            {"sample_id": f"S{partition}-{o}", "result": "positive" if o % 3 else "negative"}
        )
        for o in offsets
    ]
    columns: dict[str, pa.Array] = {
        "key": pa.array([f"S{partition}-{o}".encode() for o in offsets], pa.binary()),
        "value": pa.array([v.encode() for v in values], pa.binary()),
        "topic": pa.array([topic] * len(offsets), pa.string()),
        "partition": pa.array([partition] * len(offsets), pa.int32()),
        "offset": pa.array(list(offsets), pa.int64()),
        "timestamp": pa.array(
            [start + timedelta(seconds=o) for o in offsets], pa.timestamp("us", tz="UTC")
        ),
        "timestampType": pa.array([0] * len(offsets), pa.int32()),
    }
    if with_headers:
        headers = [[{"key": "source", "value": b"lims"}] for _ in offsets]
        columns["headers"] = pa.array(headers, HEADER_TYPE)
    return pa.table(columns)


def write_records(folder: Path, name: str, table: pa.Table) -> Path:
    """Write one file atomically (the file stream source must never see a partial file)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.{name}.tmp"
    pq.write_table(table, tmp)
    final = folder / f"{name}.parquet"
    tmp.replace(final)
    return final
