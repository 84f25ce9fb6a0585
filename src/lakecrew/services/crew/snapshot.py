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
class ListingGap:
    """One listing that stopped at a failed page (after the client's retries).

    `kind` is the listing (e.g. clusters), `resource_type` the type it leaves incomplete,
    `page` the 1-based failed page when known, `delivered` the objects seen before it.
    """

    kind: str
    resource_type: str
    page: int | None
    delivered: int
    reason: str

    def describe(self) -> str:
        at = f" at page {self.page}" if self.page is not None else ""
        return f"{self.kind} listing failed{at} after {self.delivered} object(s)"


@dataclass(frozen=True)
class Snapshot:
    """Resources of one sweep scope plus the facts rules and the Executor need.

    `discovered` counts every object the Observer saw, per resource type, before any rule ran;
    the sweep compares it with what the engine evaluated and fails loudly on a difference.
    `busy_clusters` are clusters running a job right now (never terminated or edited).
    `gaps` are listings that stopped at a failed page; `seen` holds, for each resource type
    left incomplete by a gap, the ids that were delivered before it (see `covers`).
    A streamed sweep keeps in `resources` only what the plan needs (resources with findings).
    """

    scope: str
    info: WorkspaceInfo
    taken_at: datetime
    resources: tuple[Resource, ...]
    discovered: Mapping[str, int]
    context: EvaluationContext
    busy_clusters: frozenset[str] = frozenset()
    sources: Mapping[str, str] = field(default_factory=dict)
    gaps: tuple[ListingGap, ...] = ()
    seen: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def discovered_total(self) -> int:
        return sum(self.discovered.values())

    @property
    def complete(self) -> bool:
        """True when every listing was read to its end."""
        return not self.gaps

    def covers(self, resource_type: str, resource_id: str) -> bool:
        """Whether this sweep saw the resource's current state (or could have: its type was
        listed completely). False for an unseen resource of an incompletely listed type, whose
        absence proves nothing."""
        if resource_type not in self.seen:
            return True
        return resource_id in self.seen[resource_type]

    def resource(self, resource_type: str, resource_id: str) -> Resource | None:
        """The resource with this type and id, or None."""
        for res in self.resources:
            if res.resource_type == resource_type and res.resource_id == resource_id:
                return res
        return None
