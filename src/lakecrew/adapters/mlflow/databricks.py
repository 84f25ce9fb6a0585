"""The ModelRegistry port on Databricks: workspace experiments (tracking URI `databricks`) and
the Unity Catalog registry (`databricks-uc`, three-part model names), through MLflow's own
Databricks clients; owners, UC model grants and experiment ACLs through the Databricks SDK.

What differs from the local MLflow store (read from MLflow's UC client, mlflow 3.17):

- UC *search* results carry no tags and no aliases (`registered_model_search_from_uc_proto` and
  `model_version_search_from_uc_proto` set both empty), and a model-version search needs a filter
  (`name='…'` or `run_id='…'`). So the registry is read as: registered models (paged search),
  each model's `get` (tags, aliases), each model's versions (search by name, paged) and each
  version's `get` (tags). Requests grow with the number of versions; the sweep benchmark of the
  local store is not a measure of this path.
- Signatures and input examples: the UC version proto carries neither, so each version's own
  `MLmodel` is read through MLflow's `UnityCatalogModelsArtifactRepository`
  (`models:/<name>/<version>`: list the version folder, download `MLmodel`). Where the workspace
  answers `is-databricks-sdk-models-artifact-repository-enabled` true, MLflow reads it with the
  Databricks SDK's Files API (`/Models/<catalog>/<schema>/<model>/<version>/MLmodel`); else it
  asks for temporary credentials of the version's cloud storage and needs that cloud's client
  (boto3, azure-storage-file-datalake, google-cloud-storage), which lakecrew does not install:
  then the version keeps `has_signature` True (UC refuses to register a model without one),
  `has_input_example` None (the rule does not judge it) and `metadata_unread` says why (a note
  of the sweep). No `MLmodel` in the folder is `artifact_problem` (a finding).
- A UC model's access is its UC grants (securable type FUNCTION): read with `grants.get`,
  changed with `grants.update` (only the difference), so archive's "restrict to the owner" and its
  rollback work. Permissions-API levels in an ACL are mapped (CAN_MANAGE → MANAGE, CAN_READ →
  EXECUTE); anything else must already be a UC privilege.
- Credentials: MLflow's Databricks clients read the SDK's configuration. With an `auth_profile`
  the URIs name it (`databricks://PROFILE`, `databricks-uc://PROFILE`); with only a `host`, the
  host is put in DATABRICKS_HOST for this process (the token comes from the environment as for
  every other command).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from databricks.sdk.service.catalog import PermissionsChange
from databricks.sdk.service.iam import AccessControlRequest, PermissionLevel

from lakecrew.adapters.databricks.client import guarded
from lakecrew.adapters.mlflow.registry import MlflowRegistry, _mlflow_uris, aliases_by_version
from lakecrew.core.errors import LakecrewError, UsageError
from lakecrew.ports.models import Acl, ModelVersion, RegisteredModel

UC_MODEL_SECURABLE = "FUNCTION"  # the securable type of UC registered models in grants APIs
_LEVEL_TO_PRIVILEGE = {"CAN_MANAGE": "MANAGE", "CAN_READ": "EXECUTE"}
_UC_MODEL_PRIVILEGES = {"ALL_PRIVILEGES", "APPLY_TAG", "EXECUTE", "MANAGE", "BROWSE"}


def _privilege(level: str) -> str:
    p = _LEVEL_TO_PRIVILEGE.get(level.upper(), level.upper())
    if p not in _UC_MODEL_PRIVILEGES:
        raise UsageError(
            f"{level!r} is not a privilege of a Unity Catalog model",
            fix=f"use one of {', '.join(sorted(_UC_MODEL_PRIVILEGES))}",
        )
    return p


class DatabricksAcl:
    """UC model grants (`registered-models`) and experiment ACLs (`experiments`)."""

    def __init__(self, workspace_client: Any) -> None:
        self.w = workspace_client

    def get(self, kind: str, object_id: str) -> tuple[Acl, ...] | None:
        if kind == "registered-models":
            got = guarded(
                lambda: self.w.grants.get(UC_MODEL_SECURABLE, object_id),
                where=object_id,
                action="grants.get",
            )
            grants = sorted(
                (
                    Acl(str(a.principal), p.value if hasattr(p, "value") else str(p))
                    for a in got.privilege_assignments or []
                    for p in a.privileges or []
                ),
                key=lambda a: (a.principal, a.level),
            )
            return tuple(grants) or None
        perms = guarded(
            lambda: self.w.permissions.get(kind, object_id), where=object_id,
            action="permissions.get",
        )  # fmt: skip
        out = []
        for entry in perms.access_control_list or []:
            who = entry.user_name or entry.group_name or entry.service_principal_name or ""
            for p in entry.all_permissions or []:
                if not p.inherited:
                    level = p.permission_level.value if p.permission_level else ""
                    out.append(Acl(who, level))
        return tuple(out) or None

    def put(self, kind: str, object_id: str, acl: Sequence[Acl] | None) -> None:
        if kind == "registered-models":
            self._put_grants(object_id, acl or ())
            return
        if kind != "experiments":
            raise LakecrewError(f"changing {kind} permissions is not supported on Databricks")
        entries = [_acl_request(a) for a in acl or ()]
        guarded(
            lambda: self.w.permissions.set(kind, object_id, access_control_list=entries),
            where=object_id,
            action="permissions.set",
        )

    def _put_grants(self, name: str, acl: Sequence[Acl]) -> None:
        want: dict[str, set[str]] = {}
        for a in acl:
            want.setdefault(a.principal, set()).add(_privilege(a.level))
        have: dict[str, set[str]] = {}
        for a in self.get("registered-models", name) or ():
            have.setdefault(a.principal, set()).add(a.level)
        changes = []
        for principal in sorted(set(want) | set(have)):
            add = sorted(want.get(principal, set()) - have.get(principal, set()))
            remove = sorted(have.get(principal, set()) - want.get(principal, set()))
            if add or remove:
                changes.append(
                    PermissionsChange.from_dict(
                        {"principal": principal, "add": add, "remove": remove}
                    )
                )
        if changes:
            guarded(
                lambda: self.w.grants.update(UC_MODEL_SECURABLE, name, changes=changes),
                where=name,
                action="grants.update",
            )


def _acl_request(a: Acl) -> AccessControlRequest:
    level = PermissionLevel(a.level)
    if "@" in a.principal:
        return AccessControlRequest(user_name=a.principal, permission_level=level)
    return AccessControlRequest(group_name=a.principal, permission_level=level)


class UcRegistry(MlflowRegistry):
    """MlflowRegistry with the reads Unity Catalog needs (see the module docstring)."""

    def list_models(self) -> list[RegisteredModel]:
        names = [
            m.name
            for m in self._paged("list registered models", self.client.search_registered_models)
        ]
        return [self.get_model(name) for name in names]

    def list_versions(self, model: str) -> list[ModelVersion]:
        rm = self._call(f"model {model}", self.client.get_registered_model, model)
        return self._versions_of(model, dict(rm.aliases or {}))

    def _versions_of(self, model: str, aliases: dict[str, Any]) -> list[ModelVersion]:
        by_version = aliases_by_version(aliases)
        out = []
        for row in self._versions_search(model):
            full = self._call(
                f"{model} v{row.version}", self.client.get_model_version, model, row.version
            )
            out.append(self._version(full, tuple(sorted(by_version.get(str(row.version), [])))))
        return sorted(out, key=lambda v: int(v.version) if v.version.isdigit() else 0)

    def list_all_versions(self) -> dict[str, list[ModelVersion]]:
        out: dict[str, list[ModelVersion]] = {}
        for model in self.list_models():
            versions = self._versions_of(model.name, dict(model.aliases))
            if versions:
                out[model.name] = versions
        return out

    def _metadata(self, v: Any) -> tuple[bool | None, bool | None, str | None]:
        """Signature and input example from the version's own `MLmodel` file, read through
        MLflow's UC artifact repository (see the module docstring); once per version."""
        key = f"{v.name}/{v.version}"
        if key not in self._meta:
            self._meta[key] = self._read_uc_mlmodel(str(v.name), str(v.version))
        return self._meta[key]

    def _read_uc_mlmodel(
        self, name: str, version: str
    ) -> tuple[bool | None, bool | None, str | None]:
        import tempfile

        from mlflow.models import Model
        from mlflow.store.artifact.unity_catalog_models_artifact_repo import (
            UnityCatalogModelsArtifactRepository,
        )

        self.requests += 1
        uri = f"models:/{name}/{version}"
        try:
            # the workspace's tracking URI for the call: left unset, MLflow 3 falls back to
            # sqlite:///mlflow.db and creates that file in the working folder
            with _mlflow_uris(self.tracking_uri):
                repo: Any = UnityCatalogModelsArtifactRepository(  # type: ignore[abstract]
                    uri, registry_uri=self.registry_uri, tracking_uri=self.tracking_uri
                )
                if "MLmodel" not in {f.path for f in repo.list_artifacts()}:
                    return True, None, f"model artifacts unreadable at {uri}: no MLmodel file"
                with tempfile.TemporaryDirectory(prefix="lakecrew-mlmodel-") as tmp:
                    info = Model.load(repo.download_artifacts("MLmodel", tmp))
        except Exception as exc:  # noqa: BLE001 - any failure to reach the files: not judged
            # UC registration requires a signature; the input example stays unjudged (None)
            self.unread[key_of(name, version)] = _why_unread(exc)
            return True, None, None
        return info.signature is not None, info.saved_input_example_info is not None, None


def key_of(name: str, version: str) -> str:
    return f"{name}/{version}"


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """True when `exc` or an exception in its cause/context chain is a `kind`."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _why_unread(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    if _caused_by(exc, ImportError) or "Unable to import necessary dependencies" in text:
        return (
            "the workspace keeps model files in customer-hosted cloud storage, which MLflow "
            "reads with that cloud's client library (boto3 / azure-storage / google-cloud-"
            "storage), not installed with lakecrew"
        )
    return f"{type(exc).__name__}: {text}"


def uc_uris(profile: str | None, host: str | None) -> tuple[str, str]:
    """Tracking and registry URIs for one workspace (see the module docstring)."""
    if profile:
        return f"databricks://{profile}", f"databricks-uc://{profile}"
    if host:
        os.environ["DATABRICKS_HOST"] = host
    return "databricks", "databricks-uc"


def databricks_registry(
    client: Any, *, workspace: str, profile: str | None, host: str | None = None
) -> MlflowRegistry:
    """The registry of one `backend: databricks` workspace (client: adapters.databricks)."""
    w = client.workspace_client()

    def owner_of(name: str) -> str | None:
        got = guarded(lambda: w.registered_models.get(name), where=name,
                      action="registered_models.get")  # fmt: skip
        return str(got.owner or "") or None

    tracking, registry = uc_uris(profile, host)
    owner: Callable[[str], str | None] = owner_of
    return UcRegistry(tracking, registry, acl=DatabricksAcl(w), workspace=workspace, owner_of=owner)
