"""Reading a Delta version whose files may carry deletion vectors (see deletion_vectors.py).

delta-rs's Arrow datasets refuse such tables, and its DataFusion ``scan()`` returns view types
and no statistics pushdown for Arrow callers. Here the live files are one pyarrow dataset (the
same Parquet format options delta-rs uses), read in file order with each row's file
(``__fragment_index``) so a row's position in its file is its offset from the file's first row;
rows a deletion vector names are dropped before any filter is applied. A filter first picks the
files that may hold a matching row (a scan of its columns only, pruned by Parquet statistics).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import DeltaTable

from lakecrew.adapters.local.deletion_vectors import LiveFiles, positions, sorted_unique
from lakecrew.adapters.local.key_index import KeyIndex, key_hashes

FRAGMENT = "__fragment_index"


def deleted_rows(live: LiveFiles, files: Sequence[str]) -> pa.Table:
    """Every position the live files' deletion vectors delete, as one ``_lc_dv`` BIGINT:
    the file's index in ``files`` (log paths) shifted left 32 bits, plus the row's position
    (what DuckDB's ``file_index`` and ``file_row_number`` make of a scan of ``files``)."""
    slot = {path: i for i, path in enumerate(files)}
    parts = []
    for path, descriptor in live.deleted().items():
        if path in slot:
            found = cached_positions(live.location, descriptor)
            parts.append((np.int64(slot[path]) << np.int64(32)) + found)
    packed = np.concatenate(parts) if parts else np.empty(0, np.int64)
    return pa.table({"_lc_dv": pa.array(packed, pa.int64())})


_CACHED: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
_CACHE_ROWS = 50_000_000
"""Positions kept decoded (400 MB at most): a vector's file is named by a fresh uuid and never
changes, an inline one is its own text, so an entry is never stale."""
_LOCK = threading.Lock()


def _key(location: Path, descriptor: Mapping[str, Any]) -> tuple[str, ...]:
    parts = (str(descriptor.get(k)) for k in ("storageType", "pathOrInlineDv", "offset"))
    return (str(location), *parts)


def cached_positions(location: Path, descriptor: Mapping[str, Any]) -> np.ndarray:
    """`positions` (int64, read-only), decoded once."""
    key = _key(location, descriptor)
    with _LOCK:
        found = _CACHED.get(key)
        if found is not None:
            _CACHED.move_to_end(key)
            return found
    return remember(location, descriptor, positions(location, descriptor))


def remember(location: Path, descriptor: Mapping[str, Any], rows: np.ndarray) -> np.ndarray:
    """Keep the positions of a vector (one just written need not be read back)."""
    found = sorted_unique(np.asarray(rows, np.int64))
    found.setflags(write=False)
    with _LOCK:
        _CACHED[_key(location, descriptor)] = found
        total = sum(len(v) for v in _CACHED.values())
        while total > _CACHE_ROWS and len(_CACHED) > 1:
            total -= len(_CACHED.popitem(last=False)[1])
    return found


def files_dataset(
    location: Path, paths: Sequence[str], schema: pa.Schema, dictionary: Sequence[str] = ()
) -> pads.Dataset:
    """The Parquet files (log paths, relative to the table) as one dataset, in that order
    (``dictionary``: text columns read as dictionary arrays, no string decoded per row)."""
    fmt = pads.ParquetFileFormat(
        read_options=pads.ParquetReadOptions(dictionary_columns=list(dictionary)),
        default_fragment_scan_options=pads.ParquetFragmentScanOptions(pre_buffer=True),
    )
    fs = pafs.LocalFileSystem()
    fragments = [fmt.make_fragment(str(location / unquote(p)), filesystem=fs) for p in paths]
    for name in dictionary:
        at = schema.get_field_index(name)
        schema = schema.set(at, schema.field(at).with_type(pa.dictionary(pa.int32(), pa.string())))
    return pads.FileSystemDataset(fragments, schema, fmt, fs)


def keep_mask(
    location: Path, live: LiveFiles, paths: Sequence[str], fragment: np.ndarray
) -> np.ndarray | None:
    """Per row read in file order (``fragment``: each row's index into ``paths``), False
    where a deletion vector deletes it; None when no file of ``paths`` has one."""
    deleted = live.deleted()
    marked = [(i, deleted[p]) for i, p in enumerate(paths) if p in deleted]
    if not marked:
        return None
    counts = np.bincount(fragment, minlength=len(paths))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    keep = np.ones(len(fragment), np.bool_)
    for i, descriptor in marked:
        rows = cached_positions(live.location, descriptor)
        rows = rows[rows < counts[i]]
        keep[starts[i] + rows] = False
    return keep


def masked_read(
    location: Path,
    live: LiveFiles,
    schema: pa.Schema,
    *,
    columns: Sequence[str] | None = None,
    filter: pads.Expression | None = None,
    filter_columns: Sequence[str] = (),
    paths: Sequence[str] | None = None,
    batch_size: int = 131_072,
) -> pa.Table:
    """The live rows of ``paths`` (default: every live file), ``columns`` of them, those
    matching ``filter`` (whose columns ``filter_columns`` must name). Streamed batch by batch
    (a batch comes from one file, a file's batches in order), so memory holds the result."""
    files = list(live.adds) if paths is None else list(paths)
    names = list(columns) if columns else list(schema.names)
    dataset = files_dataset(location, files, schema)
    if filter is not None and files:
        hit = dataset.to_table(columns=[FRAGMENT], filter=filter).column(FRAGMENT)
        chosen = np.unique(hit.to_numpy())
        if len(chosen) < len(files):
            files = [files[i] for i in chosen.tolist()]
            dataset = files_dataset(location, files, schema)
    wanted = list(dict.fromkeys([*names, *filter_columns]))
    deleted = live.deleted()
    marked: dict[int, np.ndarray] = {}
    for i, path in enumerate(files):
        if path in deleted:
            marked[i] = cached_positions(live.location, deleted[path])
    seen = np.zeros(len(files), np.int64)
    parts = []
    scanner = dataset.scanner(columns=[*wanted, FRAGMENT], batch_size=batch_size)
    for batch in scanner.to_batches():
        if not batch.num_rows:
            continue
        i = int(batch.column(FRAGMENT)[0].as_py())
        start, n = int(seen[i]), batch.num_rows
        seen[i] += n
        part = pa.Table.from_batches([batch]).drop_columns([FRAGMENT])
        if i in marked:
            rows = marked[i]
            rows = rows[(rows >= start) & (rows < start + n)] - start
            if len(rows):
                keep = np.ones(n, np.bool_)
                keep[rows] = False
                part = part.filter(pa.array(keep))
        if filter is not None:
            part = part.filter(filter)
        parts.append(part.select(names))
    if not parts:
        return schema.empty_table().select(names)
    return pa.concat_tables(parts)


def live_index(
    table: DeltaTable, key: str, version: int, identity: object, live: LiveFiles
) -> KeyIndex:
    """The key index (key_index.py) of a version whose files may carry deletion vectors, with
    the file holding each key: deleted rows hold no key."""
    schema = pa.schema(table.schema().to_arrow())
    if key not in schema.names:
        return KeyIndex.build(key_hashes(pa.chunked_array([], pa.string())), version, identity)
    location = live.location
    paths = list(live.adds)
    held = files_dataset(location, paths, schema).to_table(columns=[key, FRAGMENT])
    files = held.column(FRAGMENT).to_numpy()
    keep = keep_mask(location, live, paths, files)
    column = held.column(key)
    if keep is not None:
        column, files = column.filter(pa.array(keep)), files[keep]
    groups = [(p,) for p in paths]
    return KeyIndex.build(key_hashes(column), version, identity, files, groups)
