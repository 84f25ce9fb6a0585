"""Reports, recommendations and crew facts on the simulated estate (labelled ground truth)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from lakecrew.core.findings import EvaluationContext
from lakecrew.core.registry import NoParams
from lakecrew.services.finops.facts import finops_facts
from lakecrew.services.finops.reports import cost_report
from lakecrew.services.policy.checks import CHECKS
from lakecrew.services.policy.loader import DEFAULT_PACK, load_pack

from .simulated import Simulated

pytestmark = pytest.mark.slow
PLANTED = {"lassa-prod-westafrica", "malaria-dev-westafrica"}  # simulator BUDGET_EXCEEDED


def test_weekly_report_totals_budgets_and_recommendations(simulated: Simulated) -> None:
    report = cost_report(simulated.engine, simulated.config, "week", simulated.now)
    json.dumps(report)  # JSON-ready as is
    total = Decimal(report["total"])
    for dim in ("by_project", "by_cost_center", "by_workspace", "by_sku_family"):
        assert sum(Decimal(r["cost"]) for r in report[dim]) == pytest.approx(
            total, abs=Decimal("0.06")
        )
    critical = {b["name"] for b in report["budgets"] if b["severity"] == "critical"}
    assert critical == PLANTED
    for b in report["budgets"]:
        if b["name"] in PLANTED:
            assert b["breached"] and b["breach_date"] <= simulated.now.date().isoformat()
    codes = {r["code"] for r in report["recommendations"]}
    assert "warehouse.no_auto_stop" in codes
    assert all(Decimal(r["monthly_savings_usd"]) > 0 for r in report["recommendations"])
    assert any("budget workspace lassa-prod" in a for a in report["corrective_actions"])
    assert report["untagged"]["top"] and Decimal(report["untagged"]["total"]) > 0


def test_month_chargeback_and_day_digest(simulated: Simulated) -> None:
    month = cost_report(simulated.engine, simulated.config, "month", simulated.now)
    assert month["start"].endswith("-01") and {r["key"] for r in month["by_cost_center"]}
    day = cost_report(simulated.engine, simulated.config, "day", simulated.now)
    assert Decimal(day["total"]) < Decimal(month["total"])


def test_anomalies_in_the_report_window_have_contributors(simulated: Simulated) -> None:
    first = min(a["start"] for a in simulated.truth["anomalies"])
    from datetime import date, timedelta

    as_of = simulated.now.replace(
        year=date.fromisoformat(first).year,
        month=date.fromisoformat(first).month,
        day=date.fromisoformat(first).day,
    ) + timedelta(days=3)
    report = cost_report(simulated.engine, simulated.config, "week", as_of)
    assert report["anomalies"], "the injected anomaly of that week is reported"
    assert all(a["contributors"] for a in report["anomalies"])


def test_facts_make_budget_findings_through_the_sop_pack(simulated: Simulated) -> None:
    facts = finops_facts(simulated.engine, simulated.config, simulated.now)
    pack = load_pack([DEFAULT_PACK]).pack
    check = CHECKS.get("budget_exceeded").obj
    found = set()
    for res in facts["budgets"]:
        ctx = EvaluationContext(workspace=res.workspace, environment="prod", now=simulated.now)
        if check(res, NoParams(), ctx, pack):
            found.add(res.data["name"])
    assert found == PLANTED
    assert facts["approvals"] == []
    for res in facts["usage"]:
        assert res.data["signals"][0]["code"] == "cost.anomaly"
