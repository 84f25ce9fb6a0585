"""Parity: the lassa_weekly spec run with the local engine and with the Spark engine.

Spark reads the delta-rs tables through their live Parquet files (no Delta jars offline) and
the gold models must come out identical to the DuckDB ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakecrew import pipeline_wiring as pw
from lakecrew.context import Context
from lakecrew.testing.pipelines import make_project

pytest.importorskip("pyspark")
pytestmark = pytest.mark.integration


def _gold(root: Path, engine: str) -> list[tuple[Any, ...]]:
    ctx = Context.open(make_project(root), writable=True)
    try:
        report = pw.runner_for(ctx, engine=engine).run(pw.load(ctx, "lassa_weekly"))
        assert report.reconciled
        rows = ctx.store.read("lassa_dev.gold.lassa_weekly_by_state").to_pylist()
    finally:
        ctx.close()
    out = []
    for r in rows:
        cfr = None if r["cfr"] is None else round(float(r["cfr"]), 4)
        out.append(
            (r["state"], r["year"], r["week"], str(r["week_start"]),
             int(r["confirmed"]), int(r["deaths"]), cfr)
        )  # fmt: skip
    return sorted(out, key=lambda t: tuple("" if v is None else str(v) for v in t))


def test_lassa_weekly_gold_is_identical_on_duckdb_and_spark(tmp_path: Path) -> None:
    local = _gold(tmp_path / "local", "local")
    spark = _gold(tmp_path / "spark", "spark")
    assert len(local) > 1000
    assert local == spark
