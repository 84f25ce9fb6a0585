"""Detection scored against the simulator's planted ground truth (scale 1, seed 7).

A full plan-only sweep of every workspace plus the estate scope; precision and recall are
printed per violation code. Every planted violation of a code the crew observes must be found,
and no finding may land on a resource the simulator planted as compliant.

Every code is asserted, including those from detector services (security monitor, cost anomalies,
budgets): recall 1.0 and precision 1.0 for each.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lakecrew.ports.clock import FixedClock
from lakecrew.testing.crew import ground_truth
from lakecrew.testing.detection import flagged_compliant, score, table
from lakecrew.wiring.context import Context
from lakecrew.wiring.crew import sweep

pytestmark = pytest.mark.slow  # end to end: a plan-only sweep of the whole estate (tens of seconds)

# Codes whose signal comes from a detector service plugged into the Observer (wiring/crew.py):
# the security monitor (audit), the cost anomaly source (usage) and budgets (estate pass).
DETECTOR_CODES = (
    "budget.exceeded",
    "cost.anomaly",
    "security.failed_access",
    "security.secret_access_anomaly",
    "security.large_download",
)


@pytest.fixture(scope="module")
def swept(seed7_project: Path) -> tuple[dict[str, Any], list[Any]]:
    root = seed7_project
    truth = ground_truth(root)
    ctx = Context.open(
        Path(root), writable=True, clock=FixedClock(datetime.fromisoformat(truth["now"]))
    )
    try:
        results = sweep(ctx, apply=False, phase=1)
    finally:
        ctx.close()
    return truth, results


def test_precision_and_recall_against_ground_truth(swept: tuple[dict[str, Any], list[Any]]) -> None:
    truth, results = swept
    found = [
        (tf.finding.rule_id, tf.finding.resource_type, tf.finding.resource_id)
        for r in results
        for tf in r.findings
        if not tf.finding.rule_id.startswith("sla.")  # service levels: no planted truth here
    ]
    scores = score(truth, found)
    print("\n" + table(scores))
    missed = {c: s for c, s in scores.items() if s["recall"] < 1.0}
    assert not missed, missed
    assert all(s["precision"] == 1.0 for s in scores.values()), scores
    assert all(scores[c]["tp"] >= 2 for c in DETECTOR_CODES), scores
    assert len(scores) >= 30


def test_no_finding_on_a_resource_planted_as_compliant(
    swept: tuple[dict[str, Any], list[Any]],
) -> None:
    truth, results = swept
    found = [
        (tf.finding.rule_id, tf.finding.resource_type, tf.finding.resource_id)
        for r in results
        for tf in r.findings
        if not tf.finding.rule_id.startswith("sla.")  # service levels: no planted truth here
    ]
    assert len(truth["compliant"]) > 50
    assert flagged_compliant(truth, found) == []


def test_every_sweep_evaluated_everything_it_discovered(
    swept: tuple[dict[str, Any], list[Any]],
) -> None:
    _, results = swept
    assert all(r.discovered == r.evaluated > 0 for r in results)
