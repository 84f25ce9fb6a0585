"""`lakecrew report | serve | users`: the weekly picture as one HTML file, the dashboard, and
its local accounts (faces/web/)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.options import (
    DebugOpt,
    ForceOpt,
    OutputOpt,
    ProjectOpt,
    epilog,
    state_of,
)
from lakecrew.faces.cli.render import Out

users_app = typer.Typer(help="Local accounts of the dashboard (viewer or operator).")
NowOpt = Annotated[
    str | None,
    typer.Option("--now", help="Evaluate as of this UTC time (ISO 8601); default: now."),
]


def _clock(now: str | None) -> Any:
    if not now:
        return None
    from lakecrew.faces.cli.crew import _parse_time
    from lakecrew.ports.clock import FixedClock

    return FixedClock(_parse_time(now, "--now"))


def report(
    ctx: typer.Context,
    *,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write the report as one self-contained HTML file."),
    ] = None,
    now: NowOpt = None,
    force: ForceOpt = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The weekly picture — estate, findings, actions, SLAs, cost, governance — as one HTML file
    (inline CSS and SVG charts; opens offline) and/or JSON (the same view models)."""
    import time

    from lakecrew.faces.web.views import weekly
    from lakecrew.wiring.context import Context

    state = state_of(ctx, project=project, output=output, debug=debug)
    started = time.perf_counter()
    with Context.open(state.project, writable=False, clock=_clock(now)) as lc:
        data = weekly(lc)
    meta: dict[str, Any] = {"written": []}
    if html is not None:
        from lakecrew.faces.web.render import report_html
        from lakecrew.services.output_files import write_file

        blob = report_html(data).encode("utf-8")
        path = write_file(html, blob, force=force, option="--html")
        meta = {"written": [str(path)], "bytes": len(blob)}
    meta["seconds"] = round(time.perf_counter() - started, 2)
    emit(state, Result("report", [data], meta), _render_report)


def _render_report(out: Out, result: Result) -> None:
    data = result.items[0]
    o = data["overview"]
    out.line(
        f"{len(o['workspaces'])} workspace(s), {o['open_findings']} open finding(s) "
        f"({o['by_severity']['critical']} critical), {o['awaiting_approval']} action(s) "
        "awaiting approval"
    )
    for section in ("pipelines", "finops", "governance"):
        for note in data[section].get("notes", []):
            out.line(f"  note ({section}): {note}")
    for path in result.meta["written"]:
        out.line(f"wrote {path} ({result.meta['bytes']:,} bytes)")
    if not result.meta["written"]:
        out.note("write the HTML file with --html FILE, or the data with --output json")


def serve(
    ctx: typer.Context,
    *,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8787,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Mark the session cookie Secure (behind HTTPS); default: on unless 127.0.0.1.",
        ),
    ] = False,
    now: NowOpt = None,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Serve the dashboard (estate, findings, actions, pipelines, FinOps, governance) and its
    JSON API under /api/ — log in with an account from `lakecrew users add`."""
    import uvicorn

    from lakecrew.faces.web.accounts import Accounts, accounts_path
    from lakecrew.faces.web.app import WebConfig, create_app

    state = state_of(ctx, project=project, debug=debug)
    from lakecrew.core.errors import UsageError

    if not (state.project / "lakecrew.yaml").exists():
        raise UsageError(
            f"no lakecrew.yaml in {state.project}",
            fix="pass --project DIR (or run `lakecrew demo` first)",
        )
    accounts = Accounts(accounts_path(state.project))
    if not accounts.users():
        raise UsageError(
            "no dashboard accounts yet",
            fix="create one: `lakecrew users add NAME --role operator`",
        )
    accounts.close()
    secure = secure_cookies or host not in ("127.0.0.1", "localhost", "::1")
    app = create_app(WebConfig(state.project, secure_cookies=secure, clock=_clock(now)))
    sys.stderr.write(f"lakecrew dashboard on http://{host}:{port}/ (Ctrl-C stops)\n")
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


class RoleChoice(StrEnum):
    """A dashboard role (faces/web/accounts.py ROLES): checked before the password prompt."""

    viewer = "viewer"
    operator = "operator"


@users_app.command("add", epilog=epilog("lakecrew users add amina --role operator"))
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[RoleChoice, typer.Option(help="viewer (read-only) or operator.")] = (
        RoleChoice.viewer
    ),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Reset an existing user.")] = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Add a dashboard account (the password is hashed with Argon2id; never stored)."""
    from lakecrew.faces.web.accounts import Accounts, accounts_path

    state = state_of(ctx, project=project, output=output, debug=debug)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    accounts = Accounts(accounts_path(state.project))
    try:
        user = accounts.add(name, password, str(role), replace=replace)
    finally:
        accounts.close()
    emit(state, Result("users", [{"name": user.name, "role": user.role}]), _render_users)


@users_app.command(
    "list", epilog=epilog("lakecrew users list", "lakecrew users list --output json")
)
def users_list(
    ctx: typer.Context,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List the dashboard accounts and their roles."""
    from lakecrew.faces.web.accounts import Accounts, accounts_path

    state = state_of(ctx, project=project, output=output, debug=debug)
    accounts = Accounts(accounts_path(state.project))
    try:
        items = [{"name": u.name, "role": u.role} for u in accounts.users()]
    finally:
        accounts.close()
    emit(state, Result("users", items), _render_users)


@users_app.command("remove", epilog=epilog("lakecrew users remove amina"))
def users_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The login name.")],
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Remove a dashboard account (its sessions end at once)."""
    from lakecrew.faces.web.accounts import Accounts, accounts_path

    state = state_of(ctx, project=project, output=output, debug=debug)
    accounts = Accounts(accounts_path(state.project))
    try:
        accounts.remove(name)
    finally:
        accounts.close()
    emit(state, Result("users", [{"name": name, "removed": True}]), _render_users)


def _render_users(out: Out, result: Result) -> None:
    for u in result.items:
        out.line(f"{u['name']}: {'removed' if u.get('removed') else u['role']}")


def register(app: typer.Typer) -> None:
    """Add report and serve to the root app (users is a command family)."""
    app.command(
        "report",
        epilog=epilog(
            "lakecrew report --html weekly.html",
            "lakecrew report --output json | jq '.items[0].overview'",
        ),
    )(report)
    app.command(
        "serve",
        epilog=epilog("lakecrew users add amina --role operator", "lakecrew serve --port 8787"),
    )(serve)
