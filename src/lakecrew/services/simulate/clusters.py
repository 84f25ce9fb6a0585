"""Clusters as the Clusters API returns them (`ClusterDetails`), with their usage and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.simulate.catalogue import (
    AWS_ZONE,
    ML_SPARK_VERSION,
    NODE_TYPES,
    SKU_ALL_PURPOSE,
    SKU_JOBS,
    SPARK_VERSIONS,
    sim_email,
)
from lakecrew.services.simulate.model import Clock, RunningCluster, UsageStream, WorkspaceBuild

_ALNUM = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
PEOPLE = (
    "amina.bello",
    "chidi.okafor",
    "fatima.yusuf",
    "kwame.mensah",
    "ngozi.adeyemi",
    "ibrahim.sani",
    "aisha.danjuma",
    "tunde.balogun",
    "zainab.musa",
    "emeka.nwosu",
)


def suffix(rng: np.random.Generator, n: int = 8) -> str:
    """A random lower-case alphanumeric suffix."""
    return "".join(rng.choice(_ALNUM, size=n))


def make_cluster_id(rng: np.random.Generator, created: datetime) -> str:
    """A cluster id in the Databricks format MMDD-HHMMSS-xxxxxxxx."""
    return f"{created:%m%d-%H%M%S}-{suffix(rng)}"


def person(rng: np.random.Generator) -> str:
    """A simulated user's e-mail address."""
    return sim_email(str(rng.choice(PEOPLE)))


@dataclass
class ClusterPlan:
    """What to build; `codes` are the violations this configuration plants (ground truth)."""

    name: str
    source: str = "UI"  # UI | API | JOB
    node: str = "m5.xlarge"
    autoscale: tuple[int, int] | None = (1, 2)
    num_workers: int | None = None
    autoterm: int | None = 30
    availability: str = "SPOT_WITH_FALLBACK"
    tags: dict[str, str] = field(default_factory=dict)
    state: str = "TERMINATED"
    activity: str | None = None  # idle | busy | active (RUNNING clusters)
    restarted_hours_ago: float = 30.0
    idle_hours: float = 0.0
    codes: tuple[str, ...] = ()
    single_node: bool = False
    usage: str = "business"  # business | sporadic | none | runs
    history: bool = False  # add an older SCD2 version (resized / retagged)
    run_name: str | None = None
    cluster_id: str | None = None
    created_hour: float | None = None


def _avg_workers(plan: ClusterPlan) -> float:
    if plan.autoscale:
        return sum(plan.autoscale) / 2
    return float(plan.num_workers or 0)


def build_cluster(
    b: WorkspaceBuild, rng: np.random.Generator, clock: Clock, plan: ClusterPlan
) -> dict[str, Any]:
    """Build one cluster, record its ground truth, usage stream and running state."""
    node = NODE_TYPES[plan.node]
    created_h = (
        plan.created_hour if plan.created_hour is not None else -float(rng.integers(2280, 9600))
    )
    cid = plan.cluster_id or make_cluster_id(rng, clock.at(created_h))
    creator = person(rng) if plan.source != "JOB" else b.ws.owner
    restarted_h = clock.hours - plan.restarted_hours_ago
    version = ML_SPARK_VERSION if node.gpus else str(rng.choice(SPARK_VERSIONS))
    data: dict[str, Any] = {
        "cluster_id": cid,
        "cluster_name": plan.name,
        "cluster_source": plan.source,
        "creator_user_name": creator,
        "spark_version": version,
        "node_type_id": plan.node,
        "driver_node_type_id": plan.node,
        "aws_attributes": {
            "availability": plan.availability,
            "first_on_demand": 1,
            "zone_id": AWS_ZONE,
            "spot_bid_price_percent": 100,
            "ebs_volume_count": 0,
        },
        "autotermination_minutes": plan.autoterm if plan.autoterm is not None else 0,
        "enable_elastic_disk": True,
        "data_security_mode": "SINGLE_USER" if plan.source != "JOB" else "USER_ISOLATION",
        "runtime_engine": "PHOTON" if plan.source == "JOB" else "STANDARD",
        "custom_tags": dict(plan.tags),
        "default_tags": {
            "Vendor": "Databricks",
            "Creator": creator,
            "ClusterName": plan.name,
            "ClusterId": cid,
        },
        "spark_conf": {"spark.databricks.delta.preview.enabled": "true"},
        "state": plan.state,
        "start_time": clock.ms(created_h),
        "last_restarted_time": clock.ms(restarted_h),
        "cluster_cores": node.cores * (1 + _avg_workers(plan)),
        "cluster_memory_mb": node.memory_mb * int(1 + _avg_workers(plan)),
    }
    if plan.autoterm is None:
        del data["autotermination_minutes"]
    if data["data_security_mode"] == "SINGLE_USER":
        data["single_user_name"] = creator
    if plan.single_node:
        data["num_workers"] = 0
        data["is_single_node"] = True
        data["spark_conf"]["spark.databricks.cluster.profile"] = "singleNode"
        data["spark_conf"]["spark.master"] = "local[*, 4]"
        data["custom_tags"]["ResourceClass"] = "SingleNode"
    elif plan.autoscale:
        data["autoscale"] = {"min_workers": plan.autoscale[0], "max_workers": plan.autoscale[1]}
    else:
        data["num_workers"] = plan.num_workers or 0
    if plan.source == "JOB":
        data["default_tags"]["RunName"] = plan.run_name or plan.name
    if plan.state == "RUNNING":
        data["spark_context_id"] = int(rng.integers(10**15, 10**16))
        b.running.append(
            RunningCluster(
                b.ws,
                cid,
                plan.node,
                int(_avg_workers(plan)),
                plan.activity or "active",
                clock.hours - plan.idle_hours,
            )
        )
    else:
        end_h = restarted_h + float(rng.uniform(0.5, 6))
        data["terminated_time"] = clock.ms(min(end_h, clock.hours - 0.5))
        data["termination_reason"] = {
            "code": "JOB_FINISHED" if plan.source == "JOB" else "INACTIVITY",
            "type": "SUCCESS",
            "parameters": {} if plan.source == "JOB" else {"inactivity_duration_min": "30"},
        }
        if plan.source != "JOB":
            data["state_message"] = "Inactive cluster terminated (inactive for 30 minutes)."
    b.add(ObjectKind.CLUSTER, cid, data)
    b.mark(ObjectKind.CLUSTER, cid, plan.codes)
    latest_change = data["start_time"]
    if plan.history:  # an older version without the owner tag and one worker fewer
        older = {**data, "custom_tags": {k: v for k, v in plan.tags.items() if k != "owner"}}
        if plan.autoscale:
            older["autoscale"] = {
                "min_workers": plan.autoscale[0],
                "max_workers": plan.autoscale[1] + 1,
            }
        latest_change = clock.ms(-float(rng.uniform(24 * 20, 24 * 80)))
        b.history.append({"data": older, "change_ms": data["start_time"], "deleted_ms": None})
    b.history.append({"data": data, "change_ms": latest_change, "deleted_ms": None})
    if plan.usage != "none":
        sku = SKU_JOBS if plan.source == "JOB" else SKU_ALL_PURPOSE
        b.streams.append(
            UsageStream(
                workspace_id=b.ws.workspace_id,
                sku=sku,
                dbu_per_hour=node.dbu_per_hour * (1 + _avg_workers(plan)),
                tags=dict(data["custom_tags"]),
                metadata={"cluster_id": cid, "node_type": plan.node},
                identity={},
                photon=plan.source == "JOB",
                pattern="since" if plan.activity == "idle" else plan.usage,
                since_hour=restarted_h,
            )
        )
    return data
