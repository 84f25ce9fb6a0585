"""Rows a pipeline run leaves behind: job-run timeline, table lineage, batch log, schema versions.

System rows use Databricks' column names (``core.system_tables``); lakecrew's own bookkeeping
tables live in the ``lakecrew.pipelines`` schema:

- ``lakecrew.pipelines.batches``: one row per (pipeline, layer, batch) once the layer committed
  it, with its counts; the silver step skips bronze batches already logged (idempotent re-runs);
- ``lakecrew.pipelines.schema_versions``: one row per schema change of a table (version 1 is the
  creation), which gives the schema drift rate per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from lakecrew.core.system_tables import ACCESS_TABLE_LINEAGE, LAKEFLOW_JOB_RUN_TIMELINE
from lakecrew.ports.catalog import parse_full_name

JOB_RUN_TIMELINE = "system.lakeflow.job_run_timeline"
TABLE_LINEAGE = "system.access.table_lineage"
DQ_TABLE = "lakecrew.quality.results"
BATCH_LOG = "lakecrew.pipelines.batches"
SCHEMA_VERSIONS = "lakecrew.pipelines.schema_versions"
ACCOUNT_ID = "local"

TS = pa.timestamp("us", tz="UTC")
BATCH_LOG_SCHEMA = pa.schema(
    [
        ("pipeline", pa.string()),
        ("env", pa.string()),
        ("layer", pa.string()),
        ("batch_id", pa.string()),
        ("run_id", pa.string()),
        ("rows_in", pa.int64()),
        ("rows_out", pa.int64()),
        ("quarantined", pa.int64()),
        ("duplicates", pa.int64()),
        ("dropped", pa.int64()),
        ("reconciled", pa.bool_()),
        ("committed_at", TS),
        ("source_uri", pa.string()),
        ("file_sha256", pa.string()),
        ("silver_version", pa.int64()),
        ("model_sha256", pa.string()),
    ]
)
"""One row per batch a layer handled; ``source_uri``/``file_sha256`` name the file version of
a silver batch read from one file (null otherwise). Layer ``gold`` rows (``batch_id``: the gold
table) record the silver version and the model SQL's sha256 a gold table was last made from."""
SCHEMA_VERSIONS_SCHEMA = pa.schema(
    [
        ("table_name", pa.string()),
        ("version", pa.int64()),
        ("kind", pa.string()),
        ("added", pa.string()),
        ("widened", pa.string()),
        ("removed", pa.string()),
        ("changed", pa.string()),
        ("schema_json", pa.string()),
        ("run_id", pa.string()),
        ("recorded_at", TS),
    ]
)


def job_run_rows(
    *,
    workspace_id: str,
    job_id: str,
    run_id: str,
    run_name: str,
    start: datetime,
    end: datetime,
    result_state: str,
    termination_code: str,
    parameters: dict[str, str],
) -> pa.Table:
    """Timeline rows of one finished run: one slice per clock hour, result on the last slice."""
    slices: list[tuple[datetime, datetime]] = []
    cursor = start
    while True:
        hour_end = cursor.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if end <= hour_end:
            slices.append((cursor, end))
            break
        slices.append((cursor, hour_end))
        cursor = hour_end
    total = int((end - start).total_seconds())
    rows: list[dict[str, Any]] = []
    for i, (lo, hi) in enumerate(slices):
        last = i == len(slices) - 1
        rows.append(
            {
                "account_id": ACCOUNT_ID,
                "workspace_id": workspace_id,
                "job_id": job_id,
                "run_id": run_id,
                "period_start_time": lo,
                "period_end_time": hi,
                "trigger_type": "ONETIME",
                "run_type": "JOB_RUN",
                "run_name": run_name,
                "compute_ids": [],
                "result_state": result_state if last else None,
                "termination_code": termination_code if last else None,
                "job_parameters": list(parameters.items()),
                "termination_type": (
                    ("SUCCESS" if result_state == "SUCCEEDED" else "CLIENT_ERROR") if last else None
                ),
                "run_duration_seconds": total if last else None,
                "execution_duration_seconds": total if last else None,
            }
        )
    return pa.Table.from_pylist(rows, schema=LAKEFLOW_JOB_RUN_TIMELINE)


def lineage_rows(
    edges: Sequence[tuple[str | None, str, str | None]],
    *,
    workspace_id: str,
    job_id: str,
    run_id: str,
    at: datetime,
) -> pa.Table:
    """``system.access.table_lineage`` rows for (source table, target table, source path)."""
    rows = []
    for n, (source, target, path) in enumerate(edges):
        tcat, tsch, ttbl = parse_full_name(target)
        scat, ssch, stbl = parse_full_name(source) if source else (None, None, None)
        rows.append(
            {
                "account_id": ACCOUNT_ID,
                "metastore_id": "local",
                "workspace_id": workspace_id,
                "entity_type": "JOB",
                "entity_id": job_id,
                "entity_run_id": run_id,
                "source_table_full_name": f"{scat}.{ssch}.{stbl}" if source else None,
                "source_table_catalog": scat,
                "source_table_schema": ssch,
                "source_table_name": stbl,
                "source_path": path,
                "source_type": "TABLE" if source else "PATH",
                "target_table_full_name": f"{tcat}.{tsch}.{ttbl}",
                "target_table_catalog": tcat,
                "target_table_schema": tsch,
                "target_table_name": ttbl,
                "target_type": "TABLE",
                "created_by": "lakecrew",
                "event_time": at,
                "event_date": at.date(),
                "record_id": f"{run_id}-{n}",
                "event_id": f"{run_id}-{n}",
                "entity_metadata": {"job_info": {"job_id": job_id, "job_run_id": run_id}},
                "direct_access": False,
            }
        )
    return pa.Table.from_pylist(rows, schema=ACCESS_TABLE_LINEAGE)


def batch_log_row(
    *,
    pipeline: str,
    env: str,
    layer: str,
    batch_id: str,
    run_id: str,
    counts: dict[str, int],
    reconciled: bool,
    at: datetime,
    version: tuple[str, str] | None = None,
    made_from: tuple[int, str] | None = None,
) -> pa.Table:
    """One row of ``lakecrew.pipelines.batches`` (``version``: the file's uri and sha256;
    ``made_from``: a gold table's silver version and model sha256)."""
    row = {
        "pipeline": pipeline,
        "env": env,
        "layer": layer,
        "batch_id": batch_id,
        "run_id": run_id,
        "rows_in": counts.get("rows_in", 0),
        "rows_out": counts.get("rows_out", 0),
        "quarantined": counts.get("quarantined", 0),
        "duplicates": counts.get("duplicates", 0),
        "dropped": counts.get("dropped", 0),
        "reconciled": reconciled,
        "committed_at": at,
        "source_uri": version[0] if version else None,
        "file_sha256": version[1] if version else None,
        "silver_version": made_from[0] if made_from else None,
        "model_sha256": made_from[1] if made_from else None,
    }
    return pa.Table.from_pylist([row], schema=BATCH_LOG_SCHEMA)


def openlineage_events(
    *,
    run_id: str,
    job_name: str,
    namespace: str,
    edges: Sequence[tuple[str | None, str, str | None]],
    start: datetime,
    end: datetime,
    state: str,
) -> list[dict[str, Any]]:
    """OpenLineage 2 RunEvents (START then COMPLETE/FAIL) for one run's edges."""
    inputs = sorted({s or p or "" for s, _, p in edges} - {""})
    outputs = sorted({t for _, t, _ in edges})
    base = {
        "producer": "https://github.com/ehealthafrica/lakecrew",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
        "run": {"runId": run_id},
        "job": {"namespace": namespace, "name": job_name},
    }

    def dataset(name: str) -> dict[str, str]:
        return {"namespace": namespace if "." in name and "/" not in name else "file", "name": name}

    return [
        {**base, "eventType": "START", "eventTime": start.isoformat(), "inputs": [], "outputs": []},
        {
            **base,
            "eventType": "COMPLETE" if state == "SUCCEEDED" else "FAIL",
            "eventTime": end.isoformat(),
            "inputs": [dataset(n) for n in inputs],
            "outputs": [dataset(n) for n in outputs],
        },
    ]
