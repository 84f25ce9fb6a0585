"""Proposals: what an agent may suggest, and the human decision that gives it effect.

A proposal tool only writes a `pending` row (ledger `lakecrew.crew.proposals`); nothing in the
workspace, the exemptions or the tickets changes. A person decides with
`lakecrew proposals approve ID --approver NAME` (or `reject`), and approval goes through the
crew's existing human paths:

- action: the crew's action for that finding waiting for approval (or rolled back) is approved
  exactly as `lakecrew approve` does; the next `--apply` sweep applies it under its phase gates
  and safety checks. Without such an action nothing changes (the outcome says why);
- exemption: recorded exactly as `lakecrew exempt` does, with the person as approver;
- ticket comment: posted as a comment on the finding's open ticket (the local store, and the
  Jira comment API / ServiceNow work notes where lakecrew.yaml routes the finding's ticket).

Proposal ids are a digest of (kind, fingerprint, payload): proposing the same thing twice
gives the same row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from lakecrew.core.errors import NotFound, UsageError
from lakecrew.core.redact import redact_text
from lakecrew.ports.agents import ProposalKind, ProposalRow
from lakecrew.ports.tickets import TicketComment
from lakecrew.services.assist.read_tools import AssistDeps, find_finding

MAX_EXEMPTION_DAYS = 90
MAX_TEXT = 2000


def _text(value: str, name: str) -> str:
    clean = value.strip()
    if not clean:
        raise UsageError(f"{name} is empty", fix=f"say why in {name}")
    if len(clean) > MAX_TEXT:
        raise UsageError(f"{name} is longer than {MAX_TEXT} characters", fix="shorten it")
    return clean


def _record(
    deps: AssistDeps, kind: ProposalKind, fingerprint: str, payload: dict[str, Any], why: str
) -> dict[str, Any]:
    f = find_finding(deps, fingerprint)
    body = json.dumps(payload, sort_keys=True)
    pid = hashlib.sha256(f"{kind}\0{f.fingerprint}\0{body}".encode()).hexdigest()[:16]
    existing = {p.proposal_id: p for p in deps.log.proposals()}
    if pid not in existing:
        deps.log.put_proposal(
            ProposalRow(
                proposal_id=pid,
                kind=kind,
                run_id=deps.run_id,
                workspace=f.workspace,
                fingerprint=f.fingerprint,
                rule_id=f.rule_id,
                resource_id=f.resource_id,
                payload_json=body,
                rationale=why,
                status="pending",
                created_at=deps.clock.now(),
            )
        )
    status = existing[pid].status if pid in existing else "pending"
    return {
        "proposal_id": pid,
        "kind": kind,
        "status": status,
        "needs": f"a person: lakecrew proposals approve {pid} --approver NAME",
    }


def propose_action(
    deps: AssistDeps, fingerprint: str, action: str, rationale: str
) -> dict[str, Any]:
    f = find_finding(deps, fingerprint)
    if f.status != "open":
        raise UsageError(
            f"finding {f.fingerprint[:12]} is {f.status}", fix="propose on open findings"
        )
    rule = deps.pack.pack.rule(f.rule_id)
    allowed = None if rule is None or rule.action is None else rule.action.name
    if action != allowed:
        raise UsageError(
            f"rule {f.rule_id} allows {allowed or 'no action'}, not {action!r}",
            fix="propose the rule's own action (see rule_explanation), or a ticket comment",
        )
    return _record(deps, "action", f.fingerprint, {"action": action}, _text(rationale, "rationale"))


def propose_exemption(
    deps: AssistDeps, fingerprint: str, days: int, rationale: str
) -> dict[str, Any]:
    if not 1 <= days <= MAX_EXEMPTION_DAYS:
        raise UsageError(f"days {days} out of range", fix=f"1 to {MAX_EXEMPTION_DAYS}")
    return _record(deps, "exemption", fingerprint, {"days": days}, _text(rationale, "rationale"))


def propose_ticket_comment(deps: AssistDeps, fingerprint: str, comment: str) -> dict[str, Any]:
    f = find_finding(deps, fingerprint)
    if deps.tickets.get(f.fingerprint) is None:
        raise NotFound(
            f"finding {f.fingerprint[:12]} has no ticket", fix="list tickets with list_tickets"
        )
    text = _text(comment, "comment")
    return _record(deps, "ticket_comment", f.fingerprint, {"comment": text}, "triage note")


# ---- the human decision (CLI `lakecrew proposals approve|reject`) ---------------------------


def proposal(deps: AssistDeps, proposal_id: str) -> ProposalRow:
    pid = proposal_id.strip()
    hits = [p for p in deps.log.proposals() if len(pid) >= 6 and p.proposal_id.startswith(pid)]
    if len(hits) != 1:
        raise NotFound(
            f"{'no' if not hits else 'more than one'} proposal matches {pid!r}",
            fix="list proposals with `lakecrew proposals` (give at least 6 characters)",
        )
    return hits[0]


def decide(deps: AssistDeps, proposal_id: str, *, approve: bool, approver: str) -> ProposalRow:
    """Approve (through the crew's human paths) or reject one pending proposal."""
    if not approver.strip():
        raise UsageError("a decision needs a person", fix="pass --approver NAME")
    row = proposal(deps, proposal_id)
    if row.status != "pending":
        raise UsageError(
            f"proposal {row.proposal_id} is already {row.status}", fix="nothing to decide"
        )
    outcome = _apply(deps, row, approver.strip()) if approve else "rejected"
    done = replace(
        row,
        status="approved" if approve else "rejected",
        decided_at=deps.clock.now(),
        decided_by=approver.strip(),
        outcome=outcome,
    )
    deps.log.put_proposal(done)
    return done


def _apply(deps: AssistDeps, row: ProposalRow, approver: str) -> str:
    payload = json.loads(row.payload_json)
    note = f"agent proposal {row.proposal_id}: {row.rationale}"
    if row.kind == "exemption":
        until = deps.clock.now() + timedelta(days=int(payload["days"]))
        ex = deps.crew.exempt(
            row.rule_id, row.resource_id, reason=note, approver=approver, until=until,
            workspace=row.workspace,
        )  # fmt: skip
        return f"exempted {ex.resource_id} from {ex.rule_id} until {ex.until.isoformat()}"
    if row.kind == "ticket_comment":
        return _comment(deps, row, payload["comment"], approver)
    waiting = [
        a
        for a in deps.crew.actions(row.workspace)
        if a.fingerprint == row.fingerprint
        and a.action == payload["action"]
        and a.status in ("awaiting_approval", "rolled_back")
    ]
    if not waiting:
        return (
            f"nothing changed: no {payload['action']} of this finding waits for approval; "
            "the crew plans it in a sweep at the rule's phase (lakecrew sweep --apply)"
        )
    done = deps.crew.approve(waiting[0].action_id, approver=approver, reason=note)
    return f"approved action {done.action_id} (applied by the next --apply sweep)"


def _comment(deps: AssistDeps, row: ProposalRow, comment: str, approver: str) -> str:
    """A real comment on the ticket (local store, and Jira / ServiceNow where the finding's
    ticket lives there), once per proposal: approving again after a tracker failed posts
    only where it is missing."""
    ticket = deps.tickets.get(row.fingerprint)
    if ticket is None or ticket.status != "open":
        return "nothing changed: the finding's ticket is no longer open"
    text = (
        "Triage note (machine-written by lakecrew's triage agent; approved by "
        f"{approver}):\n{redact_text(comment)}"
    )
    where = deps.tickets.comment(
        TicketComment(row.fingerprint, row.proposal_id, approver, text, deps.clock.now())
    )
    return f"commented on {where}"
