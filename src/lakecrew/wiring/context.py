"""The composition root: the one place that builds adapters and services for a project.

    with Context.open(project_dir, writable=True) as ctx:
        ctx.crew.sweep(...)            # services are cached like the adapters they are built on

Faces (CLI, later web), the demo, benchmarks and tests open a Context and reach every service
through it; `close()` (or leaving the `with` block) closes the SQL engine, the metastore and the
workspace stores. Every part is a cached property: a test replaces one before first use with
`ctx.replace(notifier=MemoryChannel())` (as ucx's GlobalContext does). Services never import
this package.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.core.errors import NotFound, PermissionDenied, UsageError
from lakecrew.ports.clock import Clock, SystemClock
from lakecrew.ports.workspace import Workspace
from lakecrew.services.estate.config import EstateConfig, WorkspaceConfig, load_estate

if TYPE_CHECKING:
    from lakecrew.adapters.local.delta import DeltaStore
    from lakecrew.adapters.local.metastore import SqliteMetastore
    from lakecrew.adapters.local.secrets import LocalSecretStore
    from lakecrew.adapters.local.sql_engine import LocalSqlEngine
    from lakecrew.adapters.local.workspace_store import LocalWorkspace
    from lakecrew.core.pack import Pack
    from lakecrew.ports.identity import LogDeliveryReader
    from lakecrew.ports.ledger import LedgerStore
    from lakecrew.ports.lock import WorkspaceLocks
    from lakecrew.ports.notify import Notifier
    from lakecrew.ports.sql import SqlEngine
    from lakecrew.ports.tickets import TicketSystem
    from lakecrew.services.crew.observer import EstateCatalog, Observer
    from lakecrew.services.crew.plan import CrewSettings
    from lakecrew.services.crew.service import CrewService
    from lakecrew.services.crew.sweep import CrewDeps
    from lakecrew.services.notify.pipeline import AlertPipeline

AUDIT_TABLE = "system.access.audit"


class Context:
    """Everything a command needs for one local project, built lazily and cached."""

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
        self._remote_sql: dict[str, SqlEngine | None] = {}

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
        root = layout.root
        if not layout.config_path.exists():
            raise UsageError(
                "no lakecrew.yaml in this project",
                where=str(layout.root),
                fix="run `lakecrew init` here, or pass --project DIR",
            )
        config = load_estate(layout.config_path, require_approved=require_approved)
        if writable and not _can_write(layout.state_dir if layout.state_dir.exists() else root):
            raise PermissionDenied(
                "the project folder is read-only and this command writes to it",
                where=str(layout.state_dir),
                fix="run it on a writable copy of the project; read-only commands (sql, "
                "findings, actions, estate validate) work here",
            )
        layout.ensure()
        ctx = cls(layout, config, writable=writable, clock=clock)
        if writable:
            ctx.ensure_system_tables()
        return ctx

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def replace(self, **parts: Any) -> Self:
        """Replace cached parts before first use (tests): `ctx.replace(notifier=channel)`."""
        for name, value in parts.items():
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise UsageError(f"{name!r} is not a replaceable part of the Context")
            self.__dict__[name] = value
        return self

    # ------------------------------------------------------------------ lakehouse

    @cached_property
    def store(self) -> DeltaStore:
        from lakecrew.adapters.local.delta import DeltaStore

        return DeltaStore.for_project(self.layout, pii_columns=self.classified_pii)

    def classified_pii(self, full_name: str) -> set[str]:
        """Columns of a table the metastore classifies as PII (tag `pii`); none if unknown.
        Its own short read-only connection: writes may run on a worker thread (bronze)."""
        from lakecrew.adapters.local.delta_stats import classified
        from lakecrew.adapters.local.metastore import SqliteMetastore

        if not self.layout.metastore_path.exists():
            return set()
        reader = SqliteMetastore(self.layout.metastore_path, read_only=True)
        try:
            info = reader.get_table(full_name)
        except NotFound:
            return set()
        finally:
            reader.close()
        return classified({c.name: c.tags for c in info.columns})

    @cached_property
    def metastore(self) -> SqliteMetastore:
        from lakecrew.adapters.local.metastore import SqliteMetastore

        return SqliteMetastore(
            self.layout.metastore_path,
            clock=self.clock,
            # a read-only folder (mount, permissions): opened without writing anything
            read_only=not self.writable and not _can_write(self.layout.state_dir),
            external_locations=self.config.lakehouse.external_locations,
        )

    @cached_property
    def sql(self) -> LocalSqlEngine:
        """The SQL engine; read-only unless the context was opened writable."""
        from lakecrew.adapters.local.sql_engine import LocalSqlEngine

        return LocalSqlEngine(self.store, self.metastore, writable=self.writable)

    @cached_property
    def secrets(self) -> LocalSecretStore:
        """The project's local secret store."""
        from lakecrew.adapters.local.secrets import LocalSecretStore

        return LocalSecretStore(self.layout.state_dir / "secrets")

    def ensure_system_tables(self) -> None:
        from lakecrew.adapters.local.system_tables import ensure_system_tables

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

    def workspace_sql(self, name: str) -> SqlEngine | None:
        """The SQL engine holding one workspace's system tables: the project's local engine, or
        for a databricks workspace the Statement Execution API on its `warehouse_id` (system
        tables read in place); None for a databricks workspace without a warehouse."""
        ws = self.config.workspace(name)
        if ws.backend != "databricks":
            return self.sql
        if name not in self._remote_sql:
            engine = None
            if ws.warehouse_id:
                from lakecrew.adapters.databricks import databricks_sql

                engine = databricks_sql(self.workspace(name), ws.warehouse_id)
            self._remote_sql[name] = engine
        return self._remote_sql[name]

    def billing_sql(self, source: str = "auto") -> tuple[SqlEngine, str]:
        """The SQL engine holding the account's billing system tables, and a line saying which.

        `local`: the project's engine (the simulator's tables or imported exports). `warehouse`:
        the Statement Execution API on the first `backend: databricks` workspace (inventory
        order) with a `warehouse_id` — system.billing tables are account-wide, so one warehouse
        reads every workspace's spend in place. `auto`: a warehouse when one is configured,
        else local.
        """
        if source not in ("auto", "local", "warehouse"):
            raise UsageError(
                f"unknown billing source {source!r}", fix="use auto, local or warehouse"
            )
        remote = self.warehouse_workspaces()
        if source == "local" or (source == "auto" and not remote):
            return self.sql, "local system tables (simulated or imported)"
        if not remote:
            raise UsageError(
                "no databricks workspace in lakecrew.yaml has a warehouse_id",
                where="lakecrew.yaml",
                fix="add warehouse_id to a databricks workspace, or use --source local after "
                "`lakecrew estate import`",
            )
        from lakecrew.services.finops.prices import ListPriceFallback

        ws = remote[0]
        engine = self.workspace_sql(ws.name)
        assert engine is not None  # a databricks workspace with a warehouse_id has one
        # an older list_prices without pricing.effective_list is priced at pricing.default,
        # said in meta.billing_source (finops/prices.with_price_note)
        where = f"system tables in place on SQL warehouse {ws.warehouse_id} ({ws.name})"
        return ListPriceFallback(engine), where

    @cached_property
    def log_delivery(self) -> LogDeliveryReader | None:
        """The account's log delivery configurations (lakecrew.yaml `account:`), read once per
        context through the SDK's account API; None without an `account:` section."""
        if self.config.account is None:
            return None
        from lakecrew.adapters.databricks.account import AccountLogDelivery

        return AccountLogDelivery(self.config.account)

    def warehouse_workspaces(self) -> list[WorkspaceConfig]:
        """The `backend: databricks` workspaces with a `warehouse_id`, in inventory order; the
        first is the one whose Unity Catalog and system tables the estate is read from."""
        return [w for w in self.config.workspaces if w.backend == "databricks" and w.warehouse_id]

    def estate_uc(self) -> EstateCatalog:
        """What the estate scope judges: the Unity Catalog and the account-wide system tables.

        With a `backend: databricks` workspace that has a `warehouse_id` (the first, as for
        billing) they are that workspace's: tables listed through UC REST, tags and grants
        from system.information_schema and system tables on its warehouse — the metastore is
        shared by the workspaces attached to it. Otherwise the project's metastore and engine.
        """
        from lakecrew.services.crew.observer import EstateCatalog

        remote = self.warehouse_workspaces()
        if not remote:
            return EstateCatalog(self.metastore, self.metastore, self.sql, "")
        from lakecrew.adapters.databricks import databricks_catalog

        ws, warehouse = remote[0], str(remote[0].warehouse_id)
        sql = self.workspace_sql(ws.name)
        catalog = databricks_catalog(self.workspace(ws.name), warehouse)
        where = f"Unity Catalog of {ws.name} (information_schema on warehouse {warehouse})"
        return EstateCatalog(catalog, catalog, sql, where)

    def local_workspace(self, name: str) -> LocalWorkspace:
        """The local store of one inventory workspace (refused for a databricks workspace)."""
        from lakecrew.adapters.local.workspace_store import LocalWorkspace

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
        import pyarrow as pa

        from lakecrew.core.system_tables import ACCESS_AUDIT

        store = self.store

        def sink(row: dict[str, Any]) -> None:
            if not store.exists(AUDIT_TABLE):
                self.ensure_system_tables()
            store.append(AUDIT_TABLE, pa.Table.from_pylist([row], schema=ACCESS_AUDIT))

        return sink

    # ------------------------------------------------------------------ crew

    @cached_property
    def pack(self) -> Pack:
        """The SOP pack of the project (default pack, plus lakecrew.yaml's `sop_pack` overlay)."""
        from lakecrew.services.policy.loader import DEFAULT_PACK, load_pack

        overlay = self.config.sop_pack_path(self.layout.root)
        sources = (DEFAULT_PACK,) if overlay is None else (DEFAULT_PACK, overlay)
        return load_pack(sources).pack

    @cached_property
    def crew_settings(self) -> CrewSettings:
        """CrewSettings from lakecrew.yaml's `crew:` section (its defaults = the code's)."""
        from lakecrew.services.crew.plan import CrewSettings

        c = self.config.crew
        return CrewSettings(
            max_actions=c.max_actions,
            max_percent=c.max_percent,
            grace_hours={str(k): v for k, v in c.grace_hours.items()},
            ticket_min_severity=c.ticket_min_severity,
            approvals_required_for=frozenset(c.approvals_required_for),
            observe_chunk=c.sweep_batch,
            result_items=c.result_items,
        )

    @cached_property
    def ledger(self) -> LedgerStore:
        from lakecrew.adapters.local.ledger_store import DeltaLedgerStore

        return DeltaLedgerStore(self.store, self.metastore)

    @cached_property
    def notifier(self) -> Notifier:
        """Notifications as JSON lines in `.lakecrew/outbox/notifications.jsonl`."""
        from lakecrew.adapters.local.channels import FileChannel

        return FileChannel(self.layout.state_dir / "outbox" / "notifications.jsonl")

    @cached_property
    def tickets(self) -> TicketSystem:
        from lakecrew.adapters.local.ticket_store import LocalTicketStore
        from lakecrew.wiring.notify import routed_tickets

        return routed_tickets(self, LocalTicketStore(self.layout.state_dir / "tickets.db"))

    @cached_property
    def alerts(self) -> AlertPipeline | None:
        """Routed alerts through the durable outbox (`.lakecrew/outbox.db`); None without a
        `notifications:` section in lakecrew.yaml."""
        from lakecrew.wiring.notify import alert_pipeline

        return alert_pipeline(self)

    @cached_property
    def locks(self) -> WorkspaceLocks:
        from lakecrew.adapters.local.lock import FileLocks

        return FileLocks(self.layout.locks_dir)

    @cached_property
    def observer(self) -> Observer:
        """The Observer with the security monitor, cost anomalies and budgets plugged in."""
        from lakecrew.wiring.crew import build_observer

        return build_observer(self, self.pack)

    @cached_property
    def crew_deps(self) -> CrewDeps:
        from lakecrew.services.crew.sweep import CrewDeps
        from lakecrew.services.policy.engine import Engine

        return CrewDeps(
            pack=self.pack,
            engine=Engine(self.pack),
            ledger=self.ledger,
            notifier=self.notifier,
            tickets=self.tickets,
            locks=self.locks,
            observer=self.observer,
            clock=self.clock,
            settings=self.crew_settings,
            alerts=self.alerts,
        )

    @cached_property
    def crew(self) -> CrewService:
        """The crew's use cases for this project (sweep, findings, actions, rollback, …)."""
        from lakecrew.services.crew.service import CrewService

        return CrewService(self.crew_deps)

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Close what was opened (SQL engine, workspace stores, tickets, metastore); idempotent."""
        parts = [self.__dict__.pop("sql", None)]
        parts += list(self._workspaces.values())
        self._workspaces.clear()
        parts += [self.__dict__.pop("tickets", None), self.__dict__.pop("metastore", None)]
        for part in parts:
            close = getattr(part, "close", None)
            if close is not None:
                close()


def _can_write(folder: Path) -> bool:
    """Whether this process may create files in `folder` (False on a read-only mount)."""
    return os.access(folder, os.W_OK | os.X_OK)
