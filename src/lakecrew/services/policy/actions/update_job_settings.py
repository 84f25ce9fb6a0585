"""update_job_settings: retries on every task and failure notifications to the owner (SOP 2.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from lakecrew.core.resources import Resource
from lakecrew.ports.workspace import Change, Workspace
from lakecrew.services.policy.actions.base import (
    Action,
    Params,
    Situation,
    Target,
    Workload,
    action,
)


class UpdateJobSettingsParams(Params):
    default_max_retries: int = Field(2, ge=1)
    min_retry_interval_millis: int = Field(60_000, ge=0)
    on_failure_from_owner: bool = True


@action
class UpdateJobSettings(Action):
    """Fill in job configuration: retries on every task, failure notifications to the owner.

    A rule whose id names `notification` only adds the notifications; one naming `retries`
    only the retries.

    ```yaml
    action: {name: update_job_settings, params: {default_max_retries: 2}}
    ```
    """

    name = "update_job_settings"
    params = UpdateJobSettingsParams
    destructive = False
    floor = 3
    kinds = ("jobs",)

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        assert isinstance(params, UpdateJobSettingsParams)
        settings = res.data.get("settings") or {}
        new: dict[str, Any] = {}
        if "notification" not in sit.rule_id:
            tasks = [
                {
                    **t,
                    "max_retries": params.default_max_retries,
                    "min_retry_interval_millis": params.min_retry_interval_millis,
                }
                for t in settings.get("tasks") or []
                if isinstance(t, Mapping) and not t.get("max_retries")
            ]
            if tasks:
                new["tasks"] = tasks
        if "retries" not in sit.rule_id and params.on_failure_from_owner:
            notes = dict(settings.get("email_notifications") or {})
            if not notes.get("on_failure"):
                notes["on_failure"] = [sit.owner]
                new["email_notifications"] = notes
        return {"new_settings": new} if new else None

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        return None

    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        settings = live.get("settings") or {}
        new = target["new_settings"]
        tasks = {t.get("task_key"): t for t in settings.get("tasks") or []}
        tasks_ok = all(tasks.get(t["task_key"]) == t for t in new.get("tasks", []))
        notes_ok = (
            "email_notifications" not in new
            or settings.get("email_notifications") == new["email_notifications"]
        )
        return tasks_ok and notes_ok

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        return ws.update_job(object_id, dict(target["new_settings"]))
