"""The local Workspace: REST-shaped workspace objects in one SQLite file, every change audited.

One table `workspace_objects(workspace, kind, object_id, body, updated_at)` holds the JSON of every
cluster, policy, job, warehouse, pool, secret scope and secret ACL of every local workspace (body =
the object exactly as the REST API returns it, unknown fields included); `workspace_conf(workspace,
key, value)` holds workspace settings. Each mutation is one transaction that reads the before
state, writes the after state and hands a `system.access.audit` row to `audit_sink` before it
commits (if the sink fails, nothing changes). Secret values are never stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lakecrew.adapters.local import workspace_mutations as mut
from lakecrew.adapters.local.sqlite_tx import immediate
from lakecrew.core.errors import NotFound, UsageError
from lakecrew.ports.clock import Clock
from lakecrew.ports.workspace import (
    ID_FIELD,
    Change,
    ObjectKind,
    WorkspaceObject,
    object_id_of,
    split_secret_acl_id,
)

AuditSink = Callable[[dict[str, Any]], None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS workspace_objects (
    workspace  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    object_id  TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace, kind, object_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS workspace_conf (
    workspace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace, key)
) WITHOUT ROWID;
"""
UPSERT = (
    "INSERT INTO workspace_objects (workspace, kind, object_id, body, updated_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace, kind, object_id) "
    "DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at"
)

# Audit log names of the real services (Databricks audit log reference).
AUDIT_SERVICE: Mapping[ObjectKind, str] = {
    ObjectKind.CLUSTER: "clusters",
    ObjectKind.CLUSTER_POLICY: "clusterPolicies",
    ObjectKind.JOB: "jobs",
    ObjectKind.WAREHOUSE: "databrickssql",
    ObjectKind.INSTANCE_POOL: "instancePools",
    ObjectKind.SECRET_SCOPE: "secrets",
    ObjectKind.SECRET_ACL: "secrets",
}
EDIT_ACTION: Mapping[ObjectKind, str] = {
    ObjectKind.CLUSTER: "edit",
    ObjectKind.CLUSTER_POLICY: "edit",
    ObjectKind.JOB: "update",
    ObjectKind.WAREHOUSE: "editWarehouse",
    ObjectKind.INSTANCE_POOL: "edit",
    ObjectKind.SECRET_SCOPE: "createScope",
    ObjectKind.SECRET_ACL: "putAcl",
}
RESTORE_ACTION: Mapping[ObjectKind, str] = {**EDIT_ACTION, ObjectKind.JOB: "reset"}


def _dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class LocalWorkspace:
    """Workspace (ports.workspace) and WorkspaceLoader over one SQLite file."""

    def __init__(
        self,
        name: str,
        workspace_id: str,
        db_path: Path,
        audit_sink: AuditSink,
        clock: Clock,
        *,
        actor: str = "lakecrew-crew",
        account_id: str | None = None,
    ) -> None:
        self.name = name
        self.workspace_id = str(workspace_id)
        self.db_path = Path(db_path)
        self.actor = actor
        self.account_id = account_id
        self._audit_sink = audit_sink
        self._clock = clock
        self._lock = threading.RLock()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = self._connect()
        self._conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def close(self) -> None:
        """Close the connection (the file stays)."""
        self._conn.close()

    def __enter__(self) -> LocalWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate(self._conn) as conn:
            yield conn

    # ---- reading -------------------------------------------------------------------------

    def list(self, kind: ObjectKind) -> Iterator[WorkspaceObject]:
        """All objects of one kind, ordered by id (streamed from a snapshot)."""
        kind = ObjectKind(kind)
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT object_id, body FROM workspace_objects "
                "WHERE workspace = ? AND kind = ? ORDER BY object_id",
                (self.name, kind.value),
            )
            for object_id, body in rows:
                yield WorkspaceObject(kind, object_id, json.loads(body))
        finally:
            conn.close()

    def _read(self, conn: sqlite3.Connection, kind: ObjectKind, object_id: str) -> dict[str, Any]:
        row = conn.execute(
            "SELECT body FROM workspace_objects WHERE workspace = ? AND kind = ? AND object_id = ?",
            (self.name, kind.value, str(object_id)),
        ).fetchone()
        if row is None:
            raise NotFound(
                f"{kind.value} object {object_id!r} not found",
                where=f"workspace {self.name}",
                fix=f"list the {kind.value} of this workspace for valid ids",
            )
        body: dict[str, Any] = json.loads(row[0])
        return body

    def get(self, kind: ObjectKind, object_id: str) -> WorkspaceObject:
        """One object by id; NotFound names the id."""
        kind = ObjectKind(kind)
        with self._lock:
            return WorkspaceObject(kind, str(object_id), self._read(self._conn, kind, object_id))

    def count(self, kind: ObjectKind) -> int:
        """How many objects of one kind this workspace holds."""
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*) FROM workspace_objects WHERE workspace = ? AND kind = ?",
                (self.name, ObjectKind(kind).value),
            ).fetchone()
        return int(row[0])

    def workspace_conf(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Like workspace_conf.get_status: each key's string value, None when never set."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value FROM workspace_conf WHERE workspace = ?", (self.name,)
            ).fetchall()
        stored = dict(rows)
        return {key: stored.get(key) for key in keys}

    # ---- bulk loading (simulator, importer) --------------------------------------------------

    def _rows(
        self, kind: ObjectKind, objects: Iterable[WorkspaceObject | Mapping[str, Any]]
    ) -> Iterator[tuple[str, ...]]:
        now = self._clock.now().isoformat()
        for i, obj in enumerate(objects):
            if isinstance(obj, WorkspaceObject):
                object_id, data = obj.object_id, obj.data
            else:
                object_id, data = object_id_of(kind, obj) or "", obj
                if not object_id or kind is ObjectKind.SECRET_ACL:
                    raise UsageError(
                        f"{kind.value} object #{i} has no id",
                        fix="give each object its id field (secret ACLs as WorkspaceObject)",
                    )
            yield (self.name, kind.value, object_id, _dumps(data), now)

    def put_many(
        self, kind: ObjectKind, objects: Iterable[WorkspaceObject | Mapping[str, Any]]
    ) -> int:
        """Insert or replace many objects of one kind in one transaction; returns the count."""
        return self.load({ObjectKind(kind): list(objects)})[ObjectKind(kind)]

    def load(
        self,
        objects: Mapping[ObjectKind, Iterable[WorkspaceObject | Mapping[str, Any]]],
        conf: Mapping[str, str | None] | None = None,
    ) -> dict[ObjectKind, int]:
        """Insert or replace objects of several kinds and conf keys in ONE transaction."""
        counts: dict[ObjectKind, int] = {}
        with self._tx() as conn:
            for raw_kind, items in objects.items():
                kind = ObjectKind(raw_kind)
                before = conn.total_changes
                conn.executemany(UPSERT, self._rows(kind, items))
                counts[kind] = conn.total_changes - before
            if conf:
                self._write_conf(conn, conf)
        return counts

    def _write_conf(self, conn: sqlite3.Connection, conf: Mapping[str, str | None]) -> None:
        now = self._clock.now().isoformat()
        for key, value in conf.items():
            if value is None:
                conn.execute(
                    "DELETE FROM workspace_conf WHERE workspace = ? AND key = ?", (self.name, key)
                )
            else:
                conn.execute(
                    "INSERT INTO workspace_conf VALUES (?, ?, ?, ?) ON CONFLICT (workspace, key) "
                    "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (self.name, key, str(value), now),
                )

    def set_workspace_conf(self, values: Mapping[str, str | None]) -> None:
        """Like workspace_conf.set_status (None unsets a key); audited as workspaceConfEdit."""
        with self._tx() as conn:
            self._write_conf(conn, values)
            params = {
                "workspaceConfKeys": ",".join(values),
                "workspaceConfValues": ",".join(
                    "" if v is None else str(v) for v in values.values()
                ),
            }
            self._audit_sink(self._audit_row("workspace", "workspaceConfEdit", params))

    # ---- mutations ---------------------------------------------------------------------------

    def _audit_row(self, service: str, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        now = self._clock.now()
        request_params = {
            k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in params.items()
        }
        return {
            "account_id": self.account_id,
            "workspace_id": self.workspace_id,
            "version": "2.0",
            "event_time": now,
            "event_date": now.date(),
            "source_ip_address": None,
            "user_agent": "lakecrew",
            "session_id": None,
            "user_identity": {"email": self.actor, "subject_name": None},
            "service_name": service,
            "action_name": action,
            "request_id": str(uuid.uuid4()),
            "request_params": request_params,
            "response": {"status_code": 200, "error_message": None, "result": None},
            "audit_level": "WORKSPACE_LEVEL",
            "event_id": str(uuid.uuid4()),
            "identity_metadata": {
                "run_by": self.actor,
                "run_as": self.actor,
                "acting_resource": None,
                "run_by_display_name": None,
                "run_as_display_name": None,
            },
        }

    def _mutate(
        self,
        kind: ObjectKind,
        object_id: str,
        action: str,
        params: Mapping[str, Any],
        change: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        must_exist: bool = True,
    ) -> Change:
        kind, object_id = ObjectKind(kind), str(object_id)
        with self._tx() as conn:
            try:
                before = self._read(conn, kind, object_id)
            except NotFound:
                if must_exist:
                    raise
                before = {}
            after = change(before)
            conn.execute(
                UPSERT,
                (self.name, kind.value, object_id, _dumps(after), self._clock.now().isoformat()),
            )
            event = self._audit_row(
                AUDIT_SERVICE[kind], action, {**_id_params(kind, object_id), **params}
            )
            self._audit_sink(event)
        return Change(self.name, kind, object_id, action, before, after, event["event_id"], params)

    def set_tags(
        self, kind: ObjectKind, object_id: str, tags: Mapping[str, str], *, merge: bool = True
    ) -> Change:
        """Set or merge user tags (clusters/pools custom_tags, jobs settings.tags, warehouses)."""
        kind = ObjectKind(kind)
        mut.read_tags(kind, {})  # refuses kinds without tags before touching the store
        params = {"tags": dict(tags), "merge": "true" if merge else "false"}
        return self._mutate(
            kind,
            object_id,
            EDIT_ACTION[kind],
            params,
            lambda d: mut.apply_tags(kind, d, tags, merge=merge),
        )

    def set_autotermination(self, cluster_id: str, minutes: int) -> Change:
        """Edit a cluster's autotermination_minutes (0 = never, else 10..10000)."""
        params = {"autotermination_minutes": str(minutes)}
        return self._mutate(
            ObjectKind.CLUSTER,
            cluster_id,
            "edit",
            params,
            lambda d: mut.set_autotermination(d, minutes),
        )

    def set_warehouse_autostop(self, warehouse_id: str, minutes: int) -> Change:
        """Edit a SQL warehouse's auto_stop_mins (0 = never, else 10..10000)."""
        mut.set_warehouse_autostop({}, minutes)  # validate before touching the store
        return self._mutate(
            ObjectKind.WAREHOUSE,
            warehouse_id,
            "editWarehouse",
            {"auto_stop_mins": str(minutes)},
            lambda d: mut.set_warehouse_autostop(d, minutes),
        )

    def terminate(self, cluster_id: str) -> Change:
        """clusters.delete: state TERMINATED with a USER_REQUEST reason (the cluster stays)."""
        now = self._clock.now()
        return self._mutate(
            ObjectKind.CLUSTER,
            cluster_id,
            "delete",
            {},
            lambda d: mut.terminate(d, now, self.actor),
        )

    def resize(
        self,
        cluster_id: str,
        *,
        num_workers: int | None = None,
        autoscale: tuple[int, int] | None = None,
    ) -> Change:
        """clusters.resize of a RUNNING cluster (Conflict when it is not running)."""
        params: dict[str, Any] = (
            {"num_workers": str(num_workers)}
            if num_workers is not None
            else {"autoscale": {"min_workers": autoscale[0], "max_workers": autoscale[1]}}
            if autoscale is not None
            else {}
        )
        return self._mutate(
            ObjectKind.CLUSTER,
            cluster_id,
            "resize",
            params,
            lambda d: mut.resize(d, str(cluster_id), num_workers, autoscale),
        )

    def update_job(
        self, job_id: str, new_settings: Mapping[str, Any], fields_to_remove: tuple[str, ...] = ()
    ) -> Change:
        """jobs.update: replace top-level settings, merge tasks/job_clusters by key."""
        # Audit only names, never values: settings may carry environment variables.
        params = {
            "new_settings": ",".join(sorted(new_settings)),
            "fields_to_remove": ",".join(fields_to_remove),
        }
        return self._mutate(
            ObjectKind.JOB,
            job_id,
            "update",
            params,
            lambda d: mut.update_job(d, new_settings, tuple(fields_to_remove)),
        )

    def restore(self, kind: ObjectKind, object_id: str, before: Mapping[str, Any]) -> Change:
        """Put a saved before-state back (rollback); re-creates the object if it is gone."""
        kind = ObjectKind(kind)
        if kind is not ObjectKind.SECRET_ACL and object_id_of(kind, before) != str(object_id):
            raise UsageError(
                f"the saved state is not {kind.value} {object_id!r}",
                fix="pass the `before` of a Change of this very object",
            )
        saved = json.loads(_dumps(before))
        return self._mutate(
            kind,
            object_id,
            RESTORE_ACTION[kind],
            {"lakecrew_operation": "rollback"},
            lambda _: saved,
            must_exist=False,
        )


def _id_params(kind: ObjectKind, object_id: str) -> dict[str, str]:
    """The id request parameters of an audit event for one object."""
    if kind is ObjectKind.SECRET_ACL:
        scope, principal = split_secret_acl_id(object_id)
        return {"scope": scope, "principal": principal}
    return {ID_FIELD[kind]: object_id}
