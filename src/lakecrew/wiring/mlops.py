"""Composition of the MLOps use cases: the registry, scorer and lakehouse readers of one project.

The embedded default is the project's own MLflow (`.lakecrew/mlflow/`: SQLite tracking and
registry, local artifacts). mlflow itself is imported only when a registry call is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakecrew.adapters.mlflow import local_registry, local_store_exists
from lakecrew.adapters.mlflow.registry import MlflowRegistry
from lakecrew.adapters.mlflow.training import MlflowScorer
from lakecrew.core.errors import NotFound
from lakecrew.ports.ledger import ActionRow
from lakecrew.services.crew.sweep import SweepResult
from lakecrew.services.estate.config import ENVIRONMENTS
from lakecrew.services.mlops.actions import ACTION_CLASSES as PROMOTIONS
from lakecrew.services.mlops.hygiene import MODELS_SCOPE, LastUse
from lakecrew.services.mlops.service import MlopsDeps, ModelOps
from lakecrew.services.policy.actions import ActionPorts

if TYPE_CHECKING:
    from lakecrew.wiring.context import Context


def arrow_columns(table: pa.Table) -> dict[str, np.ndarray]:
    """Arrow → numpy per column (numbers with nulls become float NaN; text stays object)."""
    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            out[name] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        elif pa.types.is_timestamp(col.type):
            out[name] = col.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
        else:
            out[name] = np.asarray(col.to_pylist(), dtype=object)
    return out


def column_reader(ctx: Context) -> Any:
    def read(
        table: str, version: int | None, columns: Sequence[str] | None
    ) -> dict[str, np.ndarray]:
        if not ctx.store.exists(table):
            raise NotFound(f"table {table} does not exist", fix="check lakecrew.yaml mlops")
        return arrow_columns(ctx.store.read(table, version, columns))

    return read


def last_inference(ctx: Context) -> LastUse:
    """(model, version) → newest `scored_at` in the model's inference table (None if none)."""
    cache: dict[str, dict[tuple[str, str], datetime]] = {}

    def lookup(model: str, version: str) -> datetime | None:
        table = ctx.config.mlops.settings(model).inference_table
        if not table or not ctx.store.exists(table):
            return None
        if table not in cache:
            cols = ["model_name", "model_version", "scored_at"]
            have = set(ctx.store.schema(table).names)
            if not set(cols) <= have:
                cache[table] = {}
            else:
                t = ctx.store.read(table, columns=cols)
                rows = t.group_by(["model_name", "model_version"]).aggregate([("scored_at", "max")])
                cache[table] = {
                    (r["model_name"], str(r["model_version"])): _aware(r["scored_at_max"])
                    for r in rows.to_pylist()
                }
        return cache[table].get((model, version))

    return lookup


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def registry_for(ctx: Context) -> MlflowRegistry:
    """The local MLflow store, or a Databricks workspace's (mlops.registry_workspace)."""
    name = ctx.config.mlops.registry_workspace
    if name is None:
        return local_registry(ctx.layout.state_dir)
    from lakecrew.adapters.databricks import databricks_client
    from lakecrew.adapters.mlflow.databricks import databricks_registry

    ws = ctx.config.workspace(name)
    return databricks_registry(
        databricks_client(ws), workspace=name, profile=ws.auth_profile, host=ws.host
    )


def sweep_models(
    ctx: Context, *, apply: bool, phase: int | None, only: str | None = None
) -> SweepResult | None:
    """The `(models)` scope of a crew sweep: the registry's models, versions and experiments
    evaluated with the pack's model rules, their findings tracked in the ledger and their
    actions (archive stale versions at phase >= 3, add missing tags at >= 2) planned and, with
    `apply`, taken by the crew's Executor through the registry. At `phase`, else the lowest
    environment phase of lakecrew.yaml; `only` = registered models matching a glob. None when
    the project has no registry."""
    if not has_registry(ctx):
        return None
    use_phase = phase if phase is not None else min(ctx.config.phase_for(e) for e in ENVIRONMENTS)
    ops = model_ops(ctx)
    owner = ctx.config.workspaces[0].owner if ctx.config.workspaces else ""
    ports = ActionPorts(MODELS_SCOPE, models=ops.deps.registry)
    return ctx.crew.sweeper.sweep_scope(
        ports, lambda: ops.observe(owner=owner, only=only), phase=use_phase, apply=apply
    )


def rollback_action(
    ctx: Context, row: ActionRow, *, force: bool = False, resume: bool = False
) -> ActionRow:
    """Roll back an action of the `(models)` scope: a promotion through the MLOps runner, a rule
    action (archive, add tags) through the crew's Executor under the scope's lock."""
    ops = model_ops(ctx)
    if row.action in PROMOTIONS:
        return ops.rollback(row, force=force)
    ports = ActionPorts(MODELS_SCOPE, models=ops.deps.registry)
    return ctx.crew.rollback(row, ports, force=force, resume=resume)


def mlops_deps(ctx: Context) -> MlopsDeps:
    registry = registry_for(ctx)
    return MlopsDeps(
        registry=registry,
        ledger=ctx.ledger,
        clock=ctx.clock,
        config=ctx.config.mlops,
        pack=ctx.pack,
        read_columns=column_reader(ctx),
        lineage=ctx.metastore,
        scorer=MlflowScorer(registry.tracking_uri, registry.registry_uri),
        last_inference=last_inference(ctx),
    )


def model_ops(ctx: Context) -> ModelOps:
    return ModelOps(mlops_deps(ctx))


def has_registry(ctx: Context) -> bool:
    """True when the project has an MLflow store (commands never create one by reading)."""
    return bool(ctx.config.mlops.registry_workspace) or local_store_exists(ctx.layout.state_dir)
