"""Bad input and crashes through the pipeline runner: clear errors, nothing lost, no duplicates."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from lakecrew.core.errors import DataError, NotFound, SchemaMismatch
from lakecrew.services.pipelines.records import JOB_RUN_TIMELINE, SCHEMA_VERSIONS
from lakecrew.testing.pipelines import CASES_HEADER, case_rows, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    write_spec(root)
    return root


@pytest.fixture
def ctx(project: Path) -> Iterator[Context]:
    context = Context.open(project, writable=True)
    yield context
    context.close()


def _run(ctx: Context, **kwargs: bool) -> dict[str, Any]:
    report = pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"), **kwargs)
    return report.as_dict()


def _ids(ctx: Context, table: str) -> list[str]:
    return [str(v) for v in ctx.store.read(table, columns=["case_id"]).column(0).to_pylist()]


def test_file_in_another_encoding_is_decoded_and_noted(ctx: Context, project: Path) -> None:
    text = CASES_HEADER + case_rows(0, 3).replace("Edo", "Édo")
    (project / "incoming" / "cp1252.csv").write_bytes(text.encode("cp1252"))
    report = _run(ctx)
    assert report["reconciled"] is True
    assert any("not UTF-8" in str(n) for n in report["notes"])
    states = ctx.store.read("t_dev.silver.cases").column("state").to_pylist()
    assert "Édo" in states


def test_a_truncated_csv_fails_the_run_and_loads_once_complete(ctx: Context, project: Path) -> None:
    text = CASES_HEADER + case_rows(0, 5) + "C09999,Edo,3,4"  # cut off mid-row, no newline
    (project / "incoming" / "cut.csv").write_text(text)
    with pytest.raises(DataError, match=r"cut\.csv: the last line \(line 7\) is cut off"):
        _run(ctx)
    assert not ctx.store.exists("t_dev.bronze.cases_raw"), "no prefix of a cut-off file loads"
    runs = ctx.store.read(JOB_RUN_TIMELINE).to_pylist()
    assert [r["result_state"] for r in runs if r["result_state"]][-1] == "FAILED"
    rest = "C09999,Edo,3,4,1,+2348030000009,2024-01-09\n"
    (project / "incoming" / "cut.csv").write_text(CASES_HEADER + case_rows(0, 5) + rest)
    report = _run(ctx)  # the upload completed under the same name
    assert report["layers"]["bronze"]["written"] == 6
    assert report["layers"]["silver"]["written"] == 6


def test_a_missing_file_fails_and_an_empty_one_is_noted(ctx: Context, project: Path) -> None:
    with pytest.raises(NotFound, match="no file matches"):
        _run(ctx)
    (project / "incoming" / "empty.csv").write_text(CASES_HEADER)
    report = _run(ctx)
    assert "empty.csv: header only, no rows" in report["notes"]
    runs = ctx.store.read(JOB_RUN_TIMELINE).to_pylist()
    last = next(r for r in runs if r["run_id"] == report["run_id"])
    assert "empty.csv: header only, no rows" in dict(last["job_parameters"])["notes"]


def test_a_high_quarantine_rate_fails_the_run_with_the_top_rules(
    ctx: Context, project: Path
) -> None:
    bad = "".join(f"C{i:05d},Edo,99,1,0,+2348030000000,2024-01-05\n" for i in range(3))
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 1) + bad)
    with pytest.raises(DataError, match=r"3 of 4 rows quarantined \(75\.0%\).*week_ok \(3\)"):
        _run(ctx)


def test_value_that_changes_type_is_quarantined_by_coercion(ctx: Context, project: Path) -> None:
    rows = case_rows(0, 4) + "C00050,Edo,3,twelve,1,+2348030000001,2024-01-05\n"
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + rows)
    report = _run(ctx)
    assert report["reconciled"] is True
    q = ctx.store.read("t_dev.silver.cases_quarantine").to_pylist()
    assert [r["case_id"] for r in q] == ["C00050"]
    assert "coerce.confirmed" in q[0]["_dq_rules"]
    # the reason names the column and what was found (a PII column's shows only the shape)
    assert q[0]["_dq_reasons"] == 'coerce.confirmed: "twelve" is not an integer'


def test_new_column_is_additive_in_bronze(ctx: Context, project: Path) -> None:
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 3))
    _run(ctx)
    header = CASES_HEADER.strip() + ",lga\n"
    rows = "".join(line + ",Oredo\n" for line in case_rows(3, 2).splitlines())
    (project / "incoming" / "b.csv").write_text(header + rows)
    report = _run(ctx)
    assert any("added: lga" in c for c in report["schema_changes"])
    assert "lga" in ctx.store.schema("t_dev.bronze.cases_raw").names
    assert sorted(_ids(ctx, "t_dev.silver.cases")) == [f"C0000{i}" for i in range(5)]


def test_spec_retyping_a_column_fails_clearly_unless_approved(ctx: Context, project: Path) -> None:
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 3))
    _run(ctx)
    (project / "incoming" / "b.csv").write_text(CASES_HEADER + case_rows(3, 2))
    write_spec(project, updated_type="string")
    with pytest.raises(SchemaMismatch) as err:
        _run(ctx)
    assert "updated" in str(err.value) and "approved_breaking_changes" in str(err.value)
    assert len(_ids(ctx, "t_dev.silver.cases")) == 3  # nothing half-written
    write_spec(project, updated_type="string", approved=["updated"])
    report = _run(ctx, full_refresh=True)
    assert report["reconciled"] is True
    assert ctx.store.schema("t_dev.silver.cases").field("updated").type == "string"
    assert len(_ids(ctx, "t_dev.silver.cases")) == 5
    kinds = ctx.store.read(SCHEMA_VERSIONS).column("kind").to_pylist()
    assert "breaking" in kinds


def test_missing_input_folder_fails_clearly_and_records_the_failed_run(
    ctx: Context, project: Path
) -> None:
    (project / "incoming").rmdir()
    with pytest.raises(NotFound) as err:
        _run(ctx)
    assert "input directory does not exist" in str(err.value)
    runs = ctx.store.read(JOB_RUN_TIMELINE)
    states = runs.filter(pc.equal(runs.column("run_name"), "cases")).column("result_state")
    assert states.to_pylist() == ["FAILED"]
    assert not ctx.store.exists("t_dev.bronze.cases_raw")


@pytest.mark.parametrize(
    "point", ["before_silver_commit", "after_silver_append", "after_silver_commit"]
)
def test_kill_9_during_silver_write_then_rerun_loses_nothing(project: Path, point: str) -> None:
    rows = case_rows(0, 30) + "C00099,Edo,3,1,5,+2348030000001,2024-01-05\n"  # deaths > confirmed
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + rows)
    cmd = [sys.executable, "-m", "lakecrew.testing.pipelines", str(project), "cases"]
    killed = subprocess.run(
        [*cmd, "--kill-at", point], check=False, capture_output=True, timeout=300
    )
    assert killed.returncode == -9
    rerun = subprocess.run(cmd, check=False, capture_output=True, timeout=300, text=True)
    assert rerun.returncode == 0, rerun.stderr
    ctx = Context.open(project, writable=True)
    try:
        assert ctx.store.read("t_dev.bronze.cases_raw").num_rows == 31
        silver = _ids(ctx, "t_dev.silver.cases")
        assert sorted(silver) == [f"C{i:05d}" for i in range(30)]
        quarantine = _ids(ctx, "t_dev.silver.cases_quarantine")
        assert quarantine == ["C00099"]
        assert '"reconciled": true' in rerun.stdout
    finally:
        ctx.close()
