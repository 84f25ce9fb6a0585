"""Registration and lineage of a pipeline's tables (SOP 1.3.1).

Every table the run wrote is registered with owner, steward, description, classification label
(table tag ``classification`` and property), the pipeline's tags, and a ``pii`` tag on each
column holding personal data (raw names in bronze and quarantine, silver names in silver).
Lineage edges source → bronze → silver (and quarantine) → gold go to the Lineage port and to
``system.access.table_lineage``.
"""

from __future__ import annotations

from collections.abc import Sequence

from lakecrew.ports.catalog import LineageEdge, TableInfo
from lakecrew.services.pipelines.gold_step import model_inputs
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.records import TABLE_LINEAGE, lineage_rows
from lakecrew.services.pipelines.steps import RunnerDeps
from lakecrew.services.privacy.kinds import Classification, MaskMethod, PiiKind

Edge = tuple[str | None, str, str | None]


def job_id(loaded: LoadedPipeline) -> str:
    """The job id of a pipeline in system tables (stable per pipeline and environment)."""
    return f"lakecrew-pipeline-{loaded.spec.name}-{loaded.env}"


def register_tables(deps: RunnerDeps, loaded: LoadedPipeline) -> list[str]:
    """Register every existing table of the pipeline; returns their full names."""
    spec = loaded.spec
    silver = spec.silver
    raw_pii: dict[str, PiiKind] = {
        (c.source or c.name): c.pii for c in silver.columns if c.pii != PiiKind.NONE
    }
    kept_pii: dict[str, PiiKind] = {
        c.name: c.pii for c in silver.columns if c.pii != PiiKind.NONE and c.mask != MaskMethod.DROP
    }
    plan: list[tuple[str, str, Classification, str, dict[str, PiiKind]]] = [
        (spec.bronze.table, spec.bronze.description, spec.bronze.classification, "bronze", raw_pii),
        (silver.table, silver.description, silver.classification, "silver", kept_pii),
        (
            silver.quarantine.table,
            f"Rows of {silver.table} set aside by coercion or expectations, with the reason.",
            silver.quarantine.classification,
            "quarantine",
            raw_pii,
        ),
    ]
    plan += [(g.table, g.description, g.classification, "gold", {}) for g in spec.gold]
    done = []
    for table, description, label, layer, pii in plan:
        full = loaded.full_name(table)
        if not deps.tables.exists(full):
            continue
        _register(
            deps,
            loaded=loaded,
            full=full,
            description=description,
            label=label,
            layer=layer,
            pii=pii,
        )
        done.append(full)
    return done


def _register(
    deps: RunnerDeps,
    *,
    loaded: LoadedPipeline,
    full: str,
    description: str,
    label: Classification,
    layer: str,
    pii: dict[str, PiiKind],
) -> None:
    spec = loaded.spec
    tags = {
        **spec.tags,
        "classification": label.value,
        "steward": spec.steward,
        "layer": layer,
        "pipeline": spec.name,
    }
    properties = {
        "steward": spec.steward,
        "classification": label.value,
        "pipeline": spec.name,
        "layer": layer,
        "environment": loaded.env,
    }
    deps.catalog.register_table(
        TableInfo(
            full_name=full,
            owner=spec.owner,
            comment=description,
            storage_location=deps.tables.location(full),
            properties=properties,
            tags=tags,
            columns=deps.tables.columns(full),
        )
    )
    present = {c.name for c in deps.tables.columns(full)}
    for column, kind in pii.items():
        if column in present:
            deps.catalog.set_tags(full, {"pii": kind.value}, column=column)


def lineage_edges(loaded: LoadedPipeline, source_uris: Sequence[str]) -> list[Edge]:
    """(source table or None, target table, source path) for the whole pipeline."""
    spec = loaded.spec
    bronze = loaded.full_name(spec.bronze.table)
    silver = loaded.full_name(spec.silver.table)
    edges: list[Edge] = [(None, bronze, uri) for uri in sorted(set(source_uris))]
    edges.append((bronze, silver, None))
    edges.append((bronze, loaded.full_name(spec.silver.quarantine.table), None))
    for model in spec.gold:
        target = loaded.full_name(model.table)
        edges += [(src, target, None) for src in model_inputs(loaded, model)]
    return edges


def record_lineage(
    deps: RunnerDeps, loaded: LoadedPipeline, run_id: str, edges: Sequence[Edge]
) -> None:
    """Write the edges to the Lineage port (table to table) and to system.access.table_lineage."""
    now = deps.clock.now()
    jid = job_id(loaded)
    for source, target, _ in edges:
        if source is not None:
            deps.lineage.record(LineageEdge(source, target, "JOB", jid, run_id, event_time=now))
    rows = lineage_rows(edges, workspace_id=deps.workspace_id, job_id=jid, run_id=run_id, at=now)
    if rows.num_rows:
        deps.tables.append(TABLE_LINEAGE, rows)
