"""`lakecrew deploy bundle | check`: the Databricks Asset Bundle that runs the sweep (SOP 1.5.3)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakecrew import __version__
from lakecrew.core.errors import UsageError
from lakecrew.faces.cli.console import CliState, Result, emit
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, epilog, state_of
from lakecrew.faces.cli.policy import Cloud
from lakecrew.faces.cli.render import Out

if TYPE_CHECKING:
    from lakecrew.services.estate.config import EstateConfig

app = typer.Typer(
    help="Deploy lakecrew itself: a Databricks Asset Bundle running the sweep.",
    no_args_is_help=True,
)


def _estate(state: CliState) -> tuple[EstateConfig | None, Path]:
    from lakecrew.services.estate.config import CONFIG_FILENAME, load_estate

    path = state.project / CONFIG_FILENAME
    if not path.exists():
        return None, path
    return load_estate(path, require_approved=False), path


def _pack(state: CliState, config: EstateConfig | None) -> Any:
    from lakecrew.services.policy.loader import DEFAULT_PACK, load_pack

    sources: list[str | Path] = [DEFAULT_PACK]
    overlay = config.sop_pack_path(state.project) if config is not None else None
    if overlay is not None:
        sources.append(overlay)
    return load_pack(sources).pack


@app.command(
    "bundle",
    epilog=epilog(
        "lakecrew deploy bundle --out bundle/",
        "lakecrew deploy bundle --out bundle/ --force --notify platform@ehealthafrica.org",
        exits="0 written and checked; 1 the bundle breaks lakecrew's own rules (nothing "
        "written) or --out exists without --force; 2 usage",
    ),
)
def bundle_cmd(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write (default: <project>/bundle).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
    notify: Annotated[
        str | None,
        typer.Option("--notify", help="Failure e-mail (default: each env's workspace owner)."),
    ] = None,
    cloud: Annotated[Cloud, typer.Option(help="Cloud of the node types.")] = Cloud.AWS,
    cron: Annotated[str, typer.Option(help="Quartz cron of the sweep schedule.")] = "0 0 6 * * ?",
    timezone: Annotated[str, typer.Option(help="Timezone of the schedule.")] = "UTC",
    sp_application_id: Annotated[
        str | None,
        typer.Option(
            help="Service principal (application id) qa/prod jobs run as "
            "(default: set BUNDLE_VAR_sp_application_id in CI)."
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="Bundle name.")] = "lakecrew_governance",
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Generate the bundle (dev/qa/prod targets from lakecrew.yaml), check it, write it."""
    from lakecrew.services.deploy.bundle import (
        build_bundle,
        check_bundle,
        ensure_ok,
        settings_from_estate,
        write_bundle,
    )

    state = state_of(ctx, project=project, output=output, debug=debug)
    config, path = _estate(state)
    if config is None:
        raise UsageError(
            "no lakecrew.yaml in this project", where=str(state.project), fix="run `lakecrew init`"
        )
    pack = _pack(state, config)
    settings = settings_from_estate(
        config,
        __version__,
        notification_email=notify,
        estate_yaml=path.read_text(encoding="utf-8"),
        cloud=str(cloud),
        cron=cron,
        timezone=timezone,
        sp_application_id=sp_application_id,
        name=name,
    )
    bundle = build_bundle(pack, settings)
    check = ensure_ok(check_bundle(bundle.files, pack))  # nothing is written when it fails
    target = out if out is not None else state.project / "bundle"
    written = write_bundle(bundle, target, force=force)
    data = {"out": str(target), "files": [str(p) for p in written], "check": check.as_dict()}
    emit(state, Result("deploy_bundle", [data]), _render_bundle)


def _render_bundle(out: Out, result: Result) -> None:
    data = result.items[0]
    out.line(f"wrote bundle to {data['out']} ({len(data['files'])} files)")
    _render_check(out, data["check"])
    out.note("next: lakecrew policy apply --env <env> --apply; databricks bundle validate -t dev")


@app.command(
    "check",
    epilog=epilog(
        "lakecrew deploy check bundle/",
        exits="0 the bundle passes; 1 it breaks a rule or a cluster policy; 2 usage",
    ),
)
def check_cmd(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The bundle folder (with databricks.yml).")] = Path(
        "."
    ),
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run lakecrew's own rules and cluster policies over every target of a bundle."""
    from lakecrew.services.deploy.bundle import check_bundle, ensure_ok, read_bundle_files

    state = state_of(ctx, project=project, output=output, debug=debug)
    config, _ = _estate(state)
    check = check_bundle(read_bundle_files(folder), _pack(state, config))
    emit(
        state,
        Result("deploy_check", [{"folder": str(folder), "check": check.as_dict()}]),
        lambda o, r: _render_check(o, r.items[0]["check"]),
    )
    ensure_ok(check)


def _render_check(out: Out, check: dict[str, Any]) -> None:
    targets = ", ".join(f"{t} ({n} resources)" for t, n in check["checked"].items())
    verdict = "passes" if check["ok"] else f"FAILS with {len(check['problems'])} problem(s)"
    out.line(f"lakecrew checks {verdict}: {targets}")
    for p in check["problems"]:
        out.line(f"  [{p['target']}] {p['resource']}: {p['rule']} — {p['message']}")
    for ref in check["unresolved"]:
        out.line(f"  resolved at deploy time: {ref}")
