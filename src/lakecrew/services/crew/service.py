"""CrewService: the use cases behind `lakecrew sweep | findings | actions | rollback | exempt`.

Faces call these; the composition root (wiring/crew.py) builds the service with its ports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from lakecrew.core.errors import NotFound, SafetyRefusal, UsageError
from lakecrew.ports.ledger import ActionRow, ExemptionRow, FindingRow
from lakecrew.ports.workspace import Workspace
from lakecrew.services.crew.executor import Executor
from lakecrew.services.crew.snapshot import WorkspaceInfo
from lakecrew.services.crew.sweep import CrewDeps, Sweeper, SweepResult
from lakecrew.services.policy.actions import ActionPorts


@dataclass(frozen=True)
class Target:
    """One workspace to sweep: its port, inventory entry and rollout phase.

    `max_phase` caps any phase asked for: 1 for a workspace whose Board approval is not
    `approved` (SOP 1.1.3), unless lakecrew.yaml allows acting there (rollout.act_unapproved).
    """

    workspace: Workspace
    info: WorkspaceInfo
    phase: int
    max_phase: int = 4


class CrewService:
    """Sweeps, history queries, rollbacks and exemptions over one set of CrewDeps."""

    def __init__(self, deps: CrewDeps) -> None:
        self.deps = deps
        self.sweeper = Sweeper(deps)

    def sweep(
        self,
        targets: Sequence[Target],
        *,
        apply: bool,
        phase: int | None = None,
        estate: Sequence[WorkspaceInfo] = (),
        estate_owner: str | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> list[SweepResult]:
        """Sweep each target at its phase (or `phase` for all); then the estate scope if given."""
        self.deps.observer.prepare([t.info for t in targets])
        results = [
            self.sweeper.sweep(
                t.workspace,
                t.info,
                phase=min(phase or t.phase, t.max_phase),
                apply=apply,
                on_step=on_step,
            )
            for t in targets
        ]
        if estate and estate_owner:
            results.append(self.sweeper.sweep_estate(estate, estate_owner))
        return results

    def findings(
        self, workspace: str | None = None, status: str | None = None, rule: str | None = None
    ) -> list[FindingRow]:
        """Findings history, newest first."""
        rows = [
            r
            for r in self.deps.ledger.findings(workspace)
            if (status is None or r.status == status) and (rule is None or r.rule_id == rule)
        ]
        return sorted(rows, key=lambda r: (r.last_seen, r.fingerprint), reverse=True)

    def actions(self, workspace: str | None = None, status: str | None = None) -> list[ActionRow]:
        """Actions, newest first."""
        rows = [
            r for r in self.deps.ledger.actions(workspace) if status is None or r.status == status
        ]
        return sorted(rows, key=lambda r: (r.updated_at, r.action_id), reverse=True)

    def action(self, action_id: str) -> ActionRow:
        """One action by id (a unique prefix of at least 6 characters works too)."""
        if len(action_id) < 6:
            raise UsageError("action id too short", fix="give at least 6 characters of the id")
        hits = [r for r in self.deps.ledger.actions() if r.action_id.startswith(action_id)]
        if len(hits) != 1:
            raise NotFound(
                f"{'no' if not hits else 'more than one'} action matches {action_id!r}",
                fix="list actions with `lakecrew actions`",
            )
        return hits[0]

    def rollback(
        self,
        row: ActionRow,
        workspace: Workspace | ActionPorts,
        *,
        force: bool = False,
        resume: bool = False,
    ) -> ActionRow:
        """Restore the before-state of an applied action, under its scope's sweep lock (a
        workspace, or `ActionPorts` such as the model registry's); `resume` finishes a rollback
        a killed process left `rolling_back` (at any phase)."""
        with self.deps.locks.acquire(row.workspace, f"rollback of action {row.action_id[:12]}"):
            fresh = self.action(row.action_id)
            executor = Executor(workspace, self.deps.ledger, self.deps.clock)
            if fresh.status == "rolling_back":
                if not resume:
                    raise SafetyRefusal(
                        "this rollback was interrupted half-way",
                        where=f"action {fresh.action_id}",
                        fix=f"finish it with `lakecrew rollback {fresh.action_id[:12]} --resume`",
                    )
                return executor.reconcile([fresh])[0]
            if resume:
                raise UsageError(
                    f"action {fresh.action_id} is {fresh.status}; nothing to resume",
                    fix="--resume finishes a rollback left rolling_back",
                )
            return executor.rollback(fresh, force=force)

    def exempt(
        self,
        rule: str,
        resource_id: str,
        *,
        reason: str,
        approver: str,
        until: datetime,
        workspace: str = "*",
    ) -> ExemptionRow:
        """Record an exemption; it applies from the next sweep until `until`."""
        now = self.deps.clock.now()
        if not reason.strip() or not approver.strip():
            raise UsageError(
                "an exemption needs a reason and an approver",
                fix="pass --reason TEXT --approver NAME",
            )
        if until.tzinfo is None:
            raise UsageError("--until needs a timezone", fix="e.g. 2026-12-31T00:00:00+00:00")
        if until <= now:
            raise UsageError(
                f"--until {until.isoformat()} is in the past",
                fix="give a future date; exemptions always expire",
            )
        if rule != "*" and self.deps.pack.rule(rule) is None:
            raise NotFound(
                f"no rule {rule!r} in the SOP pack",
                fix="see rule ids with `lakecrew findings` or the pack",
            )
        row = ExemptionRow(
            rule, resource_id, reason.strip(), approver.strip(), until, now, workspace
        )
        self.deps.ledger.put_exemption(row)
        return row

    def approve(self, action_id: str, *, approver: str, reason: str = "") -> ActionRow:
        """Approve an `awaiting_approval` action, or re-approve a rolled-back one; the next
        `--apply` sweep applies it (if its finding, phase gates and safety checks still hold).
        The approver is kept in the action's reason."""
        if not approver.strip():
            raise UsageError("an approval needs an approver", fix="pass --approver NAME")
        row = self.action(action_id)
        with self.deps.locks.acquire(row.workspace, f"approval of action {row.action_id[:12]}"):
            row = self.action(row.action_id)  # read again under the lock: the status is current
            if row.status not in ("awaiting_approval", "rolled_back"):
                raise UsageError(
                    f"action {row.action_id} is {row.status}, not awaiting approval",
                    where=f"action {row.action_id} ({row.action} on {row.kind} {row.resource_id})",
                    fix="list actions awaiting approval with `lakecrew actions --status "
                    "awaiting_approval`",
                )
            now = self.deps.clock.now()
            note = f": {reason.strip()}" if reason.strip() else ""
            approved = replace(
                row,
                status="approved",
                updated_at=now,
                reason=f"approved by {approver.strip()} at {now.isoformat()}{note}",
            )
            self.deps.ledger.record_action(approved)
        return approved
