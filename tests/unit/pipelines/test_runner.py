"""The local pipeline runner end to end on a test spec and on the Lassa demo data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pytest

from lakecrew.services.pipelines.records import (
    BATCH_LOG,
    DQ_TABLE,
    JOB_RUN_TIMELINE,
    SCHEMA_VERSIONS,
    TABLE_LINEAGE,
)
from lakecrew.services.pipelines.runner import PipelineRunner
from lakecrew.testing.pipelines import CASES_HEADER, case_rows, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    write_spec(root)
    return root


@pytest.fixture
def ctx(project: Path) -> Iterator[Context]:
    context = Context.open(project, writable=True)
    yield context
    context.close()


def _runner(ctx: Context) -> PipelineRunner:
    return pw.runner_for(ctx, create_keys=True)


def _rows(ctx: Context, table: str) -> int:
    return int(ctx.store.read(table).num_rows)


def test_lassa_demo_runs_reconciles_and_records_everything(ctx: Context) -> None:
    report = _runner(ctx).run(pw.load(ctx, "lassa_weekly"))
    bronze, silver = report.layers["bronze"], report.layers["silver"]
    assert report.reconciled is True
    assert bronze["read"] == bronze["written"] == 4547 + 3049  # both NCDC extractions
    assert silver["read"] == (
        silver["written"] + silver["quarantined"] + silver["duplicates"] + silver["dropped"]
    )
    assert silver["quarantined"] > 0  # deaths > confirmed and non-states are real in this data
    quarantine = ctx.store.read("lassa_dev.silver.lassa_weekly_quarantine")
    rules = set(quarantine.column("_dq_rules").to_pylist())
    assert "deaths_le_confirmed" in rules
    gold = ctx.store.read("lassa_dev.gold.lassa_weekly_by_state")
    assert {"state", "year", "week", "confirmed", "deaths", "cfr"} <= set(gold.column_names)
    assert "Total" not in gold.column("state").to_pylist()
    sources = set(
        ctx.store.read("lassa_dev.silver.lassa_weekly").column("report_source").to_pylist()
    )
    assert sources == {"biodivhealth", "fbranda"}
    # data-quality table: one row per rule, with the reconciliation recorded
    dq = ctx.store.read(DQ_TABLE)
    mine = dq.filter(pc.equal(dq.column("run_id"), report.run_id))
    assert "reconcile_counts" in mine.column("rule").to_pylist()
    # job run, lineage, registration
    runs = ctx.store.read(JOB_RUN_TIMELINE).to_pylist()
    run = next(r for r in runs if r["run_id"] == report.run_id)
    assert run["result_state"] == "SUCCEEDED"
    assert run["period_start_time"] <= run["period_end_time"]
    edges = {(e.source, e.target) for e in ctx.metastore.edges()}
    assert ("lassa_dev.bronze.lassa_weekly_raw", "lassa_dev.silver.lassa_weekly") in edges
    assert ("lassa_dev.silver.lassa_weekly", "lassa_dev.gold.lassa_weekly_by_state") in edges
    system_lineage = ctx.store.read(TABLE_LINEAGE).to_pylist()
    assert any(r["source_type"] == "PATH" for r in system_lineage)
    info = ctx.metastore.get_table("lassa_dev.silver.lassa_weekly")
    assert info.tags["classification"] == "Internal"
    assert info.properties["steward"] == "dq-steward@ehealthafrica.org"
    assert info.owner == "data-engineering@ehealthafrica.org"
    events = report.lineage
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]


def test_rerun_adds_nothing_and_new_file_is_merged_latest_wins(ctx: Context, project: Path) -> None:
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 40))
    runner = _runner(ctx)
    first = runner.run(pw.load(ctx, "cases"))
    assert first.reconciled and first.layers["silver"]["written"] == 40
    again = runner.run(pw.load(ctx, "cases"))
    assert again.layers["bronze"]["written"] == 0
    assert _rows(ctx, "t_dev.bronze.cases_raw") == 40
    assert _rows(ctx, "t_dev.silver.cases") == 40
    # a later file re-sends case C00001 with more deaths: the latest row wins
    update = "C00001,Ondo,3,9,5,+2348030000000,2024-02-01\n"
    (project / "incoming" / "b.csv").write_text(CASES_HEADER + update + case_rows(40, 5))
    third = runner.run(pw.load(ctx, "cases"))
    assert third.layers["bronze"]["written"] == 6
    silver = ctx.store.read("t_dev.silver.cases").to_pylist()
    assert len(silver) == 45
    row = next(r for r in silver if r["case_id"] == "C00001")
    assert (row["confirmed"], row["deaths"]) == (9, 5)


def test_phone_is_masked_and_tagged_pii(ctx: Context, project: Path) -> None:
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 5))
    _runner(ctx).run(pw.load(ctx, "cases"))
    phones = ctx.store.read("t_dev.silver.cases").column("phone").to_pylist()
    assert all("*" in p and "2348031234" not in p for p in phones)
    info = ctx.metastore.get_table("t_dev.silver.cases")
    column = info.column("phone")
    assert column is not None and column.tags.get("pii") == "phone"
    assert info.tags["classification"] == "Confidential"


def test_full_refresh_rebuilds_silver_from_bronze(ctx: Context, project: Path) -> None:
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 12))
    runner = _runner(ctx)
    runner.run(pw.load(ctx, "cases"))
    report = runner.run(pw.load(ctx, "cases"), full_refresh=True)
    assert report.layers["silver"]["read"] == 12
    assert _rows(ctx, "t_dev.silver.cases") == 12
    assert _rows(ctx, "t_dev.bronze.cases_raw") == 12
    log = ctx.store.read(BATCH_LOG).column("layer").to_pylist()
    assert "silver_reset" in log
    versions = ctx.store.read(SCHEMA_VERSIONS).column("table_name").to_pylist()
    assert "t_dev.silver.cases" in versions


def test_plan_lists_pending_files_without_writing(ctx: Context, project: Path) -> None:
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 3))
    plan = _runner(ctx).plan(pw.load(ctx, "cases"))
    assert plan["pending"] == ["a.csv"]
    assert not any(plan["exists"].values())
