"""Bronze step: source batches → the append-only bronze table, exactly once across crashes.

For each batch: rows whose ``(_batch_id, _source_row)`` bronze already holds are skipped (a
retry after a crash between the bronze commit and the checkpoint commit adds nothing), the rest
is appended in one commit with ``_ingested_at``; rows the source could not parse go to the
quarantine table (stage ``source``, replaced per batch, so also idempotent); only then is the
source checkpoint committed. Bronze is never rewritten: new columns are merged in (additive
schema change, recorded); everything else is the silver step's business.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.ports.source import (
    BATCH_ID,
    FILE_SHA256,
    RAW,
    SOURCE_ROW,
    SOURCE_URI,
    Batch,
    Rewindable,
    plain_schema,
)
from lakecrew.services.pipelines.columns import INGESTED_AT, RENAMED_COLUMNS, STAGE, TS
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.schema_log import record_schema
from lakecrew.services.pipelines.steps import (
    RunnerDeps,
    RunState,
    conform_quarantine,
    constant,
    quarantine_schema,
)
from lakecrew.services.privacy.kinds import PiiKind
from lakecrew.services.privacy.masking import Tokenizer
from lakecrew.services.quality.results import REASONS_COLUMN, RULES_COLUMN
from lakecrew.services.quality.schema_evolution import SchemaChange, compare_schemas

SOURCE_RULE = "source.parse"
STATS_COLUMNS = (SOURCE_URI, SOURCE_ROW, BATCH_ID, FILE_SHA256, INGESTED_AT)
"""Bronze's data-skipping statistics by default (``bronze.statistics: metadata``): the columns
bronze is read by (batch, file, version, arrival). Raw text columns get none: their min/max
cost a third of the Parquet writer's CPU and no step filters on them."""


class BatchConsumer(Protocol):
    """What follows bronze, batch by batch (the silver step: ``SilverBatches``)."""

    def prepare(self, batch_id: str, rows: pa.Table, schema: pa.Schema) -> object:
        """Pure work on a batch bronze is committing right now (``rows`` as ``schema``)."""
        ...

    def process(self, batch_id: str, rows: pa.Table | None, prepared: object = None) -> None:
        """The batch, once bronze and the checkpoint hold it: from ``prepared`` when given,
        else from ``rows``, else read from bronze."""
        ...

    def reads_bronze(self, prepared: object) -> bool:
        """Whether ``process`` of a batch ``prepare`` built reads bronze (then it does not run
        while bronze commits the next batch)."""
        ...


def run_bronze(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    state: RunState,
    tokenizer: Tokenizer | None,
    consumer: BatchConsumer | None = None,
    *,
    full_refresh: bool = False,
) -> None:
    """Drain the source into bronze; counts go to ``state.layer('bronze')``.

    After each batch with bronze rows is committed (and its checkpoint), ``consumer.process``
    gets it: the rows appended when they are the whole batch, else None. When the append
    changes nothing but rows, ``consumer.prepare`` builds the batch in a helper thread (pure
    work; the Delta writes release the GIL) from the moment the batch is read: while the
    previous batch is processed and while bronze commits this one. Builds run one at a time,
    in batch order. The writes keep their order (bronze k, checkpoint k, silver k, bronze k+1,
    ...), except that where the table store takes writes to two tables at once
    (``concurrent_tables``), bronze's append of batch k+1 runs on a writer thread while this
    thread writes batch k's silver tables (``_BronzeBatches._append_beside``).
    """
    source = deps.open_source(loaded)
    if full_refresh:
        if isinstance(source, Rewindable):
            source.rewind()
        else:
            state.notes.append(
                f"source {loaded.spec.source.type} cannot re-read what it already delivered: "
                "--full-refresh rebuilt silver and gold from bronze"
            )
    with ExitStack() as stack:
        pool = stack.enter_context(
            ThreadPoolExecutor(1, thread_name_prefix="lakecrew-silver-build")
        )
        writer = None
        if deps.tables.concurrent_tables:
            writer = stack.enter_context(
                ThreadPoolExecutor(1, thread_name_prefix="lakecrew-bronze-write")
            )
        step = _BronzeBatches(deps, loaded, state, tokenizer, consumer, pool, writer)
        for batch in source.read():
            handed = step.take(batch)
            source.commit(batch.checkpoint)
            step.hand(handed)
            del batch, handed
        step.hand(None)


class _BronzeBatches:
    """The bronze step's work per batch, and the batch handed to silver last."""

    def __init__(
        self,
        deps: RunnerDeps,
        loaded: LoadedPipeline,
        state: RunState,
        tokenizer: Tokenizer | None,
        consumer: BatchConsumer | None,
        pool: ThreadPoolExecutor,
        writer: ThreadPoolExecutor | None = None,
    ) -> None:
        self.deps, self.loaded, self.state, self.tokenizer = deps, loaded, state, tokenizer
        self.consumer, self.pool, self.writer = consumer, pool, writer
        self.bronze = loaded.full_name(loaded.spec.bronze.table)
        self.counts = state.layer("bronze")
        self.pending: _Handed | None = None  # committed last, not yet processed

    def take(self, batch: Batch) -> _Handed | None:
        """One batch up to its checkpoint: its build starts, the previous batch is processed
        meanwhile, then its bronze append and its source rejects; returns what silver gets
        once the checkpoint is committed."""
        deps, state, counts = self.deps, self.state, self.counts
        counts.batches += 1
        counts.read += batch.num_rows + len(batch.rejected)
        state.notes.extend(batch.notes)
        if batch.num_rows:
            state.source_uris.update(pc.unique(batch.table.column(SOURCE_URI)).to_pylist())
        new = _new_rows(deps, self.bronze, batch)
        if self.loaded.spec.bronze.unify_column_case and new.num_rows:
            new = unify_case(new, deps.tables.schema(self.bronze), self.bronze, state)
        counts.skipped += batch.num_rows - new.num_rows
        stamped = None
        if new.num_rows:
            stamped = new.append_column(INGESTED_AT, constant(deps.clock.now(), new.num_rows, TS))
        whole = stamped is not None and stamped.num_rows == batch.num_rows
        if self.pending is not None and self.pending.build is None:
            self.hand(None)  # it builds in this thread: before the next build starts
        build = None
        if self.consumer is not None and whole and stamped is not None:
            build = _start_build(
                deps, self.loaded, state, self.pool, batch.batch_id, stamped, self.consumer
            )
        if stamped is not None and build is not None:
            self._append_beside(stamped)
        else:
            self.hand(None)  # the previous batch, while the helper builds this one
            if stamped is not None:
                _append_bronze(deps, self.loaded, state, self.bronze, stamped)
        if stamped is not None:
            counts.written += stamped.num_rows
        if batch.rejected:
            _quarantine_rejects(deps, self.loaded, state, batch, self.tokenizer)
            counts.quarantined += len(batch.rejected)
        if self.consumer is None or not batch.num_rows:
            return None
        # What silver builds holds all it needs: the raw batch is not kept for it.
        rows = None if build is not None else stamped if whole else None
        return _Handed(self.consumer, batch.batch_id, rows, build)

    def _append_beside(self, stamped: pa.Table) -> None:
        """Bronze's append of this batch (its schema unchanged), and the previous batch's
        silver writes meanwhile when the store takes writes to two tables at once.

        Then the two commits' order is not fixed, and either may land without the other
        before a crash: the retried batch finds its rows in bronze and skips them, and the
        silver step's catch-up takes any bronze batch silver lacks. The append always ends
        before this returns (also when the silver writes fail), so the checkpoint follows
        it, as before."""
        pending = self.pending
        if self.writer is None or pending is None or pending.reads_bronze():
            self.hand(None)
            self.deps.tables.append(self.bronze, stamped)
            return
        appended = self.writer.submit(self.deps.tables.append, self.bronze, stamped)
        try:
            self.hand(None)
        except BaseException:
            wait([appended])  # committed or failed: nothing runs on once the run has failed
            raise
        appended.result()

    def hand(self, handed: _Handed | None) -> None:
        """Process the pending batch (if any); ``handed`` becomes the pending one."""
        pending, self.pending = self.pending, handed
        if pending is not None:
            pending.process()


@dataclass(frozen=True)
class Failed:
    """``prepare`` raised: re-raised by ``process``, after bronze and the checkpoint commit."""

    error: Exception


@dataclass
class _Handed:
    """A batch bronze committed, for ``consumer.process``: its rows, or the build under way."""

    consumer: BatchConsumer
    batch_id: str
    rows: pa.Table | None
    build: Future[object] | None

    def prepared(self) -> object:
        """What the build gave (waiting for it); None when there was none."""
        if self.build is None:
            return None
        try:
            return self.build.result()
        except Exception as exc:  # noqa: BLE001 - raised by process() once bronze holds it
            return Failed(exc)

    def reads_bronze(self) -> bool:
        return self.build is None or self.consumer.reads_bronze(self.prepared())

    def process(self) -> None:
        self.consumer.process(self.batch_id, self.rows, self.prepared())


def _start_build(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    state: RunState,
    pool: ThreadPoolExecutor,
    batch_id: str,
    data: pa.Table,
    consumer: BatchConsumer,
) -> Future[object] | None:
    """Start ``consumer.prepare`` of a batch about to be appended as it is; None when the
    append changes bronze's schema (then the batch is appended and built in order)."""
    bronze = loaded.full_name(loaded.spec.bronze.table)
    current = deps.tables.schema(bronze)
    if current is None:  # the first batch: create the table (its own commit), then overlap
        current = _create_bronze(deps, loaded, state, bronze, data.schema)
    if compare_schemas(bronze, current, plain_schema(data.schema)).added:
        return None
    return pool.submit(consumer.prepare, batch_id, data, current)


def unify_case(rows: pa.Table, current: pa.Schema | None, bronze: str, state: RunState) -> pa.Table:
    """``rows`` with each column that equals a bronze column but for case renamed to bronze's
    name, and ``_renamed_columns`` holding the headers as received (``bronze.unify_column_case``).
    Two columns of one batch differing only by case are left as they are (the store refuses)."""
    if current is None:
        return rows
    held = {n.lower(): n for n in current.names}
    names = {n.lower() for n in rows.column_names}
    renamed = {
        held[c.lower()]: c
        for c in rows.column_names
        if held.get(c.lower(), c) != c and held[c.lower()] not in rows.column_names
    }
    if not renamed or len(names) < rows.num_columns:
        return rows
    state.notes.append(
        f"bronze {bronze}: "
        + ", ".join(f"column {v!r} stored as {k!r}" for k, v in sorted(renamed.items()))
        + " (bronze.unify_column_case; headers kept in _renamed_columns)"
    )
    back = {v: k for k, v in renamed.items()}
    out = rows.rename_columns([back.get(c, c) for c in rows.column_names])
    text = json.dumps(dict(sorted(renamed.items())))
    return out.append_column(RENAMED_COLUMNS, constant(text, rows.num_rows, pa.string()))


def _new_rows(deps: RunnerDeps, bronze: str, batch: Batch) -> pa.Table:
    if not batch.num_rows or not deps.tables.exists(bronze):
        return batch.table
    seen = deps.tables.read(bronze, [SOURCE_ROW], where={BATCH_ID: batch.batch_id})
    if not seen.num_rows:
        return batch.table
    fresh = pc.invert(pc.is_in(batch.table.column(SOURCE_ROW), value_set=seen.column(SOURCE_ROW)))
    return batch.table.filter(fresh)


def _append_bronze(
    deps: RunnerDeps, loaded: LoadedPipeline, state: RunState, bronze: str, data: pa.Table
) -> None:
    current = deps.tables.schema(bronze)
    if current is None:
        current = _create_bronze(deps, loaded, state, bronze, data.schema)
    change = compare_schemas(bronze, current, plain_schema(data.schema))
    if change.added:
        # Bronze keeps every column it ever saw; absent ones are null, never a breaking change.
        additive = SchemaChange(bronze, "additive", added=change.added)
        plain = plain_schema(data.schema)
        merged = pa.unify_schemas([current, plain]) if current is not None else plain
        record_schema(deps, state, bronze, additive, merged)
    deps.tables.append(bronze, data, merge_schema=bool(change.added))


def _create_bronze(
    deps: RunnerDeps, loaded: LoadedPipeline, state: RunState, bronze: str, schema: pa.Schema
) -> pa.Schema:
    """Create the empty bronze table (recorded as an additive change); returns its schema."""
    schema = plain_schema(schema)
    spec = loaded.spec.bronze
    stats = STATS_COLUMNS if spec.statistics == "metadata" else None
    deps.tables.create(bronze, schema, partition_by=spec.partition_by, stats_columns=stats)
    created = SchemaChange(bronze, "additive", added=tuple(schema.names))
    record_schema(deps, state, bronze, created, schema)
    return deps.tables.schema(bronze) or schema


def _quarantine_rejects(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    state: RunState,
    batch: Batch,
    tokenizer: Tokenizer | None,
) -> None:
    spec = loaded.spec.silver
    has_pii = any(c.pii != PiiKind.NONE for c in spec.columns)
    raws: list[str | None] = [r.raw for r in batch.rejected]
    if has_pii:
        # A line that did not parse cannot be masked column by column: keep only its token.
        raws = [tokenizer.token(r.raw) if tokenizer else None for r in batch.rejected]
    rows = pa.table(
        {
            SOURCE_URI: [r.source_uri for r in batch.rejected],
            SOURCE_ROW: [str(r.row) if r.row is not None else None for r in batch.rejected],
            BATCH_ID: [batch.batch_id] * len(raws),
            RULES_COLUMN: [SOURCE_RULE] * len(raws),
            REASONS_COLUMN: [f"{SOURCE_RULE}: {r.reason}" for r in batch.rejected],
            RAW: pa.array(raws, pa.string()),
        }
    )
    table = loaded.full_name(spec.quarantine.table)
    schema = quarantine_schema(spec)
    deps.tables.create(table, schema)
    data = conform_quarantine(
        rows, schema, stage="source", run_id=state.run_id, at=deps.clock.now()
    )
    deps.tables.replace(table, data, where={BATCH_ID: batch.batch_id, STAGE: "source"})
