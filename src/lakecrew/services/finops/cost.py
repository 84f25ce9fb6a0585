"""The cost model: billing usage × the list price valid at its time, priced and grouped in SQL.

SQL runs through the SqlEngine port, written once in Databricks SQL (the local adapter
translates it). One query does all the heavy work over the usage table: it de-duplicates
`record_id`s (double ingestion: the first copy counts, the rest are reported), joins the price
valid at `usage_end_time` (databricks-contract §1.4, hardened with `cloud` and `usage_unit`, a
LEFT JOIN so usage without a price is *reported*, never priced at 0), resolves the tags of
interest (the record's custom tag, else the current tag of the job / warehouse / cluster it
names, from the latest SCD2 rows) and sums to day × workspace × SKU × record type × price ×
tags (× resource ids on request). Data-quality counts (duplicates, negative originals, positive
retractions, usage_date not the UTC date) ride along as aggregates of the same pass. Python only
sees the grouped lines. Corrections (RETRACTION, RESTATEMENT) are summed, never "latest wins".
Money stays Decimal: the SQL product follows Databricks' decimal rules (DECIMAL(38,6) per row);
contract prices apply to the summed quantity of a line with Decimal arithmetic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from lakecrew.core.errors import DataError, NotFound, UsageError
from lakecrew.core.finops import (
    MANDATORY_TAGS,
    Completeness,
    ContractPrice,
    CostBasis,
    CostLine,
    DataIssue,
    PricedUsage,
    UnpricedUsage,
)
from lakecrew.ports.sql import SqlEngine

USAGE = "system.billing.usage"
LIST_PRICES = "system.billing.list_prices"
CONTRACT_SCALE = Decimal("0.000001")  # same scale as Databricks' decimal(38,6) product
DEFAULT_TAG_KEYS: tuple[str, ...] = (*MANDATORY_TAGS, "environment")
RESOURCE_COLUMNS = ("job_id", "dlt_pipeline_id", "warehouse_id", "endpoint_name", "cluster_id")

_PRICE_JOIN = f"""
LEFT JOIN {LIST_PRICES} lp
  ON  u.sku_name = lp.sku_name
  AND u.cloud = lp.cloud
  AND u.usage_unit = lp.usage_unit
  AND u.usage_end_time >= lp.price_start_time
  AND (lp.price_end_time IS NULL OR u.usage_end_time < lp.price_end_time)"""

_LATEST = """{alias} AS (
  SELECT workspace_id, {id_col} AS rid, tags FROM {table}
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, {id_col} ORDER BY change_time DESC) = 1
)"""
_CURRENT_TAGS = (  # fallback order after the record's own tags: job, warehouse, cluster
    ("jt", "job_id", "system.lakeflow.jobs"),
    ("wt", "warehouse_id", "system.compute.warehouses"),
    ("ct", "cluster_id", "system.compute.clusters"),
)

_CHECKS = {  # kind -> per-record condition on the de-duplicated usage row `u`
    "duplicate_record": "u.copies > 1",
    "conflicting_duplicate": "u.copies > 1 AND u.q_lo <> u.q_hi",
    "negative_original": "u.record_type <> 'RETRACTION' AND u.usage_quantity < 0",
    "positive_retraction": "u.record_type = 'RETRACTION' AND u.usage_quantity > 0",
    "date_mismatch": "to_date(u.usage_start_time) <> u.usage_date",
}


def priced_usage_sql(tags: int, *, by_resource: bool, fallback: bool, contract: str) -> str:
    """The one grouped pricing query (Databricks SQL) for `tags` tag keys bound as :tag_<i>."""
    own = "".join(f",\n         NULLIF(custom_tags[:tag_{i}], '') AS ut_{i}" for i in range(tags))
    ctes = [
        f"""u0 AS (
  SELECT record_id, workspace_id, sku_name, cloud, usage_unit, usage_date, usage_start_time,
         usage_end_time, record_type, billing_origin_product, usage_quantity,
         usage_metadata.job_id AS job_id, usage_metadata.dlt_pipeline_id AS dlt_pipeline_id,
         usage_metadata.warehouse_id AS warehouse_id,
         usage_metadata.endpoint_name AS endpoint_name, usage_metadata.cluster_id AS cluster_id,
         COUNT(*) OVER (PARTITION BY record_id) AS copies,
         MIN(usage_quantity) OVER (PARTITION BY record_id) AS q_lo,
         MAX(usage_quantity) OVER (PARTITION BY record_id) AS q_hi{own}
  FROM {USAGE}
  WHERE usage_date >= :start_date AND usage_date < :end_date
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY record_id ORDER BY ingestion_date, usage_end_time, usage_quantity) = 1
)"""
    ]
    joins = _PRICE_JOIN
    if fallback:
        ctes += [_LATEST.format(alias=a, id_col=c, table=t) for a, c, t in _CURRENT_TAGS]
        joins += "".join(
            f"\nLEFT JOIN {a} ON {a}.workspace_id = u.workspace_id AND {a}.rid = u.{c}"
            for a, c, _ in _CURRENT_TAGS
        )
    tag_cols = []
    for i in range(tags):
        parts = [f"u.ut_{i}"]
        if fallback:
            parts += [f"NULLIF({a}.tags[:tag_{i}], '')" for a, _, _ in _CURRENT_TAGS]
        tag_cols.append(f"COALESCE({', '.join(parts)}) AS tag_{i}" if fallback else f"{parts[0]} AS tag_{i}")
    ids = [f"u.{c}" for c in RESOURCE_COLUMNS] if by_resource else []
    checks = [
        f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {kind}_n,\n"
        f"       MIN(CASE WHEN {cond} THEN u.record_id END) AS {kind}_first"
        for kind, cond in _CHECKS.items()
    ]
    keys = ",\n       ".join(
        [
            "u.usage_date, u.workspace_id, u.sku_name, u.cloud, u.usage_unit",
            "u.billing_origin_product, u.record_type, lp.currency_code",
            "lp.pricing.effective_list.default AS list_unit_price",
            f"{contract} AS contract_idx",
            *tag_cols,
            *ids,
        ]
    )
    aggs = ",\n       ".join(
        [
            "SUM(u.usage_quantity) AS quantity",
            "SUM(u.usage_quantity * lp.pricing.effective_list.default) AS list_cost",
            "COUNT(*) AS records",
            *checks,
        ]
    )
    return f"WITH {',\n'.join(ctes)}\nSELECT {keys},\n       {aggs}\nFROM u0 u{joins}\nGROUP BY ALL"


TABLE_TOTAL_SQL = f"""
WITH u0 AS (
  SELECT * FROM {USAGE}
  WHERE usage_date >= :start_date AND usage_date < :end_date
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY record_id ORDER BY ingestion_date, usage_end_time, usage_quantity) = 1
)
SELECT lp.currency_code AS currency_code,
       SUM(u.usage_quantity * lp.pricing.effective_list.default) AS list_cost,
       COUNT(*) AS records
FROM u0 u{_PRICE_JOIN.replace("LEFT JOIN", "JOIN")}
GROUP BY lp.currency_code"""
"""The list-price total of the usage table over a period, computed in SQL (reconciliation)."""

PRICE_WINDOWS_SQL = f"""
SELECT sku_name, cloud, usage_unit, price_start_time, price_end_time
FROM {LIST_PRICES}
WHERE price_start_time < :end_ts AND (price_end_time IS NULL OR price_end_time > :start_ts)"""


def utc_date(value: date | datetime, name: str) -> date:
    """A period bound as a UTC date; datetimes must be timezone-aware (converted to UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise UsageError(
                f"{name}={value.isoformat()} has no time zone",
                fix="pass a date, or a timezone-aware datetime (it is converted to UTC)",
            )
        return value.astimezone(UTC).date()
    return value


def _aware_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def completeness(start: date, end: date, as_of: datetime, lag: timedelta) -> Completeness:
    """Mark days of `[start, end)` complete when `as_of >= day end + lag` (billing lag)."""
    if as_of.tzinfo is None:
        raise UsageError("as_of has no time zone", fix="pass a timezone-aware datetime (UTC)")
    as_of = as_of.astimezone(UTC)
    complete: date | None = None
    incomplete: list[date] = []
    for ordinal in range(start.toordinal(), end.toordinal()):
        day = date.fromordinal(ordinal)
        day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        if day_end + lag <= as_of:
            complete = day
        elif day <= as_of.date():
            incomplete.append(day)
    return Completeness(as_of, lag, complete, tuple(incomplete))


def _tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    return {str(k): str(v) for k, v in value if v is not None}


def _summarise(kind: str, rows: list[str], text: str, fix: str) -> DataIssue:
    first = rows[0]
    return DataIssue(
        kind=kind,  # type: ignore[arg-type]
        message=f"{len(rows)} usage record(s) {text} (first: record {first}) — fix: {fix}",
        record_id=first,
    )


class CostModel:
