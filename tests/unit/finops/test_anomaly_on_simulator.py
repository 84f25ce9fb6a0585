"""The cost anomaly detector against the simulator's labelled injected anomalies.

A detection is a true positive when its (workspace, SKU family, day) falls inside an injected
anomaly (the simulator's family is billing_origin_product, so JOBS_SERVERLESS counts as JOBS);
an injected anomaly is found when at least one detection matches it.
"""

from __future__ import annotations

from datetime import date

import pytest

from lakecrew.services.finops.detection import detect_cost_anomalies

from .simulated import AS_OF, Simulated

pytestmark = pytest.mark.slow


def test_precision_and_recall_on_injected_anomalies(simulated: Simulated) -> None:
    injected = [
        (
            simulated.workspace_ids[a["workspace"]],
            a["sku_family"],
            date.fromisoformat(a["start"]),
            date.fromisoformat(a["end"]),
        )
        for a in simulated.truth["anomalies"]
    ]
    assert len(injected) >= 4
    found = detect_cost_anomalies(simulated.allocator)
    hits: set[int] = set()
    true_positives = 0
    for a in found:
        family = a.series[2].removesuffix("_SERVERLESS")
        matched = [
            i
            for i, (ws, fam, first, last) in enumerate(injected)
            if ws == a.series[0] and fam == family and first <= a.at <= last
        ]
        true_positives += bool(matched)
        hits.update(matched)
    precision = true_positives / len(found) if found else 0.0
    recall = len(hits) / len(injected)
    print(
        f"\ncost anomalies on the simulator: {len(found)} reported, {true_positives} true, "
        f"{len(hits)}/{len(injected)} injected found — precision {precision:.3f}, "
        f"recall {recall:.3f}"
    )
    assert recall == 1.0
    assert precision >= 0.8
    for a in found:
        assert a.contributors, a
        assert a.observed > a.expected and a.pct >= 1.0


def test_no_alert_on_the_incomplete_billing_lag_day(simulated: Simulated) -> None:
    lag_day = date.fromisoformat(simulated.truth["billing_lag_day"]["date"])
    assert lag_day == AS_OF
    assert lag_day in simulated.priced.completeness.incomplete_days
    found = detect_cost_anomalies(simulated.allocator)
    assert all(a.at < lag_day for a in found)
    assert all(simulated.priced.completeness.is_complete(a.at) for a in found)
