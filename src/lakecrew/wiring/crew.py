"""The one sweep entry point, and the crew parts the Context builds (composition root).

    from lakecrew.wiring.crew import sweep
    with Context.open(project, writable=True) as ctx:
        results = sweep(ctx, workspace=None, apply=False, phase=1)

`sweep` is what the CLI, the demo, the benchmarks and the tests call. It sweeps one or every
local workspace at its environment's rollout phase, and — when no single workspace is named —
the estate scope too (unregistered workspaces, budgets), whose findings go to the estate owner:
the owner of the first workspace in lakecrew.yaml.

Local defaults (see Context): ledger = Delta tables `lakecrew.crew.*`; notifications = JSON lines
in `.lakecrew/outbox/notifications.jsonl`; tickets = `.lakecrew/tickets.db`; locks =
`.lakecrew/locks/<workspace>.lock`; pack = the default pack layered with lakecrew.yaml's sop_pack.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from lakecrew.core.errors import NotFound, UsageError
from lakecrew.core.pack import Pack
from lakecrew.core.resources import Resource
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.crew.cost_source import CostSource
from lakecrew.services.crew.observer import Observer
from lakecrew.services.crew.service import Target
from lakecrew.services.crew.sla_source import SlaSource
from lakecrew.services.crew.snapshot import WorkspaceInfo
from lakecrew.services.crew.sweep import SweepResult
from lakecrew.services.finops.cost import CostModel
from lakecrew.services.security.monitor import SecurityMonitor

if TYPE_CHECKING:
    from lakecrew.services.finops.cube import CostCube
    from lakecrew.wiring.context import Context

# The cost cube of the whole-estate sweep running on a Context (refreshed once per sweep).
_SWEEP_CUBES: WeakKeyDictionary[Context, CostCube] = WeakKeyDictionary()


def sweep(
    ctx: Context,
    workspace: str | None = None,
    *,
    apply: bool = False,
    phase: int | None = None,
    estate: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> list[SweepResult]:
    """Sweep `workspace` (else every local workspace, then the estate scope when `estate`).

    A whole-estate sweep with `apply` also revokes temporary grants past their expiry at
    phase >= 3 — in the project's metastore and in the Unity Catalog of each databricks
    workspace whose `(access:W)` ledger scope holds one (`wiring/governance.
    revoke_expired_everywhere`: recorded, notified, counted in the estate result's notes).
    A whole-estate sweep also sweeps the model registry as the scope `(models)` when
    `mlops.sweep` is on (`wiring/mlops.sweep_models`: its findings, and its actions — archive
    stale versions at phase >= 3, add missing tags — planned and, with `apply`, taken by the
    crew's Executor like every other action).

    A whole-estate sweep of a writable project refreshes the daily cost cube first (stale
    days only) and reads budgets and cost anomalies from it. With `assistant.triage_on_open`
    in lakecrew.yaml, each anomaly / SLA ticket the sweep opens gets a triage draft (a pending
    proposal; `wiring/assist.triage_opened`), said in the sweep's notes — a model that fails
    leaves the tickets open and the sweep's result as it was."""
    from lakecrew.wiring.assist import open_tickets, triage_on_open, triage_opened

    whole = workspace is None and estate
    triage = triage_on_open(ctx)  # opt-in: the sweep itself never needs a model
    was_open = open_tickets(ctx) if triage else set()
    if whole and ctx.writable and not _remote_billing(ctx):
        from lakecrew.wiring.finops import run_cube

        _SWEEP_CUBES[ctx] = run_cube(ctx)  # refreshed once; every cost read of the sweep
    try:
        results = ctx.crew.sweep(
            targets(ctx, workspace),
            apply=apply,
            phase=phase,
            estate=estate_inventory(ctx) if whole else (),
            estate_owner=estate_owner(ctx) if whole else None,
            on_step=on_step,
        )
    finally:
        _SWEEP_CUBES.pop(ctx, None)
    if whole and ctx.config.mlops.sweep:
        from lakecrew.wiring.mlops import sweep_models

        models = sweep_models(ctx, apply=apply, phase=phase)
        results += [models] if models is not None else []
    if triage:
        notes = triage_opened(ctx, was_open)
        results = [replace(r, notes=(*r.notes, *notes.get(r.scope, ()))) for r in results]
    if whole and apply:
        from lakecrew.wiring.governance import revoke_expired_everywhere

        lines = revoke_expired_everywhere(ctx, phase=phase)
        results = [
            replace(r, notes=(*r.notes, *lines)) if r.scope == "(estate)" else r for r in results
        ]
    return results


def _remote_billing(ctx: Context) -> bool:
    """Billing is read in place on a warehouse (Context.billing_sql's `auto` choice)."""
    return any(w.backend == "databricks" and w.warehouse_id for w in ctx.config.workspaces)


def estate_owner(ctx: Context) -> str:
    """Who receives the estate scope's findings: the first workspace's owner in lakecrew.yaml."""
    return ctx.config.workspaces[0].owner


def workspace_info(ctx: Context, name: str) -> WorkspaceInfo:
    ws = ctx.config.workspace(name)
    return WorkspaceInfo(
        ws.name,
        ws.environment,
        ws.owner,
        ws.project,
        ws.cost_center,
        ws.workspace_id,
        ws.approval.status,
    )


def _tolerant(fn: Callable[[], Iterable[Resource]]) -> list[Resource]:
    """A source's resources; none when the project has no system tables or rows for it.

    A missing table or an empty billing period (NotFound, TableMissing among them) means
    "no facts", not a failed sweep; every other error still fails the sweep loudly.
    """
    try:
        return list(fn())
    except NotFound:
        return []


def platform_source(ctx: Context, loaded: Pack, info: WorkspaceInfo) -> list[Resource]:
    """Identity, secret-rotation, audit-delivery and sign-in checks
    (`services/security/platform_source`) with the pack's `identity:` limits: through the SDK
    for a databricks workspace (audit rows on its warehouse); for a local workspace only when an
    export folder `.lakecrew/identity/<workspace>/` exists (the simulated estate has no identity
    settings), its sign-ins then read from the project's own `system.access.audit`."""
    from lakecrew.services.security.platform_source import platform_resources

    ws = ctx.config.workspace(info.name)
    if not ctx.config.crew.platform_checks:
        return []
    if ws.backend == "databricks":
        from lakecrew.adapters.databricks.identity import DatabricksIdentity

        client = ctx.workspace(info.name).client  # type: ignore[attr-defined]
        reader: Any = DatabricksIdentity(client, info.name)
        sql = ctx.workspace_sql(info.name)
    else:
        folder = ctx.layout.state_dir / "identity" / info.name
        if not folder.is_dir():
            return []
        from lakecrew.adapters.local.identity_export import IdentityExport

        reader, sql = IdentityExport(folder, info.name), None
    local_audit = ctx.workspace_sql(info.name) if ws.backend != "databricks" else None
    return platform_resources(
        info.name,
        str(info.environment),
        ctx.clock.now(),
        loaded.identity,
        reader=reader,
        sql=sql,
        workspace_id=info.workspace_id,
        delivery=ctx.log_delivery if ws.backend == "databricks" else None,
        sign_in_sql=local_audit,
    )


def build_observer(ctx: Context, loaded: Pack) -> Observer:
    """The Observer with the security monitor, cost anomalies and budgets plugged in."""
    slas = SlaSource(ctx.sql, ctx.clock, loaded.sla, lambda: gold_freshness(ctx))
    config = ctx.config

    def sql_for(info: WorkspaceInfo) -> SqlEngine | None:
        return ctx.workspace_sql(info.name)

    def security(info: WorkspaceInfo) -> list[Resource]:
        engine = sql_for(info)
        if engine is None:
            return []  # said once by the Observer: no warehouse for this workspace
        monitor = SecurityMonitor(engine, ctx.clock, loaded.security)
        return _tolerant(lambda: monitor.resources(info.workspace_id, info.name))

    def platform(info: WorkspaceInfo) -> list[Resource]:
        return platform_source(ctx, loaded, info)

    def costs(engine: SqlEngine) -> CostSource:
        # the whole-estate sweep's refreshed cost cube, when it prices the project's tables
        cube = _SWEEP_CUBES.get(ctx) if engine is ctx.sql else None
        return CostSource(engine, ctx.clock, model=CostModel(engine, cube=cube))

    # per engine, the cost and SLA sources that read ahead for the workspaces of the sweep
    # under way (Observer.prepare): billing and run history read once, not once per workspace
    ahead_costs: dict[int, CostSource] = {}
    ahead_runs: dict[int, SlaSource] = {}

    def prefetch(infos: Sequence[WorkspaceInfo]) -> None:
        ahead_costs.clear()  # what an earlier sweep read is never reused
        ahead_runs.clear()
        groups: dict[int, tuple[SqlEngine, list[WorkspaceInfo]]] = {}
        for info in infos:
            engine = sql_for(info)
            if engine is not None and info.workspace_id:
                groups.setdefault(id(engine), (engine, []))[1].append(info)
        for engine, group in groups.values():
            if len(group) < 2:
                continue
            cost = ahead_costs[id(engine)] = costs(engine)
            cost.prefetch([i.workspace_id for i in group if i.workspace_id])
            sla = ahead_runs[id(engine)] = SlaSource(engine, ctx.clock, loaded.sla)
            with contextlib.suppress(NotFound):  # each workspace then reads (and tolerates) its own
                sla.prefetch(group)

    def spikes(info: WorkspaceInfo) -> list[Resource]:
        engine = sql_for(info)
        if engine is None:
            return []
        ahead = ahead_costs.get(id(engine))
        source = ahead if ahead is not None and ahead.prefetched(info.workspace_id) else None
        return _tolerant(lambda: (source or costs(engine)).usage_resources(info))

    def budget(inventory: Sequence[WorkspaceInfo], scope: str) -> list[Resource]:
        engine, _ = ctx.billing_sql()  # account-wide billing: in place on a warehouse if any
        return _tolerant(lambda: costs(engine).budget_resources(config, scope))

    def job_slas(info: WorkspaceInfo) -> list[Resource]:
        engine = sql_for(info)
        if engine is None:
            return []
        ahead = ahead_runs.get(id(engine))
        source = ahead if ahead is not None and ahead.prefetched(info.workspace_id) else None
        return _tolerant(
            lambda: (source or SlaSource(engine, ctx.clock, loaded.sla)).workspace_resources(info)
        )

    def estate_slas(inventory: Sequence[WorkspaceInfo], scope: str) -> list[Resource]:
        return _tolerant(lambda: slas.estate_resources(inventory, scope))

    return Observer(
        ctx.clock,
        ctx.sql,
        extra_sources=(security, platform, spikes, job_slas),
        estate_sources=(budget, estate_slas),
        sql_for=sql_for,
        estate_uc=ctx.estate_uc,
        prefetch=prefetch,
    )


def targets(ctx: Context, workspace: str | None = None) -> list[Target]:
    """What `lakecrew sweep [--workspace W]` sweeps: one or every local workspace, at its
    environment's rollout phase from lakecrew.yaml — phase 1 at most for a workspace whose
    approval is not `approved`, unless `rollout.act_unapproved` names it."""
    names = [workspace] if workspace else ctx.local_workspaces()
    if not names:
        raise UsageError("no local workspaces to sweep", fix="add one to lakecrew.yaml")
    out = []
    for name in names:
        info = workspace_info(ctx, name)
        entry = ctx.config.workspace(name)
        may_act = entry.approved or name in ctx.config.rollout.act_unapproved
        out.append(
            Target(
                ctx.workspace(name),
                info,
                ctx.config.phase_for(entry.environment),
                max_phase=4 if may_act else 1,
            )
        )
    return out


def estate_inventory(ctx: Context) -> list[WorkspaceInfo]:
    return [workspace_info(ctx, w.name) for w in ctx.config.workspaces]


def gold_freshness(ctx: Context) -> dict[str, float]:
    """Gold table full name → freshness SLA hours declared in the specs the project uses
    (``specs_in_use``: its own, and the demo specs it ran), every environment. A spec that does
    not load is skipped here (`lakecrew pipeline plan` says why)."""
    from lakecrew.core.errors import LakecrewError
    from lakecrew.wiring.pipelines import load, specs_in_use

    out: dict[str, float] = {}
    for name in specs_in_use(ctx):
        for env in ("dev", "qa", "prod"):
            try:
                loaded = load(ctx, name, env)
            except LakecrewError:
                continue
            for gold in loaded.spec.gold:
                if gold.freshness_hours is not None:
                    out[loaded.full_name(gold.table)] = gold.freshness_hours
    return out


def sla_section_at(ctx: Context, as_of: datetime) -> dict[str, Any]:
    """The weekly report's SLA section (services/crew/sla_report.py) as of `as_of`, over the
    project's system tables, with the pack's targets and the specs' `freshness_hours`."""
    from lakecrew.ports.clock import FixedClock
    from lakecrew.services.crew.sla_report import sla_section

    source = SlaSource(ctx.sql, FixedClock(as_of), ctx.pack.sla, lambda: gold_freshness(ctx))
    return sla_section(source, estate_inventory(ctx))
