"""The cost model on a hand-made dataset, through the real local SQL engine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.core.errors import DataError, NotFound, UsageError
from lakecrew.core.finops import ContractPrice
from lakecrew.services.finops.cost import CostModel, completeness

from .conftest import ALL_PURPOSE, JOBS, NEW, PRICE_ROWS, SQL, load, price

START, END = date(2026, 1, 9), date(2026, 1, 13)
AS_OF = datetime(2026, 1, 13, 6, tzinfo=UTC)
D = Decimal
# (usage_date, SKU, record_type, unit price) -> (cost, records); see conftest for the records
EXPECTED = {
    (date(2026, 1, 9), JOBS, "ORIGINAL", D("0.15")): (D("1.50"), 1),  # r1 (its copy dropped)
    (date(2026, 1, 9), JOBS, "ORIGINAL", D("0.20")): (D("1.00"), 1),  # r10 ends at the change
    (date(2026, 1, 10), JOBS, "ORIGINAL", D("0.20")): (D("1.80"), 2),  # r2 (+02:00) + r9
    (date(2026, 1, 10), ALL_PURPOSE, "ORIGINAL", D("0.55")): (D("2.20"), 1),  # r3
    (date(2026, 1, 10), ALL_PURPOSE, "RETRACTION", D("0.55")): (D("-2.20"), 1),  # r3x
    (date(2026, 1, 10), ALL_PURPOSE, "RESTATEMENT", D("0.55")): (D("1.65"), 1),  # r3y
    (date(2026, 1, 11), ALL_PURPOSE, "ORIGINAL", D("0.55")): (D("0.55"), 1),  # r7
    (date(2026, 1, 11), SQL, "ORIGINAL", D("0.70")): (D("1.40"), 1),  # r4
    (date(2026, 1, 12), SQL, "ORIGINAL", D("0.70")): (D("0.70"), 1),  # r8 (23:30-05:00)
}


def test_usage_priced_at_the_price_valid_at_its_time_and_grouped(billing: LocalSqlEngine) -> None:
    priced = CostModel(billing).priced_usage(START, END, as_of=AS_OF)
    got = {
        (r.usage_date, r.sku_name, r.record_type, r.unit_price): (r.cost, r.records)
        for r in priced.lines
    }
    assert got == EXPECTED and len(priced.lines) == len(EXPECTED)
    assert priced.total.cents() == Decimal("8.60") and priced.records == 10
    assert (priced.total.currency, priced.total.basis) == ("USD", "list")
    assert str(priced.total) == "8.60 USD (list price)"
    assert not priced.by_resource and all(r.job_id is None for r in priced.lines)


def test_lines_by_resource_carry_the_ids(billing: LocalSqlEngine) -> None:
    priced = CostModel(billing).priced_usage(START, END, as_of=AS_OF, by_resource=True)
    assert priced.by_resource and priced.total.cents() == Decimal("8.60")
    jobs = [r for r in priced.lines if r.job_id]
    assert {(r.job_id, r.cluster_id) for r in jobs} == {("j1", "c-job1")}
    assert {r.warehouse_id for r in priced.lines if r.warehouse_id} == {"w1", "w2"}


def test_tags_fall_back_to_the_current_resource_tags_in_sql(billing: LocalSqlEngine) -> None:
    priced = CostModel(billing).priced_usage(START, END, as_of=AS_OF)
    ap = {r.record_type: r.tags for r in priced.lines if r.sku_name == ALL_PURPOSE}
    assert ap["ORIGINAL"] == {"project": "tb", "cost_center": "cc2", "owner": "bo"}
    sql = {r.usage_date.day: dict(r.tags) for r in priced.lines if r.sku_name == SQL}
    assert sql == {11: {"project": "malaria"}, 12: {"project": "hiv"}}
    bare = CostModel(billing).priced_usage(START, END, as_of=AS_OF, tag_fallback=False)
    assert all(not r.tags for r in bare.lines if r.sku_name == ALL_PURPOSE)


def test_corrections_sum_with_the_original(billing: LocalSqlEngine) -> None:
    priced = CostModel(billing).priced_usage(START, END, as_of=AS_OF)
    r3 = [r for r in priced.lines if r.sku_name == ALL_PURPOSE and r.usage_date.day == 10]
    assert {r.record_type for r in r3} == {"ORIGINAL", "RETRACTION", "RESTATEMENT"}
    assert sum(r.cost for r in r3) == Decimal("1.65")


def test_unpriced_sku_is_reported_not_priced_at_zero(billing: LocalSqlEngine) -> None:
    priced = CostModel(billing).priced_usage(START, END, as_of=AS_OF)
    assert NEW not in {r.sku_name for r in priced.lines}
    (u,) = priced.unpriced
    assert (u.sku_name, u.quantity, u.records) == (NEW, Decimal(7), 1)
    issue = next(i for i in priced.issues if i.kind == "unpriced_sku")
    assert NEW in issue.message and "fix:" in issue.message and "\n" not in issue.message


def test_data_issues_duplicates_negative_original_local_dates(billing: LocalSqlEngine) -> None:
    priced = CostModel(billing).priced_usage(START, END, as_of=AS_OF)
    issues = {i.kind: i for i in priced.issues}
    assert issues["duplicate_record"].record_id == "r1"
    assert issues["duplicate_record"].message.startswith("1 usage record(s) appear more than")
    assert issues["negative_original"].record_id == "r9"
    assert issues["date_mismatch"].record_id == "r7"
    assert "positive_retraction" not in issues
    for issue in priced.issues:
        assert "\n" not in issue.message and "fix:" in issue.message


def test_contract_prices_override_list_prices(billing: LocalSqlEngine) -> None:
    model = CostModel(
        billing,
        contract_prices=[ContractPrice(JOBS, Decimal("0.12")), ContractPrice(NEW, Decimal("0.1"))],
    )
    listed = model.priced_usage(START, END, as_of=AS_OF)
    assert listed.total.cents() == Decimal("8.60") and listed.unpriced  # list basis: untouched
    contract = model.priced_usage(START, END, as_of=AS_OF, basis="contract")
    # JOBS: 24 DBU × 0.12 = 2.88 instead of 4.30; NEW: 7 × 0.10 = 0.70 now priced
    assert contract.total.cents() == Decimal("8.60") - Decimal("4.30") + Decimal("2.88") + Decimal(
        "0.70"
    )
    assert contract.total.basis == "contract" and contract.unpriced == ()
    ap = next(r for r in contract.lines if r.sku_name == ALL_PURPOSE)
    assert ap.basis == "contract" and ap.unit_price == Decimal("0.55")  # list where no contract


def test_contract_price_window_and_currency(billing: LocalSqlEngine) -> None:
    later = ContractPrice(JOBS, Decimal("0.10"), start=datetime(2026, 1, 10, tzinfo=UTC))
    priced = CostModel(billing, contract_prices=[later]).priced_usage(
        START, END, as_of=AS_OF, basis="contract"
    )
    jobs = {(r.usage_date.day, r.unit_price): r.cost for r in priced.lines if r.sku_name == JOBS}
    # r1 before the contract window (list 0.15); r10, r2 + r9 inside it at 0.10
    assert jobs == {(9, D("0.15")): D("1.50"), (9, D("0.10")): D("0.5"),
                    (10, D("0.10")): D("0.9")}  # fmt: skip
    euro = CostModel(billing, contract_prices=[ContractPrice(JOBS, Decimal(1), currency="EUR")])
    with pytest.raises(DataError, match="mixes currencies EUR, USD"):
        euro.priced_usage(START, END, as_of=AS_OF, basis="contract")


def test_sql_table_total(billing: LocalSqlEngine) -> None:
    assert CostModel(billing).table_total(START, END) == {"USD": Decimal("8.60")}


def test_billing_lag_marks_the_last_days_incomplete(billing: LocalSqlEngine) -> None:
    priced = CostModel(billing).priced_usage(START, END, as_of=AS_OF)
    c = priced.completeness
    assert c.complete_through == date(2026, 1, 11)
    assert c.incomplete_days == (date(2026, 1, 12),)
    assert not c.is_complete(date(2026, 1, 12)) and c.is_complete(date(2026, 1, 9))
    none_yet = completeness(START, END, datetime(2026, 1, 9, 12, tzinfo=UTC), timedelta(hours=24))
    assert none_yet.complete_through is None and none_yet.incomplete_days == (START,)


def test_period_bounds_time_zones(billing: LocalSqlEngine) -> None:
    model = CostModel(billing)
    aware = datetime(2026, 1, 9, 1, tzinfo=UTC)
    assert model.priced_usage(aware, END, as_of=AS_OF).start == START
    with pytest.raises(UsageError, match="no time zone"):
        model.priced_usage(datetime(2026, 1, 9), END, as_of=AS_OF)
    with pytest.raises(UsageError, match="no time zone"):
        model.priced_usage(START, END, as_of=datetime(2026, 1, 13))


def test_empty_period_is_a_clear_error(billing: LocalSqlEngine) -> None:
    model = CostModel(billing)
    with pytest.raises(NotFound, match=r"no billing usage between 2026-02-01 and 2026-03-01"):
        model.priced_usage(date(2026, 2, 1), date(2026, 3, 1), as_of=AS_OF)
    with pytest.raises(UsageError, match="empty period"):
        model.priced_usage(END, START, as_of=AS_OF)


def test_overlapping_price_windows_refused(billing: LocalSqlEngine) -> None:
    load(billing.store, "system.billing.list_prices",
         [price(ALL_PURPOSE, "0.60", PRICE_ROWS[2]["price_start_time"], None)])  # fmt: skip
    with pytest.raises(DataError, match=f"SKU {ALL_PURPOSE} has overlapping list price windows"):
        CostModel(billing).priced_usage(START, END, as_of=AS_OF)


def test_days_and_workspace_filters(billing: LocalSqlEngine) -> None:
    model = CostModel(billing)
    one = model.priced_usage(START, END, as_of=AS_OF, days=[date(2026, 1, 12)])
    assert one.total.cents() == D("0.70")
    with pytest.raises(NotFound):
        model.priced_usage(START, END, as_of=AS_OF, workspace_ids=["nope"])


def test_negative_contract_price_refused(billing: LocalSqlEngine) -> None:
    with pytest.raises(UsageError, match="negative"):
        CostModel(billing, contract_prices=[ContractPrice(JOBS, Decimal("-1"))])
