"""Builders for `lakecrew policy apply` (composition root).

    from lakecrew.wiring.deploy import cluster_policies, workspaces_for_env
    for name in workspaces_for_env(ctx, "qa"):
        port = cluster_policies(ctx, name)   # Databricks SDK or the local store

`backend: databricks` workspaces get `DatabricksClusterPolicies` over the same SDK client the
Workspace adapter uses (host + auth_profile of lakecrew.yaml, credentials from the profile or
the DATABRICKS_* environment); `backend: local` ones get `LocalClusterPolicies` over the
project's local workspace store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakecrew.adapters.local.policy_store import LocalClusterPolicies
from lakecrew.core.errors import UsageError
from lakecrew.ports.policies import ClusterPolicies

if TYPE_CHECKING:
    from lakecrew.wiring.context import Context


def cluster_policies(ctx: Context, workspace: str) -> ClusterPolicies:
    """The ClusterPolicies port of one lakecrew.yaml workspace."""
    ws = ctx.config.workspace(workspace)
    if ws.backend == "databricks":
        from lakecrew.adapters.databricks import databricks_client
        from lakecrew.adapters.databricks.policies import DatabricksClusterPolicies

        return DatabricksClusterPolicies(ws.name, databricks_client(ws))
    return LocalClusterPolicies(ctx.local_workspace(workspace), clock=ctx.clock)


def workspaces_for_env(ctx: Context, env: str, workspace: str | None = None) -> list[str]:
    """`workspace` (checked to be of `env`), else every workspace of `env` in lakecrew.yaml."""
    if workspace is not None:
        ws = ctx.config.workspace(workspace)
        if ws.environment != env:
            raise UsageError(
                f"workspace {workspace!r} is a {ws.environment} workspace, not {env}",
                where="--workspace",
                fix=f"pass --env {ws.environment}, or a {env} workspace",
            )
        return [ws.name]
    names = [w.name for w in ctx.config.workspaces if w.environment == env]
    if not names:
        raise UsageError(
            f"lakecrew.yaml registers no {env} workspace",
            where=str(ctx.layout.config_path),
            fix="register one, or pick another --env",
        )
    return names
