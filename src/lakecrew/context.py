"""The composition root: the one place that builds adapters for a configured estate.

Faces (CLI, later web) call `Context.open(project_dir)` and reach every service through it; tests
build a Context on a temporary project. Services never import this module.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.importers import read_parquet, sdk_record_check
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.adapters.local.system_tables import ensure_system_tables
from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.core.errors import NotFound, UsageError
from lakecrew.core.system_tables import ACCESS_AUDIT, ROW_KEYS
from lakecrew.ports.clock import Clock, SystemClock
from lakecrew.ports.workspace import Workspace
from lakecrew.services.estate.config import EstateConfig, load_estate
from lakecrew.services.estate.importer import import_workspace

AUDIT_TABLE = "system.access.audit"


class Context:
    """Everything a command needs for one local project, built lazily."""

    def __init__(
        self,
        layout: ProjectLayout,
        config: EstateConfig,
        *,
        writable: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self.layout = layout
        self.config = config
        self.writable = writable
        self.clock: Clock = clock or SystemClock()
        self._workspaces: dict[str, Workspace] = {}

    @classmethod
    def open(
        cls,
        project_dir: Path,
        *,
        writable: bool = False,
        clock: Clock | None = None,
        require_approved: bool = False,
    ) -> Context:
        """Load `<project_dir>/lakecrew.yaml` and prepare the local backend of the project."""
        layout = ProjectLayout(Path(project_dir).resolve())
        if not layout.config_path.exists():
            raise UsageError(
                "no lakecrew.yaml in this project",
                where=str(layout.root),
                fix="run `lakecrew init` here, or pass --project DIR",
            )
        config = load_estate(layout.config_path, require_approved=require_approved)
        layout.ensure()
        ctx = cls(layout, config, writable=writable, clock=clock)
        if writable:
            ensure_system_tables(ctx.store, ctx.metastore)
        return ctx

    # ------------------------------------------------------------------ lakehouse

    @cached_property
    def store(self) -> DeltaStore:
        return DeltaStore.for_project(self.layout)

    @cached_property
    def metastore(self) -> SqliteMetastore:
        return SqliteMetastore(self.layout.metastore_path, clock=self.clock)

    @cached_property
    def sql(self) -> LocalSqlEngine:
        """The SQL engine; read-only unless the context was opened writable."""
        return LocalSqlEngine(self.store, self.metastore, writable=self.writable)

    def ensure_system_tables(self) -> None:
        ensure_system_tables(self.store, self.metastore)

    # ------------------------------------------------------------------ workspaces

    def workspace(self, name: str) -> Workspace:
        """The Workspace port of one inventory workspace (local store or the Databricks SDK)."""
        if name in self._workspaces:
            return self._workspaces[name]
        ws = self.config.workspace(name)
        if ws.backend == "databricks":
            from lakecrew.adapters.databricks import databricks_workspace
            from lakecrew.services.estate.auth_check import check_workspace_auth

            check_workspace_auth(ws.name, ws.host, ws.auth_profile)  # offline, one line
            remote = databricks_workspace(ws)
            self._workspaces[name] = remote
            return remote
        return self.local_workspace(name)

    def local_workspace(self, name: str) -> LocalWorkspace:
        """The local store of one inventory workspace (refused for a databricks workspace)."""
        existing = self._workspaces.get(name)
        if isinstance(existing, LocalWorkspace):
            return existing
        ws = self.config.workspace(name)
        if ws.backend != "local":
            raise UsageError(
                f"workspace {name!r} is a databricks workspace, not a local one",
                where=f"lakecrew.yaml workspace {name}",
                fix="import its exports into a local workspace with `lakecrew estate import`",
            )
        if not ws.workspace_id:
            raise NotFound(
                f"workspace {name!r} has no workspace_id",
                where="lakecrew.yaml",
                fix="add workspace_id (the numeric id of the workspace)",
            )
        local = LocalWorkspace(
            name,
            ws.workspace_id,
            self.layout.workspace_db,
            self._audit_sink(),
            self.clock,
        )
        self._workspaces[name] = local
        return local

    def local_workspaces(self) -> list[str]:
        return [w.name for w in self.config.workspaces if w.backend == "local"]

    def _audit_sink(self) -> Callable[[dict[str, Any]], None]:
        store = self.store

        def sink(row: dict[str, Any]) -> None:
            if not store.exists(AUDIT_TABLE):
                ensure_system_tables(store, self.metastore)
            store.append(AUDIT_TABLE, pa.Table.from_pylist([row], schema=ACCESS_AUDIT))

        return sink

    # ------------------------------------------------------------------ use cases

    def save_system_rows(self, full_name: str, table: pa.Table, mode: str = "append") -> None:
        """Write imported rows: upsert on the table's row identity so re-imports are idempotent."""
        keys = ROW_KEYS.get(full_name)
        if mode == "overwrite":
            self.store.overwrite(full_name, table)
        elif keys and self.store.exists(full_name):
            self.store.merge(full_name, table, keys, merge_schema=True)
        else:
            self.store.append(full_name, table, merge_schema=True)

    def import_workspace(
        self, workspace: str, path: Path, *, on_progress: Callable[[int, int], None] | None = None
    ) -> dict[str, Any]:
        """`lakecrew estate import`: load a real workspace's exports into the local backend."""
        report = import_workspace(
            self.local_workspace(workspace),
            self.save_system_rows,
            Path(path),
            workspace,
            check_record=sdk_record_check,
            read_parquet=read_parquet,
            on_progress=on_progress,
        )
        return report.as_dict()

    def close(self) -> None:
        if "sql" in self.__dict__:
            self.sql.close()
        for ws in self._workspaces.values():
            close = getattr(ws, "close", None)
            if close:
                close()
        if "metastore" in self.__dict__:
            self.metastore.close()
