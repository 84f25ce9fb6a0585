"""`lakecrew doctor`: the first command a platform admin runs against a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from lakecrew.core.errors import LakecrewError
from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, epilog, state_of
from lakecrew.faces.cli.render import Out


def doctor(
    ctx: typer.Context,
    *,
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Only this workspace (default: all).")
    ] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Which APIs and system tables answer, what is missing and why, which warehouse is used,
    and the SDK/auth in use — per workspace; and that every table of the local metastore lies
    inside the project. Read-only; exit 1 when anything is missing."""
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.doctor import doctor as run

    state = state_of(ctx, project=project, output=output, debug=debug)
    with Context.open(state.project) as lc:
        report = run(lc, workspace)
    meta = {k: v for k, v in report.items() if k != "workspaces"}
    emit(state, Result("doctor", report["workspaces"], meta), _render)
    if report["problems"]:
        raise LakecrewError(
            f"{report['problems']} check(s) failed",
            where="lakecrew doctor",
            fix="each failed check above says what it needs",
        )


def _mark(ok: bool) -> str:
    return "ok  " if ok else "FAIL"


def _render(out: Out, result: Result) -> None:
    for w in result.items:
        head = f"{w['workspace']} ({w['backend']}"
        if w.get("host"):
            head += (
                f", {w['host']}, auth {w.get('auth_type')}, databricks-sdk {w.get('sdk_version')}"
            )
        out.line(head + ")")
        if w.get("identity"):
            out.line(f"  identity: {w['identity']}")
        if w.get("objects") is not None:
            out.line(f"  local store: {w['objects']}")
        checks = [
            w.get("fatal"),
            *w.get("apis", []),
            w.get("warehouse"),
            *w.get("system_tables", []),
        ]
        for c in checks:
            if c is None:
                continue
            line = f"  {_mark(c['ok'])} {c['name']}: {c.get('detail', '')}"
            if not c["ok"] and c.get("fix"):
                line += f" — fix: {c['fix']}"
            out.line(line)
    tables = result.meta.get("tables")
    if tables:
        line = f"project {_mark(tables['ok'])} {tables['name']}: {tables['detail']}"
        out.line(line + (f" — fix: {tables['fix']}" if tables.get("fix") else ""))


def register(app: typer.Typer) -> None:
    app.command(
        "doctor",
        epilog=epilog(
            "lakecrew doctor",
            "lakecrew doctor --workspace malaria-prod-westafrica --output json",
            exits="0 every check passed; 1 a check failed (each says what it needs); 2 usage",
        ),
    )(doctor)
