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
Money stays Decimal: a line's cost is its summed quantity × its unit price (the price is part of
the grain), exact in Python — not Databricks' per-row DECIMAL(38,6) rounding, which the
independent `table_total` uses; the two agree to far below a cent (sub-micro-dollar per row).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lakecrew.core.errors import DataError, NotFound, UsageError
from lakecrew.core.finops import (
    DEFAULT_TAG_KEYS,
    Completeness,
    ContractPrice,
    CostBasis,
    CostLine,
    DataIssue,
    PricedUsage,
    UnpricedUsage,
)
from lakecrew.ports.sql import SqlEngine

if TYPE_CHECKING:
    from lakecrew.services.finops.cube import CostCube

USAGE = "system.billing.usage"
LIST_PRICES = "system.billing.list_prices"
CONTRACT_SCALE = Decimal("0.000001")  # same scale as Databricks' decimal(38,6) product
RESOURCE_COLUMNS = ("job_id", "dlt_pipeline_id", "warehouse_id", "endpoint_name", "cluster_id")

OPEN_END = "TIMESTAMP '9999-12-31 00:00:00+00:00'"
_PRICE_JOIN = f"""
LEFT JOIN {LIST_PRICES} lp
  ON  u.sku_name = lp.sku_name
  AND u.cloud = lp.cloud
  AND u.usage_unit = lp.usage_unit
  AND u.usage_end_time >= lp.price_start_time
  AND u.usage_end_time < COALESCE(lp.price_end_time, {OPEN_END})"""
"""The documented price join; the open end as COALESCE (not OR) keeps it a hash join."""

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
    "duplicate_record": "d.copies > 1",
    "conflicting_duplicate": "d.copies > 1 AND d.q_lo <> d.q_hi",
    "negative_original": "u.record_type <> 'RETRACTION' AND u.usage_quantity < 0",
    "positive_retraction": "u.record_type = 'RETRACTION' AND u.usage_quantity > 0",
    "date_mismatch": "to_date(u.usage_start_time) <> u.usage_date",
}


def priced_usage_sql(
    tags: int, *, by_resource: bool, fallback: bool, contract: str, where: str = ""
) -> str:
    """The one grouped pricing query (Databricks SQL) for `tags` tag keys bound as :tag_<i>.

    `where` is an extra condition on the usage rows (with bound parameters only)."""
    own = "".join(f",\n         NULLIF(custom_tags[:tag_{i}], '') AS ut_{i}" for i in range(tags))
    cols = f"""record_id, workspace_id, sku_name, cloud, usage_unit, usage_date, usage_start_time,
         usage_end_time, record_type, billing_origin_product, usage_quantity,
         usage_metadata.job_id AS job_id, usage_metadata.dlt_pipeline_id AS dlt_pipeline_id,
         usage_metadata.warehouse_id AS warehouse_id,
         usage_metadata.endpoint_name AS endpoint_name,
         usage_metadata.cluster_id AS cluster_id{own}"""
    period = f"usage_date >= :start_date AND usage_date < :end_date{where}"
    ctes = [
        f"""dup AS (
  SELECT record_id, COUNT(*) AS copies, MIN(usage_quantity) AS q_lo, MAX(usage_quantity) AS q_hi
  FROM {USAGE} WHERE {period}
  GROUP BY record_id HAVING COUNT(*) > 1
)""",
        f"""u0 AS (
  SELECT {cols} FROM {USAGE}
  WHERE {period} AND record_id NOT IN (SELECT record_id FROM dup)
  UNION ALL
  SELECT * FROM (
    SELECT {cols} FROM {USAGE}
    WHERE {period} AND record_id IN (SELECT record_id FROM dup)
    QUALIFY ROW_NUMBER() OVER (
      PARTITION BY record_id ORDER BY ingestion_date, usage_end_time, usage_quantity) = 1
  ) AS first_copy
)""",
    ]
    joins = _PRICE_JOIN + "\nLEFT JOIN dup d ON d.record_id = u.record_id"
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
        tag_cols.append(f"COALESCE({', '.join(parts)}) AS tag_{i}")
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
            "COUNT(*) AS records",
            *checks,
        ]
    )
    with_ = ",\n".join(ctes)
    return f"WITH {with_}\nSELECT {keys},\n       {aggs}\nFROM u0 u{joins}\nGROUP BY ALL"


TABLE_TOTAL_SQL = f"""
WITH u0 AS (
  SELECT * FROM {USAGE}
  WHERE usage_date >= :start_date AND usage_date < :end_date
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY record_id ORDER BY ingestion_date, usage_end_time, usage_quantity) = 1
)
SELECT lp.currency_code AS currency_code, lp.pricing.effective_list.default AS unit_price,
       SUM(u.usage_quantity) AS quantity
FROM u0 u{_PRICE_JOIN.replace("LEFT JOIN", "JOIN")}
GROUP BY lp.currency_code, lp.pricing.effective_list.default"""
"""Quantity per list price of the usage table over a period: an independent query for
reconciliation (plain de-duplication by window, no tags, no grain)."""


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


_ISSUE_TEXT = {
    "duplicate_record": (
        f"appear more than once in {USAGE}; each is counted once",
        "de-duplicate the billing export on record_id",
    ),
    "negative_original": (
        "that are not RETRACTIONs have a negative quantity",
        "only RETRACTION rows may be negative; check the billing export",
    ),
    "positive_retraction": (
        "are RETRACTIONs with a positive quantity",
        "a RETRACTION must negate its original; check the billing export",
    ),
    "date_mismatch": (
        "have a usage_date that is not the UTC date of usage_start_time",
        "write usage_date as the UTC date (the loader likely used a local time zone)",
    ),
}


class CostModel:
    """Price billing usage from system tables; list prices, optionally contract overrides."""

    def __init__(
        self,
        engine: SqlEngine,
        *,
        contract_prices: Iterable[ContractPrice] = (),
        lag: timedelta = timedelta(hours=24),
        cube: CostCube | None = None,
    ) -> None:
        self._engine = engine
        self._lag = lag
        self._cube = cube
        self._contract: list[ContractPrice] = []
        for price in contract_prices:
            if price.unit_price < 0:
                raise UsageError(
                    f"contract price for SKU {price.sku_name} is negative",
                    fix="configure unit prices >= 0",
                )
            self._contract.append(price)

    def priced_usage(
        self,
        start: date | datetime,
        end: date | datetime,
        *,
        as_of: datetime,
        basis: CostBasis = "list",
        tag_keys: Sequence[str] = DEFAULT_TAG_KEYS,
        by_resource: bool = False,
        tag_fallback: bool = True,
        days: Sequence[date] | None = None,
        workspace_ids: Sequence[str] | None = None,
    ) -> PricedUsage:
        """Usage of `[start, end)` (UTC dates) priced on `basis`, grouped into `CostLine`s.

        `tag_keys` are the tags the lines carry (resolved from the record, else from the current
        tags of its job / warehouse / cluster unless `tag_fallback` is off); `by_resource` adds
        the resource ids to the grain (larger result: use for short periods or exports).
        `days` and `workspace_ids` restrict the usage read (e.g. the days behind an anomaly).
        Raises NotFound for a period without usage, DataError when list price windows of a SKU
        overlap in the period or when priced figures mix currencies.
        """
        first, stop = _period(start, end)
        completeness_ = completeness(first, stop, as_of, self._lag)
        keys = tuple(dict.fromkeys(tag_keys))
        self._check_price_windows(first, stop)
        contract_sql, params = self._contract_case(basis)
        params |= {"start_date": first, "end_date": stop}
        params |= {f"tag_{i}": k for i, k in enumerate(keys)}
        where, filters = usage_filter(days, workspace_ids)
        rows = None
        if (
            self._cube is not None
            and not by_resource
            and tag_fallback
            and contract_sql == "-1"
            and keys == self._cube.tag_keys
        ):
            rows = self._cube.rows(first, stop, where=where, params=filters)
        if rows is None:
            sql = priced_usage_sql(
                len(keys),
                by_resource=by_resource,
                fallback=tag_fallback,
                contract=contract_sql,
                where=where,
            )
            rows = self._engine.fetch_arrow(sql, params | filters).to_pylist()
        if not rows:
            raise NotFound(
                f"no billing usage between {first} and {stop} (end exclusive)",
                where=USAGE,
                fix="choose a period that has usage, or load billing data first",
            )
        lines, unpriced_rows = self._lines(rows, basis, keys)
        unpriced = _unpriced(unpriced_rows)
        issues = _issues(rows)
        issues.extend(DataIssue("unpriced_sku", u.message(), None) for u in unpriced)
        return PricedUsage(
            start=first,
            end=stop,
            basis=basis,
            currency=_one_currency(lines),
            lines=tuple(sorted(lines, key=_line_order)),
            unpriced=unpriced,
            issues=tuple(issues),
            completeness=completeness_,
            tag_keys=keys,
            by_resource=by_resource,
        )

    def table_total(self, start: date | datetime, end: date | datetime) -> dict[str, Decimal]:
        """List cost per currency of the usage table over `[start, end)`, summed in SQL."""
        params = {"start_date": utc_date(start, "start"), "end_date": utc_date(end, "end")}
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for r in self._engine.fetch(TABLE_TOTAL_SQL, params).as_dicts():
            totals[str(r["currency_code"])] += Decimal(r["quantity"]) * Decimal(r["unit_price"])
        return dict(totals)

    def _check_price_windows(self, first: date, stop: date) -> None:
        bounds = {
            "start_ts": datetime.combine(first, time(), tzinfo=UTC),
            "end_ts": datetime.combine(stop, time(), tzinfo=UTC) + timedelta(days=1),
        }
        windows: dict[tuple[str, str, str], list[tuple[datetime, datetime | None]]]
        windows = defaultdict(list)
        for r in self._engine.fetch(PRICE_WINDOWS_SQL, bounds).as_dicts():
            key = (str(r["sku_name"]), str(r["cloud"]), str(r["usage_unit"]))
            end = r["price_end_time"]
            windows[key].append((_aware_utc(r["price_start_time"]), end and _aware_utc(end)))
        for (sku, _, _), spans in sorted(windows.items()):
            spans.sort(key=lambda s: s[0])
            for (_, end_a), (start_b, _) in itertools.pairwise(spans):
                if end_a is None or end_a > start_b:
                    raise DataError(
                        f"SKU {sku} has overlapping list price windows (one starts "
                        f"{start_b.isoformat()} while another is still valid)",
                        where=LIST_PRICES,
                        fix="close the older price (price_end_time = the newer price_start_time)",
                    )

    def _contract_case(self, basis: CostBasis) -> tuple[str, dict[str, Any]]:
        """A CASE giving the index of the first contract price that applies (-1: none)."""
        if basis != "contract" or not self._contract:
            return "-1", {}
        params: dict[str, Any] = {}
        whens = []
        for i, price in enumerate(self._contract):
            conds = [f"u.sku_name = :cp{i}_sku"]
            params[f"cp{i}_sku"] = price.sku_name
            if price.cloud is not None:
                conds.append(f"u.cloud = :cp{i}_cloud")
                params[f"cp{i}_cloud"] = price.cloud
            if price.usage_unit is not None:
                conds.append(f"u.usage_unit = :cp{i}_unit")
                params[f"cp{i}_unit"] = price.usage_unit
            if price.start is not None:
                conds.append(f"u.usage_end_time >= :cp{i}_start")
                params[f"cp{i}_start"] = _aware_utc(price.start)
            if price.end is not None:
                conds.append(f"u.usage_end_time < :cp{i}_end")
                params[f"cp{i}_end"] = _aware_utc(price.end)
            whens.append(f"WHEN {' AND '.join(conds)} THEN {i}")
        return f"CASE {' '.join(whens)} ELSE -1 END", params

    def _lines(
        self, rows: list[dict[str, Any]], basis: CostBasis, keys: tuple[str, ...]
    ) -> tuple[list[CostLine], list[dict[str, Any]]]:
        lines: list[CostLine] = []
        unpriced: list[dict[str, Any]] = []
        for row in rows:
            quantity = Decimal(row["quantity"])
            idx = int(row["contract_idx"])
            if idx >= 0:
                contract = self._contract[idx]
                unit, currency = contract.unit_price, contract.currency
                cost = (quantity * unit).quantize(CONTRACT_SCALE)
            elif row["list_unit_price"] is not None:
                unit, currency = Decimal(row["list_unit_price"]), str(row["currency_code"])
                cost = quantity * unit
            else:
                unpriced.append(row)
                continue
            lines.append(
                _line(
                    row,
                    keys,
                    quantity=quantity,
                    unit=unit,
                    cost=cost,
                    basis=basis,
                    currency=currency,
                )
            )
        return lines, unpriced


def usage_filter(
    days: Sequence[date] | None, workspace_ids: Sequence[str] | None
) -> tuple[str, dict[str, Any]]:
    """The extra condition (and its parameters) restricting usage rows to days / workspaces."""
    where, params = "", dict[str, Any]()
    for name, column, values in (
        ("day", "usage_date", days),
        ("ws", "workspace_id", workspace_ids),
    ):
        if values is not None:
            marks = [f":{name}_{i}" for i in range(len(values))] or ["NULL"]
            where += f" AND {column} IN ({', '.join(marks)})"
            params |= {f"{name}_{i}": v for i, v in enumerate(values)}
    return where, params


def _period(start: date | datetime, end: date | datetime) -> tuple[date, date]:
    first, stop = utc_date(start, "start"), utc_date(end, "end")
    if first >= stop:
        raise UsageError(
            f"empty period: start {first} is not before end {stop}",
            fix="end is exclusive; pass an end date after the start date",
        )
    return first, stop


def _line(
    row: Mapping[str, Any],
    keys: tuple[str, ...],
    *,
    quantity: Decimal,
    unit: Decimal,
    cost: Decimal,
    basis: CostBasis,
    currency: str,
) -> CostLine:
    tags = {k: str(row[f"tag_{i}"]) for i, k in enumerate(keys) if row[f"tag_{i}"]}
    ids = {c: (None if row.get(c) is None else str(row[c])) for c in RESOURCE_COLUMNS}
    return CostLine(
        usage_date=row["usage_date"],
        workspace_id=str(row["workspace_id"]),
        sku_name=str(row["sku_name"]),
        cloud=str(row["cloud"]),
        usage_unit=str(row["usage_unit"]),
        billing_origin_product=row["billing_origin_product"],
        record_type=str(row["record_type"]),
        quantity=quantity,
        unit_price=unit,
        cost=cost,
        basis=basis,
        currency=currency,
        records=int(row["records"]),
        tags=tags,
        **ids,
    )


def _line_order(line: CostLine) -> tuple[Any, ...]:
    return (line.usage_date, line.workspace_id, line.sku_name, line.record_type,
            sorted(line.tags.items()), [str(r) for r in line.resources()])  # fmt: skip


def _issues(rows: Sequence[Mapping[str, Any]]) -> list[DataIssue]:
    """One DataIssue per kind, from the per-line counts of the pricing query."""
    issues: list[DataIssue] = []
    for kind, (text, fix) in _ISSUE_TEXT.items():
        count = sum(int(r[f"{kind}_n"] or 0) for r in rows)
        if not count:
            continue
        first = min(str(r[f"{kind}_first"]) for r in rows if r[f"{kind}_first"] is not None)
        conflicting = sum(int(r["conflicting_duplicate_n"] or 0) for r in rows)
        if kind == "duplicate_record" and conflicting:
            text += f"; {conflicting} with differing quantities"  # noqa: PLW2901
        issues.append(
            DataIssue(
                kind=kind,  # type: ignore[arg-type]
                message=f"{count} usage record(s) {text} (first: record {first}) — fix: {fix}",
                record_id=first,
            )
        )
    return issues


def _unpriced(rows: Sequence[Mapping[str, Any]]) -> tuple[UnpricedUsage, ...]:
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["sku_name"], row["cloud"], row["usage_unit"])].append(row)
    return tuple(
        UnpricedUsage(
            sku_name=sku,
            cloud=cloud,
            usage_unit=unit,
            quantity=sum((Decimal(r["quantity"]) for r in group), Decimal(0)),
            records=sum(int(r["records"]) for r in group),
            first_date=min(r["usage_date"] for r in group),
            last_date=max(r["usage_date"] for r in group),
        )
        for (sku, cloud, unit), group in sorted(groups.items())
    )


def _one_currency(lines: Sequence[CostLine]) -> str:
    currencies = sorted({r.currency for r in lines})
    if len(currencies) > 1:
        raise DataError(
            f"priced usage mixes currencies {', '.join(currencies)}; totals would be meaningless",
            where=LIST_PRICES,
            fix="configure contract prices in the list-price currency, or report per currency",
        )
    return currencies[0] if currencies else "USD"
