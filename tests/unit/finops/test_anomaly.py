"""The robust detector on synthetic series: weekly seasonality + trend + noise + injected spikes."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from lakecrew.core.errors import UsageError
from lakecrew.services.finops.anomaly import (
    COST_CONFIG,
    DURATION_CONFIG,
    DetectorConfig,
    detect_daily,
    detect_many_daily,
    detect_positions,
    detect_sequence,
)

START = date(2026, 1, 5)  # a Monday


def seasonal_series(days: int, seed: int, base: float = 400.0) -> dict[date, float]:
    """Weekday/weekend pattern, a 1.5 $/day trend and Gaussian noise (sd 4 % of level)."""
    rng = np.random.default_rng(seed)
    out: dict[date, float] = {}
    for i in range(days):
        d = START + timedelta(days=i)
        weekly = 0.35 if d.weekday() >= 5 else 1.0
        level = (base + 1.5 * i) * weekly
        out[d] = float(max(level + rng.normal(0.0, 0.04 * level), 0.0))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_no_false_positive_on_seasonal_noise_with_trend(seed: int) -> None:
    assert detect_daily(seasonal_series(140, seed), key=("ws", "p", "JOBS")) == []


@pytest.mark.parametrize("seed", range(8))
def test_every_injected_spike_is_found_and_nothing_else(seed: int) -> None:
    series = seasonal_series(140, seed)
    spikes = {
        START + timedelta(days=30): 2.5,  # a Wednesday
        START + timedelta(days=47): 2.6,  # a Saturday (low weekend level)
        START + timedelta(days=48): 2.6,  # two days in a row: the second still flagged
        START + timedelta(days=90): 3.0,
        START + timedelta(days=133): 2.6,
    }
    for d, factor in spikes.items():
        series[d] *= factor
    found = detect_daily(series, key=("ws", "p", "JOBS"))
    assert {a.at for a in found} == set(spikes)
    for a in found:
        assert a.observed == pytest.approx(series[a.at])
        assert a.delta == pytest.approx(a.observed - a.expected)
        assert a.pct >= 1.0 and a.score > 4
        assert a.series == ("ws", "p", "JOBS")


def test_since_judges_later_days_only_with_earlier_days_as_history() -> None:
    series = seasonal_series(140, 3)
    for offset in (30, 90, 133):
        series[START + timedelta(days=offset)] *= 3.0
    everything = detect_daily(series)
    since = START + timedelta(days=60)
    later = detect_daily(series, since=since)
    assert [a.at for a in later] == [START + timedelta(days=90), START + timedelta(days=133)]
    assert later == [a for a in everything if a.at >= since]  # same fits, same flags


def test_weekend_drop_to_zero_is_expected_not_a_spike_on_monday() -> None:
    series = {
        START + timedelta(days=i): (0.0 if (START + timedelta(days=i)).weekday() >= 5 else 300.0)
        for i in range(70)
    }
    assert detect_daily(series) == []


def test_dollar_floor_silences_small_series() -> None:
    series = {d: v / 100 for d, v in seasonal_series(90, 1).items()}  # ~ $4/day
    series[START + timedelta(days=60)] *= 5  # huge in %, tiny in dollars
    assert detect_daily(series) == []
    loose = DetectorConfig(abs_floor=1.0)
    assert [a.at for a in detect_daily(series, config=loose)] == [START + timedelta(days=60)]


def test_percent_floor_silences_small_relative_moves_on_big_series() -> None:
    flat = {START + timedelta(days=i): 10_000.0 + (i % 3) for i in range(60)}
    flat[START + timedelta(days=50)] += 900.0  # z huge, $900 > floor, but only 9 %
    assert detect_daily(flat) == []
    assert len(detect_daily(flat, config=DetectorConfig(pct_floor=0.05))) == 1


def test_incomplete_last_day_is_never_evaluated_nor_a_drop() -> None:
    series = seasonal_series(60, 3)
    last = max(series)
    series[last] = 0.0  # partial day: billing lag
    both = DetectorConfig(direction="both")
    assert [a.at for a in detect_daily(series, config=both)] == [last]  # would page...
    assert detect_daily(series, incomplete={last}, config=both) == []  # ...but is skipped
    series[last] = 99_999.0
    assert detect_daily(series, incomplete={last}) == []


def test_drops_only_with_direction_down_or_both() -> None:
    series = seasonal_series(60, 4)
    dip = START + timedelta(days=45)
    series[dip] = 0.0 if dip.weekday() < 5 else series[dip]
    assert dip.weekday() < 5
    assert detect_daily(series) == []
    found = detect_daily(series, config=DetectorConfig(direction="down"))
    assert [a.at for a in found] == [dip] and found[0].delta < 0 and found[0].pct < 0


def test_too_little_history_flags_nothing() -> None:
    series = seasonal_series(13, 5)
    series[max(series)] *= 10
    assert detect_daily(series) == []


def test_missing_days_count_as_zero_cost_or_as_missing() -> None:
    series = {START + timedelta(days=i): 500.0 + (i % 2) for i in range(40) if i != 30}
    as_zero = detect_daily(series, config=DetectorConfig(direction="both"))
    assert [a.at for a in as_zero] == [START + timedelta(days=30)]
    assert detect_daily(series, fill_missing=None, config=DetectorConfig(direction="both")) == []


def test_many_series_sorted_by_date_then_size() -> None:
    a = seasonal_series(80, 6)
    b = seasonal_series(80, 7, base=2000.0)
    day = START + timedelta(days=70)
    a[day] *= 3
    b[day] *= 3
    found = detect_many_daily({("a",): a, ("b",): b})
    assert [x.series for x in found] == [("b",), ("a",)]


def test_job_durations_irregular_series() -> None:
    rng = np.random.default_rng(11)
    t0 = datetime(2026, 3, 1, 2, tzinfo=UTC)
    runs = [(t0 + timedelta(hours=6 * i), 1200.0 + 5 * i + rng.normal(0, 40)) for i in range(60)]
    runs[40] = (runs[40][0], runs[40][1] * 3)
    found = detect_sequence(runs, key=("ws1", "job-7"), config=DURATION_CONFIG)
    assert [a.at for a in found] == [runs[40][0]]
    assert found[0].series == ("ws1", "job-7")
    assert found[0].as_dict()["at"] == runs[40][0].isoformat()


def test_zero_expected_gives_infinite_pct_and_json_null() -> None:
    series = {START + timedelta(days=i): 0.0 for i in range(30)}
    series[START + timedelta(days=29)] = 500.0
    (a,) = detect_daily(series)
    assert math.isinf(a.pct) and a.as_dict()["pct"] is None


@pytest.mark.parametrize(
    "kwargs", [{"k": 0}, {"abs_floor": -1}, {"min_history": 2}, {"window": 5}, {"period": 1}]
)
def test_bad_config_is_a_usage_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        DetectorConfig(**kwargs)  # type: ignore[arg-type]


def _one_by_one(
    positions: list[float], values: np.ndarray, evaluate: list[bool], config: DetectorConfig
) -> list[tuple[int, float, float, float]]:
    """The reference path: every judged point fitted alone from its history."""
    from lakecrew.services.finops.anomaly import _fit_row, _is_anomalous

    x = np.asarray(positions)
    clean = values.copy()
    clean[~np.asarray(evaluate)] = np.nan
    slow = []
    for i in range(len(x)):
        if not evaluate[i] or np.isnan(clean[i]):
            continue
        fit = _fit_row(x, clean, i, config)
        if fit is None:
            continue
        scale = max(fit.scale, config.rel_scale_floor * abs(fit.expected), 1e-9)
        delta = float(clean[i] - fit.expected)
        if _is_anomalous(delta, fit.expected, scale, config):
            slow.append((i, fit.expected, delta, scale))
    return slow


@pytest.mark.parametrize(
    "config",
    [
        COST_CONFIG,
        DetectorConfig(abs_floor=0, pct_floor=0, direction="both"),
        DetectorConfig(abs_floor=0, pct_floor=0, window=30, min_history=8, period=0),
    ],
    ids=["cost", "no-floors-both", "no-season"],
)
def test_vectorised_fits_flag_what_the_one_by_one_fit_flags(config: DetectorConfig) -> None:
    """Whole windows are fitted together in numpy; the reference fits each point alone."""
    rng = np.random.default_rng(11)
    n = 700
    t = np.arange(n)
    values = 100 + 0.05 * t + 20 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 5, n)
    values[rng.choice(n, 20, replace=False)] += rng.uniform(40, 300, 20)
    values[rng.choice(n, 6, replace=False)] = np.nan  # gaps: those windows take the slow path
    positions = [float(739_000 + i) for i in range(n)]
    evaluate = [i % 97 != 5 for i in range(n)]
    fast = detect_positions(positions, list(values), evaluate=evaluate, config=config)
    slow = _one_by_one(positions, values, evaluate, config)
    assert [f[0] for f in fast] == [s[0] for s in slow] and len(slow) >= 5
    assert np.allclose([f[1:] for f in fast], [s[1:] for s in slow], rtol=1e-12, atol=1e-9)


def test_uneven_steps_are_fitted_as_the_one_by_one_fit_fits_them() -> None:
    """A window spanning window − 1 but with one step of 0.5 and one of 1.5 is not whole (the
    vectorised fit assumes steps of exactly 1): the reference path fits it. With k = 0.1 nearly
    every point is flagged, so nearly every fit is compared."""
    config = DetectorConfig(k=0.1, abs_floor=0, pct_floor=0, direction="both")
    rng = np.random.default_rng(5)
    n = 200
    steps = np.ones(n)
    steps[[80, 120]] = 0.5, 1.5
    positions = list(np.cumsum(steps))
    values = 100 + 20 * np.sin(2 * np.pi * np.arange(n) / 7) + rng.normal(0, 5, n)
    fast = detect_positions(positions, list(values), config=config)
    slow = _one_by_one(positions, values, [True] * n, config)
    assert [f[0] for f in fast] == [s[0] for s in slow] and len(slow) >= 150
    assert np.allclose([f[1:] for f in fast], [s[1:] for s in slow], rtol=1e-12, atol=1e-9)
