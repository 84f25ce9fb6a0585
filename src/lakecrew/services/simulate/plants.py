"""Assemble one workspace unit: compliant baseline + the planted violations (the ground truth).

Unit 0 of each inventory workspace is the demo set; every violation code of the workspace,
cluster, job, warehouse, pool and secret families is planted at least twice across environments.
Scale units (unit >= 1) add light, compliant resources plus one rotating violation each.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _plant(c: _Ctx) -> None:
    ws = c.b.ws.name
    t = c.tags
    if ws == "malaria-dev-westafrica":
        c.cluster("dev-adhoc", tags=c.without("owner"), codes=("cluster.tags_missing",))
        c.cluster(
            "dev-forgotten",
            state="RUNNING",
            activity="idle",
            autoterm=0,
            restarted_hours_ago=70,
            idle_hours=26,
            codes=("cluster.idle", "cluster.autotermination_disabled"),
        )
        c.cluster("dev-gpu-experiment", node="g4dn.xlarge", codes=("cluster.gpu_unapproved",))
        build_scope(c.b, name="malaria-shared", broad="READ", codes=("secret.acl_too_broad",))
    elif ws == "lassa-dev-westafrica":
        c.cluster("dev-bigmem", node="m5.2xlarge", codes=("cluster.size_out_of_policy",))
        c.cluster("dev-long-timeout", autoterm=120, codes=("cluster.autotermination_too_long",))
        c.cluster("dev-fixed", autoscale=None, num_workers=2, codes=("cluster.autoscale_disabled",))
        busy = c.cluster("dev-shared-etl", state="RUNNING", activity="busy", restarted_hours_ago=5)
        c.job(
            "backfill_on_shared",
            period_h=24,
            duration_h=4,
            compute="existing",
            existing_cluster_id=busy,
            in_progress=True,
        )
        c.b.busy.append(
            {
                "workspace": ws,
                "cluster_id": busy,
                "job_id": str(c.b.jobs[-1].job_id),
                "run_id": "latest",
            }
        )
        c.job(
            "line_list_export",
            run_as=False,
            tags=c.without("owner"),
            codes=("job.owner_missing", "job.tags_missing"),
        )
    elif ws == "immunization-dev-westafrica":
        c.cluster(
            "dev-overnight",
            state="RUNNING",
            activity="idle",
            autoterm=240,
            restarted_hours_ago=5,
            idle_hours=3,
            codes=("cluster.idle", "cluster.autotermination_too_long"),
        )
        c.cluster("dev-never-stops", autoterm=0, codes=("cluster.autotermination_disabled",))
        c.cluster("dev-wide", autoscale=(1, 4), codes=("cluster.autoscale_out_of_bounds",))
        c.cluster("dev-ondemand", availability="ON_DEMAND", codes=("cluster.spot_required",))
        c.job("coverage_model", notifications="none", codes=("job.notifications_missing",))
    elif ws == "facility_registry-dev-westafrica":
        c.cluster(
            "dev-weekend",
            state="RUNNING",
            activity="idle",
            autoterm=None,
            restarted_hours_ago=30,
            idle_hours=8,
            codes=("cluster.idle", "cluster.autotermination_disabled"),
        )
        c.job("geocode", tags=c.without("cost_center"), codes=("job.tags_missing",))
        c.job("dhis2_pull", secret="param", codes=("job.hardcoded_secret",))
        build_pool(
            c.b,
            c.rng,
            name="facility-adhoc-pool",
            tags={"owner": t["owner"]},
            codes=("pool.tags_missing",),
        )
    elif ws == "malaria-qa-westafrica":
        c.cluster("qa-debug", source="UI", autoterm=30, codes=("cluster.interactive_outside_dev",))
        c.cluster(
            "qa-submit-run",
            source="JOB",
            autoterm=0,
            availability="ON_DEMAND",
            usage="sporadic",
            codes=("cluster.spot_required",),
        )
        c.job("case_dedup", retries="zero", codes=("job.retries_missing",))
        build_warehouse(
            c.b,
            c.rng,
            c.clock,
            name="malaria-qa-bi",
            auto_stop=120,
            codes=("warehouse.autostop_missing",),
        )
    elif ws == "lassa-qa-westafrica":
        c.cluster(
            "qa-airflow-run",
            source="JOB",
            autoterm=0,
            tags={},
            usage="sporadic",
            codes=("cluster.tags_missing",),
        )
        c.cluster(
            "qa-memory-run",
            source="JOB",
            autoterm=0,
            node="r5.4xlarge",
            usage="sporadic",
            codes=("cluster.size_out_of_policy",),
        )
        c.job(
            "contact_tracing",
            run_as=False,
            tags=c.without("owner"),
            codes=("job.owner_missing", "job.tags_missing"),
        )
        build_scope(c.b, name="lassa-shared", broad="MANAGE", codes=("secret.acl_too_broad",))
    elif ws == "immunization-qa-westafrica":
        c.cluster(
            "qa-prod-copy",
            source="JOB",
            autoterm=0,
            usage="sporadic",
            tags=c.without(environment="prod"),
            codes=("cluster.tags_environment_mismatch",),
        )
        c.cluster(
            "qa-fixed-run",
            source="JOB",
            autoterm=0,
            autoscale=None,
            num_workers=3,
            usage="sporadic",
            codes=("cluster.autoscale_disabled",),
        )
        c.job("stock_sync", secret="env", codes=("job.hardcoded_secret",))
        build_warehouse(
            c.b,
            c.rng,
            c.clock,
            name="immunization-qa-adhoc",
            tags={"project": "immunization"},
            codes=("warehouse.tags_missing",),
        )
    elif ws == "facility_registry-qa-westafrica":
        c.cluster(
            "qa-x1-run",
            source="JOB",
            autoterm=0,
            node="x1.16xlarge",
            usage="sporadic",
            codes=("cluster.high_memory_unapproved", "cluster.size_out_of_policy"),
        )
        build_pool(
            c.b, c.rng, name="facility-qa-legacy-pool", tags={}, codes=("pool.tags_missing",)
        )
    elif ws == "malaria-prod-westafrica":
        c.cluster(
            "prod-copied-config",
            source="JOB",
            autoterm=0,
            usage="sporadic",
            tags=c.without(environment="dev"),
            codes=("cluster.tags_environment_mismatch",),
        )
        shared = c.cluster(
            "prod-shared",
            source="API",
            autoterm=30,
            usage="none",
            codes=("cluster.interactive_outside_dev",),
        )
        c.job(
            "dashboard_refresh",
            compute="existing",
            existing_cluster_id=shared,
            period_h=6,
            codes=("job.all_purpose_compute",),
        )
        c.job("case_notifications", notifications="empty", codes=("job.notifications_missing",))
        build_warehouse(
            c.b,
            c.rng,
            c.clock,
            name="malaria-prod-always-on",
            auto_stop=0,
            codes=("warehouse.autostop_missing",),
        )
    elif ws == "lassa-prod-westafrica":
        c.cluster(
            "prod-huge-run",
            source="JOB",
            autoterm=0,
            autoscale=(4, 24),
            usage="sporadic",
            codes=("cluster.size_out_of_policy", "cluster.autoscale_out_of_bounds"),
        )
        c.cluster(
            "prod-gpu-run",
            source="JOB",
            autoterm=0,
            node="g5.4xlarge",
            usage="sporadic",
            codes=("cluster.gpu_unapproved",),
        )
        c.job("outbreak_forecast", retries="absent", codes=("job.retries_missing",))
    elif ws == "immunization-prod-westafrica":
        shared = c.cluster(
            "prod-notebook",
            source="UI",
            autoterm=30,
            usage="none",
            codes=("cluster.interactive_outside_dev",),
        )
        c.job(
            "coverage_dashboard",
            compute="existing",
            existing_cluster_id=shared,
            period_h=12,
            codes=("job.all_purpose_compute",),
        )
        c.cluster(
            "prod-r5-16x",
            source="JOB",
            autoterm=0,
            node="r5.16xlarge",
            usage="sporadic",
            codes=("cluster.high_memory_unapproved", "cluster.size_out_of_policy"),
        )
        c.job("census_join", tags=c.without("environment"), codes=("job.tags_missing",))
        build_warehouse(
            c.b,
            c.rng,
            c.clock,
            name="immunization-prod-untagged",
            tags={},
            codes=("warehouse.tags_missing",),
        )
    elif ws == "facility_registry-prod-westafrica":
        c.cluster(
            "prod-no-cc",
            source="JOB",
            autoterm=0,
            usage="sporadic",
            tags=c.without(cost_center=""),
            codes=("cluster.tags_missing",),
        )
        c.cluster(
            "prod-small-min",
            source="JOB",
            autoterm=0,
            autoscale=(2, 8),
            usage="sporadic",
            codes=("cluster.autoscale_out_of_bounds",),
        )
        c.job("registry_publish", period_h=24, duration_h=6, in_progress=True)


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
