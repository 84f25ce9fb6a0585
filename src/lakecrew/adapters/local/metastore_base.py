"""Base of the SQLite metastore: schema, connection, transactions; Grants and Lineage ports.

Split from metastore.py to keep modules small; `SqliteMetastore` is the class to use.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from lakecrew.adapters.local.sqlite_tx import immediate
from lakecrew.core.errors import PermissionDenied, SafetyRefusal, UsageError
from lakecrew.ports.catalog import FunctionDef, Grant, LineageEdge, parse_full_name, same_body
from lakecrew.ports.clock import Clock, SystemClock

STATE_DIR = ".lakecrew"  # the project's state folder (layout.py), which holds metastore.db

_DDL = """
CREATE TABLE IF NOT EXISTS catalogs (
  name TEXT PRIMARY KEY, owner TEXT NOT NULL, comment TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schemas (
  catalog_name TEXT NOT NULL REFERENCES catalogs(name) ON DELETE CASCADE,
  name TEXT NOT NULL, owner TEXT NOT NULL, comment TEXT, created_at TEXT NOT NULL,
  PRIMARY KEY (catalog_name, name));
CREATE TABLE IF NOT EXISTS tables (
  catalog_name TEXT NOT NULL, schema_name TEXT NOT NULL, name TEXT NOT NULL,
  owner TEXT NOT NULL, comment TEXT, table_type TEXT NOT NULL, data_source_format TEXT,
  storage_location TEXT, properties TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (catalog_name, schema_name, name),
  FOREIGN KEY (catalog_name, schema_name) REFERENCES schemas(catalog_name, name)
    ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS columns (
  catalog_name TEXT NOT NULL, schema_name TEXT NOT NULL, table_name TEXT NOT NULL,
  name TEXT NOT NULL, position INTEGER NOT NULL, type_text TEXT NOT NULL,
  nullable INTEGER NOT NULL, comment TEXT, mask TEXT, mask_using TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (catalog_name, schema_name, table_name, name),
  FOREIGN KEY (catalog_name, schema_name, table_name)
    REFERENCES tables(catalog_name, schema_name, name) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS tags (
  catalog_name TEXT NOT NULL, schema_name TEXT NOT NULL, table_name TEXT NOT NULL,
  column_name TEXT NOT NULL DEFAULT '', tag_name TEXT NOT NULL, tag_value TEXT NOT NULL,
  PRIMARY KEY (catalog_name, schema_name, table_name, column_name, tag_name),
  FOREIGN KEY (catalog_name, schema_name, table_name)
    REFERENCES tables(catalog_name, schema_name, name) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS grants (
  principal TEXT NOT NULL, privilege TEXT NOT NULL, securable_type TEXT NOT NULL,
  securable_name TEXT NOT NULL, granted_by TEXT, granted_at TEXT NOT NULL, expires_at TEXT,
  PRIMARY KEY (principal, privilege, securable_type, securable_name));
CREATE TABLE IF NOT EXISTS lineage (
  id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, target TEXT NOT NULL,
  entity_type TEXT, entity_id TEXT, entity_run_id TEXT, event_time TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS functions (
  full_name TEXT PRIMARY KEY, body TEXT NOT NULL, param_type TEXT NOT NULL,
  returns TEXT NOT NULL, comment TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lineage_source ON lineage(source);
CREATE INDEX IF NOT EXISTS lineage_target ON lineage(target);
"""

_SECURABLES = {"CATALOG": 1, "SCHEMA": 2, "TABLE": 3, "FUNCTION": 3, "VOLUME": 3}


def _ts(value: datetime) -> str:
    if value.tzinfo is None:
        raise UsageError("naive datetime", where="metastore", fix="use timezone-aware UTC times")
    return value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes: `mode=ro` (which still maps the WAL index), or on a
    read-only file system (no `-shm` can be created) `immutable=1`; an absent database is an
    empty in-memory catalog (a project nothing was imported into yet)."""
    if not path.exists():
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.executescript(_DDL)
        return conn
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    for suffix in ("", "&immutable=1"):
        conn = sqlite3.connect(uri + suffix, uri=True, timeout=30, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            continue
        return conn
    raise PermissionDenied(
        "cannot open the metastore read-only",
        where=str(path),
        fix="check the file's permissions (it must be readable)",
    )


class SqliteBase:
    """Connection (WAL, foreign keys, busy timeout) and the schema of the metastore."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock | None = None,
        read_only: bool = False,
        external_locations: bool = False,
    ) -> None:
        self.path = Path(path)
        self.clock: Clock = clock or SystemClock()
        self.external_locations = external_locations
        self.read_only = read_only
        if read_only:
            self._conn = _open_read_only(self.path)
            self._conn.row_factory = sqlite3.Row
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.executescript(_DDL)

    def close(self) -> None:
        self._conn.close()

    # Table locations are stored relative to the folder holding metastore.db (the project's
    # .lakecrew/), so a copied or moved project reads its own tables. A location written by an
    # older version as an absolute path into *a* project's lakehouse is read as the same table
    # under this project's lakehouse.

    def stored_location(self, location: str | None) -> str | None:
        if location is None:
            return None
        try:
            return str(Path(location).resolve().relative_to(self.path.parent.resolve()))
        except ValueError:
            return location  # an external location: kept as given

    def inside_project(self, location: str) -> bool:
        """Whether a location (as given or as stored) resolves inside the project's state
        folder, following links: only such tables travel with a copied or moved project."""
        absolute = self.absolute_location(location)
        if absolute is None or "://" in absolute:
            return False
        return Path(absolute).resolve().is_relative_to(self.path.parent.resolve())

    def check_location(self, full_name: str, location: str | None) -> None:
        """UsageError when a table would be registered outside the project (unless allowed)."""
        if location is None or self.external_locations or self.inside_project(location):
            return
        raise UsageError(
            f"table {full_name}: storage location {location} lies outside the project "
            f"({self.path.parent}); a copied or moved project would not carry it",
            where=full_name,
            fix="keep local tables under .lakecrew/lakehouse, or allow it with "
            "`lakehouse: {external_locations: true}` in lakecrew.yaml",
        )

    def outside_locations(self) -> list[tuple[str, str]]:
        """(table, location) of every registered table whose files lie outside the project."""
        rows = self._conn.execute(
            "SELECT catalog_name || '.' || schema_name || '.' || name, storage_location "
            "FROM tables WHERE storage_location IS NOT NULL ORDER BY 1"
        ).fetchall()
        return [(r[0], str(r[1])) for r in rows if not self.inside_project(str(r[1]))]

    def absolute_location(self, stored: str | None) -> str | None:
        if stored is None or "://" in stored:
            return stored
        path = Path(stored)
        if not path.is_absolute():
            return str(self.path.parent / path)
        marker = f"/{STATE_DIR}/lakehouse/"
        if marker in stored:
            return str(self.path.parent / "lakehouse" / stored.split(marker, 1)[1])
        return stored

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with immediate(self._conn) as conn:
            yield conn

    def _now(self) -> str:
        return _ts(self.clock.now())

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read-only helper for the information_schema renderer."""
        return self._conn.execute(sql, params).fetchall()


class GrantsAndLineage(SqliteBase):
    """The Grants and Lineage ports over SQLite."""

    # ------------------------------------------------------------ Grants port

    def list_grants(
        self,
        securable_name: str | None = None,
        *,
        principal: str | None = None,
        include_expired: bool = True,
    ) -> list[Grant]:
        """Grants, each with `expired` set against the metastore clock."""
        sec = securable_name.lower() if securable_name else None
        rows = self._conn.execute(
            "SELECT * FROM grants WHERE (? IS NULL OR securable_name=?) AND "
            "(? IS NULL OR principal=?) ORDER BY securable_name, principal, privilege",
            (sec, sec, principal, principal),
        ).fetchall()
        now = self.clock.now()
        out = []
        for r in rows:
            expires = _dt(r["expires_at"])
            expired = expires is not None and expires <= now  # Grant.is_expired, inlined
            if include_expired or not expired:
                out.append(
                    Grant(
                        principal=r["principal"],
                        privilege=r["privilege"],
                        securable_type=r["securable_type"],
                        securable_name=r["securable_name"],
                        granted_by=r["granted_by"],
                        granted_at=_dt(r["granted_at"]),
                        expires_at=expires,
                        expired=expired,
                    )
                )
        return out

    def grant(self, grant: Grant) -> Grant:
        """Add (or renew) a grant; the securable name is validated for its type."""
        stype = grant.securable_type.upper()
        if stype not in _SECURABLES:
            raise UsageError(
                f"unknown securable type {grant.securable_type!r}",
                where=grant.securable_name,
                fix="use one of " + ", ".join(_SECURABLES),
            )
        name = grant.securable_name.lower()
        if len(name.split(".")) != _SECURABLES[stype]:
            raise UsageError(
                f"{stype} name {grant.securable_name!r} needs {_SECURABLES[stype]} part(s)",
                where=grant.securable_name,
            )
        granted_at = grant.granted_at or self.clock.now()
        with self._tx() as c:
            c.execute(
                "INSERT INTO grants VALUES (?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                "granted_by=excluded.granted_by, granted_at=excluded.granted_at,"
                " expires_at=excluded.expires_at",
                (grant.principal, grant.privilege.upper(), stype, name, grant.granted_by,
                 _ts(granted_at), _ts(grant.expires_at) if grant.expires_at else None),
            )  # fmt: skip
        return replace(
            grant,
            privilege=grant.privilege.upper(),
            securable_type=stype,
            securable_name=name,
            granted_at=granted_at,
            expired=grant.is_expired(self.clock.now()),
        )

    def revoke(
        self, principal: str, privilege: str, securable_type: str, securable_name: str
    ) -> bool:
        with self._tx() as c:
            cur = c.execute(
                "DELETE FROM grants WHERE principal=? AND privilege=? AND securable_type=? AND "
                "securable_name=?",
                (principal, privilege.upper(), securable_type.upper(), securable_name.lower()),
            )
        return cur.rowcount > 0

    # ------------------------------------------------------------ MaskFunctions port

    def get_function(self, full_name: str) -> FunctionDef | None:
        name = ".".join(parse_full_name(full_name))
        try:
            r = self._conn.execute("SELECT * FROM functions WHERE full_name=?", (name,)).fetchone()
        except sqlite3.OperationalError:  # an older metastore opened read-only: no functions yet
            return None
        if r is None:
            return None
        return FunctionDef(name, r["body"], r["param_type"], r["returns"], r["comment"])

    def create_function(self, fn: FunctionDef) -> FunctionDef:
        """Store the function; the same body again is a no-op, another body is a Conflict."""
        name = ".".join(parse_full_name(fn.full_name))
        have = self.get_function(name)
        if have is not None:
            if not same_body(have.body, fn.body):
                raise SafetyRefusal(
                    f"function {name} already exists with another body",
                    where=name,
                    fix="compare it with `lakecrew govern plan`; drop or rename the existing "
                    "function, or point the mask table at another name",
                )
            return have
        with self._tx() as c:
            c.execute(
                "INSERT INTO functions VALUES (?,?,?,?,?,?)",
                (name, fn.body, fn.param_type, fn.returns, fn.comment, self._now()),
            )
        return FunctionDef(name, fn.body, fn.param_type, fn.returns, fn.comment)

    # ------------------------------------------------------------ Lineage port

    def record(self, edge: LineageEdge) -> None:
        """Store one lineage edge (event_time defaults to now)."""
        src = ".".join(parse_full_name(edge.source))
        tgt = ".".join(parse_full_name(edge.target))
        with self._tx() as c:
            c.execute(
                "INSERT INTO lineage (source, target, entity_type, entity_id, entity_run_id, "
                "event_time) VALUES (?,?,?,?,?,?)",
                (src, tgt, edge.entity_type, edge.entity_id, edge.entity_run_id,
                 _ts(edge.event_time or self.clock.now())),
            )  # fmt: skip

    def edges(
        self,
        table: str | None = None,
        *,
        direction: Literal["upstream", "downstream", "both"] = "both",
    ) -> list[LineageEdge]:
        """Edges into (`upstream`), out of (`downstream`) or touching a table; all if None."""
        name = ".".join(parse_full_name(table)) if table else None
        where = {
            "upstream": "target = :t",
            "downstream": "source = :t",
            "both": "(source = :t OR target = :t)",
        }[direction]
        sql = "SELECT * FROM lineage" + (f" WHERE {where}" if name else "") + " ORDER BY id"
        return [
            LineageEdge(
                source=r["source"],
                target=r["target"],
                entity_type=r["entity_type"],
                entity_id=r["entity_id"],
                entity_run_id=r["entity_run_id"],
                event_time=_dt(r["event_time"]),
            )
            for r in self._conn.execute(sql, {"t": name})
        ]
