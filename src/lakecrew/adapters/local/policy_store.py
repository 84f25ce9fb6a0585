"""ClusterPolicies port over the local workspace store: ObjectKind.CLUSTER_POLICY objects.

Policies are kept REST-shaped (`policy_id`, `name`, `definition` as a JSON string,
`description`, `created_at_timestamp`, `creator_user_name`) in the same SQLite store as the
workspace's clusters and jobs, so `lakecrew sweep` and exports see them like any other object.
Writes go through `LocalWorkspace.put_many` (one transaction each; the bulk path, not audited).
"""

from __future__ import annotations

import uuid
from typing import Any

from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.core.errors import Conflict
from lakecrew.ports.clock import Clock, SystemClock
from lakecrew.ports.workspace import ObjectKind


class LocalClusterPolicies:
    """The cluster policies of one local workspace."""

    def __init__(
        self, store: LocalWorkspace, *, clock: Clock | None = None, actor: str = "lakecrew"
    ) -> None:
        self.store = store
        self.name = store.name
        self.clock: Clock = clock or SystemClock()
        self.actor = actor

    def list(self) -> list[dict[str, Any]]:
        """Every policy of the workspace, REST-shaped."""
        return [dict(o.data) for o in self.store.list(ObjectKind.CLUSTER_POLICY)]

    def create(self, *, name: str, definition: str, description: str) -> str:
        """Store a new policy; Conflict when a policy already has this name (as the API does)."""
        if any(p.get("name") == name for p in self.list()):
            raise Conflict(
                f"a cluster policy named {name!r} already exists",
                where=f"workspace {self.name}",
                fix="edit that policy instead (plan again with `lakecrew policy apply`)",
            )
        policy_id = uuid.uuid4().hex[:16].upper()
        body = {
            "policy_id": policy_id,
            "name": name,
            "definition": definition,
            "description": description,
            "created_at_timestamp": int(self.clock.now().timestamp() * 1000),
            "creator_user_name": self.actor,
            "is_default": False,
        }
        self.store.put_many(ObjectKind.CLUSTER_POLICY, [body])
        return policy_id

    def edit(
        self,
        policy_id: str,
        *,
        name: str,
        definition: str,
        description: str,
        max_clusters_per_user: int | None = None,
    ) -> None:
        """Replace name, definition and description of an existing policy (NotFound if gone)."""
        current = dict(self.store.get(ObjectKind.CLUSTER_POLICY, policy_id).data)
        if any(p.get("name") == name and p.get("policy_id") != policy_id for p in self.list()):
            raise Conflict(
                f"another cluster policy is already named {name!r}",
                where=f"workspace {self.name}, cluster policy {policy_id}",
                fix="rename or delete the other policy",
            )
        current.update(name=name, definition=definition, description=description)
        if max_clusters_per_user is None:
            current.pop("max_clusters_per_user", None)
        else:
            current["max_clusters_per_user"] = max_clusters_per_user
        self.store.put_many(ObjectKind.CLUSTER_POLICY, [current])
