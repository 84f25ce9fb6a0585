"""`lakecrew cost report` and `lakecrew anomalies detect` through the real CLI app."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app

from .simulated import Simulated

runner = CliRunner()


def test_anomalies_detect_prints_json(tmp_path: Path) -> None:
    start = date(2026, 1, 1)
    lines = ["day,site,cases"]
    for i in range(60):
        value = 100 + (i % 7) + (900 if i == 50 else 0)
        lines.append(f"{start + timedelta(days=i)},a,{value}")
    csv = tmp_path / "series.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["anomalies", "detect", "--csv", str(csv), "--time-col", "day", "--value-col", "cases",
         "--group-col", "site"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [(f["group"], f["observed"]) for f in found] == [("a", 1001.0)]


def test_anomalies_detect_bad_column_is_one_line(tmp_path: Path) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("day,v\n2026-01-01,1\n", encoding="utf-8")
    result = runner.invoke(
        app, ["anomalies", "detect", "--csv", str(csv), "--time-col", "t", "--value-col", "v"]
    )
    assert result.exit_code != 0 and "error" in result.output.lower()


@pytest.mark.slow
def test_cost_report_week_json_and_files(simulated: Simulated, tmp_path: Path) -> None:
    as_of = simulated.now.isoformat()
    result = runner.invoke(
        app,
        ["--project", str(simulated.project), "cost", "report", "--period", "week",
         "--as-of", as_of, "--output", "json", "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("by_project", "by_cost_center", "budgets", "anomalies", "recommendations"):
        assert key in data
    assert all("monthly_savings_usd" in r for r in data["recommendations"])
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## budgets" in md and "| key | cost | records |" in md
    assert (tmp_path / "out" / "by_cost_center.csv").read_text().startswith("key,cost,records")
    bad = runner.invoke(app, ["--project", str(simulated.project), "cost", "report",
                              "--period", "year"])  # fmt: skip
    assert bad.exit_code == 2 and "unknown period" in bad.output
