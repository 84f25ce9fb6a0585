"""Gold SQL is bound against silver's schema before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.core.errors import ConfigError
from lakecrew.services.pipelines.gold_check import silver_schema
from lakecrew.testing.pipelines import CASES_HEADER, case_rows, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context


def test_silver_schema_is_what_a_run_writes(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    write_spec(root)
    (root / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 3))
    with Context.open(root, writable=True) as ctx:
        loaded = pw.load(ctx, "cases")
        pw.runner_for(ctx, create_keys=True).run(loaded)
        written = ctx.store.schema("t_dev.silver.cases")
    predicted = silver_schema(loaded)
    assert [(f.name, str(f.type)) for f in predicted] == [(f.name, str(f.type)) for f in written]


def test_a_gold_column_typo_is_reported_at_the_spec_line_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path / "proj")
    spec = write_spec(root)
    spec.write_text(spec.read_text().replace("SUM(deaths) AS deaths", "SUM(death) AS deaths"))
    (root / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 3))
    line = spec.read_text().splitlines().index("    sql: |") + 1
    with Context.open(root, writable=True) as ctx:
        loaded = pw.load(ctx, "cases")
        with pytest.raises(ConfigError) as info:
            pw.check_gold(ctx, loaded)
        text = str(info.value)
        assert f"cases.yaml:{line}" in text
        assert "pipeline cases gold gold.cases_by_state" in text and "death" in text
        with pytest.raises(ConfigError):
            pw.runner_for(ctx, create_keys=True).run(loaded)
        assert not ctx.store.exists("t_dev.bronze.cases_raw")
