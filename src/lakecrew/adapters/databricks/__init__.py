"""The Databricks backend: the ports of lakecrew over the real databricks-sdk (see README.md).

`databricks_workspace(ws_config)` is the entry point for the composition root.
"""

from __future__ import annotations

from typing import Any

from lakecrew.adapters.databricks.client import ClientOptions, DatabricksClient, build_client
from lakecrew.adapters.databricks.workspace import DatabricksWorkspace
from lakecrew.core.errors import ConfigError


def databricks_client(ws_config: Any, *, options: ClientOptions | None = None) -> DatabricksClient:
    """The SDK client of one `backend: databricks` workspace of lakecrew.yaml.

    `ws_config` is a services.estate.config.WorkspaceConfig (host, auth_profile); credentials come
    from the profile or the DATABRICKS_* environment, never from lakecrew.yaml.
    """
    if getattr(ws_config, "backend", None) != "databricks":
        raise ConfigError(
            f"workspace {ws_config.name!r} is not a databricks workspace",
            where=f"lakecrew.yaml workspace {ws_config.name}",
            fix="set backend: databricks with host and auth_profile",
        )
    options = options or options_for(ws_config)
    return build_client(host=ws_config.host, profile=ws_config.auth_profile, options=options)


def options_for(ws_config: Any) -> ClientOptions | None:
    """Client options of a lakecrew.yaml workspace (its `timeouts:`); None for the defaults."""
    t = getattr(ws_config, "timeouts", None)
    if t is None:
        return None
    return ClientOptions(
        retry_timeout_seconds=t.retry_timeout_seconds,
        retry_budget_seconds=t.retry_budget_seconds,
        connect_timeout_seconds=t.connect_timeout_seconds,
    )


def databricks_doctor(ws_config: Any) -> dict[str, Any]:
    """`lakecrew doctor` of one `backend: databricks` workspace, as plain data."""
    from lakecrew.adapters.databricks.doctor import Check, Diagnosis, diagnose
    from lakecrew.core.errors import LakecrewError

    try:
        client = databricks_client(ws_config)
    except LakecrewError as exc:  # unreachable host, no usable auth: one failed check
        diag = Diagnosis(ws_config.name, "databricks", ws_config.host)
        diag.fatal = Check("connect", False, exc.what, type(exc).__name__, exc.fix)
        return diag.as_dict()
    return diagnose(ws_config.name, client, getattr(ws_config, "warehouse_id", None)).as_dict()


def databricks_sql(workspace: Any, warehouse_id: str) -> Any:
    """The SqlEngine of a Databricks workspace: Statement Execution on `warehouse_id`, over the
    workspace's own client (one retry budget, one reachability state)."""
    from lakecrew.adapters.databricks.sql import DatabricksSqlEngine

    return DatabricksSqlEngine(workspace.client, warehouse_id)


def databricks_catalog(workspace: Any, warehouse_id: str) -> Any:
    """Unity Catalog of a Databricks workspace (Catalog, Grants, MaskFunctions, Lineage ports):
    the SDK on the workspace's own client, SQL (tags, comments, masks) on `warehouse_id`."""
    from lakecrew.adapters.databricks.catalog import DatabricksCatalog
    from lakecrew.adapters.databricks.sql import DatabricksSqlEngine

    return DatabricksCatalog(workspace.client, DatabricksSqlEngine(workspace.client, warehouse_id))


def databricks_workspace(
    ws_config: Any, *, options: ClientOptions | None = None
) -> DatabricksWorkspace:
    """The Workspace port of one `backend: databricks` workspace of lakecrew.yaml."""
    return DatabricksWorkspace(ws_config.name, databricks_client(ws_config, options=options))


__all__ = [
    "ClientOptions",
    "DatabricksWorkspace",
    "databricks_catalog",
    "databricks_client",
    "databricks_doctor",
    "databricks_sql",
    "databricks_workspace",
    "options_for",
]
