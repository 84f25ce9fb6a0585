"""The Observer's output: a typed, read-only picture of one workspace at one moment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lakecrew.core.findings import EvaluationContext
from lakecrew.core.resources import Resource


@dataclass(frozen=True)
class WorkspaceInfo:
    """What the inventory (lakecrew.yaml) says about the workspace being swept."""

    name: str
    environment: str
    owner: str
    project: str
    cost_center: str
    workspace_id: str | None = None
    approval_status: str = "approved"

    def mandatory_tags(self) -> dict[str, str]:
        """Inventory values of the SOP 1.2.3 tags (owner is the workspace owner)."""
        return {
            "cost_center": self.cost_center,
            "project": self.project,
            "owner": self.owner,
            "environment": self.environment,
        }


@dataclass(frozen=True)
class Snapshot:
    """Resources of one sweep scope plus the facts rules and the Executor need.

    `discovered` counts every object the Observer saw, per resource type, before any rule ran;
    the sweep compares it with what the engine evaluated and fails loudly on a difference.
    `busy_clusters` are clusters running a job right now (never terminated or edited).
    """

    scope: str
    info: WorkspaceInfo
    taken_at: datetime
    resources: tuple[Resource, ...]
    discovered: Mapping[str, int]
    context: EvaluationContext
    busy_clusters: frozenset[str] = frozenset()
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def discovered_total(self) -> int:
        return sum(self.discovered.values())

    def resource(self, resource_type: str, resource_id: str) -> Resource | None:
        """The resource with this type and id, or None."""
        for res in self.resources:
            if res.resource_type == resource_type and res.resource_id == resource_id:
                return res
        return None
