"""ClusterPolicies port: list, create and edit the cluster policies of one workspace.

Policies cross this port as REST-shaped dicts (`policy_id`, `name`, `definition` — a JSON
*string*, as the cluster-policies API stores it — `description`, ...), so
`databricks.sdk.service.compute.Policy.from_dict(p)` parses them. Adapters:
`adapters/databricks/policies.py` (the SDK's `cluster_policies` service) and
`adapters/local/policy_store.py` (ObjectKind.CLUSTER_POLICY objects of the local workspace store).
"""

from __future__ import annotations

from typing import Any, Protocol


class ClusterPolicies(Protocol):
    """The cluster policies of one workspace (`name` is its lakecrew.yaml name)."""

    name: str

    def list(self) -> list[dict[str, Any]]:
        """Every policy of the workspace, REST-shaped (definition as a JSON string)."""
        ...

    def create(self, *, name: str, definition: str, description: str) -> str:
        """Create a policy; returns its new policy_id (Conflict when the name is taken)."""
        ...

    def edit(
        self,
        policy_id: str,
        *,
        name: str,
        definition: str,
        description: str,
        max_clusters_per_user: int | None = None,
    ) -> None:
        """Replace a policy's name, definition and description (the API's edit is a replace,
        so fields to keep — max_clusters_per_user — are sent again)."""
        ...
