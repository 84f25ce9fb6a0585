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
