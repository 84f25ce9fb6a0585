"""Local accounts and server-side sessions of the dashboard (`.lakecrew/web/accounts.db`).

- Passwords are hashed with Argon2id (argon2-cffi, its default parameters); a login with an
  unknown name still verifies against a dummy hash, so timing does not tell names apart.
- Roles: `viewer` (read-only) and `operator` (approve, exempt, roll back).
- A session is a random 32-byte token in an HttpOnly cookie; only its SHA-256 is stored, with
  the user, a CSRF token and an expiry (8 hours). Logging out, removing the user or changing its
  role ends its sessions (the role is read from the user row on every request).
- Failed logins: after `MAX_FAILURES` within `LOCKOUT` a name is refused until the window ends.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from lakecrew.core.errors import NotFound, UsageError

Role = Literal["viewer", "operator"]
ROLES: tuple[Role, ...] = ("viewer", "operator")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12
SESSION_TTL = timedelta(hours=8)
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  token_sha256 TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  csrf TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sso_sessions (
  token_sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
  csrf TEXT NOT NULL, expires_at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    @property
    def operator(self) -> bool:
        return self.role == "operator"


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


def accounts_path(project: Path) -> Path:
    return project / ".lakecrew" / "web" / "accounts.db"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users and sessions in one SQLite file (thread-safe: one connection behind a lock)."""

    def __init__(self, path: Path, *, hasher: Any = None) -> None:
        """`hasher`: an argon2 PasswordHasher (default: argon2-cffi's RFC 9106 low-memory
        profile); tests pass a cheap one — verification reads the parameters from each hash."""
        from argon2 import PasswordHasher

        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(SCHEMA)
        path.chmod(0o600)
        self._lock = threading.Lock()
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_hex(16))
        self._failures: dict[str, list[datetime]] = {}

    def close(self) -> None:
        self._db.close()

    def _q(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ------------------------------------------------------------------------------ users

    def add(self, name: str, password: str, role: str, *, replace: bool = False) -> User:
        """Create (or with `replace`, reset) a user; names and passwords are checked first."""
        if not NAME.match(name):
            raise UsageError(
                f"invalid user name {name!r}",
                fix="1-64 characters: letters, digits, '.', '_', '@', '-'",
            )
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r}", fix=f"use one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise UsageError(
                f"the password is shorter than {MIN_PASSWORD} characters",
                fix="choose a longer passphrase",
            )
        exists = bool(self._q("SELECT 1 FROM users WHERE name = ?", name))
        if exists and not replace:
            raise UsageError(f"user {name!r} exists", fix="pass --replace to reset it")
        hashed = self._hasher.hash(password)
        now = datetime.now(UTC).isoformat()
        self._q("DELETE FROM sessions WHERE name = ?", name)
        self._q(
            "INSERT INTO users VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
            "role = excluded.role, hash = excluded.hash",
            name,
            role,
            hashed,
            now,
        )
        return User(name, role)

    def remove(self, name: str) -> None:
        if not self._q("SELECT 1 FROM users WHERE name = ?", name):
            raise NotFound(f"no user {name!r}", fix="list users with `lakecrew users list`")
        self._q("DELETE FROM users WHERE name = ?", name)

    def users(self) -> list[User]:
        return [User(n, r) for n, r in self._q("SELECT name, role FROM users ORDER BY name")]

    def user(self, name: str) -> User | None:
        rows = self._q("SELECT name, role FROM users WHERE name = ?", name)
        return User(rows[0][0], rows[0][1]) if rows else None

    def verify(self, name: str, password: str, now: datetime | None = None) -> User | None:
        """The user when the password matches; None otherwise (and while locked out)."""
        from argon2.exceptions import VerificationError

        now = now or datetime.now(UTC)
        recent = [t for t in self._failures.get(name, []) if now - t < LOCKOUT]
        rows = self._q("SELECT name, role, hash FROM users WHERE name = ?", name)
        try:
            self._hasher.verify(rows[0][2] if rows else self._dummy, password)
            ok = bool(rows) and len(recent) < MAX_FAILURES
        except VerificationError:
            ok = False
        if not ok:
            self._failures[name] = [*recent, now][-MAX_FAILURES:]
            return None
        self._failures.pop(name, None)
        return User(rows[0][0], rows[0][1])

    def locked_out(self, name: str, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return len([t for t in self._failures.get(name, []) if now - t < LOCKOUT]) >= MAX_FAILURES

    # ---------------------------------------------------------------------------- sessions

    def open_session(self, user: User) -> tuple[str, Session]:
        """A new session: the token for the cookie and the session (with its CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = (datetime.now(UTC) + SESSION_TTL).isoformat()
        self._q("DELETE FROM sessions WHERE expires_at < ?", datetime.now(UTC).isoformat())
        self._q(
            "INSERT INTO sessions VALUES (?, ?, ?, ?)", _digest(token), user.name, csrf, expires
        )
        return token, Session(user, csrf)

    def open_sso_session(self, name: str, role: Role) -> tuple[str, Session]:
        """A session for a user signed in by the OIDC provider (no local account): the role
        the ID token's claims mapped to at sign-in, kept for the session's life."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        self._q("DELETE FROM sso_sessions WHERE expires_at < ?", now.isoformat())
        self._q(
            "INSERT INTO sso_sessions VALUES (?, ?, ?, ?, ?)",
            _digest(token), name, role, csrf, (now + SESSION_TTL).isoformat(),
        )  # fmt: skip
        return token, Session(User(name, role), csrf)

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        rows = self._q(
            "SELECT u.name, u.role, s.csrf, s.expires_at FROM sessions s "
            "JOIN users u ON u.name = s.name WHERE s.token_sha256 = ? "
            "UNION ALL SELECT name, role, csrf, expires_at FROM sso_sessions "
            "WHERE token_sha256 = ?",
            _digest(token),
            _digest(token),
        )
        if not rows or rows[0][3] < datetime.now(UTC).isoformat():
            return None
        name, role, csrf, _ = rows[0]
        return Session(User(name, role), csrf)

    def close_session(self, token: str | None) -> None:
        if token:
            self._q("DELETE FROM sessions WHERE token_sha256 = ?", _digest(token))
            self._q("DELETE FROM sso_sessions WHERE token_sha256 = ?", _digest(token))
