"""The IdentityReader port over databricks-sdk (token management, SCIM, IP lists, conf, ACLs).

Each call goes through the SDK's own service classes on the client's Config (so retries,
timeouts and auth are the client's); answers are turned back into REST JSON with `as_dict()`.
401/403/404/501 on one API raise `Unavailable(api, cause)` with the permission it needs
(`errors.unavailable_text`): a token list the caller may not read is *unseen*, not empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from lakecrew.adapters.databricks.client import DatabricksClient
from lakecrew.adapters.databricks.errors import unavailable_or_translated


class DatabricksIdentity:
    """One workspace's identity settings through the SDK."""

    def __init__(self, client: DatabricksClient, workspace: str) -> None:
        self.client = client
        self.name = workspace
        self._w = client.workspace_client()

    def _call(self, api: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - every SDK error becomes one of ours
            raise unavailable_or_translated(exc, where=self.name, action=api) from None

    def _listed(self, api: str, fn: Callable[[], Any]) -> list[dict[str, Any]]:
        return self._call(api, lambda: [x.as_dict() for x in fn()])  # type: ignore[no-any-return]

    def tokens(self) -> list[dict[str, Any]]:
        return self._listed("token_management.list", self._w.token_management.list)

    def users(self) -> list[dict[str, Any]]:
        return self._listed(
            "users.list", lambda: self._w.users.list(attributes="id,userName,active,groups")
        )

    def groups(self) -> list[dict[str, Any]]:
        return self._listed("groups.list", self._w.groups.list)

    def group_members(self) -> list[dict[str, Any]]:
        """SCIM Groups with their members (`attributes=id,displayName,members`)."""
        return self._listed(
            "groups.list",
            lambda: self._w.groups.list(attributes="id,displayName,members"),
        )

    def ip_access_lists(self) -> list[dict[str, Any]]:
        return self._listed("ip_access_lists.list", self._w.ip_access_lists.list)

    def workspace_conf(self, keys: Sequence[str]) -> dict[str, str | None]:
        got = self._call(
            "workspace_conf.get_status",
            lambda: self._w.workspace_conf.get_status(keys=",".join(keys)),
        )
        return {k: (None if got.get(k) is None else str(got.get(k))) for k in keys}

    def clusters(self) -> list[dict[str, Any]]:
        return self._listed("clusters.list", self._w.clusters.list)

    def cluster_policies(self) -> list[dict[str, Any]]:
        return self._listed("cluster_policies.list", self._w.cluster_policies.list)

    def secret_metadata(self) -> list[dict[str, Any]]:
        scopes = self._listed("secrets.list_scopes", self._w.secrets.list_scopes)
        out: list[dict[str, Any]] = []
        for s in scopes:
            name = str(s.get("name"))
            listed = self._listed(
                "secrets.list_secrets", partial(self._w.secrets.list_secrets, name)
            )
            out.extend({"scope": name, **m} for m in listed)
        return out

    def policy_permissions(self, policy_id: str) -> dict[str, Any]:
        got = self._call(
            "permissions.get",
            lambda: self._w.permissions.get("cluster-policies", policy_id),
        )
        return got.as_dict()  # type: ignore[no-any-return]
