"""`lakecrew cost report` and `lakecrew anomalies detect` through the real CLI app."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.services.finops.cost import CostModel

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
         "--group-col", "site", "--output", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["items"]
    assert [(f["group"], f["observed"]) for f in found] == [("a", 1001.0)]
    text = runner.invoke(
        app,
        ["anomalies", "detect", "--csv", str(csv), "--time-col", "day", "--value-col", "cases",
         "--group-col", "site"],
        env={"LAKECREW_FORCE_TTY": "120"},
    )  # fmt: skip
    assert text.exit_code == 0 and "1001.0" in text.stdout and not text.stdout.startswith("{")


def test_anomalies_detect_options_for_a_series_that_is_not_money(tmp_path: Path) -> None:
    start = date(2026, 1, 1)
    lines = ["day,count"]
    for i in range(60):  # counts around 3; a rise to 13 (day 50) and a drop to 0 (day 55)
        value = {50: 13, 55: 0}.get(i, 3 + (i % 2))
        lines.append(f"{start + timedelta(days=i)},{value}")
    csv = tmp_path / "counts.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = ["anomalies", "detect", "--csv", str(csv), "--time-col", "day", "--value-col", "count"]

    def days(*extra: str) -> list[int]:
        result = runner.invoke(app, [*base, *extra, "--output", "json"])
        assert result.exit_code == 0, result.output
        found = json.loads(result.stdout)["items"]
        return [(date.fromisoformat(f["at"][:10]) - start).days for f in found]

    assert days() == []  # +10 is under the $25 floor
    assert days("--no-floors") == [50]
    assert days("--no-floors", "--direction", "both") == [50, 55]
    assert days("--no-floors", "--direction", "down") == [55]
    assert days("--no-floors", "--k", "1000") == []
    bad = runner.invoke(app, [*base, "--direction", "sideways"])
    assert bad.exit_code == 2 and "sideways" in bad.output


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
    data = json.loads(result.stdout)["items"][0]
    for key in ("by_project", "by_cost_center", "budgets", "anomalies", "recommendations"):
        assert key in data
    assert all("monthly_savings_usd" in r for r in data["recommendations"])
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## budgets" in md and "| key | cost | records |" in md
    assert (tmp_path / "out" / "by_cost_center.csv").read_text().startswith("key,cost,records")
    bad = runner.invoke(app, ["--project", str(simulated.project), "cost", "report",
                              "--period", "year"])  # fmt: skip
    assert bad.exit_code == 2 and "'year' is not one of" in bad.output


@pytest.mark.slow
def test_cost_export_focus_parquet_and_csv(simulated: Simulated, tmp_path: Path) -> None:
    start, end = "2026-03-01", "2026-04-01"
    for name in ("focus.parquet", "focus.csv"):
        result = runner.invoke(
            app,
            ["--project", str(simulated.project), "cost", "export", "--focus", "--start", start,
             "--end", end, "--out", str(tmp_path / name), "--output", "json"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)["items"][0]
        assert summary["rows"] > 0 and (tmp_path / f"{name}.metadata.json").exists()
    table = pq.read_table(tmp_path / "focus.parquet")
    billed = sum(table.column("BilledCost").to_pylist(), Decimal(0)).quantize(Decimal("0.01"))
    assert str(billed) == summary["billed_cost"]
    model = CostModel(simulated.engine)
    march = model.table_total(date(2026, 3, 1), date(2026, 4, 1))["USD"]
    assert billed == march.quantize(Decimal("0.01"))
    known = {w.workspace_id: w.name for w in simulated.config.workspaces if w.workspace_id}
    for row in table.select(["SubAccountId", "SubAccountName"]).to_pylist():
        assert row["SubAccountName"] == known.get(row["SubAccountId"])  # unregistered: null
    assert any(n is not None for n in table.column("SubAccountName").to_pylist())
    csv_text = (tmp_path / "focus.csv").read_text(encoding="utf-8")
    assert csv_text.splitlines()[0].startswith("BilledCost,BillingAccountId,")


def test_cost_export_without_format_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--project", str(tmp_path), "cost", "export"])
    assert result.exit_code != 0 and "--focus" in result.output


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_cost_report_writes_charts_and_parquet(simulated: Simulated, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    result = runner.invoke(
        app,
        ["--project", str(simulated.project), "cost", "report", "--period", "week",
         "--as-of", simulated.now.isoformat(), "--output", "json", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text(encoding="utf-8")
    for name in ("cost_over_time.png", "budget_burnup.png"):
        blob = (out / name).read_bytes()
        assert blob.startswith(PNG_MAGIC) and len(blob) > 20_000, name
        assert f"]({name})" in md
    data = json.loads(result.stdout)["items"][0]
    assert data["daily_by_project"] and data["budget_burnup"]
    actual = {b["id"]: b["actual"] for b in data["budgets"]}
    for b in data["budget_burnup"]:
        assert b["days"] and b["days"][-1]["cumulative"] == actual[b["id"]]
    budgets = pq.read_table(out / "budgets.parquet")
    assert budgets.num_rows == len(data["budgets"]) and "forecast" in budgets.column_names
    assert pq.read_table(out / "by_project.parquet").num_rows == len(data["by_project"])
