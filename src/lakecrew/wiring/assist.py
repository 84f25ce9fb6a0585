"""The crew's agents wired to one project: the ToolBox over the Context's services, and the
model runtime from lakecrew.yaml's `assistant:` section with its key from the SecretStore."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakecrew.core.errors import ConfigError
from lakecrew.ports.agents import AgentRuntime, Budget, ToolSpec
from lakecrew.services.assist.catalogue import toolbox
from lakecrew.services.assist.config import HOW_TO_CONFIGURE, AssistantConfig
from lakecrew.services.assist.read_tools import AssistDeps
from lakecrew.services.assist.toolbox import ToolBox

if TYPE_CHECKING:
    from lakecrew.services.assist.agents import AgentService
    from lakecrew.services.finops.cube import CostCube
    from lakecrew.wiring.context import Context


def assist_deps(ctx: Context) -> AssistDeps:
    from lakecrew.services.finops.reports import Period, cost_report
    from lakecrew.services.policy.loader import DEFAULT_PACK, load_pack
    from lakecrew.wiring.finops import run_cube

    overlay = ctx.config.sop_pack_path(ctx.layout.root)
    sources = (DEFAULT_PACK,) if overlay is None else (DEFAULT_PACK, overlay)
    cubes: list[CostCube] = []  # one cube per run, made at the first cost report

    def report(period: str, when: datetime) -> dict[str, Any]:
        p: Period = period  # type: ignore[assignment]  # checked by AssistDeps.report
        if not cubes:
            cubes.append(run_cube(ctx))
        return cost_report(ctx.sql, ctx.config, p, when, cube=cubes[0], detail=False)

    return AssistDeps(
        config=ctx.config,
        sql=ctx.sql,
        crew=ctx.crew,
        pack=load_pack(sources),
        lineage=ctx.metastore,
        tickets=ctx.tickets,
        log=ctx.ledger,  # type: ignore[arg-type]  # DeltaLedgerStore is also the AgentLog
        clock=ctx.clock,
        reader_for=ctx.workspace,
        cost_report=report,
    )


def project_toolbox(ctx: Context) -> ToolBox:
    """Every tool bound to the project (CLI `mcp`, tests, evaluation)."""
    cfg = ctx.config.assistant
    return toolbox(assist_deps(ctx), max_chars=cfg.max_tool_output_chars if cfg else 8000)


def assistant_config(ctx: Context) -> AssistantConfig:
    """The `assistant:` section; ConfigError (exit 2) saying how to add one when absent."""
    cfg = ctx.config.assistant
    if cfg is None:
        raise ConfigError(
            "no model is configured for the crew's agents",
            where=str(ctx.layout.config_path),
            fix=HOW_TO_CONFIGURE,
        )
    return cfg


def model_runtime(ctx: Context, cfg: AssistantConfig) -> AgentRuntime:
    from lakecrew.adapters.agents.smol import ModelSettings, SmolRuntime

    key = None
    if cfg.model.api_key_secret:
        scope, name = cfg.model.api_key_secret.split("/")
        key = ctx.secrets.get(scope, name).get_secret_value()
    m = cfg.model
    return SmolRuntime(ModelSettings(m.type, m.model_id, m.api_base, key, m.temperature))


def agent_service(ctx: Context, runtime: AgentRuntime | None = None) -> AgentService:
    """The role agents of the project; `runtime` replaces the configured model (tests)."""
    from lakecrew.services.assist.agents import AgentService

    cfg = assistant_config(ctx)
    deps = assist_deps(ctx)
    box = toolbox(deps, max_chars=cfg.max_tool_output_chars)
    budget = Budget(cfg.max_steps, cfg.max_tokens, cfg.timeout_seconds)
    return AgentService(deps, box, runtime or model_runtime(ctx, cfg), budget, cfg.model.model_id)


def mcp_specs(ctx: Context) -> list[ToolSpec]:
    """The tools served over MCP; each call is recorded as an `mcp` run in the ledger."""
    import json
    import uuid
    from dataclasses import replace

    from lakecrew.ports.agents import AgentRunRow

    deps = assist_deps(ctx)
    cfg = ctx.config.assistant
    box = toolbox(deps, max_chars=cfg.max_tool_output_chars if cfg else 8000)
    log = deps.log

    def recorded(spec: ToolSpec) -> ToolSpec:
        def call(arguments: Mapping[str, Any]) -> str:
            started = ctx.clock.now()
            deps.run_id = "mcp-" + uuid.uuid4().hex[:12]
            text = spec.call(arguments)
            calls = [c.as_dict() for c in box.take_calls()]
            made = [p.proposal_id for p in log.proposals() if p.run_id == deps.run_id]
            log.put_agent_run(
                AgentRunRow(
                    run_id=deps.run_id,
                    agent="mcp",
                    question=f"tool {spec.name}",
                    model="(mcp client)",
                    status="success",
                    answer="",
                    tool_calls_json=json.dumps(calls, default=str),
                    proposals_json=json.dumps(made),
                    steps=1,
                    input_tokens=0,
                    output_tokens=0,
                    started_at=started,
                    finished_at=ctx.clock.now(),
                    error=calls[0]["error"] if calls else None,
                )
            )
            return text

        return replace(spec, call=call)

    return [recorded(s) for s in box.specs()]
