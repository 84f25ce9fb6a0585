"""Additive gold models (SUM / COUNT by group) maintained from silver's row changes equal the
model's SQL run over silver, for random batches: keys moving between groups, groups emptied,
null groups and null values, older versions that change nothing, a WHERE and an ORDER BY."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lakecrew.services.pipelines.gold_additive import additive_plan, inexact
from lakecrew.services.pipelines.gold_maintain import state_table
from lakecrew.services.pipelines.sqltext import qualify_sql
from lakecrew.testing.pipelines import CASES_HEADER, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

MODELS = """\
  - table: gold.by_state
    description: Sums, counts and a ratio of sums per state, weeks after the first.
    sql: |
      SELECT state, SUM(confirmed) AS confirmed, COUNT(deaths) AS with_deaths,
             COUNT(*) AS n, SUM(deaths) / NULLIF(SUM(confirmed), 0) AS cfr
      FROM silver.cases WHERE week > 1 GROUP BY state
  - table: gold.by_week
    description: Deaths per week, an aliased table and an ordinal GROUP BY.
    sql: |
      SELECT c.week AS wk, SUM(c.deaths) AS deaths FROM silver.cases AS c
      GROUP BY 1 ORDER BY deaths DESC
"""
MODEL_TABLES = ("t_dev.gold.by_state", "t_dev.gold.by_week")
STATES = ["Edo", "Ondo", "Kano", ""]  # "" reads as null


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)


def _line(key: int, state: str, week: int, confirmed: int | None, day: int) -> str:
    value = "" if confirmed is None else str(confirmed)
    deaths = "" if confirmed is None else str(min(1, confirmed))
    return f"C{key:03d},{state},{week},{value},{deaths},+2348031234567,2024-01-{day:02d}\n"


_row = st.tuples(
    st.integers(1, 8),
    st.sampled_from(STATES),
    st.integers(1, 3),
    st.one_of(st.none(), st.integers(0, 9)),
    st.integers(1, 5),
)


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(batches=st.lists(st.lists(_row, min_size=1, max_size=8), min_size=3, max_size=3))
def test_maintained_gold_equals_its_sql_over_silver(
    batches: list[list[tuple[int, str, int, int | None, int]]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp) / "proj")
        spec = write_spec(root)
        spec.write_text(spec.read_text() + MODELS)
        ctx = Context.open(root, writable=True)
        try:
            runner = pw.runner_for(ctx, create_keys=True)
            ways = []
            for i, batch in enumerate(batches):
                text = CASES_HEADER + "".join(_line(*r) for r in batch)
                (root / "incoming" / f"b{i}.csv").write_text(text)
                loaded = pw.load(ctx, "cases")
                notes = runner.run(loaded).notes
                for model in loaded.spec.gold:
                    table = loaded.full_name(model.table)
                    assert model.sql is not None
                    want = runner.deps.sql.fetch_arrow(qualify_sql(model.sql, "t_dev"))
                    assert _rows(ctx.store.read(table)) == _rows(want), (table, notes)
                    assert ctx.store.schema(table) == want.schema, table
                ways += [n for n in notes if n.startswith(MODEL_TABLES)]
            # every run after the first maintained both models (or found nothing changed)
            later = ways[2:]
            assert all(": maintained from" in n or ": unchanged" in n for n in later), ways
        finally:
            ctx.close()


def test_a_crash_between_state_and_table_rebuilds_in_full(tmp_path: Path) -> None:
    """The state is written, the table is not (a failed write): the next run sees the state's
    marker ahead of the table's and rebuilds in full, and the rows are right."""
    root = make_project(tmp_path / "proj")
    spec = write_spec(root)
    spec.write_text(spec.read_text() + MODELS)
    ctx = Context.open(root, writable=True)
    runner = pw.runner_for(ctx, create_keys=True)
    incoming = root / "incoming"
    try:
        (incoming / "a.csv").write_text(CASES_HEADER + _line(1, "Edo", 2, 5, 1))
        runner.run(pw.load(ctx, "cases"))
        (incoming / "b.csv").write_text(CASES_HEADER + _line(1, "Kano", 2, 7, 2))
        store = runner.deps.tables
        replace = store.replace

        def failing(name: str, *args: object, **kwargs: object) -> int:
            if name == "t_dev.gold.by_state":
                raise OSError("disk full (injected)")
            return replace(name, *args, **kwargs)  # type: ignore[arg-type]

        store.replace = failing  # type: ignore[method-assign]
        with pytest.raises(OSError, match="injected"):
            runner.run(pw.load(ctx, "cases"))
        store.replace = replace  # type: ignore[method-assign]
        assert ctx.store.read(state_table("t_dev.gold.by_state")).num_rows == 1  # Kano only
        (incoming / "c.csv").write_text(CASES_HEADER + _line(2, "Edo", 3, 1, 2))
        notes = runner.run(pw.load(ctx, "cases")).notes
        assert any(n.startswith("t_dev.gold.by_state: rebuilt in full (the table") for n in notes)
        got = _rows(ctx.store.read("t_dev.gold.by_state"))
        assert got == [("Edo", 1, 1, 1, 1.0), ("Kano", 7, 1, 1, 1 / 7)]
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT state, AVG(confirmed) FROM s.x.cases GROUP BY state", "it computes AVG"),
        ("SELECT state, MAX(confirmed) FROM s.x.cases GROUP BY state", "it computes MAX"),
        (
            "SELECT state, COUNT(DISTINCT week) FROM s.x.cases GROUP BY state",
            "it computes COUNT(DISTINCT ...)",
        ),
        (
            "SELECT state, COUNT(*) FROM s.x.cases GROUP BY state HAVING COUNT(*) > 1",
            "it uses HAVING",
        ),
        (
            "SELECT state, SUM(week) FILTER (WHERE week > 1) FROM s.x.cases GROUP BY state",
            "an aggregate has a FILTER clause",
        ),
        ("SELECT state, COUNT(*) FROM s.x.cases", "no plain GROUP BY"),
        (
            "SELECT state, SUM(week) FROM s.x.cases GROUP BY state",
            "SUM(week) has no alias (its name is the engine's)",
        ),
    ],
)
def test_models_that_do_not_add_up_are_not_additive(sql: str, why: str) -> None:
    got = additive_plan(sql, "s.x.cases", ["state", "week", "confirmed"])
    assert isinstance(got, str) and got.startswith(why), got


def test_a_floating_point_sum_is_not_maintained() -> None:
    state = pa.schema(
        [("state", pa.string()), ("__lc_rows", pa.int64()), ("__lc_v0", pa.float64())]
    )
    assert inexact(state) == "a SUM over floating-point values (not exact when maintained)"
    assert inexact(state.set(2, pa.field("__lc_v0", pa.int64()))) is None


def test_plan_says_how_each_model_will_be_refreshed(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    spec = write_spec(root)
    average = "SELECT state, AVG(confirmed) AS a FROM silver.cases GROUP BY state"
    extra = f"  - table: gold.avg\n    description: Averages.\n    sql: {average}\n"
    spec.write_text(spec.read_text() + MODELS + extra)
    (root / "incoming" / "a.csv").write_text(CASES_HEADER + _line(1, "Edo", 2, 5, 1))
    ctx = Context.open(root, writable=True)
    try:
        runner = pw.runner_for(ctx, create_keys=True)
        before = runner.plan(pw.load(ctx, "cases"))["gold_refresh"]
        assert before["t_dev.gold.avg"] == "rebuilt in full (silver did not exist)"
        runner.run(pw.load(ctx, "cases"))
        ways = runner.plan(pw.load(ctx, "cases"))["gold_refresh"]
        maintained = "maintained from silver's changes (SUM and COUNT by group)"
        assert ways["t_dev.gold.by_state"] == ways["t_dev.gold.by_week"] == maintained
        assert ways["t_dev.gold.avg"] == (
            "refreshed by group (the groups silver's changes touch); "
            "not maintained: it computes AVG (only SUM and COUNT add up)"
        )
    finally:
        ctx.close()
