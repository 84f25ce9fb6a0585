"""MLflow hygiene (SOP 3.1.5): the registry as crew resources for the SOP pack's model rules.

Three resource types, REST-like dicts the pack's filters read:

- `models`: name, owner, description, tags, `missing_tags` (project tags from lakecrew.yaml the
  model lacks) and `missing_tag_values` (their values, what `add_model_tags` sets),
  `version_count`, aliases, `last_used`.
- `model_versions` (id `name/version`): description, tags, aliases, `production` (holds a
  production alias), `catalog`, `in_prod_catalog`, `has_signature`, `has_input_example`,
  `artifact_problem`, `metadata_unread` (why the MLmodel was not read), `run` {run_id,
  problem, source_commit, datasets, evaluation_metrics,
  bad_metrics}, `last_used` and `last_use_source` (inference table, else last alias change, else
  registration), `lifecycle` (tag `gov.lifecycle`).
- `experiments`: experiment_id, name, `permissions` (None when no ACL is set).

Last use: the newest inference-table row for the model version when the model declares an
inference table, else the newest alias move lakecrew recorded (`gov.alias_changed_at`), else the
version's registration time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lakecrew.core.resources import Resource
from lakecrew.ports.models import ModelRegistry, ModelVersion, RegisteredModel, RunFacts
from lakecrew.services.mlops.config import MlopsConfig

LIFECYCLE_TAG = "gov.lifecycle"
ALIAS_CHANGED_TAG = "gov.alias_changed_at"
MODELS_SCOPE = "(models)"
# Rules the drift monitor records in the `(models)` scope (services/mlops/monitor.py): a registry
# sweep does not judge them, so it never resolves their findings.
MONITOR_RULES = frozenset(
    {"model.feature_drift", "model.prediction_drift", "model.inference_schema",
     "model.performance_drop"}
)  # fmt: skip

LastUse = Callable[[str, str], datetime | None]  # (model, version) -> last inference time


@dataclass(frozen=True)
class RegistryView:
    """One read of the registry: models, their versions and the versions' runs."""

    models: tuple[RegisteredModel, ...]
    versions: Mapping[str, tuple[ModelVersion, ...]]
    runs: Mapping[str, RunFacts]

    def version(self, model: str, version: str) -> ModelVersion | None:
        return next((v for v in self.versions.get(model, ()) if v.version == version), None)


def read_registry(registry: ModelRegistry) -> RegistryView:
    """Every model, version and source run (a run read once even if several versions share it)."""
    models = tuple(registry.list_models())
    every = registry.list_all_versions()
    versions = {m.name: tuple(every.get(m.name, ())) for m in models}
    ids = [v.run_id for vs in versions.values() for v in vs if v.run_id]
    return RegistryView(models, versions, registry.run_facts_many(ids))


def unread_notes(resources: Iterable[Resource]) -> tuple[str, ...]:
    """One line per reason a version's signature / input example could not be read (their
    rules do not judge those versions: said, never silent)."""
    why: dict[str, list[str]] = {}
    for r in resources:
        if r.resource_type == "model_versions" and r.data.get("metadata_unread"):
            why.setdefault(str(r.data["metadata_unread"]), []).append(r.resource_id)
    return tuple(
        f"MLmodel of {len(ids)} model version(s) not read ({', '.join(sorted(ids)[:3])}"
        f"{', …' if len(ids) > 3 else ''}): {reason}; their input examples were not judged"
        for reason, ids in sorted(why.items())
    )


def catalog_of(model: str) -> str | None:
    parts = model.split(".")
    return parts[0] if len(parts) == 3 else None


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None


def last_use(v: ModelVersion, last_inference: LastUse | None) -> tuple[datetime, str]:
    seen = last_inference(v.model, v.version) if last_inference else None
    if seen is not None:
        return seen, "inference_table"
    moved = v.tags.get(ALIAS_CHANGED_TAG)
    if moved:
        try:
            return datetime.fromisoformat(moved), "alias_change"
        except ValueError:
            pass
    return v.created_at, "registered"


def run_data(run: RunFacts | None, cfg: MlopsConfig) -> dict[str, Any]:
    if run is None:
        return {"run_id": None, "problem": "version has no source run"}
    wanted = {m.lower() for m in cfg.evaluation_metrics}
    evals = sorted(k for k in run.metrics if _metric_base(k) in wanted)
    return {
        "run_id": run.run_id,
        "problem": run.problem,
        "source_commit": run.source_commit,
        "datasets": [
            {
                "name": d.name,
                "digest": d.digest,
                "source_type": d.source_type,
                "source": d.source,
                "context": d.context,
            }
            for d in run.datasets
        ],
        "evaluation_metrics": evals,
        "bad_metrics": list(run.bad_metrics),
    }


def _metric_base(key: str) -> str:
    """`val_f1_score` → f1, `test_accuracy` → accuracy, `recall_score` → recall."""
    k = key.lower()
    for prefix in ("training_", "train_", "val_", "validation_", "test_", "eval_", "holdout_"):
        if k.startswith(prefix):
            k = k[len(prefix) :]
    for suffix in ("_score",):
        if k.endswith(suffix):
            k = k[: -len(suffix)]
    return "f1" if k in ("f1", "f1score") else k


def version_resource(
    v: ModelVersion,
    model: RegisteredModel,
    run: RunFacts | None,
    cfg: MlopsConfig,
    last_inference: LastUse | None,
) -> Resource:
    used, source = last_use(v, last_inference)
    production = any(a in cfg.production_aliases for a in v.aliases)
    catalog = catalog_of(v.model)
    data = {
        "id": f"{v.model}/{v.version}",
        "model": v.model,
        "version": v.version,
        "owner": model.owner,
        "description": v.description,
        "tags": dict(v.tags),
        "aliases": list(v.aliases),
        "production": production,
        "catalog": catalog,
        "in_prod_catalog": (cfg.prod_catalog is None or catalog == cfg.prod_catalog),
        "has_signature": v.has_signature,
        "has_input_example": v.has_input_example,
        "artifact_problem": v.artifact_problem,
        "metadata_unread": v.metadata_unread,
        "run": run_data(run, cfg),
        "last_used": _iso(used),
        "last_use_source": source,
        "lifecycle": v.tags.get(LIFECYCLE_TAG),
        "status": v.status,
    }
    rid = f"{v.model}/{v.version}"
    return Resource("model_versions", rid, MODELS_SCOPE, data, rid)


def model_resource(
    m: RegisteredModel, versions: Iterable[ModelVersion], cfg: MlopsConfig, last_used: str | None
) -> Resource:
    vs = list(versions)
    settings = cfg.settings(m.name)
    wanted = dict(cfg.project_tags)
    if settings.owner:
        wanted.setdefault("owner", settings.owner)
    data = {
        "name": m.name,
        "full_name": m.name,
        "owner": m.owner,
        "description": m.description,
        "tags": dict(m.tags),
        "missing_tags": sorted(k for k in wanted if not m.tags.get(k)),
        "missing_tag_values": {k: v for k, v in sorted(wanted.items()) if not m.tags.get(k)},
        "version_count": len(vs),
        "aliases": dict(m.aliases),
        "last_used": last_used,
    }
    return Resource("models", m.name, MODELS_SCOPE, data, m.name)


def registry_resources(
    view: RegistryView,
    experiments: Iterable[Any],
    cfg: MlopsConfig,
    last_inference: LastUse | None = None,
) -> list[Resource]:
    """The `models`, `model_versions` and `experiments` resources of one registry read."""
    out: list[Resource] = []
    for m in view.models:
        vs = view.versions.get(m.name, ())
        vres = [
            version_resource(
                v, m, view.runs.get(v.run_id) if v.run_id else None, cfg, last_inference
            )
            for v in vs
        ]
        newest = max((r.data["last_used"] for r in vres if r.data["last_used"]), default=None)
        out.append(model_resource(m, vs, cfg, newest or _iso(m.updated_at)))
        out.extend(vres)
    for e in experiments:
        if e.deleted:
            continue
        data = {
            "experiment_id": e.experiment_id,
            "name": e.name,
            "tags": dict(e.tags),
            "permissions": (
                None
                if e.permissions is None
                else [{"principal": a.principal, "level": a.level} for a in e.permissions]
            ),
        }
        out.append(Resource("experiments", e.experiment_id, MODELS_SCOPE, data, e.name))
    return out
