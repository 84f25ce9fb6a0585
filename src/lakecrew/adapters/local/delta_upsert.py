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
table features beyond the basic ones (deletion vectors included).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
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


def eligible(table: DeltaTable) -> bool:
    """Whether the table is plain enough for a file rewrite (see the module docstring)."""
    protocol = table.protocol()
    if not set(protocol.reader_features or ()) <= _READER_FEATURES:
        return False
    if not set(protocol.writer_features or ()) <= _WRITER_FEATURES:
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
    current = pa.schema(base.schema().to_arrow())
    schema = check_schema(full_name, current, data.schema, merge_schema=True)
    if schema.names != current.names:
        return None  # the batch adds or lacks columns: MERGE evolves the schema
    check_nulls(full_name, current, data)
    data = conform(data, current)
    location = store.path(full_name)
    outputs, replaced, metrics = _rewrite(location, data, key, paths)
    if outputs is None:
        return None  # duplicate keys in the table: MERGE reports it
    stage = location / STAGE / uuid.uuid4().hex
    try:
        adds, moved = _stage(location, stage, outputs, base, file_bytes)
        CRASH_POINT("moved")
        now = int(time.time() * 1000)
        removes = [RemoveAction(p, True, now, None, {}) for p in replaced]
        meta = {**((props.custom_metadata or {}) if props else {}), OPERATION: metrics}
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
        shutil.rmtree(stage, ignore_errors=True)
        with contextlib.suppress(OSError):  # another upsert's folder may still be in it
            stage.parent.rmdir()
    by_output: dict[int, list[str]] = {}
    for i, action in adds:
        by_output.setdefault(i, []).append(action.path)
    result = Upserted(version=int(base.version()) + 1, metrics=metrics)
    for i, old in enumerate(replaced):
        result.replaced[old] = tuple(by_output.get(i, ()))
    if len(replaced) in by_output:
        result.added = tuple(by_output[len(replaced)])
        result.inserted = outputs[len(replaced)].column(key)
    return result


def _rewrite(
    location: Path, data: pa.Table, key: str, paths: Sequence[str]
) -> tuple[list[pa.Table] | None, list[str], dict[str, int]]:
    """Each named file holding a batch key, with those rows replaced by the batch's; then the
    batch rows no file held. (None, ...) when two files hold the same key."""
    keys = data.column(key).combine_chunks()
    matched = np.zeros(data.num_rows, np.bool_)
    outputs: list[pa.Table] = []
    replaced: list[str] = []
    copied = hits = 0
    for path in paths:
        held = pq.read_table(location / unquote(path))
        hit = pc.is_in(held.column(key), value_set=keys)
        count = pc.sum(hit).as_py() or 0
        if not count:
            continue  # a hash collision only: the file stays
        take = pc.is_in(keys, value_set=held.column(key).filter(hit).combine_chunks())
        matched |= take.to_numpy(zero_copy_only=False)
        kept = conform_filling(
            held.filter(pc.invert(hit)), data.schema
        )  # older files may lack added columns
        outputs.append(pa.concat_tables([kept, data.filter(take)]))
        replaced.append(path)
        copied += kept.num_rows
        hits += count
    if hits != int(matched.sum()):
        return None, [], {}
    fresh = data.filter(pa.array(~matched))
    if fresh.num_rows:
        outputs.append(fresh)
    metrics = {
        "filesRemoved": len(replaced),
        "rowsCopied": copied,
        "rowsUpdated": hits,
        "rowsInserted": fresh.num_rows,
    }
    return outputs, replaced, metrics


def _stage(
    location: Path, stage: Path, outputs: list[pa.Table], base: DeltaTable, file_bytes: int | None
) -> tuple[list[tuple[int, AddAction]], list[Path]]:
    """Write the outputs (delta-rs, one partition each) and move the files into the table
    folder; each file's output number and ``add`` action, and the moved files."""
    parts = [
        t.append_column(PART, pa.array(np.full(t.num_rows, i, np.int32)))
        for i, t in enumerate(outputs)
    ]
    config = base.metadata().configuration or {}
    write_deltalake(
        str(stage),
        pa.concat_tables(parts),
        partition_by=[PART],
        configuration={k: config[k] for k in _STATS_CONFIG if k in config} or None,
        target_file_size=file_bytes,
    )
    del parts
    CRASH_POINT("staged")
    adds: list[tuple[int, AddAction]] = []
    moved: list[Path] = []
    for entry in _adds(stage, 0):
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
