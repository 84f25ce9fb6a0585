"""Schema versions of pipeline tables (SOP 1.6.2) and the schema drift rate per table.

Every schema change a run writes (the creation counts as version 1) becomes one row of
``lakecrew.pipelines.schema_versions``. The drift rate of a table is the share of its silver
batches that changed its schema after creation: ``changes / batches`` (SLA: under 1 %).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.services.pipelines.records import (
    BATCH_LOG,
    SCHEMA_VERSIONS,
    SCHEMA_VERSIONS_SCHEMA,
)
from lakecrew.services.pipelines.steps import RunnerDeps, RunState, names_list, schema_json
from lakecrew.services.quality.schema_evolution import SchemaChange


def record_schema(
    deps: RunnerDeps, state: RunState, table: str, change: SchemaChange, schema: pa.Schema
) -> int:
    """Append the change as the table's next schema version; returns that version."""
    deps.tables.create(SCHEMA_VERSIONS, SCHEMA_VERSIONS_SCHEMA)
    known = deps.tables.read(SCHEMA_VERSIONS, ["version"], where={"table_name": table})
    version = (int(pc.max(known.column("version")).as_py()) if known.num_rows else 0) + 1
    row = {
        "table_name": table,
        "version": version,
        "kind": "create" if version == 1 else change.kind,
        "added": names_list(change.added),
        "widened": names_list(change.widened),
        "removed": names_list(change.removed),
        "changed": names_list(change.changed),
        "schema_json": schema_json(schema),
        "run_id": state.run_id,
        "recorded_at": deps.clock.now(),
    }
    deps.tables.append(SCHEMA_VERSIONS, pa.Table.from_pylist([row], schema=SCHEMA_VERSIONS_SCHEMA))
    if version > 1:
        state.schema_changes.append(change)
    return version


def drift_rate(deps: RunnerDeps, table: str, pipeline: str) -> float:
    """Schema changes after creation divided by the silver batches processed (0 when none)."""
    if not deps.tables.exists(SCHEMA_VERSIONS) or not deps.tables.exists(BATCH_LOG):
        return 0.0
    versions = deps.tables.read(SCHEMA_VERSIONS, ["version"], where={"table_name": table})
    changes = max(versions.num_rows - 1, 0)
    batches = deps.tables.read(
        BATCH_LOG, ["batch_id"], where={"pipeline": pipeline, "layer": "silver"}
    )
    return changes / batches.num_rows if batches.num_rows else 0.0
