"""Ticket step: one ticket per finding fingerprint, upserted (never duplicated) with context,
remediation steps and rollback instructions; resolved automatically when the finding resolves.

Only findings at or above `min_severity` get a ticket. A ticket is written when its finding is
new to the ticket system, was resolved and came back, or gained an applied action; unchanged
open tickets are not rewritten on every sweep. The ledger keeps a copy (tickets table).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lakecrew.core.findings import SEVERITY_ORDER
from lakecrew.ports.ledger import ActionRow, FindingRow, LedgerStore, TicketRow
from lakecrew.ports.tickets import Ticket, TicketDraft, TicketSystem
from lakecrew.services.crew.policy_step import TrackedFinding, evidence_json


def ticket_body(tf: TrackedFinding, actions: Sequence[ActionRow]) -> str:
    """Context, remediation steps and rollback instructions of one finding."""
    f = tf.finding
    lines = [
        "Context",
        f"  workspace: {f.workspace}",
        f"  resource: {f.resource_type} {f.resource_id}"
        + (f" ({f.resource_name})" if f.resource_name else ""),
        f"  rule: {f.rule_id} (SOP {f.sop_section}), severity {f.severity}",
        f"  owner: {tf.owner} (from {tf.owner_source})",
        f"  first seen: {tf.first_seen.isoformat()}",
        f"  evidence: {evidence_json(f)}",
        "Remediation",
        f"  {f.remediation}",
        "Rollback",
    ]
    applied = [a for a in actions if a.status == "applied"]
    if applied:
        lines += [
            f"  `lakecrew rollback {a.action_id}` restores the state before {a.action}"
            for a in applied
        ]
    else:
        lines.append("  lakecrew changed nothing on this resource; nothing to roll back.")
    return "\n".join(lines)


CHUNK = 4096  # findings whose tickets are drafted and upserted at once


class TicketStep:
    """Upserts and resolves tickets through a TicketSystem, mirrored in the ledger."""

    def __init__(
        self, system: TicketSystem, ledger: LedgerStore, *, min_severity: str = "warning"
    ) -> None:
        self.system = system
        self.ledger = ledger
        self.min_rank = SEVERITY_ORDER.get(min_severity, 1)

    def run(
        self,
        scope: str,
        findings: Sequence[TrackedFinding],
        resolved: Sequence[FindingRow],
        actions: Sequence[ActionRow],
        now: datetime,
    ) -> int:
        """Upsert tickets for open findings, resolve those whose finding resolved: how many
        tickets were written."""
        return self.upsert(scope, findings, actions, now) + len(self.resolve(resolved, now))

    def upsert(
        self,
        scope: str,
        findings: Sequence[TrackedFinding],
        actions: Sequence[ActionRow],
        now: datetime,
    ) -> int:
        """Upsert the tickets of open findings (one batch of a sweep: the ticket system is
        asked only about these fingerprints), mirrored in the ledger (one write); how many
        were written. Drafts are built and upserted `CHUNK` findings at a time, so a batch's
        ticket bodies are not all in memory at once (a batch of 10,000 clusters has ~20,000)."""
        wanted = [
            tf
            for tf in findings
            if tf.status == "open" and SEVERITY_ORDER.get(tf.finding.severity, 9) <= self.min_rank
        ]
        by_fp: dict[str, list[ActionRow]] = {}
        for a in actions:
            by_fp.setdefault(a.fingerprint, []).append(a)
        rows: list[TicketRow] = []
        for at in range(0, len(wanted), CHUNK):
            drafts = self._drafts(scope, wanted[at : at + CHUNK], by_fp)
            if drafts:
                touched = self.system.upsert_many(drafts, now)
                rows.extend(_row(t, self.system.name) for t in touched)
        self.ledger.put_tickets(rows)
        return len(rows)

    def _drafts(
        self, scope: str, wanted: Sequence[TrackedFinding], by_fp: dict[str, list[ActionRow]]
    ) -> list[TicketDraft]:
        """The drafts of the findings whose ticket is not open already (or gained an applied
        action)."""
        existing = self.system.states([tf.finding.fingerprint for tf in wanted])
        drafts: list[TicketDraft] = []
        for tf in wanted:
            f = tf.finding
            fresh_action = any(a.status == "applied" for a in by_fp.get(f.fingerprint, []))
            if existing.get(f.fingerprint) == "open" and not fresh_action:
                continue
            title = f"[{f.severity}] {f.title}: {f.resource_type} {f.resource_id}"
            body = ticket_body(tf, by_fp.get(f.fingerprint, []))
            drafts.append(
                TicketDraft(
                    f.fingerprint,
                    scope,
                    f.rule_id,
                    f.resource_id,
                    f.severity,
                    tf.owner,
                    title,
                    body,
                )
            )
        return drafts

    def resolve(self, resolved: Sequence[FindingRow], now: datetime) -> list[Ticket]:
        """Resolve the tickets of resolved findings, mirrored in the ledger."""
        touched: list[Ticket] = []
        for row in resolved:
            done = self.system.resolve(
                row.fingerprint, f"finding resolved (verified by sweep {row.sweep_id})", now
            )
            if done is not None:
                touched.append(done)
        self.ledger.put_tickets([_row(t, self.system.name) for t in touched])
        return touched


def _row(t: Ticket, system: str) -> TicketRow:
    return TicketRow(
        fingerprint=t.fingerprint,
        ticket_key=t.key,
        system=system,
        workspace=t.workspace,
        rule_id=t.rule_id,
        resource_id=t.resource_id,
        owner=t.owner,
        status=t.status,
        created_at=t.created_at,
        updated_at=t.updated_at,
        resolved_at=t.resolved_at,
    )
