"""The tool catalogue: every read and proposal tool with its typed params and model docstring."""

from __future__ import annotations

from functools import partial
from typing import Any

from lakecrew.ports.agents import Param
from lakecrew.services.assist import proposals as pr
from lakecrew.services.assist import read_tools as rt
from lakecrew.services.assist.toolbox import ToolBox, ToolDef

WS = Param(
    "workspace",
    "string",
    "a workspace name from lakecrew.yaml, e.g. malaria-prod-westafrica",
    False,
)
LIMIT = Param("limit", "integer", "at most this many rows (default 25)", False)
PERIOD = Param(
    "period", "string", "day, week (default) or month, ending the day before as_of", False
)
AS_OF = Param("as_of", "string", "YYYY-MM-DD; default today", False)
FP = Param("fingerprint", "string", "a finding fingerprint (or a unique prefix of 8+ characters)")
WHY = Param("rationale", "string", "why, citing the evidence (finding fields, figures)")

_FINDING = (
    "{count, by_rule: {rule_id: n}, by_workspace, by_owner, findings: [{fingerprint, "
    "workspace, rule_id, severity, status, resource_type, resource_id, resource_name, "
    "owner, title, first_seen, last_seen}]}"
)
_PROPOSAL = "{proposal_id, kind, status: pending, needs}: nothing changes until a person approves"


def _defs() -> list[tuple[Any, ...]]:
    """(name, function, description, params, returns, kind) of every tool."""
    return [
        ("list_findings", rt.list_findings,
         "Findings of the crew's sweeps (SOP rule violations), critical first. Filter by "
         "workspace, status (open, resolved, exempted), rule_id or severity (critical, warning, "
         "info); `count` and `by_rule` cover every match, `findings` the first `limit`.",
         (WS, Param("status", "string", "open, resolved or exempted", False),
          Param("rule_id", "string", "e.g. cluster.tags_missing", False),
          Param("severity", "string", "critical, warning or info", False), LIMIT),
         _FINDING, "read"),
        ("finding_detail", rt.finding_detail,
         "One finding with its evidence, the crew's actions on it and its ticket.",
         (FP,), "{fingerprint, rule_id, ..., owner_source, evidence, actions, ticket}", "read"),
        ("list_actions", rt.list_actions,
         "Crew actions from the ledger (planned, pending, awaiting_approval, applied, failed, "
         "skipped, rolled_back), newest first.",
         (WS, Param("status", "string", "an action status", False), LIMIT),
         "{count, by_status, actions: [{action_id, status, action, resource_id, rule_id, "
         "reason}]}", "read"),
        ("estate_overview", rt.estate_overview,
         "The workspace inventory of lakecrew.yaml: environment, project, cost center, owner, "
         "approval, rollout phase; budgets. Fast; reads no workspace.",
         (), "{workspaces: [...], budgets: [...]}", "read"),
        ("estate_summary", rt.estate_summary,
         "Objects per kind (clusters, jobs, warehouses, pools, ...) in every workspace, or one; "
         "reads the workspaces (slower than estate_overview). Costs: use the cost tools.",
         (WS,), "{objects, per_kind, per_workspace: {workspace: {kind: n}}, unreachable}",
         "read"),
        ("run_sql", rt.run_sql,
         "Run ONE read-only Databricks SQL query on the lakehouse (three-part names: "
         "system.billing.usage, system.billing.list_prices, system.compute.clusters, "
         "system.lakeflow.jobs, system.lakeflow.job_run_timeline, system.access.audit, "
         "lakecrew.crew.findings, lakecrew.crew.actions, ...). Writes are refused; masked "
         "columns stay masked.",
         (Param("query", "string", "the SELECT statement"), Param("limit", "integer", "rows returned (default 50)", False)),  # noqa: E501
         "{sql, columns, row_count, rows, truncated}", "read"),
        ("cost_report", rt.cost_report,
         "The cost report (list prices, USD) of a period: total vs previous period, cost by "
         "project/environment/SKU family/workspace, top movers, budgets, untagged spend, "
         "corrective actions, number of anomalies.",
         (PERIOD, AS_OF), "{start, end, total, previous_total, by_project, by_workspace, "
         "top_movers, budgets, untagged, anomalies: n}", "read"),
        ("cost_allocation", rt.cost_allocation,
         "Cost of a period allocated by one dimension: project, cost_center, workspace, "
         "environment or sku_family (tags with fallback to the resource's current tags).",
         (Param("dimension", "string", "project, cost_center, workspace, environment or sku_family"),  # noqa: E501
          PERIOD, AS_OF),
         "{dimension, start, end, total, rows: [{key, cost}]}", "read"),
        ("cost_anomalies", rt.cost_anomalies,
         "Cost anomalies the crew's sweeps detected (rule cost.anomaly): series (workspace/SKU/"
         "day), expected vs observed USD, excess; biggest excess first.",
         (WS, LIMIT),
         "{count, anomalies: [{fingerprint, workspace, resource_id, evidence: {expected, "
         "observed, percent_above, peak_day}, excess}]}", "read"),
        ("pipeline_runs", rt.pipeline_runs,
         "Job runs of the last `days` days per job (system.lakeflow.job_run_timeline): runs, "
         "failed, success rate, p95 duration; worst first.",
         (WS, Param("days", "integer", "look-back in days (default 7)", False), LIMIT),
         "{since, jobs, top: [{workspace, job_id, job_name, runs, failed, success_rate, "
         "p95_duration_s}]}", "read"),
        ("data_quality", rt.data_quality,
         "Data-quality rule results recorded by pipeline runs, failures first.",
         (Param("table", "string", "a table full name", False), LIMIT),
         "{results, rules: [{pipeline, table_name, rule, action, status, passed, failed}]}",
         "read"),
        ("lineage", rt.lineage,
         "Table lineage edges (Unity Catalog style) of one table.",
         (Param("table", "string", "catalog.schema.table"),
          Param("direction", "string", "upstream, downstream or both (default)", False)),
         "{table, direction, edges: [{source, target, entity_type, entity_id}]}", "read"),
        ("rule_explanation", rt.rule_explanation,
         "What an SOP pack rule checks, its SOP section, severity, remediation, action, phase "
         "and the file:line that defines it.",
         (Param("rule_id", "string", "e.g. cluster.idle"),),
         "{rule_id, title, sop_section, severity, remediation, action, min_phase, ...}", "read"),
        ("list_rules", rt.list_rules,
         "The SOP pack's rules (id, title, resource type, severity, SOP section, action).",
         (Param("resource_type", "string", "e.g. clusters, jobs, tables, warehouses", False),),
         "{count, rules: [...]}", "read"),
        ("sop_section", rt.sop_lookup,
         "The text of an SOP section by number (e.g. 3.2.4) or the sections best matching some "
         "words (e.g. 'auto-termination').",
         (Param("query", "string", "a section number or words"),),
         "{sections: [{section, title, text}]}", "read"),
        ("list_tickets", rt.list_tickets,
         "Tickets the crew opened (one per finding fingerprint).",
         (WS, Param("status", "string", "open or resolved", False), LIMIT),
         "{count, tickets: [{key, fingerprint, rule_id, resource_id, severity, owner, status, "
         "title}]}", "read"),
        ("list_proposals", rt.list_proposals,
         "Agent proposals and their status (pending, approved, rejected).",
         (Param("status", "string", "pending, approved or rejected", False),),
         "{count, proposals: [...]}", "read"),
        ("propose_action", pr.propose_action,
         "PROPOSE (never apply) the rule's own action on an open finding; a person must approve "
         "it. Only when the user asked for a remediation.",
         (FP, Param("action", "string", "the action the finding's rule names"), WHY),
         _PROPOSAL, "proposal"),
        ("propose_exemption", pr.propose_exemption,
         "PROPOSE an exemption of a finding's resource from its rule for 1-90 days; a person "
         "must approve it. Only when the user asked for one.",
         (FP, Param("days", "integer", "1 to 90"), WHY), _PROPOSAL, "proposal"),
        ("propose_ticket_comment", pr.propose_ticket_comment,
         "PROPOSE a comment (root cause and next steps) on a finding's ticket; a person must "
         "approve it before it is added.",
         (FP, Param("comment", "string", "the comment text")), _PROPOSAL, "proposal"),
    ]  # fmt: skip


def toolbox(deps: rt.AssistDeps, *, max_chars: int = 8000) -> ToolBox:
    """Every tool bound to `deps`."""
    defs = [
        ToolDef(name, partial(fn, deps), desc, tuple(params), returns, kind)
        for name, fn, desc, params, returns, kind in _defs()
    ]
    return ToolBox(defs, max_chars=max_chars)
