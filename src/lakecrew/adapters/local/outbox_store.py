"""The durable outbox in SQLite (`.lakecrew/outbox.db`): messages and acknowledgements.

WAL journal and one short transaction per change on one connection, so a process killed at any
point leaves every queued message either pending (sent again later: at-least-once) or recorded.
Queueing commits with `synchronous=FULL` (a queued message survives power loss); recording an
attempt with `NORMAL` (WAL: durable against a killed process; after a power loss the last
attempts may be forgotten and their messages sent again, which the idempotency key covers).
`message_id` is the primary key: queueing the same news twice adds nothing. Payloads are serialised
Notifications, never secrets (the router resolves URLs and tokens at send time).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from lakecrew.adapters.local.sqlite_tx import immediate
from lakecrew.ports.outbox import Ack, MessageStatus, OutboxMessage

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id      TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    fingerprint     TEXT,
    payload_json    TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    last_error      TEXT,
    delivered_at    TEXT,
    ref             TEXT
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS messages_fp ON messages (channel, fingerprint);
CREATE TABLE IF NOT EXISTS acks (
    fingerprint TEXT PRIMARY KEY,
    by          TEXT NOT NULL,
    source      TEXT NOT NULL,
    at          TEXT NOT NULL,
    note        TEXT NOT NULL
);
"""
COLUMNS = (
    "message_id, channel, kind, fingerprint, payload_json, status, attempts, next_attempt_at, "
    "created_at, last_error, delivered_at, ref"
)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _row(r: Sequence[Any]) -> OutboxMessage:
    return OutboxMessage(
        message_id=r[0],
        channel=r[1],
        kind=r[2],
        fingerprint=r[3],
        payload_json=r[4],
        status=r[5],
        attempts=int(r[6]),
        next_attempt_at=datetime.fromisoformat(r[7]),
        created_at=datetime.fromisoformat(r[8]),
        last_error=r[9],
        delivered_at=_dt(r[10]),
        ref=r[11],
    )


class SqliteOutbox:
    """OutboxStore over one SQLite file."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            self.db_path, isolation_level=None, timeout=30, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def _tx(self, *, sync: str = "NORMAL") -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute(f"PRAGMA synchronous={sync}")
            with immediate(self._conn) as conn:
                yield conn

    def close(self) -> None:
        self._conn.close()

    def put(self, messages: Sequence[OutboxMessage]) -> int:
        rows = [
            (
                m.message_id,
                m.channel,
                m.kind,
                m.fingerprint,
                m.payload_json,
                m.status,
                m.attempts,
                _ts(m.next_attempt_at),
                _ts(m.created_at),
                m.last_error,
                _ts(m.delivered_at),
                m.ref,
            )
            for m in messages
        ]
        if not rows:
            return 0
        with self._tx(sync="FULL") as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO messages ({COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

    def due(self, now: datetime, limit: int, skip: Collection[str] = ()) -> list[OutboxMessage]:
        marks = ", ".join("?" for _ in skip)
        not_in = f"AND channel NOT IN ({marks}) " if skip else ""
        with self._tx() as conn:
            cur = conn.execute(
                f"SELECT {COLUMNS} FROM messages WHERE status = 'pending' "
                f"AND next_attempt_at <= ? {not_in}"
                "ORDER BY next_attempt_at, created_at, message_id LIMIT ?",
                (_ts(now), *skip, limit),
            )
            return [_row(r) for r in cur.fetchall()]

    def update(self, message: OutboxMessage) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE messages SET status = ?, attempts = ?, next_attempt_at = ?, "
                "last_error = ?, delivered_at = ?, ref = ? WHERE message_id = ?",
                (
                    message.status,
                    message.attempts,
                    _ts(message.next_attempt_at),
                    message.last_error,
                    _ts(message.delivered_at),
                    message.ref,
                    message.message_id,
                ),
            )

    def messages(
        self, status: MessageStatus | None = None, channel: str | None = None
    ) -> list[OutboxMessage]:
        where: list[str] = []
        args: list[str] = []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if channel is not None:
            where.append("channel = ?")
            args.append(channel)
        sql = f"SELECT {COLUMNS} FROM messages"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._tx() as conn:
            cur = conn.execute(sql + " ORDER BY created_at, message_id", args)
            return [_row(r) for r in cur.fetchall()]

    def thread_ref(self, channel: str, fingerprint: str) -> str | None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT ref FROM messages WHERE channel = ? AND fingerprint = ? "
                "AND ref IS NOT NULL ORDER BY delivered_at LIMIT 1",
                (channel, fingerprint),
            ).fetchone()
        return None if row is None else str(row[0])

    def ack(self, ack: Ack) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO acks (fingerprint, by, source, at, note) "
                "VALUES (?, ?, ?, ?, ?)",
                (ack.fingerprint, ack.by, ack.source, _ts(ack.at), ack.note),
            )

    def acks(self) -> dict[str, Ack]:
        with self._tx() as conn:
            rows = conn.execute("SELECT fingerprint, by, source, at, note FROM acks").fetchall()
        return {r[0]: Ack(r[0], r[1], r[2], datetime.fromisoformat(r[3]), r[4]) for r in rows}
