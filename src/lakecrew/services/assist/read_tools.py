"""The read tools: plain typed functions over the project's services (no model, no smolagents).

Each returns a JSON-ready dict; the ToolBox (toolbox.py) masks, wraps, cuts and records it.
Nothing here writes: SQL goes through the project's read-only engine (the `lakecrew sql`
boundary: three-part names only, masks applied, writes refused), the ledger is only read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from datetime import date as date_type
from typing import Any

from lakecrew.core.errors import LakecrewError, NotFound, UsageError
from lakecrew.ports.agents import AgentLog
from lakecrew.ports.catalog import Lineage
from lakecrew.ports.clock import Clock
from lakecrew.ports.ledger import ActionRow, FindingRow
from lakecrew.ports.sql import SqlEngine
from lakecrew.ports.tickets import TicketSystem
from lakecrew.ports.workspace import WorkspaceReader
from lakecrew.services.assist.sop import sop_section
from lakecrew.services.crew.service import CrewService
from lakecrew.services.estate.config import EstateConfig
from lakecrew.services.policy.loader import LoadedPack, explain_rule

DQ_TABLE = "lakecrew.quality.results"
PERIODS = ("day", "week", "month")
DIMENSIONS = ("project", "cost_center", "workspace", "environment", "sku_family")
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass
class AssistDeps:
    """What the tools read, built by the wiring (wiring/assist.py)."""

    config: EstateConfig
    sql: SqlEngine
    crew: CrewService
    pack: LoadedPack
    lineage: Lineage
    tickets: TicketSystem
    log: AgentLog
    clock: Clock
    reader_for: Callable[[str], WorkspaceReader]
    cost_report: Callable[[str, datetime], dict[str, Any]]
    run_id: str = "direct"  # the agent run proposals are recorded under
    _reports: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def report(self, period: str, as_of: str | None) -> dict[str, Any]:
        """The cost report of `period` ending the day before `as_of` (cached per run)."""
        if period not in PERIODS:
            raise UsageError(f"unknown period {period!r}", fix="day, week or month")
        when = parse_day(as_of) if as_of else self.clock.now()
        key = (period, when.date().isoformat())
        if key not in self._reports:
            self._reports[key] = self.cost_report(period, when)
        return self._reports[key]


def parse_day(text: str) -> datetime:
    """`YYYY-MM-DD` → that day's start in UTC (a report as of that day covers up to the day
    before)."""
    try:
        day = date_type.fromisoformat(text.strip()[:10])
    except ValueError:
        raise UsageError(f"{text!r} is not a date", fix="YYYY-MM-DD, e.g. 2026-03-02") from None
    return datetime.combine(day, time(0), tzinfo=UTC)


def _finding(r: FindingRow) -> dict[str, Any]:
    return {
        "fingerprint": r.fingerprint,
        "workspace": r.workspace,
        "rule_id": r.rule_id,
        "severity": r.severity,
        "status": r.status,
        "resource_type": r.resource_type,
        "resource_id": r.resource_id,
        "resource_name": r.resource_name,
        "owner": r.owner,
        "title": r.title,
        "first_seen": r.first_seen.isoformat(),
        "last_seen": r.last_seen.isoformat(),
    }


def _action(r: ActionRow) -> dict[str, Any]:
    return {
        "action_id": r.action_id,
        "workspace": r.workspace,
        "status": r.status,
        "action": r.action,
        "resource_type": r.kind,
        "resource_id": r.resource_id,
        "rule_id": r.rule_id,
        "fingerprint": r.fingerprint,
        "owner": r.owner,
        "reason": r.reason,
        "updated_at": r.updated_at.isoformat(),
    }


def list_findings(
    deps: AssistDeps,
    workspace: str | None = None,
    status: str | None = None,
    rule_id: str | None = None,
    severity: str | None = None,
    limit: int = 25,
) -> dict[str, Any]:
    if workspace is not None:
        deps.config.workspace(workspace)
    rows = [
        r
        for r in deps.crew.findings(workspace, status, rule_id)
        if severity is None or r.severity == severity
    ]
    rows.sort(key=lambda r: (SEVERITY_ORDER.get(r.severity, 9), r.rule_id, r.resource_id))
    return {
        "count": len(rows),
        "by_rule": _counts(r.rule_id for r in rows),
        "by_workspace": _counts(r.workspace for r in rows),
        "by_owner": _counts(r.owner for r in rows),
        "findings": [_finding(r) for r in rows[: max(limit, 0)]],
    }


def _counts(keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in keys:
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def finding_detail(deps: AssistDeps, fingerprint: str) -> dict[str, Any]:
    row = find_finding(deps, fingerprint)
    actions = [
        _action(a) for a in deps.crew.actions(row.workspace) if a.fingerprint == row.fingerprint
    ]
    ticket = deps.tickets.get(row.fingerprint)
    return {
        **_finding(row),
        "owner_source": row.owner_source,
        "evidence": json.loads(row.evidence_json or "{}"),
        "actions": actions,
        "ticket": None
        if ticket is None
        else {"key": ticket.key, "status": ticket.status, "title": ticket.title},
    }


def find_finding(deps: AssistDeps, fingerprint: str) -> FindingRow:
    """One finding by fingerprint (a unique prefix of at least 8 characters works too)."""
    fp = fingerprint.strip()
    if len(fp) < 8:
        raise UsageError("fingerprint too short", fix="give at least 8 characters")
    hits = [r for r in deps.crew.findings() if r.fingerprint.startswith(fp)]
    if len(hits) != 1:
        raise NotFound(
            f"{'no' if not hits else 'more than one'} finding matches {fp!r}",
            fix="list findings with the list_findings tool",
        )
    return hits[0]


def list_actions(
    deps: AssistDeps, workspace: str | None = None, status: str | None = None, limit: int = 25
) -> dict[str, Any]:
    if workspace is not None:
        deps.config.workspace(workspace)
    rows = deps.crew.actions(workspace, status)
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    return {
        "count": len(rows),
        "by_status": by_status,
        "actions": [_action(r) for r in rows[: max(limit, 0)]],
    }


def estate_overview(deps: AssistDeps) -> dict[str, Any]:
    """The inventory (lakecrew.yaml) with each workspace's phase; no workspace is listed."""
    phases = deps.config.rollout.phases
    return {
        "workspaces": [
            {
                "name": w.name,
                "environment": w.environment,
                "region": w.region,
                "project": w.project,
                "cost_center": w.cost_center,
                "owner": w.owner,
                "backend": w.backend,
                "workspace_id": w.workspace_id,
                "approval": w.approval.status,
                "phase": phases.get(w.environment),
            }
            for w in deps.config.workspaces
        ],
        "budgets": [
            {"scope": b.scope, "name": b.name, "monthly_usd": str(b.monthly_usd)}
            for b in deps.config.budgets
        ],
    }


def estate_summary(deps: AssistDeps, workspace: str | None = None) -> dict[str, Any]:
    """Objects per kind in each workspace (or one), read through the Workspace port; a
    workspace that cannot be read is listed under `unreachable` with the reason."""
    from lakecrew.services.estate.summary import COUNTED_KINDS

    names = [deps.config.workspace(workspace).name] if workspace else deps.config.names()
    per: dict[str, dict[str, int]] = {}
    unreachable: dict[str, str] = {}
    for name in names:
        try:
            reader = deps.reader_for(name)
            per[name] = {k.value: sum(1 for _ in reader.list(k)) for k in COUNTED_KINDS}
        except LakecrewError as e:
            unreachable[name] = e.one_line()
    totals = {k.value: sum(c[k.value] for c in per.values()) for k in COUNTED_KINDS}
    return {
        "objects": sum(totals.values()),
        "per_kind": totals,
        "per_workspace": per,
        "unreachable": unreachable,
    }


def run_sql(deps: AssistDeps, query: str, limit: int = 50) -> dict[str, Any]:
    """One read-only query (Databricks SQL, three-part names) through the project's engine."""
    table = deps.sql.fetch_arrow(query)
    rows = table.slice(0, max(limit, 0)).to_pylist(maps_as_pydicts="lossy")
    return {
        "sql": query,
        "columns": [f.name for f in table.schema],
        "row_count": table.num_rows,
        "rows": rows,
        "truncated": table.num_rows > len(rows),
    }


def cost_report(deps: AssistDeps, period: str = "week", as_of: str | None = None) -> dict[str, Any]:
    r = deps.report(period, as_of)
    keep = (
        "period", "start", "end", "as_of", "currency", "total", "previous_total", "by_project",
        "by_environment", "by_sku_family", "top_movers", "budgets", "untagged",
        "corrective_actions", "data_issues", "incomplete_days",
    )  # fmt: skip
    out = {k: r[k] for k in keep if k in r}
    out["by_workspace"] = [
        {"workspace": w.get("name") or f"unregistered {w['key']}", "cost": w["cost"]}
        for w in r["by_workspace"]
    ]
    return out


def cost_allocation(
    deps: AssistDeps, dimension: str, period: str = "week", as_of: str | None = None
) -> dict[str, Any]:
    if dimension not in DIMENSIONS:
        raise UsageError(f"unknown dimension {dimension!r}", fix=f"one of {', '.join(DIMENSIONS)}")
    r = deps.report(period, as_of)
    rows = r[f"by_{dimension}"]
    if dimension == "workspace":
        rows = [{**w, "key": w.get("name") or f"unregistered {w['key']}"} for w in rows]
    return {
        "dimension": dimension,
        "start": r["start"],
        "end": r["end"],
        "currency": r["currency"],
        "total": r["total"],
        "rows": [{"key": x["key"], "cost": x["cost"]} for x in rows],
    }


def cost_anomalies(
    deps: AssistDeps, workspace: str | None = None, limit: int = 10
) -> dict[str, Any]:
    """The cost anomalies the crew's sweeps detected (findings of rule cost.anomaly), the
    biggest excess over the expected cost first, with their evidence."""
    rows = deps.crew.findings(workspace, None, "cost.anomaly")
    items = []
    for r in rows:
        ev = json.loads(r.evidence_json or "{}")
        excess = _num(ev.get("observed")) - _num(ev.get("expected"))
        items.append({**_finding(r), "evidence": ev, "excess": round(excess, 2)})
    items.sort(key=lambda i: (-i["excess"], i["fingerprint"]))
    return {"count": len(items), "anomalies": items[: max(limit, 0)]}


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def pipeline_runs(
    deps: AssistDeps, workspace: str | None = None, days: int = 7, limit: int = 25
) -> dict[str, Any]:
    """Job runs of the last `days` days per job: runs, failures, success rate, p95 duration."""
    since = deps.clock.now() - timedelta(days=max(days, 1))
    params: dict[str, Any] = {"since": since}
    where = "r.period_start_time >= :since"
    if workspace is not None:
        params["ws"] = deps.config.workspace(workspace).workspace_id
        where += " AND r.workspace_id = :ws"
    table = deps.sql.fetch(
        f"""
        SELECT r.workspace_id, r.job_id, max(j.name) AS job_name, count(*) AS runs,
               count_if(r.result_state <> 'SUCCEEDED') AS failed,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY r.run_duration_seconds) AS p95_s
        FROM system.lakeflow.job_run_timeline r
        LEFT JOIN system.lakeflow.jobs j ON r.job_id = j.job_id AND r.workspace_id = j.workspace_id
        WHERE {where} AND r.result_state IS NOT NULL
        GROUP BY r.workspace_id, r.job_id
        ORDER BY failed DESC, runs DESC, r.job_id
        """,
        params,
    ).as_dicts()
    names = {w.workspace_id: w.name for w in deps.config.workspaces}
    jobs = [
        {
            "workspace": names.get(row["workspace_id"], row["workspace_id"]),
            "job_id": row["job_id"],
            "job_name": row["job_name"],
            "runs": row["runs"],
            "failed": row["failed"],
            "success_rate": round(1 - row["failed"] / row["runs"], 4) if row["runs"] else None,
            "p95_duration_s": None if row["p95_s"] is None else round(float(row["p95_s"]), 1),
        }
        for row in table
    ]
    return {"since": since.isoformat(), "jobs": len(jobs), "top": jobs[: max(limit, 0)]}


def data_quality(deps: AssistDeps, table: str | None = None, limit: int = 25) -> dict[str, Any]:
    """Data-quality rule results of pipeline runs (lakecrew.quality.results), failures first."""
    exists = deps.sql.fetch(
        "SELECT count(*) AS n FROM system.information_schema.tables "
        "WHERE table_catalog = 'lakecrew' AND table_schema = 'quality' AND table_name = 'results'"
    ).scalar()
    if not exists:
        return {"results": 0, "note": "no pipeline has recorded data-quality results yet"}
    params = {} if table is None else {"t": table}
    where = "" if table is None else "WHERE table_name = :t"
    rows = deps.sql.fetch(
        f"""SELECT pipeline, table_name, rule, action, status, sum(passed_count) AS passed,
                   sum(failed_count) AS failed, max(evaluated_at) AS last_evaluated
            FROM {DQ_TABLE} {where}
            GROUP BY pipeline, table_name, rule, action, status
            ORDER BY failed DESC, pipeline, table_name, rule""",
        params,
    ).as_dicts()
    return {"results": len(rows), "rules": rows[: max(limit, 0)]}


def lineage(deps: AssistDeps, table: str, direction: str = "both") -> dict[str, Any]:
    if direction not in ("upstream", "downstream", "both"):
        raise UsageError(f"unknown direction {direction!r}", fix="upstream, downstream or both")
    edges = deps.lineage.edges(table, direction=direction)  # type: ignore[arg-type]
    seen = sorted({(e.source, e.target, e.entity_type or "", e.entity_id or "") for e in edges})
    return {
        "table": table,
        "direction": direction,
        "edges": [
            {"source": s, "target": t, "entity_type": et or None, "entity_id": ei or None}
            for s, t, et, ei in seen
        ],
    }


def rule_explanation(deps: AssistDeps, rule_id: str) -> dict[str, Any]:
    data = explain_rule(deps.pack, rule_id)
    fields = {k: v["value"] for k, v in data["fields"].items()}
    return {
        "rule_id": rule_id,
        **fields,
        "check_doc": data.get("check_doc"),
        "action_doc": data.get("action_doc"),
        "action_destructive": data.get("action_destructive"),
        "defined_at": data["fields"]["id"]["from"],
    }


def list_rules(deps: AssistDeps, resource_type: str | None = None) -> dict[str, Any]:
    rules = [
        {
            "rule_id": r.id,
            "title": r.title,
            "resource_type": r.resource_type,
            "severity": r.severity,
            "sop_section": r.sop_section,
            "action": None if r.action is None else r.action.name,
            "enabled": r.enabled,
        }
        for r in deps.pack.pack.rules
        if resource_type is None or r.resource_type == resource_type
    ]
    return {"count": len(rules), "rules": rules}


def sop_lookup(deps: AssistDeps, query: str) -> dict[str, Any]:
    return {"sections": sop_section(query)}


def list_tickets(
    deps: AssistDeps, workspace: str | None = None, status: str | None = None, limit: int = 25
) -> dict[str, Any]:
    rows = [t for t in deps.tickets.list(workspace) if status is None or t.status == status]
    rows.sort(key=lambda t: (t.status, SEVERITY_ORDER.get(t.severity, 9), t.key))
    return {
        "count": len(rows),
        "tickets": [
            {
                "key": t.key,
                "fingerprint": t.fingerprint,
                "workspace": t.workspace,
                "rule_id": t.rule_id,
                "resource_id": t.resource_id,
                "severity": t.severity,
                "owner": t.owner,
                "status": t.status,
                "title": t.title,
            }
            for t in rows[: max(limit, 0)]
        ],
    }


def list_proposals(deps: AssistDeps, status: str | None = None) -> dict[str, Any]:
    rows = [p for p in deps.log.proposals() if status is None or p.status == status]
    rows.sort(key=lambda p: (p.created_at, p.proposal_id))
    return {
        "count": len(rows),
        "proposals": [
            {
                "proposal_id": p.proposal_id,
                "kind": p.kind,
                "status": p.status,
                "fingerprint": p.fingerprint,
                "rule_id": p.rule_id,
                "resource_id": p.resource_id,
                "payload": json.loads(p.payload_json),
                "rationale": p.rationale,
            }
            for p in rows
        ],
    }
