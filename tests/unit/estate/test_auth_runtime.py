"""The offline auth check on a Databricks cluster: the runtime's credentials are enough."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.core.errors import ConfigError
from lakecrew.services.estate.auth_check import check_workspace_auth


def test_a_job_on_a_cluster_needs_no_token_elsewhere_one_is_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CONFIG_PROFILE",
                "DATABRICKS_HOST", "DATABRICKS_AUTH_TYPE"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    with pytest.raises(ConfigError, match="no Databricks credential"):
        check_workspace_auth("w", "https://adb-1.2.azuredatabricks.net", None)
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    got = check_workspace_auth("w", "https://adb-1.2.azuredatabricks.net", None)
    assert got["method"] == "runtime"
