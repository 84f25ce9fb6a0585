"""`lakecrew ask`, `agent runs` and `proposals list` through the CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.openai_replay import OpenAIReplay, script

from .conftest import now_of

pytestmark = pytest.mark.xdist_group("assist")


def _run(root: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, [*args, "--project", str(root)])
    return r.exit_code, r.stdout, r.stderr


def test_ask_without_a_model_exits_2_with_how_to(project: Path) -> None:
    code, _out, err = _run(project, "ask", "How many workspaces?")
    assert code == 2 and "assistant:" in err and len(err.strip().splitlines()) == 1


def test_ask_with_a_model_and_its_records(project: Path) -> None:
    cfg = yaml.safe_load((project / "lakecrew.yaml").read_text())
    now = now_of(project).isoformat()
    with OpenAIReplay(script([("estate_overview", {})], "13 workspaces")) as server:
        cfg["assistant"] = {"model": {"type": "openai", "model_id": "replay-model",
                                      "api_base": server.url + "/v1"}}  # fmt: skip
        (project / "lakecrew.yaml").write_text(yaml.safe_dump(cfg))
        code, out, err = _run(project, "ask", "How many workspaces?", "--now", now, "-o", "json")
    assert code == 0, err
    env = json.loads(out)
    assert env["kind"] == "agent_run" and env["items"][0]["answer"] == "13 workspaces"
    assert env["items"][0]["evidence"] == ["estate_overview()"]
    code, out, _ = _run(project, "agent", "runs", "-o", "json")
    assert code == 0 and json.loads(out)["items"][0]["tools"] == 1
    code, out, _ = _run(project, "proposals", "list", "-o", "json")
    assert code == 0 and json.loads(out)["kind"] == "proposals"


def test_proposal_approval_and_eval_outputs_conform(project: Path) -> None:
    """`ask --allow-proposals`, `proposals approve` and `agent eval --limit 1` in JSON: each
    checked against its schema by the LAKECREW_CHECK_SCHEMAS hook (a breach exits 1)."""
    from lakecrew.wiring.context import Context

    with Context.open(project, writable=False) as lc:
        fp = next(f.fingerprint for f in lc.crew.findings() if f.rule_id == "cluster.tags_missing")
    cfg = yaml.safe_load((project / "lakecrew.yaml").read_text())
    now = now_of(project).isoformat()
    propose = ("propose_exemption", {"fingerprint": fp, "days": 7, "rationale": "pilot"})
    responses = [*script([propose], "proposed"), *script([("estate_overview", {})], "13")]
    with OpenAIReplay(responses) as server:
        cfg["assistant"] = {"model": {"type": "openai", "model_id": "replay-model",
                                      "api_base": server.url + "/v1"}}  # fmt: skip
        (project / "lakecrew.yaml").write_text(yaml.safe_dump(cfg))
        code, out, err = _run(project, "ask", "Exempt it", "--allow-proposals", "--now", now,
                              "-o", "json")  # fmt: skip
        assert code == 0, err
        (pid,) = json.loads(out)["items"][0]["proposals"]
        code, out, err = _run(project, "agent", "eval", "--limit", "1", "--now", now, "-o", "json")
        assert code == 0, err
        ev = json.loads(out)
        assert ev["kind"] == "agent_eval" and ev["meta"]["questions"] == 1
    code, out, err = _run(
        project, "proposals", "approve", pid[:8], "--approver", "DGB", "-o", "json"
    )
    assert code == 0, err
    item = json.loads(out)["items"][0]
    assert item["status"] == "approved" and item["payload"] == {"days": 7}
    assert item["decided_by"] == "DGB" and item["fingerprint"] == fp


def test_litellm_sdk_is_refused_with_one_line_pointing_at_the_proxy(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["-p", str(tmp_path), "init"]).exit_code == 0
    cfg = yaml.safe_load((tmp_path / "lakecrew.yaml").read_text())
    cfg["assistant"] = {"model": {"type": "litellm", "model_id": "ollama_chat/llama3.1"}}
    (tmp_path / "lakecrew.yaml").write_text(yaml.safe_dump(cfg))
    code, _out, err = _run(tmp_path, "ask", "How many workspaces?")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "type litellm is not supported" in err and "LiteLLM proxy" in err
    assert "lakecrew.yaml:" in err  # where: the file and line
