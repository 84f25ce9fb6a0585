"""MLflow adapters: the ModelRegistry port (local SQLite store or Databricks `databricks-uc`),
model scoring and the demo's training. mlflow is imported inside functions only."""

from __future__ import annotations

import os
from pathlib import Path

from lakecrew.adapters.mlflow.acl import SqliteAclStore
from lakecrew.adapters.mlflow.registry import MlflowRegistry


def local_store_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "mlflow"


def local_tracking_uri(state_dir: Path) -> str:
    return f"sqlite:///{(local_store_dir(state_dir) / 'mlflow.db').resolve()}"


def local_registry(state_dir: Path, *, read_model_metadata: bool = True) -> MlflowRegistry:
    """The project's embedded MLflow: SQLite tracking + registry, artifacts under `artifacts/`."""
    store = local_store_dir(state_dir)
    store.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    return MlflowRegistry(
        local_tracking_uri(state_dir),
        acl=SqliteAclStore(store / "acl.db"),
        workspace="local",
        read_model_metadata=read_model_metadata,
    )


def local_store_exists(state_dir: Path) -> bool:
    return (local_store_dir(state_dir) / "mlflow.db").exists()
