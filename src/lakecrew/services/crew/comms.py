"""Comms: groups a sweep's news per owner and severity into notifications, writes them to the
durable outbox (the ledger's notifications table), then delivers them through a Notifier.

News = findings first seen in this sweep, and actions applied, failed or marked for a grace
period in this sweep. Nothing new → no notification. A notification's id is a digest of its
scope, owner, severity and content, so the same news is never queued twice; undelivered
notifications are retried on later sweeps (up to `max_attempts`). Evidence is already masked
(core.findings.mask_secrets) before it reaches a message.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from lakecrew.core.findings import SEVERITY_ORDER
from lakecrew.ports.ledger import ActionRow, LedgerStore, NotificationRow
from lakecrew.ports.notify import Notification, Notifier
from lakecrew.services.crew.policy_step import TrackedFinding, evidence_json

MAX_LINES = 50


def _finding_line(tf: TrackedFinding) -> str:
    f = tf.finding
    name = f" ({f.resource_name})" if f.resource_name and f.resource_name != f.resource_id else ""
    return (
        f"- {f.rule_id} on {f.resource_type} {f.resource_id}{name}: {f.title}. "
        f"Evidence: {evidence_json(f)}. Fix: {f.remediation}"
    )


def _action_line(row: ActionRow) -> str:
    if row.status == "applied":
        return (
            f"- APPLIED {row.action} on {row.kind} {row.resource_id} ({row.rule_id}); "
            f"undo with `lakecrew rollback {row.action_id}`"
        )
    if row.status == "pending":
        due = row.due_at.isoformat() if row.due_at else "later"
        return (
            f"- WILL {row.action} {row.kind} {row.resource_id} after {due} ({row.rule_id}) "
            "unless fixed or exempted"
        )
    if row.status == "awaiting_approval":
        return (
            f"- NEEDS APPROVAL {row.action} on {row.kind} {row.resource_id} ({row.rule_id}): "
            f"`lakecrew approve {row.action_id} --approver NAME`"
        )
    return f"- {row.status.upper()} {row.action} on {row.kind} {row.resource_id}: {row.reason}"


def build_notifications(
    scope: str,
    sweep_id: str,
    findings: Sequence[TrackedFinding],
    actions: Sequence[ActionRow],
    *,
    severity_of: Mapping[str, str],
    channel: str,
    now: datetime,
) -> list[NotificationRow]:
    """Group new findings and this sweep's actions per (owner, severity)."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for tf in findings:
        if tf.new and tf.status == "open":
            groups[(tf.owner, tf.finding.severity)].append(_finding_line(tf))
    for row in actions:
        if row.status in ("applied", "pending", "failed", "awaiting_approval"):
            sev = severity_of.get(row.fingerprint, "warning")
            groups[(row.owner, sev)].append(_action_line(row))
    out: list[NotificationRow] = []
    for (owner, severity), lines in sorted(
        groups.items(), key=lambda kv: (SEVERITY_ORDER.get(kv[0][1], 9), kv[0])
    ):
        ordered = sorted(lines)
        shown = ordered[:MAX_LINES]
        if len(ordered) > MAX_LINES:
            shown.append(f"... and {len(ordered) - MAX_LINES} more (see `lakecrew findings`)")
        body = "\n".join(shown)
        digest = hashlib.sha256("\x1f".join((scope, owner, severity, body)).encode()).hexdigest()
        out.append(
            NotificationRow(
                notification_id=digest[:24],
                sweep_id=sweep_id,
                workspace=scope,
                owner=owner,
                severity=severity,
                subject=f"[lakecrew] {len(ordered)} {severity} item(s) in {scope}",
                body=body,
                channel=channel,
                status="pending",
                attempts=0,
                last_error=None,
                created_at=now,
                delivered_at=None,
            )
        )
    return out


class Comms:
    """The outbox and its delivery."""

    def __init__(self, ledger: LedgerStore, notifier: Notifier, *, max_attempts: int = 5) -> None:
        self.ledger = ledger
        self.notifier = notifier
        self.max_attempts = max_attempts

    def enqueue(self, rows: Sequence[NotificationRow]) -> list[NotificationRow]:
        """Write new notifications to the outbox (ones already queued are left alone)."""
        known = {
            n.notification_id
            for n in self.ledger.notifications(rows[0].workspace if rows else None)
        }
        fresh = [r for r in rows if r.notification_id not in known]
        self.ledger.put_notifications(fresh)
        return fresh

    def deliver(self, scope: str, now: datetime) -> list[NotificationRow]:
        """Send every undelivered notification of `scope`; record each outcome in the outbox."""
        done: list[NotificationRow] = []
        for row in self.ledger.notifications(scope):
            if row.status == "delivered" or row.attempts >= self.max_attempts:
                continue
            result = self.notifier.send(
                Notification(
                    row.notification_id,
                    row.workspace,
                    row.owner,
                    row.severity,
                    row.subject,
                    row.body,
                )
            )
            done.append(
                replace(
                    row,
                    attempts=row.attempts + 1,
                    channel=self.notifier.name,
                    status="delivered" if result.delivered else "failed",
                    last_error=result.error,
                    delivered_at=now if result.delivered else None,
                )
            )
        self.ledger.put_notifications(done)
        return done
