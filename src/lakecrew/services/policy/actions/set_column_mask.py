"""set_column_mask: attach the masking function of a PII column's kind (SOP 1.3.1, 3.1.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakecrew.ports.catalog import FunctionDef
from lakecrew.services.policy.actions.base import action
from lakecrew.services.policy.actions.catalog_base import (
    CatalogAction,
    State,
    UcPorts,
    find_column,
    split_column_id,
)


@action
class SetColumnMask(CatalogAction):
    """Create the mask function when absent (refused when one of that name has another body),
    then `ALTER TABLE ... ALTER COLUMN c SET MASK fn` on resource ``table#column``. The
    rollback restores the previous mask (or drops it); the function itself is shared and kept.

    ```yaml
    action: {name: set_column_mask}
    ```
    """

    name = "set_column_mask"

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        return str(live.get("mask") or "").lower() == str(target["function"]["full_name"]).lower()

    def live(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> State:
        table, column = split_column_id(resource_id)
        col = find_column(uc.catalog.get_table(table), str(column))
        return {"mask": col.mask, "mask_using": list(col.mask_using)}

    def put(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> None:
        table, column = split_column_id(resource_id)
        fn = FunctionDef(**target["function"])
        uc.functions.create_function(fn)
        uc.catalog.set_column(table, str(column), mask=fn.full_name)

    def restore(self, uc: UcPorts, resource_id: str, before: Mapping[str, Any]) -> None:
        table, column = split_column_id(resource_id)
        mask = before.get("mask")
        if mask:
            uc.catalog.set_column(
                table, str(column), mask=str(mask), mask_using=list(before.get("mask_using") or [])
            )
        else:
            uc.catalog.set_column(table, str(column), clear_mask=True)
