"""revoke_expired_grant: temporary access ends when it expires (SOP 1.3.2)."""

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
class RevokeExpiredGrant(CatalogAction):
    """Revoke a grant whose expiry has passed (SOP 1.3.2: temporary access expires
    automatically). A grant already gone (revoked by hand, principal deleted, securable
    dropped) is recorded as satisfied, not failed. The rollback grants it again with its old
    expiry.

    ```yaml
    action: {name: revoke_expired_grant}
    ```
    """

    name = "revoke_expired_grant"
    kinds = ("grants",)

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return not live.get("held")

    def live(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> State:
        return grant_state(uc, target)

    def put(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> None:
        t = grant_keys(resource_id)
        uc.grants.revoke(t["principal"], t["privilege"], t["securable_type"], t["securable"])

    def restore(self, uc: UcPorts, resource_id: str, before: Mapping[str, Any]) -> None:
        uc.grants.grant(grant_from(grant_keys(resource_id), before.get("expires_at"), None))
