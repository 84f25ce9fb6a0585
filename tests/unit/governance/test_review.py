"""Access review flags over hand-built grants and audit aggregates (every flag fires on the
grant it names and on no other), and the compliance view model's counting."""

from __future__ import annotations

import json
from datetime import timedelta

from lakecrew.ports.catalog import ColumnInfo, Grant, TableInfo
from lakecrew.ports.ledger import FindingRow
from lakecrew.services.governance.compliance import compliance_month, previous_month
from lakecrew.services.governance.compliance_render import html_page, markdown
from lakecrew.services.governance.review import LastUse, review

from .conftest import T0

OLD = T0 - timedelta(days=200)
RESTRICTED = TableInfo(
    "lassa_prod.silver.cases",
    "lassa",
    tags={"classification": "Restricted"},
    columns=(
        ColumnInfo("phone", "string", tags={"pii": "phone"}, mask="lakecrew.masks.phone_partial"),
        ColumnInfo("name", "string", tags={"pii": "person_name"}),
    ),
)
INTERNAL = TableInfo("lassa_prod.gold.weekly", "lassa", tags={"classification": "Internal"})
GRANTS = [
    Grant("analysts", "SELECT", "TABLE", "lassa_prod.gold.weekly", granted_at=OLD),
    Grant("amina@moh.example", "SELECT", "TABLE", "lassa_prod.silver.cases", granted_at=OLD),
    Grant("account users", "SELECT", "SCHEMA", "lassa_prod.silver", granted_at=T0),
    Grant("admins", "ALL_PRIVILEGES", "CATALOG", "lassa_prod", granted_at=T0),
    Grant("ghost@moh.example", "SELECT", "TABLE", "lassa_prod.silver.dropped", granted_at=T0),
]
USE = LastUse.from_rows(
    [
        ("lassa_prod.gold.weekly", "kofi@moh.example", T0 - timedelta(days=3)),
        ("lassa_prod.silver.cases", "amina@moh.example", T0 - timedelta(days=120)),
    ],
    seen=["kofi@moh.example", "amina@moh.example"],
)


def test_each_flag_fires_where_it_should() -> None:
    rev = review(GRANTS, [RESTRICTED, INTERNAL], USE, at=T0, window_days=365)
    flags = {(g.principal, g.securable): set(g.flags) for g in rev.grants}
    assert flags[("analysts", "lassa_prod.gold.weekly")] == set()  # a group: anyone's use
    assert flags[("amina@moh.example", "lassa_prod.silver.cases")] == {"unused_90d", "user_grant"}
    assert flags[("account users", "lassa_prod.silver")] == {"broad_group_restricted"}
    assert flags[("admins", "lassa_prod")] == {"all_privileges"}
    assert flags[("ghost@moh.example", "lassa_prod.silver.dropped")] == {
        "user_grant",
        "securable_missing",
        "principal_not_seen",
    }
    by = {(g.principal, g.securable): g for g in rev.grants}
    assert by[("analysts", "lassa_prod.gold.weekly")].last_used == T0 - timedelta(days=3)
    assert rev.counts()["user_grant"] == 2 and len(rev.flagged) == 4


def test_schema_and_catalog_grants_on_ones_that_are_gone() -> None:
    gone = [
        Grant("analysts", "USE_SCHEMA", "SCHEMA", "lassa_prod.archive", granted_at=T0),
        Grant("analysts", "USE_CATALOG", "CATALOG", "lassa_old", granted_at=T0),
    ]
    known = frozenset({"lassa_prod", "lassa_prod.silver"})
    rev = review([*GRANTS, *gone], [RESTRICTED, INTERNAL], USE, at=T0, window_days=365,
                 containers=known)  # fmt: skip
    missing = {g.securable for g in rev.grants if "securable_missing" in g.flags}
    assert missing == {"lassa_prod.archive", "lassa_old", "lassa_prod.silver.dropped"}
    unknown = review(gone, [], USE, at=T0, window_days=365)  # not known: not judged
    assert not any("securable_missing" in g.flags for g in unknown.grants)


def _finding(ws: str, rule: str, first: int, resolved: int | None = None) -> FindingRow:
    res = T0 + timedelta(days=resolved) if resolved is not None else None
    return FindingRow(
        "fp" + rule + str(first),
        ws,
        rule,
        "warning",
        "x",
        "id",
        None,
        "o",
        "tag",
        "{}",
        "resolved" if res else "open",
        T0 + timedelta(days=first),
        T0 + timedelta(days=first),
        res,
        "s",
    )


def test_compliance_report_counts_by_rule_prefix_and_compares_months() -> None:
    findings = [
        _finding("lassa-prod-ng", "secret.acl_too_broad", 0),
        _finding("lassa-prod-ng", "security.token.no_expiry", 2),
        _finding("lassa-prod-ng", "security.identity.non_sso_sign_in", 3),
        _finding("lassa-prod-ng", "security.workspace_conf", 3),  # a setting: neither
        _finding("lassa-prod-ng", "security.failed_access", -30, resolved=-25),
        _finding("lassa-prod-ng", "cluster.no_policy", 1),
    ]
    reviews = [{"at": T0.isoformat(), "grants_by_catalog": {"lassa_prod": 5}}]
    rep = compliance_month(
        "2026-11",
        tables=[RESTRICTED, INTERNAL],
        grants=[*GRANTS, Grant("account users", "USE_CATALOG", "CATALOG", "system")],
        findings=findings,
        actions=[],
        reviews=reviews,
        previous_archive=None,
        now=T0 + timedelta(days=20),
    )
    data = rep.as_dict()
    (cat,) = data["catalogs"]
    assert (cat["tables"], cat["classified_pct"], cat["pii_columns"], cat["pii_masked"]) == (
        2,
        100.0,
        2,
        1,
    )
    # every direct grant once, on its catalog, schema or table; none on Databricks' `system`
    assert cat["grants"] == len(GRANTS) and [c["catalog"] for c in data["catalogs"]] == [
        "lassa_prod"
    ]
    assert cat["grants_reviewed"] == 5 and cat["grants_reviewed_pct"] == 100.0
    (ws,) = data["workspaces"]
    assert ws["secret_findings"] == {"identity": 1, "secret": 1, "token": 1}
    totals = data["totals"]
    assert [totals[f"{a}_findings"] for a in ("token", "identity", "secret")] == [1, 1, 1]
    assert ws["audit_anomalies"] == {}  # a token finding is no audit anomaly
    assert data["previous"]["audit_anomalies"] == 1  # October, from the ledger
    assert data["trend"]["audit_anomalies"] == -1 and data["trend"]["tables"] is None
    again = compliance_month(
        "2026-12",
        tables=[RESTRICTED],
        grants=[],
        findings=[],
        actions=[],
        reviews=[],
        previous_archive=json.loads(json.dumps(data)),
        now=T0 + timedelta(days=40),
    )
    assert again.trend()["tables"] == -1 and previous_month("2026-01") == "2025-12"
    assert "| tables | 2 |" in markdown(rep).replace("  ", " ")
    assert "<td>lassa_prod</td>" in html_page(rep) and "<script" not in html_page(rep)


def test_review_report_lists_flagged_grants_by_principal() -> None:
    from lakecrew.services.governance.review_report import review_markdown

    rev = review(GRANTS, [RESTRICTED, INTERNAL], USE, at=T0, window_days=365)
    text = review_markdown(rev, [], period="month")
    assert text.startswith("# Access review — month ending 2026-11-20")
    assert (
        "### admins" in text
        and "| ALL_PRIVILEGES | lassa_prod | 2026-11-17 | all_privileges |" in text
    )
    assert "### analysts" not in text  # nothing flagged: not listed
