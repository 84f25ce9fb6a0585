"""The LogDeliveryReader port over databricks-sdk's account API (`AccountClient.log_delivery`).

`account_log_delivery(account_config)` builds a client for the account console (lakecrew.yaml
`account:` — host, account_id, auth_profile; credentials from the profile or DATABRICKS_*) with
the same bounded timeouts and retries as a workspace client, and reads every page of
`GET /api/2.0/accounts/{account_id}/log-delivery` through the SDK's `LogDeliveryAPI` (the class
`AccountClient.log_delivery` is). 401/403/404/501 raise `Unavailable` (api
`log_delivery.list`): the audit-delivery check is then unseen, never "not configured".
"""

from __future__ import annotations

from typing import Any

from lakecrew.adapters.databricks.client import DatabricksClient, build_client
from lakecrew.adapters.databricks.errors import unavailable_or_translated
from lakecrew.core.errors import LakecrewError, Unavailable

API = "log_delivery.list"


class DatabricksAccount:
    """Account-level reads (log delivery) through one RetryingApiClient."""

    def __init__(self, client: DatabricksClient) -> None:
        from databricks.sdk.service.billing import LogDeliveryAPI

        self.client = client
        self.name = f"account {client.config.account_id}"
        self._log_delivery = LogDeliveryAPI(client.api)  # type: ignore[no-untyped-call]

    def log_delivery(self) -> list[dict[str, Any]]:
        try:
            return [c.as_dict() for c in self._log_delivery.list()]
        except Exception as exc:  # noqa: BLE001 - every SDK error becomes one of ours
            raise unavailable_or_translated(exc, where=self.name, action=API) from None


def account_log_delivery(account: Any) -> DatabricksAccount:
    """The account reader of lakecrew.yaml's `account:` section (services.estate.config)."""
    from lakecrew.adapters.databricks import options_for

    client = build_client(
        host=account.host,
        profile=account.auth_profile,
        options=options_for(account),
        account_id=account.account_id,
    )
    return DatabricksAccount(client)


class AccountLogDelivery:
    """The LogDeliveryReader of lakecrew.yaml's `account:` section (an AccountConfig): the SDK
    account client is built on first use and the configurations read once (a sweep judges
    every workspace against the same account answer). A client that cannot be built (no
    usable account credentials, host unreachable) is `Unavailable` (cause `failed`): the
    check is unseen."""

    def __init__(self, account: Any) -> None:
        self.account = account
        self._answer: list[dict[str, Any]] | Unavailable | None = None

    def log_delivery(self) -> list[dict[str, Any]]:
        if self._answer is None:
            self._answer = self._read()
        if isinstance(self._answer, Unavailable):
            raise self._answer
        return self._answer

    def _read(self) -> list[dict[str, Any]] | Unavailable:
        try:
            return account_log_delivery(self.account).log_delivery()
        except Unavailable as exc:
            return exc
        except LakecrewError as exc:
            where = f"account {self.account.account_id}"
            return Unavailable(f"{API}: {exc.one_line()}", api=API, cause="failed", where=where)
