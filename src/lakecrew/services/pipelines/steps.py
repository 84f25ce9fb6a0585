"""Shared pieces of the layer steps: counts, the run's dependencies, quarantine rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.ports.catalog import Catalog, Lineage
from lakecrew.ports.clock import Clock
from lakecrew.ports.lock import WorkspaceLocks
from lakecrew.ports.source import RAW, Source
from lakecrew.ports.sql import SqlEngine
from lakecrew.ports.tables import Maintenance, TableStore
from lakecrew.services.pipelines.columns import (
    CARRY,
    QUARANTINED_AT,
    RUN_ID,
    STAGE,
    TS,
)
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.records import BATCH_LOG, batch_log_row
from lakecrew.services.pipelines.spec import SilverSpec
from lakecrew.services.privacy.masking import Tokenizer
from lakecrew.services.quality.results import REASONS_COLUMN, RULES_COLUMN
from lakecrew.services.quality.schema_evolution import SchemaChange


@dataclass(frozen=True)
class RunnerDeps:
    """Ports a pipeline run needs; built by the composition root (wiring/pipelines.py)."""

    tables: TableStore
    catalog: Catalog
    lineage: Lineage
    sql: SqlEngine
    clock: Clock
    open_source: Callable[[LoadedPipeline], Source]
    tokenizer: Callable[[LoadedPipeline], Tokenizer | None]
    workspace_id: str = "local"
    retry_delay_cap_seconds: float = 1.0
    sleep: Callable[[float], None] = field(default=lambda s: None)
    vacuum_retention_hours: int = 168
    # one writer per pipeline and environment (the sweep's lock port; None: the caller ensures it)
    locks: WorkspaceLocks | None = None
    # binds the gold SQL against silver's schema before a run (empty in-memory tables); None:
    # ``sql`` (a SQL warehouse cannot see in-memory tables, so a workspace run binds locally)
    bind_sql: SqlEngine | None = None


@dataclass
class LayerCounts:
    """Rows a layer read, wrote and set aside in one run."""

    read: int = 0
    written: int = 0
    quarantined: int = 0
    duplicates: int = 0
    dropped: int = 0
    skipped: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class RunState:
    """Mutable facts gathered during one attempt (turned into the RunReport)."""

    run_id: str
    layers: dict[str, LayerCounts] = field(default_factory=dict)
    reconciled: bool = True
    expectations: list[dict[str, Any]] = field(default_factory=list)
    schema_changes: list[SchemaChange] = field(default_factory=list)
    maintenance: list[Maintenance] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source_uris: set[str] = field(default_factory=set)

    def layer(self, name: str) -> LayerCounts:
        return self.layers.setdefault(name, LayerCounts())


def log_marker(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    state: RunState,
    layer: str,
    batch_id: str,
    made_from: tuple[int, str] | None = None,
    also: Sequence[str] = (),
) -> None:
    """A batch-log row without counts: a retired silver batch, or a gold table built (with the
    silver version and model sha256 it was made from); ``also``: more batch ids with the same
    marker, in the same commit."""
    at = deps.clock.now()
    rows = [
        batch_log_row(
            pipeline=loaded.spec.name,
            env=loaded.env,
            layer=layer,
            batch_id=bid,
            run_id=state.run_id,
            counts={},
            reconciled=True,
            at=at,
            made_from=made_from,
        )
        for bid in [batch_id, *also]
    ]
    deps.tables.append(BATCH_LOG, pa.concat_tables(rows) if len(rows) > 1 else rows[0])


def quarantine_schema(spec: SilverSpec) -> pa.Schema:
    """Raw columns of the spec (text), provenance, and why each row was set aside."""
    raw = [c.source or c.name for c in spec.columns] + list(spec.carry_columns)
    names = list(dict.fromkeys([*raw, *CARRY]))
    fields = [pa.field(n, pa.string()) for n in names]
    fields += [
        pa.field(RULES_COLUMN, pa.string()),
        pa.field(REASONS_COLUMN, pa.string()),
        pa.field(STAGE, pa.string()),
        pa.field(RAW, pa.string()),
        pa.field(RUN_ID, pa.string()),
        pa.field(QUARANTINED_AT, TS),
    ]
    return pa.schema(fields)


def conform_quarantine(
    rows: pa.Table, schema: pa.Schema, *, stage: str, run_id: str, at: datetime
) -> pa.Table:
    """Cast ``rows`` to the quarantine schema (missing columns null) and stamp the run."""
    n = rows.num_rows
    fixed = {STAGE: constant(stage, n, pa.string()), RUN_ID: constant(run_id, n, pa.string())}
    fixed[QUARANTINED_AT] = constant(at, n, TS)
    arrays = []
    for f in schema:
        if f.name in fixed:
            arrays.append(fixed[f.name])
        elif f.name in rows.column_names:
            arrays.append(pc.cast(rows.column(f.name), f.type))
        else:
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def constant(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    """An array of ``n`` copies of ``value``."""
    return pa.repeat(pa.scalar(value, type_), n)


def schema_json(schema: pa.Schema) -> str:
    """Column names and types as JSON text (for the schema version log)."""
    return json.dumps([[f.name, str(f.type), f.nullable] for f in schema])


def names_list(values: Sequence[str]) -> str:
    return ",".join(values)
