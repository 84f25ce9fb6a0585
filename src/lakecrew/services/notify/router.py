"""Routing: which channels hear about which findings, and when.

- A route matches on severity, environment, project, rule (globs) and owner; routes are tried
  in order and the first match wins unless it says `continue: true` (as in Alertmanager).
- Immediate messages: one per finding event and channel, id = digest(channel, fingerprint,
  event, content) — the same news is never queued twice (de-duplication).
- Non-critical findings of a route with `digest: daily|weekly` are not sent one by one: one
  digest per channel covers the last complete day (UTC) or ISO week, sent once.
- Quiet hours hold messages below the exempt severities until the window ends.
- Escalation: an open critical finding older than the pack's `escalate_after_hours` that
  nobody acknowledged is sent once per open episode to the route's `escalate_to` channels.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from lakecrew.ports.ledger import FindingRow
from lakecrew.ports.notify import AlertItem, Notification
from lakecrew.ports.outbox import Ack, OutboxMessage
from lakecrew.services.estate.notify_config import NotifyConfig, QuietHours, Route
from lakecrew.services.notify.items import row_item
from lakecrew.services.notify.messages import message_key, queue

RANK = {"critical": 0, "warning": 1, "info": 2}


def matches(route: Route, item: AlertItem) -> bool:
    m = route.match
    return (
        (m.severity is None or item.severity in m.severity)
        and (m.environment is None or item.environment in m.environment)
        and (m.project is None or item.project in m.project)
        and (m.owner is None or item.owner in m.owner)
        and (m.rule is None or any(fnmatch.fnmatchcase(item.rule_id, p) for p in m.rule))
    )


def routes_for(config: NotifyConfig, item: AlertItem) -> list[Route]:
    out = []
    for r in config.routes:
        if matches(r, item):
            out.append(r)
            if not r.continue_matching:
                break
    return out


def quiet_until(q: QuietHours | None, severity: str, now: datetime) -> datetime | None:
    """End of the quiet window `now` falls in (UTC), or None when not quiet / exempt."""
    if q is None or severity in q.except_severity:
        return None
    local = now.astimezone(ZoneInfo(q.timezone))
    t = local.timetz().replace(tzinfo=None)
    inside = (q.start <= t < q.end) if q.start < q.end else (t >= q.start or t < q.end)
    if not inside:
        return None
    end = local.replace(hour=q.end.hour, minute=q.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def _notification(items: Sequence[AlertItem], kind: str, key: str, subject: str) -> Notification:
    top = min(items, key=lambda i: RANK.get(i.severity, 9))
    owners = sorted({i.owner for i in items})
    return Notification(
        notification_id=key,
        workspace=items[0].workspace if len({i.workspace for i in items}) == 1 else "(several)",
        owner=owners[0] if len(owners) == 1 else ", ".join(owners[:5]),
        severity=top.severity,
        subject=subject,
        body="\n".join(
            f"- [{i.severity}] {i.title}: {i.resource_type} {i.resource_id}" for i in items
        ),
        items=tuple(items),
        kind=kind,
    )


@dataclass
class Router:
    config: NotifyConfig

    def immediate(self, items: Sequence[AlertItem], now: datetime) -> list[OutboxMessage]:
        """One message per (channel, finding event), except items going to a digest."""
        out: list[OutboxMessage] = []
        for item in items:
            content = message_key(
                item.event, item.severity, item.evidence, item.title, *map(str, item.links)
            )
            for route in routes_for(self.config, item):
                if route.digest != "none" and item.severity != "critical":
                    continue
                for ch in route.channels:
                    key = message_key(ch, item.fingerprint, item.event, content)
                    n = _notification([item], "alert", key, item.title)
                    hold = quiet_until(self.config.quiet_hours, item.severity, now)
                    out.append(queue(ch, n, now, fingerprint=item.fingerprint, not_before=hold))
        return out

    def digests(
        self,
        rows: Sequence[FindingRow],
        context: Mapping[str, tuple[str, str]],
        now: datetime,
        *,
        summary: Callable[[str], tuple[str, str] | None] | None = None,
        queued: Collection[str] = (),
        skip_daily: bool = False,
    ) -> list[OutboxMessage]:
        """One digest per (digest route, channel) for the last complete day or ISO week.

        `summary(day)` → (text, model): the Comms agent's paragraph for a daily digest, asked
        only for a digest whose message id is not `queued` yet (the id does not depend on it).
        `skip_daily` leaves daily digests for a later call (a sweep's tick, so that only
        `lakecrew outbox deliver` waits on a model)."""
        out: list[OutboxMessage] = []
        for route in self.config.routes:
            if route.digest == "none" or (skip_daily and route.digest == "daily"):
                continue
            start, stop, label = _period(route.digest, now)
            items = []
            for r in rows:
                if not (start <= r.first_seen < stop) or r.severity == "critical":
                    continue
                env, project = context.get(r.workspace, ("", ""))
                item = row_item(r, "new", environment=env, project=project)
                if route in routes_for(self.config, item):
                    items.append(item)
            if not items:
                continue
            items.sort(key=lambda i: (RANK.get(i.severity, 9), i.workspace, i.rule_id))
            for ch in route.channels:
                key = message_key(ch, "digest", route.name, label)
                subject = f"[lakecrew] {route.digest} digest {label}: {len(items)} finding(s)"
                n = _notification(items, "digest", key, subject)
                fresh = message_key(ch, key) not in queued
                if summary is not None and route.digest == "daily" and fresh:
                    written = summary(label)
                    if written is not None:
                        n = replace(n, summary=written[0], summary_by=written[1])
                hold = quiet_until(self.config.quiet_hours, n.severity, now)
                out.append(queue(ch, n, now, not_before=hold))
        return out

    def escalations(
        self,
        rows: Sequence[FindingRow],
        context: Mapping[str, tuple[str, str]],
        acks: Mapping[str, Ack],
        after_hours: float | None,
        now: datetime,
    ) -> list[OutboxMessage]:
        """Open, unacknowledged critical findings older than `after_hours`, once per episode.
        An acknowledgement holds for the open episode it was given in: once the finding
        resolves and comes back (a new `first_seen`), it escalates again."""
        if after_hours is None:
            return []
        out: list[OutboxMessage] = []
        for r in rows:
            if r.status != "open" or r.severity != "critical" or acked(r, acks):
                continue
            if now - r.first_seen < timedelta(hours=after_hours):
                continue
            env, project = context.get(r.workspace, ("", ""))
            item = row_item(r, "escalated", environment=env, project=project)
            for route in routes_for(self.config, item):
                for ch in route.escalate_to:
                    key = message_key(ch, "escalation", r.fingerprint, r.first_seen.isoformat())
                    hours = (now - r.first_seen).total_seconds() / 3600
                    subject = f"ESCALATED: unacknowledged for {hours:.0f} h: {item.title}"
                    n = _notification([item], "escalation", key, subject)
                    out.append(queue(ch, n, now, fingerprint=r.fingerprint))
        return out


def acked(row: FindingRow, acks: Mapping[str, Ack]) -> bool:
    """Whether the finding's current episode is acknowledged (an ack from before it last
    resolved and recurred does not count)."""
    ack = acks.get(row.fingerprint)
    return ack is not None and ack.at >= row.first_seen


def _period(kind: str, now: datetime) -> tuple[datetime, datetime, str]:
    today = now.astimezone(UTC).date()
    if kind == "daily":
        day = today - timedelta(days=1)
        return _utc(day), _utc(today), day.isoformat()
    monday = today - timedelta(days=today.weekday())
    last = monday - timedelta(days=7)
    iso = last.isocalendar()
    return _utc(last), _utc(monday), f"{iso.year}-W{iso.week:02d}"


def _utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)
