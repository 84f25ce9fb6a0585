"""The Unity Catalog actions through DatabricksCatalog over the replay server (the real SDK,
real HTTP): a mask function created then attached and rolled back, a mask function that exists
with another body refused, a temporary grant through `grants.update`, and an expired grant on
a securable that no longer exists recorded as skipped, not failed."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from lakecrew.adapters.databricks.catalog import DatabricksCatalog
from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
from lakecrew.core.column_masks import MASK_FUNCTIONS, PHONE_PARTIAL
from lakecrew.ports.clock import FixedClock
from lakecrew.services.governance.access import (
    ExpiredGrant,
    checked_request,
    grant_temporary,
    revoke_expired,
)
from lakecrew.services.governance.desired import TableWant
from lakecrew.services.governance.enforce import apply_plan, plan_enforcement
from lakecrew.services.governance.executor import CatalogExecutor
from lakecrew.services.policy.actions.catalog_base import UcPorts
from lakecrew.testing.databricks_replay import Call, DatabricksReplay, error_body

from .test_catalog_databricks import TABLE, _catalog, _statements

T0 = datetime(2026, 11, 20, tzinfo=UTC)
PATH = "/api/2.1/unity-catalog/tables/main.sales.orders"
FN = "/api/2.1/unity-catalog/functions/lakecrew.masks.phone_partial"
PERMS = "/api/2.1/unity-catalog/permissions/TABLE/main.sales.orders"
WANT = TableWant(
    "main.sales.orders",
    "pipeline sales",
    owner="data-eng",
    tags={"team": "fin"},
    pii={"email": "phone"},
)


def _table(masked: bool) -> dict[str, Any]:
    t = copy.deepcopy(TABLE)
    t["columns"][1].pop("mask")
    if masked:
        t["columns"][1]["mask"] = {"function_name": PHONE_PARTIAL}
    return t


LIST = Call("GET", "/api/2.1/unity-catalog/tables", {"tables": [_table(False)]})


def _executor(cat: DatabricksCatalog, tmp: Any) -> CatalogExecutor:
    ledger = DeltaLedgerStore(DeltaStore(tmp / "lakehouse"))
    return CatalogExecutor(UcPorts(cat, cat, cat), ledger, FixedClock(T0))


def _sent(replay: DatabricksReplay) -> list[str]:
    return [r.body["statement"] for r in replay.requests_to("POST", "/api/2.0/sql/statements")]


def test_mask_function_created_attached_and_rolled_back(tmp_path: Any) -> None:
    calls = [
        LIST,
        Call("GET", PATH, _table(False)),
        Call("GET", PATH, _table(True)),
        Call("GET", FN, error_body(404, "NOT_FOUND", "Routine not found"), status=404),
    ]
    with DatabricksReplay(calls, handlers=[_statements]) as replay:
        cat = _catalog(replay)
        ex = _executor(cat, tmp_path)
        plan = plan_enforcement(
            ex.uc,
            {"main.sales.orders": WANT},
            (),
            phase_of=lambda _: 3,
            schemas=[("main", "sales")],
        )
        (pa,) = [a for a in plan.actions if a.action == "set_column_mask"]
        done = apply_plan(type(plan)((pa,)), ex, "r1")
        (row,) = done.applied
        assert row.status == "applied", row.reason
        assert ex.rollback(row).status == "rolled_back"
        sent = _sent(replay)
    body = MASK_FUNCTIONS[PHONE_PARTIAL].body
    create = next(s for s in sent if s.startswith("CREATE FUNCTION"))
    assert create.startswith(
        "CREATE FUNCTION `lakecrew`.`masks`.`phone_partial`(value STRING) RETURNS STRING"
    )
    assert create.endswith(f"RETURN {body}")  # the body the local engine applies on read
    alter = "ALTER TABLE `main`.`sales`.`orders` ALTER COLUMN `email`"
    assert f"{alter} SET MASK `lakecrew`.`masks`.`phone_partial`" in sent
    assert f"{alter} DROP MASK" in sent


def test_a_mask_function_with_another_body_is_refused(tmp_path: Any) -> None:
    other = {
        "full_name": "lakecrew.masks.phone_partial",
        "routine_definition": "'***'",
        "input_params": {
            "parameters": [
                {"name": "value", "type_text": "string", "type_name": "STRING", "position": 0}
            ]
        },
    }
    calls = [LIST, Call("GET", PATH, _table(False)), Call("GET", FN, other)]
    with DatabricksReplay(calls, handlers=[_statements]) as replay:
        ex = _executor(_catalog(replay), tmp_path)
        plan = plan_enforcement(
            ex.uc,
            {"main.sales.orders": WANT},
            (),
            phase_of=lambda _: 3,
            schemas=[("main", "sales")],
        )
        (pa,) = [a for a in plan.actions if a.action == "set_column_mask"]
        (row,) = apply_plan(type(plan)((pa,)), ex, "r1").applied
        sent = _sent(replay)
    assert row.status == "failed" and "already exists with another body" in row.reason
    assert not any(s.startswith(("CREATE FUNCTION", "ALTER TABLE")) for s in sent)


def test_temporary_grant_and_an_expired_grant_on_a_dropped_table(tmp_path: Any) -> None:
    held = {"privilege_assignments": [{"principal": "amina@moh.example", "privileges": ["SELECT"]}]}
    change = {"changes": [{"principal": "amina@moh.example", "add": ["SELECT"]}]}
    calls = [
        Call("GET", PERMS, {}),
        Call("GET", PATH, _table(False)),  # the table exists: then it is granted
        Call("GET", PERMS, held),
        Call("PATCH", PERMS, {}, expect=change),
        Call(
            "GET",
            "/api/2.1/unity-catalog/permissions/TABLE/main.sales.dropped",
            error_body(404, "TABLE_DOES_NOT_EXIST", "Table does not exist"),
            status=404,
        ),
    ]
    with DatabricksReplay(calls, handlers=[_statements]) as replay:
        ex = _executor(_catalog(replay), tmp_path)
        req = checked_request(
            "amina@moh.example",
            "SELECT",
            "main.sales.orders",
            T0 + timedelta(days=7),
            "audit",
            "steward",
            now=T0,
        )
        row = grant_temporary(req, ex, "g1")
        gone = ExpiredGrant(
            "old@moh.example",
            "SELECT",
            "TABLE",
            "main.sales.dropped",
            T0 - timedelta(days=1),
            "steward",
            "ledger",
        )
        (revoked,) = revoke_expired([gone], ex, "s1", phase=3, apply=True).rows
        patches = replay.requests_to("PATCH", PERMS)
    assert row.status == "applied" and len(patches) == 1
    assert revoked.status == "skipped" and revoked.reason == "already in the target state"
