"""IdentityReader port: what the identity and platform checks read (SOP 1.4.3, 1.1.4, 1.2.8).

Objects are the REST JSON of the Databricks APIs, field names unchanged: token infos
(`/api/2.0/token-management/tokens`), SCIM users and groups, IP access lists, workspace-conf
keys, clusters, cluster policies and a policy's permissions. Every method reads one API; an API
the caller may not read raises `core.errors.Unavailable` (api, cause) — the checks then mark
what it hides as unseen, never as "nothing found".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class IdentityReader(Protocol):
    """One workspace's identity and platform settings (read only)."""

    name: str

    def tokens(self) -> list[dict[str, Any]]: ...

    def users(self) -> list[dict[str, Any]]: ...

    def groups(self) -> list[dict[str, Any]]: ...

    def ip_access_lists(self) -> list[dict[str, Any]]: ...

    def workspace_conf(self, keys: Sequence[str]) -> dict[str, str | None]: ...

    def clusters(self) -> list[dict[str, Any]]: ...

    def cluster_policies(self) -> list[dict[str, Any]]: ...

    def policy_permissions(self, policy_id: str) -> dict[str, Any]: ...

    def secret_metadata(self) -> list[dict[str, Any]]:
        """Every secret's `scope`, `key` and `last_updated_timestamp` (never a value)."""
        ...


class GroupDirectory(Protocol):
    """Who is in which group (SCIM `Users` and `Groups` with their `members`), for the access
    review: a grant to a group resolves to the people in it. An API the caller may not read
    raises `Unavailable`: membership is then unknown (said so), never "no members"."""

    def users(self) -> list[dict[str, Any]]: ...

    def group_members(self) -> list[dict[str, Any]]:
        """SCIM groups with `id`, `displayName` and `members` (`value`, `$ref`, `display`)."""
        ...


class LogDeliveryReader(Protocol):
    """The account's log delivery configurations (`GET /api/2.0/accounts/{id}/log-delivery`,
    REST JSON: `log_type`, `status`, `workspace_ids_filter`, `log_delivery_status`, ...). An
    API the caller may not read raises `Unavailable`: delivery is then unseen, never "not
    configured"."""

    def log_delivery(self) -> list[dict[str, Any]]: ...
