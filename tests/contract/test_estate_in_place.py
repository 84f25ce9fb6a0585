"""The estate scope of a `backend: databricks` project reads Unity Catalog in place (no import).

With a databricks workspace that has a `warehouse_id`, the whole-estate sweep lists the tables
through the UC REST API (`catalogs.list` → `schemas.list` → `tables.list`, the real SDK over
real HTTP) and reads their tags and grants from `system.information_schema` on the warehouse;
budgets and unregistered workspaces come from the account's system tables there. The replay
server answers all of it from the seed-7 project (`lakecrew.testing.duck_warehouse`), so the
governance and cost findings of the remote estate scope must equal the local ones, while the
new project holds no table at all. A catalog the identity may not list is a gap (table rules
unseen, exit 1); a missing system table is a note naming what it hides.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.core.errors import Transient
from lakecrew.faces.cli.main import app
from lakecrew.ports.catalog import Grant
from lakecrew.ports.clock import FixedClock
from lakecrew.services.crew.sweep import raise_if_partial
from lakecrew.testing.crew import ground_truth
from lakecrew.testing.databricks_project import cli_env
from lakecrew.testing.databricks_replay import Request, error_body
from lakecrew.wiring.context import Context
from lakecrew.wiring.crew import estate_inventory, estate_owner

from .test_billing_in_place import remote_copies

COMPARED = ("table.", "grant.", "budget.", "workspace.")  # sla.* reads the project's own runs


def _estate(root: Path, env: dict[str, str] | None, now: str) -> tuple[int, dict[str, Any]]:
    """The estate scope's sweep alone (the crew's own entry point, as `lakecrew sweep` runs it
    after the workspaces), and the exit code `lakecrew sweep` gives for it."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        clock = FixedClock(datetime.fromisoformat(now))
        with Context.open(root, writable=True, clock=clock) as ctx:
            [result] = ctx.crew.sweep(
                [], apply=False, estate=estate_inventory(ctx), estate_owner=estate_owner(ctx)
            )
    try:
        raise_if_partial([result])
    except Transient:
        return 1, result.as_dict()
    return 0, result.as_dict()


def _compliance(root: Path, env: dict[str, str] | None, now: str) -> dict[str, Any]:
    args = ["compliance", "report", "--month", now[:7], "--now", now, "--project", str(root)]
    result = CliRunner().invoke(app, [*args, "--output", "json"], env=env or {})
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)["items"][0]
    return report


def _keys(estate: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (f["rule"], f["resource_id"]) for f in estate["findings"] if f["rule"].startswith(COMPARED)
    )


def _forbidden(req: Request) -> Any:
    """`catalogs.list` refused: the identity may not browse the metastore."""
    if req.method == "GET" and req.path == "/api/2.1/unity-catalog/catalogs":
        body = error_body(403, "PERMISSION_DENIED", "User does not have USE CATALOG")
        return 403, {}, json.dumps(body).encode(), "application/json"
    return None


def _catalog_and_schema_grants(root: Path, now: str) -> list[Grant]:
    """Grants above the tables (the simulator grants on tables only): a catalog's USE CATALOG,
    a schema's USE SCHEMA and SELECT, and a temporary schema grant already past its expiry."""
    at = datetime.fromisoformat(now)
    with Context.open(root, writable=True) as ctx:
        cat = sorted(
            {t.catalog_name for t in ctx.metastore.list_tables()} - {"system", "lakecrew"}
        )[0]
        schema = sorted(t.schema_name for t in ctx.metastore.list_tables(cat))[0]
        made = [
            Grant("data-readers", "USE_CATALOG", "CATALOG", cat),
            Grant("data-readers", "USE_SCHEMA", "SCHEMA", f"{cat}.{schema}"),
            Grant("epi-analysts", "SELECT", "SCHEMA", f"{cat}.{schema}"),
            Grant("visitor@moh.example", "SELECT", "SCHEMA", f"{cat}.{schema}",
                  expires_at=at - timedelta(days=1)),
        ]  # fmt: skip
        for g in made:
            ctx.metastore.grant(g)
    return made


@pytest.fixture(scope="module")
def both(seed7_project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = seed7_project
    now = ground_truth(root)["now"]
    out: dict[str, Any] = {"above_tables": _catalog_and_schema_grants(root, now)}
    out["local"] = _estate(root, None, now)
    out["local_compliance"] = _compliance(root, None, now)
    with Context.open(root) as ctx:  # the views hide grants past expiry by the wall clock
        held = ctx.metastore.list_grants()
    out["hidden_grants"] = Counter(g.securable_name.split(".")[0] for g in held if g.expired)
    out["table_grants"] = Counter(
        g.securable_name.split(".")[0]
        for g in held
        if g.securable_type == "TABLE" and not g.expired
    )
    tmp = tmp_path_factory.mktemp("estate-remote")
    for name, remote, replay in remote_copies(root, tmp, {"remote": [], "forbidden": [_forbidden]}):
        out[name] = _estate(remote, cli_env(tmp), now)
        if name == "remote":  # the monthly report reads the same Unity Catalog
            out["compliance"] = _compliance(remote, cli_env(tmp), now)
        out[f"{name}_requests"] = [(r.method, r.path) for r in replay.seen]
        registered = remote / ".lakecrew" / "lakehouse"
        out[f"{name}_tables"] = sorted(
            tuple(p.relative_to(registered).parts) for p in registered.glob("*/*/*")
        )
    return out


def test_governance_and_cost_findings_equal_the_local_estate(both: dict[str, Any]) -> None:
    (_, local), (_, remote) = both["local"], both["remote"]
    rules = {k[0] for k in _keys(remote)}
    # not an empty scope that happens to match: tables, grants and budgets were judged
    assert {"table.classification_missing", "budget.exceeded"} <= rules, rules
    assert _keys(remote) == _keys(local)
    assert remote["notes"][0].startswith("tables and grants read from Unity Catalog of ")
    assert not remote["gaps"]
    # nothing was imported: the databricks project holds only lakecrew's and system's tables
    assert {c for c, _, _ in both["remote_tables"]} <= {"lakecrew", "system"}


def test_requests_grow_with_schemas_not_tables(both: dict[str, Any]) -> None:
    requests = both["remote_requests"]
    uc = [p for m, p in requests if p.startswith("/api/2.1/unity-catalog/")]
    assert not [p for p in uc if p.startswith("/api/2.1/unity-catalog/tables/")]  # no per-table get
    assert not [p for p in uc if "/permissions/" in p]  # grants in one statement, not per table
    schemas = uc.count("/api/2.1/unity-catalog/schemas")
    assert uc.count("/api/2.1/unity-catalog/tables") >= schemas >= 1


def test_a_catalog_that_cannot_be_listed_is_a_gap_not_a_clean_estate(
    both: dict[str, Any],
) -> None:
    code, estate = both["forbidden"]
    assert code == 1  # partial: never a silent exit 0 with no table read
    [gap] = estate["gaps"]
    assert gap["kind"] == "tables" and gap["cause"] == "permission"
    assert "catalogs.list" in gap["reason"]
    assert "table.classification_missing" in gap["unseen_rules"]
    assert not [f for f in estate["findings"] if f["rule"].startswith("table.")]


def test_the_compliance_report_reads_unity_catalog_in_place(both: dict[str, Any]) -> None:
    """`lakecrew compliance report` of the databricks project: the catalog figures (tables
    classified, with owner and steward, PII columns masked, grants) of the Unity Catalog read
    through the warehouse equal those of the same catalog read locally."""
    local, remote = both["local_compliance"], both["compliance"]

    def figures(report: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in c.items() if not k.startswith("grants")}
                for c in report["catalogs"]]  # fmt: skip

    assert figures(remote) == figures(local)
    # grants: UC's direct catalog, schema and table privileges (here the local views, which
    # leave out grants past their expiry by the wall clock) against every grant the metastore
    # holds — a schema grant counted once, not once per table of the schema
    hidden = both["hidden_grants"]
    assert [c["grants"] + hidden[c["catalog"]] for c in remote["catalogs"]] == [
        c["grants"] for c in local["catalogs"]
    ]
    above = both["above_tables"]
    cat = above[0].securable_name
    [figures_of_cat] = [c for c in remote["catalogs"] if c["catalog"] == cat]
    live_above = [g for g in above if g.expires_at is None]
    assert (
        figures_of_cat["grants"]
        == both["table_grants"][cat] + len(live_above)
        == 3 + (both["table_grants"][cat])
    )
    assert hidden[cat] >= 1  # the expired temporary schema grant: held locally, not effective
    assert {"tables", "classified", "pii_columns", "grants"} <= {
        k for c in remote["catalogs"] for k, v in c.items() if v
    }  # not an empty catalog that happens to match
    assert remote["notes"][0].startswith("catalog figures from the Unity Catalog of ")
    assert not local["notes"][0].startswith("catalog figures from")
