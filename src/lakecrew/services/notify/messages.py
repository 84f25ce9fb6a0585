"""Outbox messages ↔ Notifications, and their idempotency keys.

A message's id is a digest of its channel, kind and content, so queueing the same news twice
adds nothing and a receiver can drop a repeat. The payload is the Notification as JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from lakecrew.ports.notify import Notification, notification_from_dict
from lakecrew.ports.outbox import OutboxMessage


def message_key(*parts: str) -> str:
    """A 32-hex-digit digest of `parts` (the idempotency key)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def to_json(n: Notification) -> str:
    return json.dumps(asdict(n), sort_keys=True, ensure_ascii=False)


def from_json(text: str) -> Notification:
    data: dict[str, Any] = json.loads(text)
    return notification_from_dict(data)


def queue(
    channel: str,
    n: Notification,
    now: datetime,
    *,
    fingerprint: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """A pending outbox message for `channel` (its id is `n.notification_id` + channel)."""
    return OutboxMessage(
        message_id=message_key(channel, n.notification_id),
        channel=channel,
        kind=n.kind,
        fingerprint=fingerprint,
        payload_json=to_json(n),
        status="pending",
        attempts=0,
        next_attempt_at=not_before or now,
        created_at=now,
    )
