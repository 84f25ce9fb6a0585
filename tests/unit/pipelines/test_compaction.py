"""Silver is compacted once the rows its upserts marked deleted exceed a quarter of the rows
its files hold: the deleted rows leave storage, no row changes, gold stays right."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.services.pipelines import compaction
from lakecrew.services.pipelines.compaction import DEAD_SHARE, RECORD_TABLES
from lakecrew.services.pipelines.records import BATCH_LOG
from lakecrew.services.pipelines.sqltext import qualify_sql
from lakecrew.testing.pipelines import CASES_HEADER, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

SILVER = "t_dev.silver.cases"


def _line(key: int, confirmed: int, day: int) -> str:
    return f"C{key:03d},Edo,{2 + key % 3},{confirmed},0,+2348031234567,2024-01-{day:02d}\n"


def test_deleted_rows_over_a_quarter_are_compacted_away(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    write_spec(root)
    ctx = Context.open(root, writable=True)
    runner = pw.runner_for(ctx, create_keys=True)
    tables = runner.deps.tables
    incoming = root / "incoming"
    try:
        (incoming / "a.csv").write_text(CASES_HEADER + "".join(_line(k, 1, 1) for k in range(12)))
        runner.run(pw.load(ctx, "cases"))
        # 3 of 12 keys corrected: 3 of 15 stored rows deleted (20 %), under the share
        (incoming / "b.csv").write_text(CASES_HEADER + "".join(_line(k, 2, 2) for k in range(3)))
        notes = runner.run(pw.load(ctx, "cases")).notes
        assert tables.deleted_rows(SILVER) == 3 and DEAD_SHARE >= 3 / 15
        assert not any("compacted" in n for n in notes)
        # 3 more: 6 of 18 (33 %), over it
        (incoming / "c.csv").write_text(CASES_HEADER + "".join(_line(k, 3, 3) for k in range(3, 6)))
        report = runner.run(pw.load(ctx, "cases"))
        assert (
            f"{SILVER}: compacted (6 rows marked deleted were 33% of the rows its files held, "
            "over 25%)" in report.notes
        )
        assert any(m["table"] == SILVER for m in report.maintenance)
        assert tables.deleted_rows(SILVER) == 0
        rows = {r["case_id"]: r["confirmed"] for r in ctx.store.read(SILVER).to_pylist()}
        assert rows == {f"C{k:03d}": 2 if k < 3 else 3 if k < 6 else 1 for k in range(12)}
        (incoming / "d.csv").write_text(CASES_HEADER + _line(7, 9, 4))
        loaded = pw.load(ctx, "cases")
        notes = runner.run(loaded).notes  # OPTIMIZE changed no row: gold carries on from it
        assert any(n.startswith("t_dev.gold.cases_by_state: maintained from") for n in notes)
        for model in loaded.spec.gold:
            assert model.sql is not None
            want = runner.deps.sql.fetch_arrow(qualify_sql(model.sql, "t_dev"))
            got = ctx.store.read(loaded.full_name(model.table))
            assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr)
    finally:
        ctx.close()


def test_record_tables_are_compacted_once_their_small_files_pile_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run appends a small file to each record table; past the limit (lowered here), a
    successful run compacts them, and no record is lost."""
    monkeypatch.setattr(compaction, "RECORD_FILES", 6)
    root = make_project(tmp_path / "proj")
    write_spec(root)
    ctx = Context.open(root, writable=True)
    runner = pw.runner_for(ctx, create_keys=True)
    try:
        compacted: list[str] = []
        for day in range(1, 5):
            (root / "incoming" / f"d{day}.csv").write_text(CASES_HEADER + _line(day, 1, day))
            report = runner.run(pw.load(ctx, "cases"))
            compacted += [m["table"] for m in report.maintenance if m["table"] in RECORD_TABLES]
        assert BATCH_LOG in compacted  # 4+ commits a run: past 6 files in the second run
        files = ctx.store.table(BATCH_LOG).get_add_actions(flatten=False).num_rows
        assert files <= 6
        silver = ctx.store.read(BATCH_LOG, columns=["layer", "batch_id"]).to_pylist()
        assert sum(1 for r in silver if r["layer"] == "silver") == 4  # one per file, all kept
    finally:
        ctx.close()
