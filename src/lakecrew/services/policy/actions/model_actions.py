"""archive_model_version and add_model_tags: MLflow model actions (SOP 1.7.1, 3.1.5).

They are registered here so packs and lakecrew.yaml can name them, but they act on the model
registry, not on a workspace object: the MLOps service performs and rolls them back through
the ModelStore port (`services/mlops/actions.py`, recorded in the same ledger). The crew's
Workspace-bound executor plans none and refuses to apply them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from lakecrew.core.errors import SafetyRefusal
from lakecrew.core.resources import Resource
from lakecrew.ports.workspace import Change, Workspace
from lakecrew.services.policy.actions.base import (
    Action,
    Params,
    Situation,
    Subject,
    Target,
    Workload,
    action,
)

ELSEWHERE = "model actions are applied by the MLOps service (`lakecrew models`), not the sweep"


class _ModelAction(Action):
    """Shared refusals: the crew's executor never performs a model action."""

    def subjects(self, res: Resource, sit: Situation, params: BaseModel) -> list[Subject]:
        return []

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        return None

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        return ELSEWHERE

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return False

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        raise SafetyRefusal(ELSEWHERE, where=f"{kind} {object_id}", fix="use `lakecrew models`")


class ArchiveModelVersionParams(Params):
    restrict_to_owner: bool = Field(True, description="leave only the owner on the model's ACL")


@action
class ArchiveModelVersion(_ModelAction):
    """Archive a stale model version (SOP 1.7.1, phase 3): remove its aliases, tag it
    `gov.lifecycle=archived` with when and why, restrict the model's permissions to its owner.
    Nothing is deleted; `lakecrew rollback` restores aliases, tags and permissions.

    ```yaml
    action: {name: archive_model_version, params: {restrict_to_owner: true}}
    ```
    """

    name = "archive_model_version"
    params = ArchiveModelVersionParams
    destructive = False
    floor = 3
    kinds = ("model_versions",)


@action
class AddModelTags(_ModelAction):
    """Add the project tags of lakecrew.yaml (`mlops.project_tags`, the model's owner) that a
    registered model lacks; existing tags are kept.

    ```yaml
    action: {name: add_model_tags}
    ```
    """

    name = "add_model_tags"
    destructive = False
    floor = 2
    kinds = ("models",)
