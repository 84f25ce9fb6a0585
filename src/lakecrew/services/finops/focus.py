"""FOCUS 1.2 Cost-and-Usage export of priced Databricks usage (ops-anchors §1.1, §1.9a).

One row per `CostLine` priced `by_resource` (day × workspace × SKU × record type × unit price ×
tags × resource ids): ChargePeriod is the usage day (UTC, end exclusive), BillingPeriod its
calendar month. Columns follow the FOCUS 1.2 Cost-and-Usage table: every Mandatory column, the
Conditional ones Databricks data can fill, FOCUS columns first, then custom `x_` columns.

Mapping decisions (documented in the package README):
- BilledCost = EffectiveCost = ContractedCost = ListCost: the export is priced on list price
  (`pricing.effective_list.default`); no commitment (DBCU) amortisation is modelled.
- ChargeCategory is always `Usage`; ChargeClass is `Correction` on RETRACTION / RESTATEMENT
  lines (the grouped lines carry no ingestion date, so "corrects an already invoiced period"
  cannot be decided; every correction row is flagged), null otherwise.
- ResourceId / ResourceType: first of cluster, warehouse, pipeline, endpoint, job.
- Usage without a list price is not exported (BilledCost must not be null); it is reported
  in `PricedUsage.unpriced` / `issues` by the cost model.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from lakecrew.core.errors import DataError, UsageError
from lakecrew.core.finops import CostLine, PricedUsage
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.estate.config import EstateConfig
from lakecrew.services.finops.budgets import month_bounds
from lakecrew.services.finops.cost import CostModel

FOCUS_VERSION = "1.2"
DECIMAL = pa.decimal128(38, 10)
DECIMAL_STEP = Decimal("1e-10")
TIMESTAMP = pa.timestamp("s", tz="UTC")
PROVIDER = "Databricks"

_SERVICES: dict[str, tuple[str, str]] = {  # billing_origin_product -> (ServiceName, Category)
    "JOBS": ("Databricks Jobs", "Analytics"),
    "DLT": ("Databricks Lakeflow Declarative Pipelines", "Analytics"),
    "SQL": ("Databricks SQL", "Analytics"),
    "ALL_PURPOSE": ("Databricks All-Purpose Compute", "Analytics"),
    "INTERACTIVE": ("Databricks All-Purpose Compute", "Analytics"),
    "NOTEBOOKS": ("Databricks Notebooks", "Analytics"),
    "MODEL_SERVING": ("Databricks Model Serving", "AI and Machine Learning"),
    "VECTOR_SEARCH": ("Databricks Vector Search", "AI and Machine Learning"),
    "AI_GATEWAY": ("Databricks AI Gateway", "AI and Machine Learning"),
    "FOUNDATION_MODEL_TRAINING": ("Databricks Model Training", "AI and Machine Learning"),
    "NETWORKING": ("Databricks Networking", "Networking"),
    "DEFAULT_STORAGE": ("Databricks Default Storage", "Storage"),
    "DATABASE": ("Databricks Lakebase", "Databases"),
    "LAKEHOUSE_MONITORING": ("Databricks Lakehouse Monitoring", "Management and Governance"),
    "DATA_QUALITY_MONITORING": ("Databricks Data Quality Monitoring", "Management and Governance"),
    "APPS": ("Databricks Apps", "Web"),
}
_HOSTS = {"AWS": "AWS", "AZURE": "Microsoft Azure", "GCP": "Google Cloud"}
_RESOURCE_TYPES = (  # CostLine attribute -> FOCUS ResourceType, in ResourceId precedence
    ("cluster_id", "Cluster"),
    ("warehouse_id", "SQL Warehouse"),
    ("dlt_pipeline_id", "Pipeline"),
    ("endpoint_name", "Serving Endpoint"),
    ("job_id", "Job"),
)

_S, _D = pa.string(), DECIMAL
FOCUS_COLUMNS: tuple[tuple[str, pa.DataType, bool], ...] = (  # (name, type, nullable)
    ("BilledCost", _D, False),
    ("BillingAccountId", _S, False),
    ("BillingAccountName", _S, True),
    ("BillingAccountType", _S, False),
    ("BillingCurrency", _S, False),
    ("BillingPeriodEnd", TIMESTAMP, False),
    ("BillingPeriodStart", TIMESTAMP, False),
    ("ChargeCategory", _S, False),
    ("ChargeClass", _S, True),
    ("ChargeDescription", _S, True),
    ("ChargeFrequency", _S, False),
    ("ChargePeriodEnd", TIMESTAMP, False),
    ("ChargePeriodStart", TIMESTAMP, False),
    ("ConsumedQuantity", _D, True),
    ("ConsumedUnit", _S, True),
    ("ContractedCost", _D, False),
    ("ContractedUnitPrice", _D, True),
    ("EffectiveCost", _D, False),
    ("InvoiceIssuerName", _S, False),
    ("ListCost", _D, False),
    ("ListUnitPrice", _D, True),
    ("PricingCategory", _S, True),
    ("PricingCurrency", _S, True),
    ("PricingQuantity", _D, True),
    ("PricingUnit", _S, True),
    ("ProviderName", _S, False),
    ("PublisherName", _S, False),
    ("RegionId", _S, True),
    ("RegionName", _S, True),
    ("ResourceId", _S, True),
    ("ResourceName", _S, True),
    ("ResourceType", _S, True),
    ("ServiceCategory", _S, False),
    ("ServiceName", _S, False),
    ("ServiceSubcategory", _S, False),
    ("SkuId", _S, True),
    ("SkuPriceId", _S, True),
    ("SubAccountId", _S, True),
    ("SubAccountName", _S, True),
    ("SubAccountType", _S, True),
    ("Tags", _S, True),
)
CUSTOM_COLUMNS: tuple[tuple[str, pa.DataType, bool], ...] = (
    ("x_Environment", _S, True),
    ("x_BillingOriginProduct", _S, True),
    ("x_RecordType", _S, False),
    ("x_RecordCount", pa.int64(), False),
    ("x_Cloud", _S, False),
    ("x_ClusterId", _S, True),
    ("x_WarehouseId", _S, True),
    ("x_PipelineId", _S, True),
    ("x_EndpointName", _S, True),
    ("x_JobId", _S, True),
    ("x_CostBasis", _S, False),
)
SCHEMA = pa.schema([pa.field(n, t, nullable=z) for n, t, z in FOCUS_COLUMNS + CUSTOM_COLUMNS])


@dataclass(frozen=True)
class SubAccount:
    """What the export knows of a workspace from the inventory (lakecrew.yaml)."""

    name: str
    environment: str
    region: str


ACCOUNT_SQL = """
SELECT DISTINCT account_id FROM system.billing.usage
WHERE usage_date >= :start_date AND usage_date < :end_date"""


def billing_account(engine: SqlEngine, start: date, end: date) -> str:
    """The one Databricks account id behind the usage of `[start, end)` (FOCUS BillingAccountId).

    Raises DataError when the usage mixes accounts (export one account at a time)."""
    params = {"start_date": start, "end_date": end}
    ids = sorted(str(r["account_id"]) for r in engine.fetch(ACCOUNT_SQL, params).as_dicts())
    if len(ids) != 1:
        raise DataError(
            f"usage between {start} and {end} belongs to {len(ids)} accounts ({', '.join(ids)})",
            where="system.billing.usage",
            fix="export a period with usage of exactly one Databricks account",
        )
    return ids[0]


def focus_table(
    usage: PricedUsage, account_id: str, workspaces: Mapping[str, SubAccount]
) -> pa.Table:
    """The FOCUS 1.2 rows of `usage` (must be priced `by_resource` on list basis)."""
    if not usage.by_resource or usage.basis != "list":
        raise UsageError(
            "the FOCUS export needs usage priced by resource on list price",
            fix="call CostModel.priced_usage(..., by_resource=True, basis='list')",
        )
    rows = [_row(line, account_id, workspaces.get(line.workspace_id)) for line in usage.lines]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _dec(value: Decimal) -> Decimal:
    return value.quantize(DECIMAL_STEP)


def _resource(line: CostLine) -> tuple[str | None, str | None]:
    for attr, kind in _RESOURCE_TYPES:
        value = getattr(line, attr)
        if value:
            return str(value), kind
    return None, None


def _row(line: CostLine, account_id: str, ws: SubAccount | None) -> dict[str, Any]:
    product = line.billing_origin_product or "OTHER"
    service, category = _SERVICES.get(product, (f"Databricks {product.title()}", "Other"))
    first, stop = month_bounds(line.usage_date)
    resource_id, resource_type = _resource(line)
    cost, price, qty = _dec(line.cost), _dec(line.unit_price), _dec(line.quantity)
    correction = line.record_type in ("RETRACTION", "RESTATEMENT")
    issuer = "Microsoft" if line.cloud.upper() == "AZURE" else PROVIDER
    return {
        "BilledCost": cost,
        "BillingAccountId": account_id,
        "BillingAccountName": None,
        "BillingAccountType": "Databricks Account",
        "BillingCurrency": line.currency,
        "BillingPeriodEnd": _midnight(stop),
        "BillingPeriodStart": _midnight(first),
        "ChargeCategory": "Usage",
        "ChargeClass": "Correction" if correction else None,
        "ChargeDescription": f"{line.sku_name} ({product})",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _midnight(line.usage_date + timedelta(days=1)),
        "ChargePeriodStart": _midnight(line.usage_date),
        "ConsumedQuantity": qty,
        "ConsumedUnit": line.usage_unit,
        "ContractedCost": cost,
        "ContractedUnitPrice": price,
        "EffectiveCost": cost,
        "InvoiceIssuerName": issuer,
        "ListCost": cost,
        "ListUnitPrice": price,
        "PricingCategory": "Standard",
        "PricingCurrency": line.currency,
        "PricingQuantity": qty,
        "PricingUnit": line.usage_unit,
        "ProviderName": PROVIDER,
        "PublisherName": PROVIDER,
        "RegionId": ws.region if ws else None,
        "RegionName": ws.region if ws else None,
        "ResourceId": resource_id,
        "ResourceName": None,
        "ResourceType": resource_type,
        "ServiceCategory": category,
        "ServiceName": service,
        "ServiceSubcategory": _HOSTS.get(line.cloud.upper(), line.cloud) + " " + product,
        "SkuId": line.sku_name,
        "SkuPriceId": f"{line.sku_name}|{line.cloud}|{line.usage_unit}|{price.normalize()}",
        "SubAccountId": line.workspace_id,
        "SubAccountName": ws.name if ws else None,
        "SubAccountType": "Workspace",
        "Tags": json.dumps(dict(sorted(line.tags.items()))) if line.tags else None,
        "x_Environment": ws.environment if ws else None,
        "x_BillingOriginProduct": line.billing_origin_product,
        "x_RecordType": line.record_type,
        "x_RecordCount": line.records,
        "x_Cloud": line.cloud,
        "x_ClusterId": line.cluster_id,
        "x_WarehouseId": line.warehouse_id,
        "x_PipelineId": line.dlt_pipeline_id,
        "x_EndpointName": line.endpoint_name,
        "x_JobId": line.job_id,
        "x_CostBasis": line.basis,
    }


def focus_csv(table: pa.Table) -> str:
    """The table as FOCUS CSV: UTF-8, header row, date/times `YYYY-MM-DDTHH:mm:ssZ`, decimals
    in plain notation, null as the empty field."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow([_cell(v) for v in row.values()])
    return buf.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def focus_metadata(table: pa.Table, created: datetime) -> dict[str, Any]:
    """FOCUS schema metadata (appendix metadata_examples): version and column definitions."""
    columns: Sequence[dict[str, Any]] = [
        {
            "ColumnName": f.name,
            "DataType": _focus_type(f.type),
            **({"NumericPrecision": 38, "NumberScale": 10} if f.type == DECIMAL else {}),
            **({"StringEncoding": "UTF-8"} if f.type == pa.string() else {}),
            **({"ProviderTagPrefixes": []} if f.name == "Tags" else {}),
        }
        for f in table.schema
    ]
    return {
        "DataGenerator": {"DataGenerator": "lakecrew"},
        "Schema": {
            "SchemaId": f"lakecrew-focus-{FOCUS_VERSION}",
            "FocusVersion": FOCUS_VERSION,
            "CreationDate": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ColumnDefinition": list(columns),
        },
    }


def _focus_type(dtype: pa.DataType) -> str:
    if dtype == DECIMAL:
        return "DECIMAL"
    if dtype == TIMESTAMP:
        return "DATETIME"
    if dtype == pa.int64():
        return "DECIMAL"
    return "STRING"


def sub_accounts(config: EstateConfig) -> dict[str, SubAccount]:
    """workspace_id → SubAccount from the inventory; workspaces without an id are skipped."""
    return {
        w.workspace_id: SubAccount(w.name, w.environment, w.region)
        for w in config.workspaces
        if w.workspace_id
    }


def focus_export(
    engine: SqlEngine,
    start: date,
    end: date,
    *,
    as_of: datetime,
    workspaces: Mapping[str, SubAccount],
) -> tuple[pa.Table, PricedUsage]:
    """FOCUS rows of `[start, end)` and the priced usage behind them (for totals and issues)."""
    usage = CostModel(engine).priced_usage(start, end, as_of=as_of, by_resource=True)
    return focus_table(usage, billing_account(engine, start, end), workspaces), usage
