"""Phase 4: pausing non-critical jobs during a confirmed cost spike (SOP 2.2.1, 3.3).

A `cost.anomaly` finding whose rule action is `pause_job` names, on its `usage` resource, the
workspace's `jobs` whose cost rose on the spike's last day (crew/cost_source.py). Each such job
becomes one `pause_job` action on that job, target `{job_id, schedule: {... pause_status:
PAUSED}}` (jobs.update replaces `schedule` whole, so the target carries the full schedule).

Criticality: the job tag named by the action's `criticality_tag` (default `criticality`) must be
one of `pausable` (default `low`, `non-critical`). Untagged and `critical` jobs are never paused,
and a critical job in a Prod workspace never is, whatever the pack says. The spike must be
`ongoing` (a spike that is over is reported, not acted on). Approval is decided by the plan
(CrewSettings.approvals_required_for); rollback restores the job's before-state (pause_status
included) through the Executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakecrew.core.resources import Resource

CRITICALITY_TAG = "criticality"
PAUSABLE = ("low", "non-critical")


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
