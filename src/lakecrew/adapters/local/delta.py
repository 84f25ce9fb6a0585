"""DeltaStore: Delta tables (delta-rs) laid out as <lakehouse>/<catalog>/<schema>/<table>.

Every write is one Delta commit, so it is atomic: a crash (even kill -9) mid-write leaves orphan
data files that no commit references, and readers keep seeing the previous version. Schemas are
checked before writing (see schema_check.py); commit conflicts with concurrent writers are retried
with jittered exponential backoff and, when the attempts run out, raised as `Conflict`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from lakecrew.adapters.local.deletion_vectors import FEATURE, LiveFiles
from lakecrew.adapters.local.delta_fence import Fence
from lakecrew.adapters.local.delta_stats import (
    NUM_INDEXED,
    STATS_COLUMNS,
    only_stats_of,
    pii_columns,
    stats_properties,
)
from lakecrew.adapters.local.delta_stats import enforce as enforce_stats
from lakecrew.adapters.local.delta_write import (
    Data,
    Mode,
    SchemaMode,
    checked_reader,
    translate,
    write_delta,
)
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.schema_check import (
    check_nulls,
    check_schema,
    conform,
    duplicate_keys,
    type_text,
)
from lakecrew.core.errors import (
    Conflict,
    DataError,
    SchemaMismatch,
    TableMissing,
    UsageError,
)
from lakecrew.ports.catalog import parse_full_name
from lakecrew.ports.source import plain, plain_schema

if TYPE_CHECKING:  # pyarrow.dataset imports pandas (~0.3 s): only where a table is scanned
    import pyarrow.dataset as pads

_Run: TypeAlias = "Callable[[DeltaTable, CommitProperties | None], dict[str, Any]]"


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one committed write."""

    full_name: str
    version: int
    operation: str
    attempts: int = 1
    metrics: Mapping[str, Any] = field(default_factory=dict)


class DeltaStore:
    """Create, write and read Delta tables under one lakehouse folder.

    `max_attempts` bounds the retries on commit conflicts; `base_delay`/`max_delay` (seconds)
    shape the full-jitter exponential backoff. `pii_columns(full_name)` names the columns the
    catalog classifies as PII (their statistics are kept out of the Delta log).
    """

    def __init__(
        self,
        root: Path,
        *,
        max_attempts: int = 10,
        base_delay: float = 0.02,
        max_delay: float = 1.0,
        rng: random.Random | None = None,
        pii_columns: Callable[[str], Collection[str]] | None = None,
    ) -> None:
        self.root = Path(root)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._rng = rng or random.Random()
        self._pii = pii_columns or (lambda full_name: ())
        self._open: dict[str, tuple[tuple[int, int], DeltaTable]] = {}
        self._live: dict[str, tuple[tuple[int, int] | None, LiveFiles]] = {}

    @classmethod
    def for_project(cls, layout: ProjectLayout, **kwargs: Any) -> DeltaStore:
        """The store of a local project (`<project>/.lakecrew/lakehouse`)."""
        return cls(layout.lakehouse_dir, **kwargs)

    # ---------------------------------------------------------------- layout

    def path(self, full_name: str) -> Path:
        """Folder of a table (whether or not it exists)."""
        cat, sch, tbl = parse_full_name(full_name)
        return self.root / cat / sch / tbl

    def exists(self, full_name: str) -> bool:
        """Whether the table exists (asked before most reads and writes: the live table is
        kept open, so asking again costs an incremental log read, not a new log replay)."""
        if not (self.path(full_name) / "_delta_log").is_dir():
            return False
        try:
            self.table(full_name)
        except (TableMissing, DeltaError, OSError):
            return False
        return True

    def list_tables(self, catalog: str | None = None, schema: str | None = None) -> list[str]:
        """Full names of the existing tables, sorted."""
        out: list[str] = []
        if not self.root.is_dir():
            return out
        for log in sorted(self.root.glob("*/*/*/_delta_log")):
            tbl = log.parent
            cat, sch = tbl.parent.parent.name, tbl.parent.name
            if (catalog is None or cat == catalog.lower()) and (
                schema is None or sch == schema.lower()
            ):
                out.append(f"{cat}.{sch}.{tbl.name}")
        return out

    # ---------------------------------------------------------------- create / read

    def create_table(
        self,
        full_name: str,
        schema: pa.Schema,
        *,
        partition_by: Sequence[str] = (),
        properties: Mapping[str, str] | None = None,
        exist_ok: bool = False,
        fence: Fence | None = None,
        add_nullable: bool = False,
        stats_columns: Sequence[str] | None = None,
    ) -> int:
        """Create an empty table (version 0); return its version.

        Only `delta.*` properties are stored in the Delta log; others belong in the metastore.
        With `exist_ok`, an existing table holding every column of `schema` with the same type
        is accepted (extra columns allowed); a missing or retyped column raises SchemaMismatch.
        With `add_nullable` too, columns of `schema` that the table lacks and that are nullable
        are added to it (one schema commit; older rows read them as null): how a table written
        by an earlier lakecrew release gains a column added since.
        With `stats_columns`, only those columns (less any PII) get data-skipping statistics,
        and writes compute Parquet statistics for no other column (`without_stats`).
        """
        full_name = ".".join(parse_full_name(full_name))
        schema = plain_schema(schema)  # a dictionary column is stored as its values
        fenced = fence is not None and fence.covers(full_name)
        if self.exists(full_name):
            if fence is not None and fenced:
                fence.check(full_name, self.path(full_name))  # created by another writer?
            if not exist_ok:
                raise Conflict(f"table {full_name} already exists", where=full_name)
            # Extra columns are fine (imports keep unknown fields); missing or retyped ones are not.
            current = dict(_shape(self.schema(full_name)))
            differing = [n for n, t in _shape(schema) if current.get(n) != t]
            new = [f for f in schema if f.name.lower() not in current]
            only_new_nullable = len(new) == len(differing) and all(f.nullable for f in new)
            if add_nullable and differing and only_new_nullable:
                return self._add_columns(full_name, new)
            if differing:
                raise SchemaMismatch(
                    f"existing table lacks or retypes column(s) {differing}",
                    where=full_name,
                    fix="migrate the table (overwrite with overwrite_schema=True) or rename",
                )
            return self.version(full_name)
        missing = [c for c in partition_by if c not in schema.names]
        if missing:
            raise UsageError(f"partition column(s) {missing} not in schema", where=full_name)
        config = {k: v for k, v in (properties or {}).items() if k.startswith("delta.")}
        pii = self._pii(full_name)
        config = {**stats_properties(schema, pii), **config}  # no PII statistics in the log
        if stats_columns is not None:
            hidden = set(pii_columns(schema, pii))
            chosen = [c for c in stats_columns if c in schema.names and c not in hidden]
            config = {k: v for k, v in config.items() if k not in (STATS_COLUMNS, NUM_INDEXED)}
            config.update(only_stats_of(chosen))
        path = self.path(full_name)
        path.mkdir(parents=True, exist_ok=True)
        try:
            DeltaTable.create(
                str(path),
                schema,
                mode="error",
                partition_by=list(partition_by) or None,
                configuration=config or None,
                commit_properties=fence.properties() if fence is not None and fenced else None,
            )
        except DeltaError as exc:
            if fence is not None and fenced:
                raise fence.conflict(full_name) from exc
            raise Conflict(f"could not create table: {exc}", where=full_name) from exc
        if fence is not None and fenced:
            fence.adopt(full_name, path)
        return self.version(full_name)

    def _add_columns(self, full_name: str, fields: Sequence[pa.Field]) -> int:
        """Add nullable columns to an existing table; return its new version."""
        from deltalake.schema import Field

        table = DeltaTable(str(self.path(full_name)))
        table.alter.add_columns([Field.from_arrow(f) for f in fields])
        return int(DeltaTable(str(self.path(full_name))).version())

    def table(self, full_name: str, version: int | None = None) -> DeltaTable:
        """The live (or time-travelled) DeltaTable; NotFound when absent (see `table_at`)."""
        try:
            return self.table_at(str(self.path(full_name)), version)
        except TableNotFoundError as exc:
            raise TableMissing(
                f"table {full_name} does not exist",
                where=str(self.path(full_name)),
                fix=f"existing tables: {', '.join(self.list_tables()) or 'none'}",
            ) from exc

    def table_at(self, location: str, version: int | None = None) -> DeltaTable:
        """The DeltaTable at a folder (a table of this store, or a registered table's own
        location); delta-rs's TableNotFoundError when there is none.

        Live tables are kept open and brought up to date with ``update_incremental`` (5x
        cheaper than opening: a pipeline batch asks ~140 times), only when the commit after
        the cached version exists (one stat; the update lists the whole log folder). The cached
        object is used only while the table's first commit file is the same file (same inode
        and mtime), so a table dropped and recreated, by this process or another, is opened
        afresh.
        """
        ident = _identity(location) if version is None else None
        cached = self._open.get(location)
        if ident is not None and cached is not None and cached[0] == ident:
            after = f"{int(cached[1].version()) + 1:020d}.json"
            if not os.path.exists(os.path.join(location, "_delta_log", after)):
                return cached[1]  # commits are put-if-absent: none since the cached version
            try:
                cached[1].update_incremental()
                return cached[1]
            except (DeltaError, OSError):
                self._open.pop(location, None)
        table = DeltaTable(location, version=version)
        if ident is not None:
            self._open[location] = (ident, table)
        return table

    def identity(self, full_name: str) -> tuple[int, int] | None:
        """(inode, mtime) of the table's first commit file: changes when the table is
        dropped and recreated at the same path (None when that file is absent)."""
        return _identity(str(self.path(full_name)))

    def schema(self, full_name: str) -> pa.Schema:
        return pa.schema(self.table(full_name).schema().to_arrow())

    def partition_columns(self, full_name: str) -> list[str]:
        return list(self.table(full_name).metadata().partition_columns)

    def version(self, full_name: str) -> int:
        return int(self.table(full_name).version())

    def to_arrow(self, full_name: str, version: int | None = None) -> pads.Dataset:
        """An Arrow dataset over the live files of one version (for DuckDB pushdown); for a
        version with deletion vectors, its live rows in memory (see `dataset_of`)."""
        return self.dataset_of(self.table(full_name, version))

    def dataset_of(self, table: DeltaTable) -> pads.Dataset:
        """delta-rs's Arrow dataset, or, when files carry deletion vectors (which it refuses),
        the live rows read by delta_read.py, in memory."""
        live = self.live_files(table)
        if live is None:
            return table.to_pyarrow_dataset()
        if not live.deleted():  # the feature is on, no file carries a vector: read lazily
            from lakecrew.adapters.local.delta_read import files_dataset

            self._plain_layout(table)
            schema = pa.schema(table.schema().to_arrow())
            return files_dataset(Path(_local(table.table_uri)), list(live.adds), schema)
        import pyarrow.dataset as pads

        return pads.dataset(self._masked(table, live))

    def live_files(self, table: DeltaTable, *, any_protocol: bool = False) -> LiveFiles | None:
        """The live files with their deletion vectors (deletion_vectors.py), for a version
        whose protocol allows them (or any, with ``any_protocol``); None otherwise. Replayed
        from the last version this store saw of the same table (same first commit file)."""
        if not any_protocol and FEATURE not in (table.protocol().reader_features or ()):
            return None
        location = _local(table.table_uri)
        ident, version = _identity(location), int(table.version())
        cached = self._live.get(location)
        known = cached[1] if cached is not None and cached[0] == ident else None
        live = LiveFiles.at(Path(location), version, known)
        if known is None or live.version >= known.version:
            self._live[location] = (ident, live)
        return live

    def scan(
        self,
        full_name: str,
        *,
        columns: Sequence[str] | None = None,
        filter: pads.Expression | None = None,
        filter_columns: Sequence[str] = (),
        version: int | None = None,
    ) -> pa.Table:
        """Rows of one version matching ``filter`` (whose columns ``filter_columns`` names):
        pushed down into delta-rs's dataset, or, with deletion vectors, applied after them."""
        table = self.table(full_name, version)
        live = self.live_files(table)
        wanted = list(columns) if columns else None
        if live is None or not live.deleted():
            return self.dataset_of(table).to_table(columns=wanted, filter=filter)
        return self._masked(
            table, live, columns=wanted, filter=filter, filter_columns=filter_columns
        )

    def _masked(self, table: DeltaTable, live: LiveFiles, **kwargs: Any) -> pa.Table:
        from lakecrew.adapters.local.delta_read import masked_read

        self._plain_layout(table)
        schema = pa.schema(table.schema().to_arrow())
        return masked_read(Path(_local(table.table_uri)), live, schema, **kwargs)

    @staticmethod
    def _plain_layout(table: DeltaTable) -> None:
        """Deletion-vector tables are read here only when unpartitioned, without column
        mapping (what this store writes); others are refused, not misread."""
        config = table.metadata().configuration or {}
        if table.metadata().partition_columns or config.get("delta.columnMapping.mode"):
            raise UsageError(
                "partitioned or column-mapped tables with deletion vectors are not read here",
                where=table.table_uri,
                fix="rewrite the table without deletion vectors (OPTIMIZE on Databricks)",
            )

    def read(
        self, full_name: str, version: int | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """Read a whole table (or some columns) into memory."""
        return self.scan(full_name, columns=columns, version=version)

    def history(self, full_name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Commit history, newest first (version, timestamp, operation, metrics, ...)."""
        return list(self.table(full_name).history(limit))

    # ---------------------------------------------------------------- writes

    def append(
        self,
        full_name: str,
        data: Data,
        *,
        merge_schema: bool = False,
        fence: Fence | None = None,
        file_bytes: int | None = None,
    ) -> WriteResult:
        """Append rows in one commit (retried on conflicts; under a `fence`, refused);
        `file_bytes` caps each data file's size (else delta-rs's default, 100 MiB)."""
        return self._write(
            full_name,
            data,
            mode="append",
            merge_schema=merge_schema,
            fence=fence,
            file_bytes=file_bytes,
        )

    def overwrite(
        self,
        full_name: str,
        data: Data,
        *,
        predicate: str | None = None,
        overwrite_schema: bool = False,
        fence: Fence | None = None,
    ) -> WriteResult:
        """Replace the table's rows (or those matching `predicate`) in one commit.

        `overwrite_schema=True` replaces the schema too (no type checks, a deliberate migration).
        """
        return self._write(
            full_name,
            data,
            mode="overwrite",
            predicate=predicate,
            replace=overwrite_schema,
            fence=fence,
        )

    def merge(
        self,
        full_name: str,
        data: pa.Table,
        keys: Sequence[str],
        *,
        merge_schema: bool = False,
        delete_missing: bool = False,
        fence: Fence | None = None,
    ) -> WriteResult:
        """Upsert `data` on `keys` (update matched rows, insert new ones) in one commit.

        `delete_missing=True` also deletes target rows whose keys are absent from `data`.
        Dictionary-encoded columns are decoded first (delta-rs's MERGE joins on plain values).
        Conflicts with concurrent commits are retried against the newest version.
        """
        if not keys:
            raise UsageError("merge needs at least one key column", where=full_name)
        current = self.schema(full_name)
        data = plain(data)
        schema = check_schema(full_name, current, data.schema, merge_schema=merge_schema)
        missing = [k for k in keys if k.lower() not in {n.lower() for n in schema.names}]
        if missing:
            raise UsageError(f"merge key(s) {missing} not in the data", where=full_name)
        check_nulls(full_name, current, data)
        table = conform(data, schema)
        dups = duplicate_keys(table, list(keys))
        if dups:
            raise DataError(
                f"{dups} merge key value(s) occur more than once in the source",
                where=f"{full_name} keys {list(keys)}",
                fix="deduplicate the source on the merge keys",
            )
        predicate = " AND ".join(f't."{k}" = s."{k}"' for k in keys)

        def run(target: DeltaTable, props: CommitProperties | None) -> dict[str, Any]:
            merger = target.merge(
                table,
                predicate=predicate,
                source_alias="s",
                target_alias="t",
                merge_schema=merge_schema,
                commit_properties=props,
            )
            merger = merger.when_matched_update_all().when_not_matched_insert_all()
            if delete_missing:
                merger = merger.when_not_matched_by_source_delete()
            return dict(merger.execute())

        metrics, attempts, version = self._retry(full_name, run, fence)
        return WriteResult(full_name, version, "MERGE", attempts, metrics)

    def delete(
        self, full_name: str, predicate: str | None = None, *, fence: Fence | None = None
    ) -> WriteResult:
        """Delete rows matching a Delta SQL predicate (all rows when None), retried."""

        def run(target: DeltaTable, props: CommitProperties | None) -> dict[str, Any]:
            return dict(target.delete(predicate, commit_properties=props))

        metrics, attempts, version = self._retry(full_name, run, fence)
        return WriteResult(full_name, version, "DELETE", attempts, metrics)

    # ---------------------------------------------------------------- internals

    def _write(
        self,
        full_name: str,
        data: Data,
        *,
        mode: Mode,
        merge_schema: bool = False,
        predicate: str | None = None,
        replace: bool = False,
        fence: Fence | None = None,
        file_bytes: int | None = None,
    ) -> WriteResult:
        target = self.schema(full_name)
        self.prepare_write(full_name, fence)
        if replace:
            schema = data.schema
        else:
            schema = check_schema(full_name, target, data.schema, merge_schema=merge_schema)
        if isinstance(data, pa.Table):
            check_nulls(full_name, target, data)
            payload: Callable[[], Data] = _const(conform(data, schema) if not replace else data)
        else:
            if replace:
                raise UsageError("overwrite_schema needs a pa.Table", where=full_name)
            errors: list[Exception] = []
            payload = _const(checked_reader(full_name, target, schema, data, errors))
            # A reader can only be consumed once: no retry on conflict.
            try:
                return self._commit_once(full_name, payload, mode, merge_schema, predicate, fence)
            except DataError:
                if errors:
                    raise errors[0] from None
                raise
        schema_mode: SchemaMode = "overwrite" if replace else ("merge" if merge_schema else None)

        def run(target: DeltaTable, props: CommitProperties | None) -> dict[str, Any]:
            # the kept-open table: given a path, write_deltalake would replay the whole log
            write_delta(target, payload(), mode, schema_mode, predicate, props, file_bytes)
            return {}

        _, attempts, version = self._retry(full_name, run, fence)
        return WriteResult(full_name, version, mode.upper(), attempts)

    def _commit_once(
        self,
        full_name: str,
        payload: Callable[[], Data],
        mode: Mode,
        merge_schema: bool,
        predicate: str | None,
        fence: Fence | None,
    ) -> WriteResult:
        fenced = fence is not None and fence.covers(full_name)
        try:
            schema_mode: SchemaMode = "merge" if merge_schema else None
            target = (
                fence.table(full_name, self.path(full_name), self.table(full_name))
                if fence and fenced
                else None
            )
            write_delta(
                target if target is not None else self.table(full_name),
                payload(),
                mode,
                schema_mode,
                predicate,
                fence.properties() if fence and fenced else None,
            )
        except CommitFailedError as exc:
            if fence is not None and fenced:
                raise fence.conflict(full_name) from exc
            raise Conflict(
                "a concurrent commit won; the streamed write was not committed",
                where=full_name,
                fix="rerun the write",
            ) from exc
        except DeltaError as exc:
            raise translate(full_name, exc) from exc
        if fence is not None and fenced:
            fence.adopt(full_name, self.path(full_name))
        return WriteResult(full_name, self.version(full_name), mode.upper())

    def protect(self, full_name: str) -> bool:
        """Keep the statistics of the table's PII columns (as classified now) out of its log,
        scrubbing those already there; True when anything changed (delta_stats.py)."""
        full_name = ".".join(parse_full_name(full_name))
        changed = enforce_stats(self.table(full_name), self.path(full_name), self._pii(full_name))
        return self._scrubbed(full_name, changed)

    def _scrubbed(self, full_name: str, changed: bool) -> bool:
        """After a scrub rewrote older commits, their replayed add actions are stale."""
        if changed:
            self._live.pop(str(self.path(full_name)), None)
        return changed

    def prepare_write(self, full_name: str, fence: Fence | None) -> None:
        """No PII statistics in the log (delta_stats.py); under a fence, on top of its version."""
        path = self.path(full_name)
        if fence is None or not fence.covers(full_name):
            changed = enforce_stats(self.table(full_name), path, self._pii(full_name))
            self._scrubbed(full_name, changed)
            return
        pii = self._pii(full_name)
        try:
            if enforce_stats(
                fence.table(full_name, path, self.table(full_name)),
                path,
                pii,
                props=fence.properties(),
            ):
                self._scrubbed(full_name, True)
                fence.adopt(full_name, path)
        except CommitFailedError as exc:
            raise fence.conflict(full_name) from exc

    def _retry(
        self, full_name: str, run: _Run, fence: Fence | None
    ) -> tuple[dict[str, Any], int, int]:
        """Run one commit, retried on conflicts; (its output, attempts, the version made).

        Each attempt writes through the live table brought up to date just before it; delta-rs
        moves that object to the version it commits, so the version is read from it (asking
        the store again would list the log once more, and could name another writer's)."""
        live = self.table(full_name)  # NotFound before anything else
        if fence is not None and fence.covers(full_name):
            path = self.path(full_name)
            try:  # one attempt on top of the fence's version: a conflict is another writer
                out = run(fence.table(full_name, path, live), fence.properties())
            except CommitFailedError as exc:
                raise fence.conflict(full_name) from exc
            except DeltaError as exc:
                raise translate(full_name, exc) from exc
            fence.adopt(full_name, path)
            return out, 1, self.version(full_name)
        for attempt in range(1, self.max_attempts + 1):
            try:
                out = run(live, None)
                return out, attempt, int(live.version())
            except CommitFailedError as exc:
                if attempt == self.max_attempts:
                    raise Conflict(
                        f"commit still conflicting after {attempt} attempts",
                        where=full_name,
                        fix="retry later; another writer keeps changing this table",
                    ) from exc
                cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                time.sleep(self._rng.uniform(0, cap))
                live = self.table(full_name)
            except DeltaError as exc:
                raise translate(full_name, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover


def _shape(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name.lower(), type_text(f.type)) for f in schema]


def _const(value: Data) -> Callable[[], Data]:
    return lambda: value


def _local(uri: str) -> str:
    """A table URI delta-rs reports (``file:///...`` or a path) as a local path."""
    from urllib.parse import unquote

    return str(Path(unquote(uri.removeprefix("file://")) if uri.startswith("file://") else uri))


def _identity(path: str) -> tuple[int, int] | None:
    """(inode, mtime) of a table's first commit file; None when it is absent."""
    try:
        st = os.stat(os.path.join(path, "_delta_log", "00000000000000000000.json"))
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)
