"""TicketSystem port: one ticket per finding fingerprint, upserted, never duplicated.

The local adapter (adapters/local/ticket_store.py) keeps tickets in SQLite; Jira and ServiceNow
(adapters/notify/trackers.py) sit behind the same port, and services/notify/tickets.py routes
to them. Comments (a person's or an approved agent triage note) are kept apart from the body, so
the next sweep's update of the body never drops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol


@dataclass(frozen=True)
class TicketDraft:
    """What the Ticket step wants a ticket to say."""

    fingerprint: str
    workspace: str
    rule_id: str
    resource_id: str
    severity: str
    owner: str
    title: str
    body: str


@dataclass(frozen=True)
class Ticket:
    """A ticket as the system holds it."""

    key: str
    fingerprint: str
    workspace: str
    rule_id: str
    resource_id: str
    severity: str
    owner: str
    title: str
    body: str
    status: Literal["open", "resolved"]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class TicketComment:
    """A comment on a ticket; `comment_id` makes adding it idempotent."""

    fingerprint: str
    comment_id: str
    author: str
    text: str
    at: datetime


class TicketSystem(Protocol):
    """Upsert by fingerprint, resolve, read."""

    name: str

    def upsert(self, draft: TicketDraft, at: datetime) -> Ticket:
        """Create the fingerprint's ticket, or update (and reopen) the existing one."""
        ...

    def upsert_many(self, drafts: Sequence[TicketDraft], at: datetime) -> list[Ticket]:
        """`upsert` for many drafts in one transaction."""
        ...

    def resolve(self, fingerprint: str, resolution: str, at: datetime) -> Ticket | None:
        """Resolve the fingerprint's open ticket; None when there is none open."""
        ...

    def comment(self, comment: TicketComment) -> str:
        """Add `comment` to the fingerprint's ticket, once per comment_id (a repeat adds
        nothing); returns the ticket key. NotFound when the fingerprint has no ticket."""
        ...

    def comments(self, fingerprint: str) -> list[TicketComment]: ...

    def get(self, fingerprint: str) -> Ticket | None: ...

    def states(self, fingerprints: Sequence[str]) -> dict[str, str]:
        """Status (open | resolved) of the tickets these fingerprints have (a streamed sweep
        asks per batch instead of listing every ticket)."""
        ...

    def list(self, workspace: str | None = None) -> list[Ticket]: ...
