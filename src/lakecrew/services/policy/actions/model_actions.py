"""archive_model_version and add_model_tags: MLflow model actions (SOP 1.7.1, 3.1.5).

They act on the model registry (the ModelStore port), not on a workspace object: the crew's
Executor plans and performs them in the `(models)` scope of a whole-estate sweep (and of
`lakecrew model hygiene`), through `ActionPorts.models`, with the same ledger protocol as every
action (intent with the before-state → call → applied; reconciled after a crash; `lakecrew
rollback` restores). The states they save:

- a model version: the aliases it holds, all its tags, and its model's ACL;
- a registered model: all its tags.

Their rollbacks are full restores of that state (aliases put back, tags set back and the ones
the action added removed, the ACL replaced by the saved one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from lakecrew.core.errors import NotFound, SafetyRefusal
from lakecrew.core.resources import Resource
from lakecrew.ports.models import Acl, ModelStore
from lakecrew.ports.workspace import Change, Workspace
from lakecrew.services.mlops.hygiene import LIFECYCLE_TAG
from lakecrew.services.policy.actions.base import (
    Action,
    ActionPorts,
    Params,
    Situation,
    Target,
    Workload,
    action,
)

ELSEWHERE = "model actions act on the model registry (scope `(models)`), not on a workspace"
State = dict[str, Any]


def _acl_json(acl: tuple[Acl, ...] | None) -> list[dict[str, str]] | None:
    return None if acl is None else [{"principal": a.principal, "level": a.level} for a in acl]


def _acl(raw: Any) -> list[Acl] | None:
    return None if raw is None else [Acl(str(a["principal"]), str(a["level"])) for a in raw]


def _changed(before: Mapping[str, str], now: Mapping[str, str]) -> dict[str, str]:
    """The saved tags whose live value differs (the ones a restore sets again)."""
    return {k: v for k, v in before.items() if now.get(k) != v}


def split_version_id(object_id: str) -> tuple[str, str]:
    """``catalog.schema.model/3`` → (model, version)."""
    model, _, version = object_id.rpartition("/")
    return model, version


class RegistryAction(Action):
    """Shared shape: reads and changes the registry through `ports.models`, never a workspace."""

    destructive = False

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        return None  # a registry object has no running workload to disturb

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        raise SafetyRefusal(ELSEWHERE, where=f"{kind} {object_id}", fix="sweep the estate")

    def rollback(
        self, ws: Workspace, kind: str, object_id: str, before: Mapping[str, Any]
    ) -> Change:
        raise SafetyRefusal(ELSEWHERE, where=f"{kind} {object_id}", fix="`lakecrew rollback`")

    def registry(self, ports: ActionPorts) -> ModelStore:
        return ports.need_models(self.name)


class ArchiveModelVersionParams(Params):
    restrict_to_owner: bool = Field(True, description="leave only the owner on the model's ACL")


@action
class ArchiveModelVersion(RegistryAction):
    """Archive a stale model version (SOP 1.7.1, phase 3): remove its aliases, tag it
    `gov.lifecycle=archived` with when and why, restrict the model's permissions to its owner.
    Nothing is deleted; `lakecrew rollback` restores aliases, tags and permissions.

    ```yaml
    action: {name: archive_model_version, params: {restrict_to_owner: true}}
    ```
    """

    name = "archive_model_version"
    params = ArchiveModelVersionParams
    floor = 3
    kinds = ("model_versions",)

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        assert isinstance(params, ArchiveModelVersionParams)
        rule = sit.pack.rule(sit.rule_id)
        owner = res.data.get("owner")
        acl = [{"principal": owner, "level": "CAN_MANAGE"}] if owner else None
        return {
            "tags": {
                LIFECYCLE_TAG: "archived",
                "gov.archived_by": "lakecrew",
                "gov.archive_reason": f"{sit.rule_id}: {rule.title if rule else ''}".strip(),
            },
            "acl": acl if params.restrict_to_owner else None,
        }

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        tags = live.get("tags") or {}
        return not live.get("aliases") and tags.get(LIFECYCLE_TAG) == "archived"

    def current(self, ports: ActionPorts, kind: str, object_id: str) -> State | None:
        reg = self.registry(ports)
        model, version = split_version_id(object_id)
        try:
            held = reg.get_model(model).aliases
            found = next((v for v in reg.list_versions(model) if v.version == version), None)
        except NotFound:
            return None
        if found is None:
            return None
        return {
            "aliases": sorted(a for a, v in held.items() if v == version),
            "tags": dict(sorted(found.tags.items())),
            "acl": _acl_json(reg.permissions(model)),
        }

    def perform(
        self, ports: ActionPorts, kind: str, object_id: str, target: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        reg = self.registry(ports)
        model, version = split_version_id(object_id)
        now = self.current(ports, kind, object_id) or {}
        for alias in now.get("aliases", ()):
            reg.delete_alias(model, alias)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")  # when, in the registry's tags
        reg.set_version_tags(model, version, {**target["tags"], "gov.archived_at": stamp})
        if target.get("acl") is not None:
            reg.set_permissions(model, _acl(target["acl"]))
        return self.current(ports, kind, object_id) or {}

    def undo(
        self, ports: ActionPorts, kind: str, object_id: str, before: Mapping[str, Any]
    ) -> None:
        reg = self.registry(ports)
        model, version = split_version_id(object_id)
        now = self.current(ports, kind, object_id) or {"aliases": [], "tags": {}}
        for alias in set(now["aliases"]) - set(before["aliases"]):
            reg.delete_alias(model, alias)
        for alias in before["aliases"]:
            reg.set_alias(model, alias, version)
        added = sorted(set(now["tags"]) - set(before["tags"]))
        reg.set_version_tags(model, version, _changed(before["tags"], now["tags"]), remove=added)
        if _acl_json(reg.permissions(model)) != before["acl"]:
            reg.set_permissions(model, _acl(before["acl"]))


@action
class AddModelTags(RegistryAction):
    """Add the project tags of lakecrew.yaml (`mlops.project_tags`, the model's owner) that a
    registered model lacks; existing tags are kept.

    ```yaml
    action: {name: add_model_tags}
    ```
    """

    name = "add_model_tags"
    floor = 2
    kinds = ("models",)

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        wanted = dict(res.data.get("missing_tag_values") or {})
        return {"tags": wanted} if wanted else None

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        tags = live.get("tags") or {}
        return all(tags.get(k) for k in target["tags"])

    def current(self, ports: ActionPorts, kind: str, object_id: str) -> State | None:
        try:
            model = self.registry(ports).get_model(object_id)
        except NotFound:
            return None
        return {"tags": dict(sorted(model.tags.items()))}

    def perform(
        self, ports: ActionPorts, kind: str, object_id: str, target: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        now = (self.current(ports, kind, object_id) or {}).get("tags", {})
        missing = {k: v for k, v in target["tags"].items() if not now.get(k)}
        self.registry(ports).set_model_tags(object_id, missing)
        return self.current(ports, kind, object_id) or {}

    def undo(
        self, ports: ActionPorts, kind: str, object_id: str, before: Mapping[str, Any]
    ) -> None:
        now = (self.current(ports, kind, object_id) or {}).get("tags", {})
        added = sorted(set(now) - set(before["tags"]))
        self.registry(ports).set_model_tags(object_id, _changed(before["tags"], now), remove=added)
