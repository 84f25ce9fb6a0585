"""AgentRuntime over smolagents: a ToolCallingAgent whose tools are lakecrew's ToolSpecs.

- Tools: one `smolagents.Tool` per ToolSpec (typed `inputs`, the spec's docstring, output
  `string` = the JSON the ToolBox returns, already masked and cut). No tool has another path
  into lakecrew than `spec.call`.
- Models: `OpenAIServerModel` for any OpenAI-compatible endpoint (llama.cpp, vLLM, Ollama,
  Databricks Model Serving, hosted APIs, a LiteLLM proxy). smolagents' `LiteLLMModel` is not
  offered: the litellm SDK cannot be installed with the project's pins (services/assist/
  config.py says why). Requests time out after `budget.timeout_seconds` and are not retried
  (a down endpoint fails fast).
- Budgets: `max_steps` is smolagents' own; the token budget is a step callback that interrupts
  the agent once input + output tokens pass `budget.max_tokens`.
- A ToolCallingAgent (JSON tool calls), not a CodeAgent: the model never runs Python here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lakecrew.core.errors import UsageError
from lakecrew.ports.agents import AgentOutcome, Budget, ModelUnavailable, ToolSpec


@dataclass(frozen=True)
class ModelSettings:
    """What the wiring read from lakecrew.yaml (and the SecretStore)."""

    type: str  # openai
    model_id: str
    api_base: str | None = None
    api_key: str | None = None
    temperature: float = 0.0


def smol_tool(spec: ToolSpec) -> Any:
    """A smolagents Tool calling `spec.call` with the model's arguments."""
    from smolagents import Tool

    inputs: dict[str, dict[str, Any]] = {}
    for p in spec.params:
        entry: dict[str, Any] = {"type": p.type, "description": p.description}
        if not p.required:
            entry["nullable"] = True
        inputs[p.name] = entry

    def forward(self: Any, **kwargs: Any) -> str:
        return spec.call(kwargs)

    attrs = {
        "name": spec.name,
        "description": spec.doc,
        "inputs": inputs,
        "output_type": "string",
        "skip_forward_signature_validation": True,
        "forward": forward,
    }
    cls = type(f"Lakecrew_{spec.name}", (Tool,), attrs)
    return cls()


def build_model(settings: ModelSettings, timeout: float) -> Any:
    if settings.type != "openai":
        raise UsageError(
            f"assistant.model.type {settings.type!r} is not supported",
            where="lakecrew.yaml assistant.model",
            fix="use type: openai with an OpenAI-compatible endpoint (or a LiteLLM proxy)",
        )
    from smolagents import OpenAIServerModel

    return OpenAIServerModel(
        model_id=settings.model_id,
        api_base=settings.api_base,
        api_key=settings.api_key or "none",  # local servers ignore it; the client needs one
        client_kwargs={"timeout": timeout, "max_retries": 0},
        temperature=settings.temperature,
    )


class SmolRuntime:
    """AgentRuntime (ports/agents.py) over smolagents' ToolCallingAgent."""

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings

    def run(
        self, task: str, instructions: str, tools: Sequence[ToolSpec], budget: Budget
    ) -> AgentOutcome:
        from smolagents import ActionStep, AgentGenerationError, LogLevel, ToolCallingAgent
        from smolagents.utils import AgentError

        model = build_model(self.settings, budget.timeout_seconds)
        used = [0, 0]
        over = [False]

        def on_step(step: Any, agent: Any) -> None:
            usage = getattr(step, "token_usage", None)
            if usage is not None:
                used[0] += usage.input_tokens
                used[1] += usage.output_tokens
            if sum(used) > budget.max_tokens and not over[0]:
                over[0] = True
                agent.interrupt()

        agent = ToolCallingAgent(
            tools=[smol_tool(s) for s in tools],
            model=model,
            instructions=instructions,
            max_steps=budget.max_steps,
            verbosity_level=LogLevel.OFF,
            step_callbacks={ActionStep: on_step},
        )
        try:
            result = agent.run(task, return_full_result=True)
        except AgentGenerationError as e:
            raise _unavailable(e, self.settings) from None
        except AgentError:
            if not over[0]:
                raise
            return self._outcome("", "token_budget", agent, used)
        state = "max_steps" if result.state == "max_steps_error" else "success"
        return self._outcome(str(result.output), state, agent, used)

    def _outcome(self, answer: str, state: Any, agent: Any, used: list[int]) -> AgentOutcome:
        from smolagents import ActionStep

        steps = sum(1 for s in agent.memory.steps if isinstance(s, ActionStep))
        return AgentOutcome(answer, state, steps, used[0], used[1], self.settings.model_id)


def _unavailable(e: Exception, settings: ModelSettings) -> ModelUnavailable:
    """One line naming the endpoint and what went wrong (no key, no prompt in it)."""
    cause = e.__cause__ or e
    where = settings.api_base or settings.model_id
    kind = type(cause).__name__
    status = getattr(cause, "status_code", None)
    what = f"the model endpoint failed ({kind}{f' {status}' if status else ''})"
    if kind in ("APIConnectionError", "APITimeoutError", "ConnectError", "ConnectionError"):
        what = f"the model endpoint cannot be reached ({kind})"
    return ModelUnavailable(
        what,
        where=f"assistant.model {where}",
        fix="start the model server or fix assistant.model in lakecrew.yaml; nothing was changed",
    )
