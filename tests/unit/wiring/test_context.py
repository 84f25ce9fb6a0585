"""The composition root: a closeable Context, replaceable parts, one sweep entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.adapters.local.channels import FileChannel
from lakecrew.core.errors import TableMissing, UsageError
from lakecrew.testing.pipelines import make_project
from lakecrew.wiring.context import Context
from lakecrew.wiring.crew import _tolerant, estate_owner, sweep


def test_with_closes_every_opened_part(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    with Context.open(project) as ctx:
        ctx.sql.fetch("SELECT 1 AS one")
        assert {"sql", "metastore"} <= set(ctx.__dict__)
    assert "sql" not in ctx.__dict__ and "metastore" not in ctx.__dict__
    ctx.close()  # idempotent


def test_services_are_cached_and_parts_replaceable(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    channel = FileChannel(tmp_path / "elsewhere.jsonl")
    with Context.open(project, writable=True) as ctx:
        ctx.replace(notifier=channel)
        assert ctx.crew is ctx.crew
        assert ctx.crew.deps.notifier is channel
        with pytest.raises(UsageError, match="not a replaceable part"):
            ctx.replace(config=None)


def test_one_sweep_entry_point_sends_estate_findings_to_the_first_owner(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    with Context.open(project, writable=True) as ctx:
        results = sweep(ctx, apply=False, phase=1)
        first = ctx.config.workspaces[0].owner
        assert estate_owner(ctx) == first
        names = {w.name for w in ctx.config.workspaces if w.backend == "local"}
        assert [r.scope for r in results[:-1]] == ctx.local_workspaces()
        assert len(results) == len(names) + 1  # every local workspace, then the estate scope
        owners = {tf.owner for tf in results[-1].findings}
        assert owners <= {first}
        only = sweep(ctx, sorted(names)[0], apply=False, phase=1)
        assert [r.scope for r in only] == [sorted(names)[0]]


def test_tolerant_by_type_not_message() -> None:
    def missing() -> list:
        raise TableMissing("table x does not exist")

    def broken() -> list:
        raise UsageError("query failed: table does not exist in the message only")

    assert _tolerant(missing) == []
    with pytest.raises(UsageError):
        _tolerant(broken)
