"""Proposal tools write only pending rows; a person's decision goes through the crew's paths."""

from __future__ import annotations

import json

import pytest

from lakecrew.core.errors import NotFound, UsageError
from lakecrew.services.assist.proposals import decide
from lakecrew.wiring.assist import assist_deps, project_toolbox
from lakecrew.wiring.context import Context

from .conftest import HOSTILE_ID

pytestmark = pytest.mark.xdist_group("assist")


def _hostile(lc: Context, rule: str) -> str:
    return next(
        f.fingerprint
        for f in lc.crew.findings()
        if f.resource_id == HOSTILE_ID and f.rule_id == rule
    )


def test_proposing_changes_nothing_until_a_person_approves(lc: Context) -> None:
    box = project_toolbox(lc)
    fp = _hostile(lc, "cluster.tags_missing")
    exemptions, actions = lc.ledger.exemptions(), lc.ledger.actions()
    out = box.call("propose_exemption", {"fingerprint": fp, "days": 30, "rationale": "pilot"})
    pid = out["data"]["proposal_id"]
    assert out["data"]["status"] == "pending" and "approve" in out["data"]["needs"]
    again = box.call("propose_exemption", {"fingerprint": fp, "days": 30, "rationale": "pilot"})
    assert again["data"]["proposal_id"] == pid  # idempotent
    assert lc.ledger.exemptions() == exemptions and lc.ledger.actions() == actions
    row = decide(assist_deps(lc), pid[:8], approve=True, approver="DGB")
    assert (
        row.status == "approved" and row.decided_by == "DGB" and "exempted" in (row.outcome or "")
    )
    ex = [e for e in lc.ledger.exemptions() if e.resource_id == HOSTILE_ID]
    assert ex and ex[0].approver == "DGB" and ex[0].rule_id == "cluster.tags_missing"
    with pytest.raises(UsageError):
        decide(assist_deps(lc), pid, approve=False, approver="DGB")  # already decided


def test_action_proposals_are_limited_to_the_rule_action(lc: Context) -> None:
    box = project_toolbox(lc)
    fp = _hostile(lc, "cluster.tags_missing")
    wrong = box.call("propose_action", {"fingerprint": fp, "action": "terminate", "rationale": "x"})
    assert "allows add_tags" in wrong["error"]
    ok = box.call("propose_action", {"fingerprint": fp, "action": "add_tags", "rationale": "x"})
    row = decide(assist_deps(lc), ok["data"]["proposal_id"], approve=True, approver="lead")
    assert row.status == "approved" and (row.outcome or "").startswith("nothing changed")


def test_ticket_comment_is_added_only_on_approval_and_reject_records(lc: Context) -> None:
    box = project_toolbox(lc)
    fp = _hostile(lc, "cluster.tags_missing")
    out = box.call("propose_ticket_comment", {"fingerprint": fp, "comment": "Root cause: X"})
    pid = out["data"]["proposal_id"]
    assert lc.tickets.comments(fp) == []
    done = decide(assist_deps(lc), pid, approve=True, approver="ops")
    (note,) = lc.tickets.comments(fp)
    assert note.comment_id == pid and note.author == "ops" and "Root cause: X" in note.text
    assert (
        "machine-written" in note.text and done.outcome == f"commented on {lc.tickets.get(fp).key}"
    )
    assert "Root cause: X" not in lc.tickets.get(fp).body  # a comment, not an edit of the body
    other = box.call("propose_ticket_comment", {"fingerprint": fp, "comment": "no"})
    rejected = decide(assist_deps(lc), other["data"]["proposal_id"], approve=False, approver="ops")
    assert rejected.status == "rejected" and len(lc.tickets.comments(fp)) == 1
    listed = box.call("list_proposals", {"status": "rejected"})["data"]["proposals"]
    assert [p["payload"] for p in listed] == [{"comment": "no"}]
    with pytest.raises(NotFound):
        decide(assist_deps(lc), "ffffffffff", approve=True, approver="ops")
    assert json.loads(json.dumps(listed))  # plain JSON
