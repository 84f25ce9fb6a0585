"""The weekly or monthly access-review report (Markdown), from an AccessReview and the ledger."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from lakecrew.ports.ledger import ActionRow
from lakecrew.services.governance.access import GRANT_ACTION, REVOKE_ACTION
from lakecrew.services.governance.review import AccessReview, by_principal

MAX_ROWS = 200


def review_markdown(rev: AccessReview, actions: Sequence[ActionRow], *, period: str) -> str:
    """Counts per flag, temporary grants given and revoked in the period, flagged grants by
    principal (at most MAX_ROWS rows; the JSON output has them all)."""
    start = rev.at - timedelta(days=7 if period == "week" else 30)
    recent = [a for a in actions if a.status == "applied" and a.updated_at >= start]
    out = [
        f"# Access review — {period} ending {rev.at:%Y-%m-%d}",
        "",
        f"{len(rev.grants)} grant(s) reviewed; last use read from {rev.window_days} days of "
        f"`system.access.audit`; unused = no use or grant in {rev.unused_days} days.",
        "",
        "| Flag | Grants |",
        "|---|---|",
    ]
    out += [f"| {k} | {v} |" for k, v in rev.counts().items()]
    out += [
        "",
        "## Temporary access in the period",
        "",
        "| When | Action | Principal | Privilege | Securable | Until / expired | Approver |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in sorted(recent, key=lambda r: r.updated_at):
        if a.action not in (GRANT_ACTION, REVOKE_ACTION):
            continue
        t = json.loads(a.target_json)
        out.append(
            f"| {a.updated_at:%Y-%m-%d} | {a.action} | {t['principal']} | "
            f"{t['privilege']} | {t['securable']} | "
            f"{(t.get('until') or t.get('expired_at') or '')[:10]} | "
            f"{t.get('approver', '')} |"
        )
    out += ["", "## Flagged grants by principal", ""]
    shown = 0
    for principal, grants in by_principal(rev).items():
        flagged = [g for g in grants if g.flags]
        if not flagged or shown >= MAX_ROWS:
            continue
        out += [
            f"### {principal}",
            "",
            "| Privilege | Securable | Last used | Flags |",
            "|---|---|---|---|",
        ]
        for g in flagged[: MAX_ROWS - shown]:
            last = g.last_used.strftime("%Y-%m-%d") if g.last_used else "never"
            out.append(f"| {g.privilege} | {g.securable} | {last} | {', '.join(g.flags)} |")
            shown += 1
        out.append("")
    if len(rev.flagged) > shown:
        out.append(
            f"... and {len(rev.flagged) - shown} more (`lakecrew access review "
            "--flagged --output json`)"
        )
    return "\n".join(out) + "\n"
