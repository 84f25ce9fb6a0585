"""Registered crew actions: name, docstring with a YAML example, params schema, destructiveness.

The pack names these in `rules[].action`; the Executor (services/crew) performs them through the
Workspace port when the rollout phase (rule `min_phase`, SOP 3.3) allows. Only the descriptors live
here; a destructive action is never taken on a running workload without the Executor's checks.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lakecrew.core.registry import NoParams, Registry


class ActionSpec:
    """Base of action descriptors (subclasses carry the docstring)."""


ACTIONS: Registry[type[ActionSpec]] = Registry("action", needs_destructive_flag=True)


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AddTagsParams(_P):
    tags: dict[str, str] = Field(default_factory=dict, description="fixed values to add")
    from_inventory: bool = Field(True, description="fill missing tags from the workspace inventory")


class SetAutoterminationParams(_P):
    minutes: int | None = Field(None, ge=10, description="default: the pack's max_minutes")


class ResizeParams(_P):
    to: Literal["size_limit", "env_bounds"] = "env_bounds"


class UpdateJobSettingsParams(_P):
    default_max_retries: int = Field(2, ge=1)
    min_retry_interval_millis: int = Field(60_000, ge=0)
    on_failure_from_owner: bool = True


class SetAutoStopParams(_P):
    minutes: int | None = Field(None, ge=1, description="default: the pack's warehouse maximum")


@ACTIONS.register("notify_only", destructive=False)
class NotifyOnly(ActionSpec):
    """Notify the owner only; nothing is changed.

    ```yaml
    action: {name: notify_only}
    ```
    """


@ACTIONS.register("add_tags", params=AddTagsParams, destructive=False)
class AddTags(ActionSpec):
    """Add the missing mandatory tags (merged; existing tags are kept).

    ```yaml
    action: {name: add_tags, params: {from_inventory: true}}
    ```
    """


@ACTIONS.register("set_autotermination", params=SetAutoterminationParams, destructive=False)
class SetAutotermination(ActionSpec):
    """Set `autotermination_minutes` on an all-purpose cluster (update with an update_mask).

    ```yaml
    action: {name: set_autotermination, params: {minutes: 30}}
    ```
    """


@ACTIONS.register("terminate", params=NoParams, destructive=True)
class Terminate(ActionSpec):
    """Terminate a cluster (clusters.delete: the cluster stays and can be restarted).

    ```yaml
    action: {name: terminate}
    ```
    """


@ACTIONS.register("resize", params=ResizeParams, destructive=True)
class Resize(ActionSpec):
    """Resize a cluster down to its environment's autoscale bounds or T-shirt size limit.

    ```yaml
    action: {name: resize, params: {to: env_bounds}}
    ```
    """


@ACTIONS.register("update_job_settings", params=UpdateJobSettingsParams, destructive=False)
class UpdateJobSettings(ActionSpec):
    """Fill in job configuration: retries on every task, failure notifications to the owner.

    ```yaml
    action: {name: update_job_settings, params: {default_max_retries: 2}}
    ```
    """


class PauseJobParams(_P):
    criticality_tag: str = "criticality"
    pausable: list[str] = Field(default_factory=lambda: ["low", "non-critical"])


@ACTIONS.register("pause_job", params=PauseJobParams, destructive=True)
class PauseJob(ActionSpec):
    """Pause the schedule of the non-critical jobs behind an ongoing cost spike (phase 4).

    Only jobs whose `criticality` tag is one of `pausable` are paused; a job tagged `critical`
    (or untagged) never is, and a critical Prod job never is. Needs an approval by default
    (lakecrew.yaml `crew.approvals_required_for`); rollback restores `pause_status`.

    ```yaml
    action: {name: pause_job, params: {criticality_tag: criticality, pausable: [low]}}
    ```
    """


@ACTIONS.register("set_autostop", params=SetAutoStopParams, destructive=False)
class SetAutoStop(ActionSpec):
    """Set a SQL warehouse's `auto_stop_mins`.

    ```yaml
    action: {name: set_autostop, params: {minutes: 30}}
    ```
    """


class ArchiveModelVersionParams(_P):
    restrict_to_owner: bool = Field(True, description="leave only the owner on the model's ACL")


@ACTIONS.register("archive_model_version", params=ArchiveModelVersionParams, destructive=False)
class ArchiveModelVersion(ActionSpec):
    """Archive a stale model version (SOP 1.7.1, phase 3): remove its aliases, tag it
    `gov.lifecycle=archived` with when and why, restrict the model's permissions to its owner.
    Nothing is deleted; `lakecrew rollback` restores aliases, tags and permissions.

    ```yaml
    action: {name: archive_model_version, params: {restrict_to_owner: true}}
    ```
    """


@ACTIONS.register("add_model_tags", destructive=False)
class AddModelTags(ActionSpec):
    """Add the project tags of lakecrew.yaml (`mlops.project_tags`, the model's owner) that a
    registered model lacks; existing tags are kept.

    ```yaml
    action: {name: add_model_tags}
    ```
    """
