"""Cost and allocation on the simulated estate: reconciliation, untagged spend, corrections."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lakecrew.core.finops import MANDATORY_TAGS, ResourceRef, to_cents
from lakecrew.services.finops.allocation import DIMENSIONS
from lakecrew.testing.finops_sources import load_current_tags

from .simulated import Simulated

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_allocation_reconciles_to_the_usage_table_to_the_cent(
    simulated: Simulated, dimension: str
) -> None:
    check = simulated.allocator.reconcile(simulated.table_total, dimension)
    assert check.ok, (dimension, check.allocated, check.table_total)
    assert to_cents(check.allocated) == to_cents(simulated.table_total["USD"])


def test_everything_priced_and_corrections_summed(simulated: Simulated) -> None:
    priced = simulated.priced
    assert priced.unpriced == () and priced.currency == "USD"
    kinds: dict[str, int] = {}
    for line in priced.lines:
        kinds[line.record_type] = kinds.get(line.record_type, 0) + line.records
    assert kinds["RETRACTION"] == kinds["RESTATEMENT"] == len(simulated.truth["corrections"])
    assert priced.records == sum(kinds.values())


UNTAGGED_CHECK_SQL = """
SELECT u.workspace_id, u.custom_tags, u.usage_metadata.job_id AS job_id,
       u.usage_metadata.warehouse_id AS warehouse_id, u.usage_metadata.cluster_id AS cluster_id,
       u.usage_quantity * lp.pricing.effective_list.default AS cost
FROM (SELECT * FROM system.billing.usage
      QUALIFY ROW_NUMBER() OVER (PARTITION BY record_id ORDER BY ingestion_date) = 1) u
JOIN system.billing.list_prices lp
  ON u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
 AND u.usage_end_time >= lp.price_start_time
 AND (lp.price_end_time IS NULL OR u.usage_end_time < lp.price_end_time)
WHERE u.usage_date >= :start AND u.usage_date < :end
"""


def test_untagged_equals_cost_of_records_without_mandatory_tags(simulated: Simulated) -> None:
    """Independent check: per record, in Python, against the SQL-side tag fallback."""
    current = load_current_tags(simulated.engine)
    params = {"start": simulated.priced.start, "end": simulated.priced.end}
    expected = Decimal(0)
    for rec in simulated.engine.fetch_arrow(UNTAGGED_CHECK_SQL, params).to_pylist():
        keys = {k for k, v in (rec["custom_tags"] or []) if v}
        for kind in ("job", "warehouse", "cluster"):
            rid = rec[f"{kind}_id"]
            if rid:
                tags = current.get(ResourceRef(kind, rec["workspace_id"], rid), {})
                keys |= {k for k, v in tags.items() if v}
        if not set(MANDATORY_TAGS) <= keys:
            expected += rec["cost"]
    report = simulated.allocator.untagged()
    # the check prices per row (DECIMAL(38,6) products), the model per line: equal to the cent
    assert to_cents(report.total.amount) == to_cents(expected) > 0
    assert sum(r.cost for r in report.resources) == report.total.amount
    costs = [r.cost for r in report.resources]
    assert costs == sorted(costs, reverse=True)
    print(f"\nuntagged spend {report.total} = {report.share:.1%} of {simulated.priced.total}")
