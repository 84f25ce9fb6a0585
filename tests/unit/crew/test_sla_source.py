"""SLA signals: success below target, p95 regression against the job's own baseline, no verdict
on too few runs (pure functions of the SLA source)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lakecrew.core.pack import Sla
from lakecrew.ports.clock import FixedClock
from lakecrew.services.crew.sla_source import Run, SlaSource, p95, success_signal

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def _runs(n: int, *, failed: int = 0, seconds: float = 600, days_ago: float = 1) -> list[Run]:
    out = []
    for i in range(n):
        end = NOW - timedelta(days=days_ago, minutes=i)
        result = "FAILED" if i < failed else "SUCCEEDED"
        out.append(Run("42", "nightly", result, end - timedelta(seconds=seconds), end))
    return out


def test_p95_is_the_nearest_rank() -> None:
    assert p95(list(range(1, 101))) == 95
    assert p95([5.0]) == 5.0


def test_success_signal_only_below_target() -> None:
    assert success_signal("x", 1000, 990, 99.0, 30) is None
    sig = success_signal("x", 1000, 986, 99.0, 30)
    assert sig is not None and sig["success_percent"] == 98.6 and sig["failed_runs"] == 14


def test_job_signals_success_and_regression() -> None:
    src = SlaSource(None, FixedClock(NOW), Sla())  # type: ignore[arg-type]
    base = _runs(20, seconds=600, days_ago=10)
    recent = _runs(10, failed=1, seconds=1200, days_ago=1)
    signals = src._job_signals(base + recent, 99.0, NOW)
    assert signals is not None
    codes = {s["code"]: s for s in signals}
    assert codes["sla.job_success_rate"]["failed_runs"] == 1
    reg = codes["sla.job_duration_regression"]
    assert reg["ratio"] == 2.0 and reg["baseline_p95_seconds"] == 600


def test_too_few_runs_gives_no_verdict_and_steady_jobs_no_signal() -> None:
    src = SlaSource(None, FixedClock(NOW), Sla())  # type: ignore[arg-type]
    assert src._job_signals(_runs(5, failed=5), 99.0, NOW) is None
    steady = _runs(20, seconds=600, days_ago=10) + _runs(10, seconds=650)
    assert src._job_signals(steady, 99.0, NOW) == []
