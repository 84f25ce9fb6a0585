"""`assistant.triage_on_open`: the sweep's Ticket step opens anomaly / SLA tickets and the triage
agent drafts root cause and next steps on each, through smolagents over real HTTP against the
local OpenAI-compatible replay server. The draft is a pending proposal (nothing posted); a model
that is down leaves the tickets open and a failed run record, and says so.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.ports.clock import FixedClock
from lakecrew.services.assist.config import AssistantConfig
from lakecrew.testing.openai_replay import OpenAIReplay, chat_response, final, tool_call
from lakecrew.wiring.assist import open_tickets, triage_opened, triaged_rule
from lakecrew.wiring.context import Context

from .conftest import SWEPT, now_of

pytestmark = pytest.mark.xdist_group("assist")
COMMENT = "Root cause: repeated job failures.\nNext steps: 1. read the failed runs' errors."
THREE = "lassa-qa-westafrica"  # seed 7: one cost anomaly and two SLA tickets


def propose_on_the_task_finding(body: dict[str, Any]) -> dict[str, Any]:
    """The model's first reply: a comment proposal on the finding its task names."""
    fp = re.search(r"\(finding ([0-9a-f]{16,}),", json.dumps(body["messages"]))
    assert fp is not None, "the triage task names its finding"
    args = {"fingerprint": fp.group(1), "comment": COMMENT}
    return chat_response(None, [tool_call("propose_ticket_comment", args, 1)], n=1)


def configure(project: Path, api_base: str, **more: Any) -> None:
    cfg = yaml.safe_load((project / "lakecrew.yaml").read_text())
    cfg["assistant"] = {
        "model": {"type": "openai", "model_id": "replay-model", "api_base": api_base},
        "timeout_seconds": 5,
        "triage_on_open": True,
        **more,
    }
    (project / "lakecrew.yaml").write_text(yaml.safe_dump(cfg))


def sweep(project: Path, workspace: str) -> tuple[int, dict[str, Any], str]:
    now = now_of(project).isoformat()
    args = ["sweep", "--workspace", workspace, "--now", now, "-o", "json"]
    r = CliRunner().invoke(app, [*args, "--project", str(project)])
    return r.exit_code, json.loads(r.stdout), r.stderr


def test_config_is_validated() -> None:
    model = {"type": "openai", "model_id": "m"}
    assert not AssistantConfig.model_validate({"model": model}).triage_on_open  # opt-in
    for bad in ({"triage_on_open": "sometimes"}, {"triage_on_opne": True},
                {"triage_max_per_sweep": 0}):  # fmt: skip
        with pytest.raises(ValidationError):
            AssistantConfig.model_validate({"model": model, **bad})


def test_opened_anomaly_and_sla_tickets_get_a_pending_triage_draft(project: Path) -> None:
    with OpenAIReplay([propose_on_the_task_finding, final(COMMENT, n=2)]) as server:
        configure(project, server.url + "/v1", triage_max_per_sweep=1)
        code, out, err = sweep(project, THREE)
    assert code == 0, err
    with Context.open(project) as lc:
        tickets = lc.tickets.list(THREE)
        triaged = [t for t in tickets if triaged_rule(t.rule_id)]
        assert len(tickets) > len(triaged) == 3  # other rules' tickets are not triaged
        runs = [r for r in lc.ledger.agent_runs() if r.agent == "triage"]
        assert len(runs) == 1 and runs[0].status == "success"  # at most 1 per sweep here
        fp = next(t.fingerprint for t in triaged if t.fingerprint in runs[0].question)
        made = [p for p in lc.ledger.proposals() if p.run_id == runs[0].run_id]
        assert [(p.kind, p.fingerprint, p.status) for p in made] == [
            ("ticket_comment", fp, "pending")
        ]
        assert lc.tickets.comments(fp) == []  # drafted, not posted: a person approves it
    notes = [n for n in out["items"][0]["notes"] if n.startswith("triage of ticket")]
    assert f": draft proposed ({made[0].proposal_id}, pending;" in notes[0]
    assert ["not run (triage_max_per_sweep)" in n for n in notes] == [False, True, True]
    assert len(server.requests) == 2


def test_model_down_keeps_the_tickets_and_says_so(project: Path) -> None:
    """The triage step after a sweep, with the model's port closed: the failure is recorded
    as a failed `triage` run and said; the rest are not tried; nothing is half-written."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    configure(project, f"http://127.0.0.1:{closed}/v1")
    with Context.open(project, writable=True, clock=FixedClock(now_of(project))) as lc:
        open_fps = open_tickets(lc)
        # the anomaly / SLA tickets of a swept workspace, taken as just opened
        just_opened = [t for t in lc.tickets.list(SWEPT[0]) if triaged_rule(t.rule_id)]
        proposals, earlier = len(lc.ledger.proposals()), {r.run_id for r in lc.ledger.agent_runs()}
        notes = triage_opened(lc, open_fps - {t.fingerprint for t in just_opened})[SWEPT[0]]
        assert all(lc.tickets.get(t.fingerprint).status == "open" for t in just_opened)
        runs = [r for r in lc.ledger.agent_runs() if r.run_id not in earlier]
        assert len(lc.ledger.proposals()) == proposals
    assert [(r.agent, r.status) for r in runs] == [("triage", "failed")] and runs[0].error
    assert "FAILED" in notes[0] and "model endpoint" in notes[0]
    assert len(notes) == len(just_opened) > 1
    assert all("not run (the model failed above)" in n for n in notes[1:])
