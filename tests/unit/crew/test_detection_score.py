"""Detection scored against the simulator's planted ground truth (scale 1, seed 7).

A full plan-only sweep of every workspace plus the estate scope; precision and recall are
printed per violation code. Every planted violation of a code the crew observes must be found,
and no finding may land on a resource the simulator planted as compliant.

Codes whose signal comes from a detector service that is not wired into the sweep yet are listed
in NOT_WIRED (with the reason) and reported, not asserted; the test fails if one of them starts
being found, so the list cannot go stale.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lakecrew.context import Context
from lakecrew.crew_wiring import crew_service, estate_inventory, targets
from lakecrew.ports.clock import FixedClock
from lakecrew.testing.crew import ground_truth, simulated_project
from lakecrew.testing.detection import flagged_compliant, score, table

NOT_WIRED = {
    "budget.exceeded": "needs the FinOps month-to-date budget source (rule type `budgets`)",
    "cost.anomaly": "needs the FinOps anomaly detector's signals on `usage` resources",
    "security.failed_access": "needs the security monitor's signals on `audit` resources",
    "security.secret_access_anomaly": "needs the security monitor's signals",
    "security.large_download": "needs the security monitor's signals",
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Any]]:
    root = tmp_path_factory.mktemp("detect")
    simulated_project(root, seed=7, scale=1)
    truth = ground_truth(root)
    ctx = Context.open(
        Path(root), writable=True, clock=FixedClock(datetime.fromisoformat(truth["now"]))
    )
    try:
        svc = crew_service(ctx)
        results = svc.sweep(
            targets(ctx),
            apply=False,
            phase=1,
            estate=estate_inventory(ctx),
            estate_owner=ctx.config.workspaces[0].owner,
        )
    finally:
        ctx.close()
    return truth, results


def test_precision_and_recall_against_ground_truth(swept: tuple[dict[str, Any], list[Any]]) -> None:
    truth, results = swept
    found = [
        (tf.finding.rule_id, tf.finding.resource_type, tf.finding.resource_id)
        for r in results
        for tf in r.findings
    ]
    scores = score(truth, found)
    print("\n" + table(scores))
    for code, why in NOT_WIRED.items():
        print(f"not wired: {code}: {why}")
    missed = {c: s for c, s in scores.items() if s["recall"] < 1.0 and c not in NOT_WIRED}
    assert not missed, missed
    assert all(s["precision"] == 1.0 for s in scores.values()), scores
    stale = [c for c in NOT_WIRED if scores.get(c, {}).get("found", 0) > 0]
    assert not stale, f"now detected, drop from NOT_WIRED: {stale}"
    wired = [c for c in scores if c not in NOT_WIRED]
    assert len(wired) >= 25


def test_no_finding_on_a_resource_planted_as_compliant(
    swept: tuple[dict[str, Any], list[Any]],
) -> None:
    truth, results = swept
    found = [
        (tf.finding.rule_id, tf.finding.resource_type, tf.finding.resource_id)
        for r in results
        for tf in r.findings
    ]
    assert len(truth["compliant"]) > 50
    assert flagged_compliant(truth, found) == []


def test_every_sweep_evaluated_everything_it_discovered(
    swept: tuple[dict[str, Any], list[Any]],
) -> None:
    _, results = swept
    assert all(r.discovered == r.evaluated > 0 for r in results)
