"""`lakecrew notify test`, `lakecrew outbox`, `outbox retry`, and config errors with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.receivers import Answer, Receiver

pytestmark = pytest.mark.integration
runner = CliRunner()

NOTIFY = """
notifications:
  channels:
    hook: {type: webhook, url: {scope: lakecrew, key: hook-url},
           signing_key: {scope: lakecrew, key: hook-key}}
  routes:
    - name: prod-critical
      match: {severity: [critical], environment: [prod]}
      channels: [hook]
"""


def _project(tmp: Path, extra: str = NOTIFY) -> Path:
    assert runner.invoke(app, ["-p", str(tmp), "init"]).exit_code == 0
    cfg = tmp / "lakecrew.yaml"
    cfg.write_text(cfg.read_text() + extra)
    return tmp


def test_notify_test_sends_a_labelled_message_then_outbox_shows_it(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with Receiver(Answer(204)) as rx:
        env = {
            "LAKECREW_SECRET_LAKECREW_HOOK_URL": rx.url + "/hook/SECRETxyz",
            "LAKECREW_SECRET_LAKECREW_HOOK_KEY": "k",
            "LAKECREW_ALLOW_INSECURE_HOSTS": "1",
        }
        r = runner.invoke(app, ["-p", str(project), "notify", "test", "prod-critical"], env=env)
        assert r.exit_code == 0, r.stderr
        assert len(rx.ok()) == 1
        body = rx.ok()[0].json()
        assert body["kind"] == "test" and "[lakecrew TEST]" in body["subject"]
        rx.down = True
        again = runner.invoke(app, ["-p", str(project), "notify", "test", "prod-critical"], env=env)
    assert again.exit_code == 1
    assert "SECRETxyz" not in again.stderr and "not delivered" in again.stderr
    out = runner.invoke(app, ["-p", str(project), "--output", "json", "outbox"], env=env)
    data = json.loads(out.stdout)["items"][0]
    assert data["channels"] == [{"channel": "hook", "pending": 1, "delivered": 1, "dead": 0}]
    assert b"SECRETxyz" not in (project / ".lakecrew" / "outbox.db").read_bytes()


def test_missing_secret_keeps_the_message_and_names_the_secret(tmp_path: Path) -> None:
    project = _project(tmp_path)
    r = runner.invoke(app, ["-p", str(project), "notify", "test", "prod-critical"], env={})
    assert r.exit_code == 1
    assert "secret lakecrew/hook-url is not set" in r.stderr


def test_unknown_key_and_unknown_channel_are_reported_with_their_line(tmp_path: Path) -> None:
    project = _project(tmp_path, NOTIFY.replace("channels: [hook]", "channels: [nope]"))
    r = runner.invoke(app, ["-p", str(project), "estate", "validate"])
    assert r.exit_code == 2
    assert "lakecrew.yaml:" in r.stderr and "'nope'" in r.stderr
    project2 = _project(tmp_path / "b", NOTIFY.replace("match:", "matchh:"))
    r2 = runner.invoke(app, ["-p", str(project2), "estate", "validate"])
    assert r2.exit_code == 2 and "matchh" in r2.stderr
    line = next(ln for ln in r2.stderr.splitlines() if "matchh" in ln)
    assert ".yaml:" in line
