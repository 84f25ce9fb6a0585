"""The SLA section of `lakecrew cost report` (services/crew/sla_report.py): text and Markdown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakecrew.faces.cli.render import Col, Out, percent

ENV_COLUMNS = (
    Col("environment"), Col("finished_runs", "runs", justify="right"),
    Col("failed_runs", "failed", justify="right"),
    Col("success_pct", "success", fmt=percent, justify="right"),
    Col("target_pct", "target", fmt=percent, justify="right"), Col("status"),
)  # fmt: skip
JOB_COLUMNS = (
    Col("workspace"), Col("job_id", "job"), Col("job_name", "name"),
    Col("success_pct", "success", fmt=percent, justify="right"),
    Col("target_pct", "target", fmt=percent, justify="right"), Col("status"),
    Col("p95_seconds", "p95 s", justify="right"),
    Col("baseline_p95_seconds", "baseline p95 s", justify="right"),
    Col("duration_status", "duration"),
)  # fmt: skip
FRESH_COLUMNS = (
    Col("table"), Col("sla_hours", "SLA h", justify="right"), Col("last_write", "last write"),
    Col("age_hours", "age h", justify="right"), Col("status"),
)  # fmt: skip
DQ_COLUMNS = (
    Col("table"), Col("checked_rows", "checked", justify="right"),
    Col("pass_pct", "pass", fmt=percent, justify="right"),
    Col("target_pct", "target", fmt=percent, justify="right"), Col("status"),
)  # fmt: skip


def _missed(job: Mapping[str, Any]) -> bool:
    return "breached" in (job["status"], job["duration_status"])


def render_sla(out: Out, sla: Mapping[str, Any]) -> None:
    """Environments, freshness and data quality in full; jobs: those missing a target (every
    job is in `--output json`)."""
    jobs = sla["jobs"]
    missed = [j for j in jobs if _missed(j)]
    out.line(
        f"SLA (SOP 1.6.2, 1.8) over {sla['window_days']} days to {sla['as_of']}: "
        f"{sla['breaches']} breach(es); {len(missed)} of {len(jobs)} jobs miss a target"
    )
    out.table(ENV_COLUMNS, sla["environments"], title="sla environments")
    if missed:
        out.table(JOB_COLUMNS, missed, title="sla jobs missing a target")
    if sla["freshness"]:
        out.table(FRESH_COLUMNS, sla["freshness"], title="sla gold freshness")
    if sla["data_quality"]:
        out.table(DQ_COLUMNS, sla["data_quality"], title="sla data quality")


def sla_markdown(sla: Mapping[str, Any]) -> list[str]:
    """The section as Markdown lines (report.md)."""
    jobs = sla["jobs"]
    missed = [j for j in jobs if _missed(j)]
    lines = [
        "## service levels (SLA)",
        "",
        f"Over {sla['window_days']} days to {sla['as_of']}: {sla['breaches']} breach(es); "
        f"{len(missed)} of {len(jobs)} jobs miss a target.",
        "",
    ]
    for title, columns, rows in (
        ("Job success per environment", ENV_COLUMNS, sla["environments"]),
        ("Jobs missing a target", JOB_COLUMNS, missed),
        ("Gold table freshness", FRESH_COLUMNS, sla["freshness"]),
        ("Data-quality pass rate", DQ_COLUMNS, sla["data_quality"]),
    ):
        lines += [f"### {title}", ""]
        if not rows:
            lines += ["(none)", ""]
            continue
        lines.append("| " + " | ".join(c.title for c in columns) + " |")
        lines.append("|" + "---|" * len(columns))
        lines += ["| " + " | ".join(c.fmt(r.get(c.key)) for c in columns) + " |" for r in rows]
        lines.append("")
    return lines
