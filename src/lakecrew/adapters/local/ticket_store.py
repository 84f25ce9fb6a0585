"""The local TicketSystem: one SQLite table, one row per finding fingerprint.

`fingerprint` is the primary key, so an upsert can never create a second ticket for the same
finding; keys read `LC-<n>` in creation order. Each call is one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from lakecrew.adapters.local.sqlite_tx import immediate
from lakecrew.core.errors import NotFound
from lakecrew.ports.tickets import Ticket, TicketComment, TicketDraft

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint  TEXT NOT NULL UNIQUE,
    workspace    TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    severity     TEXT NOT NULL,
    owner        TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    resolved_at  TEXT,
    resolution   TEXT
);
CREATE TABLE IF NOT EXISTS ticket_comments (
    fingerprint  TEXT NOT NULL,
    comment_id   TEXT NOT NULL,
    author       TEXT NOT NULL,
    text         TEXT NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (fingerprint, comment_id)
);
"""
COLUMNS = (
    "seq, fingerprint, workspace, rule_id, resource_id, severity, owner, title, body, status, "
    "created_at, updated_at, resolved_at, resolution"
)


class LocalTicketStore:
    """TicketSystem over a SQLite file."""

    name = "local"

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self._ready = False  # the file is created on first use, not by opening the store

    def _ensure(self) -> None:
        if self._ready:
            return
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            conn.executescript(SCHEMA)  # commits by itself
        finally:
            conn.close()
        self._ready = True

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._ensure()
        conn = sqlite3.connect(self.db_path, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            with immediate(conn):
                yield conn
        finally:
            conn.close()

    def upsert(self, draft: TicketDraft, at: datetime) -> Ticket:
        """Create the ticket of `draft.fingerprint`, or update it (reopening a resolved one)."""
        return self.upsert_many([draft], at)[0]

    def upsert_many(self, drafts: Sequence[TicketDraft], at: datetime) -> list[Ticket]:
        """Upsert many drafts in one transaction."""
        now = at.isoformat()
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO tickets (fingerprint, workspace, rule_id, resource_id, severity, "
                "owner, title, body, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?) "
                "ON CONFLICT (fingerprint) DO UPDATE SET severity = excluded.severity, "
                "owner = excluded.owner, title = excluded.title, body = excluded.body, "
                "status = 'open', resolved_at = NULL, resolution = NULL, "
                "updated_at = excluded.updated_at",
                [
                    (
                        d.fingerprint,
                        d.workspace,
                        d.rule_id,
                        d.resource_id,
                        d.severity,
                        d.owner,
                        d.title,
                        d.body,
                        now,
                        now,
                    )
                    for d in drafts
                ],
            )
            found = self._written(conn, drafts, now)
        return [found[d.fingerprint] for d in drafts if d.fingerprint in found]

    def _written(
        self, conn: sqlite3.Connection, drafts: Sequence[TicketDraft], now: str
    ) -> dict[str, Ticket]:
        """The tickets `upsert_many` just wrote: what the upsert set comes from the drafts (the
        last of a fingerprint wins, as in the table); the rest is read, 500 at a time."""
        last = {d.fingerprint: d for d in drafts}
        fps = sorted(last)  # in index order: each query walks one stretch of the index
        updated = datetime.fromisoformat(now)
        times: dict[str, datetime] = {}  # created_at texts repeat (a batch's new tickets)
        out: dict[str, Ticket] = {}
        for i in range(0, len(fps), 500):  # under SQLite's bound-parameter limit
            part = fps[i : i + 500]
            marks = ",".join("?" * len(part))
            for seq, fp, workspace, rule_id, resource_id, created in conn.execute(
                "SELECT seq, fingerprint, workspace, rule_id, resource_id, created_at "
                f"FROM tickets WHERE fingerprint IN ({marks})",
                part,
            ):
                d = last[fp]
                if created not in times:
                    times[created] = datetime.fromisoformat(created)
                out[fp] = Ticket(
                    key=f"LC-{seq}",
                    fingerprint=fp,
                    workspace=workspace,
                    rule_id=rule_id,
                    resource_id=resource_id,
                    severity=d.severity,
                    owner=d.owner,
                    title=d.title,
                    body=d.body,
                    status="open",
                    created_at=times[created],
                    updated_at=updated,
                )
        return out

    def resolve(self, fingerprint: str, resolution: str, at: datetime) -> Ticket | None:
        """Resolve the open ticket of `fingerprint`; None when it has none open."""
        now = at.isoformat()
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE tickets SET status = 'resolved', resolved_at = ?, resolution = ?, "
                "updated_at = ? WHERE fingerprint = ? AND status = 'open'",
                (now, resolution, now, fingerprint),
            )
            return self._row(conn, fingerprint) if cur.rowcount else None

    def comment(self, comment: TicketComment) -> str:
        """Add a comment (once per comment_id) to the fingerprint's ticket; its key."""
        with self._tx() as conn:
            ticket = self._row(conn, comment.fingerprint)
            if ticket is None:
                raise NotFound(
                    f"finding {comment.fingerprint[:12]} has no ticket", fix="comment on a ticket"
                )
            conn.execute(
                "INSERT OR IGNORE INTO ticket_comments (fingerprint, comment_id, author, text, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    comment.fingerprint,
                    comment.comment_id,
                    comment.author,
                    comment.text,
                    comment.at.isoformat(),
                ),
            )
        return ticket.key

    def comments(self, fingerprint: str) -> list[TicketComment]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT fingerprint, comment_id, author, text, at FROM ticket_comments "
                "WHERE fingerprint = ? ORDER BY at, rowid",
                (fingerprint,),
            ).fetchall()
        return [TicketComment(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4])) for r in rows]

    def get(self, fingerprint: str) -> Ticket | None:
        with self._tx() as conn:
            return self._row(conn, fingerprint)

    def states(self, fingerprints: Sequence[str]) -> dict[str, str]:
        """Two columns only, 500 fingerprints a query (a sweep asks per batch)."""
        out: dict[str, str] = {}
        fps = list(fingerprints)
        with self._tx() as conn:
            for i in range(0, len(fps), 500):  # under SQLite's bound-parameter limit
                part = fps[i : i + 500]
                marks = ",".join("?" * len(part))
                out.update(
                    conn.execute(
                        f"SELECT fingerprint, status FROM tickets WHERE fingerprint IN ({marks})",
                        part,
                    ).fetchall()
                )
        return out

    def list(self, workspace: str | None = None) -> list[Ticket]:
        """All tickets (of one workspace), oldest first."""
        with self._tx() as conn:
            sql = f"SELECT {COLUMNS} FROM tickets"
            args: tuple[Any, ...] = ()
            if workspace is not None:
                sql, args = sql + " WHERE workspace = ?", (workspace,)
            return [_ticket(r) for r in conn.execute(sql + " ORDER BY seq", args)]

    def _row(self, conn: sqlite3.Connection, fingerprint: str) -> Ticket | None:
        row = conn.execute(
            f"SELECT {COLUMNS} FROM tickets WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return None if row is None else _ticket(row)


def _ticket(r: tuple[Any, ...]) -> Ticket:
    return Ticket(
        key=f"LC-{r[0]}",
        fingerprint=r[1],
        workspace=r[2],
        rule_id=r[3],
        resource_id=r[4],
        severity=r[5],
        owner=r[6],
        title=r[7],
        body=r[8],
        status=r[9],
        created_at=datetime.fromisoformat(r[10]),
        updated_at=datetime.fromisoformat(r[11]),
        resolved_at=datetime.fromisoformat(r[12]) if r[12] else None,
        resolution=r[13],
    )
