"""Audit delivery verification (SOP 3.1.7, 1.4.4): are audit logs configured and arriving?

`check_audit_delivery(sql, workspace, workspace_id, now, ...)`:

- reads the hours of the last `lookback_days` that hold rows of `system.access.audit` for the
  workspace (one aggregate query through the SqlEngine port: the local engine or a SQL
  warehouse) and reports
  ``security.audit.no_rows`` — no audit row at all in the window;
  ``security.audit.delivery_gap`` — the newest row is older than `max_gap_hours`, or two
  consecutive hours with rows are more than `max_gap_hours` apart (the longest gap is given);
- judges the account's log delivery configurations when given (`GET /api/2.0/accounts/{id}/
  log-delivery`, as exported): ``security.audit.no_log_delivery`` — no ENABLED ``AUDIT_LOGS``
  configuration covering the workspace (an empty ``workspace_ids_filter`` covers all);
  without them, log delivery is reported as not checked (an account-level API), never as fine.
  `delivery` (a LogDeliveryReader: the account API through the SDK) reads them instead of an
  export; an API answering 401/403/404 leaves the check *unseen* (`report.unseen`: api, cause,
  what), never "not configured".
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lakecrew.core.errors import Unavailable
from lakecrew.ports.identity import LogDeliveryReader
from lakecrew.ports.sql import SqlEngine

NO_LOG_DELIVERY = "security.audit.no_log_delivery"

HOURS_SQL = """
SELECT date_trunc('HOUR', event_time) AS hour, count(*) AS events
FROM system.access.audit
WHERE workspace_id = :ws AND event_time >= :since AND event_time < :until
GROUP BY date_trunc('HOUR', event_time)
"""


@dataclass
class AuditDeliveryReport:
    workspace: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    last_event: datetime | None = None
    hours_with_rows: int = 0
    events: int = 0
    not_checked: list[str] = field(default_factory=list)
    unseen: list[dict[str, str]] = field(default_factory=list)  # api, cause, what


def _naive(ts: Any) -> datetime:
    return ts.replace(tzinfo=None) if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))


def check_audit_delivery(
    sql: SqlEngine,
    workspace: str,
    workspace_id: str,
    now: datetime,
    *,
    max_gap_hours: float = 24,
    lookback_days: int = 7,
    log_delivery: Sequence[Mapping[str, Any]] | None = None,
    delivery: LogDeliveryReader | None = None,
) -> AuditDeliveryReport:
    """See the module doc."""
    report = AuditDeliveryReport(workspace)
    res = f"workspace/{workspace}"
    until = now.replace(tzinfo=None)
    since = until - timedelta(days=lookback_days)
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)  # a warehouse refuses naive times
    window = {"ws": workspace_id, "since": aware - timedelta(days=lookback_days), "until": aware}
    rows = sql.fetch(HOURS_SQL, window).rows
    hours = sorted(_naive(h) for h, _ in rows)
    report.hours_with_rows = len(hours)
    report.events = int(sum(int(n) for _, n in rows))
    if not hours:
        report.findings.append(
            {
                "rule_id": "security.audit.no_rows",
                "resource": res,
                "message": f"no system.access.audit rows for {workspace} in {lookback_days} days",
                "evidence": {"since": since.isoformat(), "workspace_id": workspace_id},
            }
        )
    else:
        report.last_event = hours[-1]
        _gaps(report, res, hours, until, max_gap_hours)
    if log_delivery is None and delivery is not None:
        try:
            log_delivery = delivery.log_delivery()
        except Unavailable as exc:
            report.unseen.append({"api": exc.api, "cause": exc.cause, "what": exc.what})
            report.not_checked.append(f"{NO_LOG_DELIVERY} (unseen: {exc.what})")
            return report
    _log_delivery(report, res, workspace_id, log_delivery)
    return report


def _gaps(
    report: AuditDeliveryReport, res: str, hours: list[datetime], until: datetime, limit: float
) -> None:
    stale = (until - hours[-1]).total_seconds() / 3600 - 1  # the last hour bucket may be open
    edges = [((b - a).total_seconds() / 3600 - 1, a, b) for a, b in itertools.pairwise(hours)]
    longest = max(edges, default=(0.0, hours[0], hours[0]))
    if stale > limit:
        report.findings.append(
            {
                "rule_id": "security.audit.delivery_gap",
                "resource": res,
                "message": f"newest audit row is {stale:.0f} hours old (limit {limit:g})",
                "evidence": {"last_hour": hours[-1].isoformat(), "gap_hours": round(stale, 1)},
            }
        )
    elif longest[0] > limit:
        gap, start, end = longest
        report.findings.append(
            {
                "rule_id": "security.audit.delivery_gap",
                "resource": res,
                "message": f"no audit rows for {gap:.0f} hours between {start:%Y-%m-%d %H}h and"
                f" {end:%Y-%m-%d %H}h (limit {limit:g})",
                "evidence": {"from": start.isoformat(), "to": end.isoformat(), "gap_hours": gap},
            }
        )


def _log_delivery(
    report: AuditDeliveryReport,
    res: str,
    workspace_id: str,
    configs: Sequence[Mapping[str, Any]] | None,
) -> None:
    if configs is None:
        report.not_checked.append(
            f"{NO_LOG_DELIVERY} (account log-delivery configuration not given: an `account:`"
            " section in lakecrew.yaml, or --log-delivery FILE)"
        )
        return
    covering = [
        c
        for c in configs
        if str(c.get("log_type", "")).upper() == "AUDIT_LOGS"
        and str(c.get("status", "")).upper() == "ENABLED"
        and (
            not c.get("workspace_ids_filter")
            or workspace_id in {str(w) for w in c.get("workspace_ids_filter") or ()}
        )
    ]
    if not covering:
        report.findings.append(
            {
                "rule_id": NO_LOG_DELIVERY,
                "resource": res,
                "message": "no enabled AUDIT_LOGS log delivery covers this workspace",
                "evidence": {"configurations": len(configs)},
            }
        )
