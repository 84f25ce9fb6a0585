"""Allocation of priced usage: by dimension, untagged spend, shared costs, reconciliation.

Works on the grouped `CostLine`s of a `PricedUsage` (the heavy lifting — pricing, tag fallback
to the resources' current tags, grouping — is done in SQL by `CostModel`). Every dimension's
rows sum exactly (Decimal) to the total of the priced usage, shared costs included: the last
share takes the remainder. Job / cluster / warehouse dimensions need usage priced
`by_resource=True`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from lakecrew.core.errors import DataError, UsageError
from lakecrew.core.finops import (
    MANDATORY_TAGS,
    UNALLOCATED,
    CostLine,
    Money,
    PricedUsage,
    ResourceRef,
    to_cents,
)

DIMENSIONS = (
    "workspace",
    "environment",
    "project",
    "cost_center",
    "owner",
    "sku_family",
    "job",
    "cluster",
    "warehouse",
)
TAG_DIMENSIONS = ("environment", "project", "cost_center", "owner")
"""Dimensions read from tags; the only ones shared costs are split over."""
NONE_KEY = "__none__"  # resource dimensions: the record has no job / cluster / warehouse
SHARED_KEY = "__shared__"  # shared cost with nobody to share it with
ZERO = Decimal(0)


_FAMILIES = (
    ("DLT", "DLT"),
    ("ALL_PURPOSE", "ALL_PURPOSE"),
    ("JOBS_LIGHT", "JOBS_LIGHT"),
    ("JOBS", "JOBS"),
    ("SQL", "SQL"),
    ("INFERENCE", "MODEL_SERVING"),
    ("SERVING", "MODEL_SERVING"),
    ("VECTOR_SEARCH", "VECTOR_SEARCH"),
    ("DATABASE", "DATABASE"),
    ("STORAGE", "STORAGE"),
    ("NETWORK", "NETWORKING"),
)


def sku_family(sku_name: str) -> str:
    """JOBS, JOBS_LIGHT, ALL_PURPOSE, SQL, DLT, MODEL_SERVING, ... with `_SERVERLESS` if so."""
    name = sku_name.upper()
    family = next((fam for needle, fam in _FAMILIES if needle in name), "OTHER")
    return f"{family}_SERVERLESS" if "SERVERLESS" in name else family


@dataclass(frozen=True)
class SharedCostRule:
    """Which spend is shared, and how it is split over the other keys of a tag dimension.

    A record is shared when its effective `tag` value is in `values` or it is on one of
    `resources`. `even` gives every allocated key the same share; `proportional` weighs by
    direct cost. Unallocated spend gets no share; with no allocated key, a `__shared__` row stays.
    """

    method: Literal["even", "proportional"] = "proportional"
    tag: str = "project"
    values: frozenset[str] = frozenset({"shared"})
    resources: frozenset[ResourceRef] = frozenset()


@dataclass(frozen=True)
class AllocationConfig:
    """Mandatory tags (SOP 1.9.1), where the environment comes from, and the shared-cost rule."""

    mandatory_tags: tuple[str, ...] = MANDATORY_TAGS
    environment_tag: str = "environment"
    workspace_environments: Mapping[str, str] = field(default_factory=dict)
    shared: SharedCostRule | None = None


@dataclass(frozen=True)
class AllocatedLine:
    """A priced line and whether it is shared cost under the configured rule."""

    line: CostLine
    shared: bool

    @property
    def tags(self) -> Mapping[str, str]:
        return self.line.tags


@dataclass(frozen=True)
class AllocationRow:
    """One key of a dimension: direct cost, its share of shared costs, and the sum."""

    key: str
    direct: Decimal
    shared: Decimal
    records: int

    @property
    def total(self) -> Decimal:
        return self.direct + self.shared


@dataclass(frozen=True)
class Allocation:
    """Cost of one dimension; rows by total, largest first. Rows sum exactly to `total`."""

    dimension: str
    rows: tuple[AllocationRow, ...]
    total: Money
    shared_method: str | None

    def get(self, key: str) -> Money:
        amount = sum((r.total for r in self.rows if r.key == key), ZERO)
        return Money(amount, self.total.currency, self.total.basis)


@dataclass(frozen=True)
class UntaggedResource:
    """A resource (or a SKU, for resource-less usage) behind untagged spend."""

    resource: str
    cost: Decimal
    records: int
    missing: tuple[str, ...]


@dataclass(frozen=True)
class UntaggedReport:
    """Spend of records lacking any mandatory tag after fallback, ranked by dollars."""

    total: Money
    share: float
    resources: tuple[UntaggedResource, ...]


@dataclass(frozen=True)
class Reconciliation:
    """Allocated total vs the usage table total, compared to the cent."""

    allocated: Decimal
    table_total: Decimal
    currency: str

    @property
    def difference(self) -> Decimal:
        return to_cents(self.allocated) - to_cents(self.table_total)

    @property
    def ok(self) -> bool:
        return self.difference == 0


class Allocator:
    """Allocate one `PricedUsage` along the dimensions of the FinOps reports."""

    def __init__(self, usage: PricedUsage, config: AllocationConfig | None = None) -> None:
        self.usage = usage
        self.config = config or AllocationConfig()
        rule = self.config.shared
        if rule is not None and rule.resources and not usage.by_resource:
            raise UsageError(
                "a shared-cost rule naming resources needs usage priced by resource",
                fix="price with CostModel.priced_usage(..., by_resource=True)",
            )
        missing = [t for t in self._needed_tags() if t not in usage.tag_keys]
        if missing:
            raise UsageError(
                f"priced usage does not carry the tag(s) {', '.join(missing)}",
                fix="pass them in tag_keys to CostModel.priced_usage",
            )
        self.records: tuple[AllocatedLine, ...] = tuple(
            AllocatedLine(line, self._is_shared(line)) for line in usage.lines
        )

    def _needed_tags(self) -> list[str]:
        needed = [*self.config.mandatory_tags, self.config.environment_tag]
        return needed + ([self.config.shared.tag] if self.config.shared else [])

    def _is_shared(self, line: CostLine) -> bool:
        rule = self.config.shared
        return rule is not None and (
            line.tags.get(rule.tag) in rule.values
            or any(r in rule.resources for r in line.resources())
        )

    def _money(self, amount: Decimal) -> Money:
        return Money(amount, self.usage.currency, self.usage.basis)

    def key(self, item: AllocatedLine, dimension: str) -> str:
        """The key of a line in a dimension (UNALLOCATED / NONE_KEY when it has none)."""
        rec = item.line
        if dimension == "workspace":
            return rec.workspace_id
        if dimension == "sku_family":
            return sku_family(rec.sku_name)
        if dimension in ("job", "cluster", "warehouse"):
            if not self.usage.by_resource:
                raise UsageError(
                    f"the {dimension} dimension needs usage priced by resource",
                    fix="price with CostModel.priced_usage(..., by_resource=True)",
                )
            value = {"job": rec.job_id, "cluster": rec.cluster_id, "warehouse": rec.warehouse_id}
            return value[dimension] or NONE_KEY
        if dimension == "environment":
            env = item.tags.get(self.config.environment_tag)
            return env or self.config.workspace_environments.get(rec.workspace_id, UNALLOCATED)
        if dimension in TAG_DIMENSIONS:
            return item.tags.get(dimension, UNALLOCATED)
        raise UsageError(
            f"unknown allocation dimension '{dimension}'",
            fix=f"use one of: {', '.join(DIMENSIONS)}",
        )

    def by(self, dimension: str) -> Allocation:
        """Cost per key of `dimension`; shared costs split over tag dimensions if configured."""
        direct: dict[str, Decimal] = defaultdict(Decimal)
        counts: dict[str, int] = defaultdict(int)
        pool = ZERO
        share_here = self.config.shared is not None and dimension in TAG_DIMENSIONS
        for item in self.records:
            if share_here and item.shared:
                pool += item.line.cost
                continue
            key = self.key(item, dimension)
            direct[key] += item.line.cost
            counts[key] += item.line.records
        shares = self._split(pool, direct) if share_here else {}
        keys = set(direct) | set(shares)
        rows = [
            AllocationRow(k, direct.get(k, ZERO), shares.get(k, ZERO), counts.get(k, 0))
            for k in keys
        ]
        rows.sort(key=lambda r: (-r.total, r.key))
        method = self.config.shared.method if share_here and self.config.shared else None
        total = sum((r.total for r in rows), ZERO)
        return Allocation(dimension, tuple(rows), self._money(total), method)

    def _split(self, pool: Decimal, direct: Mapping[str, Decimal]) -> dict[str, Decimal]:
        if pool == 0:
            return {}
        targets = sorted(k for k in direct if k != UNALLOCATED)
        if not targets:
            return {SHARED_KEY: pool}
        rule = self.config.shared
        weights = {k: max(direct[k], ZERO) for k in targets}
        if rule is None or rule.method == "even" or sum(weights.values()) == 0:
            weights = {k: Decimal(1) for k in targets}
        whole = sum(weights.values())
        shares = {k: pool * weights[k] / whole for k in targets[:-1]}
        shares[targets[-1]] = pool - sum(shares.values(), ZERO)  # exact remainder
        return shares

    def untagged(self) -> UntaggedReport:
        """Lines lacking any mandatory tag (after fallback), ranked by dollars per resource.

        Without resource ids in the lines, spend is ranked per SKU and workspace instead.
        """
        cost: dict[str, Decimal] = defaultdict(Decimal)
        counts: dict[str, int] = defaultdict(int)
        missing: dict[str, set[str]] = defaultdict(set)
        for item in self.records:
            lacks = [t for t in self.config.mandatory_tags if t not in item.tags]
            if not lacks:
                continue
            line = item.line
            refs = line.resources()
            name = str(refs[0]) if refs else f"sku:{line.sku_name}@{line.workspace_id}"
            cost[name] += line.cost
            counts[name] += line.records
            missing[name].update(lacks)
        rows = sorted(
            (UntaggedResource(n, cost[n], counts[n], tuple(sorted(missing[n]))) for n in cost),
            key=lambda r: (-r.cost, r.resource),
        )
        total = sum(cost.values(), ZERO)
        whole = self.usage.total.amount
        return UntaggedReport(
            self._money(total), float(total / whole) if whole else 0.0, tuple(rows)
        )

    def reconcile(
        self, table_total: Mapping[str, Decimal], dimension: str = "project"
    ) -> Reconciliation:
        """Compare a dimension's allocated total with the SQL total of the usage table."""
        alloc = self.by(dimension)
        currency = alloc.total.currency
        if self.usage.basis != "list":
            raise DataError(
                "the usage table total is a list-price total; reconcile a list-basis allocation",
                fix="price the usage with basis='list' for reconciliation",
            )
        return Reconciliation(alloc.total.amount, table_total.get(currency, ZERO), currency)
