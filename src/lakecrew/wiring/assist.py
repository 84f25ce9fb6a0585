"""The crew's agents wired to one project: the ToolBox over the Context's services, and the
model runtime from lakecrew.yaml's `assistant:` section with its key from the SecretStore."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakecrew.core.errors import ConfigError
from lakecrew.ports.agents import AgentRunRow, AgentRuntime, Budget, ToolSpec
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


def triage_on_open(ctx: Context) -> bool:
    """lakecrew.yaml asks for a triage draft on every anomaly / SLA ticket a sweep opens."""
    cfg = ctx.config.assistant
    return cfg is not None and cfg.triage_on_open


def triaged_rule(rule_id: str) -> bool:
    """Anomaly and SLA findings are the ones the triage agent drafts for on open."""
    return rule_id == "cost.anomaly" or rule_id.startswith("sla.")


def open_tickets(ctx: Context) -> set[str]:
    """Fingerprints of the open tickets (taken before a sweep: what it opens is the rest)."""
    return {t.fingerprint for t in ctx.tickets.list() if t.status == "open"}


def triage_opened(ctx: Context, was_open: set[str]) -> dict[str, list[str]]:
    """Run the triage agent on each anomaly / SLA ticket opened since `was_open` (at most
    `triage_max_per_sweep`); returns notes per ticket scope (workspace) for the sweep's output.

    Each draft is a pending `ticket_comment` proposal (posted only once a person approves it).
    A model that cannot be reached fails the first run (recorded in the ledger as a failed
    `triage` run), says so, and the remaining tickets are left for `lakecrew agent triage`;
    the tickets stay open either way and the sweep's own result is unchanged."""
    from lakecrew.core.errors import LakecrewError

    cfg = assistant_config(ctx)
    opened = [
        t
        for t in ctx.tickets.list()
        if t.status == "open" and t.fingerprint not in was_open and triaged_rule(t.rule_id)
    ]
    notes: dict[str, list[str]] = {}
    failed: str | None = None
    for n, ticket in enumerate(opened):
        later = f"`lakecrew agent triage {ticket.fingerprint[:12]}`"
        if failed is not None:
            note = f"triage of ticket {ticket.key} not run (the model failed above): {later}"
        elif n >= cfg.triage_max_per_sweep:
            note = f"triage of ticket {ticket.key} not run (triage_max_per_sweep): {later}"
        else:
            try:
                run = agent_service(ctx).triage(ticket.fingerprint)
            except LakecrewError as exc:
                failed = exc.one_line()
                note = (
                    f"triage of ticket {ticket.key} FAILED: {failed} — the ticket is open; the "
                    f"failed run is in `lakecrew agent runs`; retry with {later}"
                )
            else:
                note = _triage_note(ticket.key, run.row)
        notes.setdefault(ticket.workspace, []).append(note)
    return notes


def _triage_note(key: str, row: AgentRunRow) -> str:
    import json

    made = json.loads(row.proposals_json)
    if made:
        ids = ", ".join(made)
        return (
            f"triage of ticket {key}: draft proposed ({ids}, pending; "
            f"`lakecrew proposals approve {made[0]} --approver NAME` posts it)"
        )
    return f"triage of ticket {key}: run {row.run_id} ended {row.status} without a draft"
