"""Silver is built while bronze commits the batch; a failure there loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakecrew.core.errors import LakecrewError
from lakecrew.testing.pipelines import (
    CASES_HEADER,
    add_silver_sql,
    case_rows,
    make_project,
    write_spec,
)
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

STRICT = (
    "SELECT case_id, state, CAST(week AS INT) AS week, confirmed, deaths, phone, updated "
    "FROM bronze"
)
LENIENT = STRICT.replace("CAST(week AS INT)", "TRY_CAST(week AS INT)")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    spec = write_spec(root)
    add_silver_sql(spec, STRICT)
    incoming = root / "incoming"
    (incoming / "a.csv").write_text(CASES_HEADER + case_rows(0, 20), encoding="utf-8")
    bad = case_rows(100, 10).replace(",3,", ",x,", 1)  # one week that does not cast
    (incoming / "b.csv").write_text(CASES_HEADER + bad, encoding="utf-8")
    return root


@pytest.fixture
def ctx(project: Path) -> Iterator[Context]:
    context = Context.open(project, writable=True)
    yield context
    context.close()


def test_a_silver_failure_keeps_bronze_and_checkpoint_and_the_rerun_catches_up(
    ctx: Context, project: Path
) -> None:
    runner = pw.runner_for(ctx, create_keys=True)
    with pytest.raises(LakecrewError):
        runner.run(pw.load(ctx, "cases"))
    # b.csv was built while bronze committed it: bronze and the checkpoint hold it all the same.
    assert ctx.store.read("t_dev.bronze.cases_raw").num_rows == 30
    assert runner.plan(pw.load(ctx, "cases"))["pending"] == []
    assert ctx.store.read("t_dev.silver.cases").num_rows == 20
    add_silver_sql(project / "pipelines" / "cases.yaml", LENIENT)
    spec = project / "pipelines" / "cases.yaml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.replace(f"  sql: |\n    {STRICT}\n", "", 1), encoding="utf-8")
    report = runner.run(pw.load(ctx, "cases"))
    silver = report.layers["silver"]
    assert report.layers["bronze"]["written"] == 0  # nothing new at the source
    assert silver["batches"] == 1 and silver["read"] == 10  # only b.csv, from bronze
    assert report.reconciled
    assert ctx.store.read("t_dev.silver.cases").num_rows + silver["quarantined"] == 30
