"""The IdentityReader port over a folder of exported REST JSON (for an offline review).

One file per API, as the API (or the Databricks CLI with ``--output json``) returns it:
``tokens.json`` (``{"token_infos": [...]}``), ``users.json`` and ``groups.json`` (SCIM
``{"Resources": [...]}``), ``ip_access_lists.json``, ``workspace_conf.json`` (a key → value
object), ``clusters.json``, ``cluster_policies.json`` (``{"policies": [...]}``),
``policy_permissions/<policy_id>.json`` and ``secrets.json`` (scope, key and
``last_updated_timestamp`` of every secret — metadata only). A bare JSON list is accepted for
the listings. A file that is missing makes that API unseen (`Unavailable`), never empty; a file
that is not JSON is a DataError naming it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lakecrew.core.errors import DataError, Unavailable

_LIST_KEYS = {
    "tokens": "token_infos",
    "users": "Resources",
    "groups": "Resources",
    "ip_access_lists": "ip_access_lists",
    "clusters": "clusters",
    "cluster_policies": "policies",
}


class IdentityExport:
    """Reads the export folder `root` of workspace `name`."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name

    def _load(self, rel: str, api: str) -> Any:
        path = self.root / rel
        if not path.is_file():
            raise Unavailable(
                f"{api}: no export file {rel}",
                api=api,
                cause="not_enabled",
                where=str(self.root),
                fix=f"export the API's JSON answer to {rel}",
            )
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            line = getattr(exc, "lineno", None)
            raise DataError(
                "not valid JSON", where=f"{path}:{line}" if line else str(path), fix="re-export it"
            ) from None

    def _listing(self, stem: str) -> list[dict[str, Any]]:
        doc = self._load(f"{stem}.json", f"{stem}.list")
        items = doc if isinstance(doc, list) else doc.get(_LIST_KEYS[stem], [])
        return [i for i in items if isinstance(i, dict)]

    def tokens(self) -> list[dict[str, Any]]:
        return self._listing("tokens")

    def users(self) -> list[dict[str, Any]]:
        return self._listing("users")

    def groups(self) -> list[dict[str, Any]]:
        return self._listing("groups")

    def group_members(self) -> list[dict[str, Any]]:
        """``groups.json`` (SCIM Groups listed with their ``members``)."""
        return self._listing("groups")

    def ip_access_lists(self) -> list[dict[str, Any]]:
        return self._listing("ip_access_lists")

    def workspace_conf(self, keys: Sequence[str]) -> dict[str, str | None]:
        doc = self._load("workspace_conf.json", "workspace_conf.get_status")
        return {k: None if doc.get(k) is None else str(doc[k]) for k in keys}

    def clusters(self) -> list[dict[str, Any]]:
        return self._listing("clusters")

    def cluster_policies(self) -> list[dict[str, Any]]:
        return self._listing("cluster_policies")

    def secret_metadata(self) -> list[dict[str, Any]]:
        """``secrets.json``: ``{"secrets": [{"scope", "key", "last_updated_timestamp"}]}``."""
        doc = self._load("secrets.json", "secrets.list_secrets")
        items = doc if isinstance(doc, list) else doc.get("secrets", [])
        return [i for i in items if isinstance(i, dict)]

    def policy_permissions(self, policy_id: str) -> dict[str, Any]:
        doc = self._load(f"policy_permissions/{policy_id}.json", "permissions.get")
        return doc if isinstance(doc, dict) else {}
