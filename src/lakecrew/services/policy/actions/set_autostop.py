"""set_autostop: give a SQL warehouse an auto-stop (SOP 2.3.3)."""

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


class SetAutoStopParams(Params):
    minutes: int | None = Field(None, ge=1, description="default: the pack's warehouse maximum")


@action
class SetAutoStop(Action):
    """Set a SQL warehouse's `auto_stop_mins`.

    ```yaml
    action: {name: set_autostop, params: {minutes: 30}}
    ```
    """

    name = "set_autostop"
    params = SetAutoStopParams
    destructive = False
    floor = 4
    kinds = ("warehouses",)

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        assert isinstance(params, SetAutoStopParams)
        return {"auto_stop_mins": params.minutes or sit.pack.warehouses.max_auto_stop_minutes}

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        return None

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return bool(live.get("auto_stop_mins") == target["auto_stop_mins"])

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        return ws.set_warehouse_autostop(object_id, int(target["auto_stop_mins"]))
