"""Billing noise for the FinOps benchmark: double ingestion, corrections and late rows at scale.

The simulator writes clean hourly ORIGINAL usage (six corrections in all, no duplicate, every
row ingested the day after its usage). Real `system.billing.usage` is messier, and the cost
cube's paths (de-duplication, RETRACTION / RESTATEMENT sums, days changed by late rows) only
cost what they cost at scale when such rows exist. `add_billing_noise` appends, in one Delta
commit and fully vectorised (Arrow takes over a sample of the table's own rows, no Python row
loop), a fraction of:

- duplicates: copies of ORIGINAL rows with the same record_id, ingested 1-3 days later; one in
  ten with a different quantity (a conflicting duplicate);
- corrections: a RETRACTION (-quantity) and a RESTATEMENT (60-90 % of it) per corrected row,
  ingested two days after the original (the simulator's shape);
- late rows: new ORIGINAL records for past days, ingested on the last day (billing lag).

`late_rows` builds only the last kind, for the benchmark's "late data arrived" refresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

USAGE = "system.billing.usage"


def _set(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _micro(table: pa.Table) -> np.ndarray:
    """usage_quantity as integer micro-units (the simulator's quantities have 6 decimals)."""
    arr = table["usage_quantity"].combine_chunks().cast(pa.decimal128(38, 6))
    words = np.frombuffer(arr.buffers()[1], dtype=np.int64)  # int128 values, little-endian
    return words[2 * arr.offset :: 2][: len(arr)].copy()  # the low word: |q| < 2**63 micro


def _quantity(micro: np.ndarray) -> pa.Array:
    from lakecrew.services.simulate.usage import decimal_from_micro

    return decimal_from_micro(np.ascontiguousarray(micro, np.int64))


def _ids(prefix: str, n: int) -> pa.Array:
    seq = pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, seq, "")


def _shift(dates: pa.ChunkedArray | pa.Array, days: np.ndarray | int, last: int) -> pa.Array:
    raw = np.asarray(dates.cast(pa.int32()).to_numpy(zero_copy_only=False), np.int32)
    return pa.array(np.minimum(raw + days, last).astype(np.int32)).cast(pa.date32())


def noise(
    sample: pa.Table,
    rng: np.random.Generator,
    *,
    duplicates: int,
    corrected: int,
    late: int,
    tag: str = "noise",
) -> pa.Table:
    """Duplicate, correction and late rows drawn from `sample` (ORIGINAL usage rows)."""
    sample = sample.filter(pc.equal(sample["record_type"], "ORIGINAL"))
    last = int(np.asarray(sample["ingestion_date"].cast(pa.int32())).max())
    n = sample.num_rows
    parts = []
    if duplicates:
        pick = rng.choice(n, size=min(duplicates, n), replace=False)
        dup = sample.take(pa.array(pick))
        micro = _micro(dup)
        conflict = rng.random(dup.num_rows) < 0.1
        micro = np.where(conflict, np.maximum(micro + 1000, 1), micro)
        dup = _set(dup, "usage_quantity", _quantity(micro))
        lag = rng.integers(1, 4, dup.num_rows)
        parts.append(_set(dup, "ingestion_date", _shift(dup["ingestion_date"], lag, last)))
    if corrected:
        pick = rng.choice(n, size=min(corrected, n), replace=False)
        orig = sample.take(pa.array(pick))
        micro = _micro(orig)
        restated = np.maximum((micro * rng.uniform(0.6, 0.9, micro.size)).astype(np.int64), 1)
        ingested = _shift(orig["ingestion_date"], 2, last)
        for kind, qty in (("RETRACTION", -micro), ("RESTATEMENT", restated)):
            t = _set(orig, "usage_quantity", _quantity(qty))
            t = _set(t, "record_type", pa.array(np.full(t.num_rows, kind)).cast(pa.string()))
            t = _set(t, "record_id", _ids(f"{tag}-{kind[:4].lower()}-", t.num_rows))
            parts.append(_set(t, "ingestion_date", ingested))
    if late:
        parts.append(late_rows(sample, rng, late, tag=f"{tag}-late", ingested=last))
    return pa.concat_tables(parts)


def late_rows(
    sample: pa.Table, rng: np.random.Generator, count: int, *, tag: str, ingested: int
) -> pa.Table:
    """New ORIGINAL records shaped like `sample`'s rows, ingested on day `ingested` (days since
    the epoch): usage that arrived after its day was billed."""
    pick = rng.choice(sample.num_rows, size=min(count, sample.num_rows), replace=False)
    rows = sample.take(pa.array(pick))
    micro = np.maximum((_micro(rows) * rng.uniform(0.2, 1.0, rows.num_rows)).astype(np.int64), 1)
    rows = _set(rows, "usage_quantity", _quantity(micro))
    rows = _set(rows, "record_id", _ids(f"{tag}-", rows.num_rows))
    day = pa.array(np.full(rows.num_rows, ingested, np.int32)).cast(pa.date32())
    return _set(rows, "ingestion_date", day)


def usage_sample(project: Path, files: int = 3) -> tuple[pa.Table, int]:
    """The rows of the first `files` Parquet files of the project's usage table (ORIGINAL
    hourly rows of every kind of stream) and the table's row count."""
    from deltalake import DeltaTable

    table = DeltaTable(str(project / ".lakecrew" / "lakehouse" / "system" / "billing" / "usage"))
    uris = sorted(table.file_uris())
    total = sum(pq.ParquetFile(u.removeprefix("file://")).metadata.num_rows for u in uris)
    sample = pa.concat_tables([pq.read_table(u.removeprefix("file://")) for u in uris[:files]])
    return sample, total


def add_billing_noise(
    project: Path, *, seed: int = 7, fraction: float = 0.002, tag: str = "noise"
) -> dict[str, Any]:
    """Append duplicates (`fraction` of the rows), corrections and late rows (half as many
    each) to the project's usage table in one commit."""
    from lakecrew.adapters.local.delta import DeltaStore
    from lakecrew.adapters.local.layout import ProjectLayout
    from lakecrew.core.system_tables import BILLING_USAGE

    sample, total = usage_sample(project)
    rng = np.random.default_rng([seed, 15])
    count = int(total * fraction)
    rows = noise(
        sample, rng, duplicates=count, corrected=count // 2, late=count // 2, tag=f"sim{seed}-{tag}"
    )
    DeltaStore.for_project(ProjectLayout(project.resolve())).append(USAGE, rows.cast(BILLING_USAGE))
    kinds = pc.value_counts(rows["record_type"]).to_pylist()
    return {"usage_rows": total, "added": rows.num_rows,
            "by_type": {k["values"]: k["counts"] for k in kinds}}  # fmt: skip
