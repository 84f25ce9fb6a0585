"""LedgerStore port: the crew's durable history (findings, actions, notifications, tickets,
exemptions, sweeps), so reports and dashboards can query it with SQL.

History only grows: every action state is appended to a history (`action_history`); the current
row keeps its saved before/after states, and a `rolled_back` action stays rolled back until a
person re-approves it (`approved`). Rows are plain frozen dataclasses; structured values
(evidence, before/after states, params) travel as JSON text so every backend can store them in
a string column. Every `put_*` call is atomic per table and upserts on the row's key;
`record_action` in particular must be durable when it returns (the Executor records an intent
before each workspace call, and its completion after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

FindingStatus = Literal["open", "resolved", "exempted"]
ActionStatus = Literal[
    "planned",  # allowed, not applied (plan-only run)
    "pending",  # marked; waits for its grace period to end
    "intent",  # recorded just before the workspace call
    "applied",  # the call completed; before/after saved
    "failed",  # the call failed, or a crashed intent could not be reconciled
    "skipped",  # refused by a safety rule (reason says which)
    "awaiting_approval",  # allowed, but waits for `lakecrew approve ACTION_ID --approver NAME`
    "approved",  # approved by a human (reason names who); applied by the next --apply sweep
    "rolling_back",  # a rollback was recorded just before restoring the before-state
    "rolled_back",  # the before-state was restored
]
DeliveryStatus = Literal["pending", "delivered", "failed"]
TicketStatus = Literal["open", "resolved"]


@dataclass(frozen=True)
class FindingRow:
    """One finding's history, keyed by its stable fingerprint."""

    fingerprint: str
    workspace: str
    rule_id: str
    severity: str
    resource_type: str
    resource_id: str
    resource_name: str | None
    owner: str
    owner_source: str
    evidence_json: str
    status: FindingStatus
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    sweep_id: str
    title: str = ""


@dataclass(frozen=True)
class ActionRow:
    """One crew action, keyed by its idempotent id (fingerprint, action type, target state)."""

    action_id: str
    sweep_id: str
    workspace: str
    fingerprint: str
    rule_id: str
    action: str
    kind: str
    resource_id: str
    target_json: str
    status: ActionStatus
    reason: str
    before_json: str | None
    after_json: str | None
    owner: str
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None = None
    verified_at: datetime | None = None


@dataclass(frozen=True)
class NotificationRow:
    """One grouped notification in the outbox, keyed by a digest of its content."""

    notification_id: str
    sweep_id: str
    workspace: str
    owner: str
    severity: str
    subject: str
    body: str
    channel: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class TicketRow:
    """The ledger's copy of one ticket (one per fingerprint)."""

    fingerprint: str
    ticket_key: str
    system: str
    workspace: str
    rule_id: str
    resource_id: str
    owner: str
    status: TicketStatus
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class ExemptionRow:
    """An exemption of one resource from one rule: who approved it, why, until when."""

    rule_id: str
    resource_id: str
    reason: str
    approver: str
    until: datetime
    created_at: datetime
    workspace: str = "*"


@dataclass(frozen=True)
class SweepRow:
    """One sweep of one workspace: what it discovered, evaluated, found and did."""

    sweep_id: str
    workspace: str
    phase: int
    apply: bool
    started_at: datetime
    finished_at: datetime | None
    discovered: int
    evaluated: int
    findings: int
    actions_applied: int
    # partial: a listing failed; aborted: the process died mid-sweep (closed by the next run)
    status: Literal["running", "completed", "partial", "failed", "aborted"]
    error: str | None = None
    # what the sweep did not read and what that hides (system tables not enabled, not granted,
    # missing a column; no warehouse), "; "-joined: a complete sweep may still have read less
    notes: str | None = None


@dataclass(frozen=True)
class FindingFilter:
    """Findings matching every given value (None: any)."""

    workspace: str | None = None
    rule_id: str | None = None
    severity: str | None = None
    owner: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class FindingPage:
    """One page of findings, newest first (`last_seen`, then fingerprint), computed in the
    store: the page's rows, how many match, how many match per severity, and the values each
    filterable column takes over ALL findings (so a filter never hides its own choices)."""

    rows: list[FindingRow]
    total: int
    by_severity: dict[str, int]
    choices: dict[str, list[str]]


@dataclass(frozen=True)
class PriorFinding:
    """What a sweep needs of a stored finding to track it: status, first seen, the sweep that
    wrote it last, and (when asked for) its evidence."""

    status: FindingStatus
    first_seen: datetime
    sweep_id: str
    evidence_json: str | None = None


class PriorFindings(Protocol):
    """A scope's stored findings, looked up a batch of fingerprints at a time (a streamed
    sweep never holds the scope's finding rows as objects)."""

    def get(self, fingerprints: Sequence[str]) -> dict[str, PriorFinding]: ...


class LedgerStore(Protocol):
    """Durable upserts and reads of the crew's history."""

    def put_findings(self, rows: Sequence[FindingRow], *, new: bool = False) -> None:
        """Upsert findings on fingerprint (one commit). `new=True`: the caller knows no row
        has any of these fingerprints yet (the store may append instead of merging)."""
        ...

    def findings(self, workspace: str | None = None) -> list[FindingRow]: ...

    def prior_findings(self, workspace: str, *, evidence: bool = False) -> PriorFindings:
        """The workspace's findings as they are now, for lookups by fingerprint (read once,
        held compactly by the store)."""
        ...

    def stale_findings(self, workspace: str, sweep_id: str) -> list[FindingRow]:
        """The workspace's findings not resolved and last written by another sweep than
        `sweep_id` (after a sweep wrote every finding it saw: the ones it did not see)."""
        ...

    def finding_page(self, flt: FindingFilter, *, limit: int, offset: int) -> FindingPage:
        """Filter, count and page the findings in the store (not in the caller's memory)."""
        ...

    def open_counts(self) -> dict[tuple[str, str, str], int]:
        """Open findings per (workspace, rule_id, severity), counted in the store."""
        ...

    def record_action(self, row: ActionRow) -> None:
        """Upsert one action on action_id, durably, before returning."""
        ...

    def put_actions(self, rows: Sequence[ActionRow], *, new: bool = False) -> None:
        """Record action states (history appended, current row upserted). `new=True`: the
        caller knows none of these action ids is stored yet (the store may append)."""
        ...

    def actions(self, workspace: str | None = None) -> list[ActionRow]: ...

    def action_history(self, workspace: str | None = None) -> list[ActionRow]:
        """Every state ever recorded for each action, oldest first (append-only)."""
        ...

    def put_notifications(self, rows: Sequence[NotificationRow]) -> None: ...

    def notifications(self, workspace: str | None = None) -> list[NotificationRow]: ...

    def put_tickets(self, rows: Sequence[TicketRow]) -> None: ...

    def tickets(self, workspace: str | None = None) -> list[TicketRow]: ...

    def put_exemption(self, row: ExemptionRow) -> None: ...

    def exemptions(self) -> list[ExemptionRow]: ...

    def put_sweep(self, row: SweepRow) -> None: ...

    def sweeps(self, workspace: str | None = None) -> list[SweepRow]: ...
