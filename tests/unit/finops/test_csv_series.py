"""`detect_csv`: the detector on any CSV time series, and one-line errors on bad input."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from lakecrew.core.errors import DataError, NotFound
from lakecrew.services.finops.anomaly import DetectorConfig
from lakecrew.services.finops.csv_series import detect_csv

START = date(2026, 2, 2)


def write_daily(path: Path, spike_day: int, groups: tuple[str, ...] = ("a", "b")) -> Path:
    lines = ["day,team,cost"]
    for i in range(70):
        d = START + timedelta(days=i)
        for g in groups:
            base = (300.0 if d.weekday() < 5 else 90.0) + (i % 3) * 4
            value = base * 4 if (g == "a" and i == spike_day) else base
            lines.append(f"{d.isoformat()},{g},{value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_daily_csv_with_groups_finds_the_spike(tmp_path: Path) -> None:
    out = detect_csv(write_daily(tmp_path / "s.csv", 50), "day", "cost", "team")
    assert len(out) == 1
    assert out[0]["group"] == "a" and out[0]["at"] == (START + timedelta(days=50)).isoformat()
    assert float(out[0]["observed"]) > float(out[0]["expected"])  # type: ignore[arg-type]
    json.dumps(out)  # JSON-ready


def test_daily_csv_without_group_sums_rows_of_the_same_day(tmp_path: Path) -> None:
    out = detect_csv(write_daily(tmp_path / "s.csv", 60), "day", "cost")
    assert [(o["group"], o["at"]) for o in out] == [
        (None, (START + timedelta(days=60)).isoformat())
    ]


def test_skip_last_days_silences_the_incomplete_tail(tmp_path: Path) -> None:
    path = write_daily(tmp_path / "s.csv", 69)
    assert len(detect_csv(path, "day", "cost", "team")) == 1
    assert detect_csv(path, "day", "cost", "team", skip_last_days=1) == []


def test_irregular_timestamps_with_offsets(tmp_path: Path) -> None:
    rows = ["started,duration"]
    for i in range(40):
        secs = 600 + (i % 4) * 10 + (2400 if i == 30 else 0)
        rows.append(f"2026-03-{1 + i // 2:02d}T{(i % 2) * 12:02d}:30:00+02:00,{secs}")
    (tmp_path / "runs.csv").write_text("\n".join(rows), encoding="utf-8")
    out = detect_csv(
        tmp_path / "runs.csv",
        "started",
        "duration",
        config=DetectorConfig(period=0, window=30, min_history=8, abs_floor=60),
    )
    assert [o["at"] for o in out] == ["2026-03-15T22:30:00+00:00"]  # 00:30+02:00 in UTC


@pytest.mark.parametrize(
    ("content", "cols", "needle"),
    [
        ("day,cost\n2026-01-01,1\n", ("day", "amount"), "s.csv:1: column 'amount' is not in"),
        ("day,cost\n2026-01-01,1\n2026-01-02,abc\n", ("day", "cost"), "s.csv:3: column 'cost'"),
        ("day,cost\n2026-01-01,\n", ("day", "cost"), "s.csv:2: column 'cost' is not a finite"),
        ("day,cost\n2026-01-01,nan\n", ("day", "cost"), "s.csv:2: column 'cost'"),
        ("day,cost\n01/02/2026,1\n", ("day", "cost"), "s.csv:2: column 'day' is not an ISO"),
        ("day,cost\n2026-01-01\n", ("day", "cost"), "s.csv:2: row has fewer fields"),
        ("day,cost\n", ("day", "cost"), "header but no data rows"),
    ],
)
def test_bad_input_is_one_line_data_error(
    tmp_path: Path, content: str, cols: tuple[str, str], needle: str
) -> None:
    path = tmp_path / "s.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as err:
        detect_csv(path, *cols)
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="CSV file not found"):
        detect_csv(tmp_path / "nope.csv", "day", "cost")
    (tmp_path / "latin.csv").write_bytes("day,coût\n2026-01-01,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        detect_csv(tmp_path / "latin.csv", "day", "coût")
