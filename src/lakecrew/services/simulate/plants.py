"""Assemble one workspace unit: compliant baseline + the planted violations (the ground truth).

Unit 0 of each inventory workspace is the demo set; every violation code of the workspace,
cluster, job, warehouse, pool and secret families is planted at least twice across environments.
Scale units (unit >= 1) add light, compliant resources plus one rotating violation each.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import yaml

from lakecrew.services.simulate.catalogue import AUTOSCALE, COMPLIANT_NODES
from lakecrew.services.simulate.clusters import ClusterPlan, build_cluster
from lakecrew.services.simulate.estate import SimWorkspace
from lakecrew.services.simulate.jobs import JobPlan, build_job
from lakecrew.services.simulate.model import Clock, WorkspaceBuild, rng_for
from lakecrew.services.simulate.resources import (
    build_policies,
    build_pool,
    build_scope,
    build_warehouse,
)

AUDIT_DISABLED = ("facility_registry-qa-westafrica", "lassa-prod-westafrica")


class _Ctx:
    def __init__(self, ws: SimWorkspace, unit: int, clock: Clock, seed: int) -> None:
        self.b = WorkspaceBuild(ws)
        self.rng = rng_for(seed, 1, ws.index, unit)
        self.clock, self.seed, self.unit = clock, seed, unit
        self.seq = unit * 100
        self.env = ws.environment
        self.tags = ws.mandatory_tags()

    def cluster(self, name: str, **kw: object) -> str:
        env = self.env
        kw.setdefault("node", COMPLIANT_NODES[env][1])
        kw.setdefault("autoscale", AUTOSCALE[env])
        kw.setdefault("availability", "ON_DEMAND" if env == "prod" else "SPOT_WITH_FALLBACK")
        kw.setdefault("tags", dict(self.tags))
        plan = ClusterPlan(name=f"{self.b.ws.project}-{name}", **kw)  # type: ignore[arg-type]
        return str(build_cluster(self.b, self.rng, self.clock, plan)["cluster_id"])

    def job(self, purpose: str, **kw: object) -> None:
        kw.setdefault("node", COMPLIANT_NODES[self.env][1])
        kw.setdefault("autoscale", AUTOSCALE[self.env])
        self.seq += 1
        build_job(self.b, self.rng, self.clock, JobPlan(purpose=purpose, **kw), self.seq, self.seed)  # type: ignore[arg-type]

    def without(self, *keys: str, **values: str) -> dict[str, str]:
        return {**{k: v for k, v in self.tags.items() if k not in keys}, **values}


def _baseline(c: _Ctx) -> None:
    """Fully compliant resources every workspace has."""
    env = c.env
    if env == "dev":
        c.cluster("dev-exploration", state="RUNNING", activity="active", restarted_hours_ago=3.0)
        c.cluster("dev-notebooks", node="c5.xlarge", autoterm=20)
        c.cluster("dev-single-node", node="m5.large", autoscale=None, single_node=True, autoterm=15)
    c.job("daily_ingest", period_h=24, duration_h=1.5)
    c.job("hourly_sync", period_h=1, duration_h=0.3, compute="serverless")
    for purpose in ("case_alerts", "sms_gateway_ingest", "odk_submissions", "lab_results_feed"):
        c.job(purpose, period_h=0.25, duration_h=0.06, compute="serverless", fail_rate=0.01)
    c.job("transform", period_h=6, duration_h=1.2, notifications="webhook")
    c.job("weekday_report", period_h=24, duration_h=0.8, weekdays_only=True, compute="serverless")
    c.job("quality_checks", period_h=12, duration_h=0.5, fail_rate=0.12)
    build_warehouse(c.b, c.rng, c.clock, name=f"{c.b.ws.project}-{env}-analytics")
    build_pool(c.b, c.rng, name=f"{c.b.ws.project}-{env}-pool")
    build_policies(c.b, c.rng, c.clock)
    build_scope(c.b, name=f"{c.b.ws.project}-etl")


PLANTS = "plants.yaml"
"""The planted violations per workspace, as data (format described at the top of the file)."""


@cache
def _planted() -> dict[str, list[dict[str, Any]]]:
    text = resources.files(__package__).joinpath(PLANTS).read_text(encoding="utf-8")
    loaded: dict[str, list[dict[str, Any]]] = yaml.safe_load(text)
    return loaded


def _tags(c: _Ctx, entry: dict[str, Any]) -> dict[str, str] | None:
    """The tags an entry asks for (None: the builder's default)."""
    if "tags" in entry:
        return dict(entry.pop("tags"))
    if "tags_without" in entry:
        return c.without(*entry.pop("tags_without"))
    if "tags_set" in entry:
        return c.without(**entry.pop("tags_set"))
    if "tags_only" in entry:
        return {k: c.tags[k] for k in entry.pop("tags_only")}
    return None


def _plant_one(c: _Ctx, entry: dict[str, Any], refs: dict[str, str]) -> None:
    kw = dict(entry)
    tags = _tags(c, kw)
    if tags is not None:
        kw["tags"] = tags
    if "codes" in kw:
        kw["codes"] = tuple(kw["codes"])
    if isinstance(kw.get("autoscale"), list):
        kw["autoscale"] = tuple(kw["autoscale"])
    ref, busy_on = kw.pop("ref", None), kw.pop("busy_on", None)
    if "existing_cluster" in kw:
        kw["existing_cluster_id"] = refs[kw.pop("existing_cluster")]
    if "cluster" in kw:
        cluster_id = c.cluster(kw.pop("cluster"), **kw)
        if ref:
            refs[ref] = cluster_id
    elif "job" in kw:
        c.job(kw.pop("job"), **kw)
        if busy_on:
            c.b.busy.append(
                {
                    "workspace": c.b.ws.name,
                    "cluster_id": refs[busy_on],
                    "job_id": str(c.b.jobs[-1].job_id),
                    "run_id": "latest",
                }
            )
    elif "pool" in kw:
        build_pool(c.b, c.rng, name=kw.pop("pool"), **kw)
    elif "warehouse" in kw:
        build_warehouse(c.b, c.rng, c.clock, name=kw.pop("warehouse"), **kw)
    elif "scope" in kw:
        build_scope(c.b, name=kw.pop("scope"), **kw)
    else:
        raise ValueError(f"{PLANTS}: {c.b.ws.name}: an entry without a resource kind: {entry}")


def _plant(c: _Ctx) -> None:
    """The planted violations of this workspace (plants.yaml), in file order."""
    refs: dict[str, str] = {}
    for entry in _planted().get(c.b.ws.name, []):
        _plant_one(c, entry, refs)


def _tail(c: _Ctx) -> None:
    """A light scale unit: compliant resources and one rotating planted violation."""
    env = c.env
    if env == "dev":
        c.cluster(f"dev-user-{c.unit}", usage="sporadic", history=c.unit % 5 == 0)
        c.cluster(f"dev-team-{c.unit}", node="c5.xlarge", autoterm=20, usage="sporadic")
    for k, period in enumerate((6, 6, 12, 24, 12)):
        c.job(
            f"pipeline_{c.unit}_{k}",
            period_h=period,
            duration_h=0.7,
            compute="serverless" if k == 4 else "job_cluster",
        )
    build_warehouse(
        c.b, c.rng, c.clock, name=f"{c.b.ws.project}-{env}-wh-{c.unit}", pattern="sporadic"
    )
    build_pool(c.b, c.rng, name=f"{c.b.ws.project}-{env}-pool-{c.unit}")
    build_scope(c.b, name=f"{c.b.ws.project}-scope-{c.unit}")
    rotating: tuple[Callable[[], None], ...] = (
        lambda: c.job(
            f"untagged_{c.unit}", tags=c.without("cost_center"), codes=("job.tags_missing",)
        ),
        lambda: c.job(f"no_retry_{c.unit}", retries="zero", codes=("job.retries_missing",)),
        lambda: build_pool(
            c.b, c.rng, name=f"untagged-pool-{c.unit}", tags={}, codes=("pool.tags_missing",)
        ),
        lambda: c.job(
            f"silent_{c.unit}", notifications="none", codes=("job.notifications_missing",)
        ),
    )
    rotating[(c.unit + c.b.ws.index) % len(rotating)]()


def build_unit(ws: SimWorkspace, unit: int, clock: Clock, seed: int) -> WorkspaceBuild:
    """Build unit `unit` of workspace `ws` (0 = the demo set with the planted violations)."""
    c = _Ctx(ws, unit, clock, seed)
    if unit == 0:
        _baseline(c)
        _plant(c)
        if c.env == "dev" and ws.name != "lassa-dev-westafrica":
            c.cluster("dev-history", history=True)
    else:
        _tail(c)
    return c.b
