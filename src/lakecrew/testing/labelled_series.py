"""Labelled public time series (tests/fixtures/anomaly/) read for the detector's test and benchmark.

The vendored KPI file has unix-second timestamps and a 0/1 `label` per point; `lakecrew anomalies
detect --csv` reads ISO date-times, so `write_iso_csv` rewrites the times (values unchanged).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class LabelledSeries:
    """One series: ISO times, values and the labelled anomaly windows (inclusive row ranges)."""

    times: list[str]
    values: list[float]
    windows: list[tuple[int, int]]


def read_labelled(path: Path) -> LabelledSeries:
    """Read `timestamp,value,label` rows (one series, sorted by time)."""
    times: list[str] = []
    values: list[float] = []
    labelled: list[int] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            at = datetime.fromtimestamp(int(row["timestamp"]), tz=UTC)
            times.append(at.isoformat())
            values.append(float(row["value"]))
            if row["label"].strip() == "1":
                labelled.append(i)
    return LabelledSeries(times, values, _windows(labelled))


def _windows(rows: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in rows:
        if out and i == out[-1][1] + 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def write_iso_csv(series: LabelledSeries, path: Path) -> Path:
    """The series as `at,value` with ISO times, the shape `anomalies detect --csv` reads."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["at", "value"])
        out.writerows(zip(series.times, series.values, strict=True))
    return path


@dataclass(frozen=True)
class WindowScore:
    """Detections scored against labelled windows."""

    detections: int
    true: int  # detections inside a labelled window
    found: int  # labelled windows with at least one detection
    windows: int

    @property
    def false_alarms(self) -> int:
        return self.detections - self.true


def score(flagged: list[int], windows: list[tuple[int, int]]) -> WindowScore:
    """A detection is true when it lies inside a labelled window (no tolerance around it)."""
    rows = sorted(set(flagged))
    inside = [any(lo <= r <= hi for lo, hi in windows) for r in rows]
    found = sum(any(lo <= r <= hi for r in rows) for lo, hi in windows)
    return WindowScore(len(rows), sum(inside), found, len(windows))
