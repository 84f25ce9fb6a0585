"""Run the anomaly detector on any time series in a CSV file (`lakecrew anomalies detect --csv`).

The time column holds ISO dates (`2026-03-01`) or ISO date-times (`2026-03-01T10:00:00+02:00`;
naive date-times are read as UTC). A file whose times are all dates is a *daily* series: values
of the same day (and group) are summed, absent days count as missing, and weekly seasonality is
used. Otherwise each row is one point of an *irregular* series (e.g. job runs), without seasonality.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lakecrew.core.errors import DataError, NotFound
from lakecrew.core.finops import Anomaly
from lakecrew.services.finops.anomaly import (
    COST_CONFIG,
    DetectorConfig,
    detect_daily,
    detect_sequence,
)

IRREGULAR_CONFIG = replace(COST_CONFIG, period=0, window=30, min_history=8)
"""Default for irregular CSV series: like daily cost, without weekly seasonality."""

Point = tuple[date | datetime, float]


def _parse_time(text: str, where: str, col: str) -> date | datetime:
    raw = text.strip()
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise DataError(
            f"column '{col}' is not an ISO date or date-time",
            where=where,
            fix="write times as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[+HH:MM]",
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_value(text: str, where: str, col: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(
            f"column '{col}' is not a finite number",
            where=where,
            fix="write plain numbers (e.g. 123.45) and leave no cell empty",
        )
    return value


def read_series(
    path: Path, time_col: str, value_col: str, group_col: str | None = None
) -> dict[str, list[Point]]:
    """Read (time, value) points per group ('' when there is no group column), validated."""
    if not path.is_file():
        raise NotFound(f"CSV file not found: {path}", fix="pass an existing file to --csv")
    series: dict[str, list[Point]] = defaultdict(list)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            for col in (time_col, value_col, group_col):
                if col is not None and col not in header:
                    raise DataError(
                        f"column '{col}' is not in the header (columns: {', '.join(header)})",
                        where=f"{path}:1",
                        fix="pass the exact column name with --time-col/--value-col/--group-col",
                    )
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if any(row.get(c) is None for c in (time_col, value_col)):
                    raise DataError("row has fewer fields than the header", where=where)
                t = _parse_time(row[time_col], where, time_col)
                v = _parse_value(row[value_col], where, value_col)
                series[(row.get(group_col) or "") if group_col else ""].append((t, v))
    except UnicodeDecodeError as exc:
        raise DataError(
            f"file is not UTF-8 text ({exc.reason})", where=str(path), fix="save it as UTF-8"
        ) from None
    except csv.Error as exc:
        raise DataError(f"malformed CSV ({exc})", where=str(path)) from None
    if not series:
        raise DataError("the file has a header but no data rows", where=str(path))
    return dict(series)


def _is_daily(series: dict[str, list[Point]]) -> bool:
    return all(not isinstance(t, datetime) for points in series.values() for t, _ in points)


def tuned(base: DetectorConfig, tuning: Mapping[str, Any] | None) -> DetectorConfig:
    """`base` with the user's options (k, direction, period, window, abs_floor, pct_floor)
    replaced. A window the user sets brings its own first verdict: after half the window, and
    never before two whole periods of history."""
    given = {k: v for k, v in (tuning or {}).items() if v is not None}
    if "window" in given and "min_history" not in given:
        window, period = int(given["window"]), int(given.get("period", base.period))
        given["min_history"] = min(window, max(3, window // 2, 2 * period))
    return replace(base, **given)


def detect_points(
    series: dict[str, list[Point]],
    *,
    config: DetectorConfig | None = None,
    skip_last_days: int = 0,
    tuning: Mapping[str, Any] | None = None,
) -> list[Anomaly]:
    """Detect anomalies in parsed series; daily series may skip their last N (incomplete) days.

    `tuning` replaces fields of the default config (daily: COST_CONFIG, irregular:
    IRREGULAR_CONFIG) — e.g. `{"abs_floor": 0, "pct_floor": 0}` for a non-dollar series.
    """
    found: list[Anomaly] = []
    daily = _is_daily(series)
    if config is None:
        config = tuned(COST_CONFIG if daily else IRREGULAR_CONFIG, tuning)
    for group in sorted(series):
        key = (group,) if group else ()
        if daily:
            sums: dict[date, float] = defaultdict(float)
            for t, v in series[group]:
                sums[t] += v
            tail = sorted(sums)[-skip_last_days:] if skip_last_days > 0 else []
            found.extend(
                detect_daily(
                    sums,
                    key=key,
                    incomplete=tail,
                    fill_missing=None,
                    config=config or COST_CONFIG,
                )
            )
        else:
            points = [(t, v) for t, v in series[group] if isinstance(t, datetime)]
            found.extend(detect_sequence(points, key=key, config=config or IRREGULAR_CONFIG))
    return found


def detect_csv(
    path: str | Path,
    time_col: str,
    value_col: str,
    group_col: str | None = None,
    *,
    config: DetectorConfig | None = None,
    skip_last_days: int = 0,
    tuning: Mapping[str, Any] | None = None,
) -> list[dict[str, object]]:
    """Detect anomalies in a CSV time series; one JSON-ready dict per anomalous point.

    Each dict: group (or None), at (ISO), expected, observed, delta, pct, score. Bad input raises
    one-line `DataError`s naming the file, the line and the column.
    """
    series = read_series(Path(path), time_col, value_col, group_col)
    out: list[dict[str, object]] = []
    found = detect_points(series, config=config, skip_last_days=skip_last_days, tuning=tuning)
    for anomaly in found:
        item = anomaly.as_dict()
        item.pop("contributors")
        series_key = item.pop("series")
        item = {"group": series_key[0] if series_key else None, **item}  # type: ignore[index]
        out.append(item)
    return out
