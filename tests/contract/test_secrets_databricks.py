"""The Databricks secret-scope SecretStore against the replay server: value decoded from base64,
a missing secret names the fix, a refused read is PermissionDenied; no value in any error."""

from __future__ import annotations

import base64

import pytest

from lakecrew.adapters.databricks.client import build_client
from lakecrew.adapters.databricks.secrets import DatabricksSecretStore
from lakecrew.core.errors import NotFound, PermissionDenied
from lakecrew.testing.databricks_replay import (
    TOKEN,
    Call,
    DatabricksReplay,
    VirtualClock,
    error_body,
)

from .conftest import OPTIONS

PATH = "/api/2.0/secrets/get"
URL = "https://hooks.slack.com/services/T0/B0/SECRETxyz"


def _store(replay: DatabricksReplay) -> DatabricksSecretStore:
    client = build_client(host=replay.url, token=TOKEN, options=OPTIONS, clock=VirtualClock())
    return DatabricksSecretStore(client, "malaria-prod-westafrica")


def test_reads_and_decodes_a_secret_from_a_scope() -> None:
    value = base64.b64encode(URL.encode()).decode()
    calls = [
        Call(
            "GET",
            PATH,
            {"key": "slack-url", "value": value},
            query={"scope": "lakecrew", "key": "slack-url"},
        )
    ]
    with DatabricksReplay(calls) as replay:
        store = _store(replay)
        assert store.get("lakecrew", "slack-url").get_secret_value() == URL
        assert store.exists("lakecrew", "slack-url")


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [(404, "RESOURCE_DOES_NOT_EXIST", NotFound), (403, "PERMISSION_DENIED", PermissionDenied)],
)
def test_missing_and_refused_secrets(status: int, code: str, error: type[Exception]) -> None:
    calls = [
        Call(
            "GET",
            PATH,
            error_body(status, code, "Secret does not exist or no access"),
            status=status,
        )
    ]
    with DatabricksReplay(calls) as replay, pytest.raises(error) as info:
        _store(replay).get("lakecrew", "slack-url")
    assert "lakecrew/slack-url" in str(info.value) or "lakecrew" in str(info.value)
