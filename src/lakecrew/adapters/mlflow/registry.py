"""The ModelRegistry port over MLflow's client, for both backends.

- local: `sqlite:///<project>/.lakecrew/mlflow/mlflow.db` for tracking and registry, artifacts
  under `.lakecrew/mlflow/artifacts`; access-control lists (which OSS MLflow lacks) are kept in
  `acl.db` next to it, in the Databricks Permissions API's shape.
- databricks: tracking URI `databricks`, registry URI `databricks-uc` (Unity Catalog models, three-
  part names); owners and permissions come from the Databricks SDK through `owner_of`/`acl`.

mlflow is imported inside the methods (1-6 s): `lakecrew --help` never pays for it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from lakecrew.core.errors import LakecrewError, NotFound
from lakecrew.ports.models import (
    Acl,
    DatasetRef,
    Experiment,
    ModelVersion,
    RegisteredModel,
    RunFacts,
)

COMMIT_TAG = "mlflow.source.git.commit"
_URI_LOCK = threading.Lock()
CONTEXT_TAG = "mlflow.data.context"


class AclStore(Protocol):
    def get(self, kind: str, object_id: str) -> tuple[Acl, ...] | None: ...

    def put(self, kind: str, object_id: str, acl: Sequence[Acl] | None) -> None: ...


def _ts(ms: int | None) -> datetime:
    return datetime.fromtimestamp((ms or 0) / 1000, tz=UTC)


@contextmanager
def _mlflow_uris(tracking_uri: str) -> Iterator[None]:
    """MLflow's global tracking URI set to this registry's for one call, then put back.

    `mlflow.models.get_model_info("models:/m-…")` (MLflow 3 logged-model sources) resolves through
    the *global* tracking URI; left unset, MLflow 3 falls back to `sqlite:///mlflow.db` in the
    working folder — it created that file there and reported every version's artifacts missing.
    MLflow's own `_use_tracking_uri` (mlflow is pinned in requirements/lock.txt) under a lock."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _URI_LOCK, _use_tracking_uri(tracking_uri):
        yield


def _mlflow_error(exc: Exception, what: str) -> LakecrewError:
    code = getattr(exc, "error_code", "")
    if code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
        return NotFound(f"{what}: not found in the MLflow registry")
    return LakecrewError(f"{what}: MLflow said {str(exc).splitlines()[0][:200]}")


class MlflowRegistry:
    """ModelRegistry + ModelRegistryWriter over one MLflow tracking store and registry."""

    def __init__(
        self,
        tracking_uri: str,
        registry_uri: str | None = None,
        *,
        acl: AclStore,
        workspace: str | None = None,
        owner_of: Callable[[str], str | None] | None = None,
        read_model_metadata: bool = True,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.acl = acl
        self.workspace = workspace
        self.owner_of = owner_of
        self.read_model_metadata = read_model_metadata
        self._client: Any = None
        self._meta: dict[str, tuple[bool | None, bool | None, str | None]] = {}
        self.unread: dict[str, str] = {}  # "model/version" → why its MLmodel was not read
        self.requests = 0  # registry/tracking calls made (the sweep benchmark reports it)

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
            )
        return self._client

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        from mlflow.exceptions import MlflowException

        self.requests += 1
        try:
            return fn(*args, **kw)
        except MlflowException as exc:
            raise _mlflow_error(exc, what) from None

    def _paged(self, what: str, fn: Callable[..., Any], **kw: Any) -> list[Any]:
        out: list[Any] = []
        token = None
        while True:
            page = self._call(what, fn, page_token=token, **kw)
            out.extend(page)
            token = page.token
            if not token:
                return out

    # ------------------------------------------------------------------ read

    def list_models(self) -> list[RegisteredModel]:
        rows = self._paged("list registered models", self.client.search_registered_models)
        return [self._model(m) for m in rows]

    def _model(self, m: Any) -> RegisteredModel:
        tags = dict(m.tags or {})
        owner = self.owner_of(m.name) if self.owner_of else tags.get("owner")
        return RegisteredModel(
            name=m.name,
            description=m.description or "",
            owner=owner or None,
            tags=tags,
            aliases={str(k): str(v) for k, v in (m.aliases or {}).items()},
            created_at=_ts(m.creation_timestamp),
            updated_at=_ts(m.last_updated_timestamp),
        )

    def get_model(self, name: str) -> RegisteredModel:
        return self._model(self._call(f"model {name}", self.client.get_registered_model, name))

    def list_versions(self, model: str) -> list[ModelVersion]:
        rm = self._call(f"model {model}", self.client.get_registered_model, model)
        by_version = aliases_by_version(rm.aliases or {})
        rows = self._versions_search(model)
        out = [self._version(v, tuple(sorted(by_version.get(str(v.version), [])))) for v in rows]
        return sorted(out, key=lambda v: int(v.version) if v.version.isdigit() else 0)

    def _versions_search(self, model: str) -> list[Any]:
        """The versions of one model (paged search filtered by name)."""
        escaped = model.replace("'", "\\'")
        return self._paged(
            f"versions of {model}",
            self.client.search_model_versions,
            filter_string=f"name='{escaped}'",
        )

    def list_all_versions(self) -> dict[str, list[ModelVersion]]:
        """Every version of every model in a few paged calls (aliases from the models)."""
        aliases: dict[tuple[str, str], list[str]] = {}
        for m in self._paged("list registered models", self.client.search_registered_models):
            for alias, version in (m.aliases or {}).items():
                aliases.setdefault((m.name, str(version)), []).append(str(alias))
        rows = self._paged(
            "list model versions", self.client.search_model_versions, max_results=10_000
        )
        out: dict[str, list[ModelVersion]] = {}
        for v in rows:
            key = (v.name, str(v.version))
            out.setdefault(v.name, []).append(self._version(v, tuple(sorted(aliases.get(key, [])))))
        for vs in out.values():
            vs.sort(key=lambda x: int(x.version) if x.version.isdigit() else 0)
        return out

    def run_facts_many(self, run_ids: Sequence[str]) -> dict[str, RunFacts]:
        """RunFacts of many runs with batched searches (100 ids per call); unknown ids are
        read one by one so each gets its own `problem` (deleted, not found)."""
        from mlflow.entities import ViewType

        out: dict[str, RunFacts] = {}
        ids = list(dict.fromkeys(run_ids))
        experiments = [
            e.experiment_id
            for e in self._paged(
                "list experiments", self.client.search_experiments, view_type=ViewType.ALL
            )
        ]
        for i in range(0, len(ids), 100):
            chunk = ids[i : i + 100]
            quoted = ", ".join(f"'{r}'" for r in chunk if r.isalnum())
            if not quoted or not experiments:
                continue
            runs = self._paged(
                "search runs",
                self.client.search_runs,
                experiment_ids=experiments,
                filter_string=f"attributes.run_id IN ({quoted})",
                run_view_type=ViewType.ALL,
                max_results=1000,
            )
            for run in runs:
                out[run.info.run_id] = run_facts_of(run)
        for rid in ids:
            if rid not in out:
                out[rid] = self.run_facts(rid)
        return out

    def _version(self, v: Any, aliases: tuple[str, ...]) -> ModelVersion:
        sig, example, problem = (
            self._metadata(v) if self.read_model_metadata else (None, None, None)
        )
        return ModelVersion(
            model=v.name,
            version=str(v.version),
            run_id=v.run_id or None,
            source=v.source or "",
            description=v.description or "",
            tags=dict(v.tags or {}),
            aliases=aliases,
            status=str(v.status or ""),
            created_at=_ts(v.creation_timestamp),
            updated_at=_ts(v.last_updated_timestamp),
            has_signature=sig,
            has_input_example=example,
            artifact_problem=problem,
            workspace=self.workspace,
            metadata_unread=self.unread.get(f"{v.name}/{v.version}"),
        )

    def _metadata(self, v: Any) -> tuple[bool | None, bool | None, str | None]:
        """Signature and input example from the version's MLmodel file (artifacts may be gone);
        read once per source (versions registered from one logged model share it)."""
        uri = v.source or f"models:/{v.name}/{v.version}"
        if uri not in self._meta:
            self._meta[uri] = self._read_metadata(uri)
        return self._meta[uri]

    def _read_metadata(self, uri: str) -> tuple[bool | None, bool | None, str | None]:
        import mlflow.models

        self.requests += 1
        try:
            with _mlflow_uris(self.tracking_uri):
                info = mlflow.models.get_model_info(uri)
        except Exception as exc:  # noqa: BLE001 - any artifact-store failure means "missing"
            return None, None, f"model artifacts unreadable at {uri}: {type(exc).__name__}"
        return info.signature is not None, info.saved_input_example_info is not None, None

    def run_facts(self, run_id: str) -> RunFacts:
        from mlflow.exceptions import MlflowException

        self.requests += 1
        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            code = getattr(exc, "error_code", "")
            why = "not found in this workspace's tracking store"
            if code not in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                why = f"unreadable: {str(exc).splitlines()[0][:160]}"
            return RunFacts(run_id=run_id, problem=f"run {run_id} {why}")
        return run_facts_of(run)

    def list_experiments(self) -> list[Experiment]:
        rows = self._paged("list experiments", self.client.search_experiments)
        out = []
        for e in rows:
            out.append(
                Experiment(
                    experiment_id=str(e.experiment_id),
                    name=e.name,
                    tags=dict(e.tags or {}),
                    permissions=self.acl.get("experiments", str(e.experiment_id)),
                    deleted=e.lifecycle_stage == "deleted",
                )
            )
        return out

    # ------------------------------------------------------------------ write

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self._call(
            f"alias {alias} of {model}",
            self.client.set_registered_model_alias,
            model,
            alias,
            version,
        )

    def delete_alias(self, model: str, alias: str) -> None:
        self._call(
            f"alias {alias} of {model}", self.client.delete_registered_model_alias, model, alias
        )

    def set_version_tags(
        self, model: str, version: str, tags: Mapping[str, str], remove: Sequence[str] = ()
    ) -> None:
        for key, value in tags.items():
            self._call(
                f"tag {key} on {model} v{version}",
                self.client.set_model_version_tag,
                model,
                version,
                key,
                value,
            )
        for key in remove:
            self._call(
                f"tag {key} on {model} v{version}",
                self.client.delete_model_version_tag,
                model,
                version,
                key,
            )

    def set_model_tags(
        self, model: str, tags: Mapping[str, str], remove: Sequence[str] = ()
    ) -> None:
        for key, value in tags.items():
            self._call(
                f"tag {key} on {model}", self.client.set_registered_model_tag, model, key, value
            )
        for key in remove:
            self._call(
                f"remove tag {key} from {model}",
                self.client.delete_registered_model_tag,
                model,
                key,
            )

    def set_permissions(self, model: str, acl: Sequence[Acl] | None) -> None:
        self.acl.put("registered-models", model, acl)

    def permissions(self, model: str) -> tuple[Acl, ...] | None:
        return self.acl.get("registered-models", model)

    def set_experiment_permissions(self, experiment_id: str, acl: Sequence[Acl] | None) -> None:
        self.acl.put("experiments", experiment_id, acl)


def aliases_by_version(aliases: Mapping[str, Any]) -> dict[str, list[str]]:
    """alias → version map turned into version → [aliases]."""
    out: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        out.setdefault(str(version), []).append(str(alias))
    return out


def run_facts_of(run: Any) -> RunFacts:
    """RunFacts from an MLflow Run entity (metrics NaN/inf are reported, not kept)."""
    tags = dict(run.data.tags or {})
    metrics: dict[str, float] = {}
    bad: list[str] = []
    for key, value in (run.data.metrics or {}).items():
        if isinstance(value, int | float) and math.isfinite(value):
            metrics[key] = float(value)
        else:
            bad.append(key)
    datasets = []
    for di in getattr(run.inputs, "dataset_inputs", None) or []:
        ctx = next((t.value for t in di.tags or [] if t.key == CONTEXT_TAG), None)
        d = di.dataset
        datasets.append(DatasetRef(d.name, d.digest, d.source_type, d.source, ctx))
    return RunFacts(
        run_id=run.info.run_id,
        experiment_id=str(run.info.experiment_id),
        status=run.info.status,
        deleted=run.info.lifecycle_stage == "deleted",
        source_commit=tags.get(COMMIT_TAG) or None,
        user=tags.get("mlflow.user") or run.info.user_id or None,
        datasets=tuple(datasets),
        metrics=metrics,
        bad_metrics=tuple(sorted(bad)),
        params=dict(run.data.params or {}),
        problem=(
            f"run {run.info.run_id} is deleted" if run.info.lifecycle_stage == "deleted" else None
        ),
    )
