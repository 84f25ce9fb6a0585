"""set_table_owner: give a Unity Catalog table the owner its pipeline spec names (SOP 1.3.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakecrew.services.policy.actions.base import action
from lakecrew.services.policy.actions.catalog_base import CatalogAction, State, UcPorts


@action
class SetTableOwner(CatalogAction):
    """Set a table's owner (`ALTER TABLE ... OWNER TO`; `tables.update(owner=)` on Databricks).

    ```yaml
    action: {name: set_table_owner}
    ```
    """

    name = "set_table_owner"

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return bool(live.get("owner") == target["owner"])

    def live(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> State:
        return {"owner": uc.catalog.get_table(resource_id).owner}

    def put(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> None:
        uc.catalog.update_table(resource_id, owner=str(target["owner"]))

    def restore(self, uc: UcPorts, resource_id: str, before: Mapping[str, Any]) -> None:
        uc.catalog.update_table(resource_id, owner=str(before.get("owner") or ""))
