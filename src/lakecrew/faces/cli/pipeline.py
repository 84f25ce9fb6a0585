"""`lakecrew pipeline`: list, validate, plan, run (medallion pipelines from YAML specs)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakecrew.faces.cli.console import Result, emit, render_items
from lakecrew.faces.cli.options import (
    DEFAULT_ENV,
    DebugOpt,
    EnvOpt,
    OutputOpt,
    ProjectOpt,
    environment,
    epilog,
    state_of,
)
from lakecrew.faces.cli.render import Col, Out

if TYPE_CHECKING:
    from lakecrew.services.pipelines.loader import LoadedPipeline
    from lakecrew.wiring.context import Context

app = typer.Typer(
    help="Medallion pipelines: bronze → silver → gold from a YAML spec.", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="Pipeline name (file name of its spec).")]


class Engine(StrEnum):
    LOCAL = "local"
    SPARK = "spark"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine", help="local (DuckDB) or spark: gold SQL models, and kafka sources (spark only)."
    ),
]


def _env(value: str) -> Any:
    return environment(value)


@app.command("list", epilog=epilog("lakecrew pipeline list", "lakecrew pipeline list -o json"))
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
    items = [{"pipeline": name, "spec": str(path)} for name, path in specs.items()]
    emit(
        state,
        Result("pipeline_list", items),
        lambda o, r: o.table((Col("pipeline"), Col("spec")), r.items),
    )


@app.command(
    "validate",
    epilog=epilog(
        "lakecrew pipeline validate lassa_weekly",
        "lakecrew pipeline validate lassa_weekly --env prod --engine spark",
        exits="0 valid; 2 unknown pipeline (closest named) or a spec problem at file:line",
    ),
)
def validate(
    ctx: typer.Context,
    name: NameArg,
    env: EnvOpt = DEFAULT_ENV,
    engine: EngineOpt = Engine.LOCAL,
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
        pw.check_engine(loaded, str(engine))
        unbound = pw.check_gold(lc, loaded, str(engine))
    item: dict[str, object] = {"pipeline": loaded.spec.name, "env": loaded.env, "valid": True}
    if unbound:
        item["not_bound"] = ", ".join(
            f"{t} (reads a table no run has written yet)" for t in unbound
        )
    emit(state, Result("pipeline_validate", [item]), render_items)


@app.command(
    "plan",
    epilog=epilog(
        "lakecrew pipeline plan lassa_weekly", "lakecrew pipeline plan lassa_weekly -o json"
    ),
)
def plan(
    ctx: typer.Context,
    name: NameArg,
    env: EnvOpt = DEFAULT_ENV,
    engine: EngineOpt = Engine.LOCAL,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show what a run would read and write, without running it."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.wiring import pipelines as pw

    lc, loaded = _open(state.project, name, env, engine)
    with lc:
        planned = pw.runner_for(lc, engine=engine.value).plan(loaded)
    emit(state, Result("pipeline_plan", [planned]))


@app.command(
    "run",
    epilog=epilog(
        "lakecrew pipeline run lassa_weekly",
        "lakecrew pipeline run lassa_weekly --engine spark --full-refresh",
        "lakecrew pipeline run lassa_weekly --output json | jq '.items[0].layers'",
        "lakecrew pipeline run lassa_weekly --env qa --workspace lassa-qa-westafrica",
        exits="0 ran and reconciled; 1 the run failed (an expectation with action fail, lost "
        "rows, a source error); 2 unknown pipeline or usage",
    ),
)
def run(
    ctx: typer.Context,
    name: NameArg,
    env: EnvOpt = DEFAULT_ENV,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild silver and gold from all of bronze.")
    ] = False,
    engine: EngineOpt = Engine.LOCAL,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            help="A backend: databricks workspace: write Unity Catalog managed tables by name "
            "through its SQL warehouse (warehouse_id), or with --engine spark on a Databricks "
            "cluster through the cluster's Spark (secrets from its secret scopes).",
        ),
    ] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run a pipeline: source → bronze → silver → gold, with counts and reconciliation."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.wiring import pipelines as pw

    lc, loaded = _open(state.project, name, env, engine)
    with lc:
        runner = pw.runner_for(
            lc, engine=engine.value, workspace=workspace, records_catalog=loaded.catalog
        )
        report = runner.run(loaded, full_refresh=full_refresh)
    data = report.as_dict()
    data.pop("lineage")
    emit(state, Result("pipeline_run", [data]), _render_run)


def _open(project: Path, name: str, env: str, engine: Engine) -> tuple[Context, LoadedPipeline]:
    """A writable project context and the pipeline loaded for ``env``, checked for ``engine``."""
    from lakecrew.wiring import pipelines as pw
    from lakecrew.wiring.context import Context

    lc = Context.open(project, writable=True)
    try:
        loaded = pw.load(lc, name, _env(env))
        pw.check_engine(loaded, str(engine))
    except BaseException:
        lc.close()
        raise
    return lc, loaded


def _render_run(out: Out, result: Result) -> None:
    data = result.items[0]
    out.line(f"{data['pipeline']} [{data['env']}] {data['status']}")
    for layer, counts in data["layers"].items():
        out.line(
            f"  {layer}: read {counts['read']}, written {counts['written']}, "
            f"quarantined {counts['quarantined']}, duplicates {counts['duplicates']}, "
            f"dropped {counts['dropped']}"
        )
    out.line(f"  reconciled: {str(data['reconciled']).lower()}")
    failed = [e for e in data["expectations"] if e["status"] == "failed"]
    for e in failed:
        out.line(f"  expectation {e['rule']} ({e['action']}): {e['failed']} failed")


@app.command(
    "bundle",
    epilog=epilog(
        "lakecrew pipeline bundle lassa_weekly --env prod",
        "lakecrew pipeline bundle lassa_weekly -o json",
        "lakecrew pipeline bundle eha_locations --env qa --workspace facilities-qa-westafrica",
    ),
)
def bundle(
    ctx: typer.Context,
    name: NameArg,
    env: EnvOpt = DEFAULT_ENV,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            help="The job runs `pipeline run --workspace W --engine spark`: the job cluster's "
            "Spark writes Unity Catalog tables by name (a backend: databricks workspace).",
        ),
    ] = None,
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
        if workspace is not None:
            pw.check_workspace(lc, workspace, need_warehouse=False)
        definition = job_definition(loaded, lc.pack, workspace=workspace)
    emit(state, Result("pipeline_bundle", [definition]), _render_yaml)


def _render_yaml(out: Out, result: Result) -> None:
    import yaml

    out.console.print(yaml.safe_dump(result.items[0], sort_keys=False), markup=False, end="")
