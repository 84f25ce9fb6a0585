"""Bronze commits batch k+1 on a writer thread while silver writes batch k (local store).

The overlap is forced, not raced: the first silver upsert and bronze's second append meet at a
barrier, so both are in flight at once (a barrier that times out fails the test, never hangs).
A failure on either side loses nothing, and a batch whose silver step reads bronze back (a new
version of a file retires the old one) never runs beside a bronze append.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.core.errors import LakecrewError
from lakecrew.services.pipelines.runner import PipelineRunner
from lakecrew.testing.pipelines import CASES_HEADER, case_rows, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

BRONZE = "t_dev.bronze.cases_raw"
SILVER = "t_dev.silver.cases"
GUARD = 60.0
"""Seconds an event is awaited before the test fails (a failure detector, never a pace)."""


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    root = make_project(tmp_path / "proj")
    write_spec(root)
    for i, name in enumerate(("a", "b", "c")):
        (root / "incoming" / f"{name}.csv").write_text(CASES_HEADER + case_rows(i * 100, 20))
    context = Context.open(root, writable=True)
    yield context
    context.close()


class _Watched(DeltaTableStore):
    """Records bronze reads while a bronze append is in flight; with ``meet``, silver's first
    upsert and bronze's second append each wait for the other to begin (a two-party
    barrier: both are then in flight at once, or the test fails); ``fail`` fails one write."""

    def __init__(self, store: Any, *, meet: bool = False, fail: str | None = None) -> None:
        super().__init__(store)
        self.fail = fail
        self.meeting = threading.Barrier(2, timeout=GUARD) if meet else None
        self.met = False
        self.in_flight = 0
        self.read_during_append: list[str] = []
        self.appends = 0
        self.upserts = 0

    def _meet(self) -> None:
        if self.meeting is not None:
            self.meeting.wait()  # BrokenBarrierError when the other side never begins
            self.met = True

    def append(self, full_name: str, data: Any, *, merge_schema: bool = False) -> int:
        if full_name != BRONZE:
            return super().append(full_name, data, merge_schema=merge_schema)
        self.appends += 1
        self.in_flight += 1
        try:
            if self.appends == 2:
                self._meet()
                if self.fail == "bronze":
                    raise LakecrewError("injected bronze failure")
            return super().append(full_name, data, merge_schema=merge_schema)
        finally:
            self.in_flight -= 1

    def merge(self, full_name: str, data: Any, keys: Any) -> int:
        if full_name == SILVER:
            self.upserts += 1
            if self.upserts == 1:
                self._meet()
                if self.fail == "silver":
                    raise LakecrewError("injected silver failure")
        return super().merge(full_name, data, keys)

    def read(self, full_name: str, *args: Any, **kwargs: Any) -> Any:
        if full_name == BRONZE and self.in_flight:
            self.read_during_append.append(full_name)
        return super().read(full_name, *args, **kwargs)


def _runner(ctx: Context, store: DeltaTableStore) -> PipelineRunner:
    deps = pw.runner_for(ctx, create_keys=True).deps
    return PipelineRunner(replace(deps, tables=store))


def _ids(ctx: Context, table: str) -> list[str]:
    return sorted(str(v) for v in ctx.store.read(table, columns=["case_id"]).column(0).to_pylist())


def _every_row_once(ctx: Context) -> None:
    assert ctx.store.read(BRONZE).num_rows == 60
    expected = sorted(f"C{i:05d}" for start in (0, 100, 200) for i in range(start, start + 20))
    assert _ids(ctx, SILVER) == expected


def test_silver_writes_batch_k_while_bronze_commits_batch_k_plus_1(ctx: Context) -> None:
    store = _Watched(ctx.store, meet=True)
    report = _runner(ctx, store).run(pw.load(ctx, "cases"))
    assert report.reconciled
    assert store.met
    _every_row_once(ctx)


@pytest.mark.parametrize("side", ["silver", "bronze"])
def test_a_failure_on_either_side_loses_nothing(ctx: Context, side: str) -> None:
    with pytest.raises(LakecrewError, match=f"injected {side} failure"):
        _runner(ctx, _Watched(ctx.store, meet=True, fail=side)).run(pw.load(ctx, "cases"))
    report = pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))
    assert report.reconciled
    _every_row_once(ctx)
    gold = ctx.store.read("t_dev.gold.cases_by_state")
    confirmed = ctx.store.read(SILVER).column("confirmed").to_pylist()
    assert sum(gold.column("confirmed").to_pylist()) == sum(confirmed)


def test_a_batch_that_reads_bronze_back_does_not_run_beside_an_append(ctx: Context) -> None:
    pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))
    incoming = ctx.layout.root / "incoming"
    (incoming / "a.csv").write_text(CASES_HEADER + case_rows(0, 10))  # a new version of a.csv
    (incoming / "d.csv").write_text(CASES_HEADER + case_rows(300, 20))  # read after it
    store = _Watched(ctx.store)
    report = _runner(ctx, store).run(pw.load(ctx, "cases"))
    assert report.reconciled
    assert any("a.csv changed" in note for note in report.notes)
    assert store.read_during_append == []
    expected = [
        f"C{i:05d}" for s, n in ((0, 10), (100, 20), (200, 20), (300, 20)) for i in range(s, s + n)
    ]
    assert _ids(ctx, SILVER) == sorted(expected)
