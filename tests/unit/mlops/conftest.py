from __future__ import annotations

import pytest

from lakecrew.testing.mlflow_store import StoreProject, build_project


@pytest.fixture(scope="session")
def store_project(tmp_path_factory: pytest.TempPathFactory) -> StoreProject:
    """One real MLflow store per test session (creating its SQLite database takes ~8 s)."""
    return build_project(tmp_path_factory.mktemp("mlflow_project"))
