"""Appends whose Parquet files pyarrow writes and delta-rs commits.

A plain append is most of a pipeline run's work (bronze's raw rows, silver's first load). For
the same rows and settings, pyarrow's C++ Parquet writer takes 35-40 % less CPU than delta-rs's
(arrow-rs) writer: a 1M-row bronze file 0.16 s vs 0.26 s, 1.34M silver rows 0.24 s vs 0.33 s
(benchmarks/bench_medallion.py; docs/benchmarks.md, session 13). So this module writes the data
files with ``pyarrow.parquet`` and commits their ``add`` actions in ONE commit through delta-rs
(``create_write_transaction``: the log, its conflict checks and checkpoints stay delta-rs's; no
log JSON is written here).

The ``stats`` of each ``add`` are derived from the file's own Parquet footer, in delta-rs's
format (numRecords, and minValues / maxValues / nullCount of the columns the table keeps
statistics for: `delta.dataSkippingStatsColumns`, so PII columns keep none, see
delta_stats.py). Only exact bounds are written: min/max of integers, dates, timestamps (to the
millisecond, as delta-rs writes them; a max is rounded up, never down) and strings of at most
``STRING_BOUND`` bytes; floats, decimals, booleans and binary keep their null counts only (a
reader then cannot skip files on them, and never skips one it needed). tests/unit/lakehouse/
test_delta_append.py checks the stats against delta-rs's for the same rows.

Parquet settings: snappy, a dictionary for every column except row numbers (delta encoded, as
delta_write.py does) and text columns that look unique (the first ``SAMPLE`` values at least
90 % distinct: a dictionary for a key column is built, overflows and is thrown away, 17 % of a
bronze file's writer CPU); statistics only for the columns the log keeps; no Arrow schema in
the footer (readers take the Delta schema); row groups of at most ``ROW_GROUP`` rows; a new file
once one holds ``file_bytes`` (delta-rs's ``target_file_size``; its default when None).

Where this does not apply (`applies` is False; the write goes to delta-rs unchanged):
partitioned tables, a write that changes the schema, tables with constraints, generated or
identity columns, column mapping or table features beyond the basic ones (delta_upsert.py's
`eligible`), and nested column types.

Crash safety: as with delta-rs, files are written first and are invisible until the one commit;
a crash before it leaves unreferenced files (removed by VACUUM); a failed commit or a failing
input stream removes the files this call wrote and raises.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.types as pt
from deltalake import CommitProperties, DeltaTable
from deltalake.transaction import AddAction, RemoveAction

from lakecrew.adapters.local.delta_stats import NUM_INDEXED, STATS_COLUMNS, without_stats
from lakecrew.adapters.local.delta_upsert import eligible
from lakecrew.core.distinct import distinct_share
from lakecrew.ports.source import SOURCE_ROW, plain_type

ROW_GROUP = 1024 * 1024
"""Rows per Parquet row group (delta-rs's and pyarrow's default)."""
DEFAULT_FILE_BYTES = 100 * 1024 * 1024
"""delta-rs's default target file size."""
STRING_BOUND = 64
"""Longest string (UTF-8 bytes) kept as a min/max bound; delta-rs truncates its statistics at
64 bytes too, and an untruncated bound is always exact."""
GUESS_RATIO = 0.35
"""A first guess of a Parquet file's bytes per byte of Arrow data (then measured)."""
SAMPLE = 4096
"""Values looked at to tell a near-unique text column (no dictionary)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)


def applies(target: DeltaTable, schema: pa.Schema) -> bool:
    """Whether rows of ``schema`` (already conformed to the table) can be appended here."""
    if not eligible(target, deletion_vectors=True):
        return False
    table = pa.schema(target.schema().to_arrow())
    if table.names != schema.names:
        return False  # a new column: delta-rs evolves the schema
    for mine, theirs in zip(schema, table, strict=True):
        ours = plain_type(mine.type)
        if not _flat(ours) or _family(ours) != _family(theirs.type):
            return False
    return True


def append(
    target: DeltaTable,
    data: pa.Table | pa.RecordBatchReader,
    props: CommitProperties | None,
    file_bytes: int | None,
) -> None:
    """Write ``data`` into new files of ``target`` and commit them in one append."""
    location = _location(target)
    config = target.metadata().configuration or {}
    names = data.schema.names
    stats = stats_columns(config, names)
    written: list[Path] = []
    try:
        size = file_bytes or DEFAULT_FILE_BYTES
        files = _files(location, _tables(data), stats, size, written)
        adds: list[AddAction | RemoveAction] = [_add(p, stats, data.schema) for p in files]
        target.create_write_transaction(adds, "append", target.schema(), commit_properties=props)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    target.update_incremental()  # as write_deltalake leaves it: at the version just written


def stats_columns(config: dict[str, str], names: list[str]) -> list[str]:
    """The columns whose statistics the log keeps, as delta-rs chooses them: the table's
    `delta.dataSkippingStatsColumns`, else its first `delta.dataSkippingNumIndexedCols`
    columns (32 by default; -1: all)."""
    skipped = set(without_stats(config, names))
    kept = [n for n in names if n not in skipped]
    if config.get(STATS_COLUMNS) is None:
        first = int(config.get(NUM_INDEXED, DEFAULT_INDEXED))
        kept = kept if first < 0 else kept[:first]
    return kept


DEFAULT_INDEXED = "32"


def _location(target: DeltaTable) -> Path:
    uri = target.table_uri
    return Path(unquote(urlparse(uri).path) if uri.startswith("file:") else uri)


def _tables(data: pa.Table | pa.RecordBatchReader) -> Iterator[pa.Table]:
    """The rows in tables of about ``ROW_GROUP`` rows (a stream's batches gathered)."""
    if isinstance(data, pa.Table):
        for start in range(0, data.num_rows, ROW_GROUP):
            yield data.slice(start, ROW_GROUP)
        return
    held: list[pa.RecordBatch] = []
    rows = 0
    for batch in data:
        held.append(batch)
        rows += batch.num_rows
        if rows >= ROW_GROUP:
            yield pa.Table.from_batches(held, schema=data.schema)
            held, rows = [], 0
    if held:
        yield pa.Table.from_batches(held, schema=data.schema)


def _files(
    location: Path,
    tables: Iterable[pa.Table],
    stats: list[str],
    file_bytes: int,
    opened: list[Path],
) -> Iterator[Path]:
    """Write the tables as Parquet files of about ``file_bytes`` each (each path is put in
    ``opened`` before its first byte); yields each path once its file is complete. Rows
    per file are estimated from the bytes per row of the files written so far (the first
    from the rows' size in memory)."""
    options: dict[str, Any] | None = None
    open_file: tuple[Path, pa.NativeFile, pq.ParquetWriter] | None = None
    per_row = 0.0
    rows = 0
    for table in tables:
        options = options or _options(table, stats)
        start = 0
        while start < table.num_rows:
            if open_file is None:
                path = location / f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
                opened.append(path)
                sink = pa.output_stream(str(path), buffer_size=1 << 20)
                open_file = (path, sink, pq.ParquetWriter(sink, table.schema, **options))
                rows = 0
            path, sink, writer = open_file
            guess = per_row or max(1.0, table.nbytes / max(1, table.num_rows) * GUESS_RATIO)
            room = max(1, int((file_bytes - sink.tell()) / guess))
            take = min(table.num_rows - start, room)
            writer.write_table(table.slice(start, take), row_group_size=ROW_GROUP)
            start += take
            rows += take
            if take == room or sink.tell() >= file_bytes:
                writer.close()
                sink.close()
                per_row = path.stat().st_size / rows
                open_file = None
                yield path
    if open_file is not None:
        path, sink, writer = open_file
        writer.close()
        sink.close()
        yield path


def _options(sample: pa.Table, stats: list[str]) -> dict[str, Any]:
    names = sample.schema.names
    numbered = SOURCE_ROW in names and pt.is_integer(sample.schema.field(SOURCE_ROW).type)
    plain = {SOURCE_ROW} if numbered else set()
    plain |= {n for n in names if _near_unique(sample.column(n))}
    return {
        "compression": "snappy",
        "use_dictionary": [n for n in names if n not in plain],
        "column_encoding": {SOURCE_ROW: "DELTA_BINARY_PACKED"} if numbered else None,
        "write_statistics": stats,
        "store_schema": False,
        "coerce_timestamps": "us",
        "allow_truncated_timestamps": False,
    }


def _near_unique(column: pa.ChunkedArray) -> bool:
    kind = column.type
    if not (pt.is_string(kind) or pt.is_large_string(kind) or pt.is_binary(kind)):
        return False
    return len(column) >= SAMPLE // 4 and distinct_share(column, SAMPLE) >= 0.9


def _add(path: Path, stats: list[str], schema: pa.Schema) -> AddAction:
    meta = pq.ParquetFile(path).metadata
    return AddAction(
        path=path.name,
        size=path.stat().st_size,
        partition_values={},
        modification_time=int(time.time() * 1000),
        data_change=True,
        stats=file_stats(meta, stats, schema),
    )


def file_stats(meta: pq.FileMetaData, stats: list[str], schema: pa.Schema) -> str:
    """The ``stats`` JSON of an ``add`` action for a Parquet file (see the module docstring)."""
    position = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for name in stats:
        if name not in position:
            continue
        kind = plain_type(schema.field(name).type)
        column = [meta.row_group(g).column(position[name]) for g in range(meta.num_row_groups)]
        found = [c.statistics for c in column]
        if not found or any(s is None or not s.has_null_count for s in found):
            continue
        nulls[name] = sum(int(s.null_count) for s in found)
        bounded = [s for s in found if s.has_min_max]
        if not bounded or not _bounds_kept(kind):
            continue
        pair = _bounds(kind, bounded)
        if pair is not None:
            low[name], high[name] = pair
    out: dict[str, Any] = {"numRecords": meta.num_rows}
    out.update(minValues=low, maxValues=high, nullCount=nulls)
    return json.dumps(out, separators=(",", ":"))


def _bounds_kept(kind: pa.DataType) -> bool:
    return (
        pt.is_integer(kind)
        or pt.is_date32(kind)
        or (pt.is_timestamp(kind) and kind.tz is not None)
        or pt.is_string(kind)
        or pt.is_large_string(kind)
    )


def _bounds(kind: pa.DataType, found: list[Any]) -> tuple[Any, Any] | None:
    if pt.is_integer(kind):
        return min(int(s.min_raw) for s in found), max(int(s.max_raw) for s in found)
    if pt.is_date32(kind):
        lo, hi = min(int(s.min_raw) for s in found), max(int(s.max_raw) for s in found)
        return _day(lo), _day(hi)
    if pt.is_timestamp(kind):  # written as microseconds whatever the Arrow unit (_options)
        lo = min(int(s.min_raw) for s in found)
        hi = max(int(s.max_raw) for s in found)
        return _instant(lo // 1000), _instant(-(-hi // 1000))
    texts = [(s.min, s.max) for s in found]
    if any(not isinstance(v, str) or len(v.encode()) > STRING_BOUND for p in texts for v in p):
        return None
    return min(p[0] for p in texts), max(p[1] for p in texts)


def _day(days: int) -> str:
    return (_EPOCH_DAY + timedelta(days=days)).isoformat()


def _instant(millis: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _flat(kind: pa.DataType) -> bool:
    return (
        pt.is_integer(kind)
        or pt.is_floating(kind)
        or pt.is_boolean(kind)
        or pt.is_date32(kind)
        or pt.is_timestamp(kind)
        or pt.is_decimal(kind)
        or _family(kind) in ("string", "binary")
    )


def _family(kind: pa.DataType) -> str:
    """Types that are the same Delta type (and the same Parquet column)."""
    if pt.is_string(kind) or pt.is_large_string(kind) or pt.is_string_view(kind):
        return "string"
    if pt.is_binary(kind) or pt.is_large_binary(kind) or pt.is_binary_view(kind):
        return "binary"
    return str(kind)
