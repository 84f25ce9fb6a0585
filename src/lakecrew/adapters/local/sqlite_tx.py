"""One SQLite write transaction, shared by the local stores (metastore, workspace, outbox,
tickets): `BEGIN IMMEDIATE` takes the write lock up front, so a concurrent writer waits on the
busy timeout instead of failing half way; any exception rolls back and is raised again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`conn` (opened with ``isolation_level=None``) inside BEGIN IMMEDIATE … COMMIT/ROLLBACK."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
