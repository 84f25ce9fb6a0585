"""add_tags: fill in the missing mandatory tags (SOP 2.1.1), merged with the existing ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from lakecrew.core.resources import Resource
from lakecrew.ports.workspace import Change, ObjectKind, Workspace
from lakecrew.services.policy.actions.base import (
    Action,
    Params,
    Situation,
    Target,
    Workload,
    action,
    current_tags,
)


class AddTagsParams(Params):
    tags: dict[str, str] = Field(default_factory=dict, description="fixed values to add")
    from_inventory: bool = Field(True, description="fill missing tags from the workspace inventory")


@action
class AddTags(Action):
    """Add the missing mandatory tags (merged; existing tags are kept).

    ```yaml
    action: {name: add_tags, params: {from_inventory: true}}
    ```
    """

    name = "add_tags"
    params = AddTagsParams
    destructive = False
    floor = 2
    kinds = ("clusters", "jobs", "warehouses", "instance_pools")

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        assert isinstance(params, AddTagsParams)
        have = current_tags(res.resource_type, res.data)
        pack = sit.pack
        env = pack.environments.get(sit.workload.environment)
        values = {**sit.inventory_tags, "owner": sit.owner}
        if env is not None:
            values["environment"] = env.tag_values[0]
        add = {k: str(v) for k, v in params.tags.items() if not have.get(k)}
        if params.from_inventory:
            add.update(
                {
                    k: values[k]
                    for k in pack.required_tags
                    if k in values and not str(have.get(k) or "").strip()
                }
            )
        return {"tags": add} if add else None

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        return None

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        have = current_tags(kind, live)
        return all(have.get(k) == v for k, v in target["tags"].items())

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        return ws.set_tags(ObjectKind(kind), object_id, dict(target["tags"]), merge=True)
