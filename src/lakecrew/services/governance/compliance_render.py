"""The compliance report as Markdown and HTML (JSON is `ComplianceReport.as_dict()`)."""

from __future__ import annotations

import html
from typing import Any

from lakecrew.services.governance.compliance import ComplianceReport

_CAT_COLS = (
    ("catalog", "Catalog"),
    ("tables", "Tables"),
    ("classified_pct", "Classified %"),
    ("owner_and_steward_pct", "Owner+steward %"),
    ("pii_columns", "PII columns"),
    ("pii_masked_pct", "PII masked %"),
    ("grants", "Grants"),
    ("grants_reviewed_pct", "Reviewed %"),
    ("expired_revoked", "Expired revoked"),
)
_TOTALS = (
    "tables",
    "classified_pct",
    "owner_and_steward_pct",
    "pii_columns",
    "pii_masked_pct",
    "grants",
    "grants_reviewed_pct",
    "expired_revoked",
    "token_findings",
    "identity_findings",
    "secret_findings",
    "audit_anomalies",
)


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, dict):
        return ", ".join(f"{k} {n}" for k, n in sorted(v.items())) or "0"
    return str(v)


def _trend(v: Any) -> str:
    return "–" if v is None else (f"+{v}" if v > 0 else str(v))


def _sections(report: ComplianceReport) -> list[tuple[str, list[str], list[list[str]]]]:
    data = report.as_dict()
    totals, prev, trend = data["totals"], data["previous"] or {}, data["trend"]
    return [
        (
            f"Totals ({report.month}) and trend",
            ["Figure", report.month, "Previous month", "Change"],
            [[k, _cell(totals.get(k)), _cell(prev.get(k)), _trend(trend.get(k))] for k in _TOTALS],
        ),
        (
            "Per catalog",
            [label for _, label in _CAT_COLS],
            [[_cell(c.get(k)) for k, _ in _CAT_COLS] for c in data["catalogs"]],
        ),
        (
            "Per workspace (findings open during the month)",
            ["Workspace", "Token/identity/secret findings", "Audit anomalies", "New findings"],
            [
                [
                    w["workspace"],
                    _cell(w["secret_findings"]),
                    _cell(w["audit_anomalies"]),
                    str(w["new_findings"]),
                ]
                for w in data["workspaces"]
            ],
        ),
    ]


def markdown(report: ComplianceReport) -> str:
    out = [
        f"# Unity Catalog compliance report — {report.month}",
        "",
        f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC by lakecrew (SOP 1.3.4).",
        "",
    ]
    for title, head, rows in _sections(report):
        out += [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows] or ["| (none) |"]
        out.append("")
    if report.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    return "\n".join(out)


def html_page(report: ComplianceReport) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Compliance report {e(report.month)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>",
        f"<h1>Unity Catalog compliance report — {e(report.month)}</h1>",
        f"<p>Generated {report.generated_at:%Y-%m-%d %H:%M} UTC by lakecrew (SOP 1.3.4).</p>",
    ]
    for title, head, rows in _sections(report):
        parts.append(f"<h2>{e(title)}</h2><table><thead><tr>")
        parts += [f"<th>{e(h)}</th>" for h in head]
        parts.append("</tr></thead><tbody>")
        for r in rows:
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
        parts.append("</tbody></table>")
    if report.notes:
        parts.append(
            "<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in report.notes) + "</ul>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)
