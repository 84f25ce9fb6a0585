"""SecretStore over Databricks secret scopes (`GET /api/2.0/secrets/get`, databricks-sdk).

The REST answer carries the value base64-encoded; it is decoded here and returned as
`SecretStr`. Errors name the scope and key (never a value): a missing secret is NotFound with
the `databricks secrets put-secret` command that fixes it; no READ permission on the scope is
PermissionDenied.
"""

from __future__ import annotations

import base64

from pydantic import SecretStr

from lakecrew.adapters.databricks.client import DatabricksClient
from lakecrew.adapters.databricks.errors import translate
from lakecrew.core.errors import NotFound
from lakecrew.ports.secrets import check_secret_name


class DatabricksSecretStore:
    """Secrets of one workspace's secret scopes."""

    def __init__(self, client: DatabricksClient, workspace: str) -> None:
        self.client = client
        self.workspace = workspace

    def get(self, scope: str, key: str) -> SecretStr:
        from databricks.sdk import errors as sdk_errors

        check_secret_name(scope, key)
        where = f"secret scope {scope} of workspace {self.workspace}"
        try:
            answer = self.client.secrets.get_secret(scope=scope, key=key)
        except sdk_errors.NotFound:
            raise NotFound(
                f"secret {scope}/{key} is not set",
                where=where,
                fix=f"databricks secrets put-secret {scope} {key}",
            ) from None
        except Exception as exc:  # noqa: BLE001 - every SDK error becomes one of ours
            raise translate(exc, where=where, action="secrets.get") from None
        raw = answer.value or ""
        try:
            return SecretStr(base64.b64decode(raw).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise NotFound(
                f"secret {scope}/{key} is not UTF-8 text",
                where=where,
                fix="store the value as text (URLs, tokens)",
            ) from None

    def exists(self, scope: str, key: str) -> bool:
        try:
            self.get(scope, key)
        except NotFound:
            return False
        return True
