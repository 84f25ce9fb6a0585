"""One writer per pipeline and environment: a second run started while the first one writes
fails at once with a clear line, and the tables hold every row exactly once.

The interleaving is chosen, not raced: the first run's source starts the second run from inside
its own batch read (the point where two unguarded runs used to both append the batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lakecrew.core.errors import Conflict
from lakecrew.services.pipelines.runner import PipelineRunner
from lakecrew.testing.pipelines import CASES_HEADER, case_rows, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

PAIRS = 10


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


def test_ten_pairs_of_overlapping_runs_write_every_row_once(ctx: Context) -> None:
    incoming = ctx.layout.root / "incoming"
    for pair in range(PAIRS):
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
