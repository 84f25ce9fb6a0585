"""ModelRegistry port: registered models, their versions, the runs behind them, experiments.

One port serves the embedded MLflow store (SQLite tracking + registry, local artifacts) and
Databricks (workspace experiments + the Unity Catalog registry, `databricks-uc`). Lifecycle labels
are MLflow 3 aliases (`champion`, `challenger`) and tags; the deprecated stages are never used.
Values are plain frozen dataclasses; timestamps are timezone-aware datetimes.

A version whose run was deleted, whose run lives in another workspace, or whose model artifacts
are missing is still listed: `RunFacts.problem` / `ModelVersion.artifact_problem` say what is wrong
instead of the listing failing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class DatasetRef:
    """An input dataset logged on a run (`mlflow.log_input`): name, digest, source, context."""

    name: str
    digest: str
    source_type: str
    source: str
    context: str | None = None


@dataclass(frozen=True)
class RunFacts:
    """What hygiene and lineage need from a version's source run.

    `metrics` holds finite numbers only; `bad_metrics` names metrics that are NaN/inf (MLflow
    stores floats, so "non-numeric" arrives as NaN). `problem` is set when the run could not be
    read (deleted, not found, in another workspace).
    """

    run_id: str
    experiment_id: str | None = None
    status: str | None = None
    deleted: bool = False
    source_commit: str | None = None
    user: str | None = None
    datasets: tuple[DatasetRef, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    bad_metrics: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    problem: str | None = None


@dataclass(frozen=True)
class ModelVersion:
    """One registered version (aliases filled from the registered model, not from search)."""

    model: str
    version: str
    run_id: str | None
    source: str
    description: str
    tags: Mapping[str, str]
    aliases: tuple[str, ...]
    status: str
    created_at: datetime
    updated_at: datetime
    has_signature: bool | None = None  # None: the model's metadata could not be read
    has_input_example: bool | None = None
    artifact_problem: str | None = None
    workspace: str | None = None
    # why signature / input example could not be read (not a finding: the rules leave them
    # unjudged and the sweep says so in its notes), e.g. files in customer-hosted storage
    metadata_unread: str | None = None


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model: name (three-part in Unity Catalog), owner, description, tags, aliases."""

    name: str
    description: str
    owner: str | None
    tags: Mapping[str, str]
    aliases: Mapping[str, str]  # alias -> version
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Acl:
    """One access-control entry (Permissions API shape): principal and permission level."""

    principal: str
    level: str


@dataclass(frozen=True)
class Experiment:
    """An experiment; `permissions` None means no access control list is set on it."""

    experiment_id: str
    name: str
    tags: Mapping[str, str]
    permissions: tuple[Acl, ...] | None
    deleted: bool = False


class ModelRegistry(Protocol):
    """Read the registry and the tracking store."""

    def list_models(self) -> list[RegisteredModel]: ...

    def get_model(self, name: str) -> RegisteredModel: ...

    def list_versions(self, model: str) -> list[ModelVersion]:
        """Every version of `model` with aliases, signature and input-example facts."""
        ...

    def list_all_versions(self) -> dict[str, list[ModelVersion]]:
        """Every model's versions at once (a sweep's paged read); models without versions absent."""
        ...

    def run_facts(self, run_id: str) -> RunFacts:
        """The run behind a version; a RunFacts with `problem` set when it cannot be read."""
        ...

    def run_facts_many(self, run_ids: Sequence[str]) -> dict[str, RunFacts]: ...

    def list_experiments(self) -> list[Experiment]: ...


class ModelRegistryWriter(Protocol):
    """The changes the crew and promotions make (each reversible by its inverse call)."""

    def set_alias(self, model: str, alias: str, version: str) -> None: ...

    def delete_alias(self, model: str, alias: str) -> None: ...

    def set_version_tags(
        self, model: str, version: str, tags: Mapping[str, str], remove: Sequence[str] = ()
    ) -> None: ...

    def set_model_tags(
        self, model: str, tags: Mapping[str, str], remove: Sequence[str] = ()
    ) -> None: ...

    def set_permissions(self, model: str, acl: Sequence[Acl] | None) -> None:
        """Replace the model's access-control list (None clears it)."""
        ...

    def permissions(self, model: str) -> tuple[Acl, ...] | None: ...


class ModelStore(ModelRegistry, ModelRegistryWriter, Protocol):
    """Both sides of one registry (what actions and promotions need)."""


class ModelScorer(Protocol):
    """Load a registered version and predict (promotion gates, batch scoring)."""

    def predict(self, model: str, version: str, columns: Mapping[str, Any]) -> list[float]:
        """Scores (positive-class probability or value) for feature columns (arrays/lists)."""
        ...
