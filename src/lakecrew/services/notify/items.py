"""AlertItems from the crew's findings and actions, with every text passed through `scrub`.

`scrub` is the one place outgoing text is redacted before it reaches a channel or a tracker
(secret-looking values by shape; evidence was masked by key name upstream). When the shared
redactor (secrets + PII) lands, it replaces the body of `scrub` and nothing else changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from lakecrew.core.findings import mask_secrets
from lakecrew.ports.ledger import ActionRow, FindingRow
from lakecrew.ports.notify import AlertItem, Links
from lakecrew.services.crew.policy_step import TrackedFinding, evidence_json


def scrub(text: str) -> str:
    """Outgoing text with secret-looking values redacted."""
    out = mask_secrets(text)
    return out if isinstance(out, str) else str(out)


def scrub_evidence(raw: str) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return scrub(raw)
    return json.dumps(mask_secrets(data), sort_keys=True, default=str)


def action_links(fingerprint: str, actions: Sequence[ActionRow], severity: str) -> Links:
    """Rollback / approve commands of a finding's actions, and the ack command if critical."""
    links: list[tuple[str, str]] = []
    for a in actions:
        if a.status == "applied":
            links.append((f"roll back {a.action}", f"lakecrew rollback {a.action_id}"))
        elif a.status == "awaiting_approval":
            links.append((f"approve {a.action}", f"lakecrew approve {a.action_id} --approver NAME"))
    if severity == "critical":
        links.append(("acknowledge", f"lakecrew ack {fingerprint}"))
    return tuple(links)


def finding_item(
    tf: TrackedFinding,
    event: str,
    *,
    environment: str,
    project: str,
    actions: Sequence[ActionRow] = (),
) -> AlertItem:
    f = tf.finding
    return AlertItem(
        fingerprint=f.fingerprint,
        event=event,
        severity=f.severity,
        rule_id=f.rule_id,
        title=scrub(f.title or f.rule_id),
        sop_section=f.sop_section,
        resource_type=f.resource_type,
        resource_id=scrub(f.resource_id),
        resource_name=scrub(f.resource_name) if f.resource_name else None,
        workspace=f.workspace,
        environment=environment,
        project=project,
        owner=tf.owner,
        evidence=scrub_evidence(evidence_json(f)),
        fix=scrub(f.remediation),
        links=action_links(f.fingerprint, actions, f.severity),
    )


def row_item(
    row: FindingRow, event: str, *, environment: str, project: str, fix: str = ""
) -> AlertItem:
    """An item from a ledger row (resolved findings, escalations, digests)."""
    return AlertItem(
        fingerprint=row.fingerprint,
        event=event,
        severity=row.severity,
        rule_id=row.rule_id,
        title=scrub(row.title or row.rule_id),
        sop_section="",
        resource_type=row.resource_type,
        resource_id=scrub(row.resource_id),
        resource_name=scrub(row.resource_name) if row.resource_name else None,
        workspace=row.workspace,
        environment=environment,
        project=project,
        owner=row.owner,
        evidence=scrub_evidence(row.evidence_json),
        fix=fix,
        links=action_links(row.fingerprint, (), row.severity) if event != "resolved" else (),
    )


def sweep_items(
    findings: Sequence[TrackedFinding],
    resolved: Sequence[FindingRow],
    actions: Sequence[ActionRow],
    prior_evidence: Mapping[str, str],
    *,
    environment: str,
    project: str,
) -> list[AlertItem]:
    """This sweep's news: new findings, open findings whose evidence changed or that gained an
    action (threaded updates), and resolved findings."""
    by_fp: dict[str, list[ActionRow]] = {}
    for a in actions:
        by_fp.setdefault(a.fingerprint, []).append(a)
    items: list[AlertItem] = []
    for tf in findings:
        if tf.status != "open":
            continue
        fp = tf.finding.fingerprint
        acted = by_fp.get(fp, [])
        if tf.new:
            event = "new"
        elif (
            prior_evidence.get(fp, evidence_json(tf.finding)) != evidence_json(tf.finding) or acted
        ):
            event = "changed"
        else:
            continue
        items.append(
            finding_item(tf, event, environment=environment, project=project, actions=acted)
        )
    items += [row_item(r, "resolved", environment=environment, project=project) for r in resolved]
    return items
