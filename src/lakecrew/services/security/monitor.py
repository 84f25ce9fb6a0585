"""The security monitor: system.access.audit → incidents → `audit` resources with signals.

Three Databricks SQL queries (run through the SqlEngine port, so they work on the local engine and
on a SQL warehouse) aggregate one workspace's audit events over `detect_days + baseline_days`;
the detectors (`detectors.py`) judge them against the pack's `security:` thresholds.

Incidents of one code, workspace and day become ONE resource of type `audit` with id
`<code>:<workspace name>:<YYYY-MM-DD>` (the day of the first suspicious event) and
`signals: [{code, principals, events, first, last, reasons}]`; the pack's `security.*` rules
(check `detector_signal`) turn them into findings. Evidence names principals and scopes, never
secret keys or values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from lakecrew.core.errors import TableMissing
from lakecrew.core.pack import Security
from lakecrew.core.resources import Resource
from lakecrew.ports.clock import Clock
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.security import detectors
from lakecrew.services.security.detectors import Incident

FAILED_SQL = """
SELECT workspace_id, user_identity.email AS principal,
       date_trunc('HOUR', event_time) AS hour, count(*) AS failures,
       min(event_time) AS first_at, max(event_time) AS last_at
FROM system.access.audit
WHERE workspace_id = :ws AND event_time >= :since AND event_time < :until
  AND response.status_code IN ({codes})
GROUP BY workspace_id, user_identity.email, date_trunc('HOUR', event_time)
"""
SECRETS_SQL = """
SELECT workspace_id, user_identity.email AS principal, request_params['scope'] AS scope,
       event_date AS day, hour(event_time) AS hour, count(*) AS reads,
       min(event_time) AS first_at, max(event_time) AS last_at
FROM system.access.audit
WHERE workspace_id = :ws AND event_time >= :since AND event_time < :until
  AND service_name = 'secrets' AND action_name = 'getSecret'
GROUP BY workspace_id, user_identity.email, request_params['scope'], event_date, hour(event_time)
"""
DOWNLOADS_SQL = """
SELECT workspace_id, user_identity.email AS principal, event_date AS day,
       count(*) AS downloads,
       sum(coalesce(try_cast(request_params['sizeBytes'] AS BIGINT), 0)) AS total_bytes,
       max(coalesce(try_cast(request_params['sizeBytes'] AS BIGINT), 0)) AS max_bytes,
       min(event_time) AS first_at, max(event_time) AS last_at
FROM system.access.audit
WHERE workspace_id = :ws AND event_time >= :since AND event_time < :until
  AND action_name IN ({actions})
GROUP BY workspace_id, user_identity.email, event_date
"""


def _in_list(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """`:p0, :p1, ...` markers and their bound values (values are never pasted into SQL)."""
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params), params


class SecurityMonitor:
    """Runs the three detectors for one workspace at a time."""

    def __init__(self, sql: SqlEngine, clock: Clock, settings: Security) -> None:
        self.sql = sql
        self.clock = clock
        self.settings = settings

    def _fetch(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            return self.sql.fetch(sql, params).as_dicts()
        except TableMissing:
            return []  # a project without system tables

    def incidents(self, workspace_id: str) -> list[Incident]:
        """Every incident of the workspace inside the detection window, oldest first."""
        s = self.settings
        now = self.clock.now()
        since = now - timedelta(days=s.detect_days)
        window = {
            "ws": workspace_id,
            "since": since - timedelta(days=s.baseline_days),
            "until": now,
        }
        codes, code_params = _in_list("c", s.failed_access.status_codes)
        actions, action_params = _in_list("a", s.downloads.actions)
        found = [
            *detectors.failed_access(
                self._fetch(FAILED_SQL.format(codes=codes), {**window, **code_params}),
                s.failed_access,
                since,
                s.baseline_days,
            ),
            *detectors.secret_reads(
                self._fetch(SECRETS_SQL, window), s.secret_reads, since, s.baseline_days
            ),
            *detectors.downloads(
                self._fetch(DOWNLOADS_SQL.format(actions=actions), {**window, **action_params}),
                s.downloads,
                since,
                s.baseline_days,
            ),
        ]
        return sorted(found, key=lambda i: (i.first_at, i.code, i.principal))

    def resources(self, workspace_id: str | None, workspace: str) -> list[Resource]:
        """The workspace's incidents as `audit` resources (none without a workspace id)."""
        if not workspace_id:
            return []
        return incident_resources(self.incidents(workspace_id), workspace)


def incident_resources(incidents: Sequence[Incident], workspace: str) -> list[Resource]:
    """One `audit` resource per (code, day): id `<code>:<workspace>:<YYYY-MM-DD>`."""
    groups: dict[str, list[Incident]] = defaultdict(list)
    for inc in incidents:
        groups[f"{inc.code}:{workspace}:{inc.day.isoformat()}"].append(inc)
    out = []
    for rid, items in sorted(groups.items()):
        code = items[0].code
        signal: dict[str, Any] = {
            "code": code,
            "principals": sorted({i.principal for i in items}),
            "events": sum(i.events for i in items),
            "first": _iso(min(i.first_at for i in items)),
            "last": _iso(max(i.last_at for i in items)),
            "reasons": sorted({r for i in items for r in i.reasons}),
        }
        scopes = sorted({str(i.details["scope"]) for i in items if "scope" in i.details})
        if scopes:
            signal["scopes"] = scopes
        data = {"id": rid, "code": code, "day": items[0].day.isoformat(), "signals": [signal]}
        out.append(Resource("audit", rid, workspace, data, rid))
    return out


def _iso(at: datetime) -> str:
    return at.isoformat()
