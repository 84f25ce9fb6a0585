"""Gold refreshed by group equals a full rebuild: rows moving between groups, groups emptied
and created, null groups, HAVING, deletes (a re-ingested file), an edited model, no change."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lakecrew.services.pipelines.gold_groups import group_plan
from lakecrew.services.pipelines.sqltext import qualify_sql
from lakecrew.testing.pipelines import CASES_HEADER, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

BY_STATE = "t_dev.gold.cases_by_state"
REGIONS = "t_dev.gold.regions"
RANKED = "t_dev.gold.ranked"
STATES = [
    "Bauchi",
    "Benue",
    "Kogi",
    "Taraba",
    "Plateau",
    "Nasarawa",
    "Ebonyi",
    "Imo",
    "Oyo",
    "Abia",
]
MODELS = """\
  - table: gold.regions
    description: Regions with more than one case.
    sql: |
      SELECT state AS region, COUNT(*) AS cases, MAX(confirmed) AS top
      FROM silver.cases WHERE deaths >= 0 GROUP BY 1 HAVING COUNT(*) > 1
  - table: gold.ranked
    description: Cases ranked within their state, a window function.
    sql: |
      SELECT case_id, state, RANK() OVER (PARTITION BY state ORDER BY confirmed) AS r
      FROM silver.cases
"""


def _row(key: int, state: str, week: int, confirmed: int, day: int) -> str:
    return f"C{key:03d},{state},{week},{confirmed},1,+2348031234567,2024-01-{day:02d}\n"


def _rebuilt(ctx: Context, runner: pw.PipelineRunner, sql: str) -> list[tuple[object, ...]]:
    return _rows(runner.deps.sql.fetch_arrow(qualify_sql(sql, "t_dev")))


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    spec = write_spec(root)
    spec.write_text(spec.read_text() + MODELS)
    return root


def test_gold_by_group_equals_a_full_rebuild(project: Path) -> None:
    ctx = Context.open(project, writable=True)
    runner = pw.runner_for(ctx, create_keys=True)
    incoming = project / "incoming"

    def run() -> list[str]:
        loaded = pw.load(ctx, "cases")
        notes = runner.run(loaded).notes
        for model in loaded.spec.gold:
            table = loaded.full_name(model.table)
            assert model.sql is not None
            got = _rows(ctx.store.read(table))
            assert got == _rebuilt(ctx, runner, model.sql), table
        return notes

    try:
        rows = [_row(1, "Edo", 3, 5, 1), _row(2, "", 3, 2, 1), _row(3, "Ondo", 4, 7, 1)]
        rows += [_row(4, "Ondo", 4, 1, 1), _row(5, "Kano", 5, 3, 1)]
        # Groups no batch below touches (so that a refresh by group leaves most rows alone).
        rest = [_row(10 + i, s, 10 + i % 2, i, 1) for i, s in enumerate(STATES * 2)]
        (incoming / "a.csv").write_text(CASES_HEADER + "".join(rows + rest))
        notes = run()
        # SUMs by group: additive (gold_additive.py), maintained from silver's changes.
        assert f"{BY_STATE}: rebuilt in full (silver did not exist when the run began)" in notes
        assert f"{REGIONS}: rebuilt in full (the table did not exist when the run began)" in notes
        # C001 leaves Edo (its only row: the group goes) for a new group; C002 leaves the null
        # state; C003's older version must change nothing; C006 is new.
        moves = [_row(1, "Lagos", 9, 4, 2), _row(2, "Ondo", 4, 6, 2), _row(3, "Edo", 3, 9, 1)]
        (incoming / "b.csv").write_text(CASES_HEADER + "".join([*moves, _row(6, "Kano", 5, 1, 2)]))
        notes = run()
        assert f"{BY_STATE}: maintained from silver's changes (3 rows removed, 4 added)" in notes
        assert any(n.startswith(f"{REGIONS}: refreshed by group") for n in notes), notes
        assert f"{RANKED}: rebuilt in full (it uses window)" in notes
        notes = run()
        assert f"{BY_STATE}: unchanged (no silver row changed)" in notes
        assert f"{REGIONS}: unchanged (no silver row of its groups changed)" in notes
        # A new version of a.csv without C004 and C005: silver deletes them (full rebuild).
        (incoming / "a.csv").write_text(CASES_HEADER + "".join(rows[:3] + rest))
        notes = run()
        assert any("a.csv changed: its earlier version was replaced)" in n for n in notes), notes
        rebuilt = f"{BY_STATE}: rebuilt in full ("
        assert any(n.startswith(rebuilt) and "a.csv changed" in n for n in notes), notes
        # An edited model is rebuilt in full once, then refreshed by group again.
        spec = project / "pipelines" / "cases.yaml"
        spec.write_text(spec.read_text().replace("COUNT(*) > 1", "COUNT(*) >= 1"))
        (incoming / "c.csv").write_text(CASES_HEADER + _row(7, "Edo", 3, 8, 3))
        assert (
            f"{REGIONS}: rebuilt in full (the table was not made from the silver version "
            "this run began from)" in run()
        )
        (incoming / "d.csv").write_text(CASES_HEADER + _row(7, "Kano", 3, 8, 4))
        notes = run()
        assert any(n.startswith(f"{REGIONS}: refreshed by group") for n in notes)
        assert any(n.startswith(f"{BY_STATE}: maintained from silver's changes") for n in notes)
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        (
            "SELECT s.state, COUNT(*) FROM silver.cases s JOIN silver.x x ON s.state = x.state "
            "GROUP BY s.state",
            "it uses a JOIN",
        ),
        ("SELECT state, COUNT(*) FROM silver.cases GROUP BY state LIMIT 3", "it uses LIMIT"),
        (
            "SELECT state, COUNT(*) FROM silver.cases GROUP BY ROLLUP (state)",
            "GROUP BY with ROLLUP, CUBE or GROUPING SETS",
        ),
        (
            "SELECT UPPER(state) AS s, COUNT(*) FROM silver.cases GROUP BY UPPER(state)",
            "GROUP BY UPPER(state) is not a silver column",
        ),
        (
            "SELECT week, COUNT(*) FROM silver.cases GROUP BY state, week",
            "group column state is not in the SELECT list as itself",
        ),
        (
            "SELECT state, COUNT(*) FROM silver.cases WHERE updated > CURRENT_DATE() "
            "GROUP BY state",
            "it calls CURRENT_DATE (not provably deterministic)",
        ),
        (
            "SELECT state, COUNT(*) FROM silver.cases WHERE week IN (SELECT 1) GROUP BY state",
            "it uses subquery",
        ),
        ("SELECT DISTINCT state FROM silver.cases", "it uses DISTINCT"),
    ],
)
def test_sql_that_is_not_provably_decomposable_is_rebuilt_in_full(sql: str, why: str) -> None:
    columns = ["case_id", "state", "week", "confirmed", "updated"]
    assert group_plan(qualify_sql(sql, "c"), "c.silver.cases", columns) == why
