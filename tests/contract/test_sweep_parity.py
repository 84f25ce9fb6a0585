"""`lakecrew sweep --workspace W --phase 1` end to end on both backends from one set of payloads.

The simulator's workspace malaria-dev-westafrica (seed 7) is serialised as Databricks REST list
responses (paged clusters and jobs, policies, warehouses, pools, secret scopes + ACLs, workspace
conf). (a) A project whose W is `backend: databricks` with `host: http://127.0.0.1:<port>` (the
test-only LAKECREW_ALLOW_INSECURE_HOSTS=1) sweeps it through the real databricks-sdk against
DatabricksReplay; (b) a project whose W is local imports the same bodies with
`lakecrew estate import W DIR` and sweeps them. Both CLI runs must give the same findings.
(c) `lakecrew serve` over the databricks-backend project shows what its sweep found (below).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.faces.web.accounts import Accounts, accounts_path
from lakecrew.faces.web.app import WebConfig, create_app
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.observer import CONF_KEYS
from lakecrew.services.simulate.simulator import simulate
from lakecrew.testing.databricks_export import rest_calls, write_export
from lakecrew.testing.databricks_project import WS, cli_env, project_yaml
from lakecrew.testing.databricks_replay import DatabricksReplay
from lakecrew.testing.memory_sinks import MemorySink
from lakecrew.testing.web import running

NOW = "2026-03-02T10:00:00+00:00"


def run_cli(env: dict[str, str], *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--output", "json"], env=env)
    assert result.exit_code == code, result.output
    return result


def broken_copies(objects: dict[ObjectKind, list[dict[str, Any]]]) -> None:
    """Add a non-compliant copy of one object of each kind (the Dev workspace of the simulator
    is mostly compliant): no tags, no auto-termination/auto-stop, oversized, no retries."""
    cl = copy.deepcopy(objects[ObjectKind.CLUSTER][0])
    cl.pop("autoscale", None)
    cl.update(
        cluster_id="0301-090000-broken01",
        custom_tags={},
        autotermination_minutes=0,
        state="RUNNING",
        num_workers=40,
        cluster_name="broken-copy",
    )
    job = copy.deepcopy(objects[ObjectKind.JOB][0])
    job["job_id"] = 990000000001
    job["settings"].update(tags={}, name="broken-copy")
    job["settings"].pop("email_notifications", None)
    for task in job["settings"].get("tasks", []):
        task.pop("max_retries", None)
    wh = copy.deepcopy(objects[ObjectKind.WAREHOUSE][0])
    wh.update(id="b0b0b0b0b0b0b0b0", name="broken-copy", auto_stop_mins=0, tags={})
    pool = copy.deepcopy(objects[ObjectKind.INSTANCE_POOL][0])
    pool.update(instance_pool_id="0301-090000-pool-broken", custom_tags={})
    for kind, obj in ((ObjectKind.CLUSTER, cl), (ObjectKind.JOB, job),
                      (ObjectKind.WAREHOUSE, wh), (ObjectKind.INSTANCE_POOL, pool)):  # fmt: skip
        objects[kind].append(obj)


@pytest.fixture(scope="module")
def payloads() -> Any:
    """One simulated workspace (plus broken copies) as recorded REST list answers, clusters
    and jobs in pages of 4."""
    sink = MemorySink()
    simulate(sink, seed=7, scale=1, as_of=date(2026, 3, 2))
    objects = {kind: [dict(o.data) for o in sink.list(WS, kind)] for kind in ObjectKind}
    broken_copies(objects)
    acl_ids = [o.object_id for o in sink.list(WS, ObjectKind.SECRET_ACL)]
    conf = {k: v for k, v in sink.conf[WS].items() if k in CONF_KEYS}
    return rest_calls(objects, conf, page_size=4, acl_ids=acl_ids)


@pytest.fixture
def replay(payloads: Any) -> Iterator[DatabricksReplay]:
    with DatabricksReplay(payloads) as server:
        yield server


def finding_keys(out: Any) -> set[tuple[str, str, str, str]]:
    return {(f["rule_id"], f["resource_id"], f["severity"], f["fingerprint"]) for f in out}


def test_sweep_over_replay_server_equals_sweep_of_imported_payloads(
    tmp_path: Path, payloads: Any, replay: DatabricksReplay
) -> None:
    env = cli_env(tmp_path)
    remote, local, export = tmp_path / "remote", tmp_path / "local", tmp_path / "export"
    remote.mkdir()
    local.mkdir()
    (remote / "lakecrew.yaml").write_text(project_yaml(replay.url))
    (local / "lakecrew.yaml").write_text(project_yaml())
    write_export(payloads, export)

    imported = json.loads(
        run_cli(env, "estate", "import", WS, str(export), "--project", str(local)).stdout
    )["items"][0]
    args = ("sweep", "--workspace", WS, "--phase", "1", "--now", NOW)
    a = json.loads(run_cli(env, *args, "--project", str(remote)).stdout)
    b = json.loads(run_cli(env, *args, "--project", str(local)).stdout)

    # the remote sweep really went through the SDK, page by page
    assert len(replay.requests_to("GET", "/api/2.1/clusters/list")) == 3  # 10 clusters / 4
    assert len(replay.requests_to("GET", "/api/2.2/jobs/list")) == 3
    assert all(r.auth_scheme == "Bearer" for r in replay.seen if r.path.startswith("/api/"))
    [sa], [sb] = a["items"], b["items"]
    assert sa["complete"] is True and sb["complete"] is True
    assert imported["objects"]["clusters"] == 10 and imported["objects"]["jobs"] == 10
    assert sa["discovered"] == sb["discovered"] == sa["evaluated"] == sb["evaluated"]
    objects = sum(n for kind, n in imported["objects"].items() if kind != "secret_acls")
    assert sa["discovered"] == objects + 1  # + the workspace itself
    keys_a, keys_b = finding_keys(sa["findings"]), finding_keys(sb["findings"])
    assert keys_a == keys_b
    types = {f["resource_type"] for f in sa["findings"]}
    assert len(keys_a) >= 10
    assert {"clusters", "jobs", "warehouses", "instance_pools", "secret_scopes"} <= types
    # evidence and owners agree too (the SDK's as_dict() kept what the rules read)
    by_fp = {f["fingerprint"]: (f["owner"], f["evidence"]) for f in sb["findings"]}
    assert {f["fingerprint"]: (f["owner"], f["evidence"]) for f in sa["findings"]} == by_fp


PASSWORD = "databricks dashboard passphrase"


def test_dashboard_serves_a_databricks_backend_project(
    tmp_path: Path, payloads: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lakecrew serve` on a project whose workspace is `backend: databricks`: the sweep goes
    through the real databricks-sdk against the replay server (lakecrew.testing.databricks_replay),
    then the dashboard serves that project — its overview names the backend, its findings page and
    `/api/findings` show exactly what the sweep found, and every other page answers (saying in
    `notes` what it could not read from this backend).

    Not covered here: approve / roll back on a Databricks workspace (a rollback calls the workspace
    through the SDK exactly as `lakecrew rollback` does; the replay server has no recorded
    mutation answers for it)."""
    env = cli_env(tmp_path)
    root = tmp_path / "remote"
    root.mkdir()
    with DatabricksReplay(payloads) as replay:
        (root / "lakecrew.yaml").write_text(project_yaml(replay.url))
        swept = CliRunner().invoke(
            app,
            ["sweep", "--workspace", WS, "--phase", "1", "--now", NOW, "--project", str(root),
             "--output", "json"],
            env=env,
        )  # fmt: skip
        assert swept.exit_code == 0, swept.output
        [result] = json.loads(swept.stdout)["items"]
        found = {f["fingerprint"] for f in result["findings"]}
        assert len(found) >= 10
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        accounts = Accounts(accounts_path(root))
        accounts.add("viewer1", PASSWORD, "viewer")
        accounts.close()
        web = create_app(WebConfig(root))
        try:
            with running(web) as base, httpx.Client(base_url=base, timeout=60) as client:
                token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
                assert token is not None
                client.post("/login", data={"username": "viewer1", "password": PASSWORD,
                                            "csrf_token": token[1]})  # fmt: skip
                overview = client.get("/api/overview").json()
                [ws] = overview["workspaces"]
                assert ws["workspace"] == WS and ws["backend"] == "databricks"
                assert ws["open_findings"] == overview["open_findings"] == len(found)
                shown, page = set(), 1
                while True:
                    data = client.get("/api/findings", params={"page": page}).json()
                    shown |= {f["fingerprint"] for f in data["items"]}
                    if page >= data["pages"]:
                        break
                    page += 1
                assert shown == found
                html = client.get("/findings", params={"workspace": WS}).text
                assert f"{len(found)} finding" in html
                for path in ("/", "/actions", "/pipelines", "/finops", "/governance",
                             "/models", "/rules"):  # fmt: skip
                    assert client.get(path).status_code == 200, path
                for path in ("/api/pipelines", "/api/cost", "/api/governance", "/api/models"):
                    answer = client.get(path)
                    assert answer.status_code == 200, (path, answer.text[:300])
        finally:
            web.state.dashboard.close()
            web.state.accounts.close()
