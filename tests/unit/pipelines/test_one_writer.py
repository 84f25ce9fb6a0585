"""One writer per pipeline and environment: a second run started while the first one writes
fails at once with a clear line, and the tables hold every row exactly once.

The interleaving is chosen, not raced: the first run's source starts the second run from inside
its own batch read (the point where two unguarded runs used to both append the batch). A second
writer that does not see the lock at all is stopped at commit time (`TableStore.one_writer`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.core.errors import Conflict
from lakecrew.services.pipelines.runner import PipelineRunner
from lakecrew.testing.pipelines import CASES_HEADER, case_rows, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    root = make_project(tmp_path / "proj")
    write_spec(root)
    context = Context.open(root, writable=True)
    yield context
    context.close()


class _SecondRunInside:
    """Wraps a source: when the first run reads a batch, a second run of the same pipeline
    starts (same project, its own runner) and its outcome is kept."""

    def __init__(self, source: Any, second: PipelineRunner, ctx: Context) -> None:
        self.source, self.second, self.ctx = source, second, ctx
        self.outcome: BaseException | None = None
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def read(self) -> Iterator[Any]:
        for batch in self.source.read():
            if not self.fired:  # the batch is read, not yet in bronze
                self.fired = True
                try:
                    self.second.run(pw.load(self.ctx, "cases"))
                except Conflict as exc:
                    self.outcome = exc
            yield batch


# Two pairs (the second run refused on empty tables, then on tables holding a batch) in
# `make unit`; ten in `make test` (the slow marker), the same assertions after every pair.
@pytest.mark.parametrize("pairs", [2, pytest.param(10, marks=pytest.mark.slow)])
def test_pairs_of_overlapping_runs_write_every_row_once(ctx: Context, pairs: int) -> None:
    incoming = ctx.layout.root / "incoming"
    for pair in range(pairs):
        csv = CASES_HEADER + case_rows(pair * 10, 10)
        (incoming / f"batch{pair:02d}.csv").write_text(csv, encoding="utf-8")
        second = pw.runner_for(ctx, create_keys=True)
        plain = pw.runner_for(ctx, create_keys=True)
        hooks: list[_SecondRunInside] = []

        def hooked(
            loaded: Any,
            opened: Any = plain.deps.open_source,
            second: Any = second,
            hooks: list[_SecondRunInside] = hooks,
        ) -> Any:
            hooks.append(_SecondRunInside(opened(loaded), second, ctx))
            return hooks[-1]

        first = PipelineRunner(replace(plain.deps, open_source=hooked))
        report = first.run(pw.load(ctx, "cases"))
        assert hooks and hooks[0].fired, "the second run was not started mid-run"
        refused = hooks[0].outcome
        assert isinstance(refused, Conflict), f"pair {pair}: the second run was not refused"
        assert "another run of pipeline 'cases' (dev)" in refused.one_line()
        assert report.reconciled
        rows = (pair + 1) * 10
        assert ctx.store.read("t_dev.bronze.cases_raw").num_rows == rows
        assert ctx.store.read("t_dev.silver.cases").num_rows == rows


class _AfterBronzeCommit(DeltaTableStore):
    """A's table store: right after A's first bronze commit, `then()` runs (once)."""

    def __init__(self, store: Any, bronze: str, then: Any) -> None:
        super().__init__(store)
        self.bronze, self.then, self.fired = bronze, then, False

    def append(self, full_name: str, data: Any, *, merge_schema: bool = False) -> int:
        version = super().append(full_name, data, merge_schema=merge_schema)
        if full_name == self.bronze and not self.fired:
            self.fired = True
            self.then()
        return version


class _BeforeFirstCommit:
    """A's source: when A has read its batch (nothing committed yet), `then()` runs (once)."""

    def __init__(self, source: Any, then: Any, fired: list[bool]) -> None:
        self.source, self.then, self.fired = source, then, fired

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def read(self) -> Iterator[Any]:
        for batch in self.source.read():
            if not self.fired:
                self.fired.append(True)
                self.then()
            yield batch


@pytest.mark.parametrize("point", ["before_first_commit", "after_bronze_commit"])
def test_a_writer_around_the_lock_is_stopped_at_commit_time(ctx: Context, point: str) -> None:
    """B ignores the lock (another machine, no flock) and runs whole inside A's run: A's next
    commit lands on a table B moved, so it is refused; A's retry starts from B's result and
    every row is in every layer once."""
    (ctx.layout.root / "incoming" / "b0.csv").write_text(CASES_HEADER + case_rows(0, 10))
    plain = pw.runner_for(ctx, create_keys=True)
    other = pw.runner_for(ctx, create_keys=True)
    around = PipelineRunner(replace(other.deps, locks=None))  # B: no lock at all
    b_reports: list[Any] = []

    def run_b() -> None:
        b_reports.append(around.run(pw.load(ctx, "cases")))

    deps = plain.deps
    if point == "before_first_commit":
        fired: list[bool] = []
        opened = deps.open_source
        deps = replace(deps, open_source=lambda lp: _BeforeFirstCommit(opened(lp), run_b, fired))
    else:
        hooked = _AfterBronzeCommit(ctx.store, "t_dev.bronze.cases_raw", run_b)
        deps = replace(deps, tables=hooked)
    report = PipelineRunner(deps).run(pw.load(ctx, "cases"))
    assert len(b_reports) == 1, "B did not run inside A"
    assert report.attempts == 2, "A's first attempt was not stopped at commit time"
    for table in ("bronze.cases_raw", "silver.cases"):
        assert ctx.store.read(f"t_dev.{table}").num_rows == 10, table
    gold = ctx.store.read("t_dev.gold.cases_by_state")
    assert sum(gold.column("confirmed").to_pylist()) == sum(
        ctx.store.read("t_dev.silver.cases").column("confirmed").to_pylist()
    )
    timeline = ctx.store.read("system.lakeflow.job_run_timeline").to_pylist()
    failed = [r for r in timeline if r["result_state"] == "FAILED"]
    assert len(failed) == 1  # A's first attempt, recorded


def test_the_commit_check_names_the_table_and_commits_nothing(ctx: Context) -> None:
    """Two fenced writers of one table: the second commit is refused whole."""
    import pyarrow as pa

    table = "t_dev.bronze.fenced"
    ctx.store.create_table(table, pa.schema([("n", pa.int64())]))
    a, b = DeltaTableStore(ctx.store), DeltaTableStore(ctx.store)
    with a.one_writer([table], "A"), b.one_writer([table], "B"):
        a.append(table, pa.table({"n": [1]}))
        a.append(table, pa.table({"n": [2]}))  # A builds on its own commits
        with pytest.raises(Conflict) as err:
            b.append(table, pa.table({"n": [3]}))
    assert err.value.one_line().startswith(f"{table}: another writer committed to this table")
    assert sorted(ctx.store.read(table).column("n").to_pylist()) == [1, 2]
