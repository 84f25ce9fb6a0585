"""`lakecrew ask | agent triage|digest|runs | proposals list|approve|reject | mcp`: the crew's
agents (SOP 3.2) with a model from lakecrew.yaml's `assistant:` section. The sweep never needs
them; without a model these commands say how to configure one and exit 2."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.crew import NowOpt, _context
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, WideOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out

agent_app = typer.Typer(help="The crew's agents: triage a ticket, write the digest summary.")
proposals_app = typer.Typer(help="Agent proposals: list, approve or reject (a person decides).")
ApproverOpt = Annotated[str, typer.Option(help="Who decides (recorded).")]


class ProposalState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


def _finish(state: Any, run: Any) -> None:
    row = run.row
    item = {
        "run_id": row.run_id,
        "agent": row.agent,
        "status": row.status,
        "answer": row.answer,
        "evidence": run.evidence,
        "proposals": json.loads(row.proposals_json),
        "model": row.model,
        "steps": row.steps,
        "tokens": row.input_tokens + row.output_tokens,
    }
    emit(state, Result("agent_run", [item], {"tool_calls": len(run.calls)}), _render_run)
    if row.status != "success":
        from lakecrew.core.errors import LakecrewError

        raise LakecrewError(
            f"the agent stopped early ({row.status}): the answer above is incomplete",
            where=f"agent run {row.run_id}",
            fix="raise assistant.max_steps / max_tokens in lakecrew.yaml, or ask a narrower "
            "question",
        )


def _render_run(out: Out, result: Result) -> None:
    item = result.items[0]
    out.line(item["answer"] or "(no answer)")
    if item["evidence"]:
        out.line("")
        out.line("Evidence (tools called):")
        for line in item["evidence"]:
            out.line(f"  - {line}")
    for pid in item["proposals"]:
        out.line(f"proposal {pid}: pending — lakecrew proposals approve {pid} --approver NAME")
    out.note(
        f"run {item['run_id']} · {item['model']} · {item['steps']} step(s) · "
        f"{item['tokens']} tokens · recorded in lakecrew.crew.agent_runs"
    )


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="A question about the estate.")],
    *,
    allow_proposals: Annotated[
        bool,
        typer.Option(
            "--allow-proposals",
            help="Let the agent propose actions/exemptions (pending until a person approves).",
        ),
    ] = False,
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Ask the Observer/analyst agent; it answers with cited evidence (read-only tools)."""
    from lakecrew.wiring.assist import agent_service

    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    with _context(state.project, writable=True, now=now) as lc:
        run = agent_service(lc).ask(question, allow_proposals=allow_proposals)
    _finish(state, run)


@agent_app.command(
    "triage",
    epilog=epilog(
        "lakecrew agent triage 3f2a9c1b7e0d",
        exits="0 drafted; 1 stopped early or model down; 2 no model configured",
    ),
)
def triage(
    ctx: typer.Context,
    fingerprint: Annotated[str, typer.Argument(help="The ticketed finding's fingerprint.")],
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Draft root cause and next steps on a ticket, as a proposed comment (pending approval)."""
    from lakecrew.wiring.assist import agent_service

    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=True, now=now) as lc:
        run = agent_service(lc).triage(fingerprint)
    _finish(state, run)


@agent_app.command("digest", epilog=epilog("lakecrew agent digest --as-of 2026-03-02"))
def digest(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default today)")] = None,
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The Comms agent writes the daily digest's summary (the digest itself stays
    `lakecrew cost report --period day`)."""
    from lakecrew.wiring.assist import agent_service

    state = state_of(ctx, project=project, output=output, debug=debug)
    with _context(state.project, writable=True, now=now) as lc:
        day = as_of or lc.clock.now().date().isoformat()
        run = agent_service(lc).digest(day)
    _finish(state, run)


@agent_app.command("runs", epilog=epilog("lakecrew agent runs --output json"))
def runs(
    ctx: typer.Context,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Recorded agent runs, newest first (question, tools called, tokens, state)."""
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    with _context(state.project, writable=False) as lc:
        rows = sorted(lc.ledger.agent_runs(), key=lambda r: r.started_at, reverse=True)
    items = [
        {
            "run_id": r.run_id, "agent": r.agent, "status": r.status, "model": r.model,
            "started_at": r.started_at, "tools": len(json.loads(r.tool_calls_json)),
            "tokens": r.input_tokens + r.output_tokens, "question": r.question,
            "error": r.error,
        }
        for r in rows
    ]  # fmt: skip
    columns = (
        Col("run_id", "run"), Col("agent"), Col("status"), Col("model"), Col("tools"),
        Col("tokens"), Col("question"), Col("error", wide=True),
    )  # fmt: skip
    emit(
        state,
        Result("agent_runs", items, {"count": len(items)}),
        lambda o, r: o.table(columns, r.items),
    )


@proposals_app.command("list", epilog=epilog("lakecrew proposals list --status pending"))
def proposals_list(
    ctx: typer.Context,
    status: Annotated[
        ProposalState | None, typer.Option(help="Only proposals in this state.")
    ] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Agent proposals with their status, rationale and what approval did."""
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    with _context(state.project, writable=False) as lc:
        rows = sorted(lc.ledger.proposals(), key=lambda p: p.created_at, reverse=True)
    items = [_proposal_item(p) for p in rows if status is None or p.status == status.value]
    columns = (
        Col("proposal_id", "proposal"), Col("kind"), Col("status"), Col("rule_id", "rule"),
        Col("resource_id", "resource"), Col("rationale"), Col("outcome", wide=True),
    )  # fmt: skip
    emit(
        state,
        Result("proposals", items, {"count": len(items)}),
        lambda o, r: o.table(columns, r.items),
    )


def _proposal_item(p: Any) -> dict[str, Any]:
    """One proposal as `proposals` items show it (list, approve and reject alike)."""
    return {
        "proposal_id": p.proposal_id, "kind": p.kind, "status": p.status,
        "workspace": p.workspace, "fingerprint": p.fingerprint, "rule_id": p.rule_id,
        "resource_id": p.resource_id, "payload": json.loads(p.payload_json),
        "rationale": p.rationale, "created_at": p.created_at, "decided_at": p.decided_at,
        "decided_by": p.decided_by, "outcome": p.outcome,
    }  # fmt: skip


def _decide(ctx: typer.Context, pid: str, approver: str, approve: bool, **opts: Any) -> None:
    from lakecrew.services.assist.proposals import decide
    from lakecrew.wiring.assist import assist_deps

    state = state_of(ctx, **opts)
    with _context(state.project, writable=True) as lc:
        row = decide(assist_deps(lc), pid, approve=approve, approver=approver)
    emit(
        state,
        Result("proposals", [_proposal_item(row)], {"count": 1}),
        lambda o, r: o.line(
            f"{r.items[0]['proposal_id']} {r.items[0]['status']}: {r.items[0]['outcome']}"
        ),
    )


@proposals_app.command(
    "approve", epilog=epilog('lakecrew proposals approve 3f2a9c --approver "DGB"')
)
def approve(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(help="The proposal id (or a unique prefix).")],
    approver: ApproverOpt,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Approve a proposal: it acts through the crew's own paths (approve, exempt, ticket)."""
    _decide(ctx, proposal_id, approver, True, project=project, output=output, debug=debug)


@proposals_app.command("reject", epilog=epilog('lakecrew proposals reject 3f2a9c --approver "DGB"'))
def reject(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(help="The proposal id (or a unique prefix).")],
    approver: ApproverOpt,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Reject a proposal (nothing changes; the decision is recorded)."""
    _decide(ctx, proposal_id, approver, False, project=project, output=output, debug=debug)


def mcp(
    ctx: typer.Context,
    now: NowOpt = None,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Serve the read and proposal tools over MCP (stdio) for other assistants; every call is
    recorded in lakecrew.crew.agent_runs. Needs no model."""
    from lakecrew.adapters.agents.mcp_server import serve_stdio
    from lakecrew.wiring.assist import mcp_specs

    state = state_of(ctx, project=project, debug=debug)
    with _context(state.project, writable=True, now=now) as lc:
        serve_stdio(mcp_specs(lc), version=_version())


def _version() -> str:
    from importlib.metadata import version

    return version("lakecrew")


def register(app: typer.Typer) -> None:
    app.command(
        "ask",
        epilog=epilog(
            'lakecrew ask "Which workspace cost the most last week?"',
            'lakecrew ask "Why did malaria-prod cost jump on Tuesday?" --output json',
            exits="0 answered; 1 stopped early (budget) or model down; 2 no model configured",
        ),
    )(ask)
    app.add_typer(agent_app, name="agent")
    app.add_typer(proposals_app, name="proposals")
    app.command("mcp", epilog=epilog("lakecrew mcp --project demo-estate   # stdio"))(mcp)


@agent_app.command(
    "eval",
    epilog=epilog(
        "lakecrew agent eval --now 2026-03-02T12:00:00+00:00",
        "lakecrew agent eval --limit 5 --output json",
        exits="0 evaluated (the score is in the output); 2 no model configured",
    ),
)
def eval_cmd(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Score the configured model on the evaluation set (answers computed from this estate)."""
    from lakecrew.services.assist.evaluation import Facts, evaluate
    from lakecrew.wiring.assist import agent_service

    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    with _context(state.project, writable=True, now=now) as lc:
        svc = agent_service(lc)

        def ask_one(question: str) -> tuple[str, str, int]:
            run = svc.ask(question)
            return run.row.answer, run.row.status, len(run.calls)

        facts = Facts(lc.sql, lc.config, svc.deps.pack, lc.clock.now())
        results = evaluate(ask_one, facts, limit)
    correct = sum(r.correct for r in results)
    meta = {"model": svc.model, "correct": correct, "questions": len(results),
            "score": round(correct / len(results), 3) if results else 0.0}  # fmt: skip
    columns = (
        Col("qid", "question"), Col("correct"), Col("expected"), Col("state"),
        Col("tool_calls", "tools"), Col("answer", wide=True), Col("error", wide=True),
    )  # fmt: skip

    def render(o: Out, r: Result) -> None:
        o.table(columns, r.items)
        o.note(f"{r.meta['model']}: {r.meta['correct']}/{r.meta['questions']} correct")

    emit(state, Result("agent_eval", [r.__dict__ for r in results], meta), render)
