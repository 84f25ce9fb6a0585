"""Sweeps that survive real APIs: per-API refusals, unreachable hosts and unusable pages.

Everything runs the real databricks-sdk over real HTTP against DatabricksReplay. A kind whose
API answers 401/403/404/501 is *unseen* with the reason and the rules it hides; every other kind
is still evaluated; the sweep is partial (exit 1, `complete: false`). A host that cannot be
reached is one line, at once. A page-token loop, a malformed page and a truncated body are
errors naming the API and the page.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.adapters.databricks.client import ClientOptions, build_client
from lakecrew.adapters.databricks.workspace import DatabricksWorkspace
from lakecrew.core.errors import PartialListing, Transient, Unavailable, Unreachable
from lakecrew.faces.cli.main import app
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.observer import CONF_KEYS
from lakecrew.testing.databricks_export import CONF_PATH, rest_calls
from lakecrew.testing.databricks_project import WS, cli_env, project_yaml
from lakecrew.testing.databricks_replay import (
    TOKEN,
    TRUNCATE_HEADER,
    Call,
    DatabricksReplay,
    Request,
    SyntheticWorkspace,
    VirtualClock,
    error_body,
)

NOW = "2026-03-02T10:00:00+00:00"
SCOPES = {"scopes": [{"name": "malaria-etl", "backend_type": "DATABRICKS"}]}


def run_cli(env: dict[str, str], *args: str, code: int) -> Any:
    result = CliRunner().invoke(app, [*args, "--output", "json"], env=env)
    assert result.exit_code == code, result.output
    return result


def _project(tmp_path: Path, host: str) -> tuple[dict[str, str], Path]:
    root = tmp_path / "remote"
    root.mkdir()
    (root / "lakecrew.yaml").write_text(project_yaml(host))
    return cli_env(tmp_path), root


def _calls(*, conf: bool = True) -> list[Call]:
    """Empty policies/warehouses/pools, one secret scope whose ACL list has no recording (404),
    and the workspace conf unless `conf` is False (then it answers 404 too)."""
    calls = [
        c for c in rest_calls({}, dict.fromkeys(CONF_KEYS, "true")) if conf or c.path != CONF_PATH
    ]
    calls = [c for c in calls if c.path != "/api/2.0/secrets/scopes/list"]
    return [*calls, Call("GET", "/api/2.0/secrets/scopes/list", body=SCOPES)]


@pytest.fixture
def replay_404() -> Iterator[DatabricksReplay]:
    synth = SyntheticWorkspace(clusters=5, jobs=3)
    with DatabricksReplay(_calls(conf=False), handlers=[synth]) as server:
        yield server


def test_optional_api_404s_leave_their_kinds_unseen_and_everything_else_evaluated(
    tmp_path: Path, replay_404: DatabricksReplay
) -> None:
    env, root = _project(tmp_path, replay_404.url)
    sweep = ("sweep", "--workspace", WS, "--phase", "1", "--now", NOW, "--project", str(root))
    result = run_cli(env, *sweep, code=1)
    [s] = json.loads(result.stdout)["items"]
    assert s["complete"] is False
    gaps = {g["kind"]: g for g in s["gaps"]}
    assert set(gaps) == {"secret_acls", "workspace-conf"}
    acl, conf = gaps["secret_acls"], gaps["workspace-conf"]
    assert (acl["cause"], acl["delivered"], acl["api"]) == ("not_enabled", 0, "secrets.list_acls")
    assert acl["unseen_rules"] == ["secret.acl_too_broad"]
    assert conf["cause"] == "not_enabled" and conf["unseen_rules"] == [
        "workspace.audit_logs_disabled"
    ]
    assert "re-list" not in acl["reason"]  # the old, unfitting fix hint
    # clusters, jobs and the workspace itself were evaluated (the scope is left unseen)
    assert s["discovered"] == s["evaluated"] == 5 + 3 + 1
    assert {f["resource_type"] for f in s["findings"]} >= {"clusters", "jobs"}
    [line] = result.stderr.strip().splitlines()
    message = json.loads(line)["error"]["message"]
    assert "secret_acls unseen (feature not enabled" in message
    assert "workspace.audit_logs_disabled" in message and "secret.acl_too_broad" in message


def test_a_403_on_jobs_keeps_earlier_job_findings_open_and_names_the_permission(
    tmp_path: Path,
) -> None:
    synth = SyntheticWorkspace(clusters=4, jobs=3)
    denied: dict[str, bool] = {"jobs": False}

    def jobs_gate(req: Request) -> Any:
        if denied["jobs"] and req.path == "/api/2.2/jobs/list":
            body = error_body(403, "PERMISSION_DENIED", "User is not authorized to list jobs")
            return 403, {}, json.dumps(body).encode(), "application/json"
        return None

    with DatabricksReplay(_calls(), handlers=[jobs_gate, synth]) as replay:
        replay.calls.append(Call("GET", "/api/2.0/secrets/acls/list", body={"items": []}))
        env, root = _project(tmp_path, replay.url)
        sweep = ("sweep", "--workspace", WS, "--phase", "1", "--project", str(root))
        first = json.loads(run_cli(env, *sweep, "--now", NOW, code=0).stdout)["items"][0]
        job_findings = {f["fingerprint"] for f in first["findings"] if f["resource_type"] == "jobs"}
        assert first["complete"] is True and job_findings
        denied["jobs"] = True
        later = "2026-03-02T12:00:00+00:00"
        second = json.loads(run_cli(env, *sweep, "--now", later, code=1).stdout)["items"][0]
    [gap] = second["gaps"]
    assert (gap["kind"], gap["cause"], gap["delivered"]) == ("jobs", "permission", 0)
    assert "CAN_VIEW on the jobs" in gap["reason"]
    assert {"job.retries_missing", "job.tags_missing"} <= set(gap["unseen_rules"])
    assert second["resolved"] == 0
    assert {f["resource_type"] for f in second["findings"]} >= {"clusters"}
    rows = json.loads(
        run_cli(env, "findings", "--workspace", WS, "--project", str(root), code=0).stdout
    )["items"]
    assert {r["fingerprint"] for r in rows if r["status"] == "open"} >= job_findings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_host_is_one_line_at_once(tmp_path: Path) -> None:
    env, root = _project(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    result = run_cli(env, "sweep", "--workspace", WS, "--project", str(root), code=1)
    [line] = result.stderr.strip().splitlines()
    message = json.loads(line)["error"]["message"]
    assert "cannot reach http://127.0.0.1" in message and "connection refused" in message
    assert "connect_timeout_seconds" in message


def test_a_name_that_does_not_resolve_is_unreachable() -> None:
    with pytest.raises(Unreachable, match=r"does not resolve|cannot reach"):
        build_client(host="https://lakecrew-nowhere.invalid", token=TOKEN)


def _client(replay: DatabricksReplay, **options: Any) -> DatabricksWorkspace:
    opts = ClientOptions(**options) if options else None
    client = build_client(host=replay.url, token=TOKEN, clock=VirtualClock(), options=opts)
    return DatabricksWorkspace("x-dev-eu", client)


def _page_answer(body: bytes, headers: dict[str, str] | None = None) -> Any:
    return 200, headers or {}, body, "application/json"


def test_a_repeated_page_token_is_an_error_naming_the_api_and_page() -> None:
    def loop(req: Request) -> Any:
        if req.path == "/api/2.1/clusters/list":
            body = {"clusters": [{"cluster_id": f"c-{len(req.query)}"}], "next_page_token": "t1"}
            return _page_answer(json.dumps(body).encode())
        return None

    with DatabricksReplay(handlers=[loop]) as replay:
        ws = _client(replay)
        with pytest.raises(PartialListing) as info:
            list(ws.list(ObjectKind.CLUSTER))
    err = info.value
    assert (err.cause, err.page, err.delivered) == ("malformed", 3, 2)
    assert "clusters.list page 3" in str(err) and "page loop" in str(err)


@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        (b'{"clusters": [{"cluster_id": "a"}], "next_page_token": "p2"', {}, "not valid JSON"),
        (b'{"clusters": [{"cluster_id": "a"}]}', {TRUNCATE_HEADER: "12"}, "cut short"),
        (b'{"clusters": ["not-an-object"]}', {}, "malformed page"),
    ],
    ids=["malformed-json", "truncated", "wrong-shape"],
)
def test_an_unusable_second_page_names_the_api_and_page(
    body: bytes, headers: dict[str, str], words: str
) -> None:
    def pages(req: Request) -> Any:
        if req.path != "/api/2.1/clusters/list":
            return None
        if req.query.get("page_token", [""])[0] == "p2":
            return _page_answer(body, headers)
        first = {"clusters": [{"cluster_id": "c1"}], "next_page_token": "p2"}
        return _page_answer(json.dumps(first).encode())

    with DatabricksReplay(handlers=[pages]) as replay:
        ws = _client(replay, max_attempts=2)
        with pytest.raises(PartialListing) as info:
            list(ws.list(ObjectKind.CLUSTER))
    err = info.value
    assert (err.cause, err.page, err.delivered, err.api) == ("malformed", 2, 1, "clusters.list")
    assert words in str(err) and "page 2" in str(err)


def test_429_storm_stops_at_the_total_retry_budget() -> None:
    storm = Call(
        "GET",
        "/api/2.1/clusters/list",
        status=429,
        body=error_body(429, "REQUEST_LIMIT_EXCEEDED", "slow down"),
        headers={"Retry-After": "7"},
    )
    with DatabricksReplay([storm]) as replay:
        ws = _client(replay, retry_timeout_seconds=600, retry_budget_seconds=35)
        with pytest.raises(PartialListing, match="retry budget of 35 s") as info:
            list(ws.list(ObjectKind.CLUSTER))
        sleeps = ws.client.config.clock.spent  # type: ignore[attr-defined]
    assert info.value.cause == "failed" and 28 <= sleeps <= 35
    # 4 waits of 7-8 s fit in 35 s, a 5th does not
    assert len(replay.requests_to("GET", "/api/2.1/clusters/list")) == 5


def test_501_and_conf_refusals_are_unavailable_with_the_cause() -> None:
    not_impl = Call(
        "GET",
        "/api/2.0/sql/warehouses",
        status=501,
        body=error_body(501, "NOT_IMPLEMENTED", "SQL is not enabled for this workspace"),
    )
    conf = Call(
        "GET",
        CONF_PATH,
        status=403,
        body=error_body(403, "PERMISSION_DENIED", "Only admins can read workspace conf"),
    )
    with DatabricksReplay([not_impl, conf]) as replay:
        ws = _client(replay)
        with pytest.raises(PartialListing) as info:
            list(ws.list(ObjectKind.WAREHOUSE))
        with pytest.raises(Unavailable) as conf_info:
            ws.workspace_conf(CONF_KEYS)
    assert info.value.cause == "not_enabled" and "501" in str(info.value)
    assert conf_info.value.cause == "permission" and "workspace admin" in str(conf_info.value)


def test_a_transient_listing_failure_is_not_mistaken_for_an_unreachable_host() -> None:
    with ExitStack() as stack:
        synth = SyntheticWorkspace(clusters=150, fail_pages={("clusters", 1): -1})
        replay = stack.enter_context(DatabricksReplay(handlers=[synth]))
        ws = _client(replay)
        with pytest.raises(PartialListing) as info:
            list(ws.list(ObjectKind.CLUSTER))
        assert not isinstance(info.value, Unreachable) and info.value.cause == "failed"
        assert ws.client.api.unreachable is None
        with pytest.raises(Transient):
            raise info.value


def test_a_host_that_accepts_but_never_answers_is_unreachable_after_the_connect_timeout() -> None:
    silent = socket.socket()  # the kernel accepts connections; nothing ever answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        opts = ClientOptions(connect_timeout_seconds=0.5)
        with pytest.raises(Unreachable, match=r"no answer within 0\.5 s"):
            build_client(host=url, token=TOKEN, options=opts)
    finally:
        silent.close()
