"""Unity Catalog metadata of the simulated estate: tables, column tags/masks and grants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from lakecrew.ports.catalog import ColumnInfo, Grant, TableInfo
from lakecrew.services.simulate.catalogue import sim_email
from lakecrew.services.simulate.estate import SimWorkspace
from lakecrew.services.simulate.model import SOP, Planted

TABLES = (  # schema.table, classification, comment, columns (name, type, pii)
    (
        "bronze.raw_submissions",
        "Confidential",
        "Raw case submissions from DHIS2, append-only.",
        (
            ("submission_id", "string", False),
            ("reporter_phone", "string", True),
            ("payload", "string", False),
        ),
    ),
    (
        "silver.case_reports",
        "Restricted",
        "Validated case reports, one row per case.",
        (
            ("case_id", "string", False),
            ("patient_name", "string", True),
            ("patient_phone", "string", True),
            ("lga", "string", False),
            ("test_result", "string", False),
            ("reported_on", "date", False),
        ),
    ),
    (
        "gold.weekly_summary",
        "Internal",
        "Weekly cases per LGA for dashboards.",
        (("lga", "string", False), ("epi_week", "int", False), ("cases", "bigint", False)),
    ),
)
PLANTS = {  # (workspace, table) -> violation codes
    ("malaria-dev-westafrica", "bronze.raw_submissions"): ("table.owner_missing",),
    ("lassa-qa-westafrica", "gold.weekly_summary"): ("table.owner_missing",),
    ("immunization-prod-westafrica", "gold.weekly_summary"): ("table.steward_missing",),
    ("facility_registry-dev-westafrica", "silver.case_reports"): ("table.steward_missing",),
    ("malaria-prod-westafrica", "gold.weekly_summary"): ("table.classification_missing",),
    ("lassa-dev-westafrica", "gold.weekly_summary"): ("table.classification_missing",),
    ("immunization-qa-westafrica", "bronze.raw_submissions"): ("table.comment_missing",),
    ("facility_registry-prod-westafrica", "gold.weekly_summary"): ("table.comment_missing",),
    ("lassa-prod-westafrica", "silver.case_reports"): ("table.pii_unmasked",),
    ("malaria-qa-westafrica", "silver.case_reports"): ("table.pii_unmasked",),
    ("immunization-prod-westafrica", "silver.case_reports"): ("grant.temporary_no_expiry",),
    ("facility_registry-qa-westafrica", "silver.case_reports"): ("grant.temporary_no_expiry",),
}


def _table(
    ws: SimWorkspace,
    name: str,
    cls: str,
    comment: str,
    cols: Sequence[tuple[str, str, bool]],
    codes: tuple[str, ...],
    created: datetime,
) -> TableInfo:
    catalog = f"{ws.project}_{ws.environment}"
    mask = f"{catalog}.governance.mask_pii"
    columns = tuple(
        ColumnInfo(
            name=c,
            type_text=t,
            position=i,
            tags={"pii": "true"} if pii else {},
            mask=(mask if pii and "table.pii_unmasked" not in codes else None),
        )
        for i, (c, t, pii) in enumerate(cols)
    )
    tags = {} if "table.classification_missing" in codes else {"classification": cls}
    props = {"lakecrew.simulated": "true", "department": ws.cost_center}
    if "table.steward_missing" not in codes:
        props["steward"] = sim_email(f"{ws.team}-steward")
    return TableInfo(
        full_name=f"{catalog}.{name}",
        owner="" if "table.owner_missing" in codes else ws.owner,
        comment=None if "table.comment_missing" in codes else comment,
        properties=props,
        tags=tags,
        columns=columns,
        created_at=created,
        updated_at=created,
    )


def catalog_metadata(
    workspaces: Sequence[SimWorkspace], now: datetime
) -> tuple[list[TableInfo], list[Grant], list[Planted], list[tuple[str, str]]]:
    """Tables, grants, planted violations and compliant table names (with their workspace)."""
    tables: list[TableInfo] = []
    grants: list[Grant] = []
    planted: list[Planted] = []
    compliant: list[tuple[str, str]] = []
    created = now - timedelta(days=200)
    for ws in workspaces:
        if not ws.approved:
            continue
        for name, cls, comment, cols in TABLES:
            codes = PLANTS.get((ws.name, name), ())
            info = _table(ws, name, cls, comment, cols, codes, created)
            tables.append(info)
            full = info.full_name
            grants.append(
                Grant(
                    f"{ws.project}-analysts",
                    "SELECT",
                    "TABLE",
                    full,
                    granted_by=ws.owner,
                    granted_at=created,
                )
            )
            if cls == "Restricted":
                expiry = None if "grant.temporary_no_expiry" in codes else now + timedelta(days=14)
                grants.append(
                    Grant(
                        sim_email("visiting.epidemiologist"),
                        "SELECT",
                        "TABLE",
                        full,
                        granted_by=ws.owner,
                        granted_at=now - timedelta(days=10),
                        expires_at=expiry,
                    )
                )
            planted += [Planted(c, SOP[c], ws.name, "tables", full) for c in codes]
            if not codes:
                compliant.append((ws.name, full))
    return tables, grants, planted, compliant
