"""set_table_tags: classification, steward and the spec's tags on a table (SOP 1.3.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakecrew.services.policy.actions.base import action
from lakecrew.services.policy.actions.catalog_base import (
    CatalogAction,
    State,
    UcPorts,
    find_column,
    split_column_id,
)


@action
class SetTableTags(CatalogAction):
    """Set tags on a table (or on one column, resource ``table#column``), merged with the
    existing ones; the rollback puts the whole previous tag set back.

    ```yaml
    action: {name: set_table_tags}
    ```
    """

    name = "set_table_tags"

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        have = live.get("tags") or {}
        return all(have.get(k) == v for k, v in target["tags"].items())

    def live(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> State:
        table, column = split_column_id(resource_id)
        info = uc.catalog.get_table(table)
        tags = find_column(info, column).tags if column else info.tags
        return {"tags": dict(tags)}

    def put(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> None:
        table, column = split_column_id(resource_id)
        uc.catalog.set_tags(table, dict(target["tags"]), column=column, merge=True)

    def restore(self, uc: UcPorts, resource_id: str, before: Mapping[str, Any]) -> None:
        table, column = split_column_id(resource_id)
        uc.catalog.set_tags(table, dict(before.get("tags") or {}), column=column, merge=False)
