"""Templates and charts: one Jinja2 environment (autoescape on for every template, undefined
values fail loudly) and the charts each section draws from its view model.

- `environment()`: the Jinja2 environment over `templates/` (cached);
- `section_charts(data)`: inline SVG charts (`charts.py`) of the weekly view model, by name;
- `report_html(data)`: the single self-contained HTML file of `lakecrew report --html`
  (CSS inlined, charts inline SVG, no script, no external reference).
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from importlib import resources
from typing import Any

from markupsafe import Markup

from lakecrew.faces.web import charts


@cache
def environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("lakecrew.faces.web", "templates"),
        autoescape=True,  # every template, whatever its extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    env.filters["pretty"] = _pretty
    return env


def _pretty(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _money(value: Any, currency: str = "USD") -> str:
    if value is None or value == "":
        return "—"
    amount = float(value)
    return f"${amount:,.2f}" if currency == "USD" else f"{amount:,.2f} {currency}"


def stylesheet() -> str:
    return (resources.files("lakecrew.faces.web") / "static" / "app.css").read_text("utf-8")


def overview_charts(overview: dict[str, Any]) -> dict[str, Markup]:
    rows = [(w["workspace"], float(w["open_findings"])) for w in overview["workspaces"]]
    return {"open_by_workspace": charts.bars(rows, "Open findings per workspace")}


def findings_charts(page: dict[str, Any]) -> dict[str, Markup]:
    sev = page["by_severity"]
    rows = [(s, float(sev.get(s, 0))) for s in ("critical", "warning", "info")]
    return {"by_severity": charts.bars(rows, "Findings by severity")}


def pipeline_charts(p: dict[str, Any]) -> dict[str, Markup]:
    worst = [(f"{j['workspace']} job {j['job_id']}", j["success_rate"]) for j in p["jobs"][:10]]
    dq = [
        (d["table_name"], d["pass_rate"]) for d in p["data_quality"] if d["pass_rate"] is not None
    ]
    return {
        "job_success": charts.bars(worst, "Lowest job success rates (last 7 days)", "%"),
        "dq_pass": charts.bars(dq[:15], "Data-quality pass rate per table", "%"),
    }


def finops_charts(f: dict[str, Any]) -> dict[str, Markup]:
    if "total" not in f:
        return {}
    daily: dict[str, float] = defaultdict(float)
    for row in f["daily_by_project"] or []:
        daily[row["day"]] += float(row["cost"])
    budgets = [(b["name"], float(b["forecast"])) for b in f["budgets"] or []]
    return {
        "daily_cost": charts.line(sorted(daily.items()), "Daily cost, all projects", " $"),
        "by_project": charts.bars(
            [(r["key"], float(r["cost"])) for r in f["by_project"] or []], "Cost by project", " $"
        ),
        "budget_forecast": charts.bars(budgets, "Month-end forecast per budget", " $"),
    }


def governance_charts(g: dict[str, Any]) -> dict[str, Markup]:
    rows = [(k, float(v)) for k, v in g["by_classification"].items()]
    return {"classification": charts.bars(rows, "Tables by classification")}


def section_charts(data: dict[str, Any]) -> dict[str, Markup]:
    """Every chart of the weekly view model, by name."""
    out: dict[str, Markup] = {}
    out.update(overview_charts(data["overview"]))
    out.update(findings_charts(data["findings"]))
    out.update(pipeline_charts(data["pipelines"]))
    out.update(finops_charts(data["finops"]))
    out.update(governance_charts(data["governance"]))
    return out


def report_html(data: dict[str, Any], *, title: str = "lakecrew weekly report") -> str:
    """The single-file report: inline CSS, inline SVG, no script and no external reference."""
    template = environment().get_template("report.html")
    return str(
        template.render(
            title=title,
            data=data,
            charts=section_charts(data),
            css=Markup(stylesheet()),  # our own file, not estate data
        )
    )
