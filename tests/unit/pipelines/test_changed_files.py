"""A changed source file replaces its own earlier contribution to silver and quarantine.

Bronze keeps both versions, each row with the sha256 of its file; silver and quarantine end up
as a load of the current files from scratch would leave them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakecrew.testing.pipelines import CASES_HEADER, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

BRONZE = "t_dev.bronze.cases_raw"
SILVER = "t_dev.silver.cases"
QUARANTINE = "t_dev.silver.cases_quarantine"


def _row(key: int, day: int, *, confirmed: int = 5, deaths: int = 1, week: int = 3) -> str:
    return f"C{key:03d},Edo,{week},{confirmed},{deaths},+2348031234567,2024-01-{day:02d}\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    spec = write_spec(root)
    line = "  quarantine: {table: silver.cases_quarantine}\n"
    spec.write_text(spec.read_text().replace(line, line + "  max_quarantine_rate: 1\n"))
    return root


@pytest.fixture
def ctx(project: Path) -> Iterator[Context]:
    context = Context.open(project, writable=True)
    yield context
    context.close()


def _run(ctx: Context, **kwargs: bool) -> dict[str, Any]:
    report = pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"), **kwargs)
    assert report.reconciled
    return report.as_dict()


def _silver(ctx: Context) -> dict[str, tuple[int, int]]:
    rows = ctx.store.read(SILVER).to_pylist()
    return {r["case_id"]: (r["updated"].day, r["confirmed"]) for r in rows}


def _quarantined(ctx: Context) -> list[tuple[str, str]]:
    rows = ctx.store.read(QUARANTINE).to_pylist()
    return sorted((r["case_id"], r["_dq_rules"]) for r in rows)


def _write(path: Path, text: str, mtime: int) -> bytes:
    data = (CASES_HEADER + text).encode()
    path.write_bytes(data)
    os.utime(path, ns=(mtime, mtime))
    return data


def test_a_changed_file_replaces_its_own_rows_and_quarantine(ctx: Context, project: Path) -> None:
    a = project / "incoming" / "a.csv"
    first = _write(a, _row(1, 10, confirmed=9) + _row(2, 10) + _row(3, 10, week=99), 10**18)
    _run(ctx)
    # b.csv holds an older version of C001: it loses to a.csv's while a.csv has C001
    _write(project / "incoming" / "b.csv", _row(1, 5, confirmed=7) + _row(4, 10), 10**18)
    _run(ctx)
    assert _silver(ctx) == {"C001": (10, 9), "C002": (10, 5), "C004": (10, 5)}
    assert _quarantined(ctx) == [("C003", "week_ok")]

    # a.csv is corrected: C001 and the bad C003 are gone, C002 changes, C005 is a new bad row
    second = _write(a, _row(2, 11, confirmed=6) + _row(5, 11, deaths=9), 2 * 10**18)
    report = _run(ctx)
    # C001 comes back from b.csv (the only current file holding it), as a fresh load would
    assert _silver(ctx) == {"C001": (5, 7), "C002": (11, 6), "C004": (10, 5)}
    assert _quarantined(ctx) == [("C005", "deaths_le_confirmed")]
    assert any("a.csv changed" in n and "1 keys restored" in n for n in report["notes"])

    # bronze keeps both versions, each row with the sha256 of its file
    bronze = ctx.store.read(BRONZE, columns=["_source_uri", "_file_sha256"]).to_pylist()
    shas = {r["_file_sha256"] for r in bronze if r["_source_uri"].endswith("a.csv")}
    assert shas == {hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()}

    # re-running changes nothing; a full refresh (superseded version skipped) agrees
    _run(ctx)
    _run(ctx, full_refresh=True)
    assert _silver(ctx) == {"C001": (5, 7), "C002": (11, 6), "C004": (10, 5)}
    assert _quarantined(ctx) == [("C005", "deaths_le_confirmed")]
