"""Unity Catalog enforcement on the local metastore: plan by phase, apply with before-state,
rollback, a mask function that exists with another body, a table dropped before the apply,
and an intent a crash left."""

from __future__ import annotations

from dataclasses import replace

from lakecrew.core.column_masks import MASK_FUNCTIONS, PHONE_PARTIAL, REDACT
from lakecrew.ports.catalog import FunctionDef
from lakecrew.services.governance.desired import CommentProposal, TableWant
from lakecrew.services.governance.enforce import apply_plan, plan_enforcement
from lakecrew.services.governance.executor import CATALOG_SCOPE
from lakecrew.services.governance.masks import mask_for, mask_name_for_kind

from .conftest import TABLE, Gov

SPEC = TableWant(
    TABLE,
    "pipeline lassa",
    owner="lassa-surveillance",
    tags={"classification": "Restricted", "steward": "lassa-steward"},
    pii={"patient_phone": "phone", "dob": "dob"},
)


def _plan(gov: Gov, phase: int, proposals: tuple[CommentProposal, ...] = ()):  # type: ignore[no-untyped-def]
    return plan_enforcement(gov.uc, {TABLE: SPEC}, proposals, phase_of=lambda _: phase)


def test_kind_to_mask_table_matches_the_local_engine() -> None:
    phone = mask_for("phone", "string")
    assert (phone.full_name, phone.body) == (PHONE_PARTIAL, MASK_FUNCTIONS[PHONE_PARTIAL].body)
    assert mask_name_for_kind("not-a-kind") == REDACT  # unknown kinds fail closed
    assert mask_name_for_kind("phone,email") == REDACT
    dob = mask_for("dob", "date")  # typed redact: the local engine redacts unknown names too
    assert dob.full_name == f"{REDACT}_date" and dob.param_type == "DATE"


def test_below_phase_3_nothing_is_runnable(gov: Gov) -> None:
    plan = _plan(gov, 2)
    assert {a.action for a in plan.actions} == {
        "set_table_owner",
        "set_table_tags",
        "set_column_mask",
    }
    assert plan.runnable == [] and all("phase 2 < 3" in a.reason for a in plan.actions)


def test_apply_then_rollback_restores_every_before_state(gov: Gov) -> None:
    proposal = CommentProposal(
        table=TABLE, comment="Raw Lassa case reports", proposed_by="bot", approved_by="steward"
    )
    pending = CommentProposal(table=TABLE, column="state", comment="x", proposed_by="bot")
    plan = _plan(gov, 3, (proposal, pending))
    assert any("awaits a steward" in n for n in plan.notes)
    done = apply_plan(plan, gov.ex, "run1")
    assert {r.status for r in done.applied} == {"applied"}
    info = gov.ms.get_table(TABLE)
    assert info.owner == "lassa-surveillance" and info.comment == "Raw Lassa case reports"
    assert info.tags["classification"] == "Restricted"
    assert info.column("patient_phone").mask == PHONE_PARTIAL  # type: ignore[union-attr]
    assert info.column("dob").mask == f"{REDACT}_date"  # type: ignore[union-attr]
    fn = gov.ms.get_function(PHONE_PARTIAL)
    assert fn is not None and fn.body == MASK_FUNCTIONS[PHONE_PARTIAL].body
    assert _plan(gov, 3).actions == ()  # idempotent: nothing left to do
    for row in done.applied:
        assert gov.ex.rollback(row).status == "rolled_back"
    back = gov.ms.get_table(TABLE)
    assert back.owner == "" and back.tags == {} and not back.comment
    assert all(c.mask is None for c in back.columns)
    history = gov.ledger.actions(CATALOG_SCOPE)
    assert {r.status for r in history} == {"rolled_back"}


def test_a_mask_function_with_another_body_is_refused_not_replaced(gov: Gov) -> None:
    gov.ms.create_function(FunctionDef(PHONE_PARTIAL, "concat('x', value)"))
    done = apply_plan(_plan(gov, 3), gov.ex, "run1")
    by_action = {(r.action, r.resource_id): r for r in done.applied}
    failed = by_action[("set_column_mask", f"{TABLE}#patient_phone")]
    assert failed.status == "failed" and "already exists with another body" in failed.reason
    assert by_action[("set_table_owner", TABLE)].status == "applied"  # the rest still applied
    assert gov.ms.get_function(PHONE_PARTIAL).body == "concat('x', value)"  # type: ignore[union-attr]
    assert gov.ms.get_table(TABLE).column("patient_phone").mask is None  # type: ignore[union-attr]


def test_a_table_dropped_before_the_apply_is_skipped(gov: Gov) -> None:
    plan = _plan(gov, 3)
    gov.ms.drop_table(TABLE)
    done = apply_plan(plan, gov.ex, "run1")
    assert {r.status for r in done.applied} == {"skipped"}
    assert all("cannot read it" in r.reason for r in done.applied)


def test_an_interrupted_intent_is_settled_from_the_live_state(gov: Gov) -> None:
    pa = next(a for a in _plan(gov, 3).runnable if a.action == "set_table_owner")
    intent = pa.row(
        "run1", CATALOG_SCOPE, gov.clock.now(), status="intent", before_json='{"owner":""}'
    )
    gov.ledger.record_action(intent)  # killed before the call
    (again,) = gov.ex.reconcile([intent])
    assert again.status == "planned"
    gov.ms.update_table(TABLE, owner="lassa-surveillance")  # killed after the call
    (done,) = gov.ex.reconcile([replace(intent, status="intent")])
    assert done.status == "applied"
