"""The view models of the dashboard, the HTML report and `lakecrew report --output json`.

Plain functions over the services the CLI uses (the crew ledger, the estate config, the cost
report, the metastore); each returns JSON-ready dicts, so the page, the file and the JSON API
never disagree. Every value that may hold a secret or a patient identifier goes through
`core/redact.py` here, before any template sees it; escaping is the templates' job.

- `overview(lc)`: workspaces with environment, rollout phase, approval, open findings and a
  compliance score with its trend (one point per recorded sweep);
- `findings_view(page, query, pack)`: one filtered, paginated page (computed by the ledger)
  with the filter choices; `findings_page(rows, ...)` the same from rows in memory;
- `actions_list(lc, workspace, status)`: actions with a before/after diff per field;
- `pipelines(lc)`, `finops(lc)`, `governance(lc, counts)`: in `views_sections.py`;
- `weekly(lc)`: everything the single-file report shows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakecrew.core.redact import redact, redact_text
from lakecrew.faces.cli.jsonable import to_jsonable
from lakecrew.faces.cli.views import action_view, finding_view
from lakecrew.ports.ledger import ActionRow, FindingFilter, FindingPage, FindingRow, SweepRow

if TYPE_CHECKING:
    from lakecrew.core.pack import Pack
    from lakecrew.wiring.context import Context

SEVERITIES = ("critical", "warning", "info")
FINDING_STATUSES = ("open", "resolved", "exempted")
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class FindingQuery:
    """The findings page's filters (None: any) and page (1-based)."""

    workspace: str | None = None
    rule: str | None = None
    severity: str | None = None
    owner: str | None = None
    status: str | None = None
    page: int = 1
    per_page: int = 50

    def matches(self, row: FindingRow) -> bool:
        return (
            (self.workspace is None or row.workspace == self.workspace)
            and (self.rule is None or row.rule_id == self.rule)
            and (self.severity is None or row.severity == self.severity)
            and (self.owner is None or row.owner == self.owner)
            and (self.status is None or row.status == self.status)
        )

    def store_filter(self) -> FindingFilter:
        return FindingFilter(self.workspace, self.rule, self.severity, self.owner, self.status)

    def window(self, total: int) -> tuple[int, int]:
        """(rows per page, offset of the first row): the page clamped to 1..last page."""
        per_page = max(1, min(self.per_page, MAX_PER_PAGE))
        pages = max(1, -(-total // per_page))
        return per_page, (max(1, min(self.page, pages)) - 1) * per_page

    def filters(self) -> dict[str, str]:
        keys = ("workspace", "rule", "severity", "owner", "status")
        return {k: v for k in keys if (v := getattr(self, k)) is not None}


def finding_item(row: FindingRow, pack: Pack | None = None) -> dict[str, Any]:
    """One finding as shown: the CLI's record, evidence redacted, the rule's SOP section."""
    item = finding_view(row)
    item["evidence"] = redact(item["evidence"])
    item["resource_name"] = redact_text(row.resource_name) if row.resource_name else None
    rule = pack.rule(row.rule_id) if pack is not None else None
    item["sop_section"] = rule.sop_section if rule is not None else None
    item["remediation"] = rule.remediation if rule is not None else None
    item["title"] = row.title or (rule.title if rule is not None else "")
    return to_jsonable(item)  # type: ignore[no-any-return]


def findings_page(
    rows: Sequence[FindingRow], query: FindingQuery, pack: Pack | None = None
) -> dict[str, Any]:
    """One page of the findings matching `query` from rows in memory (newest first) — the
    report's path; the server asks the ledger for the page instead (`findings_view`)."""
    hits = [r for r in rows if query.matches(r)]
    per_page, offset = query.window(len(hits))
    found = FindingPage(
        rows=hits[offset : offset + per_page],
        total=len(hits),
        by_severity=dict(Counter(r.severity for r in hits)),
        choices={
            "workspace": sorted({r.workspace for r in rows}),
            "rule_id": sorted({r.rule_id for r in rows}),
            "severity": sorted({r.severity for r in rows}),
            "owner": sorted({r.owner for r in rows}),
        },
    )
    return findings_view(found, query, pack)


def findings_view(
    found: FindingPage, query: FindingQuery, pack: Pack | None = None
) -> dict[str, Any]:
    """The findings page's view model from one page the ledger computed (filters, counts and
    paging in the store's SQL), with the values each filter can take over all findings."""
    per_page, offset = query.window(found.total)
    present = set(found.choices.get("severity", []))
    return {
        "items": [finding_item(r, pack) for r in found.rows],
        "total": found.total,
        "page": offset // per_page + 1,
        "pages": max(1, -(-found.total // per_page)),
        "per_page": per_page,
        "filters": query.filters(),
        "by_severity": found.by_severity,
        "choices": {
            "workspace": found.choices.get("workspace", []),
            "rule": found.choices.get("rule_id", []),
            "severity": [s for s in SEVERITIES if s in present] or list(SEVERITIES),
            "owner": found.choices.get("owner", []),
            "status": list(FINDING_STATUSES),
        },
    }


def sorted_findings(rows: Sequence[FindingRow]) -> list[FindingRow]:
    """Newest first, as `lakecrew findings` lists them."""
    return sorted(rows, key=lambda r: (r.last_seen, r.fingerprint), reverse=True)


# --------------------------------------------------------------------------------- actions


def diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """The fields that differ between two JSON states: [{path, before, after}] (redacted)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += diff(before.get(key), after.get(key), sub)
        return out
    if before == after:
        return []
    return [{"path": path or "(value)", "before": _shown(before), "after": _shown(after)}]


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return redact_text(text)


def action_item(row: ActionRow) -> dict[str, Any]:
    """One action as shown: the CLI's record (states redacted) plus its diff and what an
    operator may do with it (approve when awaiting approval, roll back when applied)."""
    item = action_view(row)
    for key in ("target", "before", "after"):
        item[key] = redact(item[key])
    item["diff"] = diff(item["before"], item["after"] if item["after"] is not None else {})
    if item["before"] is None:
        item["diff"] = diff({}, item["target"] or {})
    item["reason"] = redact_text(row.reason)
    item["can_approve"] = row.status in ("awaiting_approval", "rolled_back")
    item["can_rollback"] = row.status == "applied"
    return to_jsonable(item)  # type: ignore[no-any-return]


def actions_list(
    lc: Context, workspace: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Actions newest first (optionally of one workspace / status) with the count per status."""
    every = [r for r in lc.crew.actions() if workspace is None or r.workspace == workspace]
    rows = [r for r in every if status is None or r.status == status]
    return {
        "items": [action_item(r) for r in rows],
        "total": len(rows),
        "filters": {k: v for k, v in (("workspace", workspace), ("status", status)) if v},
        "by_status": dict(Counter(r.status for r in every)),
        "choices": {
            "workspace": lc.config.names(),
            "status": sorted({r.status for r in every}),
        },
    }


# -------------------------------------------------------------------------------- overview


def score(sweep: SweepRow) -> float | None:
    """A sweep's compliance score: 100 × (1 − findings ÷ evaluated resources), floored at 0;
    None when it evaluated nothing. A simple, stated measure — not an SOP-defined one."""
    if sweep.evaluated <= 0:
        return None
    return round(max(0.0, 100.0 * (1 - sweep.findings / sweep.evaluated)), 1)


OpenCounts = Mapping[tuple[str, str, str], int]


def open_counts(rows: Sequence[FindingRow]) -> OpenCounts:
    """Open findings per (workspace, rule_id, severity) from rows in memory — what the ledger's
    `open_counts` computes in SQL."""
    return Counter((r.workspace, r.rule_id, r.severity) for r in rows if r.status == "open")


def overview(lc: Context, counts: OpenCounts | None = None) -> dict[str, Any]:
    """The estate at a glance: one row per inventory workspace and the estate totals (`counts`:
    open findings per (workspace, rule, severity); default: the ledger's)."""
    counts = lc.ledger.open_counts() if counts is None else counts
    by_ws: dict[str, Counter[str]] = {}
    for (ws_name, _, severity), n in counts.items():
        by_ws.setdefault(ws_name, Counter())[severity] += n
    sweeps = sorted(lc.ledger.sweeps(), key=lambda s: s.started_at)
    actions = lc.crew.actions()
    items = []
    for ws in lc.config.workspaces:
        mine = [s for s in sweeps if s.workspace == ws.name]
        last = mine[-1] if mine else None
        sev = by_ws.get(ws.name, Counter())
        items.append(
            {
                "workspace": ws.name,
                "environment": ws.environment,
                "backend": ws.backend,
                "owner": ws.owner,
                "project": ws.project,
                "approved": ws.approved,
                "phase": lc.config.phase_for(ws.environment),
                "open_findings": sum(sev.values()),
                "by_severity": {s: sev.get(s, 0) for s in SEVERITIES},
                "last_sweep": to_jsonable(last.started_at) if last else None,
                "last_status": last.status if last else None,
                "score": score(last) if last else None,
                "trend": [
                    {"at": to_jsonable(s.started_at), "score": score(s)}
                    for s in mine[-12:]
                    if score(s) is not None
                ],
            }
        )
    return {
        "as_of": to_jsonable(lc.clock.now()),
        "workspaces": items,
        "open_findings": sum(counts.values()),
        "by_severity": {
            s: sum(n for (_, _, sev), n in counts.items() if sev == s) for s in SEVERITIES
        },
        "actions_by_status": dict(Counter(a.status for a in actions)),
        "awaiting_approval": sum(1 for a in actions if a.status == "awaiting_approval"),
    }


def weekly(
    lc: Context,
    *,
    top: int = 100,
    rows: Sequence[FindingRow] | None = None,
    cost: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the single-file report shows: overview, open findings (the `top` most
    severe), actions, pipelines and SLAs, cost, governance — the same view models as the pages
    (`rows` and `cost` when the caller has them already, as the server does)."""
    from lakecrew.faces.web.views_sections import finops, governance, pipelines

    rows = sorted_findings(lc.crew.findings()) if rows is None else list(rows)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    open_rows = sorted((r for r in rows if r.status == "open"), key=lambda r: rank[r.severity])
    return {
        "overview": overview(lc, open_counts(rows)),
        "findings": findings_page(open_rows, FindingQuery(per_page=top), lc.pack),
        "actions": actions_list(lc),
        "pipelines": pipelines(lc),
        "finops": finops(lc) if cost is None else cost,
        "governance": governance(lc, open_counts(rows)),
    }
