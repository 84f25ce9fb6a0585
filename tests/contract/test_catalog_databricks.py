"""DatabricksCatalog over the replay server: SDK reads, tags via information_schema SQL,
changes through SQL with quoted identifiers, grants with plain-string securable types."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lakecrew.adapters.databricks.catalog import DatabricksCatalog
from lakecrew.adapters.databricks.client import build_client
from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
from lakecrew.core.errors import PermissionDenied, UsageError
from lakecrew.ports.catalog import Grant, LineageEdge
from lakecrew.testing.databricks_replay import (
    TOKEN,
    Call,
    DatabricksReplay,
    Request,
    VirtualClock,
)

from .conftest import OPTIONS

WID = "1a2b3c4d5e6f7a8b"
TABLE = {
    "full_name": "main.sales.orders",
    "catalog_name": "main",
    "schema_name": "sales",
    "name": "orders",
    "owner": "data-eng",
    "table_type": "MANAGED",
    "data_source_format": "DELTA",
    "comment": "orders",
    "columns": [
        {
            "name": "id",
            "type_text": "bigint",
            "type_name": "LONG",
            "position": 0,
            "nullable": False,
        },
        {
            "name": "email",
            "type_text": "string",
            "type_name": "STRING",
            "position": 1,
            "nullable": True,
            "mask": {"function_name": "main.gov.mask_email", "using_column_names": ["id"]},
        },
    ],
}
STRING = {"type_name": "STRING", "type_text": "STRING"}


def _statements(req: Request) -> Any:
    """Answers information_schema tag queries; every other statement succeeds empty."""
    if req.method == "GET" and req.path == f"/api/2.0/sql/warehouses/{WID}":
        return 200, {}, json.dumps({"id": WID, "state": "RUNNING"}).encode(), "application/json"
    if req.method != "POST" or req.path != "/api/2.0/sql/statements":
        return None
    sql = req.body["statement"]
    names, rows = [], []
    if "table_tags" in sql:
        names, rows = ["tag_name", "tag_value"], [["team", "fin"]]
    elif "column_tags" in sql:
        names, rows = ["column_name", "tag_name", "tag_value"], [["email", "pii", "email"]]
    cols = [{"name": n, "position": i, **STRING} for i, n in enumerate(names)]
    body = {
        "statement_id": f"s{len(sql)}",
        "status": {"state": "SUCCEEDED"},
        "manifest": {
            "format": "JSON_ARRAY",
            "schema": {"column_count": len(cols), "columns": cols},
        },
        "result": {"chunk_index": 0, "row_offset": 0, "row_count": len(rows), "data_array": rows},
    }
    return 200, {}, json.dumps(body).encode(), "application/json"


def _catalog(replay: DatabricksReplay) -> DatabricksCatalog:
    client = build_client(host=replay.url, token=TOKEN, options=OPTIONS, clock=VirtualClock())
    return DatabricksCatalog(client, DatabricksSqlEngine(client, WID))


def test_table_with_tags_masks_and_sql_changes() -> None:
    calls = [Call("GET", "/api/2.1/unity-catalog/tables/main.sales.orders", TABLE)]
    with DatabricksReplay(calls, handlers=[_statements]) as replay:
        cat = _catalog(replay)
        info = cat.get_table("MAIN.sales.orders")
        cat.set_tags("main.sales.orders", {"class": "it's restricted"}, column="email", merge=False)
        cat.update_table("main.sales.orders", comment="orders; v2")
        sent = [r.body["statement"] for r in replay.requests_to("POST", "/api/2.0/sql/statements")]
    assert info.owner == "data-eng" and info.tags == {"team": "fin"}
    email = info.column("email")
    assert email is not None and email.tags == {"pii": "email"}
    assert (email.mask, email.mask_using) == ("main.gov.mask_email", ("id",))
    assert "WHERE schema_name = :s AND table_name = :t" in sent[0]
    assert "ALTER TABLE `main`.`sales`.`orders` ALTER COLUMN `email` UNSET TAGS ('pii')" in sent
    assert (
        "ALTER TABLE `main`.`sales`.`orders` ALTER COLUMN `email` "
        "SET TAGS ('class' = 'it\\'s restricted')" in sent
    )
    assert "COMMENT ON TABLE `main`.`sales`.`orders` IS 'orders; v2'" in sent


def test_grants_use_plain_string_securable_types() -> None:
    got = {"privilege_assignments": [{"principal": "analysts", "privileges": ["SELECT"]}]}
    calls = [
        Call("GET", "/api/2.1/unity-catalog/permissions/TABLE/main.sales.orders", got),
        Call(
            "PATCH",
            "/api/2.1/unity-catalog/permissions/TABLE/main.sales.orders",
            {},
            expect={"changes": [{"principal": "analysts", "remove": ["SELECT"]}]},
        ),
        Call(
            "PATCH",
            "/api/2.1/unity-catalog/permissions/SCHEMA/main.sales",
            {},
            status=403,
            query={},
        ),
    ]
    with DatabricksReplay(calls, handlers=[_statements]) as replay:
        cat = _catalog(replay)
        [g] = cat.list_grants("main.sales.orders")
        assert (g.principal, g.privilege, g.securable_type) == ("analysts", "SELECT", "TABLE")
        assert cat.revoke("analysts", "select", "TABLE", "main.sales.orders") is True
        with pytest.raises(PermissionDenied, match="MANAGE on the securable"):
            cat.grant(Grant("analysts", "USE_SCHEMA", "SCHEMA", "main.sales"))
        with pytest.raises(UsageError, match="records lineage itself"):
            cat.record(LineageEdge("main.a.b", "main.a.c"))
