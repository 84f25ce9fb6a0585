"""The local index of remote tickets (`.lakecrew/tickets.db`, table `remote_tickets`): finding
fingerprint → the tracker's key, status and a digest of what was last written.

It is what makes an upsert cheap: an unchanged open ticket costs no request, a changed one
one comment, a resolved one one transition. It is authoritative for this project: a ticket
created elsewhere for the same finding is not searched for (say so in docs/alerts.md).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lakecrew.ports.tickets import TicketComment

SCHEMA = """
CREATE TABLE IF NOT EXISTS remote_tickets (
    system      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    key         TEXT NOT NULL,
    remote_id   TEXT NOT NULL,
    status      TEXT NOT NULL,
    digest      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (system, fingerprint)
);
CREATE TABLE IF NOT EXISTS remote_comments (
    system      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    comment_id  TEXT NOT NULL,
    author      TEXT NOT NULL,
    text        TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (system, fingerprint, comment_id)
);
"""


@dataclass(frozen=True)
class Indexed:
    fingerprint: str
    key: str
    remote_id: str
    status: str  # open | resolved
    digest: str
    created_at: datetime
    updated_at: datetime


class TicketIndex:
    def __init__(self, db_path: Path, system: str) -> None:
        self.db_path = Path(db_path)
        self.system = system
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.db_path, timeout=30, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable against a killed process
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def get(self, fingerprint: str) -> Indexed | None:
        with self._tx() as conn:
            r = conn.execute(
                "SELECT fingerprint, key, remote_id, status, digest, created_at, updated_at "
                "FROM remote_tickets WHERE system = ? AND fingerprint = ?",
                (self.system, fingerprint),
            ).fetchone()
        if r is None:
            return None
        return Indexed(
            r[0], r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]), datetime.fromisoformat(r[6])
        )

    def all(self) -> list[Indexed]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT fingerprint FROM remote_tickets WHERE system = ? ORDER BY created_at",
                (self.system,),
            ).fetchall()
        return [x for x in (self.get(r[0]) for r in rows) if x is not None]

    def put(self, item: Indexed) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO remote_tickets (system, fingerprint, key, remote_id, "
                "status, digest, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.system,
                    item.fingerprint,
                    item.key,
                    item.remote_id,
                    item.status,
                    item.digest,
                    item.created_at.isoformat(),
                    item.updated_at.isoformat(),
                ),
            )

    def comments(self, fingerprint: str) -> list[TicketComment]:
        """The comments this project posted on the fingerprint's remote ticket."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT comment_id, author, text, at FROM remote_comments "
                "WHERE system = ? AND fingerprint = ? ORDER BY at, rowid",
                (self.system, fingerprint),
            ).fetchall()
        return [
            TicketComment(fingerprint, r[0], r[1], r[2], datetime.fromisoformat(r[3])) for r in rows
        ]

    def put_comment(self, c: TicketComment) -> None:
        """Record a comment as posted (after the tracker accepted it)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO remote_comments (system, fingerprint, comment_id, author, "
                "text, at) VALUES (?, ?, ?, ?, ?, ?)",
                (self.system, c.fingerprint, c.comment_id, c.author, c.text, c.at.isoformat()),
            )
