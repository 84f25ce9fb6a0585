"""The detector on a labelled public series nobody here wrote: one KPI of the 2018 AIOps
Challenge (tests/fixtures/anomaly/SOURCE.md), 8,784 five-minute points, four labelled windows,
through `lakecrew anomalies detect --csv` as a user would run it on a non-dollar metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.labelled_series import LabelledSeries, read_labelled, score, write_iso_csv

KPI = Path(__file__).resolve().parents[2] / "fixtures" / "anomaly" / "kpi.csv"
runner = CliRunner()


@pytest.fixture(scope="module")
def kpi(tmp_path_factory: pytest.TempPathFactory) -> tuple[LabelledSeries, Path]:
    series = read_labelled(KPI)
    return series, write_iso_csv(series, tmp_path_factory.mktemp("kpi") / "kpi.csv")


def _detect(csv: Path, *options: str) -> list[dict[str, object]]:
    result = runner.invoke(
        app,
        ["anomalies", "detect", "--csv", str(csv), "--time-col", "at", "--value-col", "value",
         "--no-floors", "--direction", "both", *options, "--output", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    items: list[dict[str, object]] = json.loads(result.output)["items"]
    return items


def test_the_vendored_series_is_what_its_source_says(kpi: tuple[LabelledSeries, Path]) -> None:
    series, _ = kpi
    assert len(series.values) == 8784
    assert series.windows == [(264, 267), (698, 700), (6169, 6171), (8192, 8194)]


def test_every_labelled_window_is_found_with_bounded_false_alarms(
    kpi: tuple[LabelledSeries, Path],
) -> None:
    series, csv = kpi
    row = {t: i for i, t in enumerate(series.times)}
    found = score([row[str(a["at"])] for a in _detect(csv, "--k", "5")], series.windows)
    assert found.found == 4  # recall of labelled windows
    assert found.false_alarms <= 100  # 76 when written: under 1 % of the 8,784 points


def test_a_wider_window_and_higher_k_trade_one_window_for_few_false_alarms(
    kpi: tuple[LabelledSeries, Path],
) -> None:
    series, csv = kpi
    row = {t: i for i, t in enumerate(series.times)}
    found = score(
        [row[str(a["at"])] for a in _detect(csv, "--window", "56", "--k", "6")], series.windows
    )
    assert found.found >= 3
    assert found.false_alarms <= 15  # 9 when written


def test_a_period_longer_than_half_the_window_is_a_usage_error(
    kpi: tuple[LabelledSeries, Path],
) -> None:
    _, csv = kpi
    result = runner.invoke(
        app,
        ["anomalies", "detect", "--csv", str(csv), "--time-col", "at", "--value-col", "value",
         "--period", "288"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "period=288 needs a window of at least two periods (576 points)" in result.output
    assert "--window 576" in result.output
