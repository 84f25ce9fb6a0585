"""resize: bring a running cluster's autoscale bounds down to its environment's (SOP 2.3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

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


class ResizeParams(Params):
    to: Literal["size_limit", "env_bounds"] = "env_bounds"


@action
class Resize(Action):
    """Resize a cluster down to its environment's autoscale bounds or T-shirt size limit.

    ```yaml
    action: {name: resize, params: {to: env_bounds}}
    ```
    """

    name = "resize"
    params = ResizeParams
    destructive = True
    floor = 4
    kinds = ("clusters",)

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        assert isinstance(params, ResizeParams)
        environment = sit.workload.environment
        env = sit.pack.environments.get(environment)
        if env is None:
            return None
        lo, hi = env.autoscale.min_workers, env.autoscale.max_workers
        if params.to == "size_limit":
            cap = sit.pack.size_of(environment).max_workers
            hi = min(hi, cap) if cap is not None else hi
        return {"autoscale": [min(lo, hi), hi]}

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        if res.data.get("state") != "RUNNING":
            return "resize needs a RUNNING cluster; the owner must edit the terminated cluster"
        return None

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        lo, hi = target["autoscale"]
        return live.get("autoscale") == {"min_workers": lo, "max_workers": hi}

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        lo, hi = target["autoscale"]
        return ws.resize(object_id, autoscale=(int(lo), int(hi)))
