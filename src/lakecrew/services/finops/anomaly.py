"""A robust anomaly detector for cost and duration series (pure Python + numpy).

For every point t with enough history, the baseline is fitted on the previous `window` points:

1. trend: a Theil–Sen slope over pairs of history points exactly k·period apart (so weekly
   seasonality cancels out of the slope); without seasonality, over all pairs;
2. seasonality: the median of the detrended values per weekday (period 7 for daily series);
3. level: the median of the detrended, deseasonalised values;
4. scale: the larger of 1.4826 × MAD of the history residuals and the sd-equivalent of their
   90th-percentile gap ((q90 − median) / 1.2816), so series whose normal days include
   recurring highs get a wider band; floored at `rel_scale_floor` × |expected|.

A point is an anomaly when delta = observed − expected exceeds ALL of: `k` × scale, the absolute
floor (`abs_floor`, dollars or seconds) and the percent floor (`pct_floor` × |expected|), so small
noise never pages anyone. History is used as observed (flagged points included): the medians
absorb a few spikes, and a lasting level shift becomes the new normal instead of paging daily.
Points marked incomplete (billing lag) are never evaluated and never used as history.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from lakecrew.core.errors import UsageError
from lakecrew.core.finops import Anomaly

Direction = Literal["up", "down", "both"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DetectorConfig:
    """Knobs of the detector. Defaults suit daily cost in dollars."""

    k: float = 4.0
    abs_floor: float = 25.0
    pct_floor: float = 1.0
    window: int = 56
    min_history: int = 21
    period: int = 7
    direction: Direction = "up"
    rel_scale_floor: float = 0.02

    def __post_init__(self) -> None:
        if self.k <= 0 or self.abs_floor < 0 or self.pct_floor < 0:
            raise UsageError(
                f"detector thresholds must be positive (k={self.k}, abs_floor={self.abs_floor}, "
                f"pct_floor={self.pct_floor})",
                fix="use k > 0 and floors >= 0",
            )
        if self.min_history < 3 or self.window < self.min_history:
            raise UsageError(
                f"detector window={self.window} must be >= min_history={self.min_history} >= 3",
                fix="widen the window or lower min_history",
            )
        if self.period < 0 or self.period == 1:
            raise UsageError(f"period={self.period} must be 0 (none) or >= 2")
        if self.period and self.window < 2 * self.period:
            # fewer than two cycles of history: no pair a period apart for the trend, and each
            # phase's seasonal median would be one point
            raise UsageError(
                f"period={self.period} needs a window of at least two periods "
                f"({2 * self.period} points); the window is {self.window}",
                fix=f"pass --window {2 * self.period} (or more), or --period 0",
            )


COST_CONFIG = DetectorConfig()
"""Daily cost per (workspace, project, SKU family): weekly seasonality, three weeks of history
before the first verdict, and floors of $25 and +100 % (the day cost at least twice the
expected): daily cost of job-heavy series swings ±50 % on its own."""

DURATION_CONFIG = DetectorConfig(
    k=4.0, abs_floor=300.0, pct_floor=0.5, window=30, min_history=8, period=0
)
"""Job run durations (seconds) per job: no seasonality, 5 minutes and 50 % floors."""


@dataclass(frozen=True)
class _Fit:
    expected: float
    scale: float


def _theil_sen(x: FloatArray, y: FloatArray, period: int) -> float:
    """Median of pairwise slopes; with a period, only pairs a whole number of periods apart."""
    dx = x[None, :] - x[:, None]
    dy = y[None, :] - y[:, None]
    mask = dx > 0
    if period:
        mask &= np.mod(dx, period) == 0
    if not mask.any():
        return 0.0
    return float(np.median(dy[mask] / dx[mask]))


def _fit(x: FloatArray, y: FloatArray, t: float, period: int) -> _Fit:
    slope = _theil_sen(x, y, period)
    detrended = y - slope * x
    season = np.zeros_like(y)
    season_t = 0.0
    if period:
        phase = np.mod(x, period)
        centre = float(np.median(detrended))
        for p in np.unique(phase):
            sel = phase == p
            season[sel] = float(np.median(detrended[sel])) - centre
        at_t = phase == (t % period)
        season_t = float(season[at_t][0]) if at_t.any() else 0.0
    level = float(np.median(detrended - season))
    fitted = level + slope * x + season
    resid = y - fitted
    centre_r = float(np.median(resid))
    mad = 1.4826 * float(np.median(np.abs(resid - centre_r)))
    upper = (float(np.quantile(resid, 0.9)) - centre_r) / 1.2816  # sd-equivalent of the q90 gap
    return _Fit(expected=level + slope * t + season_t, scale=max(mad, upper))


def _is_anomalous(delta: float, expected: float, scale: float, cfg: DetectorConfig) -> bool:
    if cfg.direction == "up" and delta <= 0:
        return False
    if cfg.direction == "down" and delta >= 0:
        return False
    size = abs(delta)
    pct = size / abs(expected) if expected else math.inf
    return size > cfg.k * scale and size >= cfg.abs_floor and pct >= cfg.pct_floor


def _fit_row(x: FloatArray, clean: FloatArray, i: int, config: DetectorConfig) -> _Fit | None:
    """The fit of point i from its history (None with too little history): the reference path,
    used where the history window is not whole (series start, missing points)."""
    lo = x[i] - config.window
    hist = (x >= lo) & (x < x[i]) & ~np.isnan(clean)
    if int(hist.sum()) < config.min_history:
        return None
    return _fit(x[hist], clean[hist], float(x[i]), config.period)


def _fit_point(x: FloatArray, clean: FloatArray, i: int, config: DetectorConfig) -> _Fit | None:
    """`_fit_row` for a point whose window is not whole. A short history that is still evenly
    spaced up to the point (a series' first weeks) is fitted as one row of `_fit_whole` (the
    same values, a fraction of the numpy calls); others by `_fit`."""
    hist = (x >= x[i] - config.window) & (x < x[i]) & ~np.isnan(clean)
    n = int(hist.sum())
    if n < config.min_history:
        return None
    hx, hy = x[hist], clean[hist]
    if hx[-1] == x[i] - 1 and bool(np.all(np.diff(hx) == 1)):
        expected, scale = _fit_whole(hx[None, :], hy[None, :], x[i : i + 1], config.period)
        return _Fit(expected=float(expected[0]), scale=float(scale[0]))
    return _fit(hx, hy, float(x[i]), config.period)


def _pair_slopes(y: FloatArray, period: int) -> FloatArray:
    """The Theil–Sen pair slopes of whole, evenly spaced windows (rows of y, one day apart): for
    each lag (every multiple of `period`, or every lag without one), (y[j + lag] − y[j]) / lag —
    the values `_theil_sen` takes, built from contiguous slices into one C-ordered array."""
    window = y.shape[1]
    lags = range(period, window, period) if period else range(1, window)
    out = np.empty((len(y), sum(window - lag for lag in lags)))
    at = 0
    for lag in lags:
        block = out[:, at : at + window - lag]
        np.subtract(y[:, lag:], y[:, :-lag], out=block)
        block /= lag
        at += window - lag
    return out


CHUNK = 4096
"""Rows fitted at once by the vectorised path (bounds memory: rows × pairs floats)."""

WORKERS = 2
"""Threads fitting chunks side by side: numpy's sort releases the GIL, so chunks run in parallel."""


def _median_sorted(s: FloatArray) -> FloatArray:
    """np.median along axis 1 of rows already sorted along axis 1 (bitwise the same values)."""
    n = s.shape[1]
    mid = n // 2
    if n % 2:
        return s[:, mid].copy()
    middle: FloatArray = (s[:, mid - 1] + s[:, mid]) / 2  # np.mean of the two: sum, then / 2
    return middle


def _quantile_sorted(s: FloatArray, q: float) -> FloatArray:
    """np.quantile(..., q, axis=1) (linear method) of rows already sorted along axis 1."""
    pos = q * (s.shape[1] - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, s.shape[1] - 1)
    t = pos - lo
    a, b = s[:, lo], s[:, hi]
    diff = b - a
    out: FloatArray = b - diff * (1 - t) if t >= 0.5 else a + diff * t  # numpy's _lerp rounding
    return out


def _median(a: FloatArray) -> FloatArray:
    """Median along axis 1, sorting `a` in place (pass a scratch array). Sorting short rows is
    several times faster than np.median's partition (numpy sorts float64 with SIMD), and gives
    the same values."""
    a.sort(axis=1)
    return _median_sorted(a)


def _fit_whole(x: FloatArray, y: FloatArray, t: FloatArray, period: int) -> tuple[FloatArray, ...]:
    """`_fit` on many whole windows at once: x, y are (rows, window) with x one apart along each
    row, t is (rows,).

    The same operations as `_fit`, in the same order, along axis 1, so the expected values and
    scales are those of the reference path (order statistics taken from sorted rows).
    """
    window = x.shape[1]
    slopes = _pair_slopes(y, period)
    slope = _median(slopes) if slopes.shape[1] else np.zeros(len(y))
    del slopes
    detrended = y - slope[:, None] * x
    season = np.zeros_like(y)
    season_t = np.zeros(len(y))
    if period:
        centre = _median(detrended.copy())
        cycles, rest = divmod(window, period)
        if rest == 0:  # every phase has `cycles` points: all weekday medians in one sort
            by_phase = detrended.reshape(len(y), cycles, period).transpose(0, 2, 1)
            med = _median(by_phase.reshape(-1, cycles)).reshape(len(y), period) - centre[:, None]
            season = np.tile(med, (1, cycles))
            season_t = med[:, 0]  # t = x[:, 0] + window: the phase of the first column
        else:
            phase_t = np.mod(t, period)
            for b in range(min(period, window)):
                med_b = _median(np.ascontiguousarray(detrended[:, b::period])) - centre
                season[:, b::period] = med_b[:, None]
                at_t = np.mod(x[:, b], period) == phase_t
                season_t = np.where(at_t, med_b, season_t)
    level = _median(detrended - season)
    fitted = level[:, None] + slope[:, None] * x + season
    resid = y - fitted
    resid.sort(axis=1)
    centre_r = _median_sorted(resid)
    mad = 1.4826 * _median(np.abs(resid - centre_r[:, None]))
    upper = (_quantile_sorted(resid, 0.9) - centre_r) / 1.2816
    return level + slope * t + season_t, np.maximum(mad, upper)


def _flags(
    delta: FloatArray, expected: FloatArray, scale: FloatArray, cfg: DetectorConfig
) -> npt.NDArray[np.bool_]:
    """`_is_anomalous` on arrays."""
    size = np.abs(delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(expected != 0, size / np.abs(expected), np.inf)
    hit = (size > cfg.k * scale) & (size >= cfg.abs_floor) & (pct >= cfg.pct_floor)
    if cfg.direction == "up":
        hit &= delta > 0
    elif cfg.direction == "down":
        hit &= delta < 0
    return hit


def detect_positions(
    positions: Sequence[float],
    values: Sequence[float],
    *,
    evaluate: Sequence[bool] | None = None,
    targets: Sequence[bool] | None = None,
    config: DetectorConfig = COST_CONFIG,
) -> list[tuple[int, float, float, float]]:
    """Detect over one series sorted by position; NaN values are missing.

    `positions` are day ordinals for daily series (so weekday = position mod 7) or 0..n-1 for
    irregular ones. Returns (index, expected, delta, scale) of the anomalous points.
    `targets` restricts which points are judged (the others stay history); `evaluate` False
    marks points that are neither judged nor history.

    Points whose whole `window` of history is present and evenly spaced are fitted together in
    numpy (chunks of CHUNK rows); the others (a series' first days, gaps) one by one.
    """
    x = np.asarray(positions, dtype=np.float64)
    clean = np.asarray(values, dtype=np.float64).copy()
    mask = np.ones(len(x), dtype=bool) if evaluate is None else np.asarray(evaluate, dtype=bool)
    clean[~mask] = np.nan  # incomplete points are never history either
    judged = mask if targets is None else mask & np.asarray(targets, dtype=bool)
    todo = np.flatnonzero(judged & ~np.isnan(clean))
    w = config.window
    whole = np.zeros(len(x), dtype=bool)
    if len(x) > w:
        hx = np.lib.stride_tricks.sliding_window_view(x, w)[:-1]  # rows i - w .. i - 1
        hy = np.lib.stride_tricks.sliding_window_view(clean, w)[:-1]
        # point i is whole when its w history points are present and every step from the first
        # of them to i is exactly 1 (counted with cumulative sums, not per-window scans)
        present = np.concatenate(([0], np.cumsum(~np.isnan(clean))))
        unit = np.concatenate(([0], np.cumsum(np.diff(x) == 1)))
        whole[w:] = (present[w:-1] - present[: -w - 1] == w) & (unit[w:] - unit[:-w] == w)
    found: list[tuple[int, float, float, float]] = []
    for i in todo[~whole[todo]]:
        fit = _fit_point(x, clean, int(i), config)
        if fit is None:
            continue
        scale = max(fit.scale, config.rel_scale_floor * abs(fit.expected), 1e-9)
        delta = float(clean[i] - fit.expected)
        if _is_anomalous(delta, fit.expected, scale, config):
            found.append((int(i), fit.expected, delta, scale))
    rows = todo[whole[todo]]

    def chunk(idx: npt.NDArray[np.intp]) -> list[tuple[int, float, float, float]]:
        lo, hi = int(idx[0]) - w, int(idx[-1]) - w + 1
        # consecutive rows: views of the sliding windows; otherwise copies of the rows
        rows_of = slice(lo, hi) if hi - lo == len(idx) else idx - w
        expected, fit_scale = _fit_whole(hx[rows_of], hy[rows_of], x[idx], config.period)
        scales = np.maximum(np.maximum(fit_scale, config.rel_scale_floor * np.abs(expected)), 1e-9)
        deltas = clean[idx] - expected
        return [
            (int(idx[j]), float(expected[j]), float(deltas[j]), float(scales[j]))
            for j in np.flatnonzero(_flags(deltas, expected, scales, config))
        ]

    chunks = [rows[start : start + CHUNK] for start in range(0, len(rows), CHUNK)]
    if len(chunks) > 1:
        with ThreadPoolExecutor(WORKERS) as pool:
            for part in pool.map(chunk, chunks):
                found.extend(part)
    else:
        for idx in chunks:
            found.extend(chunk(idx))
    return sorted(found)


def _anomaly(
    key: tuple[str, ...],
    at: date | datetime,
    *,
    observed: float,
    expected: float,
    delta: float,
    scale: float,
) -> Anomaly:
    pct = abs(delta) / abs(expected) if expected else math.inf
    return Anomaly(
        series=key,
        at=at,
        expected=expected,
        observed=observed,
        delta=delta,
        pct=math.copysign(pct, delta) if pct != math.inf else math.inf,
        score=delta / scale,
    )


def detect_daily(
    values: Mapping[date, float],
    *,
    key: tuple[str, ...] = (),
    incomplete: Collection[date] = (),
    fill_missing: float | None = 0.0,
    since: date | None = None,
    config: DetectorConfig = COST_CONFIG,
) -> list[Anomaly]:
    """Detect anomalies in one daily series (weekly seasonality when `config.period` is 7).

    With `since`, only days from it on are judged (earlier days are history only: the same
    flags for those days as without it, fewer fits).

    Days between the first and last date that are absent count as `fill_missing` (0 for cost:
    no usage means no spend) or as missing when it is None. Days in `incomplete` (the billing-lag
    tail) are skipped.
    """
    if not values:
        return []
    first, last = min(values), max(values)
    days = [date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)]
    missing = math.nan if fill_missing is None else fill_missing
    obs = [float(values[d]) if d in values else missing for d in days]
    skip = set(incomplete)
    hits = detect_positions(
        [float(d.toordinal()) for d in days],
        obs,
        evaluate=[d not in skip for d in days],
        targets=None if since is None else [d >= since for d in days],
        config=config,
    )
    return [
        _anomaly(key, days[i], observed=obs[i], expected=exp, delta=delta, scale=scale)
        for i, exp, delta, scale in hits
    ]


def detect_sequence(
    points: Sequence[tuple[datetime, float]],
    *,
    key: tuple[str, ...] = (),
    config: DetectorConfig = DURATION_CONFIG,
) -> list[Anomaly]:
    """Detect anomalies in an irregular series (e.g. job run durations), ordered by time."""
    ordered = sorted(points, key=lambda p: p[0])
    hits = detect_positions(
        [float(i) for i in range(len(ordered))], [v for _, v in ordered], config=config
    )
    return [
        _anomaly(key, ordered[i][0], observed=ordered[i][1], expected=exp, delta=delta, scale=scale)
        for i, exp, delta, scale in hits
    ]


def detect_many_daily(
    series: Mapping[tuple[str, ...], Mapping[date, float]],
    *,
    incomplete: Collection[date] = (),
    fill_missing: float | None = 0.0,
    config: DetectorConfig = COST_CONFIG,
) -> list[Anomaly]:
    """`detect_daily` over many series; anomalies sorted by date, then by size (largest first)."""
    found: list[Anomaly] = []
    for key in sorted(series):
        found.extend(
            detect_daily(
                series[key],
                key=key,
                incomplete=incomplete,
                fill_missing=fill_missing,
                config=config,
            )
        )
    return sorted(found, key=lambda a: (a.at, -abs(a.delta)))
