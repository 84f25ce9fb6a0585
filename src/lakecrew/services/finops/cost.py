"""The cost model: usage quantity × the list price valid at that time, per billing record.

SQL runs through the SqlEngine port, written once in Databricks SQL (the local adapter
translates it). The join is the documented one (databricks-contract §1.4), hardened with
`cloud` and `usage_unit` and made a LEFT JOIN so usage without a price is *reported*
(`PricedUsage.unpriced`), never priced at 0. Correction records (RETRACTION with negative
quantity, RESTATEMENT) are summed with the originals, never de-duplicated by "latest".
Exact duplicates of a `record_id` (double ingestion) are counted once and reported.
Money stays Decimal: the SQL product follows Databricks' decimal rules (DECIMAL(38,6) per row),
and contract prices are applied in Python with Decimal arithmetic.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from lakecrew.core.errors import DataError, NotFound, UsageError
from lakecrew.core.finops import (
    Completeness,
    ContractPrice,
    CostBasis,
    CostRecord,
    DataIssue,
    PricedUsage,
    UnpricedUsage,
)
from lakecrew.ports.sql import SqlEngine

USAGE = "system.billing.usage"
LIST_PRICES = "system.billing.list_prices"
CONTRACT_SCALE = Decimal("0.000001")  # same scale as Databricks' decimal(38,6) product

_DEDUPED_USAGE = f"""
WITH u0 AS (
  SELECT *
  FROM {USAGE}
  WHERE usage_date >= :start_date AND usage_date < :end_date
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY record_id ORDER BY ingestion_date, usage_end_time, usage_quantity) = 1
)"""

_PRICE_JOIN = f"""
LEFT JOIN {LIST_PRICES} lp
  ON  u.sku_name = lp.sku_name
  AND u.cloud = lp.cloud
  AND u.usage_unit = lp.usage_unit
  AND u.usage_end_time >= lp.price_start_time
  AND (lp.price_end_time IS NULL OR u.usage_end_time < lp.price_end_time)"""

PRICED_USAGE_SQL = f"""{_DEDUPED_USAGE}
SELECT u.record_id, u.workspace_id, u.sku_name, u.cloud, u.usage_unit, u.usage_date,
       u.usage_start_time, u.usage_end_time, u.record_type, u.billing_origin_product,
       u.custom_tags, u.usage_quantity,
       u.usage_metadata.cluster_id AS cluster_id,
       u.usage_metadata.job_id AS job_id,
       u.usage_metadata.job_run_id AS job_run_id,
       u.usage_metadata.warehouse_id AS warehouse_id,
       u.usage_metadata.dlt_pipeline_id AS dlt_pipeline_id,
       u.usage_metadata.endpoint_name AS endpoint_name,
       u.identity_metadata.run_as AS run_as,
       lp.currency_code,
       lp.pricing.effective_list.default AS list_unit_price,
       u.usage_quantity * lp.pricing.effective_list.default AS list_cost
FROM u0 u{_PRICE_JOIN}
ORDER BY u.usage_start_time, u.record_id"""
"""One row per distinct record_id of the period, with the list price valid at usage_end_time."""

DUPLICATES_SQL = f"""
SELECT record_id, COUNT(*) AS copies, COUNT(DISTINCT usage_quantity) AS quantities
FROM {USAGE}
WHERE usage_date >= :start_date AND usage_date < :end_date
GROUP BY record_id
HAVING COUNT(*) > 1
ORDER BY record_id"""

TABLE_TOTAL_SQL = f"""{_DEDUPED_USAGE}
SELECT lp.currency_code AS currency_code,
       SUM(u.usage_quantity * lp.pricing.effective_list.default) AS list_cost,
       COUNT(*) AS records
FROM u0 u{_PRICE_JOIN.replace("LEFT JOIN", "JOIN")}
GROUP BY lp.currency_code"""
"""The list-price total of the usage table over a period, computed in SQL (reconciliation)."""


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
    """Price billing usage from system tables; list prices, optionally contract overrides."""

    def __init__(
        self,
        engine: SqlEngine,
        *,
        contract_prices: Iterable[ContractPrice] = (),
        lag: timedelta = timedelta(hours=24),
    ) -> None:
        self._engine = engine
        self._lag = lag
        self._contract: dict[str, list[ContractPrice]] = defaultdict(list)
        for price in contract_prices:
            if price.unit_price < 0:
                raise UsageError(
                    f"contract price for SKU {price.sku_name} is negative",
                    fix="configure unit prices >= 0",
                )
            self._contract[price.sku_name].append(price)

    def priced_usage(
        self,
        start: date | datetime,
        end: date | datetime,
        *,
        as_of: datetime,
        basis: CostBasis = "list",
    ) -> PricedUsage:
        """Every usage record of `[start, end)` (UTC dates) priced on `basis`.

        Raises NotFound for a period without usage, DataError when a record matches two list
        prices (overlapping price windows) or when priced figures mix currencies.
        """
        first, stop = utc_date(start, "start"), utc_date(end, "end")
        if first >= stop:
            raise UsageError(
                f"empty period: start {first} is not before end {stop}",
                fix="end is exclusive; pass an end date after the start date",
            )
        params = {"start_date": first, "end_date": stop}
        rows = self._engine.fetch_arrow(PRICED_USAGE_SQL, params).to_pylist()
        if not rows:
            raise NotFound(
                f"no billing usage between {first} and {stop} (end exclusive)",
                where=USAGE,
                fix="choose a period that has usage, or load billing data first",
            )
        self._check_single_price(rows)
        records, unpriced_rows = self._price(rows, basis)
        issues = self._issues(params, rows)
        unpriced = _unpriced(unpriced_rows)
        issues.extend(DataIssue("unpriced_sku", u.message(), None) for u in unpriced)
        return PricedUsage(
            start=first,
            end=stop,
            basis=basis,
            currency=_one_currency(records),
            records=tuple(records),
            unpriced=unpriced,
            issues=tuple(issues),
            completeness=completeness(first, stop, as_of, self._lag),
        )

    def table_total(self, start: date | datetime, end: date | datetime) -> dict[str, Decimal]:
        """List cost per currency of the usage table over `[start, end)`, summed in SQL."""
        params = {"start_date": utc_date(start, "start"), "end_date": utc_date(end, "end")}
        result = self._engine.fetch(TABLE_TOTAL_SQL, params)
        return {str(r["currency_code"]): Decimal(r["list_cost"]) for r in result.as_dicts()}

    def _check_single_price(self, rows: list[dict[str, Any]]) -> None:
        counts = Counter(r["record_id"] for r in rows)
        doubled = [r for r in rows if counts[r["record_id"]] > 1]
        if doubled:
            sku = doubled[0]["sku_name"]
            raise DataError(
                f"SKU {sku} has overlapping list price windows: record "
                f"{doubled[0]['record_id']} matches {counts[doubled[0]['record_id']]} prices",
                where=LIST_PRICES,
                fix="close the older price (price_end_time = the newer price_start_time)",
            )

    def _contract_price(self, row: Mapping[str, Any]) -> ContractPrice | None:
        at = _aware_utc(row["usage_end_time"])
        for price in self._contract.get(row["sku_name"], ()):
            if price.applies(row["cloud"], row["usage_unit"], at):
                return price
        return None

    def _price(
        self, rows: list[dict[str, Any]], basis: CostBasis
    ) -> tuple[list[CostRecord], list[dict[str, Any]]]:
        records: list[CostRecord] = []
        unpriced: list[dict[str, Any]] = []
        for row in rows:
            contract = self._contract_price(row) if basis == "contract" else None
            if contract is not None:
                unit, currency = contract.unit_price, contract.currency
                cost = (Decimal(row["usage_quantity"]) * unit).quantize(CONTRACT_SCALE)
            elif row["list_unit_price"] is not None:
                unit, currency = Decimal(row["list_unit_price"]), str(row["currency_code"])
                cost = Decimal(row["list_cost"])
            else:
                unpriced.append(row)
                continue
            records.append(_record(row, unit, cost, basis, currency))
        return records, unpriced

    def _issues(self, params: Mapping[str, date], rows: list[dict[str, Any]]) -> list[DataIssue]:
        issues: list[DataIssue] = []
        dups = self._engine.fetch(DUPLICATES_SQL, params).as_dicts()
        if dups:
            conflicting = [d["record_id"] for d in dups if int(d["quantities"]) > 1]
            note = f"; {len(conflicting)} with differing quantities" if conflicting else ""
            issues.append(
                _summarise(
                    "duplicate_record",
                    [str(d["record_id"]) for d in dups],
                    f"appear more than once in {USAGE}{note}; each is counted once",
                    "de-duplicate the billing export on record_id",
                )
            )
        for kind, bad, text, fix in _ROW_CHECKS:
            ids = [str(r["record_id"]) for r in rows if bad(r)]
            if ids:
                issues.append(_summarise(kind, ids, text, fix))
        return issues


def _negative_original(r: Mapping[str, Any]) -> bool:
    return bool(r["record_type"] != "RETRACTION" and r["usage_quantity"] < 0)


def _positive_retraction(r: Mapping[str, Any]) -> bool:
    return bool(r["record_type"] == "RETRACTION" and r["usage_quantity"] > 0)


def _local_date(r: Mapping[str, Any]) -> bool:
    return bool(_aware_utc(r["usage_start_time"]).date() != r["usage_date"])


_ROW_CHECKS: tuple[tuple[str, Callable[[Mapping[str, Any]], bool], str, str], ...] = (
    (
        "negative_original",
        _negative_original,
        "that are not RETRACTIONs have a negative quantity",
        "only RETRACTION rows may be negative; check the billing export",
    ),
    (
        "positive_retraction",
        _positive_retraction,
        "are RETRACTIONs with a positive quantity",
        "a RETRACTION must negate its original; check the billing export",
    ),
    (
        "date_mismatch",
        _local_date,
        "have a usage_date that is not the UTC date of usage_start_time",
        "write usage_date as the UTC date (the loader likely used a local time zone)",
    ),
)


def _record(
    row: Mapping[str, Any], unit: Decimal, cost: Decimal, basis: CostBasis, currency: str
) -> CostRecord:
    return CostRecord(
        record_id=str(row["record_id"]),
        workspace_id=str(row["workspace_id"]),
        sku_name=str(row["sku_name"]),
        cloud=str(row["cloud"]),
        usage_unit=str(row["usage_unit"]),
        usage_date=row["usage_date"],
        usage_start_time=_aware_utc(row["usage_start_time"]),
        usage_end_time=_aware_utc(row["usage_end_time"]),
        record_type=str(row["record_type"]),
        billing_origin_product=row["billing_origin_product"],
        quantity=Decimal(row["usage_quantity"]),
        unit_price=unit,
        cost=cost,
        basis=basis,
        currency=currency,
        custom_tags=_tags(row["custom_tags"]),
        cluster_id=row["cluster_id"],
        job_id=row["job_id"],
        job_run_id=row["job_run_id"],
        warehouse_id=row["warehouse_id"],
        dlt_pipeline_id=row["dlt_pipeline_id"],
        endpoint_name=row["endpoint_name"],
        run_as=row["run_as"],
    )


def _unpriced(rows: Sequence[Mapping[str, Any]]) -> tuple[UnpricedUsage, ...]:
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["sku_name"], row["cloud"], row["usage_unit"])].append(row)
    return tuple(
        UnpricedUsage(
            sku_name=sku,
            cloud=cloud,
            usage_unit=unit,
            quantity=sum((Decimal(r["usage_quantity"]) for r in group), Decimal(0)),
            records=len(group),
            first_date=min(r["usage_date"] for r in group),
            last_date=max(r["usage_date"] for r in group),
        )
        for (sku, cloud, unit), group in sorted(groups.items())
    )


def _one_currency(records: Sequence[CostRecord]) -> str:
    currencies = sorted({r.currency for r in records})
    if len(currencies) > 1:
        raise DataError(
            f"priced usage mixes currencies {', '.join(currencies)}; totals would be meaningless",
            where=LIST_PRICES,
            fix="configure contract prices in the list-price currency, or report per currency",
        )
    return currencies[0] if currencies else "USD"
