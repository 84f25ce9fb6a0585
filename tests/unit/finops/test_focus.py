"""FOCUS export checked against the FOCUS 1.2 column rules (ops-anchors-and-shapes §1.1).

focus-validator is not used: 2.x needs Python >= 3.12 and 1.0.0 downgrades numpy to 1.26 and
sqlglot to 18 (see the finops README). The rules below are transcribed from the reference
independently of the exporter's own column list.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.core.errors import UsageError
from lakecrew.services.finops.cost import CostModel
from lakecrew.services.finops.focus import SubAccount, focus_csv, focus_export, focus_table

from .conftest import WS

AS_OF = datetime(2026, 1, 20, tzinfo=UTC)
# (column, kind, nullable) of every FOCUS 1.2 Mandatory column, from the reference table
MANDATORY = [
    ("BilledCost", "decimal", False), ("BillingAccountId", "string", False),
    ("BillingAccountName", "string", True), ("BillingCurrency", "string", False),
    ("BillingPeriodStart", "datetime", False), ("BillingPeriodEnd", "datetime", False),
    ("ChargeCategory", "string", False), ("ChargeClass", "string", True),
    ("ChargeDescription", "string", True), ("ChargePeriodStart", "datetime", False),
    ("ChargePeriodEnd", "datetime", False), ("ContractedCost", "decimal", False),
    ("EffectiveCost", "decimal", False), ("InvoiceIssuerName", "string", False),
    ("ListCost", "decimal", False), ("PricingQuantity", "decimal", True),
    ("PricingUnit", "string", True), ("ProviderName", "string", False),
    ("PublisherName", "string", False), ("ServiceCategory", "string", False),
    ("ServiceName", "string", False),
]  # fmt: skip
CONDITIONAL = {  # conditional columns Databricks data can fill, with their kind
    "ConsumedQuantity": "decimal", "ConsumedUnit": "string", "ListUnitPrice": "decimal",
    "ContractedUnitPrice": "decimal", "RegionId": "string", "RegionName": "string",
    "ResourceId": "string", "ResourceType": "string", "SkuId": "string", "SkuPriceId": "string",
    "SubAccountId": "string", "SubAccountName": "string", "Tags": "json",
    "PricingCategory": "string",
}  # fmt: skip
ALLOWED: dict[str, set[str | None]] = {
    "ChargeCategory": {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
    "ChargeClass": {"Correction", None},
    "ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},
    "PricingCategory": {"Standard", "Dynamic", "Committed", "Other", None},
    "ServiceCategory": {
        "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
        "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
        "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
        "Storage", "Web", "Other",
    },
}  # fmt: skip
WORKSPACES = {WS: SubAccount("malaria-dev-westafrica", "dev", "westafrica")}


def _kind_ok(kind: str, dtype: pa.DataType) -> bool:
    if kind == "decimal":
        return bool(pa.types.is_decimal(dtype))
    if kind == "datetime":
        return bool(pa.types.is_timestamp(dtype)) and dtype.tz == "UTC"
    return bool(pa.types.is_string(dtype))


def _export(billing: LocalSqlEngine) -> pa.Table:
    table, _ = focus_export(
        billing, datetime(2026, 1, 1).date(), datetime(2026, 2, 1).date(), as_of=AS_OF,
        workspaces=WORKSPACES,
    )  # fmt: skip
    return table


def test_columns_types_nullability_and_order(billing: LocalSqlEngine) -> None:
    table = _export(billing)
    names = table.column_names
    for name, kind, nullable in MANDATORY:
        assert name in names, name
        assert _kind_ok(kind, table.schema.field(name).type), name
        if not nullable:
            assert table.column(name).null_count == 0, name
    for name, kind in CONDITIONAL.items():
        assert name in names and _kind_ok("string" if kind == "json" else kind,
                                          table.schema.field(name).type), name  # fmt: skip
    custom = [n for n in names if not n[0].isupper()]
    assert custom and all(n.startswith("x_") for n in custom)
    first_custom = names.index(custom[0])
    assert all(n.startswith("x_") for n in names[first_custom:]), "x_ columns come last"
    assert all(re.fullmatch(r"[A-Z][A-Za-z]{1,49}", n) for n in names[:first_custom])
    assert "SKUId" not in names and "SkuId" in names  # no abbreviations in capitals


def test_values_follow_the_rules(billing: LocalSqlEngine) -> None:
    rows = _export(billing).to_pylist()
    assert rows
    for r in rows:
        for col, allowed in ALLOWED.items():
            assert r[col] in allowed, (col, r[col])
        assert r["ChargePeriodStart"] < r["ChargePeriodEnd"]
        assert r["BillingPeriodStart"] <= r["ChargePeriodStart"]
        assert r["ChargePeriodEnd"] <= r["BillingPeriodEnd"]
        assert r["BillingPeriodStart"].day == 1 and r["BillingPeriodEnd"].day == 1
        assert r["BilledCost"] == r["EffectiveCost"] == r["ContractedCost"] == r["ListCost"]
        assert abs(r["ListCost"] - r["PricingQuantity"] * r["ListUnitPrice"]) < Decimal("1e-8")
        assert r["BillingCurrency"] == "USD" and r["ProviderName"] == "Databricks"
        assert r["SubAccountId"] == WS and r["x_Environment"] == "dev"
        if r["Tags"] is not None:
            tags = json.loads(r["Tags"])
            assert isinstance(tags, dict) and all(isinstance(v, str) for v in tags.values())
        if r["ResourceId"] is not None:
            assert r["ResourceType"] in {"Cluster", "SQL Warehouse", "Pipeline", "Job",
                                         "Serving Endpoint"}  # fmt: skip
    corrections = {r["x_RecordType"] for r in rows if r["ChargeClass"] == "Correction"}
    assert corrections == {"RETRACTION", "RESTATEMENT"}
    assert {r["ResourceId"] for r in rows if r["x_WarehouseId"]} == {"w1", "w2"}
    sql = {r["ServiceName"]: r["ServiceCategory"] for r in rows}
    assert sql["Databricks SQL"] == "Analytics"


def test_billed_cost_reconciles_to_the_cost_model_to_the_cent(billing: LocalSqlEngine) -> None:
    table = _export(billing)
    billed = Decimal(sum(table.column("BilledCost").to_pylist(), Decimal(0)))
    model = CostModel(billing)
    start, end = datetime(2026, 1, 1).date(), datetime(2026, 2, 1).date()
    priced = model.priced_usage(start, end, as_of=AS_OF).total.cents()
    assert billed.quantize(Decimal("0.01")) == priced == Decimal("8.60")
    assert billed.quantize(Decimal("0.01")) == model.table_total(start, end)["USD"].quantize(
        Decimal("0.01")
    )
    skus = set(table.column("SkuId").to_pylist())
    assert "PREMIUM_NEW_SKU" not in skus  # unpriced usage is reported, never exported at 0


def test_csv_has_header_iso_utc_times_and_plain_decimals(billing: LocalSqlEngine) -> None:
    table = _export(billing)
    text = focus_csv(table)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == table.num_rows
    assert list(rows[0]) == table.column_names
    stamp = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
    for r in rows:
        for col in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart"):
            assert stamp.fullmatch(r[col]), r[col]
        assert "E" not in r["BilledCost"].upper()
    total = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
    assert total.quantize(Decimal("0.01")) == Decimal("8.60")


def test_export_refuses_usage_not_priced_by_resource(billing: LocalSqlEngine) -> None:
    usage = CostModel(billing).priced_usage(
        datetime(2026, 1, 1).date(), datetime(2026, 2, 1).date(), as_of=AS_OF
    )
    with pytest.raises(UsageError):
        focus_table(usage, "acc", WORKSPACES)
