"""notify_only: the owner is told; nothing is changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from lakecrew.core.errors import SafetyRefusal
from lakecrew.core.resources import Resource
from lakecrew.ports.workspace import Change, Workspace
from lakecrew.services.policy.actions.base import Action, Situation, Target, Workload, action


@action
class NotifyOnly(Action):
    """Notify the owner only; nothing is changed.

    ```yaml
    action: {name: notify_only}
    ```
    """

    name = "notify_only"
    destructive = False
    floor = None
    kinds = ()

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        return None

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        return "notify only; nothing is changed"

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return False

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        raise SafetyRefusal(
            "notify_only changes nothing", where=f"{kind} {object_id}", fix="notify the owner"
        )
