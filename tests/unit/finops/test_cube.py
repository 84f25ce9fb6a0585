"""The daily cost cube: same lines as the from-scratch query, recomputing changed days only.

Each step changes the billing data the way Databricks does (a late correction for a closed day,
a new day arriving with billing lag, a list price re-priced, a cluster's tags changed) and
checks (1) which days the cube plans to recompute and why, (2) that reading through the cube,
before and after `refresh`, gives exactly the lines of the from-scratch query, and (3) that the
totals reconcile to the cent with the from-scratch computation and the independent table total.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import astuple
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.core.system_tables import SYSTEM_TABLES
from lakecrew.faces.cli.main import app
from lakecrew.services.finops.cost import CostModel
from lakecrew.services.finops.cube import CUBE, CostCube
from lakecrew.services.finops.reports import cost_report

from .conftest import ALL_PURPOSE, CLUSTER_ROWS, PRICE_ROWS, SQL, TAGS, at, load, price, usage
from .simulated import END as SIM_END
from .simulated import START as SIM_START
from .simulated import Simulated

runner = CliRunner()
START, END = date(2026, 1, 1), date(2026, 1, 31)
AS_OF = datetime(2026, 1, 20, tzinfo=UTC)


@pytest.fixture
def writable(billing: LocalSqlEngine) -> LocalSqlEngine:
    return LocalSqlEngine(billing.store, billing.metastore, writable=True)


def lines(engine: LocalSqlEngine, cube: CostCube | None, **kw: Any) -> list[tuple[Any, ...]]:
    usage = CostModel(engine, cube=cube).priced_usage(START, END, as_of=AS_OF, **kw)
    return [astuple(ln) for ln in usage.lines]


def assert_reconciles(engine: LocalSqlEngine, cube: CostCube) -> None:
    scratch = CostModel(engine).priced_usage(START, END, as_of=AS_OF)
    cubed = CostModel(engine, cube=cube).priced_usage(START, END, as_of=AS_OF)
    assert lines(engine, cube) == lines(engine, None)
    assert cubed.total.cents() == scratch.total.cents()
    assert cubed.unpriced == scratch.unpriced and cubed.issues == scratch.issues
    table = CostModel(engine).table_total(START, END)
    assert cubed.total.cents() == round(table["USD"], 2)


def test_cube_recomputes_only_changed_days_and_reconciles(writable: LocalSqlEngine) -> None:
    cube = CostCube(writable)
    assert not cube.exists()
    first = cube.refresh()
    assert first.stale["new"] == tuple(date(2026, 1, d) for d in (9, 10, 11, 12))
    assert cube.exists() and cube.plan().days == set()
    assert_reconciles(writable, cube)
    day = lines(writable, cube, days=[date(2026, 1, 10)], workspace_ids=["1001"])
    assert day and day == lines(writable, None, days=[date(2026, 1, 10)], workspace_ids=["1001"])

    # A late correction for a closed day and a new day arriving (billing lag).
    load(writable.store, "system.billing.usage", [
        usage("r2x", "PREMIUM_JOBS_COMPUTE", "-10", at(10, 10), kind="RETRACTION", tags=TAGS,
              job_id="j1"),
        usage("r2y", "PREMIUM_JOBS_COMPUTE", "8", at(10, 10), kind="RESTATEMENT", tags=TAGS,
              job_id="j1"),
        usage("r11", SQL, "3", at(14, 9), tags=TAGS, warehouse_id="w1"),
    ])  # fmt: skip
    plan = cube.plan()
    assert plan.stale["changed"] == (date(2026, 1, 10),)
    assert plan.stale["new"] == (date(2026, 1, 14),)
    assert plan.days == {date(2026, 1, 10), date(2026, 1, 14)}
    assert_reconciles(writable, cube)  # a stale cube is never read as current
    assert cube.refresh().days == plan.days
    assert cube.plan().days == set()
    assert_reconciles(writable, cube)

    # A re-price: the all-purpose list price changes from 2026-01-11.
    prices = [p for p in PRICE_ROWS if p["sku_name"] != ALL_PURPOSE] + [
        price(ALL_PURPOSE, "0.55", datetime(2025, 1, 1, tzinfo=UTC), at(11, 0)),
        price(ALL_PURPOSE, "0.65", at(11, 0), None),
    ]
    writable.store.overwrite(
        "system.billing.list_prices",
        pa.Table.from_pylist(prices, schema=SYSTEM_TABLES["system.billing.list_prices"]),
    )
    plan = cube.plan()
    assert plan.stale["repriced"] and date(2026, 1, 11) in plan.days
    assert date(2026, 1, 9) not in plan.days
    before = CostModel(writable, cube=cube).priced_usage(START, END, as_of=AS_OF).total.cents()
    cube.refresh()
    after = CostModel(writable, cube=cube).priced_usage(START, END, as_of=AS_OF).total.cents()
    assert after == before  # reads were already re-priced before the refresh
    assert_reconciles(writable, cube)

    # The cluster's current tags change: its untagged usage is re-attributed.
    retag = {**CLUSTER_ROWS[-1], "tags": {"project": "hiv"}, "change_time": at(19, 0)}
    load(writable.store, "system.compute.clusters", [retag])
    plan = cube.plan()
    assert plan.stale["retagged"] == (date(2026, 1, 10), date(2026, 1, 11))
    assert plan.days == {date(2026, 1, 10), date(2026, 1, 11)}
    cube.refresh()
    assert cube.plan().days == set()
    assert_reconciles(writable, cube)
    cubed = CostModel(writable, cube=cube).priced_usage(START, END, as_of=AS_OF)
    projects = {ln.tags.get("project") for ln in cubed.lines if ln.cluster_id is None}
    assert "hiv" in projects and "tb" not in projects


def test_cube_is_one_table_written_once_per_refresh(writable: LocalSqlEngine) -> None:
    cube = CostCube(writable)
    cube.refresh()
    version = writable.store.version(CUBE)
    cube.refresh()  # nothing changed: no new commit
    assert writable.store.version(CUBE) == version
    load(writable.store, "system.billing.usage", [usage("r12", SQL, "1", at(13, 9))])
    cube.refresh()
    assert writable.store.version(CUBE) == version + 1


@pytest.mark.slow
def test_cube_cli_on_the_simulated_estate(simulated: Simulated, tmp_path: Path) -> None:
    """`lakecrew cost cube` builds, then has nothing to do; cube totals = from scratch."""
    project = tmp_path / "proj"
    shutil.copytree(simulated.project, project)
    first = runner.invoke(app, ["--project", str(project), "cost", "cube", "--output", "json"])
    assert first.exit_code == 0, first.output
    built = json.loads(first.stdout)["items"][0]
    assert built["stale_days"] >= 90
    again = runner.invoke(app, ["--project", str(project), "cost", "cube", "--output", "json"])
    assert json.loads(again.stdout)["items"][0] == {"fresh_days": built["stale_days"],
                                                    "stale_days": 0, "reasons": {}}  # fmt: skip
    engine = LocalSqlEngine.open(ProjectLayout(project))
    try:
        scratch = CostModel(engine).priced_usage(SIM_START, SIM_END, as_of=simulated.now)
        cubed = CostModel(engine, cube=CostCube(engine)).priced_usage(
            SIM_START, SIM_END, as_of=simulated.now
        )
        # The whole weekly review (totals, allocations, movers, budgets, anomalies with their
        # contributors, untagged spend, recommendations from the companion) is the same read
        # through the cube as computed from raw usage: every figure, to the cent.
        # As of three days after the first injected anomaly (its week has one to report).
        first = min(date.fromisoformat(a["start"]) for a in simulated.truth["anomalies"])
        as_of = datetime.combine(first + timedelta(days=3), time(), UTC)
        cube = CostCube(engine)
        from_cube = cost_report(engine, simulated.config, "week", as_of, cube=cube)
        from_raw = cost_report(engine, simulated.config, "week", as_of)
        assert cube.fresh(SIM_START, SIM_END)  # the report read materialised days
    finally:
        engine.close()
    assert cubed.lines == scratch.lines
    assert cubed.total.cents() == scratch.total.cents() == simulated.priced.total.cents()
    assert from_cube["anomalies"] and from_cube["recommendations"]
    assert from_cube == from_raw


def test_snapshot_diff_is_exact_on_values_not_on_how_they_are_typed() -> None:
    """The snapshot diff (Arrow, not a Python loop: 10⁵ rows at scale) sees every changed value
    — a separator inside a value cannot make two different rows equal — and nothing else:
    null and "" are the same (as before), a stored timestamp in another unit is no change."""
    from lakecrew.services.finops.cube import _diff

    ts = pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 3, pa.timestamp("us", "UTC"))
    old = pa.table({"k": ["a\x1fb", "c", None], "v": ["c", None, "x"], "t": ts})
    assert _diff(None, old) is None
    same = pa.table(
        {"k": ["a\x1fb", "c", ""], "v": ["c", "", "x"], "t": ts.cast(pa.timestamp("ms", "UTC"))}
    )
    assert _diff(old, same) == []
    shifted = pa.table({"k": ["a", "c", None], "v": ["b\x1fc", None, "x"], "t": ts})
    assert _diff(old, shifted) == [old.to_pylist()[0], shifted.to_pylist()[0]]
