"""ClusterPolicies port over the SDK's `cluster_policies` service (list / create / edit).

Every call goes through `guarded`, so SDK errors arrive as lakecrew errors naming the call and the
permission it needs (creating and editing policies is for workspace admins).
"""

from __future__ import annotations

from typing import Any

from lakecrew.adapters.databricks.client import DatabricksClient, guarded


class DatabricksClusterPolicies:
    """The cluster policies of one Databricks workspace."""

    def __init__(self, name: str, client: DatabricksClient) -> None:
        self.name = name
        self.client = client

    def _where(self, policy: str | None = None) -> str:
        where = f"databricks workspace {self.name} ({self.client.host})"
        return f"{where}, cluster policy {policy}" if policy else where

    def list(self) -> list[dict[str, Any]]:
        """Every policy, REST-shaped (`Policy.as_dict()`: definition stays a JSON string)."""
        policies = guarded(
            lambda: list(self.client.cluster_policies.list()),
            where=self._where(),
            action="cluster_policies.list",
        )
        return [p.as_dict() for p in policies]

    def create(self, *, name: str, definition: str, description: str) -> str:
        """cluster_policies.create; returns the new policy_id."""
        response = guarded(
            lambda: self.client.cluster_policies.create(
                name=name, definition=definition, description=description
            ),
            where=self._where(name),
            action="cluster_policies.create",
        )
        return str(response.policy_id)

    def edit(
        self,
        policy_id: str,
        *,
        name: str,
        definition: str,
        description: str,
        max_clusters_per_user: int | None = None,
    ) -> None:
        """cluster_policies.edit (a full replace: name, definition, description, limit)."""
        guarded(
            lambda: self.client.cluster_policies.edit(
                policy_id,
                name=name,
                definition=definition,
                description=description,
                max_clusters_per_user=max_clusters_per_user,
            ),
            where=self._where(f"{name} ({policy_id})"),
            action="cluster_policies.edit",
        )
