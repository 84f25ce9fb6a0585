"""LAKECREW_ALLOW_INSECURE_HOSTS=1 (tests only) accepts a loopback http host, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.services.estate.config import INSECURE_HOSTS_ENV, load_estate
from lakecrew.services.estate.yamlpos import ConfigProblems
from lakecrew.testing.databricks_project import WS, project_yaml


def write(tmp_path: Path, host: str) -> Path:
    path = tmp_path / "lakecrew.yaml"
    path.write_text(project_yaml(host), encoding="utf-8")
    return path


def test_loopback_http_host_is_refused_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(INSECURE_HOSTS_ENV, raising=False)
    with pytest.raises(ConfigProblems, match="host must be a workspace URL"):
        load_estate(write(tmp_path, "http://127.0.0.1:8080"), require_approved=False)


@pytest.mark.parametrize("host", ["http://127.0.0.1:8080", "http://localhost:41234/"])
def test_loopback_http_host_is_accepted_with_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv(INSECURE_HOSTS_ENV, "1")
    config = load_estate(write(tmp_path, host), require_approved=False)
    assert config.workspace(WS).host == host


@pytest.mark.parametrize(
    "host",
    [
        "http://adb-123.4.azuredatabricks.net",
        "http://127.0.0.1.evil.example:80",
        "http://127.0.0.1",  # a replay server always has a port
        "http://user:pw@127.0.0.1:8080",
    ],
)
def test_other_http_hosts_are_refused_even_with_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv(INSECURE_HOSTS_ENV, "1")
    with pytest.raises(ConfigProblems) as info:
        load_estate(write(tmp_path, host), require_approved=False)
    assert "pw" not in str(info.value)
