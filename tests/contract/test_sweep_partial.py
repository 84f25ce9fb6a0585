"""An honest partial sweep: `lakecrew sweep` through the SDK when a clusters page keeps failing.

The replay server holds a synthetic workspace (250 clusters in pages of 100, 30 jobs, empty
policies/warehouses/pools/scopes). A first sweep sees everything; then page 2 of clusters
answers 500 on every attempt (the client retries, then gives up). The second sweep must say it is
partial (exit 1, one line; `complete: false` and the failed kind and page in JSON), record the
findings of what it saw, and resolve nothing for the clusters it did not see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.services.crew.observer import CONF_KEYS
from lakecrew.testing.databricks_export import rest_calls
from lakecrew.testing.databricks_project import WS, cli_env, project_yaml
from lakecrew.testing.databricks_replay import DatabricksReplay, SyntheticWorkspace

FIRST, SECOND = "2026-03-02T10:00:00+00:00", "2026-03-02T12:00:00+00:00"


def run_cli(env: dict[str, str], *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--output", "json"], env=env)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def synthetic() -> Iterator[tuple[DatabricksReplay, SyntheticWorkspace]]:
    synth = SyntheticWorkspace(clusters=250, jobs=30)
    conf = dict.fromkeys(CONF_KEYS, "true")
    with DatabricksReplay(rest_calls({}, conf), handlers=[synth]) as server:
        yield server, synth


def test_failed_page_makes_the_sweep_partial_and_resolves_nothing_unseen(
    tmp_path: Path, synthetic: tuple[DatabricksReplay, SyntheticWorkspace]
) -> None:
    replay, synth = synthetic
    env, root = cli_env(tmp_path), tmp_path / "remote"
    root.mkdir()
    (root / "lakecrew.yaml").write_text(project_yaml(replay.url))
    sweep = ("sweep", "--workspace", WS, "--phase", "1", "--project", str(root))

    full = json.loads(run_cli(env, *sweep, "--now", FIRST).stdout)["items"][0]
    assert full["complete"] is True and full["gaps"] == []
    assert full["discovered"] == full["evaluated"] == 250 + 30 + 1
    unseen = {f"0101-{i:06d}-synth{i % 97:02d}" for i in range(100, 250)}
    assert unseen & {f["resource_id"] for f in full["findings"]}

    synth.fail_pages[("clusters", 1)] = -1  # page 2 of clusters: 500 on every attempt
    result = run_cli(env, *sweep, "--now", SECOND, code=1)
    part = json.loads(result.stdout)["items"][0]
    assert part["complete"] is False
    [gap] = part["gaps"]
    assert (gap["kind"], gap["page"], gap["delivered"]) == ("clusters", 2, 100)
    assert part["discovered"] == part["evaluated"] == 100 + 30 + 1
    assert part["resolved"] == 0
    seen_ids = {f["resource_id"] for f in part["findings"]}
    assert not seen_ids & unseen and seen_ids & {f["resource_id"] for f in full["findings"]}
    # one line on stderr, saying the sweep is partial and where it broke
    [line] = result.stderr.strip().splitlines()
    error = json.loads(line)["error"]
    assert "sweep is partial" in error["message"] and "page 2" in error["message"]
    assert len(replay.requests_to("GET", "/api/2.1/clusters/list")) >= 3 + 1 + 5  # retried

    ledger = json.loads(run_cli(env, "findings", "--workspace", WS, "--project", str(root)).stdout)
    rows = ledger["items"]
    assert not [r for r in rows if r["status"] == "resolved"]
    stale = [r for r in rows if r["resource_id"] in unseen]
    assert stale and all(
        r["status"] == "open" and r["last_seen"].startswith(FIRST[:13]) for r in stale
    )
    fresh = [r for r in rows if r["resource_id"] not in unseen]
    assert fresh and all(r["last_seen"].startswith(SECOND[:13]) for r in fresh)
    sweeps = run_cli(
        env,
        "sql",
        "SELECT status, error FROM lakecrew.crew.sweeps ORDER BY started_at",
        "--project",
        str(root),
    )
    statuses = [r["status"] for r in json.loads(sweeps.stdout)["items"]]
    assert statuses == ["completed", "partial"]
