"""SLA facts for the crew (SOP 1.6.2 "> 99 % success", 1.8.1, 1.8.2): job success rates per
environment and per job, p95 run-duration regressions against each job's own baseline, and the
data-quality pass rate per table — as `sla` resources whose `signals` the pack's `sla.*` rules
(check `detector_signal`) turn into findings with evidence.

- `workspace_resources(info)` (per workspace): one resource per job with at least `min_runs`
  finished runs in the window, id `job/<job_id>` (in the workspace's scope); signals
  `sla.job_success_rate` (below the environment's target) and `sla.job_duration_regression`
  (p95 of the last `recent_days` >= `regression_ratio` × p95 of the `baseline_days` before,
  and at least `min_regression_seconds` longer).
- `estate_resources(inventory)` (estate pass): one resource per environment with a target,
  id `env:<environment>`, signal `sla.env_success_rate`; one per table of
  `lakecrew.quality.results`, id `dq:<table>`, signal `sla.dq_pass_rate`.

Runs come from `system.lakeflow.job_run_timeline` (hourly slices; a run's result is on its final
slice); a run counts in the window its end falls in; SKIPPED runs are not counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lakecrew.core.errors import TableMissing
from lakecrew.core.pack import Sla
from lakecrew.core.resources import Resource
from lakecrew.ports.clock import Clock
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.crew.snapshot import WorkspaceInfo

RUNS_SQL = """
SELECT workspace_id, job_id, run_id, max(result_state) AS result_state,
       max(run_name) AS run_name, min(period_start_time) AS started,
       max(period_end_time) AS ended
FROM system.lakeflow.job_run_timeline
WHERE workspace_id IN ({ids}) AND period_end_time >= :since AND period_start_time < :until
GROUP BY workspace_id, job_id, run_id
"""
ENV_SQL = """
SELECT workspace_id, count(*) AS runs,
       sum(CASE WHEN result_state = 'SUCCEEDED' THEN 1 ELSE 0 END) AS succeeded
FROM system.lakeflow.job_run_timeline
WHERE result_state IS NOT NULL AND result_state <> 'SKIPPED'
  AND period_end_time >= :since AND period_end_time < :until
GROUP BY workspace_id
"""
FRESH_SQL = """
SELECT target_table_full_name AS table_name, max(event_time) AS last_write
FROM system.access.table_lineage
WHERE target_table_full_name IN ({names})
GROUP BY target_table_full_name
"""
DQ_SQL = """
SELECT table_name, sum(passed_count) AS passed, sum(failed_count) AS failed,
       count(DISTINCT run_id) AS runs
FROM lakecrew.quality.results
WHERE evaluated_at >= :since AND evaluated_at < :until
GROUP BY table_name
"""


@dataclass(frozen=True)
class Run:
    job_id: str
    name: str
    result: str | None
    started: datetime
    ended: datetime

    @property
    def seconds(self) -> float:
        return (self.ended - self.started).total_seconds()


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def success_signal(
    code: str, runs: int, ok: int, target: float, window: int
) -> dict[str, Any] | None:
    pct = 100.0 * ok / runs
    if pct >= target:
        return None
    return {
        "code": code,
        "success_percent": round(pct, 2),
        "target_percent": target,
        "finished_runs": runs,
        "failed_runs": runs - ok,
        "window_days": window,
    }


def _marks(values: Sequence[str]) -> tuple[str, dict[str, Any]]:
    params = {f"t{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params), params


class SlaSource:
    """Reads the system tables once per call; windows end at the clock's `now`."""

    def __init__(
        self,
        sql: SqlEngine,
        clock: Clock,
        sla: Sla,
        freshness: Callable[[], Mapping[str, float]] = dict,
    ) -> None:
        self.sql = sql
        self.clock = clock
        self.sla = sla
        self.freshness = freshness  # gold table full name → hours (declared in pipeline specs)
        self.last_writes: dict[str, datetime] = {}
        # runs read ahead for the workspaces of a sweep: workspace_id → (the sweep's now, runs)
        self._runs: dict[str, tuple[datetime, list[Run]]] = {}

    def fetch(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            return self.sql.fetch(sql, params).as_dicts()
        except TableMissing:
            return []

    def runs(self, workspace_id: str, since: datetime, until: datetime) -> list[Run]:
        """Finished or running runs of one workspace in [since, until) (SKIPPED left out)."""
        return self._read_runs([workspace_id], since, until).get(workspace_id, [])

    def prefetched(self, workspace_id: str | None) -> bool:
        """`prefetch` read this workspace's runs and they have not been judged yet."""
        return workspace_id in self._runs

    def prefetch(self, infos: Sequence[WorkspaceInfo]) -> None:
        """Forget earlier reads; read the run history of several workspaces in one query (a
        sweep of many workspaces, judged at the sweep's start); `workspace_resources` then
        answers each from it."""
        self._runs.clear()
        ids = [i.workspace_id for i in infos if i.workspace_id]
        if len(ids) > 1:
            since, now = self._window()
            for wid, runs in self._read_runs(ids, since, now).items():
                self._runs[wid] = (now, runs)
            for wid in ids:
                self._runs.setdefault(wid, (now, []))

    def _read_runs(
        self, workspace_ids: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, list[Run]]:
        marks, params = _marks(workspace_ids)
        rows = self.fetch(RUNS_SQL.format(ids=marks), {**params, "since": since, "until": until})
        out: dict[str, list[Run]] = defaultdict(list)
        for r in rows:
            if r["result_state"] == "SKIPPED":
                continue
            out[str(r["workspace_id"])].append(
                Run(
                    str(r["job_id"]),
                    str(r["run_name"] or r["job_id"]),
                    r["result_state"],
                    r["started"],
                    r["ended"],
                )
            )
        return out

    def _window(self) -> tuple[datetime, datetime]:
        s, now = self.sla, self.clock.now()
        span = max(s.window_days, s.recent_days + s.baseline_days)
        return now - timedelta(days=span), now

    def workspace_resources(self, info: WorkspaceInfo) -> list[Resource]:
        if not info.workspace_id:
            return []
        s = self.sla
        ahead = self._runs.pop(info.workspace_id, None)
        if ahead is not None:
            now, runs = ahead
        else:
            since, now = self._window()
            runs = self.runs(info.workspace_id, since, now)
        per_job: dict[str, list[Run]] = defaultdict(list)
        for run in runs:
            per_job[run.job_id].append(run)
        target = s.job_success_percent.get(info.environment)
        out = []
        for job_id, runs in sorted(per_job.items()):
            signals = self._job_signals(runs, target, now)
            if signals is None:
                continue
            rid = f"job/{job_id}"  # within the workspace's scope, like every resource id
            data = {
                "id": rid,
                "job_id": job_id,
                "job_name": runs[-1].name,
                "environment": info.environment,
                "signals": signals,
            }
            out.append(Resource("sla", rid, info.name, data, runs[-1].name))
        return out

    def _job_signals(
        self, runs: Sequence[Run], target: float | None, now: datetime
    ) -> list[dict[str, Any]] | None:
        """The job's signals, or None when it has too few finished runs for a verdict."""
        s = self.sla
        window = [r for r in runs if r.result and r.ended >= now - timedelta(days=s.window_days)]
        if len(window) < s.min_runs:
            return None
        signals = []
        if target is not None:
            ok = sum(1 for r in window if r.result == "SUCCEEDED")
            sig = success_signal("sla.job_success_rate", len(window), ok, target, s.window_days)
            if sig:
                signals.append(sig)
        cut = now - timedelta(days=s.recent_days)
        start = cut - timedelta(days=s.baseline_days)
        done = [r for r in runs if r.result == "SUCCEEDED"]
        recent = [r.seconds for r in done if r.ended >= cut]
        base = [r.seconds for r in done if start <= r.ended < cut]
        if len(recent) >= 5 and len(base) >= 5:
            now_p95, base_p95 = p95(recent), p95(base)
            if (
                base_p95 > 0
                and now_p95 >= s.regression_ratio * base_p95
                and now_p95 - base_p95 >= s.min_regression_seconds
            ):
                signals.append(
                    {
                        "code": "sla.job_duration_regression",
                        "p95_seconds": round(now_p95),
                        "baseline_p95_seconds": round(base_p95),
                        "ratio": round(now_p95 / base_p95, 2),
                        "recent_runs": len(recent),
                        "baseline_runs": len(base),
                        "recent_days": s.recent_days,
                        "baseline_days": s.baseline_days,
                    }
                )
        return signals

    def estate_resources(self, inventory: Sequence[WorkspaceInfo], scope: str) -> list[Resource]:
        s = self.sla
        now = self.clock.now()
        window = {"since": now - timedelta(days=s.window_days), "until": now}
        env_of = {w.workspace_id: w.environment for w in inventory if w.workspace_id}
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for row in self.fetch(ENV_SQL, window):
            env = env_of.get(str(row["workspace_id"]))
            if env is None:
                continue
            t = totals[env]
            t[0] += int(row["runs"])
            t[1] += int(row["succeeded"])
            t[2] += 1
        out = []
        for env, (runs, ok, workspaces) in sorted(totals.items()):
            target = s.job_success_percent.get(env)
            if target is None or runs < s.min_runs:
                continue
            sig = success_signal("sla.env_success_rate", runs, ok, target, s.window_days)
            rid = f"env:{env}"
            data = {
                "id": rid,
                "environment": env,
                "workspaces": workspaces,
                "success_percent": round(100.0 * ok / runs, 2),
                "signals": [{**sig, "environment": env}] if sig else [],
            }
            out.append(Resource("sla", rid, scope, data, f"{env} jobs"))
        out += self.fresh_resources(scope, now)
        for row in self.fetch(DQ_SQL, window):
            passed, failed = int(row["passed"] or 0), int(row["failed"] or 0)
            if passed + failed == 0:
                continue
            pct = 100.0 * passed / (passed + failed)
            rid = f"dq:{row['table_name']}"
            signals = []
            if pct < s.dq_pass_percent:
                signals.append(
                    {
                        "code": "sla.dq_pass_rate",
                        "pass_percent": round(pct, 3),
                        "target_percent": s.dq_pass_percent,
                        "failed_rows": failed,
                        "checked_rows": passed + failed,
                        "runs": int(row["runs"]),
                        "window_days": s.window_days,
                    }
                )
            data = {"id": rid, "table": row["table_name"], "signals": signals}
            out.append(Resource("sla", rid, scope, data, str(row["table_name"])))
        return out

    def fresh_resources(self, scope: str, now: datetime) -> list[Resource]:
        """One resource per gold table with a declared freshness SLA (`freshness_hours`); the
        last writes read are kept in `last_writes` (table → time)."""
        targets = dict(self.freshness())
        if not targets:
            return []
        names, params = _marks(sorted(targets))
        last = {
            str(r["table_name"]): r["last_write"]
            for r in self.fetch(FRESH_SQL.format(names=names), params)
        }
        self.last_writes = dict(last)
        out = []
        for table, hours in sorted(targets.items()):
            written = last.get(table)
            age = None if written is None else (now - written).total_seconds() / 3600
            signals = []
            if age is None or age > hours:
                signals.append(
                    {
                        "code": "sla.gold_freshness",
                        "table": table,
                        "last_write": written.isoformat() if written else None,
                        "age_hours": None if age is None else round(age, 1),
                        "sla_hours": hours,
                    }
                )
            rid = f"fresh:{table}"
            data = {"id": rid, "table": table, "sla_hours": hours, "signals": signals}
            out.append(Resource("sla", rid, scope, data, table))
        return out
