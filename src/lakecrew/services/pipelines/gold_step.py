"""Gold step: each model refreshed from silver through the SqlEngine port, then optimized.

The Spark SQL of the spec is qualified with the environment's catalog and run by the engine
(the local engine translates it to DuckDB). A model whose SQL ``gold_groups.group_plan`` proves
decomposable by group, whose table was made from the silver version this run began from with
the same SQL (the batch log's ``gold`` rows), is refreshed by group (``gold_refresh``): only the
groups of the silver rows this run changed are recomputed; with no such row the table is left
as it is. Every other model is rebuilt in full; the run's notes say which way each went and why.
The result replaces the table in one commit (partitioned as the spec says); additive schema
changes are recorded, breaking ones fail unless approved. Then OPTIMIZE (compaction, z-order when
``zorder_by``) and VACUUM with the retention. A gold ``batches`` row records the silver version
and SQL each table was made from (a crash before it: the next run rebuilds in full).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa

from lakecrew.core.errors import LakecrewError
from lakecrew.services.pipelines.gold_additive import AdditivePlan, additive_plan
from lakecrew.services.pipelines.gold_groups import ChangedGroups, GroupPlan, group_plan
from lakecrew.services.pipelines.gold_maintain import (
    Made,
    SilverChanges,
    build,
    maintain,
    save_state,
    state_table,
    store_tells,
)
from lakecrew.services.pipelines.gold_refresh import ByGroup, refresh_by_group
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.records import BATCH_LOG
from lakecrew.services.pipelines.schema_log import record_schema
from lakecrew.services.pipelines.spec import GoldSpec
from lakecrew.services.pipelines.sqltext import qualify_sql, referenced_tables
from lakecrew.services.pipelines.steps import RunnerDeps, RunState, log_marker
from lakecrew.services.pipelines.transforms import get_transform
from lakecrew.services.quality.schema_evolution import check_evolution

GOLD = "gold"


def gold_plans(deps: RunnerDeps, loaded: LoadedPipeline) -> dict[str, GroupPlan | str]:
    """Per gold table: how it can be refreshed by group, or why it cannot."""
    silver = loaded.full_name(loaded.spec.silver.table)
    schema = deps.tables.schema(silver)
    plans: dict[str, GroupPlan | str] = {}
    for model in loaded.spec.gold:
        table = loaded.full_name(model.table)
        if model.sql is None:
            plans[table] = "a Python transform"
        elif schema is None:
            plans[table] = "silver did not exist"
        else:
            sql = qualify_sql(model.sql, loaded.catalog)
            plans[table] = group_plan(sql, silver, schema.names)
    return plans


def refresh_ways(deps: RunnerDeps, loaded: LoadedPipeline) -> dict[str, str]:
    """Per gold table, how a run refreshes it when nothing forces a full rebuild (for
    ``pipeline plan``): maintained, refreshed by group, or rebuilt in full, and why."""
    additive = additive_plans(deps, loaded)
    ways: dict[str, str] = {}
    for table, plan in gold_plans(deps, loaded).items():
        found = additive.get(table)
        if isinstance(found, AdditivePlan):
            ways[table] = "maintained from silver's changes (SUM and COUNT by group)"
        elif isinstance(plan, GroupPlan):
            why = f"; not maintained: {found}" if found else ""
            ways[table] = f"refreshed by group (the groups silver's changes touch){why}"
        else:
            ways[table] = f"rebuilt in full ({plan})"
    return ways


def changes_for(deps: RunnerDeps, loaded: LoadedPipeline) -> ChangedGroups:
    """What silver's step should record for the gold models refreshed by group."""
    additive = additive_plans(deps, loaded)  # maintained from the store's changes instead
    plans = {
        t: p
        for t, p in gold_plans(deps, loaded).items()
        if isinstance(p, GroupPlan) and not isinstance(additive.get(t), AdditivePlan)
    }
    rows = {t: deps.tables.count(t) for t in plans if deps.tables.exists(t)}
    return ChangedGroups({t: p for t, p in plans.items() if t in rows}, rows)


def run_gold(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    state: RunState,
    changes: ChangedGroups | None = None,
    began_from: int | None = None,
) -> None:
    """Refresh every gold model (``changes``: what silver's step changed since silver version
    ``began_from``; None: rebuild all); counts go to ``state.layer('gold')``."""
    silver = loaded.full_name(loaded.spec.silver.table)
    plans = gold_plans(deps, loaded) if changes is not None else {}
    made = _made_from(deps, loaded)
    additive = additive_plans(deps, loaded)
    read = [c for p in additive.values() if isinstance(p, AdditivePlan) for c in p.columns]
    since = SilverChanges(deps, silver, began_from or 0, list(dict.fromkeys(read)))
    for model in loaded.spec.gold:
        table = loaded.full_name(model.table)
        sha = model_sha256(model)
        maintained = additive.get(table)
        if isinstance(maintained, AdditivePlan):
            _additive(deps, loaded, state, model, maintained, changes, began_from, made, since)
            continue
        plan = plans.get(table, "a full refresh")
        if changes is not None and changes.unknown is not None:
            plan = changes.unknown
        elif changes is not None and table in changes.given_up:
            plan = changes.given_up[table]
        elif isinstance(plan, GroupPlan) and changes is not None and table not in changes.plans:
            plan = "the table did not exist when the run began"
        elif isinstance(plan, GroupPlan) and (
            began_from is None or made.get(table) != (began_from, sha)
        ):
            plan = "the table was not made from the silver version this run began from"
        if isinstance(plan, GroupPlan) and changes is not None:
            changed = changes.distinct(plan.group_columns)
            if changed is None:
                state.notes.append(f"{table}: unchanged (no silver row of its groups changed)")
                _log(deps, loaded, state, table, silver, sha)
                continue
            assert model.sql is not None  # a GroupPlan is made from SQL only
            sql = qualify_sql(model.sql, loaded.catalog)
            got = refresh_by_group(deps, sql, table, plan, changed)
            if isinstance(got, ByGroup):
                state.notes.append(
                    f"{table}: refreshed by group ({got.recomputed} rows recomputed, "
                    f"{got.kept} kept)"
                )
                _write(deps, loaded, state, model, got.table)
                _log(deps, loaded, state, table, silver, sha)
                continue
            plan = got
        state.notes.append(f"{table}: rebuilt in full ({plan})")
        _write(deps, loaded, state, model, build_model(deps, loaded, model))
        _log(deps, loaded, state, table, silver, sha)


def additive_plans(deps: RunnerDeps, loaded: LoadedPipeline) -> dict[str, AdditivePlan | str]:
    """Per gold table: its additive plan (gold_additive.py), or why it has none; empty when
    the table store cannot tell silver's row changes."""
    silver = loaded.full_name(loaded.spec.silver.table)
    schema = deps.tables.schema(silver)
    if schema is None or not store_tells(deps, silver):
        return {}
    masked = _masked_columns(deps, silver)
    plans: dict[str, AdditivePlan | str] = {}
    for model in loaded.spec.gold:
        if model.sql is None:
            continue
        sql = qualify_sql(model.sql, loaded.catalog)
        plan = additive_plan(sql, silver, schema.names)
        if isinstance(plan, AdditivePlan):
            hidden = [c for c in plan.columns if c.lower() in masked]
            plan = f"silver column {hidden[0]} has a column mask" if hidden else plan
        plans[loaded.full_name(model.table)] = plan
    return plans


def _masked_columns(deps: RunnerDeps, silver: str) -> set[str]:
    """Silver's columns with a column mask in the catalog (the engine's reads apply it; the
    store's reads of silver's changes would not)."""
    try:
        info = deps.catalog.get_table(silver)
    except LakecrewError:
        return set()
    return {c.name.lower() for c in info.columns if c.mask}


def _additive(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    state: RunState,
    model: GoldSpec,
    plan: AdditivePlan,
    changes: ChangedGroups | None,
    began_from: int | None,
    made: dict[str, tuple[int | None, str]],
    since: SilverChanges,
) -> None:
    """An additive model: maintained from silver's changes when its table and state were made
    from the silver version this run began from, else built in full through its state."""
    silver = loaded.full_name(loaded.spec.silver.table)
    table = loaded.full_name(model.table)
    sha = model_sha256(model)
    why: str | None = None
    if changes is None:
        why = "a full refresh"
    elif changes.unknown is not None:
        why = changes.unknown
    elif began_from is None:
        why = "silver did not exist when the run began"
    elif made.get(table) != (began_from, sha) or made.get(state_table(table)) != (
        began_from,
        sha,
    ):
        why = "the table or its state was not made from the silver version this run began from"
    got: Made | str = why or "silver did not exist when the run began"
    if why is None and began_from is not None:
        got = maintain(deps, plan, table, since)
    if isinstance(got, str):
        built = build(deps, plan, loaded.catalog)
        got = Made(built.state, built.table, f"rebuilt in full ({got})")
    state.notes.append(f"{table}: {got.how}")
    if got.table is not None:  # state first, table next, both markers after both
        save_state(deps, table, got.state)
        _write(deps, loaded, state, model, got.table)
    _log(deps, loaded, state, table, silver, sha, also=[state_table(table)])


def _write(
    deps: RunnerDeps, loaded: LoadedPipeline, state: RunState, model: GoldSpec, data: pa.Table
) -> None:
    """Replace the model's table with ``data`` (schema evolution checked), then maintain it."""
    counts = state.layer("gold")
    table = loaded.full_name(model.table)
    current = deps.tables.schema(table)
    change = check_evolution(table, current, data.schema)
    if current is None:
        deps.tables.create(table, data.schema, partition_by=model.partition_by)
    if change.kind != "none":
        record_schema(deps, state, table, change, data.schema)
    deps.tables.replace(table, data, overwrite_schema=change.kind != "none" and current is not None)
    state.maintenance.append(
        deps.tables.maintain(
            table,
            zorder_by=model.zorder_by,
            retention_hours=deps.vacuum_retention_hours,
        )
    )
    counts.batches += 1
    counts.written += data.num_rows


def model_sha256(model: GoldSpec) -> str:
    """What a gold table is made by: its SQL (or Python transform name) and partitioning."""
    text = "\x1f".join([model.sql or "", model.python or "", *model.partition_by])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def carry_markers(deps: RunnerDeps, loaded: LoadedPipeline, state: RunState, before: int) -> None:
    """Silver went from version ``before`` to its current one by OPTIMIZE and VACUUM alone (no
    row changed): the gold tables and states made from ``before`` are made from it too."""
    silver = loaded.full_name(loaded.spec.silver.table)
    by_sha: dict[str, list[str]] = {}
    for name, (version, sha) in _made_from(deps, loaded).items():
        if version == before:
            by_sha.setdefault(sha, []).append(name)
    for sha, names in by_sha.items():
        _log(deps, loaded, state, names[0], silver, sha, also=names[1:])


def _made_from(deps: RunnerDeps, loaded: LoadedPipeline) -> dict[str, tuple[int | None, str]]:
    """Per gold table: the silver version and model sha256 it was last made from."""
    schema = deps.tables.schema(BATCH_LOG)
    if schema is None or "silver_version" not in schema.names:
        return {}
    log = deps.tables.read(
        BATCH_LOG,
        ["batch_id", "committed_at", "silver_version", "model_sha256"],
        where={"pipeline": loaded.spec.name, "env": loaded.env, "layer": GOLD},
    )
    made: dict[str, tuple[int | None, str]] = {}
    for row in sorted(log.to_pylist(), key=lambda r: r["committed_at"]):
        made[row["batch_id"]] = (row["silver_version"], row["model_sha256"])
    return made


def _log(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    state: RunState,
    table: str,
    silver: str,
    sha: str,
    also: Sequence[str] = (),
) -> None:
    version = deps.tables.version(silver)
    made = (version, sha) if version is not None else None
    log_marker(deps, loaded, state, GOLD, table, made, also=also)


def build_model(deps: RunnerDeps, loaded: LoadedPipeline, model: GoldSpec) -> pa.Table:
    """The rows of one gold model (SQL through the engine, or a registered Python transform)."""
    if model.sql is not None:
        return deps.sql.fetch_arrow(qualify_sql(model.sql, loaded.catalog))
    assert model.python is not None  # the spec guarantees one of the two
    silver = deps.tables.read(loaded.full_name(loaded.spec.silver.table))
    return get_transform(model.python)(silver)


def model_inputs(loaded: LoadedPipeline, model: GoldSpec) -> list[str]:
    """Full names of the tables a gold model reads (silver for Python transforms)."""
    if model.sql is None:
        return [loaded.full_name(loaded.spec.silver.table)]
    return [loaded.full_name(t) for t in referenced_tables(model.sql)]
