"""Every shape the Databricks APIs have returned, brought to one (pure functions, no I/O).

- Jobs API 2.0 single-task jobs carry the task at the top of `settings` (`notebook_task`,
  `new_cluster`, `max_retries`, `libraries`, ... and no `tasks[]`); 2.1+ jobs carry `tasks[]`.
  `normalize_job` turns the first into the second (one task, key `main`, `format: SINGLE_TASK`),
  so rules on `settings.tasks[*]` judge both alike; a 2.1 job is returned unchanged.
- SQL warehouses were "SQL endpoints" (`/api/2.0/sql/endpoints`, `{"endpoints": [...]}`); the
  objects have the same fields, so only the list key differs (see `LIST_ALIASES`).
- `merge_records(old, new)` merges two records of the same object (listed twice, or a `get` and
  a `list` of the same job): the later one's values win, fields only the earlier one has are
  kept, and `tasks`/`job_clusters` merge by key, so a richer record is never replaced by a
  poorer one; it returns the paths kept from the earlier record.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# Task types of a Jobs API task (2.0 had a few of them at the top of the settings).
TASK_TYPES = (
    "notebook_task",
    "spark_jar_task",
    "spark_python_task",
    "spark_submit_task",
    "python_wheel_task",
    "pipeline_task",
    "sql_task",
    "dbt_task",
    "run_job_task",
)
# Fields of a 2.0 single-task job that belong to its task in 2.1+.
TASK_FIELDS = (
    *TASK_TYPES,
    "new_cluster",
    "existing_cluster_id",
    "libraries",
    "max_retries",
    "min_retry_interval_millis",
    "retry_on_timeout",
    "timeout_seconds",
)
SINGLE_TASK_KEY = "main"
LIST_ALIASES: Mapping[str, str] = {"endpoints": "warehouses"}  # old list key → current one
_KEYED = {"tasks": "task_key", "job_clusters": "job_cluster_key"}


def is_single_task_job(job: Mapping[str, Any]) -> bool:
    """True for a Jobs API 2.0 job: a task type at the top of `settings` and no `tasks[]`."""
    settings = job.get("settings")
    if not isinstance(settings, Mapping) or settings.get("tasks"):
        return False
    return any(k in settings for k in TASK_TYPES)


def normalize_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """A job in the 2.1+ shape: a 2.0 single-task job gets its task moved into `tasks[0]`."""
    if not is_single_task_job(job):
        return dict(job)
    settings = dict(job["settings"])
    task: dict[str, Any] = {"task_key": SINGLE_TASK_KEY}
    for key in TASK_FIELDS:
        if key in settings:
            task[key] = settings.pop(key)
    settings["tasks"] = [task]
    settings.setdefault("format", "SINGLE_TASK")
    return {**job, "settings": settings}


def merge_records(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """`new` over `old`, keeping what only `old` has; (merged, paths kept from `old`)."""
    kept: list[str] = []
    merged = _merge(old, new, "", kept)
    return merged, kept


def _merge(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str, kept: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = copy.deepcopy(dict(old))
    for key, value in new.items():
        path = f"{prefix}{key}"
        before = out.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            out[key] = _merge(before, value, f"{path}.", kept)
        elif key in _KEYED and isinstance(value, list) and isinstance(before, list):
            out[key] = _merge_keyed(before, value, _KEYED[key], path, kept)
        elif value in (None, [], {}) and before not in (None, [], {}):
            kept.append(path)  # an empty value never erases a filled one
        else:
            out[key] = copy.deepcopy(value)
    for key in old:
        if key not in new and old[key] not in (None, [], {}):
            kept.append(f"{prefix}{key}")
    return out


def _merge_keyed(old: list[Any], new: list[Any], key: str, path: str, kept: list[str]) -> list[Any]:
    by_key = {o.get(key): o for o in old if isinstance(o, Mapping)}
    out = []
    for item in new:
        prior = by_key.pop(item.get(key), None) if isinstance(item, Mapping) else None
        if prior is not None:
            out.append(_merge(prior, item, f"{path}[{item.get(key)}].", kept))
        else:
            out.append(copy.deepcopy(item))
    for k, rest in by_key.items():
        kept.append(f"{path}[{k}]")
        out.append(copy.deepcopy(dict(rest)))
    return out
