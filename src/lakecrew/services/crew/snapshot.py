"""The Observer's output: a typed, read-only picture of one workspace at one moment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lakecrew.core.findings import EvaluationContext
from lakecrew.core.pack import Pack, Rule
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


CAUSE_WORDS = {
    "not_authenticated": "not authenticated",
    "permission": "permission missing",
    "not_enabled": "feature not enabled",
    "malformed": "malformed answer",
    "failed": "kept failing",
}


@dataclass(frozen=True)
class ListingGap:
    """One API the sweep could not read to its end (after the client's retries).

    `kind` is the listing (e.g. clusters, or workspace-conf), `resource_type` the type it
    leaves incomplete, `page` the 1-based failed page when known, `delivered` the objects
    seen before it, `cause` why (core.errors.CAUSES), `api` the call, and `rules` the rules
    that could not be evaluated (fully) because of it — filled by the sweep from the pack.
    """

    kind: str
    resource_type: str
    page: int | None
    delivered: int
    reason: str
    cause: str = "failed"
    api: str | None = None
    rules: tuple[str, ...] = ()

    @property
    def unseen(self) -> bool:
        """True when nothing of the kind was read (the rules needing it saw nothing)."""
        return self.delivered == 0

    def describe(self) -> str:
        why = CAUSE_WORDS.get(self.cause, self.cause)
        if self.unseen:
            return f"{self.kind} unseen ({why}{f', {self.api}' if self.api else ''})"
        at = f" at page {self.page}" if self.page is not None else ""
        return f"{self.kind} listing failed{at} after {self.delivered} object(s) ({why})"

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "resource_type": self.resource_type,
            "page": self.page,
            "delivered": self.delivered,
            "cause": self.cause,
            "api": self.api,
            "reason": self.reason,
            "unseen_rules": list(self.rules),
        }


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
    unseen_rules: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()

    @property
    def discovered_total(self) -> int:
        return sum(self.discovered.values())

    @property
    def complete(self) -> bool:
        """True when every listing was read to its end."""
        return not self.gaps

    def covers(self, resource_type: str, resource_id: str, rule_id: str | None = None) -> bool:
        """Whether this sweep saw the resource's current state (or could have: its type was
        listed completely). False for an unseen resource of an incompletely listed type, whose
        absence proves nothing, and for a rule whose input was unreadable (`unseen_rules`)."""
        if rule_id is not None and rule_id in self.unseen_rules:
            return False
        if resource_type not in self.seen:
            return True
        return resource_id in self.seen[resource_type]

    def resource(self, resource_type: str, resource_id: str) -> Resource | None:
        """The resource with this type and id, or None."""
        for res in self.resources:
            if res.resource_type == resource_type and res.resource_id == resource_id:
                return res
        return None


def _reads_conf(rule: Rule) -> bool:
    """Whether a workspace rule reads the workspace conf (its filter names a `conf.` key)."""
    return rule.filter is not None and '"conf.' in rule.filter.model_dump_json()


def with_unseen_rules(snap: Snapshot, pack: Pack) -> Snapshot:
    """`snap` with each gap naming the rules it left unevaluated (or evaluated on part of the
    kind), and `unseen_rules` = rules that saw nothing (their findings are not resolved)."""
    from dataclasses import replace

    if not snap.gaps:
        return snap
    env = snap.info.environment
    gaps: list[ListingGap] = []
    unseen: set[str] = set()
    for gap in snap.gaps:
        rules = tuple(
            r.id
            for r in pack.rules
            if r.enabled
            and r.resource_type == gap.resource_type
            and (r.environments is None or env in r.environments)
            and (gap.resource_type != "workspace" or _reads_conf(r))
        )
        gaps.append(replace(gap, rules=rules))
        if gap.unseen:
            unseen.update(rules)
    return replace(snap, gaps=tuple(gaps), unseen_rules=frozenset(unseen))
