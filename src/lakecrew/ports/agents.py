"""Agent ports: the tools a model may call, the runtime that lets a model call them, and the
durable record of what every agent run did (SOP 3.2: the crew as "virtual DevOps personnel").

A `ToolSpec` is lakecrew's own description of one tool (name, typed parameters, a docstring a
model can use, read or proposal): the smolagents adapter, the MCP server and the tests all build
on the same specs, so a tool behaves the same whoever calls it. `call` is already bound to the
project: it validates the arguments, runs the service function, masks the result and records the
call; it returns JSON text.

`AgentRuntime` runs one task against a model with a set of tools and budgets (adapters/agents/:
smolagents over an OpenAI-compatible endpoint or LiteLLM). `AgentLog` keeps every run and every
proposal (ledger tables `lakecrew.crew.agent_runs` and `lakecrew.crew.proposals`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from lakecrew.core.errors import Transient


class ModelUnavailable(Transient):
    """The model endpoint could not be reached, timed out or answered with an error."""


ParamType = Literal["string", "integer", "number", "boolean"]
ToolKind = Literal["read", "proposal"]


@dataclass(frozen=True)
class Param:
    """One typed input of a tool; `required=False` inputs may be omitted (null)."""

    name: str
    type: ParamType
    description: str
    required: bool = True


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what the model sees (name, description, params, returns) and the bound call."""

    name: str
    description: str
    params: tuple[Param, ...]
    returns: str  # what the JSON result holds, for the model
    kind: ToolKind
    call: Callable[[Mapping[str, Any]], str]

    @property
    def doc(self) -> str:
        """The docstring a model sees: what the tool does, then what it returns."""
        return f"{self.description}\nReturns JSON: {self.returns}"


@dataclass(frozen=True)
class Budget:
    """Limits of one agent run: model steps, tokens (input + output), and a model timeout."""

    max_steps: int = 8
    max_tokens: int = 60_000
    timeout_seconds: float = 120.0


@dataclass(frozen=True)
class AgentOutcome:
    """What a run produced. `state`: success, max_steps (the step budget ran out: the answer is
    the model's last word, not a grounded one) or token_budget (stopped before finishing)."""

    answer: str
    state: Literal["success", "max_steps", "token_budget"]
    steps: int
    input_tokens: int
    output_tokens: int
    model: str


class AgentRuntime(Protocol):
    """Runs one task with a model that may call `tools`, within `budget`."""

    def run(
        self, task: str, instructions: str, tools: Sequence[ToolSpec], budget: Budget
    ) -> AgentOutcome:
        """The outcome; ModelUnavailable when the endpoint cannot be reached or answers with
        an error (nothing is recorded as done then)."""
        ...


ProposalKind = Literal["action", "exemption", "ticket_comment"]
ProposalStatus = Literal["pending", "approved", "rejected"]


@dataclass(frozen=True)
class AgentRunRow:
    """One agent run: who asked what, which tools it called, what it answered."""

    run_id: str
    agent: str  # analyst, triage, comms, mcp
    question: str
    model: str
    status: str  # success, max_steps, token_budget, failed
    answer: str
    tool_calls_json: str  # [{tool, arguments, result_chars, seconds, error}]
    proposals_json: str  # proposal ids the run created
    steps: int
    input_tokens: int
    output_tokens: int
    started_at: datetime
    finished_at: datetime
    error: str | None = None


@dataclass(frozen=True)
class ProposalRow:
    """Something an agent proposes; nothing happens until a person approves it
    (`lakecrew proposals approve ID --approver NAME`)."""

    proposal_id: str
    kind: ProposalKind
    run_id: str
    workspace: str
    fingerprint: str
    rule_id: str
    resource_id: str
    payload_json: str  # the action name, the exemption's expiry, the comment text
    rationale: str
    status: ProposalStatus
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    outcome: str | None = None  # what the approval did (an approved action id, an exemption)


class AgentLog(Protocol):
    """Durable record of agent runs and proposals (upserts on their ids)."""

    def put_agent_run(self, row: AgentRunRow) -> None: ...

    def agent_runs(self) -> list[AgentRunRow]: ...

    def put_proposal(self, row: ProposalRow) -> None: ...

    def proposals(self) -> list[ProposalRow]: ...
