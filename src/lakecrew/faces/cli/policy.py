"""`lakecrew policy validate|show|export`: the SOP pack, explained, as cluster policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lakecrew.faces.cli.console import CliState, emit
from lakecrew.faces.cli.options import (
    DebugOpt,
    ForceOpt,
    OutputOpt,
    ProjectOpt,
    environment,
    state_of,
)
from lakecrew.services.estate.config import CONFIG_FILENAME, load_estate
from lakecrew.services.output_files import write_files
from lakecrew.services.policy.cluster_policy import PolicyDocument, export
from lakecrew.services.policy.loader import DEFAULT_PACK, explain_rule, load_pack, validate

app = typer.Typer(help="The SOP pack: validate it, explain a rule, export cluster policies.")

PackOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--pack",
        help="An extra pack layered over the default (and over lakecrew.yaml's sop_pack).",
        dir_okay=False,
    ),
]


SizeOpt = Annotated[
    str | None, typer.Option("--size", help="S, M, L or GPU (default: the env's size)")
]
CloudOpt = Annotated[str, typer.Option(help="aws, azure or gcp")]


def _policies(
    state: CliState, env: str, size: str | None, cloud: str, pack: list[Path] | None
) -> list[PolicyDocument]:
    """The cluster policies the pack exports for one environment (`export` and `apply`)."""
    environment(env)
    loaded = load_pack(_sources(state, pack))
    return export(loaded.pack, env, size.upper() if size else None, cloud=cloud)


def _sources(state: CliState, extra: list[Path] | None) -> list[str | Path]:
    """The default pack, then the project's org overlay (lakecrew.yaml `sop_pack`), then --pack."""
    sources: list[str | Path] = [DEFAULT_PACK]
    config_path = state.project / CONFIG_FILENAME
    if config_path.exists():
        overlay = load_estate(config_path, require_approved=False).sop_pack_path(state.project)
        if overlay is not None:
            sources.append(overlay)
    sources.extend(extra or [])
    return sources


@app.command("validate")
def validate_cmd(
    ctx: typer.Context,
    pack: PackOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Load the default pack and every overlay; report rules, disabled rules and overlay changes."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    report = validate(_sources(state, pack))
    data = {
        "sources": [str(s) for s in report.sources],
        "rules": report.rules,
        "enabled": report.enabled,
        "disabled": report.disabled,
        "changes": [c.__dict__ for c in report.changes],
    }
    emit(state, data, _render_validate)


def _render_validate(console: Console, data: dict[str, Any]) -> None:
    console.print(f"pack OK — {data['rules']} rules, {data['enabled']} enabled", markup=False)
    console.print("sources: " + " → ".join(data["sources"]), markup=False)
    for rule, reason in data["disabled"].items():
        console.print(f"  disabled {rule}: {reason}", markup=False)
    for change in data["changes"]:
        console.print(f"  {change['kind']} {change['path']} ({change['where']})", markup=False)


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    rule: Annotated[str, typer.Argument(help="Rule id, e.g. cluster.tags_missing")],
    pack: PackOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Every field of one rule, with the file:line that set it."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    emit(state, explain_rule(load_pack(_sources(state, pack)), rule), _render_show)


def _render_show(console: Console, data: dict[str, Any]) -> None:
    table = Table("field", "value", "set by", title=f"rule {data['rule']}")
    for name, item in data["fields"].items():
        value = item["value"]
        text = value if isinstance(value, str) else json.dumps(value)
        table.add_row(name, text, item["from"])
    console.print(table)
    for key in ("check_doc", "action_doc"):
        if data.get(key):
            console.print(f"{key.split('_')[0]}: {data[key].strip()}", markup=False)


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", help="dev, qa or prod")],
    size: SizeOpt = None,
    cloud: CloudOpt = "aws",
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write one JSON file per policy")
    ] = None,
    pack: PackOpt = None,
    force: ForceOpt = False,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write Databricks cluster policy definitions that reject what the SOP forbids."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    docs = _policies(state, env, size, cloud, pack)
    written = []
    if out is not None:
        files = {f"{d.name}.json": (json.dumps(d.to_api(), indent=2) + "\n").encode() for d in docs}
        written = [str(p) for p in write_files(out, files, force=force)]
    data = {
        "policies": [
            {
                "name": d.name,
                "cluster_type": d.cluster_type,
                "size": d.size,
                "description": d.description,
                "definition": d.definition,
            }
            for d in docs
        ],
        "written": written,
    }
    emit(state, data, _render_export)


def _render_export(console: Console, data: dict[str, Any]) -> None:
    for policy in data["policies"]:
        console.print(f"# {policy['name']} — {policy['description']}", markup=False)
        console.print(json.dumps(policy["definition"], indent=2, sort_keys=True), markup=False)
    for path in data["written"]:
        console.print(f"wrote {path}", markup=False)


@app.command("apply")
def apply_cmd(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", help="dev, qa or prod")],
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", help="Only this workspace (default: every one of ENV)."),
    ] = None,
    size: SizeOpt = None,
    cloud: CloudOpt = "aws",
    apply: Annotated[
        bool, typer.Option("--apply", help="Create/update the policies; without it, plan only.")
    ] = False,
    pack: PackOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Create or update the exported cluster policies in ENV's workspaces (plan first)."""
    from lakecrew.core.errors import LakecrewError, SafetyRefusal
    from lakecrew.services.deploy.policy_apply import apply_plan, plan_for
    from lakecrew.wiring import deploy as dw
    from lakecrew.wiring.context import Context

    state = state_of(ctx, project=project, output=output, debug=debug)
    docs = _policies(state, env, size, cloud, pack)
    lc = Context.open(state.project)
    try:
        names = dw.workspaces_for_env(lc, env, workspace)
        if apply:
            blocked = [w.name for w in lc.config.unapproved() if w.name in names]
            if blocked:
                raise SafetyRefusal(
                    f"workspace(s) {', '.join(blocked)} are not approved by the Data "
                    "Governance Board; lakecrew changes nothing there",
                    where="lakecrew.yaml",
                    fix="record the approval (SOP 1.1.3), or pass --workspace for an approved one",
                )
        results = []
        for name in names:
            port = dw.cluster_policies(lc, name)
            plan = plan_for(port, docs)
            entry: dict[str, Any] = {
                "workspace": name,
                "summary": plan.summary(),
                "plan": [s.as_dict() for s in plan.steps],
                "applied": [],
            }
            if apply and not plan.empty:
                entry["applied"] = [a.__dict__ for a in apply_plan(plan, port)]
                if not plan_for(port, docs).empty:
                    raise LakecrewError(
                        "the policies still differ after apply",
                        where=f"workspace {name}",
                        fix="re-run with --debug; another process may be editing them",
                    )
            results.append(entry)
    finally:
        lc.close()
    emit(state, {"env": env, "apply": apply, "workspaces": results}, _render_apply)


def _render_apply(console: Console, data: dict[str, Any]) -> None:
    mode = "apply" if data["apply"] else "plan only (pass --apply to act)"
    for ws in data["workspaces"]:
        counts = ", ".join(f"{n} {a}" for a, n in ws["summary"].items())
        console.print(f"{ws['workspace']} [{data['env']}]: {counts} — {mode}", markup=False)
        for step in ws["plan"]:
            detail = ""
            if step["changed"]:
                diff = step["definition_diff"]
                moved = ", ".join(f"{k}: {', '.join(v)}" for k, v in diff.items() if v)
                detail = f" ({', '.join(step['changed'])}{'; ' + moved if moved else ''})"
            console.print(f"  {step['action']:9} {step['name']}{detail}", markup=False)
        for done in ws["applied"]:
            console.print(
                f"  done: {done['action']} {done['name']} ({done['policy_id']})", markup=False
            )
