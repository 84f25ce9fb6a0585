"""Silver compacted when the rows its upserts marked deleted pile up; run records when their
small files do.

An upsert that marks the replaced rows with deletion vectors (the local store's default) leaves
them in their files: storage and every scan still carry them. When they reach ``DEAD_SHARE`` of
the rows silver's files hold, the run ends with OPTIMIZE and VACUUM of silver (the table
store's ``maintain``), which rewrites the files without them; the run's notes and maintenance
record say so. OPTIMIZE changes no row, so the gold tables (and states) made from the version
before it are marked as made from the version after (``gold_step.carry_markers``): the next run
refreshes them from there as usual.

Each run appends a few rows to lakecrew's record tables (the batch log, data-quality results,
schema versions, lineage, the job run timeline), one small file each; the batch log is read
several times a run, so every run would read more files than the last. After a successful run,
a record table holding over ``RECORD_FILES`` files is compacted (``TableStore.compact``).
"""

from __future__ import annotations

from lakecrew.services.pipelines.gold_step import carry_markers
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.records import (
    BATCH_LOG,
    DQ_TABLE,
    JOB_RUN_TIMELINE,
    SCHEMA_VERSIONS,
    TABLE_LINEAGE,
)
from lakecrew.services.pipelines.steps import RunnerDeps, RunState

RECORD_TABLES = (BATCH_LOG, DQ_TABLE, SCHEMA_VERSIONS, TABLE_LINEAGE, JOB_RUN_TIMELINE)
RECORD_FILES = 32
DEAD_SHARE = 0.25
"""Deleted share of silver's stored rows above which a run compacts silver."""


def compact_silver(deps: RunnerDeps, loaded: LoadedPipeline, state: RunState) -> None:
    """OPTIMIZE and VACUUM silver when its deleted rows exceed ``DEAD_SHARE`` of its files'."""
    silver = loaded.full_name(loaded.spec.silver.table)
    dead = deps.tables.deleted_rows(silver)
    if not dead:
        return
    stored = dead + deps.tables.count(silver)
    if dead <= DEAD_SHARE * stored:
        return
    before = deps.tables.version(silver)
    state.maintenance.append(
        deps.tables.maintain(silver, retention_hours=deps.vacuum_retention_hours)
    )
    if before is not None:
        carry_markers(deps, loaded, state, before)
    state.notes.append(
        f"{silver}: compacted ({dead} rows marked deleted were {dead / stored:.0%} of the rows "
        f"its files held, over {DEAD_SHARE:.0%})"
    )


def compact_records(deps: RunnerDeps, state: RunState) -> None:
    """Compact each record table holding over ``RECORD_FILES`` files (maintenance recorded)."""
    for table in RECORD_TABLES:
        done = deps.tables.compact(
            table, over_files=RECORD_FILES, retention_hours=deps.vacuum_retention_hours
        )
        if done is not None:
            state.maintenance.append(done)
