"""The monthly Unity Catalog compliance report (SOP 1.3.4): the view model.

`compliance_month(...)` returns plain dataclasses (`ComplianceReport`) that the CLI renders as
Markdown, HTML or JSON (compliance_render.py) and the web dashboard can reuse as they are:

- per catalog (the metastore, or a workspace's Unity Catalog): tables, the share classified,
  with owner and steward, PII columns and how many are masked (a column mask, or masked by
  the writer), grants (each direct grant once, on the catalog, schema or table it was made
  on — a schema grant is not multiplied by the schema's tables), grants
  covered by an access review archived in the month, expired grants revoked in the month;
- per workspace (the crew ledger): findings open during the month counted by area of their
  rule id — token, identity and secret findings (`security.token.*`, `security.identity.*`,
  `security.secret.*`, `secret.*`, `job.hardcoded_secret`), audit anomalies (the audit-log
  detectors `security.failed_access`, `.secret_access_anomaly`, `.large_download`, and audit
  delivery `security.audit.*`); platform settings (`security.workspace_conf`, network, policy)
  are neither;
- the trend: the same figures of the previous month (ledger figures recomputed; catalog
  figures from that month's archived report, when one was archived).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from lakecrew.core.errors import UsageError
from lakecrew.ports.catalog import Grant, TableInfo
from lakecrew.ports.ledger import ActionRow, FindingRow
from lakecrew.services.governance.access import REVOKE_ACTION

LABELS = frozenset({"public", "internal", "confidential", "restricted"})
OWN_CATALOGS = ("system", "lakecrew")  # Databricks' and lakecrew's own: never judged
#: rule-id prefix → the area it is counted under (the pack's ids: `security.token.no_expiry`,
#: `secret.acl_too_broad`, ...; the first matching prefix wins)
SECRET_AREAS = (
    ("security.token.", "token"),
    ("security.identity.", "identity"),
    ("security.secret.", "secret"),
    ("job.hardcoded_secret", "secret"),
    ("token.", "token"),
    ("identity.", "identity"),
    ("secret.", "secret"),
)
AUDIT_AREAS = (
    ("security.audit.", "audit_delivery"),
    ("security.failed_access", "failed_access"),
    ("security.secret_access_anomaly", "secret_access_anomaly"),
    ("security.large_download", "large_download"),
    ("audit.", "audit"),
)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of ``YYYY-MM`` in UTC; UsageError for anything else."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise UsageError(
            f"--month {month!r} is not YYYY-MM", where="--month", fix="e.g. --month 2026-11"
        ) from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def previous_month(month: str) -> str:
    start, _ = month_bounds(month)
    prev = date(start.year - 1, 12, 1) if start.month == 1 else date(start.year, start.month - 1, 1)
    return f"{prev:%Y-%m}"


def _pct(n: int, d: int) -> float | None:
    return round(100.0 * n / d, 1) if d else None


@dataclass
class CatalogFigures:
    catalog: str
    tables: int = 0
    classified: int = 0
    owner_and_steward: int = 0
    pii_columns: int = 0
    pii_masked: int = 0
    grants: int = 0
    grants_reviewed: int = 0
    expired_revoked: int = 0

    def shares(self) -> dict[str, float | None]:
        return {
            "classified_pct": _pct(self.classified, self.tables),
            "owner_and_steward_pct": _pct(self.owner_and_steward, self.tables),
            "pii_masked_pct": _pct(self.pii_masked, self.pii_columns),
            "grants_reviewed_pct": _pct(self.grants_reviewed, self.grants),
        }


@dataclass
class WorkspaceFigures:
    workspace: str
    secret_findings: dict[str, int] = field(default_factory=dict)  # rule-id prefix → count
    audit_anomalies: dict[str, int] = field(default_factory=dict)
    new_findings: int = 0


def finding_totals(workspaces: list[WorkspaceFigures]) -> dict[str, int]:
    """Token, identity and secret findings apart (the issue's "token and secret findings"),
    and audit anomalies, summed over the workspaces."""
    areas: Counter[str] = Counter()
    for w in workspaces:
        areas.update(w.secret_findings)
    return {
        "token_findings": areas["token"],
        "identity_findings": areas["identity"],
        "secret_findings": areas["secret"],
        "audit_anomalies": sum(sum(w.audit_anomalies.values()) for w in workspaces),
    }


@dataclass
class ComplianceReport:
    month: str
    generated_at: datetime
    catalogs: list[CatalogFigures]
    workspaces: list[WorkspaceFigures]
    previous: dict[str, Any] | None  # the previous month's totals (None: nothing to compare)
    notes: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        sums: Counter[str] = Counter()
        for c in self.catalogs:
            sums.update({k: v for k, v in asdict(c).items() if isinstance(v, int)})
        tot = CatalogFigures("*", **dict(sums))
        return {
            **{k: v for k, v in asdict(tot).items() if k != "catalog"},
            **tot.shares(),
            **finding_totals(self.workspaces),
        }

    def trend(self) -> dict[str, Any]:
        """Each total's change against the previous month (None where unknown)."""
        now, prev = self.totals(), self.previous or {}
        return {
            k: (
                round(v - prev[k], 1)
                if isinstance(v, int | float) and isinstance(prev.get(k), int | float)
                else None
            )
            for k, v in now.items()
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "generated_at": self.generated_at.isoformat(),
            "totals": self.totals(),
            "previous": self.previous,
            "trend": self.trend(),
            "catalogs": [{**asdict(c), **c.shares()} for c in self.catalogs],
            "workspaces": [asdict(w) for w in self.workspaces],
            "notes": self.notes,
        }


def _catalog_figures(
    tables: Sequence[TableInfo], grants: Sequence[Grant]
) -> dict[str, CatalogFigures]:
    out: dict[str, CatalogFigures] = {}
    for t in tables:
        f = out.setdefault(t.catalog_name, CatalogFigures(t.catalog_name))
        f.tables += 1
        label = str(t.tags.get("classification") or "").lower()
        f.classified += label in LABELS
        steward = t.tags.get("steward") or t.properties.get("steward")
        f.owner_and_steward += bool(t.owner.strip() and steward)
        for c in t.columns:
            if c.tags.get("pii") and str(c.tags["pii"]).lower() not in ("false", "no", "0"):
                f.pii_columns += 1
                f.pii_masked += bool(c.mask or c.tags.get("masking"))
    for g in grants:  # a catalog or schema grant counts once, in its catalog
        cat = g.securable_name.split(".")[0]
        if cat not in OWN_CATALOGS:
            out.setdefault(cat, CatalogFigures(cat)).grants += 1
    return out


def _in(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def _open_during(f: FindingRow, start: datetime, end: datetime) -> bool:
    return f.first_seen < end and (f.resolved_at is None or f.resolved_at >= start)


def _prefix(rule_id: str, areas: Iterable[tuple[str, str]]) -> str | None:
    return next((area for p, area in areas if rule_id.startswith(p)), None)


def _workspace_figures(
    findings: Sequence[FindingRow], start: datetime, end: datetime
) -> list[WorkspaceFigures]:
    by_ws: dict[str, WorkspaceFigures] = {}
    for f in findings:
        if not _open_during(f, start, end):
            continue
        w = by_ws.setdefault(f.workspace, WorkspaceFigures(f.workspace))
        w.new_findings += _in(f.first_seen, start, end)
        for prefixes, bucket in (
            (SECRET_AREAS, w.secret_findings),
            (AUDIT_AREAS, w.audit_anomalies),
        ):
            p = _prefix(f.rule_id, prefixes)
            if p is not None:
                bucket[p] = bucket.get(p, 0) + 1
    return [by_ws[k] for k in sorted(by_ws)]


def _revoked_by_catalog(
    actions: Sequence[ActionRow], start: datetime, end: datetime
) -> Counter[str]:
    out: Counter[str] = Counter()
    for a in actions:
        if a.action == REVOKE_ACTION and a.status == "applied" and _in(a.updated_at, start, end):
            out[json.loads(a.target_json)["securable"].split(".")[0]] += 1
    return out


def compliance_month(
    month: str,
    *,
    tables: Sequence[TableInfo],
    grants: Sequence[Grant],
    findings: Sequence[FindingRow],
    actions: Sequence[ActionRow],
    reviews: Sequence[Mapping[str, Any]],
    previous_archive: Mapping[str, Any] | None,
    now: datetime,
) -> ComplianceReport:
    """The report of `month` (see the module doc). `reviews` are archived access reviews
    ({at, grants_by_catalog}); `previous_archive` the previous month's archived report."""
    start, end = month_bounds(month)
    notes = []
    cats = _catalog_figures([t for t in tables if t.catalog_name not in OWN_CATALOGS], grants)
    reviewed: dict[str, int] = defaultdict(int)
    for r in reviews:
        if _in(datetime.fromisoformat(str(r["at"])), start, end):
            for cat, n in dict(r.get("grants_by_catalog") or {}).items():
                reviewed[cat] = max(reviewed[cat], int(n))
    if not any(reviewed.values()):
        notes.append(f"no access review archived in {month} (run `lakecrew access review`)")
    for cat, n in _revoked_by_catalog(actions, start, end).items():
        cats.setdefault(cat, CatalogFigures(cat)).expired_revoked += n
    for cat, f in cats.items():
        f.grants_reviewed = min(reviewed.get(cat, 0), f.grants)
    if end > now:
        notes.append(f"{month} is not over: figures up to {now:%Y-%m-%d %H:%M} UTC")
    previous = dict(previous_archive["totals"]) if previous_archive else None
    if previous is None:
        notes.append(
            f"no archived report for {previous_month(month)}: no trend for catalog figures"
        )
    report = ComplianceReport(
        month,
        now,
        [cats[k] for k in sorted(cats)],
        _workspace_figures(findings, start, end),
        previous,
        notes,
    )
    if previous is None:  # ledger figures of the previous month can still be compared
        p_start, p_end = month_bounds(previous_month(month))
        prev_ws = _workspace_figures(findings, p_start, p_end)
        report.previous = {
            **finding_totals(prev_ws),
            "expired_revoked": sum(_revoked_by_catalog(actions, p_start, p_end).values()),
        }
    return report
