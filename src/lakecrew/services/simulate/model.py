"""Internal records of the simulator: what was built per workspace, usage streams, job schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from lakecrew.ports.workspace import ObjectKind, WorkspaceObject
from lakecrew.services.simulate.estate import SimWorkspace

# Canonical violation codes (docs/violation-codes.md) and their SOP sections.
SOP: dict[str, str] = {
    "workspace.unregistered": "1.1.3",
    "workspace.unapproved": "1.1.3",
    "workspace.audit_logs_disabled": "1.1.4/3.1.7",
    "cluster.tags_missing": "1.2.3/1.9.1",
    "cluster.tags_environment_mismatch": "1.2.3",
    "cluster.size_out_of_policy": "1.2.1",
    "cluster.autotermination_disabled": "1.2.2",
    "cluster.autotermination_too_long": "1.2.2",
    "cluster.idle": "1.2.2/3.1.2",
    "cluster.autoscale_disabled": "1.2.4",
    "cluster.autoscale_out_of_bounds": "1.2.4",
    "cluster.spot_required": "1.2.5",
    "cluster.interactive_outside_dev": "1.2.7",
    "cluster.gpu_unapproved": "1.2.6",
    "cluster.high_memory_unapproved": "1.2.6",
    "job.all_purpose_compute": "1.2.7",
    "job.owner_missing": "3.1.3/1.8.1",
    "job.retries_missing": "3.1.3/1.8.1",
    "job.notifications_missing": "3.1.3/1.8.1",
    "job.tags_missing": "1.9.1",
    "job.hardcoded_secret": "1.4.2/3.1.7",
    "warehouse.autostop_missing": "1.9/2.1.3",
    "warehouse.tags_missing": "1.2.3/1.9.1",
    "pool.tags_missing": "1.2.3/1.9.1",
    "secret.acl_too_broad": "1.4.2",
    "table.owner_missing": "1.3.1",
    "table.steward_missing": "1.3.1",
    "table.classification_missing": "1.3.1",
    "table.comment_missing": "1.3.1",
    "table.pii_unmasked": "1.3.1/3.1.4",
    "grant.temporary_no_expiry": "1.3.2",
    "budget.exceeded": "1.9.5/2.1.2",
    "cost.anomaly": "3.1.6/2.2.1",
    "security.failed_access": "1.4.4",
    "security.secret_access_anomaly": "1.4.4",
    "security.large_download": "1.4.4",
}


@dataclass(frozen=True)
class Clock:
    """The simulated 'now' and the usage window [start, now): hours are counted from `start`."""

    start: datetime
    now: datetime

    @property
    def hours(self) -> int:
        return int((self.now - self.start).total_seconds() // 3600)

    def at(self, hour: float) -> datetime:
        return self.start + timedelta(hours=hour)

    def ms(self, hour: float) -> int:
        return int(self.at(hour).timestamp() * 1000)


@dataclass(frozen=True)
class Planted:
    """One ground-truth violation."""

    code: str
    sop: str
    workspace: str
    kind: str
    resource_id: str


@dataclass
class SimJob:
    """A job's schedule; runs are derived from it (see jobs.job_runs)."""

    workspace: SimWorkspace
    job_id: int
    name: str
    period_h: float
    duration_h: float
    offset_h: float
    fail_rate: float
    weekdays_only: bool
    compute: str  # "job_cluster" | "serverless" | "existing"
    run_as: str | None
    dbu_per_hour: float
    node_type: str | None
    cluster_id: str | None = None  # the all-purpose cluster of an "existing" job
    in_progress: bool = False
    first_hour: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class UsageStream:
    """One billable resource's hourly usage: constant attributes plus an activity pattern."""

    workspace_id: str
    sku: str
    dbu_per_hour: float
    tags: dict[str, str]
    metadata: dict[str, str]
    identity: dict[str, str]
    photon: bool = False
    pattern: str = "business"  # business | sporadic | always | since | runs
    since_hour: float = 0.0
    job: SimJob | None = None
    per_run_cluster: bool = False
    key: tuple[int, ...] = ()  # (workspace index, unit, position): seeds the stream's noise


@dataclass
class RunningCluster:
    """A RUNNING cluster and how busy it is (for node_timeline)."""

    workspace: SimWorkspace
    cluster_id: str
    node_type: str
    workers: int
    activity: str  # idle | busy | active
    idle_since_hour: float


@dataclass
class WorkspaceBuild:
    """Everything generated for one workspace (or one scale unit of it)."""

    ws: SimWorkspace
    objects: dict[ObjectKind, list[WorkspaceObject]] = field(default_factory=dict)
    streams: list[UsageStream] = field(default_factory=list)
    jobs: list[SimJob] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # extra SCD2 cluster versions
    running: list[RunningCluster] = field(default_factory=list)
    violations: list[Planted] = field(default_factory=list)
    compliant: list[tuple[str, str]] = field(default_factory=list)
    busy: list[dict[str, str]] = field(default_factory=list)

    def add(self, kind: ObjectKind, object_id: str, data: dict[str, Any]) -> None:
        self.objects.setdefault(kind, []).append(WorkspaceObject(kind, object_id, data))

    def mark(self, kind: ObjectKind, object_id: str, codes: tuple[str, ...] = ()) -> None:
        """Record the violation `codes` of a resource, or record it as fully compliant."""
        if not codes:
            self.compliant.append((kind.value, object_id))
        for code in codes:
            self.violations.append(Planted(code, SOP[code], self.ws.name, kind.value, object_id))


def rng_for(seed: int, *parts: int) -> np.random.Generator:
    """An independent, order-free random stream for (seed, *parts)."""
    return np.random.default_rng([seed, *parts])
