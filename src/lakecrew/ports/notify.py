"""Notifier port: deliver one notification through one channel.

The Comms step records grouped notifications in the ledger (the audit log of what was said);
when lakecrew.yaml has a `notifications:` section, the alert router (services/notify) turns the
sweep's news into per-channel messages in a durable outbox (ports/outbox.py) and hands each to a
Notifier. Channels: console and file (adapters/local/channels.py); Slack, Teams, e-mail,
PagerDuty and a signed generic webhook (adapters/notify/).

A Notifier never raises for a delivery problem: it answers a `Delivery` saying whether the
message arrived, whether trying again can help (`permanent`), and how long the receiver asked
to wait (`retry_after`, from a 429's Retry-After header). Error texts never carry secrets
(webhook URLs and tokens are secrets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

Links = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AlertItem:
    """One finding's news, with everything a person needs to act on it (evidence is masked)."""

    fingerprint: str
    event: str  # new | changed | resolved | escalated | action | test
    severity: str
    rule_id: str
    title: str
    sop_section: str
    resource_type: str
    resource_id: str
    resource_name: str | None
    workspace: str
    environment: str
    project: str
    owner: str
    evidence: str
    fix: str
    links: Links = ()  # (label, command or URL): rollback, approve, ack


@dataclass(frozen=True)
class Notification:
    """What a channel sends: no secrets, no patient identifiers (evidence is masked upstream).

    `notification_id` is the idempotency key receivers can de-duplicate on; `items` carries the
    structured findings (Block Kit, Adaptive Card, HTML and PagerDuty events are built from
    them); `kind` is alert | digest | escalation | test; `thread_ref` is the channel's own id of
    an earlier message about the same finding (a Slack `ts`) for threaded updates.
    """

    notification_id: str
    workspace: str
    owner: str
    severity: str
    subject: str
    body: str
    items: tuple[AlertItem, ...] = ()
    kind: str = "alert"
    thread_ref: str | None = None
    # a daily digest's summary paragraph written by the Comms agent (a language model), masked;
    # `summary_by` names the model. Channels show it first, marked as machine-written.
    summary: str | None = None
    summary_by: str | None = None


SUMMARY_LABEL = (
    "Summary (machine-written by lakecrew's Comms agent, {model}; "
    "the findings below are the record)"
)


def summary_label(n: Notification) -> str:
    """The line that marks a digest summary as machine-written (every channel shows it)."""
    return SUMMARY_LABEL.format(model=n.summary_by or "a language model")


def notification_from_dict(data: Mapping[str, Any]) -> Notification:
    """A Notification from its `dataclasses.asdict` form (JSON outbox payloads, file channel)."""
    fields = dict(data)
    items = tuple(
        AlertItem(**{**i, "links": tuple(tuple(p) for p in i.get("links", ()))})
        for i in fields.pop("items", ())
    )
    return Notification(**fields, items=items)


@dataclass(frozen=True)
class Delivery:
    """The channel's answer: delivered or not, and why not."""

    delivered: bool
    error: str | None = None
    permanent: bool = False  # retrying the same message cannot help (400, 401, 403, 404)
    retry_after: float | None = None  # seconds the receiver asked us to wait (429)
    ref: str | None = None  # the receiver's id of the message (Slack ts), for threading


class Notifier(Protocol):
    """One delivery channel."""

    name: str

    def send(self, notification: Notification) -> Delivery: ...
