"""Composition of the pipeline runner for a local project (may import adapters and the Context).

- ``runner_for(ctx, spec_dir)``: a PipelineRunner over the project's lakehouse, metastore, SQL
  engine, clock, file sources and secret store;
- ``find_spec(ctx, name)`` / ``list_specs(ctx)``: specs in ``<project>/pipelines/*.yaml`` first,
  then the demo specs shipped in ``lakecrew/pipelines_demo``;

Spark writing the tables by name (adapters/spark/table_store.py):
- ``workspace_deps``: ``pipeline run NAME --engine spark --workspace W`` on a Databricks cluster
  (the job ``pipeline bundle --workspace W`` writes): Unity Catalog managed Delta tables through
  the cluster's ``spark``, gold SQL and ``silver.sql`` on the same session, registration,
  tags, comments and column masks by ``DatabricksCatalog`` over the same Spark session (no SQL
  warehouse needed), secrets from W's secret scopes, the source checkpoint in the UC Volume
  ``<records catalog>.lakecrew.lakecrew_state`` (``/Volumes/...``, the cluster's FUSE mount),
  lakecrew's record tables under ``<records catalog>.lakecrew``. Outside a Databricks runtime
  it is refused: a local Spark has no Unity Catalog.
- ``spark_catalog_deps``: the same store over local Spark's built-in catalog (Parquet tables
  under ``.lakecrew/spark-catalog/``), the metastore of the project for registration: the
  offline parity mode (``runner_for(..., tables="spark-catalog")``). What it does not cover is
  in the store's docstring.

Relative source paths in a spec resolve against the spec file's folder. Source checkpoints live
in ``<project>/.lakecrew/checkpoints/<pipeline>/<env>/``. A ``kafka`` source runs on the Spark
engine only (``check_engine``): a Structured Streaming query whose ``foreachBatch`` writes bronze
(adapters/spark/kafka.py); its checkpoint is the spec's ``checkpoint`` option (relative paths
resolve against the project root).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

import lakecrew.services.pipelines.demo_transforms  # noqa: F401  (registers the demo transforms)
from lakecrew.adapters.local import huge_pages
from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.adapters.sources.factory import build_source, spark_only
from lakecrew.core.errors import ConfigError
from lakecrew.ports.secrets import SecretStore
from lakecrew.ports.source import SPARK_ONLY_SOURCE_TYPES, Source
from lakecrew.ports.sql import SqlEngine
from lakecrew.ports.tables import TableStore
from lakecrew.services.pipelines.loader import LoadedPipeline, load_pipeline_spec
from lakecrew.services.pipelines.runner import PipelineRunner
from lakecrew.services.pipelines.spec import Environment
from lakecrew.services.pipelines.steps import RunnerDeps
from lakecrew.services.pipelines.streaming import after_micro_batch
from lakecrew.services.privacy.kinds import MaskMethod
from lakecrew.services.privacy.masking import Tokenizer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakecrew.wiring.context import Context


def demo_dir() -> Path:
    """Folder of the demo specs and their data (package data)."""
    return Path(str(resources.files("lakecrew") / "pipelines_demo"))


def spec_dirs(ctx: Context) -> list[Path]:
    """Where specs are looked up, in order."""
    return [ctx.layout.root / "pipelines", demo_dir()]


def list_specs(ctx: Context) -> dict[str, Path]:
    """Pipeline name → spec file (project specs shadow demo specs of the same name)."""
    found: dict[str, Path] = {}
    for folder in spec_dirs(ctx):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            found.setdefault(path.stem, path)
    return found


def specs_in_use(ctx: Context) -> dict[str, Path]:
    """The specs whose tables the project owes (freshness SLAs, governed tables): its own, and a
    demo spec shipped with lakecrew only once one of its tables exists in any environment (a
    new project did not declare the demo's tables). A spec that does not load in an
    environment has no tables there."""
    demo = demo_dir().resolve()
    used: dict[str, Path] = {}
    for name, path in list_specs(ctx).items():
        if path.resolve().parent != demo or _ran(ctx, path):
            used[name] = path
    return used


def _ran(ctx: Context, path: Path) -> bool:
    from lakecrew.core.errors import LakecrewError

    for env in ("dev", "qa", "prod"):
        try:
            loaded = load_pipeline_spec(path, env)
        except LakecrewError:
            continue
        if any(ctx.store.exists(loaded.full_name(t)) for t in loaded.spec.table_names()):
            return True
    return False


def find_spec(ctx: Context, name: str) -> Path:
    """The spec file of pipeline ``name``; UnknownName (exit 2, did-you-mean) listing the
    known ones."""
    from lakecrew.core.errors import UnknownName

    specs = list_specs(ctx)
    if name not in specs:
        raise UnknownName(
            "pipeline", name, sorted(specs), where=", ".join(str(d) for d in spec_dirs(ctx))
        )
    return specs[name]


def load(ctx: Context, name: str, env: Environment = "dev") -> LoadedPipeline:
    """Load and validate pipeline ``name`` for ``env``."""
    return load_pipeline_spec(find_spec(ctx, name), env)


def open_source(
    ctx: Context,
    loaded: LoadedPipeline,
    overrides: Mapping[str, Any] | None = None,
    *,
    secret_store: SecretStore | None = None,
    checkpoint_root: Path | None = None,
) -> Source:
    """Build the ingestion source a spec names (``overrides`` replace source options);
    ``secret_store`` (default: the project's store) resolves the spec's secret references;
    ``checkpoint_root`` (default ``.lakecrew/checkpoints``) holds the source checkpoints."""
    spec = loaded.spec
    root = checkpoint_root or ctx.layout.state_dir / "checkpoints"
    checkpoint = root / spec.name / loaded.env / "source.json"
    base = Path(loaded.source).parent if loaded.source else ctx.layout.root
    return build_source(
        spec.source.type,
        {**spec.source.options, **(overrides or {})},
        name=f"{spec.name}:{loaded.env}",
        checkpoint=checkpoint,
        base_dir=base,
        secrets=secret_store if secret_store is not None else ctx.secrets,
        where=f"pipeline {spec.name}",
    )


def check_gold(ctx: Context, loaded: LoadedPipeline, engine: str = "local") -> list[str]:
    """Bind the gold SQL against the silver schema on ``engine`` (ConfigError at file:line).

    Returns the gold tables not bound because another pipeline's table they read is absent.
    """
    from lakecrew.services.pipelines.gold_check import check_gold_sql

    def schema_of(full_name: str) -> Any:
        return ctx.store.schema(full_name) if ctx.store.exists(full_name) else None

    return check_gold_sql(_engine(ctx, engine), loaded, schema_of)


def check_engine(loaded: LoadedPipeline, engine: str) -> None:
    """ConfigError when the spec's source cannot run on ``engine`` (kafka needs spark)."""
    kind = loaded.spec.source.type
    if kind in SPARK_ONLY_SOURCE_TYPES and engine != "spark":
        raise spark_only(kind, where=f"{loaded.source} (pipeline {loaded.spec.name})")


def _kafka_source(ctx: Context, loaded: LoadedPipeline, deps: RunnerDeps) -> Source:
    from lakecrew.adapters.spark.engine import local_session
    from lakecrew.adapters.spark.kafka import BronzeStreamWriter, build_kafka_source

    spec = loaded.spec
    options = spec.source.options
    checkpoint = Path(str(options["checkpoint"]))
    if "://" not in str(checkpoint) and not checkpoint.is_absolute():
        checkpoint = ctx.layout.root / checkpoint
    writer = BronzeStreamWriter(
        deps.tables,
        loaded.full_name(spec.bronze.table),
        deps.clock,
        str(checkpoint),
        partition_by=tuple(spec.bronze.partition_by),
    )
    if isinstance(options.get("trigger"), Mapping):
        # A never-ending query: silver and gold follow each micro-batch.
        writer.after_batch = after_micro_batch(deps, loaded)
    return build_kafka_source(
        name=f"{spec.name}:{loaded.env}",
        spark=local_session(),
        options=options,
        secrets=ctx.secrets,
        writer=writer,
        where=f"pipeline {spec.name} source",
    )


def tokenizer_for(
    ctx: Context,
    loaded: LoadedPipeline,
    *,
    create_key: bool,
    secret_store: SecretStore | None = None,
) -> Tokenizer | None:
    """The tokenizer of a spec (None when no column is tokenized); optionally makes the key
    (in the project's local store only: a secret scope's key is put there by its admin)."""
    privacy = loaded.spec.privacy
    needs = any(c.mask == MaskMethod.TOKENIZE for c in loaded.spec.silver.columns) or any(
        c.pii.value != "none" for c in loaded.spec.silver.columns
    )
    if not needs:
        return None
    if secret_store is not None:
        return Tokenizer.from_store(secret_store, privacy.key_scope, privacy.key_name)
    store = ctx.secrets
    if create_key and not store.exists(privacy.key_scope, privacy.key_name):
        store.put(privacy.key_scope, privacy.key_name, SecretStr(secrets.token_hex(32)))
    return Tokenizer.from_store(store, privacy.key_scope, privacy.key_name)


def _engine(ctx: Context, engine: str) -> SqlEngine:
    if engine == "local":
        return ctx.sql
    if engine == "spark":
        try:
            from lakecrew.adapters.spark.engine import SparkSqlEngine
        except ImportError as exc:
            raise ConfigError(
                "the spark engine needs pyspark",
                where="--engine spark",
                fix="pip install pyspark==4.0.5 (requirements/dev.in)",
            ) from exc
        return SparkSqlEngine(ctx.store)
    raise ConfigError(f"unknown engine {engine!r}", where="--engine", fix="use local or spark")


def runner_for(
    ctx: Context,
    *,
    create_keys: bool = False,
    source_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    engine: str = "local",
    workspace: str | None = None,
    records_catalog: str | None = None,
    tables: str = "delta",
) -> PipelineRunner:
    """A PipelineRunner over the project's local backend, or a Databricks workspace's.

    ``create_keys`` makes a missing tokenization key (demo projects only); ``source_overrides``
    maps a pipeline name to source options replacing the spec's (e.g. the demo's DHIS2 URL).
    ``engine="spark"`` runs the gold SQL models on a local SparkSession (pyspark installed)
    and is the only engine that runs a ``kafka`` source (others raise ConfigError).
    ``workspace`` (a ``backend: databricks`` workspace with a ``warehouse_id``) writes Unity
    Catalog managed tables by name through its warehouse (``databricks_runner_deps``), with
    lakecrew's record tables in ``<records_catalog>.lakecrew``; with ``engine="spark"`` it runs
    on a Databricks cluster and Spark writes them (``workspace_deps``).
    ``tables="spark-catalog"`` (with ``engine="spark"``, no workspace) writes the tables through
    the same Spark store over local Spark's own catalog: the offline parity mode.
    """
    overrides = source_overrides or {}
    if not ctx.writable:
        raise ConfigError(
            "pipelines need a writable context", fix="Context.open(..., writable=True)"
        )
    if tables == "spark-catalog":
        if engine != "spark" or workspace is not None:
            raise ConfigError("tables='spark-catalog' needs engine='spark' and no workspace")
        return PipelineRunner(spark_catalog_deps(ctx, create_keys=create_keys, overrides=overrides))
    if workspace is not None:
        return PipelineRunner(
            databricks_runner_deps(ctx, workspace, records_catalog, engine, overrides)
        )

    def source_for(loaded: LoadedPipeline) -> Source:
        check_engine(loaded, engine)
        if loaded.spec.source.type == "kafka":
            return _kafka_source(ctx, loaded, deps)
        return open_source(ctx, loaded, overrides.get(loaded.spec.name))

    # Spark reads a table's Parquet files itself: tables it reads get no deletion vectors
    store = DeltaTableStore(ctx.store, deletion_vectors=engine != "spark")
    if engine == "local":
        huge_pages.turn_off()  # the local engine's buffers: see adapters/local/huge_pages.py
    deps = _project_deps(ctx, store, _engine(ctx, engine), source_for, create_keys)
    return PipelineRunner(deps)


def _project_deps(
    ctx: Context,
    tables: TableStore,
    sql: SqlEngine,
    source_for: Callable[[LoadedPipeline], Source],
    create_keys: bool,
) -> RunnerDeps:
    """Runner ports whose catalog, lineage, clock, locks and keys are the project's own."""
    return RunnerDeps(
        tables=tables,
        catalog=ctx.metastore,
        lineage=ctx.metastore,
        sql=sql,
        clock=ctx.clock,
        open_source=source_for,
        tokenizer=lambda loaded: tokenizer_for(ctx, loaded, create_key=create_keys),
        sleep=time.sleep,
        locks=ctx.locks,
        bind_sql=ctx.sql,
    )


def check_workspace(ctx: Context, workspace: str, *, need_warehouse: bool = True) -> Any:
    """The lakecrew.yaml entry of a workspace pipelines can write to: ``backend: databricks``
    with a ``warehouse_id`` unless not ``need_warehouse`` (a Spark run on a cluster)
    (ConfigError otherwise, UnknownName for an unknown name)."""
    ws = ctx.config.workspace(workspace)
    if ws.backend != "databricks" or (need_warehouse and not ws.warehouse_id):
        raise ConfigError(
            f"workspace {workspace!r} is not a databricks workspace with a warehouse_id",
            where=f"lakecrew.yaml workspace {workspace}",
            fix="set backend: databricks, host and warehouse_id (pipelines write Unity Catalog "
            "tables through that SQL warehouse), or run without --workspace",
        )
    return ws


def databricks_runner_deps(
    ctx: Context,
    workspace: str,
    records_catalog: str | None,
    engine: str,
    overrides: Mapping[str, Mapping[str, Any]],
) -> RunnerDeps:
    """Runner ports on a Databricks workspace: UC managed tables through its warehouse
    (adapters/databricks/table_store.py), the UC catalog for registration and tags, secret
    scopes for the spec's secrets and the tokenization key, gold SQL on the warehouse."""
    from lakecrew.adapters.databricks import databricks_catalog
    from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
    from lakecrew.adapters.databricks.table_store import UnityCatalogTableStore

    if not records_catalog:
        raise ConfigError("a workspace run needs the catalog of lakecrew's record tables",
                          fix="pass records_catalog (the CLI uses the spec's catalog)")  # fmt: skip
    if engine == "spark":
        return workspace_deps(ctx, workspace, records_catalog, overrides)
    ws = check_workspace(ctx, workspace)
    if engine != "local":
        raise ConfigError(f"unknown engine {engine!r}", where="--engine", fix="use local or spark")
    remote = ctx.workspace(workspace)
    sql = ctx.workspace_sql(workspace)
    assert isinstance(sql, DatabricksSqlEngine)  # a databricks workspace with a warehouse_id
    client = remote.client  # type: ignore[attr-defined]
    tables = UnityCatalogTableStore(client, sql, records_schema=f"{records_catalog}.lakecrew")
    return _on_workspace(
        ctx, ws, tables, sql, databricks_catalog(remote, ws.warehouse_id), overrides, None
    )


def _on_workspace(
    ctx: Context,
    ws: Any,
    tables: TableStore,
    sql: SqlEngine,
    catalog: Any,
    overrides: Mapping[str, Mapping[str, Any]],
    checkpoint_root: Path | None,
) -> RunnerDeps:
    """RunnerDeps of a run on workspace ``ws``: its UC catalog (``DatabricksCatalog``), its
    secret scopes for the spec's secrets and the tokenization key."""
    from lakecrew.adapters.databricks.catalog import RunLineage
    from lakecrew.adapters.databricks.secrets import DatabricksSecretStore

    scopes = DatabricksSecretStore(catalog.client, ws.name)

    def source_for(loaded: LoadedPipeline) -> Source:
        return open_source(
            ctx,
            loaded,
            overrides.get(loaded.spec.name),
            secret_store=scopes,
            checkpoint_root=checkpoint_root,
        )

    return RunnerDeps(
        tables=tables,
        catalog=catalog,
        lineage=RunLineage(catalog),
        sql=sql,
        clock=ctx.clock,
        open_source=source_for,
        tokenizer=lambda loaded: tokenizer_for(ctx, loaded, create_key=False, secret_store=scopes),
        workspace_id=ws.workspace_id or ws.name,
        sleep=time.sleep,
        locks=ctx.locks,
        bind_sql=ctx.sql,
    )


STATE_VOLUME = "lakecrew_state"
"""The UC Volume (in ``<records catalog>.lakecrew``) holding source checkpoints on a cluster."""


def on_databricks() -> bool:
    """True inside a Databricks runtime (the variable every cluster sets)."""
    return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))


def cluster_session() -> SparkSession:
    """The cluster's SparkSession (Unity Catalog attached); ConfigError elsewhere."""
    if not on_databricks():
        raise ConfigError(
            "--engine spark --workspace W runs on a Databricks cluster (DATABRICKS_RUNTIME_"
            "VERSION is not set here): a local Spark has no Unity Catalog",
            where="--engine spark --workspace",
            fix="run the job `lakecrew pipeline bundle NAME --workspace W` writes, or drop "
            "--engine to write through W's SQL warehouse",
        )
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()


def workspace_deps(
    ctx: Context,
    workspace: str,
    records_catalog: str,
    overrides: Mapping[str, Mapping[str, Any]],
    spark: SparkSession | None = None,
) -> RunnerDeps:
    """Runner ports of a Spark run on a Databricks cluster of workspace ``workspace``."""
    from lakecrew.adapters.databricks.catalog import DatabricksCatalog
    from lakecrew.adapters.spark.engine import SparkCatalogEngine
    from lakecrew.adapters.spark.table_store import SparkTableStore

    ws = check_workspace(ctx, workspace, need_warehouse=False)
    session = spark if spark is not None else cluster_session()
    tables = SparkTableStore(session, records_schema=f"{records_catalog}.lakecrew")
    sql = SparkCatalogEngine(session, tables.query_parts)
    tables.queries = sql  # gold loads from its query: UC records silver → gold
    client = ctx.workspace(workspace).client  # type: ignore[attr-defined]
    sql.execute(f"CREATE SCHEMA IF NOT EXISTS {records_catalog}.lakecrew")
    sql.execute(f"CREATE VOLUME IF NOT EXISTS {records_catalog}.lakecrew.{STATE_VOLUME}")
    state = Path("/Volumes", records_catalog, "lakecrew", STATE_VOLUME, "checkpoints")
    return _on_workspace(ctx, ws, tables, sql, DatabricksCatalog(client, sql), overrides, state)


def spark_catalog_deps(
    ctx: Context,
    *,
    create_keys: bool,
    overrides: Mapping[str, Mapping[str, Any]],
    spark: SparkSession | None = None,
) -> RunnerDeps:
    """Runner ports over local Spark's own catalog (the offline parity mode)."""
    from lakecrew.adapters.spark.engine import SparkCatalogEngine, local_session
    from lakecrew.adapters.spark.table_store import SparkTableStore

    session = spark if spark is not None else local_session()
    root = ctx.layout.state_dir / "spark-catalog"
    # one in-memory catalog per JVM: a project's databases carry a prefix of its own
    digest = hashlib.sha256(str(ctx.layout.root.resolve()).encode()).hexdigest()[:8]
    prefix = f"lc{digest}_"
    tables = SparkTableStore(
        session, records_schema="lakecrew_records.lakecrew", delta=False, local_root=root,
        prefix=prefix,
    )  # fmt: skip

    def source_for(loaded: LoadedPipeline) -> Source:
        return open_source(ctx, loaded, overrides.get(loaded.spec.name))

    sql = SparkCatalogEngine(session, tables.query_parts)
    tables.queries = sql
    return _project_deps(ctx, tables, sql, source_for, create_keys)
