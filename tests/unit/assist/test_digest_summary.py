"""The daily digest carries the Comms agent's summary end to end: `lakecrew outbox deliver`
asks the model (a local OpenAI-compatible server replaying recorded responses) once, the
summary is masked, marked machine-written and reaches a Slack webhook receiver in Block Kit
before the findings; a model that is down leaves the deterministic digest, sent anyway, and
the command says why (exit 1). Without `assistant:` the digest has no summary (see
tests/unit/crew/test_alerts_sweep.py)."""

from __future__ import annotations

import json
import shutil
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.openai_replay import OpenAIReplay, script
from lakecrew.testing.receivers import Answer, Receiver

from .conftest import SECRET, now_of

pytestmark = [pytest.mark.xdist_group("assist"), pytest.mark.integration]

SUMMARY = f"Yesterday cost 812.40 USD <!channel> (token {SECRET}); 3 warnings are open."


def _configure(root: Path, hook: str, api_base: str) -> None:
    cfg = yaml.safe_load((root / "lakecrew.yaml").read_text())
    cfg["notifications"] = {
        "channels": {"ops": {"type": "slack_webhook", "url": {"scope": "lc", "key": "hook"}}},
        "routes": [{"name": "digest", "match": {}, "channels": ["ops"], "digest": "daily"}],
    }
    cfg["assistant"] = {"model": {"type": "openai", "model_id": "replay-model",
                                  "api_base": api_base}}  # fmt: skip
    (root / "lakecrew.yaml").write_text(yaml.safe_dump(cfg))


def _deliver(root: Path, hook: str) -> Any:
    env = {"LAKECREW_SECRET_LC_HOOK": hook, "LAKECREW_ALLOW_INSECURE_HOSTS": "1"}
    now = (now_of(root) + timedelta(days=1)).isoformat()
    args = ["-p", str(root), "-o", "json", "outbox", "deliver", "--now", now]
    return CliRunner().invoke(app, args, env=env)


def _texts(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b.get("type") == "section")


def _copy(swept_template: Path, tmp: Path) -> Path:
    root = tmp / "proj"
    shutil.copytree(swept_template, root)
    return root


def test_the_daily_digest_carries_the_agents_summary(swept_template: Path, tmp_path: Path) -> None:
    root = _copy(swept_template, tmp_path)
    day = now_of(root).date().isoformat()
    with (
        OpenAIReplay(script([("cost_report", {"period": "day", "as_of": day})], SUMMARY)) as model,
        Receiver(Answer(200, b"ok", {}, "text/plain")) as rx,
    ):
        _configure(root, rx.url, model.url + "/v1")
        r = _deliver(root, rx.url + "/hook")
        assert r.exit_code == 0, r.stderr
        report = json.loads(r.stdout)["items"][0]
        assert report["summaries"] == 1 and report["summary_errors"] == []
        (msg,) = rx.ok()
        blocks = msg.json()["blocks"]
        first = _texts(blocks[1:2])
        assert "machine-written by lakecrew's Comms agent, replay-model" in first
        assert "812.40 USD" in first and SECRET not in json.dumps(msg.json())  # masked
        assert "<!channel>" not in first  # escaped like every other text
        assert "*Evidence*" in _texts(blocks[2:])  # the findings follow, as before
        assert f"as of {day}" in json.dumps(model.requests[0])  # the day the digest covers
        again = _deliver(root, rx.url + "/hook")  # nothing new: no second digest, no model call
        assert again.exit_code == 0 and len(rx.ok()) == 1 and len(model.requests) == 2
    runs = CliRunner().invoke(app, ["-p", str(root), "-o", "json", "agent", "runs"])
    assert [i["agent"] for i in json.loads(runs.stdout)["items"]] == ["comms"]


def test_model_down_sends_the_deterministic_digest_and_says_so(
    swept_template: Path, tmp_path: Path
) -> None:
    root = _copy(swept_template, tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with Receiver(Answer(200, b"ok", {}, "text/plain")) as rx:
        _configure(root, rx.url, f"http://127.0.0.1:{closed}/v1")
        r = _deliver(root, rx.url + "/hook")
        (msg,) = rx.ok()
    assert r.exit_code == 1
    assert "daily digest sent without the agent's summary" in r.stderr
    assert json.loads(r.stdout)["items"][0]["delivered"] == 1
    assert "machine-written" not in json.dumps(msg.json()) and "*Evidence*" in _texts(
        msg.json()["blocks"]
    )
