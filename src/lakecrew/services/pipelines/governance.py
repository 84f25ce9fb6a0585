"""Registration and lineage of a pipeline's tables (SOP 1.3.1).

Every table the run wrote is registered with owner, steward, description, classification label
(table tag ``classification`` and property), the pipeline's tags, and its PII protection, so the
tables are compliant by construction (SOP 1.3.1, 1.6.1, 3.1.4; rule ``table.pii_unmasked``):

- silver: each kept PII column is tagged ``pii: <kind>`` and ``masking: <method>`` (masked at
  write: tokenize, partial, generalize_year, coarsen_geo; dropped columns are gone);
- quarantine: each raw PII column, and ``_raw``, is tokenized at write (``masking: tokenize``);
- bronze keeps raw values (append-only, replayable), so each raw PII column (silver sources plus
  ``bronze.pii_columns``) and the whole-record ``_raw`` get ``pii`` tags and a column mask
  (``privacy.kinds.READ_MASK``) that every non-privileged read applies.

Lineage edges source → bronze → silver (and quarantine) → gold go to the Lineage port and to
``system.access.table_lineage``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lakecrew.core.column_masks import REDACT
from lakecrew.ports.catalog import LineageEdge, TableInfo
from lakecrew.ports.source import RAW
from lakecrew.services.pipelines.gold_step import model_inputs
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.records import TABLE_LINEAGE, lineage_rows
from lakecrew.services.pipelines.spec import PipelineSpec
from lakecrew.services.pipelines.steps import RunnerDeps
from lakecrew.services.privacy.kinds import READ_MASK, Classification, MaskMethod, PiiKind

Edge = tuple[str | None, str, str | None]


def job_id(loaded: LoadedPipeline) -> str:
    """The job id of a pipeline in system tables (stable per pipeline and environment)."""
    return f"lakecrew-pipeline-{loaded.spec.name}-{loaded.env}"


@dataclass(frozen=True)
class Protection:
    """How one table protects its PII: column tags, and column masks applied at read."""

    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    masks: dict[str, str] = field(default_factory=dict)


def _kinds(pii: Mapping[str, PiiKind]) -> str:
    return ",".join(sorted({k.value for k in pii.values()}))


def bronze_protection(spec: PipelineSpec) -> Protection:
    """Raw PII columns (and ``_raw``) tagged and masked at read."""
    raw: dict[str, PiiKind] = {
        (c.source or c.name): c.pii for c in spec.silver.columns if c.pii != PiiKind.NONE
    }
    raw.update(spec.bronze.pii_columns)
    tags = {col: {"pii": kind.value} for col, kind in raw.items()}
    masks = {col: READ_MASK[kind] for col, kind in raw.items()}
    if raw:
        tags[RAW] = {"pii": _kinds(raw)}
        masks[RAW] = REDACT
    return Protection(tags, masks)


def silver_protection(spec: PipelineSpec) -> Protection:
    """Kept PII columns tagged with the method that masked them at write."""
    return Protection(spec.silver.column_tags())


def quarantine_protection(spec: PipelineSpec) -> Protection:
    """Raw PII columns (and unparsed lines in ``_raw``) tokenized at write (silver.py)."""
    pii = {
        (c.source or c.name): c.pii
        for c in spec.silver.columns
        if c.pii != PiiKind.NONE and c.mask != MaskMethod.DROP
    }
    tokenized = MaskMethod.TOKENIZE.value
    tags = {col: {"pii": kind.value, "masking": tokenized} for col, kind in pii.items()}
    if any(c.pii != PiiKind.NONE for c in spec.silver.columns):
        kinds = {c.name: c.pii for c in spec.silver.columns if c.pii != PiiKind.NONE}
        tags[RAW] = {"pii": _kinds(kinds), "masking": tokenized}
    return Protection(tags)


GovernedTable = tuple[str, str, Classification, str, Protection]
"""(schema.table, description, classification, layer, PII protection) of one spec table."""


def governed_tables(spec: PipelineSpec) -> list[GovernedTable]:
    """Every table a spec writes, with what its registration sets (used by `lakecrew govern`
    to enforce the same state on tables that drifted)."""
    silver = spec.silver
    plan: list[GovernedTable] = [
        (
            spec.bronze.table,
            spec.bronze.description,
            spec.bronze.classification,
            "bronze",
            bronze_protection(spec),
        ),
        (
            silver.table,
            silver.description,
            silver.classification,
            "silver",
            silver_protection(spec),
        ),
        (
            silver.quarantine.table,
            f"Rows of {silver.table} set aside by coercion or expectations, with the reason.",
            silver.quarantine.classification,
            "quarantine",
            quarantine_protection(spec),
        ),
    ]
    return plan + [
        (g.table, g.description, g.classification, "gold", Protection()) for g in spec.gold
    ]


def register_tables(deps: RunnerDeps, loaded: LoadedPipeline) -> list[str]:
    """Register every existing table of the pipeline; returns their full names."""
    plan = governed_tables(loaded.spec)
    done = []
    for table, description, label, layer, protection in plan:
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
            protection=protection,
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
    protection: Protection,
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
    columns = deps.tables.columns(full)
    deps.catalog.register_table(
        TableInfo(
            full_name=full,
            owner=spec.owner,
            comment=description,
            storage_location=deps.tables.location(full),
            properties=properties,
            tags=tags,
            columns=columns,
        )
    )
    present = {c.name for c in columns}
    for column, col_tags in protection.tags.items():
        if column in present:
            deps.catalog.set_tags(full, col_tags, column=column)
    for column, mask in protection.masks.items():
        if column in present:
            deps.catalog.set_column(full, column, mask=mask)
    if protection.tags:
        deps.tables.protect(full)  # no statistics of the columns just classified in the log


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
