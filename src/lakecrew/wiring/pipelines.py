"""Composition of the pipeline runner for a local project (may import adapters and the Context).

- ``runner_for(ctx, spec_dir)``: a PipelineRunner over the project's lakehouse, metastore, SQL
  engine, clock, file sources and secret store;
- ``find_spec(ctx, name)`` / ``list_specs(ctx)``: specs in ``<project>/pipelines/*.yaml`` first,
  then the demo specs shipped in ``lakecrew/pipelines_demo``;

Relative source paths in a spec resolve against the spec file's folder. Source checkpoints live
in ``<project>/.lakecrew/checkpoints/<pipeline>/<env>/``. A ``kafka`` source runs on the Spark
engine only (``check_engine``): a Structured Streaming query whose ``foreachBatch`` writes bronze
(adapters/spark/kafka.py); its checkpoint is the spec's ``checkpoint`` option (relative paths
resolve against the project root).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

import lakecrew.services.pipelines.demo_transforms  # noqa: F401  (registers the demo transforms)
from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.adapters.sources.factory import SPARK_ONLY_TYPES, build_source, spark_only
from lakecrew.core.errors import ConfigError
from lakecrew.ports.secrets import SecretStore
from lakecrew.ports.source import Source
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.pipelines.loader import LoadedPipeline, load_pipeline_spec
from lakecrew.services.pipelines.runner import PipelineRunner
from lakecrew.services.pipelines.spec import Environment
from lakecrew.services.pipelines.steps import RunnerDeps
from lakecrew.services.pipelines.streaming import after_micro_batch
from lakecrew.services.privacy.kinds import MaskMethod
from lakecrew.services.privacy.masking import Tokenizer

if TYPE_CHECKING:
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
) -> Source:
    """Build the ingestion source a spec names (``overrides`` replace source options);
    ``secret_store`` (default: the project's store) resolves the spec's secret references."""
    spec = loaded.spec
    checkpoint = ctx.layout.state_dir / "checkpoints" / spec.name / loaded.env / "source.json"
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
    if kind in SPARK_ONLY_TYPES and engine != "spark":
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
) -> PipelineRunner:
    """A PipelineRunner over the project's local backend, or a Databricks workspace's.

    ``create_keys`` makes a missing tokenization key (demo projects only); ``source_overrides``
    maps a pipeline name to source options replacing the spec's (e.g. the demo's DHIS2 URL).
    ``engine="spark"`` runs the gold SQL models on a local SparkSession (pyspark installed)
    and is the only engine that runs a ``kafka`` source (others raise ConfigError).
    ``workspace`` (a ``backend: databricks`` workspace with a ``warehouse_id``) writes Unity
    Catalog managed tables by name through its warehouse (``databricks_runner_deps``), with
    lakecrew's record tables in ``<records_catalog>.lakecrew``.
    """
    overrides = source_overrides or {}
    if not ctx.writable:
        raise ConfigError(
            "pipelines need a writable context", fix="Context.open(..., writable=True)"
        )
    if workspace is not None:
        return PipelineRunner(
            databricks_runner_deps(ctx, workspace, records_catalog, engine, overrides)
        )

    def source_for(loaded: LoadedPipeline) -> Source:
        check_engine(loaded, engine)
        if loaded.spec.source.type == "kafka":
            return _kafka_source(ctx, loaded, deps)
        return open_source(ctx, loaded, overrides.get(loaded.spec.name))

    deps = RunnerDeps(
        tables=DeltaTableStore(ctx.store),
        catalog=ctx.metastore,
        lineage=ctx.metastore,
        sql=_engine(ctx, engine),
        clock=ctx.clock,
        open_source=source_for,
        tokenizer=lambda loaded: tokenizer_for(ctx, loaded, create_key=create_keys),
        sleep=time.sleep,
        locks=ctx.locks,
        bind_sql=ctx.sql,
    )
    return PipelineRunner(deps)


def check_workspace(ctx: Context, workspace: str) -> Any:
    """The lakecrew.yaml entry of a workspace pipelines can write to: ``backend: databricks``
    with a ``warehouse_id`` (ConfigError otherwise, UnknownName for an unknown name)."""
    ws = ctx.config.workspace(workspace)
    if ws.backend != "databricks" or not ws.warehouse_id:
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
    from lakecrew.adapters.databricks.catalog import RunLineage
    from lakecrew.adapters.databricks.secrets import DatabricksSecretStore
    from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
    from lakecrew.adapters.databricks.table_store import UnityCatalogTableStore

    ws = check_workspace(ctx, workspace)
    if engine != "local":
        raise ConfigError(
            f"--engine {engine} with --workspace is not supported: on a workspace the gold SQL "
            "runs on its SQL warehouse",
            where="--engine",
            fix="drop --engine (kafka sources on Databricks: not built yet)",
        )
    if not records_catalog:
        raise ConfigError("a workspace run needs the catalog of lakecrew's record tables",
                          fix="pass records_catalog (the CLI uses the spec's catalog)")  # fmt: skip
    remote = ctx.workspace(workspace)
    sql = ctx.workspace_sql(workspace)
    assert isinstance(sql, DatabricksSqlEngine)  # a databricks workspace with a warehouse_id
    client = remote.client  # type: ignore[attr-defined]
    catalog = databricks_catalog(remote, ws.warehouse_id)
    scopes = DatabricksSecretStore(client, ws.name)

    def source_for(loaded: LoadedPipeline) -> Source:
        check_engine(loaded, engine)
        return open_source(ctx, loaded, overrides.get(loaded.spec.name), secret_store=scopes)

    return RunnerDeps(
        tables=UnityCatalogTableStore(client, sql, records_schema=f"{records_catalog}.lakecrew"),
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
