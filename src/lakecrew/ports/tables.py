"""TableStore port: the table writes a pipeline needs (append, replace, merge, maintenance).

Every write is one atomic commit (Delta locally, Unity Catalog on Databricks), so a crash leaves
the previous version readable. ``replace`` with a ``where`` mapping replaces only the rows whose
columns equal the given values (``_batch_id = '...'``): the idempotent way to rewrite one batch.
Services see only Arrow tables and plain dataclasses; the local adapter is
``adapters/local/table_store.py`` over DeltaStore, the Databricks one
``adapters/databricks/table_store.py`` (Unity Catalog managed tables by name through a SQL
warehouse). Writes return the new table version; the Databricks adapter reads it (one more
statement) only for tables under ``one_writer`` and returns -1 for the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from lakecrew.ports.catalog import ColumnInfo


@dataclass(frozen=True)
class Maintenance:
    """What OPTIMIZE (compaction, z-order) and VACUUM did to one table."""

    table: str
    files_removed: int
    files_added: int
    zorder_by: tuple[str, ...]
    vacuumed_files: int
    retention_hours: int


@dataclass(frozen=True)
class RowChanges:
    """The rows a table lost and gained from version ``since`` to ``version`` (the chosen
    columns of them): what a change data feed gives, net of nothing (a row rewritten in place
    appears in both)."""

    removed: pa.Table
    added: pa.Table
    since: int
    version: int


class TableStore(Protocol):
    """Create, write, read and maintain tables by three-part name."""

    concurrent_tables: bool
    """Whether writes to *different* tables may run on different threads at once (each table
    still has one writer at a time): the bronze step then commits batch k+1 while the silver
    step writes batch k. False where the backend's session is not known to allow it."""

    def exists(self, full_name: str) -> bool: ...

    def one_writer(self, tables: Iterable[str], writer: str) -> AbstractContextManager[None]:
        """Commit-time check of one writer: within the block, a commit to one of ``tables``
        is made only on top of the version the table had when the block began (or this
        writer's own last commit); if another writer committed in between, ``Conflict`` and
        nothing of that write is visible. Complements the lock, which a writer on another
        machine or a file system without flock does not see."""
        ...

    def schema(self, full_name: str) -> pa.Schema | None:
        """The table's schema, or None when it does not exist."""
        ...

    def version(self, full_name: str) -> int | None:
        """The table's latest version (each commit adds one); None when it does not exist or
        the format keeps no versions."""
        ...

    def create(
        self,
        full_name: str,
        schema: pa.Schema,
        *,
        partition_by: Sequence[str] = (),
        stats_columns: Sequence[str] | None = None,
    ) -> None:
        """Create an empty table (no-op when it exists with compatible columns).

        ``stats_columns``: the only columns that get data-skipping statistics (None: the
        backend's default); a hint a backend may ignore, never a change of the rows."""
        ...

    def append(self, full_name: str, data: pa.Table, *, merge_schema: bool = False) -> int:
        """Append rows in one commit; returns the new version."""
        ...

    def replace(
        self,
        full_name: str,
        data: pa.Table,
        *,
        where: Mapping[str, str] | None = None,
        overwrite_schema: bool = False,
    ) -> int:
        """Replace all rows (or those matching ``where``) in one commit; returns the version."""
        ...

    def persist(self) -> None:
        """Save what lets the next process start where this one ended (the local store: its
        key indexes, each for the table version it describes); called after a successful run.
        Nothing where there is nothing to keep."""
        ...

    def persisting(self) -> AbstractContextManager[None]:
        """``persist`` begun now and finished by the end of the block, so that the block's work
        (a run's gold tables, once silver is committed) overlaps the writing; the block's end
        waits for it however the block ends. A no-op block where there is nothing to keep."""
        ...

    def prepare_keys(self, column: pa.ChunkedArray) -> None:
        """Pure work a later ``lookup`` or ``merge`` on these values of a one-column key
        needs, done now and on any thread (the local store hashes and sorts them while the
        previous batch is written); nothing where there is none."""
        ...

    def merge(self, full_name: str, data: pa.Table, keys: Sequence[str]) -> int:
        """Upsert on ``keys`` (new nullable columns are added); returns the version.

        An implementation may commit rows with new keys and rows with existing keys separately
        (at most two commits); re-running the same upsert after a crash gives the same table.
        """
        ...

    def read(
        self,
        full_name: str,
        columns: Sequence[str] | None = None,
        where: Mapping[str, str] | None = None,
    ) -> pa.Table:
        """Rows of the live version (optionally only those whose columns equal ``where``)."""
        ...

    def lookup(
        self, full_name: str, keys: Sequence[str], probe: pa.Table, columns: Sequence[str]
    ) -> pa.Table:
        """``columns`` of the rows whose ``keys`` equal those of a row of ``probe``.

        Rows with a null key part never match (as in MERGE). An absent table holds no rows.
        """
        ...

    def changes(
        self, full_name: str, since: int, columns: Sequence[str], limit: int
    ) -> RowChanges | str:
        """``columns`` of the rows removed and added since version ``since``, or why they
        cannot be told (one line: the store keeps no such record, the versions are gone,
        more than ``limit`` rows changed). Callers fall back to reading the whole table."""
        ...

    def deleted_rows(self, full_name: str) -> int:
        """Rows the live files still hold that deletion vectors mark deleted (they stay in
        storage, and in every scan, until ``maintain`` rewrites those files); 0 for a store
        that writes no deletion vectors of its own."""
        ...

    def compact(
        self, full_name: str, *, over_files: int, retention_hours: int = 168
    ) -> Maintenance | None:
        """``maintain`` (OPTIMIZE, VACUUM) when the live version holds more than ``over_files``
        data files, for tables appended to in small commits (run records); None when it holds
        fewer, when a concurrent writer won the commit (the next call tries again), or when
        the store compacts on its own."""
        ...

    def count(self, full_name: str) -> int:
        """Rows of the live version (from file metadata where the format keeps it)."""
        ...

    def distinct(self, full_name: str, column: str) -> list[str]:
        """Distinct non-null values of a text column of the live version, sorted (answered
        from file statistics where each file holds one value, as bronze's ``_batch_id``)."""
        ...

    def columns(self, full_name: str) -> tuple[ColumnInfo, ...]:
        """The table's columns with Databricks type names (for catalog registration)."""
        ...

    def protect(self, full_name: str) -> None:
        """Keep the storage log free of values of the columns the catalog classifies as PII
        (column statistics), rewriting those already there; call after classifying."""
        ...

    def location(self, full_name: str) -> str:
        """Storage location of the table (path or URL)."""
        ...

    def maintain(
        self, full_name: str, *, zorder_by: Sequence[str] = (), retention_hours: int = 168
    ) -> Maintenance:
        """OPTIMIZE (compact, z-order when given) then VACUUM older than the retention."""
        ...
