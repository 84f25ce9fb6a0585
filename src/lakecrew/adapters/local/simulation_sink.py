"""Write the simulator's output into a local project (workspace store, Delta, metastore)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import register
from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.core.system_tables import SYSTEM_TABLES
from lakecrew.ports.catalog import Grant, TableInfo
from lakecrew.ports.clock import Clock
from lakecrew.ports.workspace import ObjectKind, WorkspaceObject

Progress = Callable[[str, int, int], None]


class LocalSimulationSink:
    """The simulator's sink for the local backend.

    Workspace objects are bulk-loaded (not audited: they are the starting state, not changes);
    system tables are overwritten by their first batch and appended after; UC metadata goes to
    the metastore.
    """

    def __init__(
        self,
        layout: ProjectLayout,
        store: DeltaStore,
        metastore: SqliteMetastore,
        workspace_ids: Mapping[str, str],
        *,
        clock: Clock,
        on_progress: Progress | None = None,
    ) -> None:
        self.layout, self.store, self.metastore = layout, store, metastore
        self._ids = dict(workspace_ids)
        self._clock = clock
        self._on_progress = on_progress
        self._workspaces: dict[str, LocalWorkspace] = {}

    def _ws(self, name: str) -> LocalWorkspace:
        if name not in self._workspaces:

            def no_audit(row: dict[str, Any]) -> None:  # bulk loads are never audited
                raise AssertionError("the simulation sink never mutates workspaces")

            self._workspaces[name] = LocalWorkspace(
                name, self._ids.get(name, "0"), self.layout.workspace_db, no_audit, self._clock
            )
        return self._workspaces[name]

    def put_objects(self, workspace: str, kind: ObjectKind, objects: list[WorkspaceObject]) -> None:
        self._ws(workspace).put_many(kind, objects)

    def set_workspace_conf(self, workspace: str, conf: Mapping[str, str]) -> None:
        self._ws(workspace).load({}, dict(conf))

    def save_table(self, full_name: str, table: pa.Table, mode: str) -> None:
        if mode == "overwrite":
            self.store.overwrite(full_name, table)
        else:
            self.store.append(full_name, table)
        if full_name not in SYSTEM_TABLES:
            register(self.store, self.metastore, full_name, owner="lakecrew")

    def register_table_metadata(self, info: TableInfo) -> None:
        self.metastore.register_table(info)

    def grant(self, grant: Grant) -> None:
        self.metastore.grant(grant)

    def progress(self, step: str, done: int, total: int) -> None:
        if self._on_progress is not None:
            self._on_progress(step, done, total)

    def close(self) -> None:
        for ws in self._workspaces.values():
            ws.close()
