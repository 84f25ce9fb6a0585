"""A Databricks workspace's MLflow side for the replay server: the Unity Catalog model registry
(`/api/2.0/mlflow/unity-catalog/*`), workspace experiments and runs (`/api/2.0/mlflow/*`), UC
model grants (`/api/2.1/unity-catalog/permissions/FUNCTION/*`), UC model info
(`/api/2.1/unity-catalog/models/*`) and experiment ACLs (`/api/2.0/permissions/experiments/*`).

A stateful handler (`DatabricksReplay(handlers=[UcRegistryState(...)])`) rather than a list of
recordings, because the archive and promote tests change aliases, tags and grants and read them
back. The payload shapes are those of MLflow's own protos (`databricks_uc_registry_messages`,
`service.proto`): the real MLflow client parses every answer into them, so a wrong field name
fails the test. No recorded UC registry payloads are public; the behaviours kept from the real
service, as MLflow's UC client documents them:

- search results carry no tags and no aliases (only `get` has them);
- a model-version search needs a filter `name='…'` or `run_id='…'` (else 400
  INVALID_PARAMETER_VALUE);
- paging by `max_results` / `page_token`; unknown names answer 404 RESOURCE_DOES_NOT_EXIST;
- model-version files (the `MLmodel` with signature and input example) through the Files API
  under `/Models/<catalog>/<schema>/<model>/<version>/`, which MLflow's UC client reads with the
  Databricks SDK when the workspace answers `is-databricks-sdk-models-artifact-repository-
  enabled` true (`sdk_artifacts`, default True). With False MLflow asks for temporary cloud
  credentials instead: answered with AWS-shaped ones for a customer-hosted S3 location
  (`generate-temporary-credentials`, `get-download-uri`), which need boto3 to use.

The estate comes from a JSON file (tests/fixtures/databricks/uc_registry/estate.json).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lakecrew.testing.databricks_replay import Answer, Request, _json, error_body

UC = "/api/2.0/mlflow/unity-catalog/"
_GRANTS = re.compile(r"^/api/2\.1/unity-catalog/permissions/(?i:function)/(.+)$")
_MODEL_INFO = re.compile(r"^/api/2\.1/unity-catalog/models/([^/]+)$")
_EXP_PERMS = re.compile(r"^/api/2\.0/permissions/experiments/([^/]+)$")
_FS = re.compile(r"^/api/2\.0/fs/(files|directories)(/Models/.*)$")
_FILTER = re.compile(r"^\s*(name|run_id)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$")
_RUN_IN = re.compile(r"attributes\.run_id\s+IN\s*\(([^)]*)\)", re.IGNORECASE)


def _kv(d: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted(d.items())]


def _q(req: Request, name: str) -> str | None:
    got = req.query.get(name)
    return got[0] if got else None


def _not_found(what: str) -> Answer:
    return _json(404, error_body(404, "RESOURCE_DOES_NOT_EXIST", f"{what} does not exist"))


def _bad(message: str) -> Answer:
    return _json(400, error_body(400, "INVALID_PARAMETER_VALUE", message))


def _tag_op(obj: dict[str, Any], op: str, body: dict[str, Any]) -> Answer:
    """`…/set-tag` and `…/delete-tag` on a model or a version."""
    tags = obj.setdefault("tags", {})
    if op.endswith("/set-tag"):
        tags[body["key"]] = body["value"]
    elif op.endswith("/delete-tag"):
        tags.pop(body["key"], None)
    else:
        return _json(404, error_body(404, "ENDPOINT_NOT_FOUND", f"no UC registry route {op}"))
    return _json(200, {})


def _page(rows: list[Any], req: Request, default: int) -> tuple[list[Any], str | None]:
    size = int(_q(req, "max_results") or (req.body or {}).get("max_results") or default)
    start = int(_q(req, "page_token") or (req.body or {}).get("page_token") or 0)
    nxt = start + size
    return rows[start:nxt], (str(nxt) if nxt < len(rows) else None)


class UcRegistryState:
    """The handler: `state.models[name]`, `state.runs`, `state.experiments` are plain dicts."""

    def __init__(self, estate: dict[str, Any]) -> None:
        self.models: dict[str, dict[str, Any]] = {m["name"]: m for m in estate["models"]}
        self.runs: dict[str, dict[str, Any]] = {r["info"]["run_id"]: r for r in estate["runs"]}
        self.experiments: list[dict[str, Any]] = estate["experiments"]
        self.sdk_artifacts = True
        self.lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> UcRegistryState:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def __call__(self, req: Request) -> Answer | None:
        with self.lock:
            if req.path.startswith(UC):
                return self._uc(req, req.path[len(UC) :])
            if req.path.startswith("/api/2.0/mlflow/"):
                return self._tracking(req, req.path[len("/api/2.0/mlflow/") :])
            fs = _FS.match(req.path)
            if fs:
                return self._files(fs.group(1), unquote(fs.group(2)))
            for pattern, fn in (
                (_GRANTS, self._grants),
                (_MODEL_INFO, self._model_info),
                (_EXP_PERMS, self._exp_perms),
            ):
                m = pattern.match(req.path)
                if m:
                    return fn(req, unquote(m.group(1)))
        return None

    # ------------------------------------------------------------ UC registry

    def _model_json(self, m: dict[str, Any], *, full: bool) -> dict[str, Any]:
        out = {
            "name": m["name"],
            "description": m.get("description", ""),
            "creation_timestamp": m["created_ms"],
            "last_updated_timestamp": m["created_ms"],
        }
        if full:
            out["aliases"] = [
                {"alias": a, "version": v} for a, v in sorted(m.get("aliases", {}).items())
            ]
            out["tags"] = _kv(m.get("tags", {}))
        return out

    def _version_json(self, m: dict[str, Any], v: dict[str, Any], *, full: bool) -> dict[str, Any]:
        out = {
            "name": m["name"],
            "version": v["version"],
            "description": v.get("description", ""),
            "creation_timestamp": v["created_ms"],
            "last_updated_timestamp": v["created_ms"],
            "user_id": v.get("user_id", ""),
            "source": v.get("source", ""),
            "run_id": v.get("run_id", ""),
            "status": "READY",
        }
        if full:
            out["tags"] = _kv(v.get("tags", {}))
            out["aliases"] = [
                {"alias": a, "version": v["version"]}
                for a, ver in sorted(m.get("aliases", {}).items())
                if ver == v["version"]
            ]
        return out

    def _uc(self, req: Request, op: str) -> Answer:
        body = req.body or {}
        name = _q(req, "name") or body.get("name")
        if op == "registered-models/search":
            rows, token = _page(sorted(self.models), req, 100)
            page = [self._model_json(self.models[n], full=False) for n in rows]
            return _json(200, {"registered_models": page, "next_page_token": token})
        if op == "model-versions/search":
            return self._search_versions(req)
        if op == "registered-models:is-databricks-sdk-models-artifact-repository-enabled":
            flag = self.sdk_artifacts
            return _json(200, {"is_databricks_sdk_models_artifact_repository_enabled": flag})
        model = self.models.get(str(name))
        if model is None:
            return _not_found(f"Registered model '{name}'")
        if op == "registered-models/get":
            return _json(200, {"registered_model": self._model_json(model, full=True)})
        if op == "registered-models/alias":
            aliases = model.setdefault("aliases", {})
            if req.method == "POST":
                aliases[body["alias"]] = str(body["version"])
            elif req.method == "DELETE":
                aliases.pop(body["alias"], None)
            return _json(200, {})
        if op.startswith("registered-models/"):
            return _tag_op(model, op, body)
        return self._uc_version(req, op, model)

    def _uc_version(self, req: Request, op: str, model: dict[str, Any]) -> Answer:
        body = req.body or {}
        version_id = str(_q(req, "version") or body.get("version"))
        version = model.get("versions", {}).get(version_id)
        if version is None:
            return _not_found(f"Model version {model['name']} v{version_id}")
        if op == "model-versions/get":
            return _json(200, {"model_version": self._version_json(model, version, full=True)})
        if op == "model-versions/emit-lineage":  # MLflow's best-effort read lineage
            return _json(200, {})
        if op == "model-versions/generate-temporary-credentials":
            creds = {"access_key_id": "ASIAEMULATED", "secret_access_key": "emulated",
                     "session_token": "emulated"}  # fmt: skip
            return _json(200, {"credentials": {"aws_temp_credentials": creds,
                                               "storage_mode": "CUSTOMER_HOSTED"}})  # fmt: skip
        if op == "model-versions/get-download-uri":
            where = f"s3://uc-models/{model['name'].replace('.', '/')}/{version_id}"
            return _json(200, {"artifact_uri": where})
        return _tag_op(version, op, body)

    # ------------------------------------------------------------ model-version files

    def _files(self, api: str, path: str) -> Answer:
        """Files API over `/Models/<catalog>/<schema>/<model>/<version>[/file]` (the version
        folder is a directory; its files come from the estate's `files` of each version)."""
        parts = path.strip("/").split("/")
        name = ".".join(parts[1:4])
        version = (
            self.models.get(name, {}).get("versions", {}).get(parts[4] if len(parts) > 4 else "")
        )
        if version is None:
            return _json(404, error_body(404, "NOT_FOUND", f"{path} does not exist"))
        files: dict[str, str] = version.get("files", {})
        rest = "/".join(parts[5:])
        if api == "directories" and not rest:
            entries = [
                {"path": f"{path.rstrip('/')}/{f}", "is_directory": False, "name": f,
                 "file_size": len(files[f].encode())}
                for f in sorted(files)
            ]  # fmt: skip
            return _json(200, {"contents": entries})
        if api == "files" and rest in files:
            return 200, {}, files[rest].encode(), "application/octet-stream"
        return _json(404, error_body(404, "NOT_FOUND", f"{path} does not exist"))

    def _search_versions(self, req: Request) -> Answer:
        raw = _q(req, "filter") or ""
        m = _FILTER.match(raw)
        if m is None:
            return _bad(
                "Model version search needs a filter `name='<model>'` or `run_id='<run>'`, "
                f"got {raw!r}"
            )
        field, value = m.group(1), m.group(2).replace("\\'", "'")
        rows = [
            self._version_json(model, v, full=False)
            for model in (self.models[n] for n in sorted(self.models))
            for _, v in sorted(model.get("versions", {}).items(), key=lambda kv: int(kv[0]))
            if (model["name"] == value if field == "name" else v.get("run_id") == value)
        ]
        page, token = _page(rows, req, 10_000)
        return _json(200, {"model_versions": page, "next_page_token": token})

    # ------------------------------------------------------------ tracking

    def _tracking(self, req: Request, op: str) -> Answer | None:
        body = req.body or {}
        if op == "experiments/search":
            rows, token = _page(self.experiments, req, 1000)
            exps = [
                {
                    "experiment_id": e["experiment_id"],
                    "name": e["name"],
                    "lifecycle_stage": e.get("lifecycle_stage", "active"),
                    "tags": _kv(e.get("tags", {})),
                }
                for e in rows
            ]
            return _json(200, {"experiments": exps, "next_page_token": token})
        if op == "runs/search":
            m = _RUN_IN.search(body.get("filter", ""))
            ids = re.findall(r"'([^']*)'", m.group(1)) if m else list(self.runs)
            runs = [self.runs[i] for i in ids if i in self.runs]
            return _json(200, {"runs": runs})
        if op == "runs/get":
            run = self.runs.get(str(_q(req, "run_id")))
            if run is None:
                return _not_found(f"Run '{_q(req, 'run_id')}'")
            return _json(200, {"run": run})
        return None

    # ------------------------------------------------------------ SDK side

    def _grants(self, req: Request, name: str) -> Answer:
        model = self.models.get(name)
        if model is None:
            return _not_found(f"Function '{name}'")
        grants: dict[str, list[str]] = model.setdefault("grants", {})
        if req.method == "PATCH":
            for change in (req.body or {}).get("changes", []):
                held = set(grants.get(change["principal"], []))
                held |= set(change.get("add", []))
                held -= set(change.get("remove", []))
                if held:
                    grants[change["principal"]] = sorted(held)
                else:
                    grants.pop(change["principal"], None)
        assignments = [{"principal": p, "privileges": ps} for p, ps in sorted(grants.items())]
        return _json(200, {"privilege_assignments": assignments})

    def _model_info(self, req: Request, name: str) -> Answer:
        model = self.models.get(name)
        if model is None:
            return _not_found(f"Registered model '{name}'")
        catalog, schema, short = name.split(".")
        return _json(
            200,
            {
                "full_name": name,
                "catalog_name": catalog,
                "schema_name": schema,
                "name": short,
                "owner": model.get("owner"),
                "comment": model.get("description", ""),
                "created_at": model["created_ms"],
                "updated_at": model["created_ms"],
            },
        )

    def _exp_perms(self, req: Request, exp_id: str) -> Answer:
        exp = next((e for e in self.experiments if e["experiment_id"] == exp_id), None)
        if exp is None:
            return _not_found(f"Experiment '{exp_id}'")
        if req.method in ("PUT", "PATCH"):
            exp["acl"] = [
                {
                    "principal": a.get("user_name") or a.get("group_name"),
                    "level": a["permission_level"],
                }
                for a in (req.body or {}).get("access_control_list", [])
            ]
        acl = [
            {
                ("user_name" if "@" in a["principal"] else "group_name"): a["principal"],
                "all_permissions": [{"permission_level": a["level"], "inherited": False}],
            }
            for a in exp.get("acl", [])
        ]
        return _json(
            200,
            {
                "object_id": f"/experiments/{exp_id}",
                "object_type": "mlflowExperiment",
                "access_control_list": acl,
            },
        )
