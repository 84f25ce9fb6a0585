"""Wire formats of the channels, built from a Notification, with untrusted text escaped.

Resource names, evidence and comments come from workspaces people edit: every format escapes
them so they cannot ping a channel, inject markup or break the layout.

- Slack mrkdwn: `&`, `<`, `>` → entities (Slack's documented escaping: this defuses `<!channel>`,
  `<@U…>` and links); `@` + word gets a word joiner (no `@here`/`@channel` mention with
  link_names); `*_~\\`` get a zero-width space before them (mrkdwn has no escape character).
- Adaptive Card (Teams) TextBlock Markdown: backslash before Markdown characters, `@` as above.
- HTML e-mail: `html.escape`; plain text as is.
- JSON (PagerDuty, webhook) and Jira's ADF text nodes carry text, not markup.
"""

from __future__ import annotations

import html
import re
from typing import Any

from lakecrew.ports.notify import AlertItem, Notification, summary_label

SEVERITY_ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
_AT = re.compile(r"@(?=\w)")
_SLACK_MD = re.compile(r"([*_~`])")
_CARD_MD = re.compile(r"([\\*_~`\[\]()#>+\-!|{}])")
MAX_SLACK_ITEMS = 10  # 4 blocks per item: 40 + header/context stay under Slack's 50 blocks
MAX_SECTION = 2900  # Slack: 3000 characters per section text


def slack_escape(text: str) -> str:
    """Text safe inside Slack mrkdwn (no mentions, links or formatting from `text`)."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _AT.sub("@\u2060", out)
    return _SLACK_MD.sub("\u200b\\1", out)


def plain_escape(text: str) -> str:
    """Text for Slack `plain_text` (no entities there): break `<!…>` and `@word` mentions."""
    return _AT.sub("@\u2060", text.replace("<", "<\u200b"))


def card_escape(text: str) -> str:
    """Text safe inside an Adaptive Card TextBlock (Markdown subset)."""
    return _AT.sub("@\u2060", _CARD_MD.sub(r"\\\1", text))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_url(target: str) -> bool:
    return target.startswith(("https://", "http://"))


def resource_label(i: AlertItem) -> str:
    name = f" ({i.resource_name})" if i.resource_name and i.resource_name != i.resource_id else ""
    return f"{i.resource_type} {i.resource_id}{name}"


def headline(n: Notification) -> str:
    """The one-line summary (Slack fallback text, e-mail subject, PagerDuty summary)."""
    if n.kind == "test":
        return f"[lakecrew TEST] {n.subject}"
    if len(n.items) == 1:
        i = n.items[0]
        verb = {"resolved": "RESOLVED", "escalated": "ESCALATED", "changed": "UPDATED"}.get(
            i.event, i.severity.upper()
        )
        return f"[{verb}] {i.title}: {resource_label(i)} ({i.workspace})"
    return n.subject


# ------------------------------------------------------------------------------ Slack


def slack_blocks(n: Notification) -> list[dict[str, Any]]:
    """Block Kit: header, then per item a fields section (severity, rule, resource, owner, SOP,
    workspace), evidence, fix and a context line with the fingerprint and commands."""
    icon = SEVERITY_ICON.get(n.severity, "⚪")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(f"{icon} {plain_escape(headline(n))}", 150),
            },
        }
    ]
    if n.summary:
        blocks.append(
            _slack_section(f"*{slack_escape(summary_label(n))}*\n{slack_escape(n.summary)}")
        )
    if not n.items:
        blocks.append(_slack_section(slack_escape(n.body) or "(no details)"))
    for i in n.items[:MAX_SLACK_ITEMS]:
        blocks += _slack_item(i)
    if len(n.items) > MAX_SLACK_ITEMS:
        more = len(n.items) - MAX_SLACK_ITEMS
        blocks.append(_slack_section(f"… and {more} more (see `lakecrew findings`)"))
    return blocks


def _slack_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


def _slack_item(i: AlertItem) -> list[dict[str, Any]]:
    fields = [
        ("Severity", i.severity),
        ("Rule", i.rule_id),
        ("Resource", resource_label(i)),
        ("Owner", i.owner),
        ("SOP section", i.sop_section),
        ("Workspace", i.workspace),
    ]
    out: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(f"*{slack_escape(i.title)}*", MAX_SECTION)},
            "fields": [
                {"type": "mrkdwn", "text": clip(f"*{k}*\n{slack_escape(v)}", 1900)}
                for k, v in fields
            ],
        },
        _slack_section(f"*Evidence*\n```{slack_escape(i.evidence)}```"),
        _slack_section(f"*Fix*\n{slack_escape(i.fix)}"),
    ]
    context = [f"fingerprint `{i.fingerprint[:16]}`", f"event {i.event}"]
    context += [
        f"{slack_escape(label)}: `{slack_escape(t)}`" for label, t in i.links if not is_url(t)
    ]
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    urls = [(label, t) for label, t in i.links if is_url(t)]
    if urls:
        out.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": clip(plain_escape(label), 75)},
                        "url": t,
                    }
                    for label, t in urls[:5]
                ],
            }
        )
    return out


# ------------------------------------------------------------------------------ Teams


def adaptive_card(n: Notification) -> dict[str, Any]:
    """A Workflows webhook message: one Adaptive Card 1.4 attachment."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "text": card_escape(headline(n)),
            "color": "Attention" if n.severity == "critical" else "Default",
        }
    ]
    if n.summary:
        body += [
            {
                "type": "TextBlock",
                "wrap": True,
                "isSubtle": True,
                "text": card_escape(summary_label(n)),
            },
            {"type": "TextBlock", "wrap": True, "text": card_escape(n.summary)},
        ]
    if not n.items:
        body.append({"type": "TextBlock", "wrap": True, "text": card_escape(n.body)})
    actions: list[dict[str, Any]] = []
    for i in n.items[:MAX_SLACK_ITEMS]:
        body += [
            {"type": "TextBlock", "weight": "Bolder", "wrap": True, "text": card_escape(i.title)},
            {
                "type": "FactSet",
                "facts": [
                    {"title": k, "value": card_escape(v)}
                    for k, v in (
                        ("Severity", i.severity),
                        ("Rule", i.rule_id),
                        ("Resource", resource_label(i)),
                        ("Owner", i.owner),
                        ("SOP section", i.sop_section),
                        ("Workspace", i.workspace),
                        ("Fingerprint", i.fingerprint[:16]),
                    )
                ],
            },
            {
                "type": "TextBlock",
                "wrap": True,
                "fontType": "Monospace",
                "text": card_escape(i.evidence),
            },
            {"type": "TextBlock", "wrap": True, "text": "Fix: " + card_escape(i.fix)},
        ]
        body += [
            {
                "type": "TextBlock",
                "wrap": True,
                "isSubtle": True,
                "text": card_escape(f"{label}: {t}"),
            }
            for label, t in i.links
            if not is_url(t)
        ]
        actions += [
            {"type": "Action.OpenUrl", "title": label, "url": t}
            for label, t in i.links
            if is_url(t)
        ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions[:5]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


# ------------------------------------------------------------------------------ e-mail


def email_text(n: Notification) -> str:
    if not n.items:
        return f"{headline(n)}\n\n{n.body}\n"
    parts = [headline(n), ""]
    if n.summary:
        parts += [summary_label(n) + ":", n.summary, ""]
    for i in n.items:
        parts += [
            f"* {i.title}",
            f"  severity: {i.severity}   rule: {i.rule_id}   SOP: {i.sop_section}",
            f"  resource: {resource_label(i)} in {i.workspace}",
            f"  owner: {i.owner}",
            f"  evidence: {i.evidence}",
            f"  fix: {i.fix}",
            *[f"  {label}: {t}" for label, t in i.links],
            f"  fingerprint: {i.fingerprint}",
            "",
        ]
    return "\n".join(parts)


def email_html(n: Notification) -> str:
    e = html.escape
    if not n.items:
        return f"<h2>{e(headline(n))}</h2><pre>{e(n.body)}</pre>"
    rows = []
    for i in n.items:
        links = "".join(
            f'<li><a href="{e(t)}">{e(label)}</a></li>'
            if is_url(t)
            else f"<li>{e(label)}: <code>{e(t)}</code></li>"
            for label, t in i.links
        )
        rows.append(
            f"<h3>{e(i.title)}</h3><table>"
            f"<tr><th>Severity</th><td>{e(i.severity)}</td></tr>"
            f"<tr><th>Rule</th><td>{e(i.rule_id)} (SOP {e(i.sop_section)})</td></tr>"
            f"<tr><th>Resource</th><td>{e(resource_label(i))} in {e(i.workspace)}</td></tr>"
            f"<tr><th>Owner</th><td>{e(i.owner)}</td></tr></table>"
            f"<p><b>Evidence</b></p><pre>{e(i.evidence)}</pre>"
            f"<p><b>Fix</b>: {e(i.fix)}</p><ul>{links}</ul>"
            f"<p><small>fingerprint {e(i.fingerprint)}</small></p>"
        )
    summary = f"<p><i>{e(summary_label(n))}</i></p><p>{e(n.summary)}</p>" if n.summary else ""
    return f"<html><body><h2>{e(headline(n))}</h2>{summary}{''.join(rows)}</body></html>"


# ------------------------------------------------------------------------------ JSON


def plain_item(i: AlertItem) -> dict[str, Any]:
    return {
        "fingerprint": i.fingerprint,
        "event": i.event,
        "severity": i.severity,
        "rule": i.rule_id,
        "title": i.title,
        "sop_section": i.sop_section,
        "resource_type": i.resource_type,
        "resource_id": i.resource_id,
        "resource_name": i.resource_name,
        "workspace": i.workspace,
        "environment": i.environment,
        "project": i.project,
        "owner": i.owner,
        "evidence": i.evidence,
        "fix": i.fix,
        "links": [{"label": label, "target": t} for label, t in i.links],
    }


def webhook_body(n: Notification) -> dict[str, Any]:
    """The generic webhook's JSON (versioned; the signature covers these exact bytes)."""
    return {
        "version": "1",
        "id": n.notification_id,
        "kind": n.kind,
        "severity": n.severity,
        "subject": headline(n),
        "workspace": n.workspace,
        "owner": n.owner,
        "body": n.body,
        "summary": n.summary,
        "summary_by": n.summary_by,
        "items": [plain_item(i) for i in n.items],
    }
