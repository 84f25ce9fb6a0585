"""The SLA section of the weekly report (SOP 1.6.2, 1.8.1, 1.8.2): every service level with its
measure, its target and a verdict — not only the breaches the `sla.*` rules turn into findings.

    section = sla_section(SlaSource(sql, FixedClock(as_of), pack.sla, freshness), inventory)

- environments: finished runs over the pack's `window_days`, success % against the
  environment's target (`no_target` where the pack sets none, `too_few_runs` under `min_runs`);
- jobs: per workspace and job, the same success verdict and the p95 duration of the last
  `recent_days` against the job's own p95 over the `baseline_days` before (`no_baseline` with
  fewer than 5 successful runs on either side);
- freshness: each gold table with a declared `freshness_hours`, its last write and age
  (`never_written` when the lineage has no write);
- data_quality: passed / checked rows per table against `dq_pass_percent`.

The verdicts use the same thresholds as the rules (sla_source.py), so a `breached` line here
is a finding in `lakecrew findings` after a sweep at the same time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from lakecrew.services.crew.sla_source import DQ_SQL, ENV_SQL, Run, SlaSource, p95
from lakecrew.services.crew.snapshot import WorkspaceInfo


def _verdict(pct: float, target: float | None, runs: int, min_runs: int) -> str:
    if target is None:
        return "no_target"
    if runs < min_runs:
        return "too_few_runs"
    return "met" if pct >= target else "breached"


def _pct(ok: int, runs: int) -> float | None:
    return round(100.0 * ok / runs, 2) if runs else None


def sla_section(source: SlaSource, inventory: Sequence[WorkspaceInfo]) -> dict[str, Any]:
    """The SLA section as plain data (JSON-ready; percentages 0–100)."""
    s = source.sla
    now = source.clock.now()
    section: dict[str, Any] = {
        "as_of": now.isoformat(),
        "window_days": s.window_days,
        "environments": _environments(source, inventory, now),
        "jobs": [j for info in inventory for j in _jobs(source, info, now)],
        "freshness": _freshness(source, now),
        "data_quality": _quality(source, now),
    }
    section["breaches"] = sum(
        1
        for part in ("environments", "jobs", "freshness", "data_quality")
        for row in section[part]
        if "breached" in (row.get("status"), row.get("duration_status"))
        or row.get("status") == "never_written"
    )
    return section


def _environments(
    source: SlaSource, inventory: Sequence[WorkspaceInfo], now: datetime
) -> list[dict[str, Any]]:
    s = source.sla
    env_of = {w.workspace_id: w.environment for w in inventory if w.workspace_id}
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    window = {"since": now - timedelta(days=s.window_days), "until": now}
    for row in source.fetch(ENV_SQL, window):
        env = env_of.get(str(row["workspace_id"]))
        if env is not None:
            totals[env][0] += int(row["runs"])
            totals[env][1] += int(row["succeeded"])
    out = []
    for env in sorted({w.environment for w in inventory}):
        runs, ok = totals.get(env, [0, 0])
        target = s.job_success_percent.get(env)
        pct = _pct(ok, runs)
        out.append(
            {
                "environment": env,
                "finished_runs": runs,
                "failed_runs": runs - ok,
                "success_pct": pct,
                "target_pct": target,
                "status": _verdict(pct or 0.0, target, runs, s.min_runs),
            }
        )
    return out


def _jobs(source: SlaSource, info: WorkspaceInfo, now: datetime) -> list[dict[str, Any]]:
    if not info.workspace_id:
        return []
    s = source.sla
    span = max(s.window_days, s.recent_days + s.baseline_days)
    per_job: dict[str, list[Run]] = defaultdict(list)
    for run in source.runs(info.workspace_id, now - timedelta(days=span), now):
        per_job[run.job_id].append(run)
    target = s.job_success_percent.get(info.environment)
    out = []
    for job_id, runs in sorted(per_job.items()):
        window = [r for r in runs if r.result and r.ended >= now - timedelta(days=s.window_days)]
        ok = sum(1 for r in window if r.result == "SUCCEEDED")
        pct = _pct(ok, len(window))
        recent_p95, base_p95, duration = _durations(runs, s.recent_days, s.baseline_days, now)
        if duration == "measured":
            assert recent_p95 is not None and base_p95 is not None
            regressed = (
                recent_p95 >= s.regression_ratio * base_p95
                and recent_p95 - base_p95 >= s.min_regression_seconds
            )
            duration = "breached" if regressed else "met"
        out.append(
            {
                "workspace": info.name,
                "environment": info.environment,
                "job_id": job_id,
                "job_name": runs[-1].name,
                "finished_runs": len(window),
                "success_pct": pct,
                "target_pct": target,
                "status": _verdict(pct or 0.0, target, len(window), s.min_runs),
                "p95_seconds": recent_p95,
                "baseline_p95_seconds": base_p95,
                "duration_status": duration,
            }
        )
    return out


def _durations(
    runs: Sequence[Run], recent_days: int, baseline_days: int, now: datetime
) -> tuple[float | None, float | None, str]:
    cut = now - timedelta(days=recent_days)
    start = cut - timedelta(days=baseline_days)
    done = [r for r in runs if r.result == "SUCCEEDED"]
    recent = [r.seconds for r in done if r.ended >= cut]
    base = [r.seconds for r in done if start <= r.ended < cut]
    now_p95 = round(p95(recent)) if recent else None
    base_p95 = round(p95(base)) if base else None
    if len(recent) < 5 or len(base) < 5 or not base_p95:
        return now_p95, base_p95, "no_baseline"
    return now_p95, base_p95, "measured"


def _freshness(source: SlaSource, now: datetime) -> list[dict[str, Any]]:
    out = []
    for res in source.fresh_resources("", now):
        signals = res.data["signals"]
        last, age = source.last_writes.get(res.data["table"]), None
        if last is not None:
            age = round((now - last).total_seconds() / 3600, 1)
        status = "met" if not signals else "never_written" if last is None else "breached"
        out.append(
            {
                "table": res.data["table"],
                "sla_hours": res.data["sla_hours"],
                "last_write": last.isoformat() if last else None,
                "age_hours": age,
                "status": status,
            }
        )
    return out


def _quality(source: SlaSource, now: datetime) -> list[dict[str, Any]]:
    s = source.sla
    window = {"since": now - timedelta(days=s.window_days), "until": now}
    out = []
    for row in source.fetch(DQ_SQL, window):
        passed, failed = int(row["passed"] or 0), int(row["failed"] or 0)
        if passed + failed == 0:
            continue
        pct = round(100.0 * passed / (passed + failed), 3)
        out.append(
            {
                "table": str(row["table_name"]),
                "checked_rows": passed + failed,
                "failed_rows": failed,
                "pass_pct": pct,
                "target_pct": s.dq_pass_percent,
                "status": "met" if pct >= s.dq_pass_percent else "breached",
            }
        )
    return out
