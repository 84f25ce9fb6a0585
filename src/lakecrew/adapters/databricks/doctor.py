"""`lakecrew doctor` for one Databricks workspace: what answers, what is missing, and why.

Every check is a real, read-only call through the SDK (first page of each listing, the workspace
conf, the SQL warehouse, `SELECT * FROM <system table> LIMIT 0` per system table). Nothing is
started or changed: a stopped warehouse is reported, not started (starting it costs money).
The result is plain data (`as_dict`); credentials never appear in it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lakecrew.adapters.databricks.client import DatabricksClient
from lakecrew.adapters.databricks.errors import clean_message
from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
from lakecrew.adapters.databricks.workspace import DatabricksWorkspace
from lakecrew.core.errors import (
    LakecrewError,
    PartialListing,
    PermissionDenied,
    TableMissing,
    Unavailable,
)
from lakecrew.core.system_needs import SYSTEM_TABLE_USES
from lakecrew.ports.workspace import ObjectKind

CONF_KEYS = ("enableVerboseAuditLogs", "enableIpAccessLists", "enableTokensConfig")
LISTED = (
    ObjectKind.CLUSTER,
    ObjectKind.CLUSTER_POLICY,
    ObjectKind.JOB,
    ObjectKind.WAREHOUSE,
    ObjectKind.INSTANCE_POOL,
    ObjectKind.SECRET_SCOPE,
    ObjectKind.SECRET_ACL,
)


@dataclass
class Check:
    """One probe: what was asked, whether it answered, and if not why and what to do."""

    name: str
    ok: bool
    detail: str = ""
    cause: str | None = None
    fix: str | None = None


@dataclass
class Diagnosis:
    """Everything `lakecrew doctor` learned about one workspace."""

    workspace: str
    backend: str
    host: str | None = None
    auth_type: str | None = None
    sdk_version: str | None = None
    identity: str | None = None
    apis: list[Check] = field(default_factory=list)
    warehouse: Check | None = None
    system_tables: list[Check] = field(default_factory=list)
    fatal: Check | None = None

    @property
    def problems(self) -> int:
        checks = [*self.apis, *self.system_tables, self.warehouse, self.fatal]
        return sum(1 for c in checks if c is not None and not c.ok)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["problems"] = self.problems
        return out


def _failed(name: str, err: LakecrewError, cause: str | None = None) -> Check:
    return Check(name, False, err.what, cause or getattr(err, "cause", None), err.fix)


def diagnose(name: str, client: DatabricksClient, warehouse_id: str | None) -> Diagnosis:
    """Probe one workspace through `client` (and its SQL warehouse, when one is configured)."""
    from databricks.sdk.version import __version__

    diag = Diagnosis(name, "databricks", client.host, client.config.auth_type, __version__)
    try:
        me = client.workspace_client().current_user.me()
        diag.identity = me.user_name or me.display_name or me.id
    except Exception as exc:  # noqa: BLE001 - reported, the other checks still run
        diag.apis.append(Check("current_user.me", False, clean_message(exc), "failed"))
    ws = DatabricksWorkspace(name, client, page_size=1)
    for kind in LISTED:
        diag.apis.append(_probe_listing(ws, kind))
    try:
        ws.workspace_conf(CONF_KEYS)
        diag.apis.append(Check("workspace_conf.get_status", True, "readable"))
    except Unavailable as exc:
        diag.apis.append(_failed("workspace_conf.get_status", exc))
    diag.warehouse, engine = _probe_warehouse(client, warehouse_id)
    for table, uses in SYSTEM_TABLE_USES.items():
        diag.system_tables.append(_probe_table(engine, table, uses, diag.warehouse))
    return diag


def _probe_listing(ws: DatabricksWorkspace, kind: ObjectKind) -> Check:
    api = f"{kind.value}.list"
    try:
        for _ in ws.list(kind):
            break  # the first page answered
        return Check(api, True, "answers")
    except PartialListing as exc:
        return Check(exc.api or api, False, exc.what, exc.cause, exc.fix)


def _probe_warehouse(
    client: DatabricksClient, warehouse_id: str | None
) -> tuple[Check, DatabricksSqlEngine | None]:
    if not warehouse_id:
        return Check(
            "warehouse",
            False,
            "no warehouse_id in lakecrew.yaml: system tables and Unity Catalog metadata "
            "cannot be read",
            "not_configured",
            "add warehouse_id: <id of a SQL warehouse> to this workspace in lakecrew.yaml",
        ), None
    try:
        wh = client.warehouses.get(warehouse_id)
    except Exception as exc:  # noqa: BLE001 - reported as one line
        return Check(f"warehouse {warehouse_id}", False, clean_message(exc), "failed"), None
    state = wh.state.value if wh.state else "UNKNOWN"
    label = f"warehouse {wh.name or warehouse_id} ({warehouse_id})"
    if state != "RUNNING":
        return Check(
            label,
            False,
            f"{state}: system tables were not checked (doctor does not start warehouses)",
            "stopped",
            "start it (UI or `databricks warehouses start`), then rerun lakecrew doctor",
        ), None
    engine = DatabricksSqlEngine(client, warehouse_id, wait_timeout_seconds=10)
    return Check(label, True, "RUNNING"), engine


def _probe_table(
    engine: DatabricksSqlEngine | None, table: str, uses: str, warehouse: Check | None
) -> Check:
    if engine is None:
        why = warehouse.detail if warehouse is not None else "no warehouse"
        return Check(table, False, f"not checked ({why}); hides: {uses}", "not_checked")
    try:
        engine.fetch(f"SELECT * FROM {table} LIMIT 0")
        return Check(table, True, "readable")
    except TableMissing:
        return Check(
            table,
            False,
            f"not enabled or not present; hides: {uses}",
            "not_enabled",
            "an account admin enables the system schema (`databricks system-schemas enable`)",
        )
    except PermissionDenied:
        return Check(
            table,
            False,
            f"not granted; hides: {uses}",
            "permission",
            f"GRANT USE CATALOG ON CATALOG system, USE SCHEMA and SELECT on {table}",
        )
    except LakecrewError as exc:
        return Check(table, False, f"{exc.what}; hides: {uses}", "failed", exc.fix)
