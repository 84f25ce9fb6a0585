"""An upsert that marks replaced rows deleted (deletion vectors) instead of rewriting files.

The file rewrite (delta_upsert.py) copies every other row of each file holding a changed key:
when changes fall on keys spread over the whole table (1 % of keys picked at random), every file
holds one and each batch rewrites the whole table. Here a batch costs what it changes: the key
column of the files the key index names is read, the rows holding the batch's keys (and not
already deleted) are found by position, and ONE commit (deletion_vectors.py) re-adds each of
those files with a deletion vector naming them, adds the batch's rows as new files and, the
first time, turns the table's deletion-vector feature on. Readers honour the vectors: delta-rs's
scan, MERGE, DELETE, OPTIMIZE and overwrite, Databricks and Spark readers, and this store's own
reads (delta_read.py).

Crash safety is the file rewrite's: the new files and the DV file are written (and moved into
the table folder) before the commit, a put-if-absent of the next version on top of the version
the positions were read from; a crash before it leaves unreferenced files and the table as it
was; a lost race returns None without a fence (the caller falls back to MERGE) and is the
fence's Conflict under one. `delta_upsert.CRASH_POINT` is called at the same steps.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError

from lakecrew.adapters.local import delta_upsert
from lakecrew.adapters.local.deletion_vectors import (
    ENABLE,
    LiveFiles,
    commit,
    dv_path,
    merged,
    remove_action,
    with_vector,
    write_vectors,
)
from lakecrew.adapters.local.delta_fence import WRITER_KEY
from lakecrew.adapters.local.delta_read import (
    FRAGMENT,
    cached_positions,
    files_dataset,
    keep_mask,
    remember,
)
from lakecrew.adapters.local.delta_upsert import OPERATION, STAGE, Upserted, eligible, prepared

if TYPE_CHECKING:
    from lakecrew.adapters.local.delta import DeltaStore


def mark_upsert(
    store: DeltaStore,
    full_name: str,
    data: pa.Table,
    key: str,
    paths: Sequence[str],
    props: CommitProperties | None,
    base: DeltaTable,
    live: LiveFiles,
    file_bytes: int | None = None,
    located: Located | None = None,
) -> Upserted | None:
    """Upsert ``data`` on ``key`` into the table at ``base`` (``live``: its files), where
    ``paths`` hold every live row with one of the batch's keys. None when the table or batch
    does not fit (nothing written), two live rows hold one key, or (without a fence) another
    commit won. ``located``: the batch's lookup of the same version, whose positions are used
    when it probed every key of ``data`` (else the key column is read again)."""
    if not eligible(base, deletion_vectors=True) or live.version != int(base.version()):
        return None
    conformed = prepared(full_name, base, data)
    if conformed is None:
        return None
    data, current = conformed, pa.schema(base.schema().to_arrow())
    location = store.path(full_name)
    if located is not None and located.covers(live, data.column(key)):
        found = located.found(live, data.column(key))
    else:
        files = [p for p in paths if p in live.adds]
        found = _found(location, live, files, current, key, data.column(key))
    if found is None:
        return None
    marks, matched = found
    stage = location / STAGE / uuid.uuid4().hex
    moved: list[Path] = []
    try:
        adds, moved = delta_upsert._stage(location, stage, iter([data]), base, file_bytes)
        delta_upsert.CRASH_POINT("moved")
        descriptors = write_vectors(location, [rows for _, rows in marks])
        for (_, rows), descriptor in zip(marks, descriptors, strict=True):
            remember(live.location, descriptor, rows)  # the next batch reads it: not decoded
        if descriptors:
            moved.append(dv_path(location, descriptors[0]))
        now = int(time.time() * 1000)
        actions = [_commit_info(props, now, marks, matched, data), *_enabling(live)]
        for (marked, _), descriptor in zip(marks, descriptors, strict=True):
            actions.append({"remove": remove_action(live.adds[marked], now)})
            actions.append({"add": with_vector(live.adds[marked], descriptor, now)})
        actions += [{"add": _add_json(action)} for _, action in adds]
        if not commit(location, int(base.version()) + 1, actions):
            for written in moved:
                written.unlink(missing_ok=True)
            if props is not None and WRITER_KEY in (props.custom_metadata or {}):
                raise CommitFailedError("a commit already holds this version")
            return None
        delta_upsert.CRASH_POINT("committed")
    finally:
        delta_upsert.cleared(stage)
    column = data.column(key)
    return Upserted(
        version=int(base.version()) + 1,
        added=tuple(action.path for _, action in adds),
        inserted=column.filter(pa.array(~matched)),
        relocated=column.filter(pa.array(matched)),
        metrics=_metrics(marks, matched),
    )


def _found(
    location: Path,
    live: LiveFiles,
    files: list[str],
    schema: pa.Schema,
    key: str,
    keys: pa.ChunkedArray,
) -> tuple[list[tuple[str, np.ndarray]], np.ndarray] | None:
    """Per touched file its new deletion vector (old rows plus the rows of the batch's keys),
    and per batch row whether a live row held its key; None when two live rows hold one."""
    matched = np.zeros(len(keys), np.bool_)
    if not files:
        return [], matched
    held = files_dataset(location, files, schema).to_table(columns=[key, FRAGMENT])
    fragment = held.column(FRAGMENT).to_numpy()
    values = keys.combine_chunks()
    hit = held_in(held.column(key), values)
    counts = np.bincount(fragment, minlength=len(files))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    deleted = live.deleted()
    old: dict[int, np.ndarray] = {}
    for i, path in enumerate(files):
        if path in deleted:
            rows = cached_positions(live.location, deleted[path])
            old[i] = rows
            hit[starts[i] + rows[rows < counts[i]]] = False  # already deleted: not live
    rows = np.flatnonzero(hit)
    if not len(rows):
        return [], matched
    found = held.column(key).take(pa.array(rows)).combine_chunks()
    matched = pc.is_in(values, value_set=found).to_numpy(zero_copy_only=False)
    if int(matched.sum()) != len(rows):
        return None  # a key held twice: MERGE reports it
    marks = []
    by_file = fragment[rows]
    for i in np.unique(by_file).tolist():
        new = rows[by_file == i] - starts[i]
        union = merged(old.get(i, np.empty(0, np.int64)), new)
        marks.append((files[i], union))
    return marks, matched


@dataclass(frozen=True)
class Located:
    """Where a lookup found the live rows of the keys it probed, in one table version: the
    upsert of the same batch marks those rows without reading the key column again."""

    location: Path
    version: int
    probed: pa.Array  # every key looked up (the live rows of all of them are below)
    keys: pa.Array  # the key of each live row found
    files: list[str]
    file_of: np.ndarray  # per row found: index into files
    rows: np.ndarray  # per row found: position in its file

    def covers(self, live: LiveFiles, keys: pa.ChunkedArray) -> bool:
        if self.version != live.version or self.location != live.location:
            return False
        return bool(pc.all(pc.is_in(keys, value_set=self.probed)).as_py())

    def found(
        self, live: LiveFiles, keys: pa.ChunkedArray
    ) -> tuple[list[tuple[str, np.ndarray]], np.ndarray] | None:
        """`_found`'s answer from these positions."""
        values = keys.combine_chunks()
        chosen = pc.is_in(self.keys, value_set=values).to_numpy(zero_copy_only=False)
        picked = np.flatnonzero(chosen)
        matched = pc.is_in(values, value_set=self.keys.take(pa.array(picked)))
        matched_np = np.array(matched.to_numpy(zero_copy_only=False))
        if int(matched_np.sum()) != len(picked):
            return None  # a key held twice: MERGE reports it
        deleted = live.deleted()
        file_of, rows = self.file_of[picked], self.rows[picked]
        marks = []
        for i in np.unique(file_of).tolist():
            path = self.files[i]
            old = (
                cached_positions(self.location, deleted[path])
                if path in deleted
                else np.empty(0, np.int64)
            )
            marks.append((path, merged(old, rows[file_of == i])))
        return marks, matched_np


def locate(
    location: Path,
    live: LiveFiles,
    schema: pa.Schema,
    key: str,
    values: pa.Array,
    columns: Sequence[str],
    paths: Sequence[str] | None,
) -> tuple[pa.Table, Located]:
    """The live rows (``columns`` of them) holding one of ``values`` in ``paths`` (default:
    every live file), in one read of those columns, and where they are."""
    files = list(live.adds) if paths is None else [p for p in paths if p in live.adds]
    names = list(dict.fromkeys([key, *columns]))
    held = files_dataset(location, files, schema).to_table(columns=[*names, FRAGMENT])
    fragment = held.column(FRAGMENT).to_numpy()
    hit = held_in(held.column(key), values)
    keep = keep_mask(location, live, files, fragment)
    if keep is not None:
        hit &= keep
    at = np.flatnonzero(hit)
    counts = np.bincount(fragment, minlength=len(files))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    found = held.drop_columns([FRAGMENT]).take(pa.array(at))
    file_of = fragment[at]
    located = Located(
        location=live.location,
        version=live.version,
        probed=values,
        keys=found.column(key).combine_chunks(),
        files=files,
        file_of=file_of,
        rows=at - starts[file_of],
    )
    return found.select(list(columns)), located


def _enabling(live: LiveFiles) -> list[dict[str, Any]]:
    """The protocol and metadata actions turning deletion vectors on (none when they are)."""
    config = live.metadata.get("configuration") or {}
    if live.writer_protocol() == live.protocol and config.get(ENABLE) == "true":
        return []
    return [
        {"protocol": live.writer_protocol()},
        {"metaData": {**live.metadata, "configuration": {**config, ENABLE: "true"}}},
    ]


def held_in(column: pa.ChunkedArray, values: pa.Array) -> np.ndarray:
    """Per row of ``column``, whether its value is one of ``values`` (a writable array). The
    two halves are probed on two threads (Arrow's ``is_in`` releases the GIL; each half hashes
    ``values`` once): the key column of a 10M-row table against a 100k-key batch."""
    half = len(column) // 2
    if half < 1_000_000:
        return np.array(pc.is_in(column, value_set=values).to_numpy(zero_copy_only=False))
    parts = (column.slice(0, half), column.slice(half))
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda part: pc.is_in(part, value_set=values), parts))
    return np.concatenate([d.to_numpy(zero_copy_only=False) for d in done])


def _metrics(marks: list[tuple[str, np.ndarray]], matched: np.ndarray) -> dict[str, int]:
    return {
        "filesMarked": len(marks),
        "rowsCopied": 0,
        "rowsUpdated": int(matched.sum()),
        "rowsInserted": int(len(matched) - matched.sum()),
    }


def _commit_info(
    props: CommitProperties | None,
    now: int,
    marks: list[tuple[str, np.ndarray]],
    matched: np.ndarray,
    data: pa.Table,
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "timestamp": now,
        "operation": "WRITE",
        "operationParameters": {"mode": "Append"},
        "engineInfo": "lakecrew",
        OPERATION: _metrics(marks, matched),
    }
    info.update((props.custom_metadata or {}) if props else {})
    return {"commitInfo": info}


def _add_json(action: Any) -> dict[str, Any]:
    """A delta-rs ``AddAction`` as log JSON."""
    out: dict[str, Any] = {
        "path": action.path,
        "partitionValues": {},
        "size": int(action.size),
        "modificationTime": int(action.modification_time),
        "dataChange": True,
    }
    if action.stats:
        out["stats"] = action.stats
    return out
