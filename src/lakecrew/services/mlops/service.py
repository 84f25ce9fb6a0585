"""ModelOps: the use cases behind `lakecrew models` and `lakecrew model promote|drift|hygiene`.

Everything goes through ports: the ModelRegistry (MLflow locally, `databricks-uc` on
Databricks), the crew ledger (actions, findings), the Lineage store, a ModelScorer and a
column reader over the lakehouse (`read_columns(table, version, columns)`).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lakecrew.core.errors import NotFound, UsageError
from lakecrew.core.findings import EvaluationContext, Finding
from lakecrew.core.pack import Pack
from lakecrew.ports.catalog import Lineage, LineageEdge
from lakecrew.ports.clock import Clock
from lakecrew.ports.ledger import ActionRow, LedgerStore
from lakecrew.ports.models import Acl, DatasetRef, ModelScorer, ModelStore
from lakecrew.services.crew.policy_step import Evaluation, check_coverage
from lakecrew.services.crew.snapshot import Snapshot, WorkspaceInfo
from lakecrew.services.mlops import gates as gate_eval
from lakecrew.services.mlops.actions import ModelActionRunner, Promote
from lakecrew.services.mlops.config import MlopsConfig
from lakecrew.services.mlops.hygiene import (
    ALIAS_CHANGED_TAG,
    LIFECYCLE_TAG,
    MODELS_SCOPE,
    MONITOR_RULES,
    LastUse,
    RegistryView,
    read_registry,
    registry_resources,
    unread_notes,
)
from lakecrew.services.policy.engine import Engine

ReadColumns = Callable[[str, int | None, Sequence[str] | None], dict[str, np.ndarray]]


@dataclass
class MlopsDeps:
    registry: ModelStore
    ledger: LedgerStore
    clock: Clock
    config: MlopsConfig
    pack: Pack
    read_columns: ReadColumns
    lineage: Lineage | None = None
    scorer: ModelScorer | None = None
    last_inference: LastUse | None = None


@dataclass(frozen=True)
class HygieneResult:
    findings: tuple[Finding, ...]
    actions: tuple[ActionRow, ...]
    evaluated: int
    discovered: Mapping[str, int]
    notes: tuple[str, ...] = ()


def delta_source(ds: DatasetRef) -> tuple[str, int | None] | None:
    """(table, version) of a dataset logged from a Delta table, else None."""
    try:
        src = json.loads(ds.source)
    except (TypeError, ValueError):
        return None
    if not isinstance(src, dict) or not src.get("delta_table_name"):
        return None
    version = src.get("delta_table_version")
    return str(src["delta_table_name"]), None if version is None else int(version)


class ModelOps:
    def __init__(self, deps: MlopsDeps) -> None:
        self.deps = deps
        self.runner = ModelActionRunner(deps.registry, deps.ledger, deps.clock)

    # ------------------------------------------------------------------ inventory

    def read(self) -> RegistryView:
        return read_registry(self.deps.registry)

    def inventory(self, view: RegistryView | None = None) -> list[dict[str, Any]]:
        """Models, versions, aliases, owners, last use and lineage (`lakecrew models`)."""
        view = view or self.read()
        res = registry_resources(view, (), self.deps.config, self.deps.last_inference)
        by_id = {r.resource_id: r.data for r in res if r.resource_type == "model_versions"}
        out = []
        for m in view.models:
            edges = self.deps.lineage.edges(m.name) if self.deps.lineage else []
            versions = []
            for v in view.versions.get(m.name, ()):
                d = by_id[f"{m.name}/{v.version}"]
                versions.append(
                    {
                        "version": v.version,
                        "aliases": list(v.aliases),
                        "lifecycle": d["lifecycle"],
                        "status": v.status,
                        "run_id": v.run_id,
                        "run_problem": d["run"].get("problem"),
                        "datasets": [x["name"] for x in d["run"].get("datasets", [])],
                        "last_used": d["last_used"],
                        "last_use_source": d["last_use_source"],
                    }
                )
            out.append(
                {
                    "name": m.name,
                    "owner": m.owner,
                    "description": m.description,
                    "tags": dict(m.tags),
                    "aliases": dict(m.aliases),
                    "versions": versions,
                    "last_used": max(
                        (v["last_used"] for v in versions if v["last_used"]), default=None
                    ),
                    "lineage": {
                        "upstream": sorted({e.source for e in edges if e.target == m.name}),
                        "downstream": sorted({e.target for e in edges if e.source == m.name}),
                    },
                }
            )
        return out

    # ------------------------------------------------------------------ hygiene

    def observe(self, *, owner: str = "", only: str | None = None) -> tuple[Snapshot, Evaluation]:
        """The registry as the `(models)` sweep scope: a Snapshot of its models, versions and
        experiments evaluated with the pack's model rules (the crew's Sweeper plans and takes
        their actions through the Executor: wiring/mlops.sweep_models).

        `only` restricts it to registered models matching that glob (and their versions); the
        other models' findings are then left as they were (not resolved). Findings of the drift
        monitor (same scope) are never resolved by a registry sweep: it does not judge them."""
        view = self.read()
        seen: dict[str, frozenset[str]] = {}
        if only is not None:
            keep = tuple(m for m in view.models if fnmatch.fnmatchcase(m.name, only))
            view = RegistryView(keep, {m.name: view.versions[m.name] for m in keep}, view.runs)
            seen = {
                "models": frozenset(m.name for m in keep),
                "model_versions": frozenset(
                    f"{m.name}/{v.version}" for m in keep for v in view.versions[m.name]
                ),
            }
        resources = registry_resources(
            view,
            self.deps.registry.list_experiments(),
            self.deps.config,
            self.deps.last_inference,
        )
        envs = self.deps.pack.environments
        env = "prod" if "prod" in envs else next(iter(envs))
        now = self.deps.clock.now()
        ctx = EvaluationContext(workspace=MODELS_SCOPE, environment=env, now=now)
        counts: dict[str, int] = {}
        for r in resources:
            counts[r.resource_type] = counts.get(r.resource_type, 0) + 1
        info = WorkspaceInfo(MODELS_SCOPE, env, owner, "", "")
        snap = Snapshot(
            MODELS_SCOPE,
            info,
            now,
            tuple(resources),
            counts,
            ctx,
            seen=seen,
            unseen_rules=MONITOR_RULES,
            notes=unread_notes(resources),
        )
        result = Engine(self.deps.pack).evaluate(resources, ctx)
        return snap, Evaluation(result.findings, result.evaluated, result.evaluated_by_type)

    def hygiene(self, *, only: str | None = None) -> HygieneResult:
        """The pack's model rules over the registry (no ledger; `lakecrew model hygiene` and a
        whole-estate sweep record them and take their actions through the crew)."""
        snap, result = self.observe(only=only)
        check_coverage(snap, result)
        return HygieneResult(
            tuple(result.findings), (), result.evaluated, dict(snap.discovered), snap.notes
        )

    # ------------------------------------------------------------------ promotion

    def promote(
        self, model: str, version: str, *, alias: str, approver: str | None, apply: bool = True
    ) -> tuple[gate_eval.GateResult, ActionRow | None]:
        """Check the gates; move the alias (a ledger action) only when every gate passes."""
        reg = self.deps.registry
        current = reg.get_model(model)
        versions = {v.version: v for v in reg.list_versions(model)}
        if version not in versions:
            raise NotFound(
                f"{model} has no version {version}", fix="list versions with `lakecrew models`"
            )
        if versions[version].tags.get(LIFECYCLE_TAG) == "archived":
            raise UsageError(
                f"{model} v{version} is archived", fix="roll back its archive action first"
            )
        settings = self.deps.config.settings(model)
        champion = current.aliases.get(alias)
        champion = None if champion == version else champion
        result = self._gates(model, version, champion, approver)
        if not result.passed or not apply:
            return result, None
        now = self.deps.clock.now()
        tags = {
            LIFECYCLE_TAG: alias,
            "gov.validation_status": "passed",
            "gov.approved_by": approver or "",
            "gov.approved_at": now.isoformat(),
            ALIAS_CHANGED_TAG: now.isoformat(),
        }
        action = Promote(model, version, {"alias": alias, "tags": tags})
        row = self.runner.row_for(
            action,
            f"model.promote.{alias}",
            f"promote-{now.strftime('%Y%m%dT%H%M%S')}",
            settings.owner or current.owner or "",
            json.dumps(result.as_dict(), default=str),
        )
        return result, self.runner.apply(action, row, approver or "lakecrew")

    def _gates(
        self, model: str, version: str, champion: str | None, approver: str | None
    ) -> gate_eval.GateResult:
        settings = self.deps.config.settings(model)
        if settings.gates is None:
            return gate_eval.evaluate(
                model, version, settings, {}, _no_predict, champion=champion, approver=approver
            )
        h = settings.gates.holdout
        cols = self.deps.read_columns(h.table, None, None)
        if h.split_column:
            if h.split_column not in cols:
                raise UsageError(
                    f"held-out table {h.table} has no column {h.split_column!r}",
                    where="lakecrew.yaml mlops.models.*.gates.holdout",
                )
            keep = np.asarray(cols[h.split_column]).astype(str) == str(h.split_value)
            cols = {k: np.asarray(v)[keep] for k, v in cols.items()}
        scorer = self.deps.scorer
        if scorer is None:
            raise UsageError("no model scorer configured for promotion gates")

        def predict(ver: str, feats: Mapping[str, np.ndarray]) -> np.ndarray:
            return np.asarray(scorer.predict(model, ver, feats), dtype=float)

        return gate_eval.evaluate(
            model, version, settings, cols, predict, champion=champion, approver=approver
        )

    # ------------------------------------------------------------------ lineage

    def record_lineage(
        self,
        model: str,
        version: str,
        *,
        run_id: str | None,
        sources: Sequence[str],
        serving: Sequence[tuple[str, str]] = (),
    ) -> list[LineageEdge]:
        """source tables → model (by its training run); model → inference tables/endpoints."""
        if self.deps.lineage is None:
            return []
        now = self.deps.clock.now()
        edges = [
            LineageEdge(s, model, "MLFLOW_RUN", run_id, f"{model}/{version}", now) for s in sources
        ]
        edges += [
            LineageEdge(model, target, kind, f"{model}/{version}", None, now)
            for target, kind in serving
        ]
        for e in edges:
            self.deps.lineage.record(e)
        return edges

    def rollback(self, row: ActionRow, *, force: bool = False) -> ActionRow:
        return self.runner.rollback(row, force=force)

    def restrict(self, model: str, acl: Sequence[Acl]) -> None:
        self.deps.registry.set_permissions(model, acl)


def _no_predict(version: str, feats: Mapping[str, np.ndarray]) -> np.ndarray:
    raise UsageError("no gates declared")
