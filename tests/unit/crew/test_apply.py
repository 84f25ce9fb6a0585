"""Apply, re-run, rollback, verify, and crash reconciliation on a real LocalWorkspace."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lakecrew.core.errors import Conflict, SafetyRefusal
from lakecrew.ports.ledger import ActionRow
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.executor import Executor
from lakecrew.services.crew.plan import canonical
from lakecrew.services.crew.service import CrewService

from .conftest import Crew


def test_phase_1_apply_changes_nothing(crew: Crew) -> None:
    before = crew.state()
    result = crew.sweep(1, apply=True)
    assert result.findings and not result.applied and not result.plan.runnable
    assert crew.state() == before


def test_phase_2_apply_acts_only_on_tags_and_idle_clusters(crew: Crew) -> None:
    before = crew.state()
    result = crew.sweep(2, apply=True)
    assert sorted((a.action, a.resource_id) for a in result.applied) == [
        ("add_tags", "c-notags"),
        ("terminate", "c-idle"),
    ]
    after = crew.state()
    changed = {(k, i) for k in after for i in after[k] if after[k][i] != before[k].get(i)}
    assert changed == {("clusters", "c-idle"), ("clusters", "c-notags")}
    tags = after["clusters"]["c-notags"]["custom_tags"]
    assert tags == {
        "cost_center": "Health",
        "environment": "dev",
        "project": "malaria",
        "owner": "creator@x.example",
    }  # inventory value + resolved owner
    assert after["clusters"]["c-idle"]["state"] == "TERMINATED"
    rows = {r.action_id: r for r in crew.ledger.actions()}
    for a in result.applied:
        assert (
            json.loads(rows[a.action_id].before_json or "{}") == before["clusters"][a.resource_id]
        )


def test_rerun_applies_nothing_new_and_verifies(crew: Crew) -> None:
    first = crew.sweep(2, apply=True)
    second = crew.sweep(2, apply=True)
    assert not second.applied and not second.plan.runnable
    assert {tf.finding.rule_id for tf in second.findings}.isdisjoint(
        {"cluster.idle", "cluster.tags_missing"}
    )
    rows = {r.action_id: r for r in crew.ledger.actions()}
    assert all(rows[a.action_id].verified_at is not None for a in first.applied)
    resolved = {r.rule_id for r in crew.ledger.findings() if r.status == "resolved"}
    assert {"cluster.idle", "cluster.tags_missing"} <= resolved


def test_rollback_restores_the_before_state_exactly(crew: Crew) -> None:
    before = crew.state()
    result = crew.sweep(2, apply=True)
    svc = CrewService(crew.deps())
    for a in result.applied:
        row = svc.rollback(svc.action(a.action_id[:8]), crew.ws)
        assert row.status == "rolled_back"
    assert crew.state() == before
    # a rolled-back fix is not silently re-applied by the next sweep
    again = crew.sweep(2, apply=True)
    assert not again.applied
    assert all(
        "rolled back" in a.reason
        for a in again.plan.actions
        if a.action != "resize"
        and a.status == "skipped"
        and a.resource_id in ("c-idle", "c-notags")
    )


def test_rollback_refuses_when_the_object_changed_since(crew: Crew) -> None:
    result = crew.sweep(2, apply=True)
    tag = next(a for a in result.applied if a.action == "add_tags")
    crew.ws.set_tags(ObjectKind.CLUSTER, "c-notags", {"team": "other"})
    svc = CrewService(crew.deps())
    with pytest.raises(SafetyRefusal, match="changed after the action"):
        svc.rollback(svc.action(tag.action_id), crew.ws)
    assert svc.rollback(svc.action(tag.action_id), crew.ws, force=True).status == "rolled_back"


def test_rollback_is_refused_while_a_sweep_holds_the_lock(crew: Crew) -> None:
    result = crew.sweep(2, apply=True)
    svc = CrewService(crew.deps())
    with crew.locks.acquire("malaria-dev-westafrica"), pytest.raises(Conflict, match="pid"):
        svc.rollback(svc.action(result.applied[0].action_id), crew.ws)


def _intent_of(crew: Crew, action: str) -> tuple[Executor, ActionRow]:
    """Plan at phase 2 and leave one action at 'intent' as a crash would."""
    result = crew.sweep(2)
    pa = next(a for a in result.plan.actions if a.action == action)
    live = crew.ws.get(ObjectKind(pa.kind), pa.resource_id).data
    row = pa.row(
        "crashed",
        "malaria-dev-westafrica",
        crew.clock.now(),
        status="intent",
        before_json=canonical(dict(live)),
    )
    crew.ledger.record_action(row)
    return Executor(crew.ws, crew.ledger, crew.clock), row


def test_reconcile_intent_whose_call_completed_marks_it_applied(crew: Crew) -> None:
    ex, row = _intent_of(crew, "terminate")
    crew.ws.terminate("c-idle")  # the call happened; the process died before recording it
    [fixed] = ex.reconcile([row])
    assert fixed.status == "applied" and fixed.after_json
    result = crew.sweep(2, apply=True)
    assert "terminate" not in [a.action for a in result.applied]


def test_reconcile_intent_whose_call_never_happened_applies_once(crew: Crew) -> None:
    _intent_of(crew, "terminate")
    result = crew.sweep(2, apply=True)
    assert [a.action for a in result.reconciled] == ["terminate"]
    assert result.reconciled[0].status == "planned"
    assert sorted(a.action for a in result.applied) == ["add_tags", "terminate"]
    audit = [r for r in crew.ws._audit_sink.rows if r["action_name"] == "delete"]  # type: ignore[attr-defined]
    assert len(audit) == 1  # terminated exactly once


def test_reconcile_intent_on_an_object_changed_by_someone_else_fails_clearly(crew: Crew) -> None:
    ex, row = _intent_of(crew, "add_tags")
    crew.ws.set_tags(ObjectKind.CLUSTER, "c-notags", {"team": "data"})
    [fixed] = ex.reconcile([row])
    assert fixed.status == "failed" and fixed.reason.startswith("reconcile:")
    result = crew.sweep(2, apply=True)
    tag = next(a for a in result.plan.actions if a.action == "add_tags")
    assert tag.status == "skipped" and "needs a human" in tag.reason
    assert "add_tags" not in [a.action for a in result.applied]


def test_interrupted_rollback_is_finished_by_reconcile(crew: Crew) -> None:
    before = crew.state()
    result = crew.sweep(2, apply=True)
    rows = {r.action_id: r for r in crew.ledger.actions()}
    ex = Executor(crew.ws, crew.ledger, crew.clock)
    pending = [replace(rows[a.action_id], status="rolling_back") for a in result.applied]
    for p in pending:
        crew.ledger.record_action(p)
    assert {r.status for r in ex.reconcile(pending)} == {"rolled_back"}
    assert crew.state() == before
