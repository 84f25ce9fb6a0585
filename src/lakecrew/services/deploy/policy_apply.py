"""`lakecrew policy apply`: bring a workspace's cluster policies to the exported ones, plan first.

`plan_policy_apply(existing, desired)` matches policies by name and says, for each exported
policy, `create` (no policy of that name), `update` (definition or description differ — the
definitions are compared as parsed JSON, never as strings, so key order and spacing do not count)
or `unchanged`. Policies of the workspace that lakecrew did not export are left alone.
`apply_plan(plan, port)` performs the creates and edits through the ClusterPolicies port; applying
twice is a no-op because the second plan is all `unchanged`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lakecrew.core.errors import Conflict
from lakecrew.ports.policies import ClusterPolicies
from lakecrew.services.policy.cluster_policy import PolicyDocument

StepAction = Literal["create", "update", "unchanged"]


@dataclass(frozen=True)
class PolicyStep:
    """What to do with one exported policy."""

    action: StepAction
    name: str
    body: Mapping[str, Any]  # PolicyDocument.to_api(): name, definition (JSON string), description
    policy_id: str | None = None
    changed: tuple[str, ...] = ()  # "definition" and/or "description"
    definition_diff: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_clusters_per_user: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (the definition string is left out; the diff says what moves)."""
        return {
            "action": self.action,
            "name": self.name,
            "policy_id": self.policy_id,
            "changed": list(self.changed),
            "definition_diff": {k: list(v) for k, v in self.definition_diff.items()},
        }


@dataclass(frozen=True)
class Plan:
    """One step per exported policy, in export order."""

    steps: tuple[PolicyStep, ...]

    def of(self, action: StepAction) -> list[PolicyStep]:
        """The steps with this action."""
        return [s for s in self.steps if s.action == action]

    @property
    def empty(self) -> bool:
        """True when nothing would change."""
        return all(s.action == "unchanged" for s in self.steps)

    def summary(self) -> dict[str, int]:
        """Counts per action."""
        return {a: len(self.of(a)) for a in ("create", "update", "unchanged")}


@dataclass(frozen=True)
class AppliedStep:
    """One create or edit that was sent."""

    action: StepAction
    name: str
    policy_id: str


def _parsed(definition: Any) -> Any:
    if isinstance(definition, str):
        try:
            return json.loads(definition)
        except ValueError:
            return None  # unreadable: different from anything we export, so it is replaced
    return definition


def _diff(old: Any, new: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    old_map = old if isinstance(old, Mapping) else {}
    return {
        "added": tuple(sorted(k for k in new if k not in old_map)),
        "removed": tuple(sorted(k for k in old_map if k not in new)),
        "modified": tuple(sorted(k for k in new if k in old_map and old_map[k] != new[k])),
    }


def _by_name(existing: Sequence[Mapping[str, Any]], workspace: str) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for policy in existing:
        name = str(policy.get("name") or "")
        if name in found:
            raise Conflict(
                f"two cluster policies are named {name!r} "
                f"(ids {found[name].get('policy_id')} and {policy.get('policy_id')})",
                where=f"workspace {workspace}",
                fix="rename or delete one of them, then plan again",
            )
        found[name] = policy
    return found


def plan_policy_apply(
    existing: Sequence[Mapping[str, Any]],
    desired: Sequence[PolicyDocument],
    *,
    workspace: str = "workspace",
) -> Plan:
    """Create / update / unchanged for each desired policy, matched by name."""
    current = _by_name(existing, workspace)
    steps = []
    for doc in desired:
        body = doc.to_api()
        old = current.get(doc.name)
        if old is None:
            steps.append(PolicyStep("create", doc.name, body))
            continue
        if old.get("policy_family_id"):
            raise Conflict(
                f"cluster policy {doc.name!r} is based on policy family "
                f"{old.get('policy_family_id')}; lakecrew manages plain definitions only",
                where=f"workspace {workspace}, policy {old.get('policy_id')}",
                fix="rename that policy (or delete it) so lakecrew can create its own",
            )
        old_def = _parsed(old.get("definition"))
        changed = []
        if old_def != doc.definition:
            changed.append("definition")
        if str(old.get("description") or "") != doc.description:
            changed.append("description")
        limit = old.get("max_clusters_per_user")
        steps.append(
            PolicyStep(
                "update" if changed else "unchanged",
                doc.name,
                body,
                policy_id=str(old.get("policy_id")),
                changed=tuple(changed),
                definition_diff=_diff(old_def, doc.definition) if "definition" in changed else {},
                max_clusters_per_user=int(limit) if isinstance(limit, int) else None,
            )
        )
    return Plan(tuple(steps))


def plan_for(port: ClusterPolicies, desired: Sequence[PolicyDocument]) -> Plan:
    """List the workspace's policies through the port and plan against them."""
    return plan_policy_apply(port.list(), desired, workspace=port.name)


def apply_plan(plan: Plan, port: ClusterPolicies) -> list[AppliedStep]:
    """Send the plan's creates and edits (unchanged policies are not touched)."""
    done: list[AppliedStep] = []
    for step in plan.steps:
        body = step.body
        if step.action == "create":
            new_id = port.create(
                name=body["name"], definition=body["definition"], description=body["description"]
            )
            done.append(AppliedStep("create", step.name, new_id))
        elif step.action == "update" and step.policy_id is not None:
            port.edit(
                step.policy_id,
                name=body["name"],
                definition=body["definition"],
                description=body["description"],
                max_clusters_per_user=step.max_clusters_per_user,
            )
            done.append(AppliedStep("update", step.name, step.policy_id))
    return done
