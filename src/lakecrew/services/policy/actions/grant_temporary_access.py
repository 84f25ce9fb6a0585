"""grant_temporary_access: a documented, approved grant with an expiry (SOP 1.3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakecrew.services.policy.actions.base import action
from lakecrew.services.policy.actions.catalog_base import (
    CatalogAction,
    State,
    UcPorts,
    grant_from,
    grant_keys,
    grant_state,
)


@action
class GrantTemporaryAccess(CatalogAction):
    """Grant PRIVILEGE on SECURABLE to PRINCIPAL until a date, with the reason and approver
    recorded in the ledger (`lakecrew access grant`). The expiry is stored with the grant where
    the metastore keeps one (local) and in the ledger everywhere; the sweep revokes it when due.
    The rollback revokes it (or restores the grant that was there before).

    ```yaml
    action: {name: grant_temporary_access}
    ```
    """

    name = "grant_temporary_access"
    floor = 1  # a person asked for it with an approver; it is not the crew's remediation
    kinds = ("grants",)

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        # Unity Catalog keeps no expiry (None): the ledger holds it and the sweep revokes
        return bool(live.get("held")) and live.get("expires_at") in (None, target["until"])

    def live(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> State:
        return grant_state(uc, target)

    def put(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> None:
        if str(target["securable_type"]).upper() == "TABLE":
            # NotFound (failed, exit 1) as Unity Catalog answers, on the local metastore too
            # (which would otherwise keep a grant on a table that does not exist)
            uc.catalog.get_table(str(target["securable"]))
        uc.grants.grant(grant_from(target, str(target["until"]), str(target["approver"])))

    def restore(self, uc: UcPorts, resource_id: str, before: Mapping[str, Any]) -> None:
        if before.get("held"):
            uc.grants.grant(
                grant_from({**before, **grant_keys(resource_id)}, before.get("expires_at"), None)
            )
        else:
            t = grant_keys(resource_id)
            uc.grants.revoke(t["principal"], t["privilege"], t["securable_type"], t["securable"])
