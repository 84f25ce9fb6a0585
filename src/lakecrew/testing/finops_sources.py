"""Independent readers of FinOps inputs from system tables, for tests (checks of the cost model).

- current tags of clusters, jobs and warehouses: the latest row per resource of the SCD2 tables;
- finished job runs with their wall-clock duration, for duration anomalies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from lakecrew.core.finops import ResourceRef
from lakecrew.ports.sql import SqlEngine

_LATEST_TAGS = {
    "cluster": ("cluster_id", "system.compute.clusters"),
    "job": ("job_id", "system.lakeflow.jobs"),
    "warehouse": ("warehouse_id", "system.compute.warehouses"),
}

CURRENT_TAGS_SQL = """
SELECT workspace_id, {id_col} AS resource_id, tags
FROM {table}
QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, {id_col} ORDER BY change_time DESC) = 1"""

JOB_RUNS_SQL = """
SELECT workspace_id, job_id, run_id,
       MIN(period_start_time) AS started, MAX(period_end_time) AS ended
FROM system.lakeflow.job_run_timeline
WHERE period_start_time >= :start_ts AND period_start_time < :end_ts
GROUP BY workspace_id, job_id, run_id
HAVING COUNT(result_state) > 0
ORDER BY started"""
"""Finished runs only (the final slice carries result_state); running ones are not complete."""


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bounds(start: date, end: date) -> dict[str, datetime]:
    return {
        "start_ts": datetime.combine(start, time(), tzinfo=UTC),
        "end_ts": datetime.combine(end, time(), tzinfo=UTC),
    }


def _tag_map(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    items = value.items() if isinstance(value, Mapping) else value
    return {str(k): str(v) for k, v in items if v is not None}


def load_current_tags(engine: SqlEngine) -> dict[ResourceRef, dict[str, str]]:
    """Current tags of every cluster, job and warehouse (latest SCD2 row, deleted ones too)."""
    out: dict[ResourceRef, dict[str, str]] = {}
    for kind, (id_col, table) in _LATEST_TAGS.items():
        rows = engine.fetch(CURRENT_TAGS_SQL.format(id_col=id_col, table=table)).as_dicts()
        for row in rows:
            ref = ResourceRef(kind, str(row["workspace_id"]), str(row["resource_id"]))
            out[ref] = _tag_map(row["tags"])
    return out


def load_job_runs(
    engine: SqlEngine, start: date, end: date
) -> dict[ResourceRef, list[tuple[datetime, float]]]:
    """(start, wall-clock seconds) of every finished run per job, for runs started in the period."""
    out: dict[ResourceRef, list[tuple[datetime, float]]] = defaultdict(list)
    for row in engine.fetch(JOB_RUNS_SQL, _bounds(start, end)).as_dicts():
        started, ended = _utc(row["started"]), _utc(row["ended"])
        ref = ResourceRef("job", str(row["workspace_id"]), str(row["job_id"]))
        out[ref].append((started, (ended - started).total_seconds()))
    return dict(out)
