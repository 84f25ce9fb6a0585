"""Workspace port: read and change workspace objects stored as REST-shaped JSON.

Objects cross this port as plain dicts whose field names are exactly the Databricks REST API's, so
`databricks.sdk.service.compute.ClusterDetails.from_dict(obj.data)` (and siblings) parse them.
Every mutation returns a `Change` with the before and after state and writes an audit event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ObjectKind(StrEnum):
    """Workspace object types; the value is the REST collection name."""

    CLUSTER = "clusters"
    CLUSTER_POLICY = "cluster_policies"
    JOB = "jobs"
    WAREHOUSE = "warehouses"
    INSTANCE_POOL = "instance_pools"
    SECRET_SCOPE = "secret_scopes"
    SECRET_ACL = "secret_acls"  # object_id is "<scope>/<principal>"; never secret values


# The field holding each kind's id in its REST shape.
ID_FIELD: Mapping[ObjectKind, str] = {
    ObjectKind.CLUSTER: "cluster_id",
    ObjectKind.CLUSTER_POLICY: "policy_id",
    ObjectKind.JOB: "job_id",
    ObjectKind.WAREHOUSE: "id",
    ObjectKind.INSTANCE_POOL: "instance_pool_id",
    ObjectKind.SECRET_SCOPE: "name",
    ObjectKind.SECRET_ACL: "principal",
}


def secret_acl_id(scope: str, principal: str) -> str:
    """The object id of one secret-scope ACL: ``<scope>/<principal>`` (scope names hold no '/')."""
    return f"{scope}/{principal}"


def split_secret_acl_id(object_id: str) -> tuple[str, str]:
    """Inverse of `secret_acl_id`: ``(scope, principal)``."""
    scope, _, principal = object_id.partition("/")
    return scope, principal


def object_id_of(kind: ObjectKind, data: Mapping[str, Any]) -> str | None:
    """The id of a REST object as a string, or None when its id field is missing or empty.

    Secret ACLs carry no scope in their REST shape; build their id with `secret_acl_id`.
    """
    value = data.get(ID_FIELD[kind])
    if value is None or isinstance(value, bool) or value == "":
        return None
    return str(value)


@dataclass(frozen=True)
class WorkspaceObject:
    """One workspace object: its kind, its id (always a string) and its REST JSON."""

    kind: ObjectKind
    object_id: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Change:
    """The result of one mutation: what it was before, what it is now, and its audit event."""

    workspace: str
    kind: ObjectKind
    object_id: str
    action: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    audit_event_id: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return dict(self.before) != dict(self.after)


class WorkspaceReader(Protocol):
    """Read-only view of one workspace."""

    name: str

    def list(self, kind: ObjectKind) -> Iterator[WorkspaceObject]: ...

    def get(self, kind: ObjectKind, object_id: str) -> WorkspaceObject: ...

    def workspace_conf(self, keys: Sequence[str]) -> dict[str, str | None]: ...


class WorkspaceWriter(Protocol):
    """The mutations the crew needs; each returns before/after and is audited."""

    def set_tags(
        self, kind: ObjectKind, object_id: str, tags: Mapping[str, str], *, merge: bool = True
    ) -> Change: ...

    def set_autotermination(self, cluster_id: str, minutes: int) -> Change: ...

    def set_warehouse_autostop(self, warehouse_id: str, minutes: int) -> Change:
        """Set a SQL warehouse's auto_stop_mins (0 = never, else ≥ 10); a full-object edit."""
        ...

    def terminate(self, cluster_id: str) -> Change: ...

    def resize(
        self,
        cluster_id: str,
        *,
        num_workers: int | None = None,
        autoscale: tuple[int, int] | None = None,
    ) -> Change: ...

    def update_job(
        self, job_id: str, new_settings: Mapping[str, Any], fields_to_remove: tuple[str, ...] = ()
    ) -> Change: ...

    def restore(self, kind: ObjectKind, object_id: str, before: Mapping[str, Any]) -> Change: ...


class Workspace(WorkspaceReader, WorkspaceWriter, Protocol):
    """A workspace you can read and change."""


class WorkspaceLoader(Protocol):
    """Bulk loading for the simulator and the importer (not audited: it is not a crew action)."""

    name: str

    def load(
        self,
        objects: Mapping[ObjectKind, Iterable[WorkspaceObject]],
        conf: Mapping[str, str | None] | None = None,
    ) -> dict[ObjectKind, int]:
        """Insert or replace all `objects` and `conf` keys in ONE transaction; counts per kind."""
        ...

    def count(self, kind: ObjectKind) -> int: ...
