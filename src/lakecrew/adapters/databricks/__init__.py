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
    if options is None and getattr(ws_config, "timeouts", None) is not None:
        t = ws_config.timeouts
        options = ClientOptions(
            retry_timeout_seconds=t.retry_timeout_seconds,
            retry_budget_seconds=t.retry_budget_seconds,
            connect_timeout_seconds=t.connect_timeout_seconds,
        )
    return build_client(host=ws_config.host, profile=ws_config.auth_profile, options=options)


def databricks_workspace(
    ws_config: Any, *, options: ClientOptions | None = None
) -> DatabricksWorkspace:
    """The Workspace port of one `backend: databricks` workspace of lakecrew.yaml."""
    return DatabricksWorkspace(ws_config.name, databricks_client(ws_config, options=options))


__all__ = ["ClientOptions", "DatabricksWorkspace", "databricks_client", "databricks_workspace"]
