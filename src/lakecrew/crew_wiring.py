"""Builders of the crew's services for a Context (composition root, next to context.py).

    from lakecrew.crew_wiring import crew_service, targets
    svc = crew_service(ctx)
    results = svc.sweep(targets(ctx, "malaria-dev-westafrica"), apply=False)

Local defaults: ledger = Delta tables `lakecrew.crew.*`; notifications = JSON lines in
`.lakecrew/outbox/notifications.jsonl` (file channel); tickets = `.lakecrew/tickets.db`; locks =
`.lakecrew/locks/<workspace>.lock`; pack = the default pack layered with lakecrew.yaml's sop_pack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from lakecrew.adapters.local.channels import FileChannel
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
from lakecrew.adapters.local.lock import FileLocks
from lakecrew.adapters.local.ticket_store import LocalTicketStore
from lakecrew.core.errors import LakecrewError, NotFound, UsageError
from lakecrew.core.pack import Pack
from lakecrew.core.resources import Resource
from lakecrew.notify_wiring import alert_pipeline
from lakecrew.services.crew.cost_source import CostSource
from lakecrew.services.crew.observer import Observer
from lakecrew.services.crew.plan import CrewSettings
from lakecrew.services.crew.service import CrewService, Target
from lakecrew.services.crew.snapshot import WorkspaceInfo
from lakecrew.services.crew.sweep import CrewDeps
from lakecrew.services.policy.engine import Engine
from lakecrew.services.policy.loader import DEFAULT_PACK, load_pack
from lakecrew.services.security.monitor import SecurityMonitor

if TYPE_CHECKING:
    from lakecrew.context import Context


def pack(ctx: Context) -> Pack:
    """The SOP pack of the project (default pack, plus lakecrew.yaml's `sop_pack` overlay)."""
    overlay = ctx.config.sop_pack_path(ctx.layout.root)
    sources = (DEFAULT_PACK,) if overlay is None else (DEFAULT_PACK, overlay)
    return load_pack(sources).pack


def ledger(ctx: Context) -> DeltaLedgerStore:
    return DeltaLedgerStore(ctx.store, ctx.metastore)


def notifier(ctx: Context) -> FileChannel:
    return FileChannel(ctx.layout.state_dir / "outbox" / "notifications.jsonl")


def tickets(ctx: Context) -> LocalTicketStore:
    return LocalTicketStore(ctx.layout.state_dir / "tickets.db")


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


def crew_settings(ctx: Context) -> CrewSettings:
    """CrewSettings from lakecrew.yaml's `crew:` section (its defaults = the code's)."""
    c = ctx.config.crew
    return CrewSettings(
        max_actions=c.max_actions,
        max_percent=c.max_percent,
        grace_hours={str(k): v for k, v in c.grace_hours.items()},
        ticket_min_severity=c.ticket_min_severity,
        approvals_required_for=frozenset(c.approvals_required_for),
    )


def _tolerant(fn: Callable[[], Iterable[Resource]]) -> list[Resource]:
    """A source's resources; none when the project has no system tables or rows for it.

    A missing table or an empty billing period (NotFound) means "no facts", not a failed sweep;
    every other error still fails the sweep loudly.
    """
    try:
        return list(fn())
    except NotFound:
        return []
    except LakecrewError as exc:
        if "does not exist" in exc.what:
            return []
        raise


def observer(ctx: Context, loaded: Pack) -> Observer:
    """The Observer with the security monitor, cost anomalies and budgets plugged in."""
    monitor = SecurityMonitor(ctx.sql, ctx.clock, loaded.security)
    costs = CostSource(ctx.sql, ctx.clock)
    config = ctx.config

    def security(info: WorkspaceInfo) -> list[Resource]:
        return _tolerant(lambda: monitor.resources(info.workspace_id, info.name))

    def spikes(info: WorkspaceInfo) -> list[Resource]:
        return _tolerant(lambda: costs.usage_resources(info))

    def budget(inventory: Sequence[WorkspaceInfo], scope: str) -> list[Resource]:
        return _tolerant(lambda: costs.budget_resources(config, scope))

    return Observer(
        ctx.clock,
        ctx.sql,
        catalog=ctx.metastore,
        grants=ctx.metastore,
        extra_sources=(security, spikes),
        estate_sources=(budget,),
    )


def crew_deps(ctx: Context, settings: CrewSettings | None = None) -> CrewDeps:
    loaded = pack(ctx)
    return CrewDeps(
        pack=loaded,
        engine=Engine(loaded),
        ledger=ledger(ctx),
        notifier=notifier(ctx),
        tickets=tickets(ctx),
        locks=FileLocks(ctx.layout.locks_dir),
        observer=observer(ctx, loaded),
        clock=ctx.clock,
        settings=settings or crew_settings(ctx),
        alerts=alert_pipeline(ctx),
    )


def crew_service(ctx: Context, settings: CrewSettings | None = None) -> CrewService:
    """The crew's use cases for this project."""
    return CrewService(crew_deps(ctx, settings))


def targets(ctx: Context, workspace: str | None = None) -> list[Target]:
    """What `lakecrew sweep [--workspace W]` sweeps: one or every local workspace, at its
    environment's rollout phase from lakecrew.yaml."""
    names = [workspace] if workspace else ctx.local_workspaces()
    if not names:
        raise UsageError("no local workspaces to sweep", fix="add one to lakecrew.yaml")
    out = []
    for name in names:
        info = workspace_info(ctx, name)
        out.append(
            Target(
                ctx.workspace(name),
                info,
                ctx.config.phase_for(ctx.config.workspace(name).environment),
            )
        )
    return out


def estate_inventory(ctx: Context) -> list[WorkspaceInfo]:
    return [workspace_info(ctx, w.name) for w in ctx.config.workspaces]
