"""Run one pipeline spec locally: source → bronze → silver → gold, recorded end to end.

``PipelineRunner(deps).run(loaded)`` performs one run with retries (the spec's ``max_retries``,
on ``Transient`` and ``Conflict`` errors only; the wait is the spec's interval capped by
``deps.retry_delay_cap_seconds``). Each attempt appends its slice(s) to
``system.lakeflow.job_run_timeline`` with the real start, end and result, and the attempt number
in ``job_parameters``. Whatever the outcome, the tables written so far are registered and the
lineage is recorded; the error is raised after that. Steps live in bronze.py, silver_step.py and
gold_step.py; the per-run report is ``RunReport``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lakecrew.core.errors import Conflict, DataError, LakecrewError, Transient
from lakecrew.services.pipelines.bronze import SOURCE_RULE, run_bronze
from lakecrew.services.pipelines.compaction import compact_records, compact_silver
from lakecrew.services.pipelines.gold_check import check_gold_sql
from lakecrew.services.pipelines.gold_step import (
    carry_markers,
    changes_for,
    refresh_ways,
    run_gold,
)
from lakecrew.services.pipelines.governance import (
    job_id,
    lineage_edges,
    record_lineage,
    register_tables,
)
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.records import JOB_RUN_TIMELINE, job_run_rows, openlineage_events
from lakecrew.services.pipelines.schema_log import drift_rate
from lakecrew.services.pipelines.silver_step import SilverBatches
from lakecrew.services.pipelines.steps import RunnerDeps, RunState

RETRYABLE = (Transient, Conflict)


@dataclass(frozen=True)
class RunReport:
    """What one run did: per-layer counts, reconciliation, expectations, tables, lineage."""

    run_id: str
    pipeline: str
    env: str
    status: str
    attempts: int
    started_at: datetime
    ended_at: datetime
    layers: dict[str, dict[str, int]]
    reconciled: bool
    expectations: list[dict[str, Any]]
    tables: dict[str, int]
    quarantine: dict[str, int]
    schema_changes: list[str]
    drift_rate: dict[str, float]
    maintenance: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    lineage: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--output json``)."""
        out = dict(self.__dict__)
        out["started_at"] = self.started_at.isoformat()
        out["ended_at"] = self.ended_at.isoformat()
        return out


def writer_lock(loaded: LoadedPipeline) -> str:
    """The lock name of one pipeline in one environment (one writer at a time)."""
    return f"pipeline.{loaded.spec.name}.{loaded.env}"


def check_quarantine_rate(loaded: LoadedPipeline, state: RunState) -> None:
    """DataError when this run quarantined more than ``silver.max_quarantine_rate`` of its rows.

    Counts source rejects (bronze) and silver's quarantined rows against the rows silver read
    plus the rejects; the message gives the rate and the three most frequent rules.
    """
    bronze, silver = state.layer("bronze"), state.layer("silver")
    quarantined = silver.quarantined + bronze.quarantined
    total = silver.read + bronze.quarantined
    limit = loaded.spec.silver.max_quarantine_rate
    if not total or quarantined / total <= limit:
        return
    by_rule: dict[str, int] = {}
    if bronze.quarantined:
        by_rule[SOURCE_RULE] = bronze.quarantined
    for e in state.expectations:
        if e["action"] == "quarantine" and e["failed"]:
            by_rule[e["rule"]] = by_rule.get(e["rule"], 0) + int(e["failed"])
    top = sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    reasons = ", ".join(f"{rule} ({n})" for rule, n in top)
    qtable = loaded.full_name(loaded.spec.silver.quarantine.table)
    raise DataError(
        f"{quarantined} of {total} rows quarantined ({quarantined / total:.1%}), above "
        f"max_quarantine_rate {limit:.0%}; top rules: {reasons}",
        where=f"pipeline {loaded.spec.name} {qtable}",
        fix="inspect the quarantine table (lakecrew sql), fix the source or the rules, or raise "
        "silver.max_quarantine_rate after review",
    )


def merged_expectations(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (table, rule) for the run: batch counts summed, failed if any batch failed."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        key = (item["table"], item["rule"])
        if key not in merged:
            merged[key] = dict(item)
            continue
        into = merged[key]
        into["passed"] += item["passed"]
        into["failed"] += item["failed"]
        if item["status"] == "failed":
            into["status"] = "failed"
    return list(merged.values())


class PipelineRunner:
    """Runs specs against the ports of ``deps``."""

    def __init__(self, deps: RunnerDeps) -> None:
        self.deps = deps

    def plan(self, loaded: LoadedPipeline) -> dict[str, Any]:
        """What a run would do, without doing it: tables, pending source units, gold models."""
        source = self.deps.open_source(loaded)
        spec = loaded.spec
        return {
            "pipeline": spec.name,
            "env": loaded.env,
            "source": spec.source.type,
            "pending": list(source.discover()),
            "tables": {
                "bronze": loaded.full_name(spec.bronze.table),
                "silver": loaded.full_name(spec.silver.table),
                "quarantine": loaded.full_name(spec.silver.quarantine.table),
                "gold": [loaded.full_name(g.table) for g in spec.gold],
            },
            "expectations": [e.name for e in spec.silver.expectations],
            "gold_refresh": refresh_ways(self.deps, loaded),
            "exists": {t: self.deps.tables.exists(loaded.full_name(t)) for t in spec.table_names()},
        }

    def run(self, loaded: LoadedPipeline, *, full_refresh: bool = False) -> RunReport:
        """One run with retries, holding the pipeline+environment's writer lock (a second run
        at the same time fails at once with a Conflict); each attempt's commits to the
        pipeline's tables are also checked at commit time (``TableStore.one_writer``), so a
        writer that got around the lock makes one of the two fail with a Conflict instead of
        doubling rows. Raises the last error after recording it. The gold SQL is bound
        against silver's schema before any write."""
        check_gold_sql(self.deps.bind_sql or self.deps.sql, loaded, self.deps.tables.schema)
        locks = self.deps.locks
        if locks is None:
            return self._run(loaded, full_refresh=full_refresh)
        with locks.acquire(writer_lock(loaded)):
            return self._run(loaded, full_refresh=full_refresh)

    def _run(self, loaded: LoadedPipeline, *, full_refresh: bool) -> RunReport:
        run_id = str(uuid.uuid4())
        started = self.deps.clock.now()
        max_retries = loaded.spec.retries.max_retries
        attempt = 0
        while True:
            attempt += 1
            state = RunState(run_id)
            begin = self.deps.clock.now()
            tables = [loaded.full_name(t) for t in loaded.spec.table_names()]
            try:
                with self.deps.tables.one_writer(tables, f"{run_id}/{attempt}"):
                    self._attempt(loaded, state, full_refresh=full_refresh)
            except LakecrewError as exc:
                self._finish(loaded, state, begin, attempt, "FAILED", full_refresh=full_refresh)
                if isinstance(exc, RETRYABLE) and attempt <= max_retries:
                    wait = loaded.spec.retries.min_retry_interval_millis / 1000
                    self.deps.sleep(min(wait, self.deps.retry_delay_cap_seconds))
                    continue
                raise
            except Exception:
                self._finish(loaded, state, begin, attempt, "FAILED", full_refresh=full_refresh)
                raise
            self._finish(loaded, state, begin, attempt, "SUCCEEDED", full_refresh=full_refresh)
            compact_records(self.deps, state)
            self.deps.tables.persist()  # e.g. the key indexes, for the next run's process
            return self._report(loaded, state, started, attempt)

    def _attempt(self, loaded: LoadedPipeline, state: RunState, *, full_refresh: bool) -> None:
        tokenizer = self.deps.tokenizer(loaded)
        # Leftovers first (oldest bronze batches), then each new batch right after bronze
        # commits it, from memory: silver never re-reads what bronze just wrote.
        state.layer("bronze")  # reported first
        silver = loaded.full_name(loaded.spec.silver.table)
        # What silver's step changes, for gold models refreshed by group (gold_step.py).
        began_from = self.deps.tables.version(silver)
        changes = changes_for(self.deps, loaded)
        silver_batches = SilverBatches(
            self.deps, loaded, state, tokenizer, full_refresh=full_refresh, changes=changes
        )
        silver_batches.catch_up()
        run_bronze(
            self.deps, loaded, state, tokenizer, consumer=silver_batches, full_refresh=full_refresh
        )
        check_quarantine_rate(loaded, state)
        if self.deps.tables.exists(silver):
            state.layer("gold").read = self.deps.tables.count(silver)
            # Silver is committed: its key index is saved for the next process while gold runs.
            with self.deps.tables.persisting():
                run_gold(self.deps, loaded, state, changes, began_from)
            compact_silver(self.deps, loaded, state)

    def _finish(
        self,
        loaded: LoadedPipeline,
        state: RunState,
        begin: datetime,
        attempt: int,
        result: str,
        *,
        full_refresh: bool,
    ) -> None:
        silver = loaded.full_name(loaded.spec.silver.table)
        before = self.deps.tables.version(silver) if self.deps.tables.exists(silver) else None
        register_tables(self.deps, loaded)
        if before is not None and self.deps.tables.version(silver) != before:
            # protect() rewrote silver's statistics, no row: gold made from before still holds
            carry_markers(self.deps, loaded, state, before)
        edges = lineage_edges(loaded, sorted(state.source_uris))
        record_lineage(self.deps, loaded, state.run_id, edges)
        rows = job_run_rows(
            workspace_id=self.deps.workspace_id,
            job_id=job_id(loaded),
            run_id=state.run_id,
            run_name=loaded.spec.name,
            start=begin,
            end=self.deps.clock.now(),
            result_state=result,
            termination_code="SUCCESS" if result == "SUCCEEDED" else "RUN_EXECUTION_ERROR",
            parameters={
                "env": loaded.env,
                "attempt": str(attempt),
                "full_refresh": str(full_refresh).lower(),
                **({"notes": " | ".join(dict.fromkeys(state.notes))} if state.notes else {}),
            },
        )
        self.deps.tables.append(JOB_RUN_TIMELINE, rows)

    def _report(
        self, loaded: LoadedPipeline, state: RunState, started: datetime, attempts: int
    ) -> RunReport:
        spec = loaded.spec
        tables = {}
        for name in spec.table_names():
            full = loaded.full_name(name)
            if self.deps.tables.exists(full):
                tables[full] = self.deps.tables.count(full)
        quarantine = loaded.full_name(spec.silver.quarantine.table)
        silver = loaded.full_name(spec.silver.table)
        edges = lineage_edges(loaded, sorted(state.source_uris))
        ended = self.deps.clock.now()
        return RunReport(
            run_id=state.run_id,
            pipeline=spec.name,
            env=loaded.env,
            status="SUCCEEDED",
            attempts=attempts,
            started_at=started,
            ended_at=ended,
            layers={k: v.as_dict() for k, v in state.layers.items()},
            reconciled=state.reconciled,
            expectations=merged_expectations(state.expectations),
            tables=tables,
            quarantine={quarantine: tables.get(quarantine, 0)},
            schema_changes=[c.message() for c in state.schema_changes],
            drift_rate={silver: drift_rate(self.deps, silver, spec.name)},
            maintenance=[m.__dict__ for m in state.maintenance],
            notes=list(dict.fromkeys(state.notes)),
            lineage=openlineage_events(
                run_id=state.run_id,
                job_name=spec.name,
                namespace=f"lakecrew://{loaded.catalog}",
                edges=edges,
                start=started,
                end=ended,
                state="SUCCEEDED",
            ),
        )
