"""`lakecrew pipeline`: list, validate, plan, run (medallion pipelines from YAML specs)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from lakecrew.faces.cli.console import emit, render_mapping
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, environment, state_of

if TYPE_CHECKING:
    from lakecrew.services.pipelines.loader import LoadedPipeline
    from lakecrew.wiring.context import Context

app = typer.Typer(help="Medallion pipelines: bronze → silver → gold from a YAML spec.")

NameArg = Annotated[str, typer.Argument(help="Pipeline name (file name of its spec).")]
EnvOpt = Annotated[str, typer.Option("--env", help="Environment: dev, qa or prod.")]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine", help="local (DuckDB) or spark: gold SQL models, and kafka sources (spark only)."
    ),
]


def _env(value: str) -> Any:
    return environment(value)


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List the pipelines of the project (and the bundled demo pipelines)."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.wiring import pipelines as pw
    from lakecrew.wiring.context import Context

    with Context.open(state.project) as lc:
        specs = pw.list_specs(lc)
    emit(state, {name: str(path) for name, path in specs.items()}, render_mapping)


@app.command("validate")
def validate(
    ctx: typer.Context,
    name: NameArg,
    env: EnvOpt = "dev",
    engine: EngineOpt = "local",
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Check a spec for every environment; problems are listed at file:line."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.wiring import pipelines as pw
    from lakecrew.wiring.context import Context

    with Context.open(state.project) as lc:
        loaded = pw.load(lc, name, _env(env))
        pw.check_engine(loaded, engine)
        unbound = pw.check_gold(lc, loaded, engine)
    result: dict[str, object] = {"pipeline": loaded.spec.name, "env": loaded.env, "valid": True}
    if unbound:
        result["not_bound"] = [f"{t} (reads a table no run has written yet)" for t in unbound]
    emit(state, result, render_mapping)


@app.command("plan")
def plan(
    ctx: typer.Context,
    name: NameArg,
    env: EnvOpt = "dev",
    engine: EngineOpt = "local",
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show what a run would read and write, without running it."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.wiring import pipelines as pw

    lc, loaded = _open(state.project, name, env, engine)
    with lc:
        planned = pw.runner_for(lc, engine=engine).plan(loaded)
    emit(state, planned, render_mapping)


@app.command("run")
def run(
    ctx: typer.Context,
    name: NameArg,
    env: EnvOpt = "dev",
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild silver and gold from all of bronze.")
    ] = False,
    engine: EngineOpt = "local",
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run a pipeline: source → bronze → silver → gold, with counts and reconciliation."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.wiring import pipelines as pw

    lc, loaded = _open(state.project, name, env, engine)
    with lc:
        report = pw.runner_for(lc, engine=engine).run(loaded, full_refresh=full_refresh)
    data = report.as_dict()
    data.pop("lineage")
    emit(state, data, _render_run)


def _open(project: Path, name: str, env: str, engine: str) -> tuple[Context, LoadedPipeline]:
    """A writable project context and the pipeline loaded for ``env``, checked for ``engine``."""
    from lakecrew.wiring import pipelines as pw
    from lakecrew.wiring.context import Context

    lc = Context.open(project, writable=True)
    try:
        loaded = pw.load(lc, name, _env(env))
        pw.check_engine(loaded, engine)
    except BaseException:
        lc.close()
        raise
    return lc, loaded


def _render_run(console: Console, data: dict[str, Any]) -> None:
    console.print(f"{data['pipeline']} [{data['env']}] {data['status']}", markup=False)
    for layer, counts in data["layers"].items():
        console.print(
            f"  {layer}: read {counts['read']}, written {counts['written']}, "
            f"quarantined {counts['quarantined']}, duplicates {counts['duplicates']}, "
            f"dropped {counts['dropped']}",
            markup=False,
        )
    console.print(f"  reconciled: {str(data['reconciled']).lower()}", markup=False)
    failed = [e for e in data["expectations"] if e["status"] == "failed"]
    for e in failed:
        console.print(
            f"  expectation {e['rule']} ({e['action']}): {e['failed']} failed", markup=False
        )


@app.command("bundle")
def bundle(
    ctx: typer.Context,
    name: NameArg,
    env: EnvOpt = "prod",
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print the Databricks job definition (asset bundle resources) that runs the pipeline."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.services.pipelines.bundle import job_definition
    from lakecrew.wiring import pipelines as pw
    from lakecrew.wiring.context import Context

    with Context.open(state.project) as lc:
        loaded = pw.load(lc, name, _env(env))
        definition = job_definition(loaded, lc.pack)
    emit(state, definition, _render_yaml)


def _render_yaml(console: Console, data: dict[str, Any]) -> None:
    import yaml

    console.print(yaml.safe_dump(data, sort_keys=False), markup=False, end="")
