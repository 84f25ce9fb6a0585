"""Webhook receiver for form submissions (ODK Central / KoboToolbox style) and its spool source.

The receiver answers ``POST /submissions`` (JSON) with 201 only after the submission is in the
spool: an SQLite database in WAL mode with ``synchronous=FULL``, so an acknowledged submission
survives ``kill -9`` of the receiver and power loss. Submissions are keyed by their instance id
(``meta/instanceID``, ``meta.instanceID``, ``__id``, ``_uuid``, ``instanceID``): a sender that
retries after a lost acknowledgement stores nothing twice (answer 200, ``duplicate: true``).

``SpoolSource`` reads the spool in micro-batches by sequence number; its checkpoint lives in the
same database, so committing is one atomic transaction.

Run the receiver: ``python -m lakecrew.adapters.sources.webhook --spool DIR [--port N]
[--port-file F] [--token-env VAR]``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakecrew.adapters.sources.checkpoint import batch_id, with_metadata
from lakecrew.core.errors import DataError, UsageError
from lakecrew.core.files import write_atomic
from lakecrew.ports.source import Batch, CheckpointToken

MAX_BODY = 10 * 1024 * 1024
_ID_PATHS: tuple[tuple[str, ...], ...] = (
    ("meta/instanceID",),
    ("meta", "instanceID"),
    ("__id",),
    ("_uuid",),
    ("instanceID",),
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  submission_id TEXT NOT NULL UNIQUE,
  form_id TEXT,
  received_at TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
  source TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  pending_high INTEGER NOT NULL DEFAULT 0
);
"""


def submission_id(doc: Any) -> str | None:
    """The submission's instance id, from the first known location that holds a string."""
    for path in _ID_PATHS:
        node = doc
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str) and node.strip():
            return node.strip()
    return None


def open_spool(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the spool database with durable settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(_SCHEMA)
    return conn


class Spool:
    """Durable, deduplicating store of received submissions (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_spool(path)
        self._lock = threading.Lock()

    def append(self, body: str, sid: str, form_id: str | None) -> bool:
        """Store one submission durably; False when its id was already stored."""
        now = datetime.now(UTC).isoformat()
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO submissions (submission_id, form_id, received_at, body) "
                "VALUES (?, ?, ?, ?)",
                (sid, form_id, now, body),
            )
            return cur.rowcount == 1

    def close(self) -> None:
        """Close the database."""
        self._conn.close()


def _handler(spool: Spool, token: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if parts[0] != "submissions" or len(parts) > 2:
                self._reply(404, {"error": "POST /submissions or /submissions/<form_id>"})
                return
            if token is not None:
                given = self.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    self._reply(401, {"error": "missing or wrong bearer token"})
                    return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self._reply(413 if length else 411, {"error": f"body must be 1..{MAX_BODY} bytes"})
                return
            raw = self.rfile.read(length)
            try:
                text = raw.decode("utf-8")
                doc = json.loads(text)
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._reply(400, {"error": "body is not UTF-8 JSON"})
                return
            sid = submission_id(doc)
            if sid is None:
                self._reply(400, {"error": "no instance id (meta/instanceID, __id or _uuid)"})
                return
            form_id = parts[1] if len(parts) == 2 else None
            stored = spool.append(text, sid, form_id)
            self._reply(201 if stored else 200, {"id": sid, "duplicate": not stored})

        def log_message(self, format: str, *args: object) -> None:
            return  # request lines could carry identifiers; the receiver logs nothing

    return Handler


def make_receiver(
    spool_path: Path, host: str = "127.0.0.1", port: int = 0, token: str | None = None
) -> tuple[ThreadingHTTPServer, Spool]:
    """A ready (not yet serving) receiver bound to ``host:port`` and its spool."""
    spool = Spool(spool_path)
    server = ThreadingHTTPServer((host, port), _handler(spool, token))
    server.daemon_threads = True
    return server, spool


@dataclass
class SpoolSource:
    """Micro-batches of spooled submissions, in arrival order, with a checkpoint in the spool."""

    name: str
    spool_path: Path
    batch_size: int = 100

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise UsageError("batch_size must be at least 1", where=self.name)
        self._conn = open_spool(self.spool_path)

    def _position(self) -> tuple[int, int]:
        row = self._conn.execute(
            "SELECT last_seq, pending_high FROM checkpoints WHERE source = ?", (self.name,)
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _last_seq(self) -> int:
        return self._position()[0]

    def _lease(self, high: int) -> None:
        """Remember the range handed out, so a re-read after a crash yields the same batch."""
        self._conn.execute(
            "INSERT INTO checkpoints (source, last_seq, pending_high) VALUES (?, 0, ?) "
            "ON CONFLICT(source) DO UPDATE SET pending_high = excluded.pending_high",
            (self.name, high),
        )

    def discover(self) -> Sequence[str]:
        """``seq a..b`` of the submissions not yet committed (empty when none)."""
        low, high = self._conn.execute(
            "SELECT min(seq), max(seq) FROM submissions WHERE seq > ?", (self._last_seq(),)
        ).fetchone()
        return [f"seq {low}..{high}"] if low is not None else []

    def read(self) -> Iterator[Batch]:
        """Batches of up to ``batch_size`` submissions past the committed sequence number."""
        last, pending = self._position()
        while True:
            select = (
                "SELECT seq, submission_id, form_id, received_at, body FROM submissions "
                "WHERE seq > ? "
            )
            if pending > last:  # an uncommitted batch: re-read exactly its range
                rows = self._conn.execute(
                    select + "AND seq <= ? ORDER BY seq", (last, pending)
                ).fetchall()
            else:
                rows = self._conn.execute(
                    select + "ORDER BY seq LIMIT ?", (last, self.batch_size)
                ).fetchall()
                if rows:
                    self._lease(int(rows[-1][0]))
            if not rows:
                return
            yield self._batch(rows)
            last = pending = int(rows[-1][0])

    def _batch(self, rows: list[Any]) -> Batch:
        first, last = int(rows[0][0]), int(rows[-1][0])
        bid = batch_id(self.name, str(self.spool_path), first, last)
        columns = {
            "submission_id": pa.array([r[1] for r in rows], pa.string()),
            "form_id": pa.array([r[2] for r in rows], pa.string()),
            "received_at": pa.array([r[3] for r in rows], pa.string()),
        }
        table = with_metadata(
            columns,
            uri=f"spool://{self.spool_path}",
            rows=[int(r[0]) for r in rows],
            bid=bid,
            raw=[str(r[4]) for r in rows],
            where=str(self.spool_path),
        )
        token = CheckpointToken(self.name, bid, json.dumps({"last_seq": last}))
        return Batch(bid, self.name, table, token)

    def commit(self, token: CheckpointToken) -> None:
        """Advance the checkpoint to the batch's last sequence number (one transaction)."""
        if token.source != self.name:
            raise UsageError(f"token of source {token.source!r} given to {self.name!r}")
        seq = int(json.loads(token.state)["last_seq"])
        if seq < self._last_seq():
            raise DataError(
                "checkpoint token is older than the committed position",
                where=self.name,
                fix="commit tokens in the order their batches were read",
            )
        self._conn.execute(
            "INSERT INTO checkpoints (source, last_seq) VALUES (?, ?) "
            "ON CONFLICT(source) DO UPDATE SET last_seq = excluded.last_seq",
            (self.name, seq),
        )

    def close(self) -> None:
        """Close the spool connection."""
        self._conn.close()


def main(argv: list[str] | None = None) -> int:
    """Run the receiver until killed."""
    parser = argparse.ArgumentParser(description="lakecrew form-submission webhook receiver")
    parser.add_argument("--spool", type=Path, required=True, help="spool directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the bound port here")
    parser.add_argument("--token-env", help="environment variable holding the bearer token")
    args = parser.parse_args(argv)
    token = os.environ.get(args.token_env) if args.token_env else None
    server, _ = make_receiver(args.spool / "spool.sqlite", args.host, args.port, token)
    if args.port_file:
        write_atomic(args.port_file, str(server.server_address[1]).encode())
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
