"""Delivery of the durable outbox: at-least-once, backoff, Retry-After, rate limits, dead letters.

    dispatcher = Dispatcher(store, channels, settings)
    report = dispatcher.drain(now)

Each due message goes to its channel's Notifier. Delivered → recorded with the receiver's id
(a Slack ts, for threaded updates). Not delivered → `attempts + 1` and the next attempt after
`max(Retry-After, backoff)` where backoff doubles from `base_delay` up to `max_delay` with a
deterministic jitter of up to 25 % (a digest of the id and attempt: no two runs differ); a
permanent refusal (400, 401, 403, 404) or `max_attempts` failures → `dead`, with the reason.
A channel over its rate (messages per minute) has its due messages moved to the next free
slot without counting an attempt. A channel whose receiver fails `down_after` times in a row is
not tried again in the same drain (it is down: the rest of its queue waits for the next drain).

A crash between sending and recording leaves the message pending, so it is sent again: the
message id travels as the idempotency key (an `Idempotency-Key` header, PagerDuty's dedup_key,
the e-mail Message-ID) so the receiver sees it once. `after_send` is a test hook called between
the two (the kill -9 tests crash there on purpose).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from lakecrew.ports.notify import Delivery, Notifier
from lakecrew.ports.outbox import OutboxMessage, OutboxStore
from lakecrew.services.notify.messages import from_json


@dataclass(frozen=True)
class OutboxSettings:
    max_attempts: int = 8
    base_delay: float = 30.0  # seconds before the 2nd attempt
    max_delay: float = 3600.0
    rate_per_minute: Mapping[str, int] = field(default_factory=dict)  # channel → limit
    batch: int = 500
    down_after: int = 3  # consecutive failures of a channel that end its turn in this drain


@dataclass
class DrainReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # channel → last error
    # acknowledgements read from PagerDuty / trackers before escalating, and what failed there
    acknowledged: int = 0
    ack_errors: list[str] = field(default_factory=list)
    # daily digests queued with the Comms agent's summary, and why a summary is missing
    summaries: int = 0
    summary_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "delivered": self.delivered,
            "failed": self.failed,
            "dead": self.dead,
            "deferred": self.deferred,
            "errors": dict(self.errors),
            "acknowledged": self.acknowledged,
            "ack_errors": list(self.ack_errors),
            "summaries": self.summaries,
            "summary_errors": list(self.summary_errors),
        }


def backoff(message_id: str, attempts: int, base: float, cap: float) -> float:
    """Seconds before attempt `attempts + 1`: doubling from `base`, capped, +0–25 % jitter."""
    raw = min(cap, base * 2 ** max(attempts - 1, 0))
    h = hashlib.sha256(f"{message_id}:{attempts}".encode()).digest()
    return float(raw * (1 + 0.25 * int.from_bytes(h[:2], "big") / 65535))


class Dispatcher:
    """Sends due outbox messages through their channels and records every outcome."""

    def __init__(
        self,
        store: OutboxStore,
        channels: Mapping[str, Notifier],
        settings: OutboxSettings | None = None,
        *,
        after_send: Callable[[OutboxMessage, Delivery], None] | None = None,
    ) -> None:
        self.store = store
        self.channels = channels
        self.settings = settings or OutboxSettings()
        self.after_send = after_send
        self._sent: dict[str, deque[datetime]] = defaultdict(deque)
        self._streak: dict[str, int] = defaultdict(int)

    def drain(self, now: datetime, *, limit: int | None = None) -> DrainReport:
        """Attempt every due message once (at most `limit`); returns what happened."""
        report = DrainReport()
        down: set[str] = set()
        self._streak.clear()
        left = limit if limit is not None else -1
        while left != 0:
            size = self.settings.batch if left < 0 else min(left, self.settings.batch)
            batch = self.store.due(now, size, skip=tuple(sorted(down)))
            if not batch:
                break
            for msg in batch:
                if msg.channel in down:
                    continue
                self._one(msg, now, report, down)
                left -= 1
                if left == 0:
                    break
        return report

    def _one(self, msg: OutboxMessage, now: datetime, report: DrainReport, down: set[str]) -> None:
        channel = self.channels.get(msg.channel)
        if channel is None:
            self._fail(
                msg,
                now,
                Delivery(False, f"no channel {msg.channel!r} is configured", permanent=True),
                report,
            )
            return
        wait = self._rate_wait(msg.channel, now)
        if wait is not None:
            self.store.update(replace(msg, next_attempt_at=wait))
            report.deferred += 1
            return
        notification = from_json(msg.payload_json)
        if msg.fingerprint and notification.thread_ref is None:
            ref = self.store.thread_ref(msg.channel, msg.fingerprint)
            if ref is not None:
                notification = replace(notification, thread_ref=ref)
        result = channel.send(notification)
        if self.after_send is not None:
            self.after_send(msg, result)
        self._sent[msg.channel].append(now)
        if result.delivered:
            self.store.update(
                replace(
                    msg,
                    status="delivered",
                    attempts=msg.attempts + 1,
                    delivered_at=now,
                    last_error=None,
                    ref=result.ref,
                )
            )
            report.delivered += 1
            self._streak[msg.channel] = 0
            return
        self._fail(msg, now, result, report)
        if not result.permanent:
            self._streak[msg.channel] += 1
            if self._streak[msg.channel] >= self.settings.down_after:
                down.add(msg.channel)

    def _fail(
        self, msg: OutboxMessage, now: datetime, result: Delivery, report: DrainReport
    ) -> None:
        attempts = msg.attempts + 1
        error = result.error or "not delivered"
        report.errors[msg.channel] = error
        if result.permanent or attempts >= self.settings.max_attempts:
            why = "refused" if result.permanent else f"gave up after {attempts} attempts"
            self.store.update(
                replace(msg, status="dead", attempts=attempts, last_error=f"{why}: {error}")
            )
            report.dead += 1
            return
        delay = backoff(msg.message_id, attempts, self.settings.base_delay, self.settings.max_delay)
        if result.retry_after is not None:
            delay = max(delay, result.retry_after)
        self.store.update(
            replace(
                msg,
                attempts=attempts,
                last_error=error,
                next_attempt_at=now + timedelta(seconds=delay),
            )
        )
        report.failed += 1

    def _rate_wait(self, channel: str, now: datetime) -> datetime | None:
        """When the channel is at its rate: the time its next slot frees, else None."""
        limit = self.settings.rate_per_minute.get(channel)
        if not limit:
            return None
        sent = self._sent[channel]
        while sent and sent[0] <= now - timedelta(minutes=1):
            sent.popleft()
        if len(sent) < limit:
            return None
        return sent[0] + timedelta(minutes=1)
