"""Faults of the Databricks adapter through the real SDK and real HTTP (replay server)."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.databricks.client import ClientOptions, build_client
from lakecrew.adapters.databricks.workspace import DatabricksWorkspace
from lakecrew.core.errors import (
    ConfigError,
    PartialListing,
    PermissionDenied,
    Transient,
    UsageError,
)
from lakecrew.ports.workspace import ObjectKind
from lakecrew.testing.databricks_replay import (
    TOKEN,
    DatabricksReplay,
    Request,
    SyntheticWorkspace,
    VirtualClock,
)

from .conftest import SEED, databricks_backend

C1 = SEED["clusters"][0]["cluster_id"]


def test_permission_denied_names_the_permission_and_hides_the_token() -> None:
    with ExitStack() as stack:
        b = databricks_backend(stack, "permission_denied")
        with pytest.raises(PermissionDenied) as info:
            b.workspace.set_autotermination(C1, 30)
    message = str(info.value)
    assert "clusters.update" in message and "CAN_MANAGE on the cluster" in message
    assert C1 in message and TOKEN not in message


def test_429_storm_gives_up_as_transient_after_honouring_retry_after() -> None:
    with ExitStack() as stack:
        b = databricks_backend(stack, "rate_limited")
        with pytest.raises(Transient, match=r"clusters\.list"):
            list(b.workspace.list(ObjectKind.CLUSTER))
        assert b.clock is not None and b.replay is not None
        assert len(b.clock.sleeps) >= 5 and all(s >= 5 for s in b.clock.sleeps)
        assert {r.status for r in b.replay.seen if r.path.endswith("/list")} == {429}


def _synthetic(stack: ExitStack, synth: SyntheticWorkspace) -> DatabricksWorkspace:
    replay = stack.enter_context(DatabricksReplay(handlers=[synth]))
    client = build_client(host=replay.url, token=TOKEN, clock=VirtualClock())
    return DatabricksWorkspace("big-dev-eu", client)


def test_a_500_then_200_mid_listing_resumes_at_that_page() -> None:
    with ExitStack() as stack:
        ws = _synthetic(stack, SyntheticWorkspace(clusters=250, fail_pages={("clusters", 1): 2}))
        ids = [o.object_id for o in ws.list(ObjectKind.CLUSTER)]
    assert len(ids) == len(set(ids)) == 250


def test_a_page_that_keeps_failing_gives_an_honest_partial_listing() -> None:
    with ExitStack() as stack:
        ws = _synthetic(stack, SyntheticWorkspace(clusters=250, fail_pages={("clusters", 1): -1}))
        seen: list[str] = []
        with pytest.raises(PartialListing) as info:
            seen.extend(o.object_id for o in ws.list(ObjectKind.CLUSTER))
    assert len(seen) == info.value.delivered == 100
    assert info.value.kind == "clusters" and info.value.retryable
    assert info.value.page == 2
    assert "stopped at page 2 after 100" in str(info.value)


def test_a_server_that_does_not_answer_times_out_as_transient() -> None:
    released = threading.Event()  # the server answers nothing until the client gave up

    def silent(req: Request) -> Any:
        if req.path == "/api/2.1/clusters/get":
            released.wait(60)
        return None

    with ExitStack() as stack:
        replay = stack.enter_context(DatabricksReplay(handlers=[silent]))
        stack.callback(released.set)  # before the server stops
        opts = ClientOptions(retry_timeout_seconds=1, http_timeout_seconds=0.3)
        ws = DatabricksWorkspace(
            "x-dev-eu", build_client(host=replay.url, token=TOKEN, options=opts)
        )
        with pytest.raises(Transient, match=r"clusters\.get"):
            ws.get(ObjectKind.CLUSTER, C1)


def test_a_wrong_token_is_refused_without_echoing_it() -> None:
    with ExitStack() as stack:
        replay = stack.enter_context(DatabricksReplay())
        client = build_client(
            host=replay.url, token="dapi0123456789abcdef0123", clock=VirtualClock()
        )
        with pytest.raises(PermissionDenied, match="not authenticated") as info:
            DatabricksWorkspace("x-dev-eu", client).get(ObjectKind.CLUSTER, C1)
    assert "dapi0123456789abcdef0123" not in str(info.value)
    assert "dapi0123456789abcdef0123" not in repr(client)


def test_unknown_job_settings_are_refused_before_any_call() -> None:
    with ExitStack() as stack:
        b = databricks_backend(stack, None)
        with pytest.raises(UsageError, match="max_concurent_runs"):
            b.workspace.update_job("7", {"max_concurent_runs": 2})
        assert b.replay is not None
        assert [r.path for r in b.replay.seen if r.path.startswith("/api/")] == []


def _clear_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("HOST", "TOKEN", "CLIENT_ID", "CLIENT_SECRET", "CONFIG_PROFILE", "AUTH_TYPE"):
        monkeypatch.delenv(f"DATABRICKS_{var}", raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none.cfg"))
    monkeypatch.setenv("HOME", str(tmp_path))


def test_auth_from_environment_profile_or_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear_env(monkeypatch, tmp_path)
    with DatabricksReplay() as replay:
        with pytest.raises(ConfigError, match="DATABRICKS_TOKEN"):
            build_client(host=replay.url)
        monkeypatch.setenv("DATABRICKS_HOST", replay.url)
        monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
        assert build_client().config.auth_type == "pat"
        monkeypatch.delenv("DATABRICKS_TOKEN")
        cfg = tmp_path / "databrickscfg"
        cfg.write_text(f"[crew]\nhost = {replay.url}\ntoken = {TOKEN}\n")
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
        client = build_client(host=replay.url, profile="crew")
        assert client.config.auth_type == "pat" and TOKEN not in repr(client)
        monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-app-id")
        monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "dose0123456789abcdef0123")
        with pytest.raises(ConfigError) as info:  # two auth methods: refused, secret hidden
            build_client(host=replay.url, profile="crew")
    assert "dose0123456789abcdef0123" not in str(info.value)
