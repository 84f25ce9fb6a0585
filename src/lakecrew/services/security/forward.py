"""Security findings (identity, secrets, audit delivery) as alert items for the durable outbox.

`security_notification(...)` wraps the findings of one check run into one `Notification` whose
items a SIEM channel (`adapters/notify/siem.py`: OCSF JSON lines, Splunk HEC) or any other
channel renders; `forward(store, channel, notification, now)` queues it in the outbox, where the
Dispatcher delivers it with retries, backoff and dead letters (nothing is sent directly). The
notification id is a digest of the findings' fingerprints, so re-running a check queues nothing
new until its findings change (the outbox keeps one message per id and channel).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lakecrew.core.redact import redact, redact_text
from lakecrew.ports.notify import AlertItem, Notification
from lakecrew.ports.outbox import OutboxStore
from lakecrew.services.notify.messages import message_key, queue

SOP_SECTION = {
    "security.token": "1.4.3",
    "security.identity": "1.4.3",
    "security.workspace_conf": "1.1.4",
    "security.network": "1.1.4",
    "security.cluster": "1.2.8",
    "security.policy": "1.2.8",
    "security.secret": "1.4.2",
    "security.audit": "1.4.4",
}


def _fingerprint(workspace: str, rule_id: str, resource: str) -> str:
    return hashlib.sha256(f"{workspace}\x1f{rule_id}\x1f{resource}".encode()).hexdigest()[:32]


def security_notification(
    workspace: str,
    environment: str,
    findings: Sequence[Mapping[str, Any]],
    *,
    project: str = "",
    owner: str = "security-operations",
    severity: str = "high",
) -> Notification:
    """One notification holding `findings` (rule_id, resource, message, evidence each)."""
    items = []
    for f in findings:
        rule, resource = str(f["rule_id"]), str(f["resource"])
        section = next((v for k, v in SOP_SECTION.items() if rule.startswith(k)), "1.4")
        items.append(
            AlertItem(
                fingerprint=_fingerprint(workspace, rule, resource),
                event="new",
                severity=str(f.get("severity", severity)),
                rule_id=rule,
                title=redact_text(str(f["message"])),
                sop_section=f"SOP {section}",
                resource_type=resource.split("/", 1)[0],
                resource_id=resource,
                resource_name=None,
                workspace=workspace,
                environment=environment,
                project=project,
                owner=owner,
                evidence=redact_text(
                    json.dumps(redact(dict(f.get("evidence") or {})), default=str)
                ),
                fix=str(f.get("fix", "")),
            )
        )
    nid = message_key(workspace, *sorted(i.fingerprint for i in items))
    subject = f"{len(items)} security finding(s) on {workspace}"
    return Notification(nid, workspace, owner, severity, subject, subject, tuple(items), "alert")


def forward(store: OutboxStore, channel: str, notification: Notification, now: datetime) -> int:
    """Queue `notification` for `channel`; the number of messages newly queued (0 or 1)."""
    if not notification.items:
        return 0
    return store.put([queue(channel, notification, now)])
