"""Access-control lists for the local MLflow store (OSS MLflow has none without its auth app).

Stored in SQLite next to the MLflow database in the Databricks Permissions API's shape
(`object_type` experiments | registered-models, object id, [{principal, permission_level}]), so the
hygiene rules and the archive action behave the same on both backends. A row with NULL acl means
"explicitly cleared"; no row means "never set".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from lakecrew.ports.models import Acl


class SqliteAclStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS acl (object_type TEXT, object_id TEXT, acl TEXT, "
                "PRIMARY KEY (object_type, object_id))"
            )

    def _conn(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get(self, kind: str, object_id: str) -> tuple[Acl, ...] | None:
        with self._conn() as c:
            row = c.execute(
                "SELECT acl FROM acl WHERE object_type = ? AND object_id = ?", (kind, object_id)
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return tuple(Acl(a["principal"], a["permission_level"]) for a in json.loads(row[0]))

    def put(self, kind: str, object_id: str, acl: Sequence[Acl] | None) -> None:
        text = (
            None
            if acl is None
            else json.dumps([{"principal": a.principal, "permission_level": a.level} for a in acl])
        )
        with self._conn() as c:
            c.execute(
                "INSERT INTO acl (object_type, object_id, acl) VALUES (?,?,?) "
                "ON CONFLICT (object_type, object_id) DO UPDATE SET acl = excluded.acl",
                (kind, object_id, text),
            )
