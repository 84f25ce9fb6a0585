"""Silver step: each bronze batch not yet in silver → silver rows, quarantine rows, DQ results.

Per batch, in this order: build (coerce, de-duplicate, expectations, mask: ``silver.py``) →
reconcile counts → append the results to the data-quality table → stop on ``fail`` rules → check
schema evolution → write silver (merge on the dedupe keys, or replace the batch's rows) → replace
the batch's quarantine rows → log the batch. Each write is idempotent per batch, so a crash
(even kill -9) anywhere leaves a state the next run completes without loss or duplicates.
With ``order_by``, a batch's row older than silver's row of the same key is not written
(counted as a duplicate), so silver keeps the latest version whatever the batch split.
A batch of a new version of a file whose older version silver holds first retires the older
version (versions.py): its silver and quarantine rows go, its keys are restored from the other
batches, bronze keeps both. ``full_refresh`` first logs a reset marker, then empties silver and
its silver-stage quarantine rows, and rebuilds from every current bronze batch (superseded file
versions are skipped). ``SilverBatches`` drives it: ``catch_up`` for
batches left in bronze, ``prepare`` (the build, while bronze commits) and ``process`` per batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core.errors import ConfigError
from lakecrew.ports.source import (
    BATCH_ID,
    METADATA_COLUMNS,
    SOURCE_ROW,
    encoded_as,
    plain,
    plain_schema,
)
from lakecrew.services.pipelines.bronze import Failed
from lakecrew.services.pipelines.columns import CARRY, INGESTED_AT, STAGE
from lakecrew.services.pipelines.gold_groups import ChangedGroups
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.records import (
    BATCH_LOG,
    BATCH_LOG_SCHEMA,
    DQ_TABLE,
    batch_log_row,
)
from lakecrew.services.pipelines.schema_log import record_schema
from lakecrew.services.pipelines.silver import SilverOutcome, build_silver
from lakecrew.services.pipelines.silver_sql import apply_silver_sql
from lakecrew.services.pipelines.steps import (
    RunnerDeps,
    RunState,
    conform_quarantine,
    log_marker,
    quarantine_schema,
)
from lakecrew.services.pipelines.transforms import get_transform
from lakecrew.services.pipelines.versions import (
    RETIRED,
    HeldVersions,
    not_older_than_silver,
    retire,
    superseded,
    version_of,
)
from lakecrew.services.privacy.masking import Tokenizer
from lakecrew.services.quality.engine import CheckContext
from lakecrew.services.quality.results import DQ_RESULTS_SCHEMA, results_table
from lakecrew.services.quality.schema_evolution import check_evolution

RESET = "silver_reset"


@dataclass(frozen=True)
class Prepared:
    """A batch's silver outcome built while bronze committed it, and its file version."""

    outcome: SilverOutcome
    version: tuple[str, str] | None


class SilverBatches:
    """The silver step of one run, batch by batch.

    ``catch_up()`` processes every bronze batch silver does not hold yet (crash leftovers,
    everything after a full refresh), in ingestion order; ``process(batch_id, rows)`` handles
    one batch right after bronze committed it, from the rows still in memory when they are the
    whole batch (no re-read), else from bronze. Batches already in silver are skipped.
    """

    def __init__(
        self,
        deps: RunnerDeps,
        loaded: LoadedPipeline,
        state: RunState,
        tokenizer: Tokenizer | None,
        *,
        full_refresh: bool = False,
        changes: ChangedGroups | None = None,
    ) -> None:
        spec = loaded.spec
        self.deps, self.loaded, self.state, self.tokenizer = deps, loaded, state, tokenizer
        self.full_refresh = full_refresh
        self.changes = changes if changes is not None else ChangedGroups()
        self.bronze = loaded.full_name(spec.bronze.table)
        _create_log(deps)
        deps.tables.create(DQ_TABLE, DQ_RESULTS_SCHEMA)
        if full_refresh:
            self.changes.everything("a full refresh")
            _reset(deps, loaded, state)
        self.done, self.history, self.held = _logged(deps, loaded)
        self._before: dict[str, int] = {}  # batch id → how many history entries preceded it
        self.counts = state.layer("silver")

    def catch_up(self) -> None:
        """Every bronze batch not yet in silver, oldest first."""
        if not self.deps.tables.exists(self.bronze):
            return
        pending = _pending_batches(self.deps, self.bronze, self.done)
        old = superseded(self.deps, self.bronze) if pending else set()
        for bid in pending:
            if bid in old:  # a later version of its file replaced it: never in silver
                log_marker(self.deps, self.loaded, self.state, RETIRED, bid)
                self.done.add(bid)
            else:
                self.process(bid)

    def prepare(self, bid: str, rows: pa.Table, schema: pa.Schema) -> Prepared | None:
        """Build the batch's silver outcome without writing anything (None: already done)."""
        if bid in self.done:
            return None
        outcome = self._built(bid, _as_stored(rows, schema))
        dedupe = self.loaded.spec.silver.dedupe
        if dedupe is not None and len(dedupe.keys) == 1 and outcome.silver.num_rows:
            # the lookup against silver and the merge probe these same values
            self.deps.tables.prepare_keys(outcome.silver.column(dedupe.keys[0]))
        return Prepared(outcome, version_of(rows))

    def _built(self, bid: str, raw: pa.Table) -> SilverOutcome:
        """Build one batch; its row count joins the history later batches' checks see.

        Batches are built one at a time and in order (by ``prepare`` in the bronze step's
        helper thread, or by ``process``), so each build sees exactly the batches before it,
        even when the next batch is built while this one is written."""
        outcome = _build(self.deps, self.loaded, raw, self.history, self.tokenizer)
        self._before[bid] = len(self.history)
        self.history.append(outcome.reconciliation.bronze_rows)
        return outcome

    def reads_bronze(self, prepared: object) -> bool:
        """A built batch reads bronze only when it replaces an older version of its file (whose
        rows ``retire`` reads back); one already done or whose build failed reads nothing."""
        if isinstance(prepared, Prepared):
            return bool(self.held.older(prepared.version))
        return not (prepared is None or isinstance(prepared, Failed))  # None: already done

    def process(self, bid: str, rows: pa.Table | None = None, prepared: object = None) -> None:
        """One bronze batch → silver, quarantine, DQ results and the batch log."""
        if bid in self.done:
            return
        if isinstance(prepared, Failed):
            raise prepared.error
        deps, loaded, state, counts = self.deps, self.loaded, self.state, self.counts
        raw = None
        if isinstance(prepared, Prepared):
            version = prepared.version
        else:
            raw = None if rows is not None else _read_batch(deps, self.bronze, bid)
            version = version_of(rows if rows is not None else raw)
        self._retire_older(bid, version)
        if isinstance(prepared, Prepared):
            outcome = prepared.outcome
        else:
            if raw is None:
                raw = _as_stored(rows, deps.tables.schema(self.bronze))
            outcome = self._built(bid, raw)
        self.changes.add(outcome.silver)  # new values (a superset: stale rows are dropped next)
        outcome = _against_silver(deps, loaded, outcome, self.changes)
        _record(deps, loaded, state, outcome)
        outcome.raise_for_fatal()
        first = self.full_refresh and not counts.batches
        _write(
            deps,
            loaded,
            state,
            bid,
            outcome,
            first_after_reset=first,
            version=version,
            changes=self.changes,
        )
        self.held.add(bid, version)
        recon = outcome.reconciliation
        counts.batches += 1
        counts.read += recon.bronze_rows
        counts.written += recon.silver_rows
        counts.quarantined += recon.quarantined_rows
        counts.duplicates += recon.duplicate_rows
        counts.dropped += recon.dropped_rows
        self.done.add(bid)

    def _retire_older(self, bid: str, version: tuple[str, str] | None) -> None:
        """A new version of a file: take the older one's rows out of silver and quarantine."""
        old = self.held.older(version)
        if not old or version is None:
            return
        deps, loaded = self.deps, self.loaded
        others = [b for b in self.held.order if b not in set(old)]
        history = self.history[: self._before.get(bid, len(self.history))]  # batches before bid

        def build(raw: pa.Table) -> pa.Table:
            outcome = _build(deps, loaded, _in_source_order(raw), history, self.tokenizer)
            return outcome.silver

        self.changes.everything(f"{version[0]} changed: its earlier version was replaced")
        done = retire(deps, loaded, old, others, build)
        for retired in old:
            log_marker(deps, loaded, self.state, RETIRED, retired)
        self.held.retire(old)
        self.state.notes.append(
            f"{version[0]} changed: its earlier version's {done.silver_removed} silver and "
            f"{done.quarantine_removed} quarantine rows were replaced"
            + (f" ({done.restored} keys restored from other files)" if done.restored else "")
        )


def _read_batch(deps: RunnerDeps, bronze: str, bid: str) -> pa.Table:
    return _in_source_order(deps.tables.read(bronze, where={BATCH_ID: bid}))


def _as_stored(rows: pa.Table, schema: pa.Schema | None) -> pa.Table:
    """The batch as bronze stores it: every bronze column (absent ones null), bronze types.

    Delta column names are case-insensitive: a batch's ``states`` is bronze's ``States``.
    """
    if schema is None:
        return rows
    by_lower = {name.lower(): i for i, name in enumerate(rows.column_names)}
    arrays = [
        _stored(rows.column(by_lower[f.name.lower()]), f.type)
        if f.name.lower() in by_lower
        else pa.nulls(rows.num_rows, f.type)
        for f in schema
    ]
    fields = [f.with_type(a.type) for f, a in zip(schema, arrays, strict=True)]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=schema.metadata))


def _stored(column: pa.ChunkedArray, dtype: pa.DataType) -> pa.ChunkedArray:
    """``column`` as ``dtype``; a dictionary of ``dtype`` values stays encoded (``_build``
    decodes what silver carries, and drops the rest without a copy)."""
    if encoded_as(column.type, dtype):
        return column
    return column.cast(dtype)


def _build(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    raw: pa.Table,
    history: list[int],
    tokenizer: Tokenizer | None,
) -> SilverOutcome:
    spec = loaded.spec.silver
    if spec.python is not None:
        raw = get_transform(spec.python)(plain(raw))
    elif spec.sql is not None:
        where = f"pipeline {loaded.spec.name} silver.sql"
        raw = apply_silver_sql(deps.sql, spec.sql, plain(raw), where=where)
    keep = [c for c in raw.column_names if c not in METADATA_COLUMNS or c in CARRY]
    carry = list(dict.fromkeys([*spec.carry_columns, *(c for c in CARRY if c in keep)]))
    silver_spec = spec.model_copy(update={"carry_columns": carry})
    context = CheckContext(now=deps.clock.now(), row_count_history=tuple(history))
    # Carried metadata columns stay dictionary-encoded (one value per batch) into silver's write.
    return build_silver(
        raw.select(keep),
        silver_spec,
        context,
        tokenizer,
        table_name=loaded.full_name(spec.table),
    )


def _against_silver(
    deps: RunnerDeps, loaded: LoadedPipeline, outcome: SilverOutcome, changes: ChangedGroups
) -> SilverOutcome:
    """Drop the batch's rows that are older (``order_by``) than silver's row of their key.

    They are counted as duplicates: an older version of a key silver already holds in a newer
    version. Ties go to the batch's row (it arrived later), as within a batch. Silver's rows of
    the batch's keys (the versions about to be replaced) go to ``changes``.
    """
    kept, held = not_older_than_silver(deps, loaded, outcome.silver, changes.columns)
    changes.add(held)
    stale = outcome.silver.num_rows - kept.num_rows
    if not stale:
        return outcome
    recon = outcome.reconciliation
    return replace(
        outcome,
        silver=kept,
        reconciliation=replace(
            recon,
            silver_rows=recon.silver_rows - stale,
            duplicate_rows=recon.duplicate_rows + stale,
        ),
    )


def _in_source_order(raw: pa.Table) -> pa.Table:
    """The batch sorted by source row (usually already so: then no copy is made)."""
    rows = raw.column(SOURCE_ROW).to_numpy()
    if len(rows) < 2 or bool((rows[1:] >= rows[:-1]).all()):
        return raw
    return raw.sort_by([(SOURCE_ROW, "ascending")])


def _record(
    deps: RunnerDeps, loaded: LoadedPipeline, state: RunState, outcome: SilverOutcome
) -> None:
    recon = outcome.reconciliation
    state.reconciled = state.reconciled and recon.balanced
    recon.check()
    table = loaded.full_name(loaded.spec.silver.table)
    rows = results_table(
        outcome.results,
        run_id=state.run_id,
        pipeline=loaded.spec.name,
        table_name=table,
        at=deps.clock.now(),
    )
    deps.tables.append(DQ_TABLE, rows)
    for r in outcome.results:
        state.expectations.append(
            {
                "table": table,
                "rule": r.rule,
                "type": r.rule_type,
                "action": r.action,
                "status": r.status,
                "passed": r.passed_count,
                "failed": r.failed_count,
            }
        )


def _write(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    state: RunState,
    bid: str,
    outcome: SilverOutcome,
    *,
    first_after_reset: bool,
    version: tuple[str, str] | None = None,
    changes: ChangedGroups,
) -> None:
    spec = loaded.spec.silver
    silver = loaded.full_name(spec.table)
    data = outcome.silver
    current = deps.tables.schema(silver)
    types = plain_schema(data.schema)  # a dictionary column holds its values' type
    change = check_evolution(silver, current, types, spec.schema_policy.approved_breaking_changes)
    if change.kind != "none" and current is not None:
        changes.everything(f"silver's schema changed ({change.kind})")
    if change.kind == "breaking" and not first_after_reset:
        raise ConfigError(
            f"approved breaking change of {silver} needs a full rebuild",
            where=silver,
            fix=f"run `lakecrew pipeline run {loaded.spec.name} --full-refresh`",
        )
    if current is None:
        deps.tables.create(silver, types)
    if change.kind != "none":
        record_schema(deps, state, silver, change, types)
    if change.kind == "breaking":
        deps.tables.replace(silver, plain(data), overwrite_schema=True)
    elif spec.dedupe is not None:
        if data.num_rows:
            deps.tables.merge(silver, data, spec.dedupe.keys)
    else:
        if changes.columns and current is not None:  # the batch's earlier rows, replaced
            changes.add(deps.tables.read(silver, list(changes.columns), where={BATCH_ID: bid}))
        deps.tables.replace(silver, data, where={BATCH_ID: bid})
    qtable = loaded.full_name(spec.quarantine.table)
    qschema = quarantine_schema(spec)
    deps.tables.create(qtable, qschema)
    rows = conform_quarantine(
        outcome.quarantine, qschema, stage="silver", run_id=state.run_id, at=deps.clock.now()
    )
    deps.tables.replace(qtable, rows, where={BATCH_ID: bid, STAGE: "silver"})
    recon = outcome.reconciliation
    counts = {
        "rows_in": recon.bronze_rows,
        "rows_out": recon.silver_rows,
        "quarantined": recon.quarantined_rows,
        "duplicates": recon.duplicate_rows,
        "dropped": recon.dropped_rows,
    }
    deps.tables.append(
        BATCH_LOG,
        batch_log_row(
            pipeline=loaded.spec.name,
            env=loaded.env,
            layer="silver",
            batch_id=bid,
            run_id=state.run_id,
            counts=counts,
            reconciled=recon.balanced,
            at=deps.clock.now(),
            version=version,
        ),
    )


def _create_log(deps: RunnerDeps) -> None:
    """The batch log, with the file-version columns added to a log written before them."""
    current = deps.tables.schema(BATCH_LOG)
    if current is None:
        deps.tables.create(BATCH_LOG, BATCH_LOG_SCHEMA)
    elif any(f.name not in current.names for f in BATCH_LOG_SCHEMA):
        deps.tables.append(BATCH_LOG, BATCH_LOG_SCHEMA.empty_table(), merge_schema=True)


def _logged(deps: RunnerDeps, loaded: LoadedPipeline) -> tuple[set[str], list[int], HeldVersions]:
    """Bronze batches silver holds or retired (since the last reset), their sizes, versions."""
    log = deps.tables.read(
        BATCH_LOG,
        ["layer", "batch_id", "rows_in", "committed_at", "source_uri", "file_sha256"],
        where={"pipeline": loaded.spec.name, "env": loaded.env},
    )
    rows = sorted(log.to_pylist(), key=lambda r: (r["committed_at"], r["layer"] != RESET))
    done: set[str] = set()
    sizes: list[int] = []
    since: list[dict[str, object]] = []
    for row in rows:
        if row["layer"] == RESET:
            done, sizes, since = set(), [], []
        elif row["layer"] in ("silver", RETIRED):
            done.add(row["batch_id"])
            since.append(row)
            if row["layer"] == "silver":
                sizes.append(int(row["rows_in"]))
    return done, sizes, HeldVersions.from_log(since)


SCAN_OVER = 8
"""More pending batches than this (a full refresh): one scan orders them, not a read each."""


def _pending_batches(deps: RunnerDeps, bronze: str, done: set[str]) -> list[str]:
    """Bronze batch ids silver does not hold yet, in ingestion order.

    Which batches bronze holds comes from ``TableStore.distinct`` (the Delta log's file
    statistics locally: no data read), so a run with nothing left over reads nothing; only the
    pending batches' ingestion times are read (each read pruned to the batch's own files).
    """
    pending = [b for b in deps.tables.distinct(bronze, BATCH_ID) if b not in done]
    if len(pending) > SCAN_OVER:
        return [b for b in _bronze_batches(deps, bronze) if b not in done]
    first: dict[str, int] = {}
    for bid in pending:
        at = deps.tables.read(bronze, [INGESTED_AT], where={BATCH_ID: bid}).column(INGESTED_AT)
        first[bid] = pc.min(pc.cast(at, pa.int64())).as_py() or 0
    return sorted(pending, key=lambda b: (first[b], b))


def _bronze_batches(deps: RunnerDeps, bronze: str) -> list[str]:
    """Batch ids of bronze in ingestion order."""
    meta = deps.tables.read(bronze, [BATCH_ID, INGESTED_AT])
    if not meta.num_rows:
        return []
    first = meta.group_by(BATCH_ID).aggregate([(INGESTED_AT, "min")])
    ordered = first.sort_by([(f"{INGESTED_AT}_min", "ascending"), (BATCH_ID, "ascending")])
    return [str(b) for b in ordered.column(BATCH_ID).to_pylist()]


def _reset(deps: RunnerDeps, loaded: LoadedPipeline, state: RunState) -> None:
    spec = loaded.spec.silver
    deps.tables.append(
        BATCH_LOG,
        batch_log_row(
            pipeline=loaded.spec.name,
            env=loaded.env,
            layer=RESET,
            batch_id="",
            run_id=state.run_id,
            counts={},
            reconciled=True,
            at=deps.clock.now(),
        ),
    )
    silver = loaded.full_name(spec.table)
    current = deps.tables.schema(silver)
    if current is not None:
        deps.tables.replace(silver, current.empty_table())
    qtable = loaded.full_name(spec.quarantine.table)
    if deps.tables.exists(qtable):
        kept = deps.tables.read(qtable)
        kept = kept.filter(pc.not_equal(kept.column(STAGE), "silver"))
        deps.tables.replace(qtable, kept)
