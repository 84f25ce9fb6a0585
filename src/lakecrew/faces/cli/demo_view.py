"""Text rendering of `lakecrew demo`: the report a newcomer reads at a glance.

Everything goes through the renderer (`render.Out`): on a terminal, tables whose cells fold
(never "…"); piped (`make demo | less`, CI logs), one `# title` line per table and one
tab-separated line per row with full values, like every other command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakecrew.faces.cli.console import Result
from lakecrew.faces.cli.render import Col, Out, money

KINDS = ("clusters", "jobs", "warehouses", "instance_pools", "cluster_policies", "secret_scopes")
NUM = "right"


def render_demo(out: Out, result: Result) -> None:
    """The demo report: the estate, its cost, the sweep, the pipelines and the MLOps lines."""
    data: Mapping[str, Any] = result.items[0]
    sim, summary = data["simulation"], data["summary"]
    out.line(
        f"Simulated estate (seed {sim['seed']}, as of {sim['as_of']}, built in "
        f"{sim['seconds']} s): {sim['resource_total']:,} resources, "
        f"{sim['rows'].get('system.billing.usage', 0):,} usage rows, "
        f"{sim['planted_violations']} planted SOP violations",
        style="bold",
    )
    per_ws = summary["resources"].get("per_workspace", {})
    rows = [
        {
            "workspace": ws["name"],
            "env": ws["environment"],
            "approval": ws["approval_status"],
            "phase": ws.get("phase"),
            **{k: per_ws.get(ws["name"], {}).get(k, 0) for k in KINDS},
        }
        for ws in summary["workspaces"]
    ]
    columns = (
        Col("workspace"),
        Col("env"),
        Col("approval"),
        Col("phase", justify=NUM),
        *(Col(k, k.replace("_", " "), justify=NUM) for k in KINDS),
    )
    out.table(columns, rows, title="Workspaces (SOP 1.1.3)")
    cost = [
        {"by": "environment", "name": env, "usd": usd}
        for env, usd in sorted(summary["cost_by_environment"].items())
    ]
    cost += [
        {"by": "project", "name": p, "usd": usd}
        for p, usd in sorted(summary["cost_by_project"].items(), key=lambda kv: -float(kv[1]))
    ]
    cost.append({"by": "total", "name": "", "usd": summary["cost_usd"]})
    if float(summary.get("unattributed_cost_usd") or 0):
        cost.append(
            {
                "by": "unregistered",
                "name": "workspaces not in the inventory",
                "usd": summary["unattributed_cost_usd"],
            }
        )
    out.table(
        (Col("by"), Col("name"), Col("usd", "90-day list cost", fmt=money, justify=NUM)),
        cost,
        title="Cost (SQL over system.billing.usage)",
    )
    if "sweep" in data:
        render_sweep(out, data["sweep"])
    if "pipelines" in data:
        render_pipelines(out, data["pipelines"])
    if "mlops" in data:
        render_mlops(out, data["mlops"])
    out.line("Where the data lives", style="bold")
    out.table((Col("what"), Col("path")), [{"what": k, "path": v} for k, v in data["data"].items()])


def render_pipelines(out: Out, pipelines: Mapping[str, Any]) -> None:
    rows: list[dict[str, Any]] = []
    for name, run in pipelines.items():
        failed = [e for e in run.get("expectations", []) if e.get("failed")]
        quarantine = run.get("quarantine", {})
        for full_name, count in run.get("tables", {}).items():
            if full_name in quarantine:
                continue
            rows.append(
                {
                    "pipeline": name,
                    "table": full_name,
                    "rows": count,
                    "quarantined": sum(quarantine.values()),
                    "failed": ", ".join(f"{e['rule']} ({e['failed']})" for e in failed[:3]),
                    "reconciled": bool(run.get("reconciled")),
                }
            )
    columns = (
        Col("pipeline"),
        Col("table"),
        Col("rows", justify=NUM),
        Col("quarantined", justify=NUM),
        Col("failed", "expectations failed"),
        Col("reconciled"),
    )
    out.table(
        columns,
        rows,
        title="Medallion pipelines on real public-health data (bronze → silver → gold)",
    )


def render_sweep(out: Out, sweep: Mapping[str, Any]) -> None:
    columns = (
        Col("rule"),
        Col("sop", "SOP"),
        *(Col(s, justify=NUM) for s in ("critical", "warning", "info")),
    )
    rows = [{"critical": 0, "warning": 0, "info": 0, **r} for r in sweep.get("by_rule", [])]
    out.table(columns, rows, title=sweep.get("title", "Sweep"))
    for line in sweep.get("lines", []):
        out.line(line)


def render_mlops(out: Out, m: Mapping[str, Any]) -> None:
    """The MLOps lines: model, gates, scoring, drift, hygiene (SOP 1.7, 3.1.5)."""
    out.line(
        f"MLOps on MLflow (SOP 1.7): {m['model']} trained on {m['features_table']} "
        f"({m['rows']['train']:,} train / {m['rows']['holdout']:,} held-out state-weeks), "
        f"{len(m['versions'])} versions registered",
        style="bold",
    )
    gate = m["gate"]
    for detail in m.get("refused_without_approver", []):
        out.line(f"  first try without an approver: refused ({detail})")
    verdict = "promoted" if gate["passed"] else "refused"
    out.line(f"  promotion of v{gate['version']} to @champion: {verdict}")
    for check in gate["checks"]:
        mark = "pass" if check["passed"] else "FAIL"
        out.line(f"    {mark:4} {check['gate']:<10} {check['detail']}")
    out.line(
        f"  batch scoring v{m['scored_version']}: {m['inference_rows']:,} rows; drift in the "
        f"normal window: {', '.join(m['drift_normal']) or 'none'}; in the simulated surge: "
        f"{', '.join(m['drift_surge']) or 'none'}"
    )
    out.line(f"  registry hygiene (SOP 3.1.5): {', '.join(m['hygiene_findings']) or 'no findings'}")
