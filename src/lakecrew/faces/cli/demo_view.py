"""Text rendering of `lakecrew demo`: the report a newcomer reads at a glance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from lakecrew.faces.cli.console import Result
from lakecrew.faces.cli.render import Out

KINDS = ("clusters", "jobs", "warehouses", "instance_pools", "cluster_policies", "secret_scopes")


def _money(value: Any) -> str:
    return f"${float(value):,.2f}"


def _table(*columns: str, title: str | None = None) -> Table:
    """A table whose cells fold (never "…"): names and ids stay whole at any width."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def render_demo(out: Out, result: Result) -> None:
    """The demo report (rich tables on a terminal; piped, the same tables folded, not cut)."""
    data: Mapping[str, Any] = result.items[0]
    console: Console = out.console
    sim, summary = data["simulation"], data["summary"]
    console.print(
        f"[bold]Simulated estate[/bold] (seed {sim['seed']}, as of {sim['as_of']}, "
        f"built in {sim['seconds']} s): {sim['resource_total']:,} resources, "
        f"{sim['rows'].get('system.billing.usage', 0):,} usage rows, "
        f"{sim['planted_violations']} planted SOP violations"
    )
    per_ws = summary["resources"].get("per_workspace", {})
    ws_table = _table(
        "workspace", "env", "approval", "phase", *KINDS, title="Workspaces (SOP 1.1.3)"
    )
    for ws in summary["workspaces"]:
        counts = per_ws.get(ws["name"], {})
        approval = (
            ws["approval_status"] if ws["approved"] else f"[red]{ws['approval_status']}[/red]"
        )
        ws_table.add_row(
            ws["name"], ws["environment"], approval, str(ws.get("phase", "")),
            *(str(counts.get(k, 0)) for k in KINDS),
        )  # fmt: skip
    console.print(ws_table)
    cost = _table("by", "name", "90-day list cost", title="Cost (SQL over system.billing.usage)")
    for env, usd in sorted(summary["cost_by_environment"].items()):
        cost.add_row("environment", env, _money(usd))
    for project, usd in sorted(summary["cost_by_project"].items(), key=lambda kv: -float(kv[1])):
        cost.add_row("project", project, _money(usd))
    cost.add_row("[bold]total[/bold]", "", f"[bold]{_money(summary['cost_usd'])}[/bold]")
    unattributed = float(summary.get("unattributed_cost_usd") or 0)
    if unattributed:
        cost.add_row("unregistered", "workspaces not in the inventory", _money(unattributed))
    console.print(cost)
    if "sweep" in data:
        render_sweep(console, data["sweep"])
    if "pipelines" in data:
        render_pipelines(console, data["pipelines"])
    if "mlops" in data:
        render_mlops(console, data["mlops"])
    console.print("[bold]Where the data lives[/bold]")
    for name, path in data["data"].items():
        console.print(f"  {name:<18} {path}", markup=False)


def render_pipelines(console: Console, pipelines: Mapping[str, Any]) -> None:
    table = _table(
        "pipeline", "table", "rows", "quarantined", "expectations failed", "reconciled",
        title="Medallion pipelines on real public-health data (bronze → silver → gold)",
    )  # fmt: skip
    for name, run in pipelines.items():
        failed = [e for e in run.get("expectations", []) if e.get("failed")]
        quarantine = run.get("quarantine", {})
        first = True
        for full_name, rows in run.get("tables", {}).items():
            if full_name in quarantine:
                continue
            table.add_row(
                name if first else "",
                full_name,
                f"{rows:,}",
                f"{sum(quarantine.values()):,}" if first else "",
                ", ".join(f"{e['rule']} ({e['failed']})" for e in failed[:3]) if first else "",
                ("[green]yes[/green]" if run.get("reconciled") else "[red]NO[/red]")
                if first
                else "",
            )
            first = False
    console.print(table)


def render_sweep(console: Console, sweep: Mapping[str, Any]) -> None:
    by_rule = _table(
        "rule", "SOP", "critical", "warning", "info", title=sweep.get("title", "Sweep")
    )
    for row in sweep.get("by_rule", []):
        by_rule.add_row(
            row["rule"], row.get("sop", ""), str(row.get("critical", 0)),
            str(row.get("warning", 0)), str(row.get("info", 0)),
        )  # fmt: skip
    console.print(by_rule)
    for line in sweep.get("lines", []):
        console.print(line, markup=False)


def render_mlops(console: Console, m: Mapping[str, Any]) -> None:
    """The MLOps lines: model, gates, scoring, drift, hygiene (SOP 1.7, 3.1.5)."""
    console.print(
        f"[bold]MLOps on MLflow[/bold] (SOP 1.7): {m['model']} trained on "
        f"{m['features_table']} ({m['rows']['train']:,} train / {m['rows']['holdout']:,} "
        f"held-out state-weeks), {len(m['versions'])} versions registered"
    )
    gate = m["gate"]
    verdict = "promoted" if gate["passed"] else "[red]refused[/red]"
    for detail in m.get("refused_without_approver", []):
        console.print(f"  first try without an approver: refused ({detail})", markup=False)
    console.print(f"  promotion of v{gate['version']} to @champion: {verdict}")
    for check in gate["checks"]:
        mark = "pass" if check["passed"] else "FAIL"
        detail = check["detail"]
        console.print(f"    {mark:4} {check['gate']:<10} {detail[:160]}", markup=False)
    console.print(
        f"  batch scoring v{m['scored_version']}: {m['inference_rows']:,} rows; drift in the "
        f"normal window: {', '.join(m['drift_normal']) or 'none'}; in the simulated surge: "
        f"{', '.join(m['drift_surge']) or 'none'}",
        markup=False,
    )
    console.print(
        f"  registry hygiene (SOP 3.1.5): {', '.join(m['hygiene_findings']) or 'no findings'}",
        markup=False,
    )
