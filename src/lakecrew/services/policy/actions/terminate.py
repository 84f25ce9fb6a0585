"""terminate: stop an idle all-purpose cluster (clusters.delete keeps it restartable)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from lakecrew.core.resources import Resource
from lakecrew.ports.workspace import Change, Workspace
from lakecrew.services.policy.actions.base import Action, Situation, Target, Workload, action

RUN_BOUND = ("JOB", "PIPELINE", "PIPELINE_MAINTENANCE")


@action
class Terminate(Action):
    """Terminate a cluster (clusters.delete: the cluster stays and can be restarted).

    ```yaml
    action: {name: terminate}
    ```
    """

    name = "terminate"
    destructive = True
    floor = 2
    kinds = ("clusters",)

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        return {"state": "TERMINATED"}

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        data = res.data
        if res.resource_id in workload.busy_clusters:
            return "cluster is running a job; never terminated while a workload runs"
        if data.get("cluster_source") in RUN_BOUND:
            return "job/pipeline cluster; it ends with its run"
        if data.get("state") != "RUNNING":
            return f"cluster is {data.get('state')}, not RUNNING"
        return None

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return live.get("state") in ("TERMINATED", "TERMINATING")

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        return ws.terminate(object_id)
