"""set_table_comment: a comment a steward approved, on a table or a column (SOP 1.3.1)."""

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
class SetTableComment(CatalogAction):
    """Set the comment of a table (or of a column, resource ``table#column``) to the text a
    steward approved; the rollback puts the previous text back (an empty comment when there
    was none: Unity Catalog has no "unset").

    ```yaml
    action: {name: set_table_comment}
    ```
    """

    name = "set_table_comment"

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return bool((live.get("comment") or "") == target["comment"])

    def live(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> State:
        table, column = split_column_id(resource_id)
        info = uc.catalog.get_table(table)
        return {"comment": find_column(info, column).comment if column else info.comment}

    def put(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> None:
        self._set(uc, resource_id, str(target["comment"]))

    def restore(self, uc: UcPorts, resource_id: str, before: Mapping[str, Any]) -> None:
        self._set(uc, resource_id, str(before.get("comment") or ""))

    @staticmethod
    def _set(uc: UcPorts, resource_id: str, text: str) -> None:
        table, column = split_column_id(resource_id)
        if column:
            uc.catalog.set_column(table, column, comment=text)
        else:
            uc.catalog.update_table(table, comment=text)
