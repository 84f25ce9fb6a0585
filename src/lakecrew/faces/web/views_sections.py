"""View models of the pipelines, FinOps and governance sections (see views.py).

Each section reads what exists and says what it could not read in `notes` (a table not created
yet, a cost report without usage): the dashboard degrades, it never shows an empty section as
if all were well. Quarantined rows are shown as counts per rule only — never their values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from lakecrew.core.errors import LakecrewError
from lakecrew.core.redact import redact, redact_text
from lakecrew.faces.cli.jsonable import to_jsonable

if TYPE_CHECKING:
    from lakecrew.wiring.context import Context

WINDOW_DAYS = 7
JOBS_SQL = """
WITH job_runs AS (
  SELECT workspace_id, job_id, run_id, max(result_state) AS result_state,
         min(period_start_time) AS started, max(period_end_time) AS ended
  FROM system.lakeflow.job_run_timeline
  WHERE period_end_time >= :since AND period_end_time < :until
  GROUP BY workspace_id, job_id, run_id
)
SELECT workspace_id, job_id, count(*) AS runs,
       sum(CASE WHEN result_state = 'SUCCEEDED' THEN 1 ELSE 0 END) AS succeeded,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY timestampdiff(SECOND, started, ended))
         AS p50_seconds,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY timestampdiff(SECOND, started, ended))
         AS p95_seconds,
       max(ended) AS last_run
FROM job_runs
WHERE result_state IS NOT NULL AND result_state <> 'SKIPPED'
GROUP BY workspace_id, job_id
"""
DQ_SQL = """
SELECT table_name, sum(passed_count) AS passed, sum(failed_count) AS failed,
       count(DISTINCT run_id) AS runs, max(evaluated_at) AS last_evaluated
FROM lakecrew.quality.results
GROUP BY table_name
ORDER BY table_name
"""
BATCH_SQL = """
SELECT pipeline, env, layer, count(*) AS batches, sum(rows_in) AS rows_in,
       sum(rows_out) AS rows_out, sum(quarantined) AS quarantined, max(committed_at) AS last_commit
FROM lakecrew.pipelines.batches
GROUP BY pipeline, env, layer
ORDER BY pipeline, env, layer
"""
FRESH_SQL = """
SELECT target_table_full_name AS table_name, max(event_time) AS last_write
FROM system.access.table_lineage
GROUP BY target_table_full_name
ORDER BY last_write
"""
QUARANTINE_SQL = "SELECT _dq_rules AS rules, count(*) AS n FROM {table} GROUP BY _dq_rules"
RULES_COLUMN = "_dq_rules"
GOVERNANCE_PREFIXES = ("table.", "grant.", "secret.", "security.", "token.", "uc.", "model.")
SECRET_RULES = ("job.hardcoded_secret",)


def _rows(
    lc: Context, notes: list[str], what: str, sql: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The rows of one query, JSON-ready; a failure becomes a note naming what is missing."""
    try:
        return [to_jsonable(r) for r in lc.sql.fetch(sql, params or {}).as_dicts()]
    except LakecrewError as err:
        notes.append(f"{what}: not available — {redact_text(err.one_line())}")
        return []


def pipelines(lc: Context) -> dict[str, Any]:
    """Job runs and success rate (last 7 days), run durations, data quality per table, batches
    with quarantine counts, quarantine reasons per rule (no values), table freshness."""
    notes: list[str] = []
    now = lc.clock.now()
    window = {"since": now - timedelta(days=WINDOW_DAYS), "until": now}
    jobs = _rows(lc, notes, "job runs", JOBS_SQL, window)
    for job in jobs:
        job["success_rate"] = round(100.0 * job["succeeded"] / job["runs"], 1)
        for key in ("p50_seconds", "p95_seconds"):
            job[key] = round(job[key]) if job[key] is not None else None
    jobs.sort(key=lambda j: (j["success_rate"], str(j["workspace_id"]), str(j["job_id"])))
    dq = _rows(lc, notes, "data-quality results", DQ_SQL)
    for row in dq:
        total = (row["passed"] or 0) + (row["failed"] or 0)
        row["pass_rate"] = round(100.0 * (row["passed"] or 0) / total, 1) if total else None
    names = {str(w.workspace_id): w.name for w in lc.config.workspaces if w.workspace_id}
    for job in jobs:
        job["workspace"] = names.get(str(job["workspace_id"]), str(job["workspace_id"]))
    runs = sum(j["runs"] for j in jobs)
    return {
        "window_days": WINDOW_DAYS,
        "jobs": jobs,
        "success_rate": round(100.0 * sum(j["succeeded"] for j in jobs) / runs, 1)
        if runs
        else None,
        "data_quality": dq,
        "batches": _rows(lc, notes, "pipeline batches", BATCH_SQL),
        "quarantine": _quarantine(lc, notes),
        "freshness": [
            {**r, "age_hours": _age_hours(now, r["last_write"])}
            for r in _rows(lc, notes, "table lineage", FRESH_SQL)
        ],
        "notes": notes,
    }


def _age_hours(now: datetime, iso: str | None) -> float | None:
    if not iso:
        return None
    return round((now - datetime.fromisoformat(iso)).total_seconds() / 3600, 1)


def _quarantine(lc: Context, notes: list[str]) -> list[dict[str, Any]]:
    """Rows set aside per quarantine table and rule (a table with a `_dq_rules` column)."""
    out: list[dict[str, Any]] = []
    try:
        tables = [
            t.full_name
            for t in lc.metastore.list_tables()
            if any(c.name == RULES_COLUMN for c in t.columns)
        ]
    except LakecrewError as err:
        notes.append(f"quarantine tables: not available — {redact_text(err.one_line())}")
        return out
    for table in sorted(tables):
        counts = _rows(lc, notes, f"quarantine {table}", QUARANTINE_SQL.format(table=table))
        for row in sorted(counts, key=lambda r: (-r["n"], str(r["rules"]))):
            out.append({"table": table, "rules": row["rules"] or "(none)", "rows": row["n"]})
    return out


FINOPS_KEYS = (
    "period", "start", "end", "as_of", "currency", "basis", "total", "previous_total",
    "by_project", "by_workspace", "by_cost_center", "by_environment", "budgets", "anomalies",
    "recommendations", "untagged", "daily_by_project", "budget_burnup", "data_issues",
    "incomplete_days",
)  # fmt: skip


def finops(
    lc: Context, *, period: Literal["day", "week", "month"] = "week", top: int = 10
) -> dict[str, Any]:
    """The weekly cost review (`lakecrew cost report --period week`): allocation, budgets with
    forecast, anomalies, recommendations with savings; `notes` when it could not be built."""
    from lakecrew.services.finops.cube import CostCube
    from lakecrew.services.finops.reports import cost_report

    try:
        data = cost_report(
            lc.sql, lc.config, period, lc.clock.now(), top=top, cube=CostCube(lc.sql)
        )
    except LakecrewError as err:
        return {"notes": [f"cost report: not available — {redact_text(err.one_line())}"]}
    out = {k: to_jsonable(data.get(k)) for k in FINOPS_KEYS}
    out["savings_total"] = str(
        sum(float(r["monthly_savings_usd"]) for r in out["recommendations"] or [])
    )
    out["notes"] = list(out.pop("data_issues") or [])
    return out


def governance(lc: Context, counts: Mapping[tuple[str, str, str], int]) -> dict[str, Any]:
    """Classification coverage of Unity Catalog tables, grants and their expiries, and the
    open governance / token / secret findings by rule (issue 17 adds more rules: they show up
    here as soon as their findings are in the ledger)."""
    notes: list[str] = []
    now = lc.clock.now()
    tables = _safe(lc.metastore.list_tables, notes, "tables") or []
    tagged = Counter(t.tags.get("classification", "(unclassified)") for t in tables)
    grants = _safe(lc.metastore.list_grants, notes, "grants") or []
    soon = now + timedelta(days=14)
    expiring = [g for g in grants if g.expires_at is not None and now < g.expires_at <= soon]
    by_rule: Counter[tuple[str, str]] = Counter()
    for (_, rule, severity), n in counts.items():  # open findings per (workspace, rule, severity)
        if rule.startswith(GOVERNANCE_PREFIXES) or rule in SECRET_RULES:
            by_rule[(rule, severity)] += n
    return {
        "tables": len(tables),
        "classified": len(tables) - tagged.get("(unclassified)", 0),
        "coverage_pct": round(
            100.0 * (len(tables) - tagged.get("(unclassified)", 0)) / len(tables), 1
        )
        if tables
        else None,
        "by_classification": dict(sorted(tagged.items())),
        "grants": len(grants),
        "grants_with_expiry": sum(1 for g in grants if g.expires_at is not None),
        "expired_grants": sum(1 for g in grants if g.is_expired(now)),
        "expiring_grants": [to_jsonable(g) for g in sorted(expiring, key=lambda g: g.expires_at)],
        "findings_by_rule": [
            {"rule_id": rule, "severity": sev, "open": n}
            for (rule, sev), n in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "notes": notes,
    }


def models(lc: Context) -> dict[str, Any]:
    """The MLflow registry as `lakecrew models` lists it: models with owner, aliases, last use
    and lineage, and per version its aliases, lifecycle, status, training datasets, last use
    and run (descriptions and tags redacted); `notes` when there is no store or it failed."""
    from lakecrew.wiring import mlops as mlops_wiring

    if not mlops_wiring.has_registry(lc):
        note = "no MLflow store in this project yet (log a model to it; see `lakecrew demo`)"
        return {"items": [], "count": 0, "versions": 0, "notes": [note]}
    try:
        rows = mlops_wiring.model_ops(lc).inventory()
    except LakecrewError as err:
        return {"items": [], "count": 0, "versions": 0, "notes": [
            f"model registry: not available — {redact_text(err.one_line())}"
        ]}  # fmt: skip
    items = []
    for m in rows:
        item = to_jsonable(m)
        item["description"] = redact_text(m["description"]) if m.get("description") else None
        item["tags"] = redact(item["tags"])
        item["alias_list"] = [{"alias": a, "version": v} for a, v in sorted(m["aliases"].items())]
        items.append(item)
    return {
        "items": items,
        "count": len(items),
        "versions": sum(len(m["versions"]) for m in items),
        "notes": [],
    }


def _safe(read: Callable[[], Any], notes: list[str], what: str) -> Any:
    try:
        return read()
    except LakecrewError as err:
        notes.append(f"{what}: not available — {redact_text(err.one_line())}")
        return None
