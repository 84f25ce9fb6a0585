"""The rows a Delta table lost and gained between two versions, from its log alone.

What a change data feed would give, for tables written without one: compare the live ``add``
actions of the two versions (deletion_vectors.LiveFiles, which replays any table's log).

- a file live then and gone now: its rows live then (all but its old deletion vector's) were
  removed;
- a file live in both: the rows its new deletion vector adds to the old one were removed (a
  vector never shrinks while its file stays; if one did, the versions cannot be compared);
- a file new now: its rows live now were added.

Copy-on-write rewrites show up as a file removed and its rewrite added (the rows kept appear in
both: they cancel for a caller summing signed rows, at the price of reading them); OPTIMIZE as
all rows of its inputs removed and added again. ``limit`` bounds the rows the answer may hold,
counted from the log's statistics before any file is read, so a large difference costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lakecrew.adapters.local.deletion_vectors import LiveFiles
from lakecrew.adapters.local.delta_read import FRAGMENT, cached_positions, files_dataset

_NONE = np.empty(0, np.int64)


@dataclass(frozen=True)
class _Part:
    """Rows of one file to return: ``rows`` (positions) or, when None, every row but ``drop``."""

    path: str
    rows: np.ndarray | None
    drop: np.ndarray


def row_changes(
    then: LiveFiles, now: LiveFiles, schema: pa.Schema, columns: Sequence[str], limit: int
) -> tuple[pa.Table, pa.Table] | str:
    """(rows removed, rows added) from ``then`` to ``now`` (``columns`` of them), or why
    they cannot be told (one line): a vector that shrank, a file without a row count, more
    than ``limit`` rows in all."""
    removed: list[_Part] = []
    added: list[_Part] = []
    total = 0
    for path, add in then.adds.items():
        old = _vector(then, add)
        after = now.adds.get(path)
        if after is None:
            removed.append(_Part(path, None, old))
            records = _records(add)
            if records is None:
                return f"file {path} has no row count in the log"
            total += records - len(old)
            continue
        new = _vector(now, after)
        if len(new) == len(old):
            continue
        gone = np.setdiff1d(new, old, assume_unique=True)
        if len(gone) != len(new) - len(old):
            return f"the deletion vector of {path} lost rows between the versions"
        removed.append(_Part(path, gone, _NONE))
        total += len(gone)
    for path, add in now.adds.items():
        if path in then.adds:
            continue
        records = _records(add)
        if records is None:
            return f"file {path} has no row count in the log"
        vector = _vector(now, add)
        added.append(_Part(path, None, vector))
        total += records - len(vector)
    if total > limit:
        return f"{total} rows changed, over {limit}"
    names = list(columns)
    return _read(now.location, removed, schema, names), _read(now.location, added, schema, names)


def _vector(live: LiveFiles, add: Mapping[str, Any]) -> np.ndarray:
    descriptor = add.get("deletionVector")
    return cached_positions(live.location, descriptor) if descriptor else _NONE


def _records(add: Mapping[str, Any]) -> int | None:
    stats = add.get("stats")
    if not isinstance(stats, str) or not stats:
        return None
    found = json.loads(stats).get("numRecords")
    return int(found) if found is not None else None


def _read(location: Path, parts: list[_Part], schema: pa.Schema, names: list[str]) -> pa.Table:
    """The chosen rows of ``parts``' files: one streamed scan, each batch cut to its chosen
    rows as it arrives (a batch comes from one file, a file's batches in order)."""
    text = [n for n in names if pa.types.is_string(schema.field(n).type)]
    dataset = files_dataset(location, [p.path for p in parts], schema, text)
    pieces = [dataset.schema.empty_table().select(names)]
    seen = np.zeros(len(parts), np.int64)
    for batch in dataset.scanner(columns=[*names, FRAGMENT], batch_size=131_072).to_batches():
        if not batch.num_rows:
            continue
        i = int(batch.column(FRAGMENT)[0].as_py())
        start, n = int(seen[i]), batch.num_rows
        seen[i] += n
        part = parts[i]
        chosen = part.rows if part.rows is not None else part.drop
        inside = chosen[(chosen >= start) & (chosen < start + n)] - start
        if part.rows is not None:
            if not len(inside):
                continue
            keep = np.zeros(n, np.bool_)
            keep[inside] = True
        else:
            keep = np.ones(n, np.bool_)
            keep[inside] = False
        rows = pa.Table.from_batches([batch]).select(names)
        pieces.append(rows.filter(pa.array(keep)))
    return pa.concat_tables(pieces, promote_options="permissive")
