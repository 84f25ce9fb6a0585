"""DeltaTableStore: the TableStore port over DeltaStore (delta-rs), for pipeline runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from lakecrew.adapters.local.deletion_vectors import LiveFiles, stale_vectors
from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.delta_changes import row_changes
from lakecrew.adapters.local.delta_fence import Fence
from lakecrew.adapters.local.delta_mark import Located, locate, mark_upsert
from lakecrew.adapters.local.delta_read import live_index, masked_read
from lakecrew.adapters.local.delta_upsert import (
    STAGE,
    Upserted,
    added_paths,
    eligible,
    upsert_files,
)
from lakecrew.adapters.local.key_index import KeyIndex, Probe, ProbeCache, key_hashes
from lakecrew.adapters.local.key_index_file import (
    Pending,
    describes,
    index_path,
    rows_unchanged,
    write_later,
)
from lakecrew.adapters.local.key_index_file import load as load_index
from lakecrew.adapters.local.key_index_file import snapshot as snapshot_index
from lakecrew.adapters.local.schema_check import duplicate_keys, type_text
from lakecrew.core.errors import DataError, UsageError
from lakecrew.ports.catalog import ColumnInfo
from lakecrew.ports.source import plain
from lakecrew.ports.tables import Maintenance, RowChanges

FILE_BYTES = 4 * 1024 * 1024
"""Data file size of upserted tables: an upsert rewrites each file holding a changed key
whole, so smaller files rewrite less when changes cluster (late fixes to the latest rows);
~170,000 rows of the benchmark's silver per file (delta-rs's default is 100 MiB). 4 MiB rather
than 8: at 10M rows an incremental batch copied 614k rows instead of 896k (1.85 s vs 2.12 s a
batch) while the first load's CPU stayed the same (bench_incremental / bench_medallion)."""


class DeltaTableStore:
    """Pipeline table writes on a local lakehouse; every write is one Delta commit."""

    concurrent_tables = True
    """Each table's open handle, file index and key index are its own; what tables share (the
    store's caches of open tables, the fence's expected versions) is one dict entry per table."""

    def __init__(self, store: DeltaStore, *, deletion_vectors: bool = True) -> None:
        """``deletion_vectors``: upserts mark replaced rows deleted (delta_mark.py) instead of
        rewriting their files (delta_upsert.py); off where another engine reads the files."""
        self.store = store
        self.deletion_vectors = deletion_vectors
        self._indexes: dict[tuple[str, str], KeyIndex] = {}
        self._saved: dict[tuple[str, str], int] = {}  # the version each index was saved at
        self._saving: Future[dict[tuple[str, str], int]] | None = None  # files being written
        self._fence: Fence | None = None
        self._probed = ProbeCache()
        self._located: Located | None = None  # the last lookup's live rows (delta_mark.py)

    @contextmanager
    def one_writer(self, tables: Iterable[str], writer: str) -> Iterator[None]:
        """Within the block, commits to `tables` go on top of the versions they had when it
        began (or this writer's own last commit); anything else is a Conflict, uncommitted."""
        names = list(dict.fromkeys(tables))
        expected = {n: (self.store.version(n) if self.store.exists(n) else None) for n in names}
        self._fence = Fence(writer, expected)
        try:
            yield
        finally:
            self._fence = None

    def exists(self, full_name: str) -> bool:
        return self.store.exists(full_name)

    def schema(self, full_name: str) -> pa.Schema | None:
        return self.store.schema(full_name) if self.store.exists(full_name) else None

    def version(self, full_name: str) -> int | None:
        return self.store.version(full_name) if self.store.exists(full_name) else None

    def create(
        self,
        full_name: str,
        schema: pa.Schema,
        *,
        partition_by: Sequence[str] = (),
        stats_columns: Sequence[str] | None = None,
    ) -> None:
        if not self.store.exists(full_name):
            self.store.create_table(
                full_name,
                schema,
                partition_by=partition_by,
                stats_columns=stats_columns,
                exist_ok=True,
                fence=self._fence,
            )
        elif self._fence is not None and self._fence.covers(full_name):
            self._fence.check(full_name, self.store.path(full_name))

    def append(self, full_name: str, data: pa.Table, *, merge_schema: bool = False) -> int:
        return self.store.append(
            full_name, data, merge_schema=merge_schema, fence=self._fence
        ).version

    def replace(
        self,
        full_name: str,
        data: pa.Table,
        *,
        where: Mapping[str, str] | None = None,
        overwrite_schema: bool = False,
    ) -> int:
        predicate = _predicate(where) if where else None
        return self.store.overwrite(
            full_name,
            data,
            predicate=predicate,
            overwrite_schema=overwrite_schema,
            fence=self._fence,
        ).version

    def prepare_keys(self, column: pa.ChunkedArray) -> None:
        """Hash and sort the key values now (the probe cache keeps them for this column)."""
        self._probed.of(column)

    def merge(self, full_name: str, data: pa.Table, keys: Sequence[str]) -> int:
        """Upsert on ``keys``. Rows whose key the table lacks are appended (no join needed);
        only rows whose key may exist go through MERGE, so the cost and memory of a batch do
        not grow with the table. Which keys exist comes from a ``KeyIndex`` (hashes of the
        key column, built once per table version this store did not write itself). A crash
        between the two commits is harmless: the retried batch finds its appended rows and
        merges them again with the same values.
        """
        if len(keys) != 1 or not data.num_rows:
            return self.store.merge(
                full_name, data, keys, merge_schema=True, fence=self._fence
            ).version
        column = data.column(keys[0])
        probe = self._probed.of(column)
        if not probe.distinct():  # equal keys hash equally: only then count exactly
            distinct = pc.count_distinct(column, mode="all").as_py()
            dups = duplicate_keys(data, list(keys)) if distinct < data.num_rows else 0
            if dups:  # checked before any commit, as DeltaStore.merge does
                raise DataError(
                    f"{dups} merge key value(s) occur more than once in the source",
                    where=f"{full_name} keys {list(keys)}",
                    fix="deduplicate the source on the merge keys",
                )
        index, _, present = self._present(full_name, keys[0], column)
        if not present.any():
            version = self.store.append(
                full_name, data, merge_schema=True, fence=self._fence, file_bytes=FILE_BYTES
            ).version
            added = added_paths(self.store.path(full_name), version)
            index.add(probe.ordered, version, added)
            return version
        marks = self.deletion_vectors
        if index.files is None and eligible(self.store.table(full_name), deletion_vectors=marks):
            # the file layout is unknown since a MERGE: read the table file by file, once
            self._indexes.pop((full_name, keys[0]), None)
            index = self._index(full_name, keys[0])
        upserted = self._upsert(
            full_name, data, keys[0], index, probe.ordered[present[probe.order]]
        )
        if upserted is not None:
            index.moved(upserted.replaced)
            if upserted.relocated is not None and len(upserted.relocated):
                index.relocate(np.sort(key_hashes(upserted.relocated)), upserted.added)
            if upserted.inserted is not None:
                inserted = np.sort(key_hashes(upserted.inserted))
                index.add(inserted, upserted.version, upserted.added)
            index.version = upserted.version
            return upserted.version
        if self.store.version(full_name) != index.version:  # lost a race to another writer
            self._indexes.pop((full_name, keys[0]), None)  # read again by the next batch
            return self.store.merge(
                full_name, data, keys, merge_schema=True, fence=self._fence
            ).version  # MERGE needs no index
        version = index.version
        fresh = data.filter(pa.array(~present))
        if fresh.num_rows:
            version = self.store.append(
                full_name, fresh, merge_schema=True, fence=self._fence
            ).version
        matched = data.filter(pa.array(present))
        version = self.store.merge(
            full_name, matched, keys, merge_schema=True, fence=self._fence
        ).version
        index.add(probe.ordered[~present[probe.order]], version, None)
        return version

    def _upsert(
        self, full_name: str, data: pa.Table, key: str, index: KeyIndex, matched: np.ndarray
    ) -> Upserted | None:
        """The file rewrite (delta_upsert.py) of the files the index names for the matched
        keys; None where it does not apply (then MERGE)."""
        data = plain(data)  # the rewritten files' rows are read back as plain text
        paths = index.holders(matched)
        if paths is None:
            return None
        fence = self._fence if self._fence and self._fence.covers(full_name) else None
        self.store.prepare_write(full_name, fence)
        location = self.store.path(full_name)
        opened = self.store.table(full_name)
        base = fence.table(full_name, location, opened) if fence else opened
        if int(base.version()) != index.version:
            return None  # someone else wrote since the index was read
        if fence:
            shutil.rmtree(location / STAGE, ignore_errors=True)  # an interrupted upsert's
        props = fence.properties() if fence else None
        live = self.store.live_files(base, any_protocol=True) if self.deletion_vectors else None
        try:
            if live is not None:
                located, self._located = self._located, None
                upserted = mark_upsert(
                    self.store,
                    full_name,
                    data,
                    key,
                    paths,
                    props,
                    base,
                    live,
                    FILE_BYTES,
                    located,
                )
            else:
                upserted = upsert_files(
                    self.store, full_name, data, key, paths, props, base, FILE_BYTES
                )
        except CommitFailedError as exc:  # re-raised by upsert_files only under a fence
            if fence is None:
                raise
            raise fence.conflict(full_name) from exc
        if upserted is not None and fence:
            fence.adopt(full_name, location)
        return upserted

    def _index(self, full_name: str, key: str) -> KeyIndex:
        """The key index of the table's current version (rebuilt if someone else wrote)."""
        version = self.store.version(full_name)
        identity = self.store.identity(full_name)  # a recreated table is another table
        index = self._indexes.get((full_name, key))
        if index is None or index.version != version or index.identity != identity:
            saved = index_path(self.store.path(full_name), key)
            index = load_index(saved, version, identity)  # a previous run's, for this version
            if index is None:
                table = self.store.table(full_name, version)
                live = self.store.live_files(table)
                index = _read_index(table, key, version, identity, live)
            else:
                self._saved[(full_name, key)] = version
            self._indexes[(full_name, key)] = index
        return index

    def persist(self) -> None:
        """Save each key index that describes its table's current version (and was not saved
        at that version yet), for the next process (key_index_file.py); returns once written."""
        self._start_saving()
        self._wait_saved()

    @contextmanager
    def persisting(self) -> Iterator[None]:
        """``persist`` with the files written on a thread of their own while the block runs
        (10M keys: 87 MB, 0.15-0.5 s, mostly the kernel's): a run writes its gold tables
        meanwhile. The block's end, however it ends, waits for the files."""
        self._start_saving()
        try:
            yield
        finally:
            self._wait_saved()

    def _start_saving(self) -> None:
        """Choose the indexes to save and snapshot them here; write them on another thread."""
        self._wait_saved()
        chosen: list[Pending] = []
        for (full_name, key), index in list(self._indexes.items()):
            if not self.store.exists(full_name):
                continue
            version, identity = self.store.version(full_name), self.store.identity(full_name)
            path = self.store.path(full_name)
            if identity != index.identity or version < index.version:
                continue
            if version != index.version:
                if not rows_unchanged(path, index.version, version):
                    continue  # rows written since by something the index does not follow
                index.version = version  # e.g. protect(): table properties only
            saved = self._saved.get((full_name, key))
            if saved is not None and describes(path, saved, version):
                continue  # the file saved then describes this version too (key_index_file.load)
            snap = snapshot_index(index)
            if snap is not None:
                chosen.append(Pending((full_name, key), index.version, snap, index_path(path, key)))
        if chosen:
            self._saving = write_later(chosen)

    def _wait_saved(self) -> None:
        """Wait for the files an earlier ``persist`` is writing; note the versions saved."""
        saving, self._saving = self._saving, None
        if saving is not None:
            self._saved.update(saving.result())

    def read(
        self,
        full_name: str,
        columns: Sequence[str] | None = None,
        where: Mapping[str, str] | None = None,
    ) -> pa.Table:
        wanted = list(columns) if columns else None
        on = list(where or ())
        try:
            return self.store.scan(
                full_name, columns=wanted, filter=_equal(where, cast=False), filter_columns=on
            )
        except pa.ArrowNotImplementedError:
            # A file delta-rs's MERGE wrote with string_view columns: pyarrow cannot compare
            # them with string values in statistics pushdown. Cast first (no pushdown).
            return self.store.scan(
                full_name, columns=wanted, filter=_equal(where, cast=True), filter_columns=on
            )

    def lookup(
        self, full_name: str, keys: Sequence[str], probe: pa.Table, columns: Sequence[str]
    ) -> pa.Table:
        """Matching rows; with one key, the key index skips the scan when none can match."""
        wanted = list(dict.fromkeys([*keys, *columns]))
        if not self.store.exists(full_name):
            return _empty(None, wanted, probe.schema)
        if not probe.num_rows:
            return _empty(self.store.schema(full_name), wanted, probe.schema)
        table = self.store.table(full_name)
        live = self.store.live_files(table)
        if live is not None and live.deleted():
            return self._lookup_live(full_name, table, live, keys, probe, wanted)
        dataset = self.store.to_arrow(full_name)
        if len(keys) == 1:
            column = probe.column(keys[0])
            index, probed, present = self._present(full_name, keys[0], column)
            if not present.any():
                return _empty(self.store.schema(full_name), wanted, probe.schema)
            ordered = probed.ordered[present[probed.order]]  # the present keys' hashes, sorted
            dataset = self._holding(full_name, index, ordered, dataset)
            values = column.filter(pa.array(present)).combine_chunks()
            values = values.cast(dataset.schema.field(keys[0]).type)
            try:
                return dataset.to_table(columns=wanted, filter=pads.field(keys[0]).isin(values))
            except pa.ArrowNotImplementedError:  # string_view files: see read()
                field = pads.field(keys[0]).cast(values.type)
                return dataset.to_table(columns=wanted, filter=field.isin(values))
        return _semi(dataset.to_table(columns=wanted), probe, keys)

    def _lookup_live(
        self,
        full_name: str,
        table: DeltaTable,
        live: LiveFiles,
        keys: Sequence[str],
        probe: pa.Table,
        wanted: list[str],
    ) -> pa.Table:
        """`lookup` in a version with deletion vectors: the live rows of the files the key
        index names (all files when it names none or several keys), filtered in memory."""
        schema = pa.schema(table.schema().to_arrow())
        paths: list[str] | None = None
        values = probe.column(keys[0])
        every = values
        self._located = None
        if len(keys) == 1:
            index, probed, present = self._present(full_name, keys[0], values)
            if not present.any():
                return _empty(schema, wanted, probe.schema)
            paths = index.holders(probed.ordered[present[probed.order]])
            values = values.filter(pa.array(present))
        location = self.store.path(full_name)
        if len(keys) == 1:
            key_type = schema.field(keys[0]).type
            values = values.combine_chunks().cast(key_type)
            found, located = locate(location, live, schema, keys[0], values, wanted, paths)
            # keys the index proved absent are absent: the upsert may rely on every key probed
            self._located = replace(located, probed=every.combine_chunks().cast(key_type))
            return found
        return _semi(masked_read(location, live, schema, columns=wanted), probe, keys)

    def _present(
        self, full_name: str, key: str, column: pa.ChunkedArray
    ) -> tuple[KeyIndex, Probe, np.ndarray]:
        """The table's key index, the column's probe, and per value whether the table may
        hold it (False for nulls: a null key matches nothing)."""
        index = self._index(full_name, key)
        probed = self._probed.of(column)
        present = self._probed.held(index, probed).copy()
        if column.null_count:
            present &= pc.is_valid(column).to_numpy(zero_copy_only=False)
        return index, probed, present

    def _holding(
        self, full_name: str, index: KeyIndex, ordered: np.ndarray, dataset: pads.Dataset
    ) -> pads.Dataset:
        """Only the files the index names for these key hashes (the whole table when the
        file map is unknown or the table is not plain, see delta_upsert.eligible)."""
        paths = index.holders(ordered)
        if paths is None or not eligible(self.store.table(full_name), deletion_vectors=True):
            return dataset
        root = self.store.path(full_name)
        files = [str(root / unquote(p)) for p in paths]
        return pads.dataset(files, schema=dataset.schema, format="parquet")

    def deleted_rows(self, full_name: str) -> int:
        """The cardinalities of the live files' deletion vectors, from the log alone."""
        if not self.store.exists(full_name):
            return 0
        live = self.store.live_files(self.store.table(full_name))
        if live is None:
            return 0
        return sum(int(d.get("cardinality") or 0) for d in live.deleted().values())

    def compact(
        self, full_name: str, *, over_files: int, retention_hours: int = 168
    ) -> Maintenance | None:
        """The file count from the log; a commit conflict (another process appended and
        compacted first) leaves it to the next call."""
        if not self.store.exists(full_name):
            return None
        files = self.store.table(full_name).get_add_actions(flatten=False).num_rows
        if files <= over_files:
            return None
        try:
            return self.maintain(full_name, retention_hours=retention_hours)
        except CommitFailedError:
            return None

    def count(self, full_name: str) -> int:
        """From the Delta log's per-file row counts (no data file opened) when every file
        has one and no file can carry deletion vectors; else from the Parquet footers."""
        table = self.store.table(full_name)
        live = self.store.live_files(table)
        if live is None:
            rows = pa.table(table.get_add_actions(flatten=False)).column("num_records")
            if not rows.null_count:
                return int(pc.sum(rows).as_py() or 0)
            return int(self.store.to_arrow(full_name).count_rows())
        counted = live.rows()
        if counted is not None:
            return counted
        return int(self.store.scan(full_name, columns=[]).num_rows)

    def changes(
        self, full_name: str, since: int, columns: Sequence[str], limit: int
    ) -> RowChanges | str:
        """From the Delta log of the two versions (delta_changes.py): the files each holds
        and their deletion vectors; only the files that differ are read."""
        if not self.store.exists(full_name):
            return f"{full_name} does not exist"
        table = self.store.table(full_name)
        now = self.store.live_files(table, any_protocol=True)
        assert now is not None  # any_protocol: never None
        if since > now.version:
            return f"version {since} is newer than the table's {now.version}"
        if table.metadata().partition_columns:
            return "the table is partitioned"
        if (table.metadata().configuration or {}).get("delta.columnMapping.mode"):
            return "the table uses column mapping"
        try:
            then = LiveFiles.at(now.location, since)
        except (DataError, FileNotFoundError) as exc:
            return f"version {since} cannot be replayed ({type(exc).__name__})"
        if then.metadata.get("schemaString") != now.metadata.get("schemaString"):
            return "the table's schema changed between the versions"
        schema = pa.schema(table.schema().to_arrow())
        missing = [c for c in columns if c not in schema.names]
        if missing:
            return f"the table has no column {missing[0]}"
        try:
            found = row_changes(then, now, schema, columns, limit)
        except (OSError, pa.ArrowException) as exc:  # a file of ``since`` vacuumed since
            return f"version {since}'s files cannot be read ({type(exc).__name__})"
        if isinstance(found, str):
            return found
        return RowChanges(removed=found[0], added=found[1], since=since, version=now.version)

    def distinct(self, full_name: str, column: str) -> list[str]:
        """From the Delta log alone when every file's statistics show one value (min = max,
        shorter than a possibly truncated statistic) or only nulls; else one column scan."""
        table = self.store.table(full_name)
        live = self.store.live_files(table)
        values = None
        if live is None or not live.deleted():  # deleted rows' values stay in the statistics
            values = single_values(pa.table(table.get_add_actions(flatten=True)), column)
        if values is None:
            held = self.store.scan(full_name, columns=[column]).column(column)
            values = set(pc.unique(held.drop_null()).to_pylist())
        return sorted(values)

    def protect(self, full_name: str) -> None:
        self.store.protect(full_name)

    def columns(self, full_name: str) -> tuple[ColumnInfo, ...]:
        return tuple(
            ColumnInfo(name=f.name, type_text=type_text(f.type), nullable=f.nullable, position=i)
            for i, f in enumerate(self.store.schema(full_name))
        )

    def location(self, full_name: str) -> str:
        return str(self.store.path(full_name))

    def maintain(
        self, full_name: str, *, zorder_by: Sequence[str] = (), retention_hours: int = 168
    ) -> Maintenance:
        fence = self._fence if self._fence and self._fence.covers(full_name) else None
        path = self.store.path(full_name)
        props = fence.properties() if fence else None
        table = fence.table(full_name, path) if fence else self.store.table(full_name)
        optimize = table.optimize
        metrics = (
            optimize.z_order(list(zorder_by), commit_properties=props)
            if zorder_by
            else optimize.compact(commit_properties=props)
        )
        if fence:
            fence.adopt(full_name, path)
        table = fence.table(full_name, path) if fence else self.store.table(full_name)
        removed = table.vacuum(
            retention_hours=retention_hours,
            dry_run=False,
            enforce_retention_duration=False,
            commit_properties=props,
        )
        if fence:
            fence.adopt(full_name, path)
        table = fence.table(full_name, path) if fence else self.store.table(full_name)
        live = self.store.live_files(table)
        vectors = stale_vectors(live, retention_hours) if live is not None else []
        for stale in vectors:
            stale.unlink(missing_ok=True)
        return Maintenance(
            table=full_name,
            files_removed=int(metrics.get("numFilesRemoved", 0)),
            files_added=int(metrics.get("numFilesAdded", 0)),
            zorder_by=tuple(zorder_by),
            vacuumed_files=len(removed) + len(vectors),
            retention_hours=retention_hours,
        )


def _read_index(
    table: DeltaTable, key: str, version: int, identity: object, live: LiveFiles | None
) -> KeyIndex:
    """The key index of one table version, with the file holding each (live) key."""
    if live is not None:  # deletion vectors allowed: delta-rs's datasets refuse the table
        return live_index(table, key, version, identity, live)
    dataset = table.to_pyarrow_dataset()
    if key not in dataset.schema.names:
        return KeyIndex.build(key_hashes(pa.chunked_array([], pa.string())), version, identity)
    held = dataset.to_table(columns=[key, "__fragment_index"])
    fragments = [str(f.path) for f in dataset.get_fragments()]
    logged = pa.table(table.get_add_actions(flatten=False)).column("path").to_pylist()
    by_name = {unquote(p): p for p in logged}
    hashes = key_hashes(held.column(key))
    if not all(f in by_name for f in fragments):
        return KeyIndex.build(hashes, version, identity)  # no file map
    files = held.column("__fragment_index").to_numpy()
    groups = [(by_name[f],) for f in fragments]
    return KeyIndex.build(hashes, version, identity, files, groups)


def _semi(held: pa.Table, probe: pa.Table, keys: Sequence[str]) -> pa.Table:
    """The rows of ``held`` whose (multi-column) key is one of ``probe``'s."""
    wanted_keys = probe.select(list(keys)).group_by(list(keys)).aggregate([])
    return held.join(wanted_keys, keys=list(keys), join_type="left semi")


def _empty(schema: pa.Schema | None, columns: list[str], fallback: pa.Schema) -> pa.Table:
    source = schema if schema is not None else fallback
    fields = [
        source.field(c)
        if c in source.names
        else fallback.field(c)
        if c in fallback.names
        else pa.field(c, pa.null())
        for c in columns
    ]
    return pa.schema(fields).empty_table()


def _equal(where: Mapping[str, str] | None, *, cast: bool) -> pads.Expression | None:
    """``column = value`` for each item, ANDed (``cast``: the column cast to text first)."""
    expr = None
    for name, value in (where or {}).items():
        field = pads.field(name).cast(pa.string()) if cast else pads.field(name)
        term = field == pc.scalar(value)
        expr = term if expr is None else expr & term
    return expr


def _predicate(where: Mapping[str, str]) -> str:
    parts = []
    for name, value in where.items():
        if not name.replace("_", "").isalnum():
            raise UsageError(f"invalid column name in predicate: {name!r}")
        parts.append(f"\"{name}\" = '{value.replace(chr(39), chr(39) * 2)}'")
    return " AND ".join(parts)


STATS_PREFIX = 32
"""Text statistics at least this long may be truncated prefixes: never trusted as values."""


def single_values(actions: pa.Table, column: str) -> set[str] | None:
    """The non-null values of ``column`` when each file's statistics prove it holds at most
    one; None when a file's statistics are absent, span several values or may be truncated."""
    lo, hi, nulls = f"min.{column}", f"max.{column}", f"null_count.{column}"
    if not actions.num_rows:
        return set()
    if not {lo, hi, nulls} <= set(actions.column_names):
        return None
    values: set[str] = set()
    rows = actions.select(["num_records", lo, hi, nulls]).to_pylist()
    for row in rows:
        if not row["num_records"]:
            continue
        low, high = row[lo], row[hi]
        if low is None and row[nulls] == row["num_records"]:
            continue  # only nulls
        if low is None or low != high or not isinstance(low, str):
            return None
        if len(low) >= STATS_PREFIX:
            return None
        values.add(low)
    return values
