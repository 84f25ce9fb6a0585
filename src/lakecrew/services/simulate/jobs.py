"""Jobs as the Jobs API returns them (`Job`), their deterministic run schedule and usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.simulate.catalogue import (
    NODE_TYPES,
    SKU_ALL_PURPOSE,
    SKU_JOBS,
    SKU_JOBS_SERVERLESS,
    SPARK_VERSIONS,
)
from lakecrew.services.simulate.clusters import ClusterPlan, build_cluster, person
from lakecrew.services.simulate.model import Clock, SimJob, UsageStream, WorkspaceBuild, rng_for

RESULTS = ("SUCCEEDED", "FAILED")
FAKE_TOKEN_PREFIX = "dapi"


@dataclass
class JobPlan:
    """What to build; `codes` are the violations this job plants (ground truth)."""

    purpose: str
    period_h: float = 24
    duration_h: float = 1.0
    compute: str = "job_cluster"  # job_cluster | serverless | existing
    node: str = "m5.xlarge"
    autoscale: tuple[int, int] = (1, 2)
    tags: dict[str, str] | None = None  # None: the four mandatory tags
    run_as: bool = True
    retries: str = "ok"  # ok | zero | absent
    notifications: str = "email"  # email | webhook | none | empty
    secret: str | None = None  # param | env
    weekdays_only: bool = False
    fail_rate: float = 0.03
    in_progress: bool = False
    existing_cluster_id: str | None = None
    codes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def job_runs(job: SimJob, clock: Clock, seed: int) -> dict[str, np.ndarray]:
    """The job's runs (sorted by start): start/end hours, run_id, retry flag, result code.

    result: 0 SUCCEEDED, 1 FAILED, -1 still running. Pure function of (job, clock, seed).
    """
    rng = rng_for(seed, 7, job.workspace.index, job.job_id % 10**9)
    now = float(clock.hours) + (clock.now.minute / 60)
    last = now - (2.3 if job.in_progress else job.offset_h + job.duration_h * 1.6 + 0.2)
    n = max(int((last - job.first_hour) // job.period_h) + 1, 0)
    start = last - job.period_h * np.arange(n)[::-1]
    if job.weekdays_only:
        day = np.floor((start + clock.start.weekday() * 24) / 24) % 7
        start = start[day < 5]
    dur = job.duration_h * rng.lognormal(0.0, 0.25, start.size)
    dur = np.clip(dur, 0.05, job.period_h * 0.8)
    result = (rng.random(start.size) < job.fail_rate).astype(np.int8)
    if job.in_progress and start.size:
        dur[-1] = now - start[-1]
        result[-1] = -1
    end = start + dur
    failed = (result == 1) & (end + 0.25 + dur < now - 0.1)
    r_start = end[failed] + 0.25
    r_end = r_start + dur[failed]
    r_result = (rng.random(r_start.size) < 0.15).astype(np.int8)
    all_start = np.concatenate([start, r_start])
    order = np.argsort(all_start, kind="stable")
    base = 10**12 + job.workspace.index * 10**10 + (job.job_id % 10**5) * 10**5
    return {
        "start": all_start[order],
        "end": np.concatenate([end, r_end])[order],
        "retry": np.concatenate([np.zeros(start.size, bool), np.ones(r_start.size, bool)])[order],
        "result": np.concatenate([result, r_result])[order],
        "run_id": base + np.arange(all_start.size, dtype=np.int64),
    }


def run_cluster_id(clock: Clock, start_hour: float, run_id: int) -> str:
    """The job cluster id of one run (same rule as the vectorised usage builder)."""
    when = clock.at(float(np.floor(start_hour * 3600) / 3600))
    return f"{when:%m%d-%H%M%S}-r{run_id % 10**7:07d}"


def _cron(plan: JobPlan, minute: int, hour: int) -> str:
    if plan.period_h < 1:
        step = round(plan.period_h * 60)
        return f"0 {minute % step}/{step} * * * ?"
    if plan.period_h < 24:
        period = int(plan.period_h)
        return f"0 {minute} {hour % period}/{period} * * ?"
    return f"0 {minute} {hour} ? * MON-FRI" if plan.weekdays_only else f"0 {minute} {hour} * * ?"


def _new_cluster(b: WorkspaceBuild, plan: JobPlan, availability: str) -> dict[str, Any]:
    return {
        "spark_version": SPARK_VERSIONS[0],
        "node_type_id": plan.node,
        "autoscale": {"min_workers": plan.autoscale[0], "max_workers": plan.autoscale[1]},
        "aws_attributes": {"availability": availability, "first_on_demand": 1},
        "custom_tags": b.ws.mandatory_tags(),
        "runtime_engine": "PHOTON",
        "data_security_mode": "USER_ISOLATION",
    }


def _task(key: str, path: str, plan: JobPlan, retries: int | None) -> dict[str, Any]:
    task: dict[str, Any] = {
        "task_key": key,
        "notebook_task": {"notebook_path": path, "source": "WORKSPACE", "base_parameters": {}},
        "timeout_seconds": 4 * 3600,
    }
    if retries is not None:
        task["max_retries"] = retries
        if retries:
            task["min_retry_interval_millis"] = 60_000
            task["retry_on_timeout"] = True
    return task


def build_job(
    b: WorkspaceBuild, rng: np.random.Generator, clock: Clock, plan: JobPlan, seq: int, seed: int
) -> SimJob:
    """Build one job (and, for job-cluster jobs, the cluster of its latest run)."""
    ws = b.ws
    job_id = 500_000_000_000_000 + ws.index * 10**9 + seq
    name = f"{ws.project}_{ws.environment}_{plan.purpose}"
    tags = dict(ws.mandatory_tags()) if plan.tags is None else dict(plan.tags)
    sp = f"{int(rng.integers(10**7, 10**8)):08x}-5e1a-4c3d-9b2f-{ws.index:04d}{seq:08d}"
    root = f"/Repos/{ws.team}/{ws.project}-pipelines/{plan.purpose}"
    t1 = _task("ingest", f"{root}/01_ingest", plan, 2)
    t2 = _task("transform", f"{root}/02_transform", plan, 0 if plan.retries == "zero" else 2)
    if plan.retries == "absent":
        t2 = _task("transform", f"{root}/02_transform", plan, None)
    t2["depends_on"] = [{"task_key": "ingest"}]
    t1["notebook_task"]["base_parameters"] = {"env": ws.environment, "lookback_days": "3"}
    if plan.secret == "param":
        token = FAKE_TOKEN_PREFIX + "".join(rng.choice(list("0123456789abcdef"), 32))
        t1["notebook_task"]["base_parameters"]["dhis2_api_token"] = token
    tasks = [t1, t2]
    settings: dict[str, Any] = {
        "name": name,
        "tags": tags,
        "tasks": tasks,
        "max_concurrent_runs": 1,
        "timeout_seconds": 6 * 3600,
        "format": "MULTI_TASK",
        "queue": {"enabled": True},
        "schedule": {
            "quartz_cron_expression": _cron(
                plan, int(rng.integers(0, 60)), int(rng.integers(0, 24))
            ),
            "timezone_id": "UTC",
            "pause_status": "UNPAUSED",
        },
    }
    availability = "ON_DEMAND" if ws.environment == "prod" else "SPOT_WITH_FALLBACK"
    if plan.compute == "job_cluster":
        settings["job_clusters"] = [
            {"job_cluster_key": "main", "new_cluster": _new_cluster(b, plan, availability)}
        ]
        env_vars = {"DHIS2_PASSWORD": "{{secrets/" + f"{ws.project}-etl/dhis2-password" + "}}"}
        if plan.secret == "env":
            env_vars["DHIS2_PASSWORD"] = "Sim!" + "".join(rng.choice(list("ABCDEFGHJK2345"), 12))
        settings["job_clusters"][0]["new_cluster"]["spark_env_vars"] = env_vars
        for t in tasks:
            t["job_cluster_key"] = "main"
    elif plan.compute == "serverless":
        settings["environments"] = [
            {"environment_key": "default", "spec": {"environment_version": "2"}}
        ]
        settings["performance_target"] = "STANDARD"
        for t in tasks:
            t["environment_key"] = "default"
    else:
        for t in tasks:
            t["existing_cluster_id"] = plan.existing_cluster_id
    if plan.notifications == "email":
        settings["email_notifications"] = {
            "on_failure": [ws.owner],
            "no_alert_for_skipped_runs": True,
        }
    elif plan.notifications == "webhook":
        settings["webhook_notifications"] = {"on_failure": [{"id": f"sim-dest-{ws.index:02d}"}]}
    elif plan.notifications == "empty":
        settings["email_notifications"] = {"on_failure": [], "on_success": []}
    creator = person(rng)
    data: dict[str, Any] = {
        "job_id": job_id,
        "created_time": clock.ms(-float(rng.integers(24 * 95, 24 * 500))),
        "creator_user_name": creator,
        "settings": settings,
    }
    if plan.run_as:
        settings["run_as"] = {"service_principal_name": sp}
        data["run_as_user_name"] = sp
    node = NODE_TYPES[plan.node]
    dbu = node.dbu_per_hour * (1 + sum(plan.autoscale) / 2)
    if plan.compute == "serverless":
        dbu = float(rng.uniform(2, 8))
    job = SimJob(
        workspace=ws,
        job_id=job_id,
        name=name,
        period_h=plan.period_h,
        duration_h=plan.duration_h,
        offset_h=float(rng.uniform(0, plan.period_h)),
        fail_rate=plan.fail_rate,
        weekdays_only=plan.weekdays_only,
        compute=plan.compute,
        run_as=sp if plan.run_as else None,
        dbu_per_hour=dbu,
        node_type=None if plan.compute == "serverless" else plan.node,
        cluster_id=plan.existing_cluster_id,
        in_progress=plan.in_progress,
        first_hour=float(rng.uniform(-24 * 20, 0)),
        tags=tags,
    )
    b.add(ObjectKind.JOB, str(job_id), data)
    b.mark(ObjectKind.JOB, str(job_id), plan.codes)
    b.jobs.append(job)
    _job_usage(b, job, plan)
    if plan.compute == "job_cluster":
        _latest_run_cluster(b, rng, clock, job, plan, availability, seed)
    return job


def _job_usage(b: WorkspaceBuild, job: SimJob, plan: JobPlan) -> None:
    if plan.compute == "existing":
        meta = {"cluster_id": plan.existing_cluster_id or "", "node_type": plan.node}
        sku, ident, tags = SKU_ALL_PURPOSE, {}, {}
        tags = next(
            (
                dict(o.data.get("custom_tags", {}))
                for o in b.objects.get(ObjectKind.CLUSTER, [])
                if o.object_id == plan.existing_cluster_id
            ),
            {},
        )
    else:
        meta = {"job_id": str(job.job_id), "job_name": job.name}
        if plan.compute == "job_cluster":
            meta["node_type"] = plan.node
        sku = SKU_JOBS if plan.compute == "job_cluster" else SKU_JOBS_SERVERLESS
        ident = {"run_as": job.run_as} if job.run_as else {}
        tags = {**b.ws.mandatory_tags(), **job.tags} if plan.compute == "job_cluster" else job.tags
    b.streams.append(
        UsageStream(
            workspace_id=b.ws.workspace_id,
            sku=sku,
            dbu_per_hour=job.dbu_per_hour,
            tags=tags,
            metadata=meta,
            identity=ident,
            photon=plan.compute == "job_cluster",
            pattern="runs",
            job=job,
            per_run_cluster=plan.compute == "job_cluster",
        )
    )


def _latest_run_cluster(
    b: WorkspaceBuild,
    rng: np.random.Generator,
    clock: Clock,
    job: SimJob,
    plan: JobPlan,
    availability: str,
    seed: int,
) -> None:
    runs = job_runs(job, clock, seed)
    if not runs["start"].size:
        return
    i = runs["start"].size - 1
    run_id = int(runs["run_id"][i])
    start = float(runs["start"][i])
    running = bool(runs["result"][i] == -1)
    cplan = ClusterPlan(
        name=f"job-{job.job_id}-run-{run_id}",
        source="JOB",
        node=plan.node,
        autoscale=plan.autoscale,
        autoterm=0,
        availability=availability,
        tags={**b.ws.mandatory_tags(), **job.tags},
        state="RUNNING" if running else "TERMINATED",
        activity="busy" if running else None,
        restarted_hours_ago=clock.hours - start,
        usage="none",
        run_name=job.name,
        cluster_id=run_cluster_id(clock, start, run_id),
        created_hour=start,
    )
    data = build_cluster(b, rng, clock, cplan)
    data["default_tags"]["JobId"] = str(job.job_id)
    if running:
        b.busy.append(
            {
                "workspace": b.ws.name,
                "cluster_id": data["cluster_id"],
                "job_id": str(job.job_id),
                "run_id": str(run_id),
            }
        )
