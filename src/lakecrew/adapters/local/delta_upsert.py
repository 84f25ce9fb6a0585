"""An upsert that rewrites only the named files, committed as one Delta transaction.

delta-rs 1.6.6 writes no deletion vectors, so its MERGE rewrites each file holding a changed
key whole — and it first joins the batch against every file of the table to find them. When
the caller already knows which files may hold the batch's keys (the key index's file map, see
key_index.py), that join is wasted work: this module reads just those files with pyarrow,
replaces the changed rows in Arrow, writes the new files and commits their ``add`` actions with
the old files' ``remove`` actions in ONE commit (delta-rs's ``create_write_transaction``; no
Delta log JSON is written by hand).

The new files are written by delta-rs itself (``write_deltalake`` into a scratch table under
the table's ``_lakecrew_upsert/`` folder, one Hive partition per output file), so their Parquet
settings and ``stats`` are exactly what delta-rs writes for the table's configuration (PII
columns keep no statistics); they are then renamed into the table folder and referenced by the
commit. Batch rows whose key is in none of the files are inserted (a new file, same commit).

Crash safety: nothing is visible before the commit, a put-if-absent of the next log version on
top of the version the files were read from (``max_commit_retries=0``; under a `Fence`, its
version). A crash before it leaves the table as it was, with unreferenced files (the scratch
folder, removed by the next fenced upsert; renamed data files, removed by VACUUM like those of
any interrupted delta-rs write); re-running the batch does the same work again. A lost race
without a fence removes its files and returns None, so the caller falls back to MERGE (which
retries); under a fence it is the fence's Conflict. `CRASH_POINT` is called at each step
(tests choose where to stop).

Where this does not apply (returns None before writing anything): partitioned tables, a batch
that adds columns, tables with constraints, generated or identity columns, column mapping or
table features beyond the basic ones (deletion vectors included: their files are read with
pyarrow here, which would bring deleted rows back). The store's default upsert marks rows with
deletion vectors instead (delta_mark.py); this rewrite serves ``deletion_vectors=False``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction

from lakecrew.adapters.local.deletion_vectors import FEATURE
from lakecrew.adapters.local.delta_fence import WRITER_KEY
from lakecrew.adapters.local.schema_check import (
    check_nulls,
    check_schema,
    conform,
    conform_filling,
)

if TYPE_CHECKING:
    from lakecrew.adapters.local.delta import DeltaStore

STAGE = "_lakecrew_upsert"
"""Scratch folder inside a table (names starting with `_` are not table data)."""
PART = "_lakecrew_output"
OPERATION = "lakecrew.upsert"
"""commitInfo key holding the upsert's metrics (the operation itself reads as WRITE)."""
_READER_FEATURES = frozenset({"timestampNtz"})
_WRITER_FEATURES = frozenset({"timestampNtz", "invariants"})
_STATS_CONFIG = (
    "delta.dataSkippingStatsColumns",
    "delta.dataSkippingNumIndexedCols",
    "delta.targetFileSize",
)


def _no_crash(step: str) -> None:
    return None


CRASH_POINT: Callable[[str], None] = _no_crash  # tests replace it to stop at a chosen step


@dataclass
class Upserted:
    """What one upsert committed: which files replaced which, and the inserted rows' files."""

    version: int
    replaced: dict[str, tuple[str, ...]] = field(default_factory=dict)  # old → new paths
    inserted: pa.ChunkedArray | None = None  # keys of the rows that went into `added`
    added: tuple[str, ...] = ()
    metrics: dict[str, int] = field(default_factory=dict)
    relocated: pa.ChunkedArray | None = None  # keys whose rows moved into `added` (delta_mark)


def added_paths(location: Path, version: int) -> tuple[str, ...]:
    """The data files a commit added (its ``add`` actions), from its log file."""
    return tuple(str(add["path"]) for add in _adds(location, version))


def _adds(location: Path, version: int) -> list[dict[str, object]]:
    log = location / "_delta_log" / f"{version:020d}.json"
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        add = json.loads(line).get("add") if line.strip() else None
        if isinstance(add, dict):
            out.append(add)
    return out


def eligible(table: DeltaTable, *, deletion_vectors: bool = False) -> bool:
    """Whether the table is plain enough for a file rewrite (see the module docstring), or,
    with ``deletion_vectors``, for an upsert that marks rows deleted (delta_mark.py)."""
    protocol = table.protocol()
    readers, writers = _READER_FEATURES, _WRITER_FEATURES
    if deletion_vectors:
        readers, writers = readers | {FEATURE}, writers | {FEATURE, "appendOnly"}
    if not set(protocol.reader_features or ()) <= readers:
        return False
    if not set(protocol.writer_features or ()) <= writers:
        return False
    metadata = table.metadata()
    if metadata.partition_columns:
        return False
    config = metadata.configuration or {}
    if any(k.startswith("delta.constraints.") for k in config):
        return False
    if config.get("delta.columnMapping.mode", "none") != "none":
        return False
    return all(
        not str(key).startswith("delta.")
        for f in table.schema().fields
        for key in (f.metadata or {})
    )


def upsert_files(
    store: DeltaStore,
    full_name: str,
    data: pa.Table,
    key: str,
    paths: Sequence[str],
    props: CommitProperties | None,
    base: DeltaTable,
    file_bytes: int | None = None,
) -> Upserted | None:
    """Replace the rows of ``data``'s keys in the files ``paths`` (which must hold every row
    of the table with one of those keys), insert the rest; one commit on top of ``base``.
    None when the table or batch does not fit (nothing written) or, without a fence, another
    commit won (its files removed)."""
    if not eligible(base):
        return None
    conformed = prepared(full_name, base, data)
    if conformed is None:
        return None
    location = store.path(full_name)
    stage = location / STAGE / uuid.uuid4().hex
    rewrite = _Rewrite(location, conformed, key)
    try:
        adds, moved = _stage(location, stage, rewrite.outputs(paths), base, file_bytes)
        if rewrite.duplicates:
            for path in moved:
                path.unlink(missing_ok=True)
            return None  # two files hold one key: MERGE reports it
        CRASH_POINT("moved")
        now = int(time.time() * 1000)
        removes = [RemoveAction(p, True, now, None, {}) for p in rewrite.replaced]
        meta = {**((props.custom_metadata or {}) if props else {}), OPERATION: rewrite.metrics}
        commit = CommitProperties(max_commit_retries=0, custom_metadata=meta)
        try:
            base.create_write_transaction(
                [*(a for _, a in adds), *removes], "append", base.schema(), commit_properties=commit
            )
        except CommitFailedError:
            for path in moved:
                path.unlink(missing_ok=True)
            if props is not None and WRITER_KEY in (props.custom_metadata or {}):
                raise
            return None
        CRASH_POINT("committed")
    finally:
        cleared(stage)
    by_output: dict[int, list[str]] = {}
    for i, action in adds:
        by_output.setdefault(i, []).append(action.path)
    result = Upserted(version=int(base.version()) + 1, metrics=rewrite.metrics)
    fresh = len(rewrite.replaced)
    for i, old in enumerate(rewrite.replaced):
        result.replaced[old] = tuple(by_output.get(i, ()))
    if fresh in by_output:
        result.added = tuple(by_output[fresh])
        result.inserted = rewrite.inserted
    return result


def prepared(full_name: str, base: DeltaTable, data: pa.Table) -> pa.Table | None:
    """The batch conformed to the table's schema (nulls checked); None when it adds or lacks
    columns (MERGE evolves the schema)."""
    current = pa.schema(base.schema().to_arrow())
    schema = check_schema(full_name, current, data.schema, merge_schema=True)
    if schema.names != current.names:
        return None
    check_nulls(full_name, current, data)
    return conform(data, current)


def cleared(stage: Path) -> None:
    """Remove an upsert's scratch folder (and the stage folder when no other upsert's is in
    it)."""
    shutil.rmtree(stage, ignore_errors=True)
    with contextlib.suppress(OSError):
        stage.parent.rmdir()


FLUSH_ROWS = 500_000
"""Rewritten rows held in memory before they are written (MERGE streams; this bounds the
rewrite's peak when many files hold changed keys)."""


class _Rewrite:
    """Each named file holding a batch key, with those rows replaced by the batch's; then the
    batch rows no file held (one output table each, made one at a time)."""

    def __init__(self, location: Path, data: pa.Table, key: str) -> None:
        self.location, self.data, self.key = location, data, key
        self.replaced: list[str] = []
        self.metrics: dict[str, int] = {}
        self.inserted: pa.ChunkedArray | None = None
        self.duplicates = False

    def outputs(self, paths: Sequence[str]) -> Iterator[pa.Table]:
        data, key = self.data, self.key
        keys = data.column(key).combine_chunks()
        matched = np.zeros(data.num_rows, np.bool_)
        copied = hits = 0
        for path in paths:
            held = pq.read_table(self.location / unquote(path))
            hit = pc.is_in(held.column(key), value_set=keys)
            count = pc.sum(hit).as_py() or 0
            if not count:
                continue  # a hash collision only: the file stays
            take = pc.is_in(keys, value_set=held.column(key).filter(hit).combine_chunks())
            matched |= take.to_numpy(zero_copy_only=False)
            # older files may lack columns added since (null there)
            kept = conform_filling(held.filter(pc.invert(hit)), data.schema)
            del held
            self.replaced.append(path)
            copied += kept.num_rows
            hits += count
            yield pa.concat_tables([kept, data.filter(take)])
        self.duplicates = hits != int(matched.sum())
        fresh = data.filter(pa.array(~matched))
        self.metrics = {
            "filesRemoved": len(self.replaced),
            "rowsCopied": copied,
            "rowsUpdated": hits,
            "rowsInserted": fresh.num_rows,
        }
        if fresh.num_rows and not self.duplicates:
            self.inserted = fresh.column(key)
            yield fresh


def _stage(
    location: Path,
    stage: Path,
    outputs: Iterator[pa.Table],
    base: DeltaTable,
    file_bytes: int | None,
) -> tuple[list[tuple[int, AddAction]], list[Path]]:
    """Write the outputs (delta-rs, one partition each, flushed every `FLUSH_ROWS` rows) and
    move the files into the table folder; each file's output number and ``add`` action, and
    the moved files."""
    config = base.metadata().configuration or {}
    stats = {k: config[k] for k in _STATS_CONFIG if k in config} or None
    parts: list[pa.Table] = []
    commits = 0

    def flush() -> None:
        nonlocal commits
        if parts:
            write_deltalake(
                str(stage),
                pa.concat_tables(parts),
                partition_by=[PART],
                mode="append",
                configuration=stats,
                target_file_size=file_bytes,
            )
            parts.clear()
            commits += 1

    for i, table in enumerate(outputs):
        parts.append(table.append_column(PART, pa.array(np.full(table.num_rows, i, np.int32))))
        if sum(p.num_rows for p in parts) >= FLUSH_ROWS:
            flush()
    flush()
    CRASH_POINT("staged")
    adds: list[tuple[int, AddAction]] = []
    moved: list[Path] = []
    entries = [e for version in range(commits) for e in _adds(stage, version)]
    for entry in entries:
        path = unquote(str(entry["path"]))
        name = os.path.basename(path)
        target = location / name
        if target.exists():  # uuid names: never expected
            raise FileExistsError(target)
        os.rename(stage / path, target)
        moved.append(target)
        values = entry.get("partitionValues")
        output = int(values.get(PART) or 0) if isinstance(values, dict) else 0
        action = AddAction(
            path=name,
            size=int(str(entry["size"])),
            partition_values={},
            modification_time=int(str(entry["modificationTime"])),
            data_change=True,
            stats=str(entry.get("stats") or ""),
        )
        adds.append((output, action))
    return adds, moved
