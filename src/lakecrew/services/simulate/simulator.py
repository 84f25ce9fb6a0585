"""`simulate()`: fill sinks with the simulated estate and return its ground truth.

Labelling (how every simulated thing shows it is simulated, without touching rule inputs such as
custom tags or names): workspace conf key `lakecrew.simulated = "true"`; every person and owner
at the reserved domain `sim.ehealthafrica.example`; usage record ids and audit event ids start with
`sim<seed>-`; UC tables carry the property `lakecrew.simulated = "true"`; the lakecrew.yaml header
says SIMULATED; `report.labels` lists these for the caller (e.g. to label system tables).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from lakecrew.core.files import write_atomic
from lakecrew.core.system_tables import SYSTEM_TABLES
from lakecrew.ports.catalog import Grant, TableInfo
from lakecrew.ports.workspace import ObjectKind, WorkspaceObject
from lakecrew.services.simulate import tables as tb
from lakecrew.services.simulate.audit import audit_events
from lakecrew.services.simulate.catalogue import (
    PRICE_CHANGE,
    SIM_DOMAIN,
    SKU_ALL_PURPOSE,
    SKU_JOBS,
    price_change_time,
)
from lakecrew.services.simulate.estate import (
    SimWorkspace,
    inventory,
    shadow_workspace,
    simulated_estate_yaml,
)
from lakecrew.services.simulate.model import (
    SOP,
    Clock,
    Planted,
    SimJob,
    UsageStream,
    WorkspaceBuild,
    rng_for,
)
from lakecrew.services.simulate.plants import AUDIT_DISABLED, build_unit
from lakecrew.services.simulate.resources import workspace_conf
from lakecrew.services.simulate.uc import catalog_metadata
from lakecrew.services.simulate.usage import Anomaly, Calendar, corrections, usage_batch

LAG_HOURS = 10
STREAMS_PER_BATCH = 600
JOBS_PER_BATCH = 600
BUDGET_EXCEEDED = ("lassa-prod-westafrica", "malaria-dev-westafrica")
ANOMALIES = (  # workspace, sku family (billing_origin_product), days before as_of, days, factor
    ("malaria-prod-westafrica", "JOBS", 61, 2, 4.0),
    ("immunization-dev-westafrica", "ALL_PURPOSE", 38, 1, 5.0),
    ("lassa-qa-westafrica", "JOBS", 23, 2, 3.5),
    ("facility_registry-prod-westafrica", "SQL", 12, 1, 6.0),
)


class SimulationSink(Protocol):
    """Where the simulator writes. Repeated put_objects calls for a workspace add objects."""

    def put_objects(
        self, workspace: str, kind: ObjectKind, objects: list[WorkspaceObject]
    ) -> None: ...

    def set_workspace_conf(self, workspace: str, conf: Mapping[str, str]) -> None: ...

    def save_table(self, full_name: str, table: pa.Table, mode: str) -> None:
        """mode "overwrite" for a table's first batch, then "append"."""
        ...

    def register_table_metadata(self, info: TableInfo) -> None: ...

    def grant(self, grant: Grant) -> None: ...

    def progress(self, step: str, done: int, total: int) -> None: ...


@dataclass
class SimulationReport:
    """What was generated: counts and the ground truth (write it with write_ground_truth)."""

    seed: int
    scale: int
    as_of: date
    estate_yaml: str
    rows: dict[str, int] = field(default_factory=dict)
    resources: dict[str, int] = field(default_factory=dict)
    ground_truth: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def resource_total(self) -> int:
        return sum(self.resources.values())


class _Writer:
    def __init__(self, sink: SimulationSink, report: SimulationReport) -> None:
        self.sink, self.report = sink, report

    def save(self, name: str, table: pa.Table) -> None:
        mode = "append" if name in self.report.rows else "overwrite"
        self.report.rows[name] = self.report.rows.get(name, 0) + table.num_rows
        self.sink.save_table(name, table, mode)


def simulate(
    sinks: SimulationSink, *, seed: int = 7, scale: int = 1, as_of: date | None = None
) -> SimulationReport:
    """Generate the simulated estate into `sinks`. Same (seed, scale, as_of) → identical output."""
    if scale < 1:
        raise ValueError("scale must be >= 1")
    as_of = as_of or datetime.now(UTC).date()
    start = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) - timedelta(days=89)
    clock = Clock(start, start + timedelta(days=89, hours=LAG_HOURS))
    report = SimulationReport(seed, scale, as_of, "")
    out = _Writer(sinks, report)
    cal = Calendar(clock)
    workspaces = inventory()
    by_name = {w.name: w for w in workspaces}
    anomalies = [
        Anomaly(w, by_name[w].workspace_id, fam, _weekday(clock, cal.hours // 24 - d), n, f)
        for w, fam, d, n, f in ANOMALIES
    ]
    truth: dict[str, Any] = {"violations": [], "compliant": [], "busy_clusters": []}
    streams: list[UsageStream] = []
    jobs: list[SimJob] = []
    scd: dict[str, list[dict[str, Any]]] = {
        "system.compute.clusters": [],
        "system.compute.warehouses": [],
        "system.lakeflow.jobs": [],
    }
    costs: dict[tuple[str, int], float] = {}
    batch = [0]
    corrections_truth: list[dict[str, str]] = []

    def flush(final: bool = False) -> None:
        if streams and (final or len(streams) >= STREAMS_PER_BATCH):
            ub = usage_batch(streams, cal, seed, batch[0], anomalies)
            if batch[0] == 0:
                fix, corrections_truth[:] = corrections(
                    ub.table, rng_for(seed, 8), 6, f"sim{seed}-corr"
                )
                ub.table = pa.concat_tables([ub.table, fix])
            for k, v in ub.cost_by_ws_day.items():
                costs[k] = costs.get(k, 0.0) + v
            out.save("system.billing.usage", ub.table)
            batch[0] += 1
            streams.clear()
        if jobs and (final or len(jobs) >= JOBS_PER_BATCH):
            out.save("system.lakeflow.job_run_timeline", tb.run_timeline(jobs, clock, seed))
            jobs.clear()
        for name, rows in scd.items():
            if rows and (final or len(rows) >= 20_000):
                out.save(name, pa.Table.from_pylist(rows, schema=SYSTEM_TABLES[name]))
                rows.clear()

    running = []
    total = len(workspaces) * scale
    for wi, ws in enumerate(workspaces):
        policy = ""
        for unit in range(scale):
            b = build_unit(ws, unit, clock, seed)
            policy = policy or _interactive_policy(b)
            _under_policy(b, policy)
            if unit == 0 and ws.name == "malaria-dev-westafrica":
                _delete_one_cluster(b, clock)
            _emit(sinks, b, report)
            if unit == 0:
                sinks.set_workspace_conf(
                    ws.name, workspace_conf(ws, audit_logs=ws.name not in AUDIT_DISABLED)
                )
            for k, s in enumerate(b.streams):
                s.key = (ws.index, unit, k)
            streams.extend(b.streams)
            jobs.extend(b.jobs)
            running.extend(b.running)
            _scd_rows(b, clock, seed, unit, scd)
            truth["violations"] += [p.__dict__ for p in b.violations]
            truth["compliant"] += [
                {"workspace": ws.name, "kind": k, "resource_id": i} for k, i in b.compliant
            ]
            truth["busy_clusters"] += b.busy
            flush()
            sinks.progress("workspaces", wi * scale + unit + 1, total)
    shadow = shadow_workspace()
    streams.extend(_shadow_streams(shadow))
    flush(final=True)
    _finish(
        sinks,
        out,
        report,
        clock,
        seed,
        workspaces,
        shadow,
        running,
        truth,
        costs,
        anomalies,
        corrections_truth,
    )
    return report


MANAGED_SOURCES = ("JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "SQL", "MODELS")  # not all-purpose


def _interactive_policy(b: WorkspaceBuild) -> str:
    """The id of the workspace's SOP all-purpose cluster policy (built in unit 0)."""
    name = f"sop-{b.ws.environment}-interactive"
    return next(
        (
            o.object_id
            for o in b.objects.get(ObjectKind.CLUSTER_POLICY, [])
            if o.data["name"] == name
        ),
        "",
    )


def _under_policy(b: WorkspaceBuild, policy_id: str) -> None:
    """Every all-purpose cluster (not a job, pipeline, SQL or model-serving one) is created
    under the workspace's SOP policy (SOP 1.2.8: no unmanaged clusters); no random draw, so
    the rest of the estate is unchanged."""
    if not policy_id:
        return
    b.objects[ObjectKind.CLUSTER] = [
        replace(o, data={**o.data, "policy_id": policy_id})
        if o.data.get("cluster_source") not in MANAGED_SOURCES
        else o
        for o in b.objects.get(ObjectKind.CLUSTER, [])
    ]


def _weekday(clock: Clock, day: int) -> int:
    """The first weekday on or before `day` (spikes on quiet weekends would hide)."""
    while (clock.start + timedelta(days=day)).weekday() >= 5:
        day -= 1
    return day


def _delete_one_cluster(b: WorkspaceBuild, clock: Clock) -> None:
    """Turn the 'dev-history' cluster into a deleted one: SCD2 rows only, no REST object."""
    victim = next(
        o for o in b.objects[ObjectKind.CLUSTER] if o.data["cluster_name"].endswith("dev-history")
    )
    b.objects[ObjectKind.CLUSTER].remove(victim)
    b.compliant.remove((ObjectKind.CLUSTER.value, victim.object_id))
    b.streams = [s for s in b.streams if s.metadata.get("cluster_id") != victim.object_id]
    for h in b.history:
        if h.get("data") is victim.data:
            h["deleted_ms"] = clock.ms(clock.hours - 24 * 9)


def _emit(sinks: SimulationSink, b: WorkspaceBuild, report: SimulationReport) -> None:
    for kind in sorted(b.objects, key=lambda k: k.value):
        objs = b.objects[kind]
        sinks.put_objects(b.ws.name, kind, objs)
        report.resources[kind.value] = report.resources.get(kind.value, 0) + len(objs)


def _scd_rows(
    b: WorkspaceBuild, clock: Clock, seed: int, unit: int, scd: dict[str, list[dict[str, Any]]]
) -> None:
    for h in b.history:
        if "data" in h:
            scd["system.compute.clusters"].append(
                tb.cluster_row(b.ws, h["data"], h["change_ms"], None)
            )
            if h["deleted_ms"]:
                scd["system.compute.clusters"].append(
                    tb.cluster_row(b.ws, h["data"], h["deleted_ms"], h["deleted_ms"])
                )
        else:
            scd["system.compute.warehouses"].append(
                tb.warehouse_row(b.ws, h["warehouse"], h["change_ms"])
            )
    rng = rng_for(seed, 9, b.ws.index, unit)
    for o in b.objects.get(ObjectKind.JOB, []):
        scd["system.lakeflow.jobs"].extend(tb.job_rows(b.ws, dict(o.data), clock, rng))


def _shadow_streams(ws: SimWorkspace) -> list[UsageStream]:
    return [
        UsageStream(
            ws.workspace_id,
            SKU_ALL_PURPOSE,
            6.9,
            {},
            {"cluster_id": "0101-000000-shadow01", "node_type": "m5.2xlarge"},
            {},
            pattern="always",
            key=(ws.index, 0, 0),
        ),
        UsageStream(
            ws.workspace_id,
            SKU_JOBS,
            4.1,
            {},
            {"cluster_id": "0101-000000-shadow02", "node_type": "m5.xlarge"},
            {},
            pattern="business",
            key=(ws.index, 0, 1),
        ),
    ]


def _finish(  # noqa: PLR0913, PLR0917 - private helper of the simulator, called once
    sinks: SimulationSink,
    out: _Writer,
    report: SimulationReport,
    clock: Clock,
    seed: int,
    workspaces: list[SimWorkspace],
    shadow: SimWorkspace,
    running: list[Any],
    truth: dict[str, Any],
    costs: dict[tuple[str, int], float],
    anomalies: list[Anomaly],
    corr: list[dict[str, str]],
) -> None:
    out.save("system.compute.node_timeline", tb.node_timeline(running, clock, seed))
    out.save("system.billing.list_prices", tb.list_prices(clock))
    out.save("system.compute.node_types", tb.node_types())
    out.save("system.access.workspaces_latest", tb.workspaces_latest([*workspaces, shadow], clock))
    audit, security, planted = audit_events([w for w in workspaces if w.approved], clock, seed)
    out.save("system.access.audit", audit)
    tables, grants, uc_planted, uc_ok = catalog_metadata(workspaces, clock.now)
    for t in tables:
        sinks.register_table_metadata(t)
    for g in grants:
        sinks.grant(g)
    report.resources["tables"] = len(tables)
    budgets = _budgets(workspaces, clock, costs)
    extra = [
        Planted("workspace.unapproved", SOP["workspace.unapproved"], w.name, "workspace", w.name)
        for w in workspaces
        if not w.approved
    ]
    extra.append(
        Planted(
            "workspace.unregistered",
            SOP["workspace.unregistered"],
            shadow.name,
            "workspace",
            shadow.name,
        )
    )
    extra += [
        Planted(
            "workspace.audit_logs_disabled", SOP["workspace.audit_logs_disabled"], n, "workspace", n
        )
        for n in AUDIT_DISABLED
    ]
    extra += [
        Planted("budget.exceeded", SOP["budget.exceeded"], n, "budgets", n)  # budget named n
        for n in BUDGET_EXCEEDED
    ]
    anomaly_truth = []
    for a in anomalies:
        first = (clock.start + timedelta(days=a.start_day)).date()
        anomaly_truth.append(
            {
                "workspace": a.workspace,
                "sku_family": a.sku_family,
                "start": first.isoformat(),
                "end": (first + timedelta(days=a.days - 1)).isoformat(),
                "factor": a.factor,
            }
        )
        extra.append(
            Planted(
                "cost.anomaly",
                SOP["cost.anomaly"],
                a.workspace,
                "usage",
                f"{a.workspace}/{a.sku_family}/{first.isoformat()}",
            )
        )
    truth["violations"] += [p.__dict__ for p in (*extra, *planted, *uc_planted)]
    truth["compliant"] += [{"workspace": w, "kind": "tables", "resource_id": n} for w, n in uc_ok]
    flagged = {p.workspace for p in extra if p.kind == "workspace"}
    truth["compliant"] += [
        {"workspace": w.name, "kind": "workspace", "resource_id": w.name}
        for w in workspaces
        if w.name not in flagged
    ]
    report.ground_truth = {
        "seed": seed,
        "scale": report.scale,
        "as_of": report.as_of.isoformat(),
        "now": clock.now.isoformat(),
        **truth,
        "anomalies": anomaly_truth,
        "security_events": security,
        "corrections": corr,
        "billing_lag_day": {
            "date": report.as_of.isoformat(),
            "hours_present": clock.now.hour,
            "note": f"as_of is partial (billing lag): hours 00..{clock.now.hour - 1:02d} only",
        },
        "budgets": {n: v for n, v in budgets.items()},
        "price_changes": [
            {
                "sku": PRICE_CHANGE[0],
                "new_price": PRICE_CHANGE[1],
                "from": price_change_time(report.as_of).isoformat(),
            }
        ],
        "approvals": [],
        "notes": "No GPU/high-memory/auto-termination approvals exist in the simulated estate.",
    }
    report.estate_yaml = simulated_estate_yaml(budgets, seed=seed, as_of=report.as_of)
    report.labels = {
        "workspace_conf": "lakecrew.simulated=true",
        "domain": SIM_DOMAIN,
        "id_prefix": f"sim{seed}-",
        "table_property": "lakecrew.simulated=true",
    }


def _budgets(
    workspaces: list[SimWorkspace], clock: Clock, costs: dict[tuple[str, int], float]
) -> dict[str, float]:
    """Monthly budgets: 60 % of month-to-date spend where planted, else 3x month-to-date."""
    first = clock.now.date().replace(day=1)
    first_day = (datetime(first.year, first.month, 1, tzinfo=UTC) - clock.start).days
    out = {}
    for w in workspaces:
        mtd = sum(v for (wid, d), v in costs.items() if wid == w.workspace_id and d >= first_day)
        factor = 0.6 if w.name in BUDGET_EXCEEDED else 3.0
        out[w.name] = round(max(mtd * factor, 1.0), 2)
    return out


def write_ground_truth(report: SimulationReport, path: Path) -> None:
    """Write report.ground_truth as sorted, indented JSON (atomically)."""
    write_atomic(
        path, json.dumps(report.ground_truth, indent=2, sort_keys=True, default=str) + "\n"
    )


def scale_for(resources: int = 100_000) -> int:
    """The smallest scale whose estate has at least `resources` workspace resources (measured)."""
    per_unit_tail, base = TAIL_RESOURCES_PER_SCALE, BASE_RESOURCES
    return max(1, int(np.ceil((resources - base) / per_unit_tail)) + 1)


# Measured with simulate(NullSink) (see README): resources at scale 1, added per extra scale step.
BASE_RESOURCES = 380
TAIL_RESOURCES_PER_SCALE = 215
