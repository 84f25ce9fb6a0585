"""In-memory simulation sinks: a real store for tests, and a counting null sink for benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from lakecrew.ports.catalog import Grant, TableInfo
from lakecrew.ports.workspace import ObjectKind, WorkspaceObject

if TYPE_CHECKING:
    from lakecrew.adapters.local.layout import ProjectLayout
    from lakecrew.adapters.local.metastore import SqliteMetastore
    from lakecrew.adapters.local.sql_engine import LocalSqlEngine


@dataclass
class MemorySink:
    """Keeps everything the simulator writes; tables are concatenated on read."""

    objects: dict[str, dict[ObjectKind, dict[str, WorkspaceObject]]] = field(default_factory=dict)
    conf: dict[str, dict[str, str]] = field(default_factory=dict)
    batches: dict[str, list[pa.Table]] = field(default_factory=dict)
    modes: dict[str, list[str]] = field(default_factory=dict)
    tables_meta: dict[str, TableInfo] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    steps: list[tuple[str, int, int]] = field(default_factory=list)

    def put_objects(self, workspace: str, kind: ObjectKind, objects: list[WorkspaceObject]) -> None:
        store = self.objects.setdefault(workspace, {}).setdefault(kind, {})
        for o in objects:
            store[o.object_id] = o

    def set_workspace_conf(self, workspace: str, conf: Mapping[str, str]) -> None:
        self.conf.setdefault(workspace, {}).update(conf)

    def save_table(self, full_name: str, table: pa.Table, mode: str) -> None:
        if mode not in ("overwrite", "append"):
            raise ValueError(f"unknown mode {mode!r}")
        if mode == "overwrite":
            self.batches[full_name] = []
        elif full_name not in self.batches:
            raise ValueError(f"append to {full_name} before any overwrite")
        self.batches[full_name].append(table)
        self.modes.setdefault(full_name, []).append(mode)

    def register_table_metadata(self, info: TableInfo) -> None:
        self.tables_meta[info.full_name] = info

    def grant(self, grant: Grant) -> None:
        self.grants.append(grant)

    def progress(self, step: str, done: int, total: int) -> None:
        self.steps.append((step, done, total))

    def table(self, full_name: str) -> pa.Table:
        """All batches of one table as a single table."""
        return pa.concat_tables(self.batches[full_name])

    def list(self, workspace: str, kind: ObjectKind) -> list[WorkspaceObject]:
        """The objects of one kind in one workspace, in insertion order."""
        return list(self.objects.get(workspace, {}).get(kind, {}).values())


@dataclass
class CountingSink:
    """Discards everything, counting objects and rows (for benchmarks)."""

    objects: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    max_batch_rows: int = 0

    def put_objects(self, workspace: str, kind: ObjectKind, objects: list[WorkspaceObject]) -> None:
        self.objects += len(objects)

    def set_workspace_conf(self, workspace: str, conf: Mapping[str, str]) -> None:
        return None

    def save_table(self, full_name: str, table: pa.Table, mode: str) -> None:
        self.rows[full_name] = self.rows.get(full_name, 0) + table.num_rows
        self.max_batch_rows = max(self.max_batch_rows, table.num_rows)

    def register_table_metadata(self, info: TableInfo) -> None:
        self.objects += 1

    def grant(self, grant: Grant) -> None:
        return None

    def progress(self, step: str, done: int, total: int) -> None:
        return None


@dataclass
class SystemTablesLakehouse:
    """A local project holding simulated system tables, with its SQL engine (close it)."""

    layout: ProjectLayout
    engine: LocalSqlEngine
    metastore: SqliteMetastore

    def close(self) -> None:
        self.engine.close()
        self.metastore.close()


def system_tables_lakehouse(sink: MemorySink, root: Path) -> SystemTablesLakehouse:
    """A local project at `root` holding the `system.*` tables `sink` received (what the FinOps
    tests and the anomaly benchmark price), opened for SQL."""
    from lakecrew.adapters.local.delta import DeltaStore
    from lakecrew.adapters.local.layout import ProjectLayout
    from lakecrew.adapters.local.metastore import SqliteMetastore
    from lakecrew.adapters.local.sql_engine import LocalSqlEngine
    from lakecrew.adapters.local.system_tables import ensure_system_tables

    layout = ProjectLayout(root).ensure()
    store = DeltaStore.for_project(layout)
    metastore = SqliteMetastore(layout.metastore_path)
    ensure_system_tables(store, metastore)
    for name in sink.batches:
        if name.startswith("system."):
            store.append(name, sink.table(name))
    return SystemTablesLakehouse(layout, LocalSqlEngine(store, metastore), metastore)
