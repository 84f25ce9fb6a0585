"""Planning: phase gates, blast radius, grace periods, exemptions, running-workload safety."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from lakecrew.core.errors import SafetyRefusal
from lakecrew.ports.ledger import ExemptionRow
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.observer import Observer
from lakecrew.services.crew.plan import CrewSettings, build_plan
from lakecrew.services.crew.policy_step import PolicyStep
from lakecrew.services.policy.engine import Engine

from .conftest import INFO, PACK, Crew


def _runnable(crew: Crew, phase: int) -> set[tuple[str, str]]:
    result = crew.sweep(phase)
    return {(a.action, a.resource_id) for a in result.plan.runnable}


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (1, set()),
        (2, {("terminate", "c-idle"), ("add_tags", "c-notags")}),
        (3, {("terminate", "c-idle"), ("add_tags", "c-notags"), ("update_job_settings", "101")}),
        (
            4,
            {
                ("terminate", "c-idle"),
                ("add_tags", "c-notags"),
                ("update_job_settings", "101"),
                ("resize", "c-big"),
            },
        ),
    ],
)
def test_phase_gates(crew: Crew, phase: int, expected: set[tuple[str, str]]) -> None:
    assert _runnable(crew, phase) == expected


def test_skipped_actions_say_which_phase_they_need(crew: Crew) -> None:
    result = crew.sweep(2)
    resize = next(a for a in result.plan.actions if a.action == "resize")
    assert resize.status == "skipped" and "phase 2 < 4" in resize.reason


def test_blast_radius_refuses_the_whole_apply(crew: Crew) -> None:
    before = crew.state()
    with pytest.raises(SafetyRefusal, match="blast-radius limit of 1"):
        from lakecrew.services.crew.sweep import refuse_if_blocked

        refuse_if_blocked(crew.sweep(2, apply=True, max_actions=1, max_percent=100))
    assert crew.state() == before
    # percent limit: 2 actions over 6 evaluated resources at 20% -> limit 1
    result = crew.sweep(2, apply=True, max_actions=50, max_percent=20)
    assert result.refused and "20%" in result.refused and not result.applied
    assert crew.state() == before


def test_grace_period_marks_now_and_acts_after_n_hours(crew: Crew) -> None:
    grace = {"grace_hours": {"terminate": 4.0}, "max_percent": 100}
    first = crew.sweep(2, apply=True, **grace)
    pending = [a for a in first.plan.actions if a.action == "terminate"]
    assert pending[0].status == "pending" and pending[0].due_at == crew.clock.now() + timedelta(
        hours=4
    )
    assert crew.ws.get(ObjectKind.CLUSTER, "c-idle").data["state"] == "RUNNING"
    notes = crew.channel.read()
    assert any("WILL terminate clusters c-idle" in n.body for n in notes)
    crew.clock.advance(hours=2)
    second = crew.sweep(2, apply=True, **grace)
    assert next(a for a in second.plan.actions if a.action == "terminate").status == "pending"
    crew.clock.advance(hours=2, minutes=1)
    third = crew.sweep(2, apply=True, **grace)
    assert [a.action for a in third.applied] == ["terminate"]
    assert crew.ws.get(ObjectKind.CLUSTER, "c-idle").data["state"] == "TERMINATED"


def test_exemption_until_expiry(crew: Crew) -> None:
    crew.ledger.put_exemption(
        ExemptionRow(
            "cluster.idle",
            "c-idle",
            "training session",
            "dgb@x.example",
            crew.clock.now() + timedelta(hours=1),
            crew.clock.now(),
        )
    )
    result = crew.sweep(2)
    idle = next(tf for tf in result.findings if tf.finding.rule_id == "cluster.idle")
    assert idle.status == "exempted"
    term = next(a for a in result.plan.actions if a.action == "terminate")
    assert term.status == "skipped" and "exempted until" in term.reason
    crew.clock.advance(hours=1, minutes=1)
    later = crew.sweep(2)
    assert (
        next(tf for tf in later.findings if tf.finding.rule_id == "cluster.idle").status == "open"
    )
    assert ("terminate", "c-idle") in {(a.action, a.resource_id) for a in later.plan.runnable}


def test_never_terminates_a_cluster_that_runs_a_job(crew: Crew) -> None:
    snap = Observer(crew.clock).observe(crew.ws, INFO)
    busy = replace(snap, busy_clusters=frozenset({"c-idle"}))
    pol = PolicyStep(Engine(PACK)).run(busy, [], [], "s1")
    plan = build_plan(
        busy,
        pol.findings,
        pack=PACK,
        phase=4,
        history={},
        settings=CrewSettings(max_percent=100),
        evaluated=pol.evaluated,
    )
    term = next(a for a in plan.actions if a.action == "terminate")
    assert term.status == "skipped" and "running a job" in term.reason


def test_resize_only_on_running_clusters_and_no_edit_of_running_ones(crew: Crew) -> None:
    crew.ws.load(
        {
            ObjectKind.CLUSTER: [
                {**crew.ws.get(ObjectKind.CLUSTER, "c-big").data, "state": "TERMINATED"},
                {
                    **crew.ws.get(ObjectKind.CLUSTER, "c-ok").data,
                    "state": "RUNNING",
                    "autotermination_minutes": 0,
                    "last_activity_time": crew.ws.get(ObjectKind.CLUSTER, "c-big").data[
                        "last_activity_time"
                    ],
                },
            ]
        }
    )
    result = crew.sweep(4)
    by = {(a.action, a.resource_id): a for a in result.plan.actions}
    assert by[("resize", "c-big")].status == "skipped"
    assert "RUNNING" in by[("resize", "c-big")].reason
    assert by[("set_autotermination", "c-ok")].status == "skipped"
    assert "restarts" in by[("set_autotermination", "c-ok")].reason
