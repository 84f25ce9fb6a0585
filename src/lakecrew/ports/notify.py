"""Notifier port: deliver one grouped notification through one channel.

The Comms step writes notifications to a durable outbox (the ledger) first, then hands each to a
Notifier; a delivery failure leaves the notification `pending`/`failed` in the outbox for the next
run. Console and file channels live in adapters/local/channels.py; Slack, Teams, email and
PagerDuty come later behind this same port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Notification:
    """What a channel sends: no secrets, no patient identifiers (evidence is masked upstream)."""

    notification_id: str
    workspace: str
    owner: str
    severity: str
    subject: str
    body: str


@dataclass(frozen=True)
class Delivery:
    """The channel's answer: delivered or not, and why not."""

    delivered: bool
    error: str | None = None


class Notifier(Protocol):
    """One delivery channel."""

    name: str

    def send(self, notification: Notification) -> Delivery: ...
