"""Allocation on the hand-made dataset: tag fallback, untagged, idle, shared, reconciliation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.core.errors import DataError, UsageError
from lakecrew.core.finops import UNALLOCATED, PricedUsage, ResourceRef
from lakecrew.services.finops.allocation import (
    DIMENSIONS,
    NONE_KEY,
    AllocationConfig,
    Allocator,
    SharedCostRule,
    sku_family,
)
from lakecrew.services.finops.cost import CostModel
from lakecrew.testing.finops_sources import load_current_tags, load_job_runs

from .conftest import WS, at, copy_of

START, END = date(2026, 1, 9), date(2026, 1, 13)
AS_OF = datetime(2026, 1, 13, 6, tzinfo=UTC)
D = Decimal


@pytest.fixture(scope="module")
def priced(_templates: dict[bool, Path], tmp_path_factory: pytest.TempPathFactory) -> PricedUsage:
    """Priced once per module (PricedUsage is frozen; the tests only read it)."""
    root = tmp_path_factory.mktemp("allocation") / "proj"
    with copy_of(_templates[True], root) as billing:
        return CostModel(billing).priced_usage(START, END, as_of=AS_OF, by_resource=True)


@pytest.fixture
def allocator(priced: PricedUsage) -> Allocator:
    return Allocator(priced)


def rows(alloc: Allocator, dim: str) -> dict[str, Decimal]:
    return {r.key: r.total for r in alloc.by(dim).rows}


def test_current_tags_are_the_latest_scd2_rows(billing: LocalSqlEngine) -> None:
    tags = load_current_tags(billing)
    assert tags[ResourceRef("cluster", WS, "c-ap1")]["project"] == "tb"
    assert tags[ResourceRef("warehouse", WS, "w2")] == {"project": "hiv"}
    assert tags[ResourceRef("job", WS, "j1")] == {}


def test_project_with_fallback_to_resource_tags(allocator: Allocator) -> None:
    assert rows(allocator, "project") == {"malaria": D("5.70"), "tb": D("2.20"), "hiv": D("0.70")}
    assert allocator.by("project").rows[0].records == 5  # r1, r10, r2, r9, r4


def test_without_current_tags_untagged_usage_is_unallocated(billing: LocalSqlEngine) -> None:
    bare = CostModel(billing).priced_usage(START, END, as_of=AS_OF, tag_fallback=False)
    alloc = Allocator(bare)
    assert rows(alloc, "project") == {"malaria": D("5.70"), UNALLOCATED: D("2.90")}


def test_day_grain_refuses_resource_dimensions(billing: LocalSqlEngine) -> None:
    alloc = Allocator(CostModel(billing).priced_usage(START, END, as_of=AS_OF))
    assert rows(alloc, "project") == {"malaria": D("5.70"), "tb": D("2.20"), "hiv": D("0.70")}
    with pytest.raises(UsageError, match="needs usage priced by resource"):
        alloc.by("job")
    assert [r.resource for r in alloc.untagged().resources] == [
        f"sku:PREMIUM_SERVERLESS_SQL_COMPUTE_US_EAST_N_VIRGINIA@{WS}"
    ]


@pytest.mark.parametrize("dim", DIMENSIONS)
def test_every_dimension_reconciles_to_the_sql_total_to_the_cent(
    billing: LocalSqlEngine, allocator: Allocator, dim: str
) -> None:
    table_total = CostModel(billing).table_total(START, END)
    check = allocator.reconcile(table_total, dim)
    assert check.ok, (dim, check.allocated, check.table_total)
    assert sum(r.total for r in allocator.by(dim).rows) == allocator.usage.total.amount


def test_resource_and_sku_dimensions(allocator: Allocator) -> None:
    assert rows(allocator, "job") == {"j1": D("4.30"), NONE_KEY: D("4.30")}
    assert rows(allocator, "warehouse") == {"w1": D("1.40"), "w2": D("0.70"), NONE_KEY: D("6.50")}
    assert rows(allocator, "cluster") == {"c-job1": D("4.30"), "c-ap1": D("2.20"),
                                          NONE_KEY: D("2.10")}  # fmt: skip
    assert rows(allocator, "sku_family") == {"JOBS": D("4.30"), "ALL_PURPOSE": D("2.20"),
                                             "SQL_SERVERLESS": D("2.10")}  # fmt: skip
    assert rows(allocator, "cost_center") == {"cc1": D("4.30"), "cc2": D("2.20"),
                                              UNALLOCATED: D("2.10")}  # fmt: skip


def test_environment_from_tag_or_workspace_mapping(priced: PricedUsage) -> None:
    alloc = Allocator(priced, AllocationConfig(workspace_environments={WS: "prod"}))
    assert rows(alloc, "environment") == {"prod": D("8.60")}
    assert rows(Allocator(priced), "environment") == {UNALLOCATED: D("8.60")}
    assert Allocator(priced).by("workspace").get(WS).cents() == D("8.60")


def test_untagged_equals_cost_of_records_without_mandatory_tags(allocator: Allocator) -> None:
    report = allocator.untagged()
    expected = sum(
        (a.line.cost for a in allocator.records
         if not all(t in a.tags for t in ("cost_center", "project", "owner"))),
        D(0),
    )  # fmt: skip
    assert report.total.amount == expected == D("2.10")
    assert [(r.resource, r.cost) for r in report.resources] == [
        (f"warehouse:w1@{WS}", D("1.40")),
        (f"warehouse:w2@{WS}", D("0.70")),
    ]
    assert report.resources[0].missing == ("cost_center", "owner")
    assert report.share == pytest.approx(2.10 / 8.60)


def test_shared_costs_split_even_and_proportional(allocator: Allocator) -> None:
    for method in ("even", "proportional"):
        rule = SharedCostRule(method=method, values=frozenset({"hiv"}))
        alloc = Allocator(allocator.usage, AllocationConfig(shared=rule))
        result = alloc.by("project")
        got = {r.key: (r.direct, r.shared) for r in result.rows}
        assert set(got) == {"malaria", "tb"} and result.shared_method == method
        assert sum(r.total for r in result.rows) == D("8.60")
        if method == "even":
            assert got["malaria"][1] == got["tb"][1] == D("0.35")
        else:
            assert got["malaria"][1] == D("0.70") * D("5.70") / D("7.90")
        assert rows(alloc, "workspace") == {WS: D("8.60")}  # not a tag dimension: unsplit


def test_shared_with_nobody_else_keeps_a_shared_row(billing: LocalSqlEngine) -> None:
    bare = CostModel(billing).priced_usage(START, END, as_of=AS_OF, tag_fallback=False)
    everything = SharedCostRule(values=frozenset({"malaria"}))
    alloc = Allocator(bare, AllocationConfig(shared=everything))
    assert rows(alloc, "project") == {"__shared__": D("5.70"), UNALLOCATED: D("2.90")}


def test_job_runs_loader(billing: LocalSqlEngine) -> None:
    runs = load_job_runs(billing, START, END)
    assert runs == {ResourceRef("job", WS, "j2"): [(at(10, 8), 1800.0)]}


def test_unknown_dimension_and_contract_reconcile(
    billing: LocalSqlEngine, allocator: Allocator
) -> None:
    with pytest.raises(UsageError, match="unknown allocation dimension 'team'"):
        allocator.by("team")
    contract = CostModel(billing).priced_usage(START, END, as_of=AS_OF, basis="contract")
    with pytest.raises(DataError, match="list-price total"):
        Allocator(contract).reconcile({"USD": D("8.60")})


@pytest.mark.parametrize(
    ("sku", "family"),
    [
        ("PREMIUM_JOBS_COMPUTE_(PHOTON)", "JOBS"),
        ("PREMIUM_JOBS_SERVERLESS_COMPUTE_US_EAST_N_VIRGINIA", "JOBS_SERVERLESS"),
        ("PREMIUM_ALL_PURPOSE_COMPUTE_(DLT)", "DLT"),
        ("ENTERPRISE_JOBS_LIGHT_COMPUTE", "JOBS_LIGHT"),
        ("PREMIUM_SQL_PRO_COMPUTE_US_EAST_N_VIRGINIA", "SQL"),
        ("PREMIUM_SERVERLESS_REAL_TIME_INFERENCE_US_EAST_N_VIRGINIA", "MODEL_SERVING_SERVERLESS"),
        ("SOMETHING_ELSE", "OTHER"),
    ],
)
def test_sku_family(sku: str, family: str) -> None:
    assert sku_family(sku) == family
