"""The ModelRegistry port on Databricks: workspace experiments (tracking URI `databricks`) and
the Unity Catalog registry (`databricks-uc`, three-part model names), through MLflow's own
Databricks clients; owners and experiment ACLs through the Databricks SDK.

MLflow's Databricks clients read credentials from the same profile / DATABRICKS_* environment as
the SDK (`DATABRICKS_CONFIG_PROFILE` is set from lakecrew.yaml's `auth_profile`).

Not done yet (said, not hidden): a Unity Catalog model's access is its UC grants — restricting
them on archive is refused with a clear error (the archive action then records `failed`), and this
adapter has no contract test against recorded REST payloads yet (MLflow's UC client speaks
`/api/2.0/mlflow/unity-catalog/*` and `/api/2.1/unity-catalog/models`, which the replay server
does not serve).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from lakecrew.adapters.mlflow.registry import MlflowRegistry
from lakecrew.core.errors import LakecrewError
from lakecrew.ports.models import Acl


class DatabricksAcl:
    """Experiment ACLs via the Permissions API; UC model grants are not handled here."""

    def __init__(self, workspace_client: Any) -> None:
        self.w = workspace_client

    def get(self, kind: str, object_id: str) -> tuple[Acl, ...] | None:
        if kind != "experiments":
            raise LakecrewError(
                "Unity Catalog model permissions are UC grants; lakecrew does not read them yet",
                fix="review the model's grants in Catalog Explorer",
            )
        perms = self.w.permissions.get("experiments", object_id)
        out = []
        for entry in perms.access_control_list or []:
            who = entry.user_name or entry.group_name or entry.service_principal_name or ""
            for p in entry.all_permissions or []:
                if not p.inherited:
                    level = p.permission_level.value if p.permission_level else ""
                    out.append(Acl(who, level))
        return tuple(out) or None

    def put(self, kind: str, object_id: str, acl: Sequence[Acl] | None) -> None:
        raise LakecrewError(
            f"changing {kind} permissions on Databricks is not implemented in lakecrew yet",
            fix="restrict access in the workspace UI or with `databricks permissions`",
        )


def databricks_registry(client: Any, *, workspace: str, profile: str | None) -> MlflowRegistry:
    """The registry of one `backend: databricks` workspace (client: adapters.databricks)."""
    if profile:
        os.environ.setdefault("DATABRICKS_CONFIG_PROFILE", profile)
    w = client.workspace_client()

    def owner_of(name: str) -> str | None:
        return str(w.registered_models.get(name).owner or "") or None

    return MlflowRegistry(
        "databricks",
        "databricks-uc",
        acl=DatabricksAcl(w),
        workspace=workspace,
        owner_of=owner_of,
    )
