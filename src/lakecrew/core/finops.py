"""FinOps domain types: priced usage, money with its basis, data issues, anomalies.

Plain frozen dataclasses shared by services/finops and, later, budgets, reports and the crew.
Money is `Decimal` end to end (billing data is DECIMAL(38,18)); the anomaly detector works in
floats because it only decides *whether* a point is unusual, never what anybody pays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

CostBasis = Literal["list", "contract"]
"""`list`: pricing.effective_list.default of system.billing.list_prices. `contract`: the
negotiated unit price where one is configured for the SKU, the list price elsewhere (FOCUS
ContractedCost semantics)."""

CENT = Decimal("0.01")
UNALLOCATED = "__unallocated__"
MANDATORY_TAGS: tuple[str, ...] = ("cost_center", "project", "owner")  # SOP 1.9.1
DEFAULT_TAG_KEYS: tuple[str, ...] = (*MANDATORY_TAGS, "environment")


def to_cents(amount: Decimal) -> Decimal:
    """Round half-even to the cent (banker's rounding, as invoices do)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Money:
    """An amount with the currency and the price basis it was computed on."""

    amount: Decimal
    currency: str
    basis: CostBasis

    def cents(self) -> Decimal:
        return to_cents(self.amount)

    def __str__(self) -> str:
        return f"{self.cents()} {self.currency} ({self.basis} price)"


@dataclass(frozen=True)
class ContractPrice:
    """A negotiated unit price for one SKU, optionally limited to a cloud, unit and time window.

    The window is half-open `[start, end)` on `usage_end_time`, like list prices; `None` = open.
    """

    sku_name: str
    unit_price: Decimal
    currency: str = "USD"
    cloud: str | None = None
    usage_unit: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def applies(self, cloud: str, usage_unit: str, at: datetime) -> bool:
        if self.cloud is not None and self.cloud != cloud:
            return False
        if self.usage_unit is not None and self.usage_unit != usage_unit:
            return False
        if self.start is not None and at < self.start:
            return False
        return self.end is None or at < self.end


@dataclass(frozen=True, order=True)
class ResourceRef:
    """A billable resource: kind (job, cluster, warehouse, pipeline, endpoint), workspace, id.

    Ids are only unique within a workspace (job ids in particular), hence the workspace.
    """

    kind: str
    workspace_id: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}@{self.workspace_id}"


@dataclass(frozen=True)
class CostLine:
    """Priced usage summed over one group of billing records (exact Decimal).

    The grain is usage day × workspace × SKU (cloud, unit, product) × record type × unit price ×
    the effective tags of interest (the usage record's tag, else the current tag of the resource
    it names), plus the resource ids when priced `by_resource`. `records` counts the records.
    """

    usage_date: date
    workspace_id: str
    sku_name: str
    cloud: str
    usage_unit: str
    billing_origin_product: str | None
    record_type: str
    quantity: Decimal
    unit_price: Decimal
    cost: Decimal
    basis: CostBasis
    currency: str
    records: int
    tags: Mapping[str, str] = field(default_factory=dict)
    job_id: str | None = None
    dlt_pipeline_id: str | None = None
    warehouse_id: str | None = None
    endpoint_name: str | None = None
    cluster_id: str | None = None

    def resources(self) -> tuple[ResourceRef, ...]:
        """The resources named by the line, most specific first (tag fallback order)."""
        ids = (
            ("job", self.job_id),
            ("pipeline", self.dlt_pipeline_id),
            ("warehouse", self.warehouse_id),
            ("endpoint", self.endpoint_name),
            ("cluster", self.cluster_id),
        )
        return tuple(ResourceRef(k, self.workspace_id, v) for k, v in ids if v)


@dataclass(frozen=True)
class UnpricedUsage:
    """Usage of a SKU that has no list price valid at its time: reported, never priced at 0."""

    sku_name: str
    cloud: str
    usage_unit: str
    quantity: Decimal
    records: int
    first_date: date
    last_date: date

    def message(self) -> str:
        return (
            f"{self.records} usage record(s) of SKU {self.sku_name} ({self.cloud}, "
            f"{self.usage_unit}) from {self.first_date} to {self.last_date}, quantity "
            f"{self.quantity.normalize()}, have no list price valid at their time and are left "
            "out of all cost figures — fix: load the price into system.billing.list_prices or "
            "configure a contract price for the SKU"
        )


IssueKind = Literal[
    "unpriced_sku",
    "duplicate_record",
    "negative_original",
    "positive_retraction",
    "date_mismatch",
]


@dataclass(frozen=True)
class DataIssue:
    """A problem found in billing input; `message` is one line: what, where, how to fix."""

    kind: IssueKind
    message: str
    record_id: str | None = None


@dataclass(frozen=True)
class Completeness:
    """Which days of a period are final, given billing lag.

    A day D is complete when `as_of >= D + 1 day + lag` (UTC). Incomplete days are reported with
    their partial cost but are never compared against a baseline (no "drop" on them).
    """

    as_of: datetime
    lag: timedelta
    complete_through: date | None
    incomplete_days: tuple[date, ...]

    def is_complete(self, day: date) -> bool:
        return self.complete_through is not None and day <= self.complete_through


@dataclass(frozen=True)
class PricedUsage:
    """All usage of a period `[start, end)` priced and summed to `CostLine`s, plus what could
    not be priced. `tag_keys` are the tags carried by the lines; `by_resource` says whether the
    lines carry resource ids (needed for job / cluster / warehouse views)."""

    start: date
    end: date
    basis: CostBasis
    currency: str
    lines: tuple[CostLine, ...]
    unpriced: tuple[UnpricedUsage, ...]
    issues: tuple[DataIssue, ...]
    completeness: Completeness
    tag_keys: tuple[str, ...] = DEFAULT_TAG_KEYS
    by_resource: bool = False

    @property
    def total(self) -> Money:
        return Money(sum((r.cost for r in self.lines), Decimal(0)), self.currency, self.basis)

    @property
    def records(self) -> int:
        """Billing records behind the priced lines."""
        return sum(r.records for r in self.lines)


@dataclass(frozen=True)
class Contributor:
    """A resource behind an anomaly: its observed and expected value on the anomalous day."""

    resource: str
    observed: float
    expected: float
    delta: float


@dataclass(frozen=True)
class Anomaly:
    """An observed value far above (or below) its robust seasonal baseline.

    `series` is the key of the series (e.g. (workspace_id, project, sku_family)); `at` is a date
    for daily series, a datetime for irregular ones; `pct` = delta / |expected| (inf when the
    expected value is 0; `as_dict` gives it as a percentage, ×100); `score` = delta / robust scale.
    """

    series: tuple[str, ...]
    at: date | datetime
    expected: float
    observed: float
    delta: float
    pct: float
    score: float
    contributors: tuple[Contributor, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "series": list(self.series),
            "at": self.at.isoformat(),
            "expected": round(self.expected, 6),
            "observed": round(self.observed, 6),
            "delta": round(self.delta, 6),
            "pct": None if self.pct == float("inf") else round(self.pct * 100, 2),
            "score": None if self.score == float("inf") else round(self.score, 3),
            "contributors": [
                {
                    "resource": c.resource,
                    "observed": round(c.observed, 6),
                    "expected": round(c.expected, 6),
                    "delta": round(c.delta, 6),
                }
                for c in self.contributors
            ],
        }
