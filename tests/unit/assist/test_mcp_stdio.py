"""`lakecrew mcp` as a real subprocess, driven by the MCP Python SDK's client over stdio."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from lakecrew.ports.clock import FixedClock
from lakecrew.wiring.context import Context

from .conftest import HOSTILE_ID, SECRET, now_of

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("assist")]


async def _session(project: Path) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters

    with Context.open(project, clock=FixedClock(now_of(project))) as lc:
        fp = next(
            f.fingerprint
            for f in lc.crew.findings()
            if f.resource_id == HOSTILE_ID and f.rule_id == "cluster.tags_missing"
        )
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", "from lakecrew.faces.cli.main import run; run()", "mcp",
              "--project", str(project), "--now", now_of(project).isoformat()],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    out: dict[str, Any] = {"fp": fp}
    async with Client(params, read_timeout_seconds=120) as client:
        listed = await client.list_tools()
        out["tools"] = {t.name: t for t in listed.tools}
        res = await client.call_tool("list_findings", {"rule_id": "job.hardcoded_secret"})
        out["findings"] = res
        res = await client.call_tool(
            "propose_exemption", {"fingerprint": fp, "days": 7, "rationale": "vendor pilot"}
        )
        out["proposal"] = res
        out["bad"] = await client.call_tool("run_sql", {"query": "DROP TABLE system.billing.usage"})
    return out


def _text(result: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(result.content[0].text)
    return parsed


def test_mcp_server_over_stdio(project: Path) -> None:
    out = anyio.run(_session, project)
    tools = out["tools"]
    assert {"list_findings", "run_sql", "cost_report", "propose_exemption"} <= set(tools)
    schema = tools["propose_exemption"].input_schema
    assert set(schema["required"]) == {"fingerprint", "days", "rationale"}
    assert schema["properties"]["days"]["type"] == "integer"
    findings = _text(out["findings"])["data"]
    assert findings["count"] >= 1 and SECRET not in out["findings"].content[0].text
    proposal = _text(out["proposal"])["data"]
    assert proposal["status"] == "pending"
    assert "read-only" in _text(out["bad"])["error"]
    with Context.open(project) as lc:
        props = [p for p in lc.ledger.proposals() if p.proposal_id == proposal["proposal_id"]]
        runs = [r for r in lc.ledger.agent_runs() if r.agent == "mcp"]
        exempt = [e for e in lc.ledger.exemptions() if e.resource_id == HOSTILE_ID]
    assert props and props[0].status == "pending" and props[0].run_id.startswith("mcp-")
    assert len(runs) == 3 and not exempt
    assert sorted(json.loads(r.tool_calls_json)[0]["tool"] for r in runs) == [
        "list_findings",
        "propose_exemption",
        "run_sql",
    ]
