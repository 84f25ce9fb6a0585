"""`lakecrew policy validate|show|export`: the SOP pack, explained, as cluster policies."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakecrew.faces.cli.console import CliState, Result, emit
from lakecrew.faces.cli.options import (
    DEFAULT_ENV,
    DebugOpt,
    EnvOpt,
    ForceOpt,
    OutputOpt,
    ProjectOpt,
    WideOpt,
    environment,
    epilog,
    state_of,
)
from lakecrew.faces.cli.render import Col, Out, cell

if TYPE_CHECKING:
    from lakecrew.services.policy.cluster_policy import PolicyDocument

app = typer.Typer(
    help="The SOP pack: list and explain its rules, validate it, export cluster policies.",
    no_args_is_help=True,
)

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


class Cloud(StrEnum):
    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"


CloudOpt = Annotated[Cloud, typer.Option(help="Cloud of the node types in the policies.")]


def _policies(
    state: CliState, env: str, size: str | None, cloud: str, pack: list[Path] | None
) -> list[PolicyDocument]:
    """The cluster policies the pack exports for one environment (`export` and `apply`)."""
    from lakecrew.services.policy.cluster_policy import export
    from lakecrew.services.policy.loader import load_pack

    env = environment(env)
    loaded = load_pack(_sources(state, pack))
    return export(loaded.pack, env, size.upper() if size else None, cloud=str(cloud))


def _sources(state: CliState, extra: list[Path] | None) -> list[str | Path]:
    """The default pack, then the project's org overlay (lakecrew.yaml `sop_pack`), then --pack."""
    from lakecrew.services.estate.config import CONFIG_FILENAME, load_estate
    from lakecrew.services.policy.loader import DEFAULT_PACK

    sources: list[str | Path] = [DEFAULT_PACK]
    config_path = state.project / CONFIG_FILENAME
    if config_path.exists():
        overlay = load_estate(config_path, require_approved=False).sop_pack_path(state.project)
        if overlay is not None:
            sources.append(overlay)
    sources.extend(extra or [])
    return sources


@app.command(
    "rules",
    epilog=epilog(
        "lakecrew policy rules",
        "lakecrew policy rules | grep critical",
        "lakecrew policy rules --output json | jq -r '.items[].rule_id'",
    ),
)
def rules_cmd(
    ctx: typer.Context,
    pack: PackOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Every rule id of the pack with its SOP section, severity, resource type and title."""
    state = state_of(ctx, project=project, output=output, debug=debug, wide=wide)
    from lakecrew.services.policy.loader import load_pack

    loaded = load_pack(_sources(state, pack))
    items = [
        {
            "rule_id": r.id,
            "sop_section": r.sop_section,
            "severity": r.severity,
            "resource_type": r.resource_type,
            "enabled": r.enabled,
            "min_phase": r.min_phase,
            "action": r.action.name if r.action is not None else None,
            "title": r.title,
        }
        for r in loaded.pack.rules
    ]
    emit(state, Result("policy_rules", items, {"count": len(items)}), _render_rules)


def _render_rules(out: Out, result: Result) -> None:
    columns = (
        Col("rule_id", "rule"), Col("sop_section", "SOP"), Col("severity"),
        Col("resource_type", "resource"), Col("enabled"), Col("title"),
        Col("min_phase", "min phase", wide=True), Col("action", wide=True),
    )  # fmt: skip
    out.table(columns, result.items)
    out.note(f"{len(result.items)} rule(s); explain one with `lakecrew policy show RULE`")


@app.command(
    "validate",
    epilog=epilog(
        "lakecrew policy validate",
        "lakecrew policy validate --pack org-overlay.yaml",
        exits="0 valid; 2 the pack or an overlay has problems (file:line named)",
    ),
)
def validate_cmd(
    ctx: typer.Context,
    pack: PackOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Load the default pack and every overlay; report rules, disabled rules and overlay changes."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    from lakecrew.services.policy.loader import validate

    report = validate(_sources(state, pack))
    data = {
        "sources": [str(s) for s in report.sources],
        "rules": report.rules,
        "enabled": report.enabled,
        "disabled": report.disabled,
        "changes": [c.__dict__ for c in report.changes],
    }
    emit(state, Result("policy_validate", [data]), _render_validate)


def _render_validate(out: Out, result: Result) -> None:
    data = result.items[0]
    out.line(f"pack OK — {data['rules']} rules, {data['enabled']} enabled")
    out.line("sources: " + " → ".join(data["sources"]))
    for rule, reason in data["disabled"].items():
        out.line(f"  disabled {rule}: {reason}")
    for change in data["changes"]:
        out.line(f"  {change['kind']} {change['path']} ({change['where']})")
    out.note("list the rule ids with `lakecrew policy rules`")


@app.command(
    "show",
    epilog=epilog(
        "lakecrew policy show cluster.autotermination_too_long",
        "lakecrew policy show cluster.idle --output json",
        exits="0 shown; 2 unknown rule id (closest ids suggested) or usage",
    ),
)
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
    from lakecrew.services.policy.loader import explain_rule, load_pack

    data = explain_rule(load_pack(_sources(state, pack)), rule)
    data["rule_id"] = data.pop("rule")
    emit(state, Result("policy_show", [data]), _render_show)


def _render_show(out: Out, result: Result) -> None:
    data = result.items[0]
    rows = [
        {"field": name, "value": cell(item["value"]), "from": item["from"]}
        for name, item in data["fields"].items()
    ]
    out.table(
        (Col("field"), Col("value"), Col("from", "set by")), rows, title=f"rule {data['rule_id']}"
    )
    for key in ("check_doc", "action_doc"):
        if data.get(key):
            out.line(f"{key.split('_')[0]}: {data[key].strip()}")


@app.command(
    "export",
    epilog=epilog(
        "lakecrew policy export --env prod --out policies/",
        "lakecrew policy export --env dev --size M --cloud azure --output json",
    ),
)
def export_cmd(
    ctx: typer.Context,
    env: EnvOpt = DEFAULT_ENV,
    size: SizeOpt = None,
    cloud: CloudOpt = Cloud.AWS,
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
    written: list[str] = []
    if out is not None:
        from lakecrew.services.output_files import write_files

        files = {f"{d.name}.json": (json.dumps(d.to_api(), indent=2) + "\n").encode() for d in docs}
        written = [str(p) for p in write_files(out, files, force=force)]
    items = [
        {
            "name": d.name,
            "cluster_type": d.cluster_type,
            "size": d.size,
            "description": d.description,
            "definition": d.definition,
        }
        for d in docs
    ]
    emit(state, Result("policy_export", items, {"env": env, "written": written}), _render_export)


def _render_export(out: Out, result: Result) -> None:
    if result.meta["written"]:
        for path in result.meta["written"]:
            out.line(f"wrote {path}")
        return
    for policy in result.items:
        out.line(f"# {policy['name']} — {policy['description']}")
        out.line(json.dumps(policy["definition"], indent=2, sort_keys=True))


@app.command(
    "apply",
    epilog=epilog(
        "lakecrew policy apply --env dev",
        "lakecrew policy apply --env dev --workspace malaria-dev-westafrica --apply",
        exits="0 planned or applied; 1 refused (workspace not approved) or still different "
        "after apply; 2 usage or Databricks auth not configured",
    ),
)
def apply_cmd(
    ctx: typer.Context,
    env: EnvOpt = DEFAULT_ENV,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", help="Only this workspace (default: every one of ENV)."),
    ] = None,
    size: SizeOpt = None,
    cloud: CloudOpt = Cloud.AWS,
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
    emit(state, Result("policy_apply", results, {"env": env, "apply": apply}), _render_apply)


def _render_apply(out: Out, result: Result) -> None:
    data = result.meta
    mode = "applied" if data["apply"] else "plan only (pass --apply to act)"
    for ws in result.items:
        counts = ", ".join(f"{n} {a}" for a, n in ws["summary"].items())
        out.line(f"{ws['workspace']} [{data['env']}]: {counts} — {mode}")
        for step in ws["plan"]:
            detail = ""
            if step["changed"]:
                diff = step["definition_diff"]
                moved = ", ".join(f"{k}: {', '.join(v)}" for k, v in diff.items() if v)
                detail = f" ({', '.join(step['changed'])}{'; ' + moved if moved else ''})"
            out.line(f"  {step['action']:9} {step['name']}{detail}")
        for done in ws["applied"]:
            out.line(f"  applied: {done['action']} {done['name']} ({done['policy_id']})")
