"""SIEM forwarding (SOP 1.4.4): findings and security events as OCSF JSON, through the outbox.

`ocsf_findings(n)` maps each AlertItem of a notification to an OCSF 1.1 *Detection Finding*
(class_uid 2004, category 2 "Findings"): `activity_id` 1 Create (new), 2 Update (changed,
escalated, action), 3 Close (resolved); `severity_id` from lakecrew's severity; `finding_info`
with the finding's fingerprint as `uid`, its title and rule id; the resource and workspace in
`resources` / `cloud`; `metadata.uid` = ``<notification id>:<n>``, stable across the outbox's
retries, so a SIEM can drop a duplicate delivery. Evidence is already masked upstream.

Channels (each a Notifier the durable outbox drives, so retries, backoff and dead letters are the
outbox's):

- `SiemFileChannel(name, path)`: appends one OCSF event per line (JSON lines), flushed and
  fsynced before it answers delivered;
- `SplunkHecChannel(name, url, token, index=None)`: POSTs the events to Splunk's HTTP Event
  Collector (``/services/collector/event``, ``Authorization: Splunk <token>``), batched as HEC
  accepts them — JSON objects one after another, each ``{"time", "host", "source",
  "sourcetype", "index"?, "event"}``. 429/5xx are retried by the outbox; 400/401/403 are
  permanent (a bad token will not heal).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from lakecrew.adapters.notify.http import post_json
from lakecrew.ports.notify import AlertItem, Delivery, Notification

OCSF_VERSION = "1.1.0"
_ACTIVITY = {"new": 1, "changed": 2, "escalated": 2, "action": 2, "resolved": 3, "test": 99}
_SEVERITY = {"info": 1, "low": 2, "warning": 3, "medium": 3, "high": 4, "critical": 5}
_STATUS = {"resolved": 4}  # OCSF status_id: 1 New, 2 In Progress, 4 Resolved


def ocsf_finding(n: Notification, item: AlertItem, index: int, now: datetime) -> dict[str, Any]:
    """One OCSF Detection Finding for one alert item (see the module doc)."""
    activity = _ACTIVITY.get(item.event, 99)
    severity = _SEVERITY.get(item.severity.lower(), 0)
    return {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity,
        "type_uid": 2004 * 100 + activity,
        "severity_id": severity,
        "severity": item.severity,
        "status_id": _STATUS.get(item.event, 1),
        "time": int(now.timestamp() * 1000),
        "message": item.title,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": f"{n.notification_id}:{index}",
            "product": {"name": "lakecrew", "vendor_name": "lakecrew"},
            "labels": [item.environment, item.project],
        },
        "finding_info": {
            "uid": item.fingerprint,
            "title": item.title,
            "types": [item.rule_id],
            "desc": item.fix,
            "src_url": item.sop_section,
        },
        "resources": [
            {
                "uid": item.resource_id,
                "type": item.resource_type,
                "name": item.resource_name or item.resource_id,
                "owner": {"name": item.owner},
            }
        ],
        "cloud": {"provider": "Databricks", "account": {"name": item.workspace}},
        "unmapped": {"evidence": item.evidence, "event": item.event},
    }


def ocsf_findings(n: Notification, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every item of `n` as an OCSF event (a notification without items: none)."""
    at = now or datetime.now(UTC)
    return [ocsf_finding(n, item, i, at) for i, item in enumerate(n.items)]


class SiemFileChannel:
    """Appends OCSF events as JSON lines to `path` (created with its folder)."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def send(self, notification: Notification) -> Delivery:
        lines = "".join(
            json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n"
            for e in ocsf_findings(notification)
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(lines)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            return Delivery(False, f"cannot append to {self.path} ({exc.strerror})")
        return Delivery(True)


class SplunkHecChannel:
    """POSTs OCSF events to a Splunk HTTP Event Collector (see the module doc)."""

    def __init__(
        self,
        name: str,
        url: str,
        token: SecretStr,
        *,
        index: str | None = None,
        sourcetype: str = "ocsf:detection_finding",
    ) -> None:
        self.name = name
        self._endpoint = url.rstrip("/") + "/services/collector/event"
        self._token = token
        self._index = index
        self._sourcetype = sourcetype
        self._session = requests.Session()

    def send(self, notification: Notification) -> Delivery:
        events = ocsf_findings(notification)
        if not events:
            return Delivery(True)
        batch = []
        for e in events:
            wrapped: dict[str, Any] = {
                "time": e["time"] / 1000,
                "host": notification.workspace,
                "source": "lakecrew",
                "sourcetype": self._sourcetype,
                "event": e,
            }
            if self._index:
                wrapped["index"] = self._index
            batch.append(json.dumps(wrapped, ensure_ascii=False, sort_keys=True))
        headers = {"Authorization": f"Splunk {self._token.get_secret_value()}"}
        result, _ = post_json(
            self._session,
            self._endpoint,
            None,
            "splunk hec",
            headers,
            raw="\n".join(batch).encode(),
        )
        return result
