"""What each workspace mutation does to a REST-shaped object, as the real API does it.

Pure functions: they take the stored JSON (a dict) and return the new JSON; they never write.
Semantics follow databricks-contract.md section 3 (clusters.delete = terminate, clusters.resize,
clusters.update of autotermination_minutes/custom_tags, jobs.update merging tasks and job_clusters
by key, warehouses' tags as a list of {key, value} pairs).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lakecrew.core.errors import Conflict, UsageError
from lakecrew.ports.workspace import ObjectKind

# Tag limits of the real API (contract 2.1, 2.3, 2.4).
TAG_LIMIT: Mapping[ObjectKind, int] = {
    ObjectKind.CLUSTER: 45,
    ObjectKind.INSTANCE_POOL: 45,
    ObjectKind.WAREHOUSE: 45,
    ObjectKind.JOB: 25,
}
KEYED_ARRAYS = {"tasks": "task_key", "job_clusters": "job_cluster_key"}


def epoch_ms(at: datetime) -> int:
    """Epoch milliseconds, the unit of every REST time field."""
    return int(at.timestamp() * 1000)


def _with_spec(data: dict[str, Any], **fields: Any) -> None:
    """Set cluster fields at top level and in `spec` (the latest requested spec) when present."""
    targets = [data]
    if isinstance(data.get("spec"), dict):
        targets.append(data["spec"])
    for target in targets:
        for key, value in fields.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = copy.deepcopy(value)


def read_tags(kind: ObjectKind, data: Mapping[str, Any]) -> dict[str, str]:
    """The user tags of an object as a plain map, whatever its REST shape."""
    if kind in (ObjectKind.CLUSTER, ObjectKind.INSTANCE_POOL):
        return dict(data.get("custom_tags") or {})
    if kind is ObjectKind.JOB:
        return dict((data.get("settings") or {}).get("tags") or {})
    if kind is ObjectKind.WAREHOUSE:
        pairs = (data.get("tags") or {}).get("custom_tags") or []
        return {p["key"]: p.get("value", "") for p in pairs if isinstance(p, dict) and "key" in p}
    raise UsageError(f"{kind.value} carry no tags", fix="tag clusters, jobs, warehouses or pools")


def apply_tags(
    kind: ObjectKind, data: Mapping[str, Any], tags: Mapping[str, str], *, merge: bool
) -> dict[str, Any]:
    """Return `data` with its tags set (merged into or replacing the current ones)."""
    for key, value in tags.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise UsageError("tag keys must be non-empty strings and values strings")
    new_tags = {**read_tags(kind, data), **tags} if merge else dict(tags)
    limit = TAG_LIMIT[kind]
    if len(new_tags) > limit:
        raise UsageError(
            f"{len(new_tags)} tags exceed the {kind.value} limit of {limit}",
            fix="drop unused tags first",
        )
    after = copy.deepcopy(dict(data))
    if kind is ObjectKind.CLUSTER:
        _with_spec(after, custom_tags=new_tags or None)
    elif kind is ObjectKind.INSTANCE_POOL:
        after["custom_tags"] = new_tags
    elif kind is ObjectKind.JOB:
        after.setdefault("settings", {})["tags"] = new_tags
    else:
        pairs = [{"key": k, "value": v} for k, v in new_tags.items()]
        after.setdefault("tags", {})["custom_tags"] = pairs
    return after


def set_autotermination(data: Mapping[str, Any], minutes: int) -> dict[str, Any]:
    """autotermination_minutes: 0 disables, otherwise 10..10000 (contract 2.1)."""
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise UsageError("autotermination minutes must be an integer")
    if minutes != 0 and not 10 <= minutes <= 10000:
        raise UsageError(
            f"autotermination of {minutes} minutes is out of range",
            fix="use 0 (never) or 10..10000",
        )
    after = copy.deepcopy(dict(data))
    _with_spec(after, autotermination_minutes=minutes)
    return after


def set_warehouse_autostop(data: Mapping[str, Any], minutes: int) -> dict[str, Any]:
    """warehouses.edit of auto_stop_mins: 0 disables, otherwise at least 10 (contract 2.3)."""
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise UsageError("warehouse auto-stop minutes must be an integer")
    if minutes != 0 and not 10 <= minutes <= 10000:
        raise UsageError(
            f"auto-stop of {minutes} minutes is out of range", fix="use 0 (never) or 10..10000"
        )
    after = copy.deepcopy(dict(data))
    after["auto_stop_mins"] = minutes
    return after


def terminate(data: Mapping[str, Any], at: datetime, actor: str) -> dict[str, Any]:
    """clusters.delete: the cluster stays, TERMINATED, with a USER_REQUEST termination reason."""
    after = copy.deepcopy(dict(data))
    if after.get("state") == "TERMINATED":
        return after
    after.update(
        state="TERMINATED",
        state_message="",
        terminated_time=epoch_ms(at),
        termination_reason={
            "code": "USER_REQUEST",
            "type": "SUCCESS",
            "parameters": {"username": actor},
        },
    )
    for transient in ("driver", "executors"):
        after.pop(transient, None)
    return after


def resize(
    data: Mapping[str, Any],
    cluster_id: str,
    num_workers: int | None,
    autoscale: tuple[int, int] | None,
) -> dict[str, Any]:
    """clusters.resize: a RUNNING cluster gets a fixed size or autoscale bounds (never both)."""
    if (num_workers is None) == (autoscale is None):
        raise UsageError("resize needs exactly one of num_workers or autoscale")
    if num_workers is not None and (isinstance(num_workers, bool) or num_workers < 0):
        raise UsageError(f"num_workers {num_workers} must be a whole number >= 0")
    if autoscale is not None and not 0 <= autoscale[0] <= autoscale[1]:
        raise UsageError(f"autoscale {autoscale} needs 0 <= min_workers <= max_workers")
    state = data.get("state")
    if state != "RUNNING":
        raise Conflict(
            f"cluster is {state}, resize needs a RUNNING cluster",
            where=f"cluster {cluster_id}",
            fix="re-read the cluster; edit the size of a terminated cluster instead",
        )
    after = copy.deepcopy(dict(data))
    if autoscale is not None:
        bounds = {"min_workers": autoscale[0], "max_workers": autoscale[1]}
        _with_spec(after, autoscale=bounds, num_workers=None)
    else:
        _with_spec(after, num_workers=num_workers, autoscale=None)
    return after


def _merge_by_key(current: list[Any], new: list[Any], key: str) -> list[Any]:
    merged = {item[key]: item for item in current if isinstance(item, dict) and key in item}
    for item in new:
        if not isinstance(item, dict) or not isinstance(item.get(key), str):
            raise UsageError(f"every element needs a string {key!r}")
        merged[item[key]] = copy.deepcopy(item)
    return list(merged.values())


def update_job(
    data: Mapping[str, Any], new_settings: Mapping[str, Any], fields_to_remove: tuple[str, ...]
) -> dict[str, Any]:
    """jobs.update: top-level settings replace; tasks/job_clusters merge by key; removals.

    `fields_to_remove` holds top-level names, or `tasks/<task_key>` and
    `job_clusters/<job_cluster_key>` for one element (the only nested removals the API allows).
    """
    if not isinstance(new_settings, Mapping):
        raise UsageError("new_settings must be a JSON object of JobSettings fields")
    after = copy.deepcopy(dict(data))
    settings: dict[str, Any] = after.setdefault("settings", {})
    for name, value in new_settings.items():
        if name in KEYED_ARRAYS and isinstance(value, list):
            settings[name] = _merge_by_key(settings.get(name) or [], value, KEYED_ARRAYS[name])
        else:
            settings[name] = copy.deepcopy(value)
    for field in fields_to_remove:
        array, _, element = field.partition("/")
        if element:
            if array not in KEYED_ARRAYS:
                raise UsageError(
                    f"cannot remove nested field {field!r}",
                    fix="remove top-level fields, tasks/<key> or job_clusters/<key>",
                )
            key = KEYED_ARRAYS[array]
            kept = [t for t in settings.get(array) or [] if t.get(key) != element]
            settings[array] = kept
        else:
            settings.pop(field, None)
    return after
