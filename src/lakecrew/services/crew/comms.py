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
import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
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


class NotificationGroups:
    """A sweep's news grouped per (owner, severity), fed batch by batch in bounded memory: each
    group keeps its count and its MAX_LINES smallest lines (what a message shows), never every
    line, so a million findings cost one heap per group."""

    def __init__(self) -> None:
        self._count: dict[tuple[str, str], int] = defaultdict(int)
        self._shown: dict[tuple[str, str], list[_Reverse]] = defaultdict(list)

    def _add(self, key: tuple[str, str], line: str) -> None:
        self._count[key] += 1
        heap = self._shown[key]
        item = _Reverse(line)
        if len(heap) < MAX_LINES:
            heapq.heappush(heap, item)
        elif line < heap[0].line:  # the largest kept line gives way
            heapq.heapreplace(heap, item)

    def add_findings(self, findings: Iterable[TrackedFinding]) -> None:
        for tf in findings:
            if tf.new and tf.status == "open":
                self._add((tf.owner, tf.finding.severity), _finding_line(tf))

    def add_actions(self, actions: Iterable[ActionRow], severity_of: Mapping[str, str]) -> None:
        for row in actions:
            if row.status in ("applied", "pending", "failed", "awaiting_approval"):
                sev = severity_of.get(row.fingerprint, "warning")
                self._add((row.owner, sev), _action_line(row))

    def rows(
        self, scope: str, sweep_id: str, *, channel: str, now: datetime
    ) -> list[NotificationRow]:
        out: list[NotificationRow] = []
        for (owner, severity), total in sorted(
            self._count.items(), key=lambda kv: (SEVERITY_ORDER.get(kv[0][1], 9), kv[0])
        ):
            shown = sorted(r.line for r in self._shown[(owner, severity)])
            if total > MAX_LINES:
                shown.append(f"... and {total - MAX_LINES} more (see `lakecrew findings`)")
            body = "\n".join(shown)
            digest = hashlib.sha256(
                "\x1f".join((scope, owner, severity, body)).encode()
            ).hexdigest()
            out.append(
                NotificationRow(
                    notification_id=digest[:24],
                    sweep_id=sweep_id,
                    workspace=scope,
                    owner=owner,
                    severity=severity,
                    subject=f"[lakecrew] {total} {severity} item(s) in {scope}",
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


@dataclass(frozen=True)
class _Reverse:
    """A line ordered backwards (heapq is a min-heap; the groups keep their smallest lines)."""

    line: str

    def __lt__(self, other: object) -> bool:
        assert isinstance(other, _Reverse)
        return self.line > other.line


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
    groups = NotificationGroups()
    groups.add_findings(findings)
    groups.add_actions(actions, severity_of)
    return groups.rows(scope, sweep_id, channel=channel, now=now)


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
