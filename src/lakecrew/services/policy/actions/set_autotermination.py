"""set_autotermination: give an all-purpose cluster an idle timeout (SOP 2.3.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from lakecrew.core.resources import Resource
from lakecrew.ports.workspace import Change, Workspace
from lakecrew.services.policy.actions.base import (
    Action,
    Params,
    Situation,
    Target,
    Workload,
    action,
)

RESTARTS = "editing a RUNNING cluster restarts it"
"""Start of the refusal of an edit to a running cluster (the plan lets it follow a termination)."""


class SetAutoterminationParams(Params):
    minutes: int | None = Field(None, ge=10, description="default: the pack's max_minutes")


@action
class SetAutotermination(Action):
    """Set `autotermination_minutes` on an all-purpose cluster (update with an update_mask).

    ```yaml
    action: {name: set_autotermination, params: {minutes: 30}}
    ```
    """

    name = "set_autotermination"
    params = SetAutoterminationParams
    destructive = False
    floor = 4
    kinds = ("clusters",)

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        assert isinstance(params, SetAutoterminationParams)
        return {"autotermination_minutes": params.minutes or sit.pack.auto_termination.max_minutes}

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        if res.data.get("state") == "RUNNING":
            return f"{RESTARTS}; applied once the cluster is terminated"
        return None

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return bool(live.get("autotermination_minutes") == target["autotermination_minutes"])

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        return ws.set_autotermination(object_id, int(target["autotermination_minutes"]))
