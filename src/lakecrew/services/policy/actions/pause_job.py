"""pause_job — phase 4: pausing non-critical jobs during a confirmed cost spike (SOP 2.2.1, 3.3).

A `cost.anomaly` finding whose rule action is `pause_job` names, on its `usage` resource, the
workspace's `jobs` whose cost rose on the spike's last day (crew/cost_source.py). Each such job
becomes one `pause_job` action on that job, target `{job_id, schedule: {... pause_status:
PAUSED}}` (jobs.update replaces `schedule` whole, so the target carries the full schedule).

Criticality: the job tag named by the action's `criticality_tag` (default `criticality`) must be
one of `pausable` (default `low`, `non-critical`). Untagged and `critical` jobs are never paused,
and a critical job in a Prod workspace never is, whatever the pack says. The spike must be
`ongoing` (a spike that is over is reported, not acted on). Approval is decided by the plan
(CrewSettings.approvals_required_for); rollback restores the job's before-state (pause_status
included).
"""

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
    Subject,
    Target,
    Workload,
    action,
)

CRITICALITY_TAG = "criticality"
PAUSABLE = ("low", "non-critical")


class PauseJobParams(Params):
    criticality_tag: str = CRITICALITY_TAG
    pausable: list[str] = Field(default_factory=lambda: list(PAUSABLE))


@action
class PauseJob(Action):
    """Pause the schedule of the non-critical jobs behind an ongoing cost spike (phase 4).

    Only jobs whose `criticality` tag is one of `pausable` are paused; a job tagged `critical`
    (or untagged) never is, and a critical Prod job never is. Needs an approval by default
    (lakecrew.yaml `crew.approvals_required_for`); rollback restores `pause_status`.

    ```yaml
    action: {name: pause_job, params: {criticality_tag: criticality, pausable: [low]}}
    ```
    """

    name = "pause_job"
    params = PauseJobParams
    destructive = True
    floor = 4
    kinds = ("jobs",)

    def subjects(self, res: Resource, sit: Situation, params: BaseModel) -> list[Subject]:
        """The jobs behind the spike on the `usage` resource, each with its paused schedule."""
        out: list[Subject] = []
        for jid in job_ids(res):
            job = sit.related("jobs", jid)
            target = self.target(job, sit, params) if job is not None else None
            if job is not None and target is not None:
                out.append(("jobs", job, target))
        return out

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        return pause_target(res, params.model_dump())

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        return pause_refusal(res, workload.environment, target.get("criticality") or {})

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return is_paused(live)

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        return ws.update_job(object_id, {"schedule": dict(target["schedule"])})


def job_ids(usage: Resource) -> list[str]:
    """The jobs behind an ongoing spike (none when the spike is over)."""
    if not usage.data.get("ongoing"):
        return []
    return [str(j) for j in usage.data.get("jobs") or []]


def pause_target(job: Resource, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The job's schedule with pause_status PAUSED, plus the criticality rule the Executor
    re-checks on the live job; None without a schedule or when already paused."""
    schedule = (job.data.get("settings") or {}).get("schedule")
    if not isinstance(schedule, Mapping) or schedule.get("pause_status") == "PAUSED":
        return None
    return {
        "job_id": job.resource_id,
        "schedule": {**schedule, "pause_status": "PAUSED"},
        "criticality": {
            "criticality_tag": str(params.get("criticality_tag") or CRITICALITY_TAG),
            "pausable": [str(v) for v in params.get("pausable") or PAUSABLE],
        },
    }


def pause_refusal(job: Resource, environment: str, params: Mapping[str, Any]) -> str | None:
    """Why this job must not be paused, else None."""
    tag = str(params.get("criticality_tag") or CRITICALITY_TAG)
    pausable = [str(v).casefold() for v in params.get("pausable") or PAUSABLE]
    tags = (job.data.get("settings") or {}).get("tags") or {}
    value = str(tags.get(tag) or "").strip().casefold()
    if value == "critical" and environment == "prod":
        return "critical Prod job; never paused"
    if value not in pausable:
        shown = value or "missing"
        return f"job {tag} tag is {shown}; only {', '.join(pausable)} jobs are paused"
    return None


def is_paused(data: Mapping[str, Any]) -> bool:
    """True when the job's schedule is paused."""
    schedule = (data.get("settings") or {}).get("schedule") or {}
    return bool(schedule.get("pause_status") == "PAUSED")
