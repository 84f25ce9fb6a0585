"""Gold step: each model rebuilt from silver through the SqlEngine port, then optimized.

The Spark SQL of the spec is qualified with the environment's catalog and run by the engine
(the local engine translates it to DuckDB). The result replaces the table in one commit
(partitioned as the spec says); additive schema changes are recorded, breaking ones fail unless
approved. Then OPTIMIZE (compaction, z-order when ``zorder_by``) and VACUUM with the retention.
"""

from __future__ import annotations

import pyarrow as pa

from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.schema_log import record_schema
from lakecrew.services.pipelines.spec import GoldSpec
from lakecrew.services.pipelines.sqltext import qualify_sql, referenced_tables
from lakecrew.services.pipelines.steps import RunnerDeps, RunState
from lakecrew.services.pipelines.transforms import get_transform
from lakecrew.services.quality.schema_evolution import check_evolution


def run_gold(deps: RunnerDeps, loaded: LoadedPipeline, state: RunState) -> None:
    """Rebuild every gold model; counts go to ``state.layer('gold')``."""
    counts = state.layer("gold")
    for model in loaded.spec.gold:
        data = build_model(deps, loaded, model)
        table = loaded.full_name(model.table)
        current = deps.tables.schema(table)
        change = check_evolution(table, current, data.schema)
        if current is None:
            deps.tables.create(table, data.schema, partition_by=model.partition_by)
        if change.kind != "none":
            record_schema(deps, state, table, change, data.schema)
        deps.tables.replace(
            table, data, overwrite_schema=change.kind != "none" and current is not None
        )
        state.maintenance.append(
            deps.tables.maintain(
                table,
                zorder_by=model.zorder_by,
                retention_hours=deps.vacuum_retention_hours,
            )
        )
        counts.batches += 1
        counts.written += data.num_rows


def build_model(deps: RunnerDeps, loaded: LoadedPipeline, model: GoldSpec) -> pa.Table:
    """The rows of one gold model (SQL through the engine, or a registered Python transform)."""
    if model.sql is not None:
        return deps.sql.fetch_arrow(qualify_sql(model.sql, loaded.catalog))
    assert model.python is not None  # the spec guarantees one of the two
    silver = deps.tables.read(loaded.full_name(loaded.spec.silver.table))
    return get_transform(model.python)(silver)


def model_inputs(loaded: LoadedPipeline, model: GoldSpec) -> list[str]:
    """Full names of the tables a gold model reads (silver for Python transforms)."""
    if model.sql is None:
        return [loaded.full_name(loaded.spec.silver.table)]
    return [loaded.full_name(t) for t in referenced_tables(model.sql)]
