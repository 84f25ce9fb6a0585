"""`lakecrew govern|access … --workspace W` on a `backend: databricks` workspace: the CLI builds
the Unity Catalog adapter (real SDK, real HTTP, the replay server), applies the catalog actions
with their before-state and rolls them back in the same catalog; the access review reads the
grants per securable, last use from `system.access.audit` on the warehouse, and the group
members from SCIM (recorded-shape payloads), so a group grant resolves to people."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.databricks_project import WS, cli_env, project_yaml
from lakecrew.testing.databricks_replay import Call, DatabricksReplay, Request, error_body

from .test_catalog_databricks import STRING, TABLE, WID

FIXTURES = Path(__file__).parents[1] / "fixtures" / "databricks" / "scim"
NOW = "2026-11-20T10:00:00+00:00"
TABLE_PATH = "/api/2.1/unity-catalog/tables/main.sales.orders"
PERMS = "/api/2.1/unity-catalog/permissions"
USED = "2026-11-10T08:00:00.000+00:00"


def _project(tmp: Path, url: str) -> Path:
    root = tmp / "remote"
    root.mkdir()
    remote = f'    backend: databricks\n    warehouse_id: "{WID}"'
    text = project_yaml(url).replace("    backend: databricks", remote)
    text += "rollout:\n  phases: {dev: 3}\n"
    (root / "lakecrew.yaml").write_text(text)
    return root


class UnityCatalog:
    """One table in Unity Catalog behind real HTTP, in the REST shapes: `tables.get/list/update`
    (owner), `functions.get`, `permissions` get/PATCH, and the warehouse, whose DDL statements
    (SET/UNSET TAGS, CREATE FUNCTION, SET/DROP MASK) change that state; information_schema tag
    queries and the review's audit rollups are answered from it. Every statement is recorded."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.sent: list[str] = []
        self.tags: dict[str, str] = {}
        self.functions: dict[str, str] = {}
        self.grants: dict[tuple[str, str], set[str]] = {}  # (securable, principal) → privileges

    def __call__(self, req: Request) -> Any:
        p, m = req.path, req.method
        if m == "GET" and p == f"/api/2.0/sql/warehouses/{WID}":
            return _json({"id": WID, "state": "RUNNING"})
        if m == "POST" and p == "/api/2.0/sql/statements":
            return self._statement(req.body["statement"])
        if p == "/api/2.1/unity-catalog/tables" and m == "GET":
            return _json({"tables": [self.table]})
        if p == TABLE_PATH:
            if m == "PATCH":
                self.table["owner"] = req.body["owner"]
            return _json(self.table)
        if p.startswith("/api/2.1/unity-catalog/functions/"):
            name = p.rsplit("/", 1)[1]
            if name not in self.functions:
                return _json(error_body(404, "NOT_FOUND", "Routine not found"), 404)
            return _json({"full_name": name, "routine_definition": self.functions[name]})
        if p.startswith(PERMS + "/"):
            return self._permissions(req)
        return None

    def _permissions(self, req: Request) -> Any:
        securable = req.path.rsplit("/", 1)[1]
        if req.method == "PATCH":
            for ch in req.body["changes"]:
                held = self.grants.setdefault((securable, ch["principal"]), set())
                held |= set(ch.get("add") or [])
                held -= set(ch.get("remove") or [])
        wanted = req.query.get("principal", [None])[0]
        assignments = [
            {"principal": who, "privileges": sorted(privs)}
            for (name, who), privs in sorted(self.grants.items())
            if name == securable and privs and wanted in (None, who)
        ]
        return _json({"privilege_assignments": assignments})

    def _column(self, sql: str) -> dict[str, Any]:
        name = sql.split("ALTER COLUMN `", 1)[1].split("`", 1)[0]
        return next(c for c in self.table["columns"] if c["name"] == name)

    def _statement(self, sql: str) -> Any:
        self.sent.append(sql)
        if "table_tags" in sql:
            return _rows(["tag_name", "tag_value"], [list(kv) for kv in self.tags.items()])
        if "column_tags" in sql:
            return _rows(["column_name", "tag_name", "tag_value"], [["email", "pii", "phone"]])
        if "GROUPING SETS" in sql:  # the review's last use, rolled up to schema and catalog
            names = ("main.sales.orders", "main.sales", "main")
            rows = [[n, "kofi@moh.example", USED, "0"] for n in names]
            return _rows(["n", "p", "t", "anyone"], rows + [[n, None, USED, "1"] for n in names])
        if "SELECT DISTINCT lower(user_identity.email)" in sql:
            return _rows(["principal"], [["kofi@moh.example"]])
        inside = sql.split("(", 1)[1].rsplit(")", 1)[0] if "(" in sql else ""
        if sql.startswith("CREATE FUNCTION"):
            head = sql.split()[2].split("(", maxsplit=1)[0]
            name = ".".join(x.strip("`") for x in head.split("."))
            self.functions[name] = sql.split(" RETURN ", 1)[1]
        elif "ALTER COLUMN" in sql and " SET MASK " in sql:
            fn = sql.split(" SET MASK ", 1)[1].replace("`", "")
            self._column(sql)["mask"] = {"function_name": fn}
        elif "ALTER COLUMN" in sql and sql.endswith("DROP MASK"):
            self._column(sql).pop("mask", None)
        elif " UNSET TAGS " in sql:
            for k in inside.split(", "):
                self.tags.pop(k.strip("'"), None)
        elif " SET TAGS " in sql:
            for pair in inside.split(", "):
                k, v = (x.strip().strip("'") for x in pair.split(" = "))
                self.tags[k] = v
        return _rows([], [])


def _json(body: dict[str, Any], status: int = 200) -> Any:
    return status, {}, json.dumps(body).encode(), "application/json"


TYPES = {  # the warehouse's manifest types of the review's rollup (grouping() is a tinyint)
    "t": {"type_name": "TIMESTAMP", "type_text": "TIMESTAMP"},
    "anyone": {"type_name": "BYTE", "type_text": "TINYINT"},
}


def _rows(names: list[str], rows: list[list[Any]]) -> Any:
    cols = [{"name": n, "position": i, **TYPES.get(n, STRING)} for i, n in enumerate(names)]
    result = {"chunk_index": 0, "row_offset": 0, "row_count": len(rows), "data_array": rows}
    manifest = {"format": "JSON_ARRAY", "schema": {"column_count": len(cols), "columns": cols}}
    body = {"statement_id": "s1", "status": {"state": "SUCCEEDED"}, "manifest": manifest}
    return _json({**body, "result": result})


def _table() -> dict[str, Any]:
    t = copy.deepcopy(TABLE)
    t["owner"] = ""
    t["columns"][1].pop("mask")
    t["properties"] = {"owner": "data-eng", "classification": "restricted"}
    return t


def _run(env: dict[str, str], *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--output", "json"], env=env)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_govern_apply_on_unity_catalog_and_rollback(tmp_path: Path) -> None:
    """Registry-declared owner, classification and a PII column on an unowned table: owner via
    tables.update, SET TAGS, CREATE FUNCTION + SET MASK; each with its before-state, and the
    mask rolled back in the same catalog (`(catalog:W)` scope)."""
    uc = UnityCatalog(_table())
    with DatabricksReplay([], handlers=[uc]) as replay:
        env, root = cli_env(tmp_path), _project(tmp_path, replay.url)
        base = ("--workspace", WS, "--schema", "main.sales", "--project", str(root))
        plan = _run(env, "govern", "plan", *base)
        assert sorted(i["action"] for i in plan["items"]) == [
            "set_column_mask",
            "set_table_owner",
            "set_table_tags",
        ]
        done = _run(env, "govern", "apply", *base)["items"]
        assert {r["status"] for r in done} == {"applied"}, done
        assert uc.table["owner"] == "data-eng" and uc.tags == {"classification": "restricted"}
        assert uc.table["columns"][1]["mask"] == {"function_name": "lakecrew.masks.phone_partial"}
        again = _run(env, "govern", "plan", *base)["items"]
        assert again == []  # idempotent: the catalog is in the governed state
        mask = next(r for r in done if r["action"] == "set_column_mask")
        _run(env, "rollback", mask["action_id"], "--project", str(root))
        assert "mask" not in uc.table["columns"][1]
        patches = [r for r in replay.seen if r.method == "PATCH"]
    assert [r.body for r in patches] == [{"owner": "data-eng"}]
    alter = "ALTER TABLE `main`.`sales`.`orders`"
    assert f"{alter} SET TAGS ('classification' = 'restricted')" in uc.sent
    assert any(s.startswith("CREATE FUNCTION `lakecrew`.`masks`.`phone_partial`(value STRING)")
               for s in uc.sent)  # fmt: skip
    assert f"{alter} ALTER COLUMN `email` SET MASK `lakecrew`.`masks`.`phone_partial`" in uc.sent
    assert f"{alter} ALTER COLUMN `email` DROP MASK" in uc.sent


def _scim(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_access_grant_and_review_resolve_groups_to_people(tmp_path: Path) -> None:
    """`access grant --workspace` through grants.update; `access review --workspace` lists the
    grants per securable, last use from system.access.audit on the warehouse, and a group grant
    resolved to the people in it (SCIM, nested groups expanded): used through a member."""
    uc = UnityCatalog(_table())
    uc.grants[("main.sales.orders", "malaria-analysts")] = {"SELECT"}
    uc.grants[("main.sales.orders", "idle-readers")] = {"SELECT"}
    scim = "/api/2.0/preview/scim/v2/"
    calls = [
        Call("GET", scim + "Users", _scim("users.json"), query={"startIndex": "1"}),
        Call("GET", scim + "Users", {"Resources": []}, query={"startIndex": "4"}),
        Call("GET", scim + "Groups", _scim("groups.json"), query={"startIndex": "1"}),
        Call("GET", scim + "Groups", {"Resources": []}, query={"startIndex": "5"}),
    ]
    with DatabricksReplay(calls, handlers=[uc]) as replay:
        env, root = cli_env(tmp_path), _project(tmp_path, replay.url)
        base = ("--workspace", WS, "--project", str(root))
        grant = ("access", "grant", "amina@moh.example", "SELECT", "main.sales.orders")
        until = ("--until", "2026-12-01", "--reason", "audit", "--approver", "steward")
        [row] = _run(env, *grant, *until, "--now", NOW, *base)["items"]
        assert row["status"] == "applied"
        assert uc.grants[("main.sales.orders", "amina@moh.example")] == {"SELECT"}
        rev = _run(env, "access", "review", "--schema", "main.sales", "--now", NOW, *base)
        groups_query = replay.requests_to("GET", scim + "Groups")[0].query
    by = {g["principal"]: g for g in rev["items"]}
    analysts = by["malaria-analysts"]
    assert analysts["members"] == ["amina@moh.example", "kofi@moh.example"]
    assert analysts["last_used"].startswith("2026-11-10") and analysts["flags"] == []
    idle = by["idle-readers"]  # its one member never used the table: unused
    assert idle["members"] == ["james@moh.example"] and idle["flags"] == ["unused_90d"]
    assert "user_grant" in by["amina@moh.example"]["flags"]
    assert groups_query["attributes"] == ["id,displayName,members"]
    assert any("1 member id(s) are no known user" in n for n in rev["meta"]["notes"])


def test_the_estate_sweep_revokes_expired_uc_grants_and_rollback_restores_one(
    tmp_path: Path,
) -> None:
    """The whole-estate sweep's expiry step on a databricks workspace's Unity Catalog: the
    ledger's `(access:W)` grants past their `--until` — on a table and on a schema — are
    revoked by grants.update with a `remove` on their own securable (before-state: held), the
    principal's other privilege untouched, and `lakecrew rollback` adds exactly that
    privilege back."""
    from lakecrew.ports.clock import FixedClock
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.governance import revoke_expired_everywhere

    uc = UnityCatalog(_table())
    held = ("main.sales.orders", "kofi@moh.example")
    uc.grants[held] = {"MODIFY"}
    with DatabricksReplay([], handlers=[uc]) as replay:
        env, root = cli_env(tmp_path), _project(tmp_path, replay.url)
        until = ("--until", "2026-11-25", "--reason", "audit", "--approver", "steward")
        where = ("--now", NOW, "--workspace", WS, "--project", str(root))
        for privilege, securable in (("SELECT", "main.sales.orders"), ("USE_SCHEMA", "main.sales")):
            _run(env, "access", "grant", "kofi@moh.example", privilege, securable, *until, *where)
        later = FixedClock(datetime.fromisoformat("2026-11-26T00:00:00+00:00"))
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            with Context.open(root, writable=True, clock=later) as ctx:
                lines = revoke_expired_everywhere(ctx)
                again = revoke_expired_everywhere(ctx)  # revoked: nothing expired is left
                rows = {json.loads(a.target_json)["securable"]: a
                        for a in ctx.ledger.actions(f"(access:{WS})")
                        if a.action == "revoke_expired_grant"}  # fmt: skip
        assert uc.grants[held] == {"MODIFY"}
        assert uc.grants[("main.sales", "kofi@moh.example")] == set()
        _run(env, "rollback", rows["main.sales.orders"].action_id, "--project", str(root))
        assert uc.grants[held] == {"MODIFY", "SELECT"}
        patches = [(r.path.rsplit("/", 2)[1:], r.body) for r in replay.seen if r.method == "PATCH"]
    assert lines == [f"expired temporary grants in Unity Catalog of {WS}: 2 applied"]
    assert again == []
    assert sorted(rows) == ["main.sales", "main.sales.orders"]
    assert all(r.status == "applied" and json.loads(r.before_json)["held"] for r in rows.values())

    def change(verb: str, privilege: str) -> dict[str, Any]:
        return {"changes": [{"principal": "kofi@moh.example", verb: [privilege]}]}

    table, schema = ["TABLE", "main.sales.orders"], ["SCHEMA", "main.sales"]
    assert patches[:2] == [(table, change("add", "SELECT")), (schema, change("add", "USE_SCHEMA"))]
    assert sorted(map(str, patches[2:4])) == sorted(  # expired: both revoked
        map(str, [(table, change("remove", "SELECT")), (schema, change("remove", "USE_SCHEMA"))])
    )
    assert patches[4:] == [(table, change("add", "SELECT"))]  # rollback
