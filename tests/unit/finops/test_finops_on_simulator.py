"""Cost and allocation on the simulated estate: reconciliation, untagged spend, corrections."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lakecrew.core.finops import MANDATORY_TAGS, ResourceRef, to_cents
from lakecrew.services.finops.allocation import DIMENSIONS
from lakecrew.services.finops.sources import load_current_tags

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
    ids = {r.record_id: r for r in priced.records}
    for c in simulated.truth["corrections"]:
        original, retraction = ids[c["original"]], ids[c["retraction"]]
        restatement = ids[c["restatement"]]
        assert retraction.quantity == -original.quantity
        net = original.quantity + retraction.quantity + restatement.quantity
        assert net == Decimal(c["restated_quantity"])


def test_untagged_equals_cost_of_records_without_mandatory_tags(simulated: Simulated) -> None:
    current = load_current_tags(simulated.engine)
    expected = Decimal(0)
    for rec in simulated.priced.records:
        keys = {k for k, v in rec.custom_tags.items() if v}
        ids = {"job": rec.job_id, "pipeline": rec.dlt_pipeline_id,
               "warehouse": rec.warehouse_id, "endpoint": rec.endpoint_name,
               "cluster": rec.cluster_id}  # fmt: skip
        for kind, rid in ids.items():
            if rid:
                tags = current.get(ResourceRef(kind, rec.workspace_id, rid), {})
                keys |= {k for k, v in tags.items() if v}
        if not set(MANDATORY_TAGS) <= keys:
            expected += rec.cost
    report = simulated.allocator.untagged()
    assert report.total.amount == expected > 0
    assert sum(r.cost for r in report.resources) == expected
    costs = [r.cost for r in report.resources]
    assert costs == sorted(costs, reverse=True)
    print(f"\nuntagged spend {report.total} = {report.share:.1%} of {simulated.priced.total}")


def test_idle_share_of_clusters(simulated: Simulated) -> None:
    from lakecrew.services.finops.sources import load_cluster_activity

    activity = load_cluster_activity(simulated.engine, simulated.priced.start, simulated.priced.end)
    report = simulated.allocator.idle(activity)
    assert 0 < report.idle_cost.amount < report.cluster_cost.amount
    assert 0.0 < report.share < 1.0
