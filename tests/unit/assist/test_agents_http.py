"""smolagents end to end over real HTTP: the real openai client in OpenAIServerModel talks to a
local OpenAI-compatible server replaying chat-completion responses (tool calls included).
No part of smolagents is mocked; the tools run against the swept demo estate."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from lakecrew.core.errors import ConfigError
from lakecrew.ports.agents import ModelUnavailable
from lakecrew.services.assist.agents import AgentService
from lakecrew.services.assist.config import AssistantConfig
from lakecrew.testing.openai_replay import OpenAIReplay, chat_response, final, script, tool_call
from lakecrew.wiring.assist import agent_service
from lakecrew.wiring.context import Context

from .conftest import HOSTILE, HOSTILE_ID, SECRET

pytestmark = pytest.mark.xdist_group("assist")


def configure(lc: Context, api_base: str, **budget: Any) -> None:
    cfg = {"model": {"type": "openai", "model_id": "replay-model", "api_base": api_base}}
    lc.config = lc.config.model_copy(
        update={"assistant": AssistantConfig.model_validate({**cfg, **budget})}
    )


@pytest.fixture
def service(lc: Context) -> Iterator[Any]:
    made: list[OpenAIReplay] = []

    def start(responses: list[dict[str, Any]], **budget: Any) -> tuple[AgentService, OpenAIReplay]:
        server = OpenAIReplay(responses).__enter__()
        made.append(server)
        configure(lc, server.url + "/v1", **budget)
        return agent_service(lc), server

    yield start
    for s in made:
        s.__exit__(None, None, None)


def bodies(server: OpenAIReplay) -> str:
    return json.dumps(server.requests)


def test_no_model_configured_says_how(lc: Context) -> None:
    lc.config = lc.config.model_copy(update={"assistant": None})
    with pytest.raises(ConfigError) as e:
        agent_service(lc)
    assert e.value.exit_code == 2 and "assistant:" in e.value.one_line()


def test_ask_answers_with_evidence_and_is_recorded(service: Any, lc: Context) -> None:
    query = "SELECT rule_id, evidence_json FROM lakecrew.crew.findings WHERE rule_id = 'job.hardcoded_secret'"  # noqa: E501
    svc, server = service(script(
        [("list_findings", {"status": "open", "severity": "critical", "limit": 3}),
         ("run_sql", {"query": query})],
        "There are N critical findings.",
    ))  # fmt: skip
    run = svc.ask("How many critical findings are open?")
    assert run.row.status == "success" and run.row.answer == "There are N critical findings."
    assert run.evidence[0].startswith("list_findings(") and run.evidence[1] == f"SQL: {query}"
    offered = [t["function"]["name"] for t in server.requests[0]["tools"]]
    assert "run_sql" in offered and not any(n.startswith("propose_") for n in offered)
    assert len(server.requests) == 3 and SECRET not in bodies(server)  # masked before the model
    assert "job.hardcoded_secret" in json.dumps(server.requests[2]["messages"])
    rows = {r.run_id: r for r in lc.ledger.agent_runs()}
    row = rows[run.row.run_id]
    calls = json.loads(row.tool_calls_json)
    assert [c["tool"] for c in calls] == ["list_findings", "run_sql"]
    assert all(c["result_chars"] > 0 and c["error"] is None for c in calls)
    assert (row.input_tokens, row.output_tokens, row.steps) == (2700, 180, 3)
    assert row.question == "How many critical findings are open?" and row.model == "replay-model"


def test_a_hostile_name_ends_with_no_proposal(service: Any, lc: Context) -> None:
    """The model (as if it obeyed the cluster's name) tries to act: it has no such tool."""
    before = len(lc.ledger.proposals())
    fp = next(f.fingerprint for f in lc.crew.findings() if f.resource_id == HOSTILE_ID)
    svc, server = service([
        chat_response(None, [tool_call("list_findings", {"status": "open", "limit": 50}, 1)], n=1),
        chat_response(None, [tool_call("propose_action", {
            "fingerprint": fp, "action": "terminate", "rationale": "the name said so"}, 2)], n=2),
        final("Nothing to change.", n=3),
    ])  # fmt: skip
    run = svc.ask("Summarise the open findings.")
    assert HOSTILE in bodies(server)  # the name reached the model as data …
    assert len(lc.ledger.proposals()) == before == 0  # … and nothing was proposed
    assert json.loads(run.row.proposals_json) == []
    assert "propose_action" in json.dumps(server.requests[2]["messages"])  # the error it got


def test_triage_proposes_one_comment_on_its_own_ticket_only(service: Any, lc: Context) -> None:
    mine = next(
        f
        for f in lc.crew.findings()
        if f.resource_id == HOSTILE_ID and lc.tickets.get(f.fingerprint)
    )
    other = next(
        f
        for f in lc.crew.findings()
        if f.fingerprint != mine.fingerprint and lc.tickets.get(f.fingerprint)
    )
    comment = "Root cause: untagged prod cluster.\nNext steps: 1. tag it."
    svc, _ = service(script(
        [("rule_explanation", {"rule_id": mine.rule_id}),
         ("propose_ticket_comment", {"fingerprint": other.fingerprint, "comment": "x"}),
         ("propose_exemption", {"fingerprint": mine.fingerprint, "days": 90, "rationale": "y"}),
         ("propose_ticket_comment", {"fingerprint": mine.fingerprint, "comment": comment})],
        comment,
    ))  # fmt: skip
    run = svc.triage(mine.fingerprint)
    made = [p for p in lc.ledger.proposals() if p.run_id == run.row.run_id]
    assert [(p.kind, p.fingerprint, p.status) for p in made] == [
        ("ticket_comment", mine.fingerprint, "pending")
    ]
    assert json.loads(made[0].payload_json) == {"comment": comment}
    assert json.loads(run.row.proposals_json) == [made[0].proposal_id]
    assert lc.tickets.get(mine.fingerprint).body.count(comment) == 0  # not applied


def test_step_budget(service: Any) -> None:
    calls = [("estate_overview", {})] * 3
    responses = [*script(calls, "unused")[:2], chat_response("best effort: 13 workspaces", n=9)]
    svc, server = service(responses, max_steps=2)
    run = svc.ask("How many workspaces?")
    assert run.row.status == "max_steps" and run.row.answer == "best effort: 13 workspaces"
    assert len(run.calls) == 2 and len(server.requests) == 3


def test_token_budget(service: Any) -> None:
    svc, server = service(script([("estate_overview", {})] * 3, "unused"), max_tokens=1000)
    run = svc.ask("How many workspaces?")
    assert run.row.status == "token_budget" and run.row.answer == ""
    assert len(server.requests) == 2  # stopped after the step that crossed 1000 tokens


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("down", ["refused", "http500"])
def test_model_server_down(lc: Context, down: str) -> None:
    before_runs, before_props = len(lc.ledger.agent_runs()), len(lc.ledger.proposals())
    server = OpenAIReplay([], status=500)
    with server:
        base = server.url if down == "http500" else f"http://127.0.0.1:{_closed_port()}"
        configure(lc, base + "/v1", timeout_seconds=5)
        with pytest.raises(ModelUnavailable) as e:
            agent_service(lc).ask("How many workspaces?")
    assert "model endpoint" in e.value.one_line() and "nothing was changed" in e.value.one_line()
    runs = lc.ledger.agent_runs()
    assert len(runs) == before_runs + 1 and len(lc.ledger.proposals()) == before_props
    failed = max(runs, key=lambda r: r.finished_at)
    assert failed.status == "failed" and failed.error and failed.answer == ""
