"""One sweep of one workspace: Observer → Policy → Executor → Comms → Ticket, all in the ledger.

    with lock(workspace):
        record sweep (running) → reconcile crashed intents → observe → evaluate (fail loudly if
        discovered != evaluated) → plan → [apply] → verify earlier actions → findings history →
        outbox + delivery → tickets → record sweep (completed)

Phase 1 never calls a workspace mutation, with or without --apply (the plan only lists).

Observe and evaluate stream the workspace in chunks (settings.observe_chunk); only resources with
findings are kept for the plan. A listing that stops at a failed page makes the sweep partial:
findings of what was seen are recorded, findings of unseen resources are neither resolved nor
verified, nothing is applied, the sweep row says `partial`, and `raise_if_partial` lets the CLI
exit non-zero.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from lakecrew.core.errors import LakecrewError, SafetyRefusal, Transient, UsageError
from lakecrew.core.pack import Pack
from lakecrew.ports.clock import Clock
from lakecrew.ports.ledger import ActionRow, FindingRow, LedgerStore, SweepRow
from lakecrew.ports.lock import WorkspaceLocks
from lakecrew.ports.notify import Notifier
from lakecrew.ports.tickets import TicketSystem
from lakecrew.ports.workspace import Workspace
from lakecrew.services.crew.batched import (
    Batch,
    BatchedSweep,
    observation_batches,
    stale,
    system_allocator,
)
from lakecrew.services.crew.comms import Comms
from lakecrew.services.crew.executor import Executor
from lakecrew.services.crew.observer import Observer
from lakecrew.services.crew.plan import CrewSettings, Plan, blast_radius, terminations_first
from lakecrew.services.crew.policy_step import (
    EvaluationLike,
    PolicyStep,
    RuleEngine,
    TrackedFinding,
)
from lakecrew.services.crew.snapshot import (
    ListingGap,
    Snapshot,
    WorkspaceInfo,
    with_unseen_rules,
)
from lakecrew.services.policy.actions import ActionPorts

Observed = Callable[[], tuple[Snapshot, EvaluationLike]]
# a sweep's input: its batches, then (after the last) the scope's final snapshot
Source = tuple[Iterator[Batch], Callable[[], Snapshot]]


class AlertSink(Protocol):
    """Where a sweep's news goes besides the ledger's notification log (services/notify)."""

    def publish(
        self,
        scope: str,
        findings: Sequence[TrackedFinding],
        *,
        resolved: Sequence[FindingRow],
        actions: Sequence[ActionRow],
        prior_evidence: Mapping[str, str],
        now: datetime,
    ) -> Any:
        """Queue this sweep's last news (findings held for their actions' outcome, resolved
        findings, applied/failed actions), then deliver."""
        ...

    def queue(
        self,
        scope: str,
        findings: Sequence[TrackedFinding],
        *,
        actions: Sequence[ActionRow],
        prior_evidence: Mapping[str, str],
        now: datetime,
    ) -> int:
        """Queue one batch's news (new and changed findings), delivering nothing yet."""
        ...


@runtime_checkable
class ReportsSyncErrors(Protocol):
    """A ticket system (or alert sink) that keeps the errors of the remote systems it syncs."""

    def take_errors(self) -> list[str]: ...


@dataclass(frozen=True)
class CrewDeps:
    """Everything a sweep needs, built by the composition root (see wiring/crew.py)."""

    pack: Pack
    engine: RuleEngine
    ledger: LedgerStore
    notifier: Notifier
    tickets: TicketSystem
    locks: WorkspaceLocks
    observer: Observer
    clock: Clock
    settings: CrewSettings = field(default_factory=CrewSettings)
    alerts: AlertSink | None = None


@dataclass(frozen=True)
class SweepResult:
    """The outcome of one sweep (rendered by the CLI as text or JSON)."""

    sweep_id: str
    scope: str
    phase: int
    apply: bool
    discovered: int
    evaluated: int
    findings: tuple[TrackedFinding, ...]  # the first CrewSettings.result_items of them
    resolved: int
    plan: Plan
    applied: tuple[ActionRow, ...]
    failed: tuple[ActionRow, ...]
    reconciled: tuple[ActionRow, ...]
    notifications: int
    tickets: int
    refused: str | None = None
    gaps: tuple[ListingGap, ...] = ()
    notes: tuple[str, ...] = ()
    # what could not reach a tracker or channel (kept locally, retried; the run exits 1)
    sync_errors: tuple[str, ...] = ()
    discovered_by_type: Mapping[str, int] = field(default_factory=dict)
    findings_total: int | None = None  # every finding of the sweep (None: len(findings))

    @property
    def finding_count(self) -> int:
        return len(self.findings) if self.findings_total is None else self.findings_total

    @property
    def complete(self) -> bool:
        """False when a listing stopped at a failed page (the sweep saw part of the workspace)."""
        return not self.gaps

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--output json`."""
        return {
            "sweep_id": self.sweep_id,
            "workspace": self.scope,
            "phase": self.phase,
            "apply": self.apply,
            "complete": self.complete,
            "gaps": [g.as_dict() for g in self.gaps],
            "notes": list(self.notes),
            "sync_errors": list(self.sync_errors),
            "discovered": self.discovered,
            "evaluated": self.evaluated,
            "findings": [_finding_dict(tf) for tf in self.findings],
            "findings_total": self.finding_count,
            "resolved": self.resolved,
            "plan": [
                {
                    "action_id": a.action_id,
                    "action": a.action,
                    "kind": a.kind,
                    "resource_id": a.resource_id,
                    "rule": a.rule_id,
                    "status": a.status,
                    "reason": a.reason,
                    "target": dict(a.target),
                }
                for a in self.plan.actions
            ],
            "plan_total": self.plan.action_count,
            "planned_total": self.plan.runnable_count,
            "applied": [a.action_id for a in self.applied],
            "failed": [{"action_id": a.action_id, "reason": a.reason} for a in self.failed],
            "reconciled": [{"action_id": a.action_id, "status": a.status} for a in self.reconciled],
            "notifications": self.notifications,
            "tickets": self.tickets,
            "refused": self.refused,
        }


def _finding_dict(tf: TrackedFinding) -> dict[str, Any]:
    f = tf.finding
    return {
        "rule": f.rule_id,
        "resource_type": f.resource_type,
        "resource_id": f.resource_id,
        "resource_name": f.resource_name,
        "severity": f.severity,
        "fingerprint": f.fingerprint,
        "owner": tf.owner,
        "owner_source": tf.owner_source,
        "status": tf.status,
        "evidence": dict(f.evidence),
        "first_seen": tf.first_seen,
        "last_seen": tf.last_seen,
        "sop_section": f.sop_section,
    }


def new_sweep_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


class Sweeper:
    """Runs sweeps with one set of dependencies."""

    def __init__(self, deps: CrewDeps) -> None:
        self.deps = deps
        self.policy = PolicyStep(deps.engine)

    def sweep(
        self,
        ws: Workspace,
        info: WorkspaceInfo,
        *,
        phase: int,
        apply: bool,
        on_step: Callable[[str], None] | None = None,
    ) -> SweepResult:
        """Sweep one workspace under its lock; the lock is refused if another sweep holds it.
        It is read and recorded in batches of settings.observe_chunk (see batched.py)."""
        if not 1 <= phase <= 4:
            raise UsageError(f"phase {phase} is not a rollout phase", fix="use 1, 2, 3 or 4")

        def source() -> Source:
            obs = self.deps.observer.stream(ws, info)
            batches = observation_batches(obs, self.deps.engine, self.deps.settings.observe_chunk)
            return batches, lambda: with_unseen_rules(obs.snapshot(()), self.deps.pack)

        with self.deps.locks.acquire(info.name), system_allocator():
            return self._run(
                source,
                ws,
                scope=info.name,
                phase=phase,
                apply=apply,
                step=on_step or (lambda _: None),
            )

    def sweep_estate(self, inventory: Sequence[WorkspaceInfo], owner: str) -> SweepResult:
        """The estate scope (unregistered workspaces); detection only."""

        def observed() -> tuple[Snapshot, EvaluationLike]:
            snap = with_unseen_rules(
                self.deps.observer.observe_estate(inventory, owner), self.deps.pack
            )
            return snap, self.deps.engine.evaluate(snap.resources, snap.context)

        with self.deps.locks.acquire("_estate"):
            return self._run(
                _whole(observed),
                None,
                scope="(estate)",
                phase=1,
                apply=False,
                step=lambda _: None,
            )

    def sweep_scope(
        self, ports: ActionPorts, observed: Observed, *, phase: int, apply: bool
    ) -> SweepResult:
        """Sweep a scope that is not a workspace but whose actions the Executor takes through
        `ports` (the model registry: scope `(models)`), under that scope's lock: the same
        steps as a workspace sweep (plan, phase gates, intent → applied, verify, notify)."""
        if not 1 <= phase <= 4:
            raise UsageError(f"phase {phase} is not a rollout phase", fix="use 1, 2, 3 or 4")
        with self.deps.locks.acquire(ports.name):
            return self._run(
                _whole(observed),
                ports,
                scope=ports.name,
                phase=phase,
                apply=apply,
                step=lambda _: None,
            )

    def observe(self, ws: Workspace, info: WorkspaceInfo) -> tuple[Snapshot, EvaluationLike]:
        """Read and evaluate the workspace (no ledger): streamed in chunks, keeping only the
        resources with findings, or read whole first when settings.observe_chunk is 0."""
        obs = self.deps.observer.stream(ws, info)
        chunk = self.deps.settings.observe_chunk
        if chunk <= 0:
            snap = with_unseen_rules(obs.snapshot(list(obs.resources)), self.deps.pack)
            return snap, self.deps.engine.evaluate(snap.resources, snap.context)
        result, kept = self.policy.evaluate_chunks(obs.resources, obs.context, chunk)
        return with_unseen_rules(obs.snapshot(kept), self.deps.pack), result

    def _run(
        self,
        source: Callable[[], Source],
        ws: Workspace | ActionPorts | None,
        *,
        scope: str,
        phase: int,
        apply: bool,
        step: Callable[[str], None],
    ) -> SweepResult:
        d = self.deps
        start = d.clock.now()
        sweep_id = new_sweep_id(start)
        base = SweepRow(sweep_id, scope, phase, apply, start, None, 0, 0, 0, 0, "running")
        _close_dead_sweeps(d, scope, sweep_id, start)
        d.ledger.put_sweep(base)
        try:
            result = self._steps(
                source, ws, scope=scope, phase=phase, apply=apply, sweep_id=sweep_id, step=step
            )
        except LakecrewError as exc:
            d.ledger.put_sweep(_done(base, d.clock.now(), "failed", error=exc.one_line()))
            raise
        status = "completed" if result.complete else "partial"
        d.ledger.put_sweep(_done(base, d.clock.now(), status, result=result))
        return result

    def _steps(
        self,
        source: Callable[[], Source],
        ws: Workspace | ActionPorts | None,
        *,
        scope: str,
        phase: int,
        apply: bool,
        sweep_id: str,
        step: Callable[[str], None],
    ) -> SweepResult:
        d = self.deps
        executor = Executor(ws, d.ledger, d.clock) if ws is not None else None
        history_rows = d.ledger.actions(scope)
        reconciled: list[ActionRow] = []
        if executor is not None and apply and phase >= 2:
            step("reconcile")
            reconciled = executor.reconcile(history_rows)
            history_rows = d.ledger.actions(scope)
        watched = frozenset(
            r.fingerprint
            for r in history_rows
            if r.status == "applied" and r.verified_at is None and r.sweep_id != sweep_id
        )
        step("observe")
        batches, final = source()
        run = BatchedSweep(
            d,
            scope=scope,
            sweep_id=sweep_id,
            phase=phase,
            apply=apply,
            history={r.action_id: r for r in history_rows},
            watched=watched,
            lookup=executor.lookup if executor is not None else None,
            step=step,
        )
        out = run.run(batches)
        snap = final()
        step("resolve")
        resolved = stale(d, snap, sweep_id)
        d.ledger.put_findings(resolved)
        limit, refused = blast_radius(out.planned, out.evaluated, d.settings)
        plan = Plan(
            scope,
            phase,
            terminations_first(out.shown_actions),
            limit,
            refused,
            total=out.actions,
            planned=out.planned,
        )
        held = Plan(
            scope,
            phase,
            terminations_first(out.runnable),
            limit,
            refused,
        )
        applied, failed, refused = self._act(
            held, snap, executor, phase=phase, apply=apply, sweep_id=sweep_id, step=step
        )
        if executor is not None:
            earlier = [  # an action on an unseen resource cannot be verified by this sweep
                r
                for r in history_rows
                if r.sweep_id != sweep_id and snap.covers(r.kind, r.resource_id)
            ]
            d.ledger.put_actions(executor.verify(earlier, out.open_watched))
        step("notify")
        out.groups.add_actions(applied + failed, out.severity_of)
        comms = Comms(d.ledger, d.notifier)
        now = snap.taken_at
        queued = comms.enqueue(out.groups.rows(scope, sweep_id, channel=d.notifier.name, now=now))
        comms.deliver(scope, now)
        sync: list[str] = []
        if d.alerts is not None:
            published = d.alerts.publish(
                scope,
                out.deferred,
                resolved=resolved,
                actions=applied + failed + out.deferred_news,
                prior_evidence=out.deferred_prior,
                now=now,
            )
            sync += _delivery_errors(published)
        step("tickets")
        tickets = run.tickets.upsert(scope, out.deferred, applied, now)
        tickets += len(run.tickets.resolve(resolved, now))
        if isinstance(d.tickets, ReportsSyncErrors):
            sync += [f"tickets {e}" for e in d.tickets.take_errors()]
        return SweepResult(
            sweep_id=sweep_id,
            scope=scope,
            phase=phase,
            apply=apply,
            discovered=snap.discovered_total,
            evaluated=out.evaluated,
            findings=tuple(out.shown),
            findings_total=out.findings,
            resolved=len(resolved),
            plan=plan,
            applied=tuple(applied),
            failed=tuple(failed),
            reconciled=tuple(reconciled),
            notifications=len(queued),
            tickets=out.tickets + tickets,
            refused=refused,
            gaps=snap.gaps,
            notes=snap.notes,
            sync_errors=tuple(sync),
            discovered_by_type=dict(snap.discovered),
        )

    def _act(
        self,
        held: Plan,
        snap: Snapshot,
        executor: Executor | None,
        *,
        phase: int,
        apply: bool,
        sweep_id: str,
        step: Callable[[str], None],
    ) -> tuple[list[ActionRow], list[ActionRow], str | None]:
        """Apply the held runnable actions when allowed (plan-only sweeps recorded them batch
        by batch): applied, failed, refusal."""
        refused = held.refused
        if apply and not snap.complete:
            refused = "the sweep is partial (" + _gaps_text(snap.gaps) + "); nothing applied"
        if apply and executor is not None and phase >= 2 and refused is None:
            step("apply")
            report = executor.apply(held, snap, sweep_id)
            return list(report.applied), list(report.failed), refused
        return [], [], refused


def _whole(observed: Observed) -> Callable[[], Source]:
    """A scope read whole (the estate, the model registry) as a sweep source of one batch."""

    def source() -> Source:
        snap, evaluation = observed()
        return iter([(snap, evaluation, snap.discovered)]), lambda: snap

    return source


def _changed(prior: ActionRow | None, status: str, reason: str) -> bool:
    return prior is None or prior.status != status or prior.reason != reason


def _done(
    base: SweepRow,
    now: datetime,
    status: str,
    *,
    result: SweepResult | None = None,
    error: str | None = None,
) -> SweepRow:
    from dataclasses import replace

    if result is None:
        return replace(base, finished_at=now, status="failed", error=error)
    gaps = _gaps_text(result.gaps) if result.gaps else None
    return replace(
        base,
        finished_at=now,
        status="completed" if status == "completed" else "partial",
        discovered=result.discovered,
        evaluated=result.evaluated,
        findings=result.finding_count,
        actions_applied=len(result.applied),
        error="; ".join(x for x in (gaps, result.refused, *result.sync_errors) if x) or None,
        notes="; ".join(dict.fromkeys(result.notes)) or None,
    )


def _delivery_errors(published: Any) -> list[str]:
    """Channel errors of an alert sink's publish report (messages stay in the outbox)."""
    drain = getattr(published, "drain", None)
    if drain is None or not (drain.failed or drain.dead):
        return []
    return [f"channel {ch}: {reason}" for ch, reason in sorted(drain.errors.items())]


def raise_if_unsynced(results: Sequence[SweepResult]) -> None:
    """Raise Transient (exit 1) when a tracker or channel could not be reached: the findings,
    the local tickets and the outbox hold everything, but the people were not told yet."""
    errors = [e for r in results for e in r.sync_errors]
    if errors:
        raise Transient(
            f"{len(errors)} sync error(s): {'; '.join(dict.fromkeys(errors))}",
            where="trackers / channels",
            fix="findings, local tickets and outbox messages are kept; fix the tracker or "
            "channel (see the error), then the next sweep syncs tickets and "
            "`lakecrew outbox deliver` sends what is pending",
        )


def _gaps_text(gaps: Sequence[ListingGap]) -> str:
    return "; ".join(g.describe() for g in gaps)


def raise_if_partial(results: Sequence[SweepResult]) -> None:
    """Raise Transient (one line) when any sweep saw only part of its workspace."""
    partial = [r for r in results if not r.complete]
    if partial:
        r = partial[0]
        rules = sorted({rule for g in r.gaps if g.unseen for rule in g.rules})
        unseen = f"; {len(rules)} rule(s) not evaluated: {', '.join(rules)}" if rules else ""
        needs = {g.cause for g in r.gaps} & {"not_authenticated", "permission", "not_enabled"}
        fix = (
            "grant the permission or enable the feature each gap names (`--output json`: "
            "gaps[].reason), then rerun; "
            if needs
            else "rerun the sweep when the workspace answers again; "
        )
        raise Transient(
            f"sweep is partial: {_gaps_text(r.gaps)}{unseen}; discovered {r.discovered}, "
            f"evaluated {r.evaluated}, {r.finding_count} finding(s) recorded",
            where=f"workspace {r.scope}",
            fix=fix + "findings of what was not seen were left as they were",
        )


def refuse_if_blocked(result: SweepResult) -> None:
    """Raise SafetyRefusal after a sweep whose apply was refused by the blast radius."""
    if result.apply and result.refused:
        raise SafetyRefusal(
            result.refused,
            where=f"workspace {result.scope}",
            fix="findings were recorded and owners notified; review the plan "
            "(`lakecrew sweep` without --apply), then raise the limits or "
            "exempt resources",
        )


def _close_dead_sweeps(d: CrewDeps, scope: str, sweep_id: str, now: datetime) -> None:
    """A `running` row of this scope belongs to a process that died: this sweep holds the
    scope's lock, so no other sweep of it runs. Close those rows as `aborted`."""
    dead = [
        replace(
            r,
            status="aborted",
            finished_at=now,
            error=f"the sweep process ended before finishing; closed by sweep {sweep_id}",
        )
        for r in d.ledger.sweeps(scope)
        if r.status == "running" and r.workspace == scope
    ]
    for row in dead:
        d.ledger.put_sweep(row)
