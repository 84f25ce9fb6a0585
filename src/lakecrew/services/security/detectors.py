"""The security detectors (SOP 1.4.4): pure functions over aggregated audit rows.

Each detector takes rows already aggregated by the monitor's SQL (see `monitor.py`) and the pack's
thresholds, and returns `Incident`s for the days inside the detection window. "Usual" is always
the principal's own history before the day (or hour) judged, over `baseline_days`:

- failed access: failures (401/403) of one principal in one hour ≥ max(min_failures_per_hour,
  median + mad_k · 1.4826 · MAD of the principal's earlier hourly failure counts);
- secret reads: per principal × scope × day, three indicators — the principal never read the
  scope before (new reader), reads outside the principal's usual hours (business hours when it
  has no history), a volume spike over the robust baseline; flagged at `min_indicators`;
- downloads: per principal × day, one result ≥ max_result_bytes, the day's bytes ≥
  max_daily_bytes, or a download count spike over the robust baseline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from lakecrew.core.pack import Downloads, FailedAccess, SecretReads

FAILED_ACCESS = "security.failed_access"
SECRET_READS = "security.secret_access_anomaly"
DOWNLOADS = "security.large_download"
MAD_SCALE = 1.4826  # MAD → standard deviation of a normal distribution


@dataclass(frozen=True)
class Incident:
    """One principal's suspicious activity on one day (or hour), with why it was flagged."""

    code: str
    workspace_id: str
    principal: str
    first_at: datetime
    last_at: datetime
    events: int
    reasons: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def day(self) -> date:
        return self.first_at.date()


def robust_limit(history: Sequence[float], floor: float, k: float) -> float:
    """max(floor, median + k · 1.4826 · MAD(history)); `floor` alone without history."""
    if not history:
        return floor
    mid = median(history)
    mad = median(abs(x - mid) for x in history)
    return max(floor, mid + k * MAD_SCALE * mad)


def _earlier(history: Iterable[tuple[datetime, float]], before: datetime, days: int) -> list[float]:
    start = before - timedelta(days=days)
    return [v for t, v in history if start <= t < before]


def by_principal(
    rows: Sequence[Mapping[str, Any]],
) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """Rows grouped by (workspace_id, principal), each group in the rows' order."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(str(r["workspace_id"]), str(r["principal"]))].append(r)
    return groups


def failed_access(
    rows: Sequence[Mapping[str, Any]], cfg: FailedAccess, since: datetime, baseline_days: int
) -> list[Incident]:
    """Rows: workspace_id, principal, hour, failures, first_at, last_at (one per hour)."""
    out: list[Incident] = []
    for (ws, who), hours in by_principal(rows).items():
        series = [(h["hour"], float(h["failures"])) for h in hours]
        for h in hours:
            if h["hour"] < since:
                continue
            limit = robust_limit(
                _earlier(series, h["hour"], baseline_days), cfg.min_failures_per_hour, cfg.mad_k
            )
            n = int(h["failures"])
            if n >= limit:
                out.append(
                    Incident(
                        FAILED_ACCESS,
                        ws,
                        who,
                        h["first_at"],
                        h["last_at"],
                        n,
                        (f"{n} failed requests in one hour (limit {limit:g})",),
                        {"status_codes": list(cfg.status_codes)},
                    )
                )
    return out


def _near(hour: int, usual: set[int], tolerance: int) -> bool:
    return any(min(abs(hour - u), 24 - abs(hour - u)) <= tolerance for u in usual)


def secret_reads(
    rows: Sequence[Mapping[str, Any]], cfg: SecretReads, since: datetime, baseline_days: int
) -> list[Incident]:
    """Rows: workspace_id, principal, scope, day (date), hour (int), reads, first_at, last_at."""
    out: list[Incident] = []
    for (ws, who), items in by_principal(rows).items():
        days: dict[tuple[str, date], list[Mapping[str, Any]]] = defaultdict(list)
        for r in items:
            days[(str(r["scope"]), r["day"])].append(r)
        for (scope, day), slots in sorted(days.items(), key=lambda kv: kv[0][1]):
            first = min(s["first_at"] for s in slots)
            if first < since:
                continue
            found = _secret_indicators(
                items, scope, day, slots, cfg=cfg, baseline_days=baseline_days
            )
            if len(found) >= cfg.min_indicators:
                out.append(
                    Incident(
                        SECRET_READS,
                        ws,
                        who,
                        first,
                        max(s["last_at"] for s in slots),
                        sum(int(s["reads"]) for s in slots),
                        tuple(found),
                        {"scope": scope},
                    )
                )
    return out


def _secret_indicators(
    items: Sequence[Mapping[str, Any]],
    scope: str,
    day: date,
    slots: Sequence[Mapping[str, Any]],
    *,
    cfg: SecretReads,
    baseline_days: int,
) -> list[str]:
    start = day - timedelta(days=baseline_days)
    prior = [r for r in items if start <= r["day"] < day]
    found: list[str] = []
    if not any(r["scope"] == scope for r in prior):
        found.append("first read of this scope by the principal")
    usual = {int(r["hour"]) for r in prior}
    lo, hi = cfg.business_hours
    odd = [
        int(s["hour"])
        for s in slots
        if (usual and not _near(int(s["hour"]), usual, cfg.hour_tolerance))
        or (not usual and not lo <= int(s["hour"]) < hi)
    ]
    if odd:
        found.append(f"reads outside the principal's usual hours (UTC hours {sorted(set(odd))})")
    per_day: dict[date, float] = defaultdict(float)
    for r in prior:
        if r["scope"] == scope:
            per_day[r["day"]] += float(r["reads"])
    n = sum(int(s["reads"]) for s in slots)
    limit = robust_limit(list(per_day.values()), cfg.min_reads_per_day, cfg.mad_k)
    if n > limit:
        found.append(f"{n} reads in a day (limit {limit:g})")
    return found


def downloads(
    rows: Sequence[Mapping[str, Any]], cfg: Downloads, since: datetime, baseline_days: int
) -> list[Incident]:
    """Rows: workspace_id, principal, day, downloads, total_bytes, max_bytes, first_at, last_at."""
    out: list[Incident] = []
    for (ws, who), items in by_principal(rows).items():
        series = [(r["first_at"], float(r["downloads"])) for r in items]
        for r in items:
            if r["first_at"] < since:
                continue
            reasons = _download_reasons(r, series, cfg, baseline_days)
            if reasons:
                out.append(
                    Incident(
                        DOWNLOADS,
                        ws,
                        who,
                        r["first_at"],
                        r["last_at"],
                        int(r["downloads"]),
                        tuple(reasons),
                        {"total_bytes": int(r["total_bytes"] or 0)},
                    )
                )
    return out


def _download_reasons(
    r: Mapping[str, Any],
    series: Sequence[tuple[datetime, float]],
    cfg: Downloads,
    baseline_days: int,
) -> list[str]:
    reasons: list[str] = []
    biggest, total, n = int(r["max_bytes"] or 0), int(r["total_bytes"] or 0), int(r["downloads"])
    if biggest >= cfg.max_result_bytes:
        reasons.append(f"a result of {biggest} bytes (limit {cfg.max_result_bytes})")
    if total >= cfg.max_daily_bytes:
        reasons.append(f"{total} bytes downloaded in a day (limit {cfg.max_daily_bytes})")
    day_start = datetime.combine(r["day"], datetime.min.time(), tzinfo=r["first_at"].tzinfo)
    limit = robust_limit(
        _earlier(series, day_start, baseline_days), cfg.min_downloads_per_day, cfg.mad_k
    )
    if n > limit:
        reasons.append(f"{n} downloads in a day (limit {limit:g})")
    return reasons
