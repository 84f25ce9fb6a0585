"""Executor: applies a Plan through the Workspace port (or, in the `(models)` scope, the model
registry: `ActionPorts`), crash-safely, and can roll back.

What each action checks, calls, recognises as done and restores is its own class's business
(services/policy/actions); the Executor owns the ledger protocol around the call.

For every action: re-read the object → re-check safety on the live state → record an `intent`
row holding the before-state (one durable ledger commit) → call the workspace → record `applied`
with the after-state. A kill -9 at any point leaves either no row (nothing happened), an intent
(reconciled on the next run), or an applied row. Reconciling an intent reads the object:
  - already in the target state → applied (the call had completed);
  - still equal to the saved before-state → planned again (the call never happened);
  - anything else → failed with a clear reason (someone else changed it; never repeated blindly).
Rollbacks record `rolling_back` before restoring and `rolled_back` after, reconciled the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lakecrew.core.errors import LakecrewError, NotFound, SafetyRefusal
from lakecrew.core.redact import Unrecoverable, redact, restore_redacted
from lakecrew.core.resources import Resource
from lakecrew.ports.clock import Clock
from lakecrew.ports.ledger import ActionRow, LedgerStore
from lakecrew.ports.workspace import ObjectKind, Workspace
from lakecrew.services.crew.plan import Plan, PlannedAction, canonical, workload
from lakecrew.services.crew.snapshot import Snapshot
from lakecrew.services.policy.actions import ActionPorts, plugin


@dataclass(frozen=True)
class ApplyReport:
    """What an apply did: rows applied, failed and skipped at apply time."""

    applied: tuple[ActionRow, ...]
    failed: tuple[ActionRow, ...]
    skipped: tuple[ActionRow, ...]


def satisfies(action: str, kind: str, target: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """True when `data` (an object's REST JSON) is already in the action's target state."""
    return plugin(action).satisfied(kind, target, data)


def exact(state: Mapping[str, Any]) -> str:
    """JSON text of a state with its key order kept, so a rollback restores it byte for byte."""
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False)


def _same(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Equal states, compared as the ledger stores them (redacted, core/redact.py)."""
    return a is not None and b is not None and canonical(redact(a)) == canonical(redact(b))


def _unredacted(row: ActionRow, before: Any, live: Mapping[str, Any] | None) -> dict[str, Any]:
    """The saved before-state with its redacted secrets/PII taken back from the live object."""
    try:
        return dict(restore_redacted(before, live))
    except Unrecoverable as exc:
        raise SafetyRefusal(
            f"the saved before-state held a redacted secret or PII value at {exc} that the "
            "live object no longer has; restoring would write the placeholder",
            where=f"action {row.action_id} ({row.action} on {row.kind} {row.resource_id})",
            fix="restore that field by hand (secret values are never stored in the ledger)",
        ) from None


class Executor:
    """Applies plans, reconciles crashed intents, rolls back, and verifies fixes."""

    def __init__(self, ws: Workspace | ActionPorts, ledger: LedgerStore, clock: Clock) -> None:
        self.ports = ws if isinstance(ws, ActionPorts) else ActionPorts.of(ws)
        self.ledger = ledger
        self.clock = clock

    def _now(self) -> datetime:
        return self.clock.now()

    def _live(self, action: str, kind: str, object_id: str) -> dict[str, Any] | None:
        return plugin(action).current(self.ports, kind, object_id)

    def lookup(self, kind: str, object_id: str) -> Resource | None:
        """The live workspace object as a Resource (the plan reads jobs it acts on but did not
        keep); None in a scope without a workspace."""
        ws = self.ports.workspace
        if ws is None:
            return None
        try:
            data = dict(ws.get(ObjectKind(kind), object_id).data)
        except NotFound:
            return None
        return Resource(kind, object_id, ws.name, data)

    # ---- apply -----------------------------------------------------------------------------

    def apply(self, plan: Plan, snap: Snapshot, sweep_id: str) -> ApplyReport:
        """Apply the plan's runnable actions; SafetyRefusal when the blast radius is exceeded."""
        if plan.refused is not None:
            raise SafetyRefusal(
                plan.refused,
                where=f"workspace {plan.scope}",
                fix="review the plan; raise crew max_actions/max_percent, or "
                "sweep with exemptions for the resources that must not change",
            )
        applied: list[ActionRow] = []
        failed: list[ActionRow] = []
        skipped: list[ActionRow] = []
        for pa in plan.runnable:
            row = self.apply_one(pa, snap, sweep_id, plan.scope)
            {"applied": applied, "failed": failed}.get(row.status, skipped).append(row)
        return ApplyReport(tuple(applied), tuple(failed), tuple(skipped))

    def apply_one(self, pa: PlannedAction, snap: Snapshot, sweep_id: str, scope: str) -> ActionRow:
        """Re-check on the live object, record the intent, call, record the completion."""
        live = self._live(pa.action, pa.kind, pa.resource_id)
        now = self._now()
        if live is None:
            row = pa.row(sweep_id, scope, now, status="skipped", reason="object no longer exists")
            self.ledger.record_action(row)
            return row
        res = Resource(pa.kind, pa.resource_id, scope, live)
        act = plugin(pa.action)
        unsafe = act.refusal(res, workload(snap), pa.target)
        if unsafe is None and act.satisfied(pa.kind, pa.target, live):
            unsafe = "already in the target state"
        if unsafe is not None:
            row = pa.row(sweep_id, scope, now, status="skipped", reason=unsafe)
            self.ledger.record_action(row)
            return row
        intent = pa.row(
            sweep_id,
            scope,
            now,
            status="intent",
            reason=f"calling {'the workspace' if self.ports.workspace else self.ports.name}",
            before_json=exact(live),
        )
        self.ledger.record_action(intent)  # durable BEFORE the call
        return self._complete(intent, pa.target)

    def _complete(self, intent: ActionRow, target: Mapping[str, Any]) -> ActionRow:
        try:
            act = plugin(intent.action)
            after = act.perform(self.ports, intent.kind, intent.resource_id, target)
        except LakecrewError as exc:
            row = replace(
                intent,
                status="failed",
                updated_at=self._now(),
                reason=f"call failed: {exc.one_line()}",
            )
            self.ledger.record_action(row)
            return row
        row = replace(
            intent,
            status="applied",
            updated_at=self._now(),
            reason="applied",
            after_json=exact(after),
        )
        self.ledger.record_action(row)
        return row

    # ---- crash recovery --------------------------------------------------------------------

    def reconcile(self, rows: Sequence[ActionRow]) -> list[ActionRow]:
        """Settle every `intent`/`rolling_back` row left by a crashed run (see module doc)."""
        out: list[ActionRow] = []
        for row in rows:
            if row.status == "intent":
                out.append(self._reconcile_intent(row))
            elif row.status == "rolling_back":
                out.append(self._reconcile_rollback(row))
        return out

    def _reconcile_intent(self, row: ActionRow) -> ActionRow:
        live = self._live(row.action, row.kind, row.resource_id)
        before = json.loads(row.before_json) if row.before_json else None
        target = json.loads(row.target_json)
        now = self._now()
        if live is not None and satisfies(row.action, row.kind, target, redact(live)):
            fixed = replace(
                row,
                status="applied",
                updated_at=now,
                after_json=exact(live),
                reason="applied (confirmed after an interrupted run)",
            )
        elif live is not None and _same(live, before):
            fixed = replace(
                row,
                status="planned",
                updated_at=now,
                reason="interrupted before the call; planned again",
            )
        else:
            fixed = replace(
                row,
                status="failed",
                updated_at=now,
                reason="reconcile: the object changed since the interrupted action "
                "(neither before nor target state); not repeated",
            )
        self.ledger.record_action(fixed)
        return fixed

    def _reconcile_rollback(self, row: ActionRow) -> ActionRow:
        live = self._live(row.action, row.kind, row.resource_id)
        before = json.loads(row.before_json) if row.before_json else None
        after = json.loads(row.after_json) if row.after_json else None
        if _same(live, before):
            fixed = replace(
                row,
                status="rolled_back",
                updated_at=self._now(),
                reason="rolled back (confirmed after an interrupted run)",
            )
            self.ledger.record_action(fixed)
            return fixed
        if _same(live, after) and before is not None:
            try:
                return self._restore(row, _unredacted(row, before, live))
            except SafetyRefusal as exc:
                failed = replace(row, status="failed", updated_at=self._now(), reason=exc.what)
                self.ledger.record_action(failed)
                return failed
        fixed = replace(
            row,
            status="failed",
            updated_at=self._now(),
            reason="reconcile: object changed during an interrupted rollback",
        )
        self.ledger.record_action(fixed)
        return fixed

    # ---- rollback and verification ---------------------------------------------------------

    def rollback(self, row: ActionRow, *, force: bool = False) -> ActionRow:
        """Restore the saved before-state of an applied action (refused if changed since)."""
        where = f"action {row.action_id} ({row.action} on {row.kind} {row.resource_id})"
        if row.status != "applied" or row.before_json is None:
            raise SafetyRefusal(
                f"only applied actions can be rolled back; this one is {row.status}",
                where=where,
                fix="list actions with `lakecrew actions`",
            )
        live = self._live(row.action, row.kind, row.resource_id)
        after = json.loads(row.after_json) if row.after_json else None
        if not force and not _same(live, after):
            raise SafetyRefusal(
                "the object changed after the action; restoring would overwrite those changes",
                where=where,
                fix="inspect it, then re-run with --force to restore anyway",
            )
        before = _unredacted(row, json.loads(row.before_json), live)
        pending = replace(
            row, status="rolling_back", updated_at=self._now(), reason="restoring the before-state"
        )
        self.ledger.record_action(pending)
        return self._restore(pending, before)

    def _restore(self, row: ActionRow, before: Mapping[str, Any]) -> ActionRow:
        plugin(row.action).undo(self.ports, row.kind, row.resource_id, before)
        done = replace(
            row,
            status="rolled_back",
            updated_at=self._now(),
            reason="rolled back: before-state restored",
        )
        self.ledger.record_action(done)
        return done

    def verify(self, rows: Sequence[ActionRow], open_fingerprints: set[str]) -> list[ActionRow]:
        """Mark applied actions verified when their finding is gone; note when it persists."""
        out: list[ActionRow] = []
        now = self._now()
        for row in rows:
            if row.status != "applied" or row.verified_at is not None:
                continue
            if row.fingerprint not in open_fingerprints:
                out.append(
                    replace(
                        row,
                        verified_at=now,
                        updated_at=now,
                        reason="applied; verified by the next sweep",
                    )
                )
            elif "persists" not in row.reason:
                out.append(
                    replace(
                        row,
                        updated_at=now,
                        reason="applied, but the finding persists; review by hand",
                    )
                )
        return out
