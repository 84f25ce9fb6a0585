"""Phase 4 (SOP 3.3): pausing non-critical jobs during a cost spike, with approval and rollback;
warehouse auto-stop edits; budget severities and exceptions; the lakecrew.yaml `crew:` section."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from lakecrew.core.errors import UsageError
from lakecrew.core.findings import EvaluationContext
from lakecrew.core.resources import Resource
from lakecrew.ports.ledger import ExemptionRow
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.observer import Observer
from lakecrew.services.crew.plan import CrewSettings
from lakecrew.services.crew.policy_step import PolicyStep
from lakecrew.services.crew.service import CrewService
from lakecrew.services.crew.snapshot import Snapshot, WorkspaceInfo
from lakecrew.services.crew.sweep import CrewDeps, Sweeper, SweepResult
from lakecrew.services.estate.config import CrewConfig
from lakecrew.services.estate.yamlpos import ConfigProblems, load_yaml, validate_model
from lakecrew.services.policy.engine import Engine
from lakecrew.testing.crew import DEV_TAGS, job
from lakecrew.testing.workspace import T0, local_workspace

from .conftest import INFO, PACK, Crew

SCHEDULE = {
    "quartz_cron_expression": "0 0 6 * * ?",
    "timezone_id": "UTC",
    "pause_status": "UNPAUSED",
}
SPIKE = "malaria-dev-westafrica/JOBS/2025-03-11"


def spike_source(jobs: list[str], ongoing: bool = True) -> Any:
    def source(info: WorkspaceInfo) -> Iterable[Resource]:
        data = {
            "id": SPIKE,
            "ongoing": ongoing,
            "jobs": jobs,
            "signals": [{"code": "cost.anomaly", "start": "2025-03-11", "percent_above": 250.0}],
        }
        return [Resource("usage", SPIKE, info.name, data, SPIKE)]

    return source


def deps(crew: Crew, source: Any, **settings: Any) -> CrewDeps:
    base = crew.deps(max_actions=50, max_percent=100, **settings)
    return replace(base, observer=Observer(crew.clock, extra_sources=(source,)))


def load_jobs(crew: Crew, env: str = "dev") -> None:
    tags = {**DEV_TAGS, "environment": env}
    crew.ws.load(
        {
            ObjectKind.JOB: [
                job(201, schedule=dict(SCHEDULE), tags={**tags, "criticality": "low"}),
                job(202, schedule=dict(SCHEDULE), tags={**tags, "criticality": "critical"}),
                job(203, schedule=dict(SCHEDULE), tags=dict(tags)),  # untagged criticality
            ]
        }
    )


def pauses(result: SweepResult) -> dict[str, Any]:
    return {a.resource_id: a for a in result.plan.actions if a.action == "pause_job"}


def schedule_of(crew: Crew, job_id: str) -> Any:
    return crew.ws.get(ObjectKind.JOB, job_id).data["settings"]["schedule"]


def test_pause_waits_for_approval_then_applies_and_rolls_back(crew: Crew) -> None:
    load_jobs(crew)
    d = deps(crew, spike_source(["201", "202", "203"]))
    first = Sweeper(d).sweep(crew.ws, INFO, phase=4, apply=True)
    plan = pauses(first)
    assert plan["201"].status == "awaiting_approval"
    assert plan["202"].status == "skipped" and "critical" in plan["202"].reason
    assert plan["203"].status == "skipped" and "missing" in plan["203"].reason
    assert schedule_of(crew, "201")["pause_status"] == "UNPAUSED"
    svc = CrewService(d)
    with pytest.raises(UsageError):
        svc.approve(plan["202"].action_id, approver="finops-lead")  # skipped: not approvable
    ok = svc.approve(plan["201"].action_id, approver="finops-lead", reason="spike confirmed")
    assert ok.status == "approved" and "finops-lead" in ok.reason
    second = Sweeper(d).sweep(crew.ws, INFO, phase=4, apply=True)
    [row] = [r for r in second.applied if r.action == "pause_job"]
    assert row.resource_id == "201"
    assert schedule_of(crew, "201") == {**SCHEDULE, "pause_status": "PAUSED"}
    assert schedule_of(crew, "202")["pause_status"] == "UNPAUSED"
    done = svc.rollback(svc.action(row.action_id), crew.ws)
    assert done.status == "rolled_back" and schedule_of(crew, "201") == SCHEDULE


def test_no_pause_below_phase_4_or_after_the_spike(crew: Crew) -> None:
    load_jobs(crew)
    at3 = Sweeper(deps(crew, spike_source(["201"]))).sweep(crew.ws, INFO, phase=3, apply=True)
    assert pauses(at3)["201"].status == "skipped" and "phase 3 < 4" in pauses(at3)["201"].reason
    over = Sweeper(deps(crew, spike_source(["201"], ongoing=False)))
    assert pauses(over.sweep(crew.ws, INFO, phase=4, apply=True)) == {}


def test_a_critical_prod_job_is_never_paused(crew: Crew) -> None:
    load_jobs(crew, env="prod")
    prod = replace(INFO, environment="prod")
    d = deps(crew, spike_source(["202"]), approvals_required_for=frozenset())
    result = Sweeper(d).sweep(crew.ws, prod, phase=4, apply=True)
    assert pauses(result)["202"].status == "skipped"
    assert pauses(result)["202"].reason == "critical Prod job; never paused"
    assert schedule_of(crew, "202")["pause_status"] == "UNPAUSED"


def test_without_required_approval_a_low_job_is_paused_at_once(crew: Crew) -> None:
    load_jobs(crew)
    d = deps(crew, spike_source(["201"]), approvals_required_for=frozenset())
    result = Sweeper(d).sweep(crew.ws, INFO, phase=4, apply=True)
    assert [r.resource_id for r in result.applied if r.action == "pause_job"] == ["201"]


WAREHOUSE = {
    "id": "wh-1",
    "name": "reports",
    "cluster_size": "Small",
    "auto_stop_mins": 0,
    "state": "STOPPED",
    "tags": {"custom_tags": [{"key": k, "value": v} for k, v in DEV_TAGS.items()]},
}


def test_warehouse_autostop_is_applied_at_phase_4_and_rolled_back(crew: Crew) -> None:
    crew.ws.load({ObjectKind.WAREHOUSE: [dict(WAREHOUSE)]})
    at3 = crew.sweep(3, apply=True)
    [skip] = [a for a in at3.plan.actions if a.action == "set_autostop"]
    assert skip.status == "skipped" and "phase 3 < 4" in skip.reason
    at4 = crew.sweep(4, apply=True)
    [row] = [r for r in at4.applied if r.action == "set_autostop"]
    assert crew.ws.get(ObjectKind.WAREHOUSE, "wh-1").data["auto_stop_mins"] == 30
    CrewService(crew.deps()).rollback(row, crew.ws)
    assert crew.ws.get(ObjectKind.WAREHOUSE, "wh-1").data == WAREHOUSE


def test_local_autostop_edit_is_audited(tmp_path: Any) -> None:
    ws, sink, _ = local_workspace(tmp_path / "ws.db")
    try:
        ws.load({ObjectKind.WAREHOUSE: [dict(WAREHOUSE)]})
        change = ws.set_warehouse_autostop("wh-1", 20)
        assert (change.before["auto_stop_mins"], change.after["auto_stop_mins"]) == (0, 20)
        [event] = sink.rows
        assert (event["service_name"], event["action_name"]) == ("databrickssql", "editWarehouse")
        assert event["request_params"] == {"id": "wh-1", "auto_stop_mins": "20"}
    finally:
        ws.close()


# ---- budgets --------------------------------------------------------------------------------


def budget(name: str, spent: float, limit: float = 1000.0) -> Resource:
    data = {
        "name": name,
        "scope": "workspace",
        "budget_usd": limit,
        "month_to_date_usd": spent,
        "thresholds": [50, 80, 100],
    }
    return Resource("budgets", name, "(estate)", data, name)


def test_budget_thresholds_grade_the_finding() -> None:
    ctx = EvaluationContext(workspace="(estate)", environment="prod", now=T0)
    res = [budget("a", 300), budget("b", 550), budget("c", 850), budget("d", 1200)]
    found = {f.resource_id: f.severity for f in Engine(PACK).evaluate(res, ctx).findings}
    assert found == {"b": "info", "c": "warning", "d": "critical"}


def test_a_budget_exception_with_approver_and_expiry_suppresses_the_finding() -> None:
    info = WorkspaceInfo("(estate)", "prod", "owner@x.example", "estate", "estate")
    ctx = EvaluationContext(workspace="(estate)", environment="prod", now=T0)
    snap = Snapshot("(estate)", info, T0, (budget("d", 1200),), {"budgets": 1}, ctx)
    exception = ExemptionRow(
        "budget.exceeded", "d", "campaign month", "cfo@x.example", T0 + timedelta(days=5), T0
    )
    [tf] = PolicyStep(Engine(PACK)).run(snap, [], [exception], "s1").findings
    assert tf.status == "exempted" and tf.exemption is not None
    expired = replace(exception, until=T0 - timedelta(seconds=1))
    [again] = PolicyStep(Engine(PACK)).run(snap, [], [expired], "s2").findings
    assert again.status == "open"


# ---- lakecrew.yaml crew: --------------------------------------------------------------------


def test_crew_section_defaults_match_the_code() -> None:
    c, s = CrewConfig(), CrewSettings()
    assert (c.max_actions, c.max_percent, c.ticket_min_severity) == (
        s.max_actions,
        s.max_percent,
        s.ticket_min_severity,
    )
    assert set(c.approvals_required_for) == set(s.approvals_required_for)
    assert dict(c.grace_hours) == dict(s.grace_hours)


def test_crew_section_rejects_unknown_actions_and_keys() -> None:
    from lakecrew.services.policy.actions import ACTIONS

    good = load_yaml("max_actions: 5\napprovals_required_for: [pause_job, terminate]\n", source="x")
    assert validate_model(CrewConfig, good, what="crew").max_actions == 5
    for text in ("approvals_required_for: [nuke]\n", "max_action: 5\n", "grace_hours: {x: 1}\n"):
        with pytest.raises(ConfigProblems):
            validate_model(CrewConfig, load_yaml(text, source="x"), what="crew")
    acting = {e.name for e in ACTIONS if e.obj.floor is not None}
    crew = validate_model(
        CrewConfig,
        load_yaml(f"approvals_required_for: {sorted(acting)}\n", source="x"),
        what="crew",
    )
    assert set(crew.approvals_required_for) == acting
    with pytest.raises(ConfigProblems):
        validate_model(
            CrewConfig, load_yaml("grace_hours: {notify_only: 1}\n", source="x"), what="crew"
        )


def test_an_approved_budget_exception_in_lakecrew_yaml_suppresses_the_finding() -> None:
    ctx = EvaluationContext(workspace="(estate)", environment="prod", now=T0)
    res = budget("d", 1200)
    covered = replace(res, data={**res.data, "exception": {"approved_by": "cfo@x.example"}})
    assert Engine(PACK).evaluate([covered], ctx).findings == []


def test_spikes_fold_serverless_and_join_consecutive_days() -> None:
    from datetime import date

    from lakecrew.core.finops import Anomaly
    from lakecrew.services.crew.cost_source import spikes

    def a(fam: str, day: int, delta: float = 10.0) -> Anomaly:
        return Anomaly(
            ("ws1", "malaria", fam), date(2026, 1, day), 5.0, 5.0 + delta, delta, 2.0, 9.0
        )

    found = spikes([a("JOBS", 5), a("JOBS_SERVERLESS", 6), a("JOBS", 9), a("SQL", 5, -4.0)])
    assert [(s.family, s.start.day, s.end.day) for s in found] == [("JOBS", 5, 6), ("JOBS", 9, 9)]
