"""`lakecrew secrets scan PATH`: hard-coded credentials in a folder, checkout or export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakecrew.core.errors import UsageError
from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.options import (
    DebugOpt,
    ForceOpt,
    OutputOpt,
    ProjectOpt,
    WideOpt,
    epilog,
    state_of,
)
from lakecrew.faces.cli.render import Col, Out

app = typer.Typer(help="Secret scanning (SOP 1.4.2, 3.1.7).", no_args_is_help=True)

COLUMNS = (
    Col("path"),
    Col("line", justify="right"),
    Col("rule_id", "rule"),
    Col("hint"),
    Col("fingerprint"),
    Col("view", wide=True),
)


def _render(out: Out, result: Result) -> None:
    out.table(COLUMNS, result.items)
    m = result.meta
    out.note(
        f"{len(result.items)} secret(s) in {m['files']} file(s); {m['baselined']} baselined, "
        f"{m['allowlisted']} allowlisted, {len(m['skipped'])} skipped"
    )
    for s in m["skipped"]:
        out.note(f"skipped {s['name']}: {s['reason']}")


def scan(
    ctx: typer.Context,
    *,
    path: Annotated[
        Path | None, typer.Argument(help="A folder, git checkout or exported notebook.")
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Scan a backend: databricks workspace's notebooks and files (Workspace API "
            "export) instead of PATH.",
        ),
    ] = None,
    root: Annotated[
        str, typer.Option("--root", help="Workspace folder to scan with --workspace.")
    ] = "/",
    allowlist: Annotated[
        Path | None,
        typer.Option(help="Accepted hits: lines sha256:<fp>, path:<glob>, rule:<rule id>."),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="A baseline (lakecrew's or detect-secrets' .secrets.baseline)."),
    ] = None,
    write_baseline: Annotated[
        Path | None, typer.Option(help="Write a baseline accepting today's findings.")
    ] = None,
    max_bytes: Annotated[
        int, typer.Option(min=1, help="Files larger than this are skipped (and said so).")
    ] = 5_000_000,
    force: ForceOpt = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Scan files and notebooks (SOURCE, JUPYTER, DBC, HTML) for credentials.

    Findings carry a fingerprint and a shape hint, never the secret. Exit 1 when any is found.
    """
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    from lakecrew.wiring.security import scan_path, scan_workspace

    if (path is None) == (workspace is None):
        raise UsageError("give PATH or --workspace W (one of them)", where="secrets scan")
    if workspace is not None:
        done = scan_workspace(
            state.project, workspace, root,
            allowlist=allowlist, baseline=baseline, max_bytes=max_bytes,
        )  # fmt: skip
    else:
        assert path is not None
        done = scan_path(path, allowlist=allowlist, baseline=baseline, max_bytes=max_bytes)
    if write_baseline is not None:
        from lakecrew.services.output_files import write_file
        from lakecrew.services.security.secret_scan import baseline_json

        write_file(
            write_baseline, baseline_json(done).encode(), force=force, option="--write-baseline"
        )
    items = [
        {
            "path": f.path,
            "line": f.line,
            "rule_id": f.rule_id,
            "detector": f.detector,
            "hint": f.hint,
            "fingerprint": f.fingerprint,
            "view": f.view,
        }
        for f in done.findings
    ]
    meta = {
        "files": done.files,
        "baselined": done.baselined,
        "allowlisted": done.allowlisted,
        "skipped": [{"name": s.name, "reason": s.reason} for s in done.skipped],
    }
    emit(state, Result("secrets_scan", items, meta), _render)
    if items and write_baseline is None:
        raise typer.Exit(1)


app.command(
    "scan",
    epilog=epilog(
        "lakecrew secrets scan ./notebooks",
        "lakecrew secrets scan repo --baseline .secrets.baseline --output json",
        "lakecrew secrets scan repo --write-baseline lakecrew.baseline.json",
        "lakecrew secrets scan --workspace malaria-prod-westafrica --root /Repos",
        exits="0 no secrets (or baseline written); 1 secrets found; 2 usage error",
    ),
)(scan)
