"""OutboxStore port: the durable outbox of outgoing messages, and acknowledgements.

Every message is written here before it is sent (at-least-once delivery): `message_id` is its
idempotency key (a digest of channel and content), so the same news is never queued twice and
receivers can drop a repeat after a crash between sending and recording. Payloads are the
serialised Notification only: never a URL, token or other secret.

Local adapter: adapters/local/outbox_store.py (SQLite, WAL, one transaction per change).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

MessageStatus = Literal["pending", "delivered", "dead"]


@dataclass(frozen=True)
class OutboxMessage:
    """One message for one channel."""

    message_id: str
    channel: str
    kind: str  # alert | digest | escalation | test
    fingerprint: str | None
    payload_json: str
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None
    ref: str | None = None  # the receiver's id (Slack ts) once delivered


@dataclass(frozen=True)
class Ack:
    """Someone (or something: PagerDuty, a ticket state) took a finding in hand."""

    fingerprint: str
    by: str
    source: str  # cli | pagerduty | ticket
    at: datetime
    note: str = ""


class AckSource(Protocol):
    """Where someone acknowledges a finding outside lakecrew: a PagerDuty incident acknowledged
    or resolved, a ticket moved out of its initial state (SOP 1.8.4). Read before escalating."""

    name: str

    def acks(self, fingerprints: Sequence[str], now: datetime) -> list[Ack]:
        """The acknowledgements this system holds for these findings (unknown ones left out);
        raises the project's errors when the system cannot be read."""
        ...


class OutboxStore(Protocol):
    """Queue, schedule and record outgoing messages; remember acknowledgements."""

    def put(self, messages: Sequence[OutboxMessage]) -> int:
        """Queue messages whose id is new; returns how many were added."""
        ...

    def due(self, now: datetime, limit: int, skip: Collection[str] = ()) -> list[OutboxMessage]:
        """Pending messages whose next attempt is due, oldest first (none of `skip`'s channels)."""
        ...

    def update(self, message: OutboxMessage) -> None:
        """Record a message's new state (attempts, status, next attempt, error, ref)."""
        ...

    def messages(
        self, status: MessageStatus | None = None, channel: str | None = None
    ) -> list[OutboxMessage]: ...

    def thread_ref(self, channel: str, fingerprint: str) -> str | None:
        """The receiver's id of the first delivered message about `fingerprint` on `channel`."""
        ...

    def ack(self, ack: Ack) -> None: ...

    def acks(self) -> dict[str, Ack]: ...
