"""Composition of the pipeline runner for a local project (may import adapters and context).

- ``runner_for(ctx, spec_dir)``: a PipelineRunner over the project's lakehouse, metastore, SQL
  engine, clock, file sources and secret store;
- ``find_spec(ctx, name)`` / ``list_specs(ctx)``: specs in ``<project>/pipelines/*.yaml`` first,
  then the demo specs shipped in ``lakecrew/pipelines_demo``;
- ``run_demo_pipelines(ctx)``: runs the demo pipelines on the bundled real data (``lakecrew demo``).

Relative source paths in a spec resolve against the spec file's folder. Source checkpoints live
in ``<project>/.lakecrew/checkpoints/<pipeline>/<env>/``.
"""

from __future__ import annotations

import secrets
import time
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from lakecrew.adapters.local.secrets import LocalSecretStore
from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.adapters.sources.files import CsvOptions, FileSource, JsonOptions
from lakecrew.context import Context
from lakecrew.core.errors import ConfigError, NotFound
from lakecrew.ports.source import Source
import lakecrew.services.pipelines.demo_transforms  # noqa: F401  (registers the demo transforms)
from lakecrew.services.pipelines.loader import LoadedPipeline, load_pipeline_spec
from lakecrew.services.pipelines.runner import PipelineRunner
from lakecrew.services.pipelines.spec import Environment
from lakecrew.services.pipelines.steps import RunnerDeps
from lakecrew.services.privacy.kinds import MaskMethod
from lakecrew.services.privacy.masking import Tokenizer

FILE_TYPES = {"csv", "json", "jsonl", "parquet", "files"}
DEMO_PIPELINES = ("lassa_weekly", "facilities", "eha_locations")


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
    """The spec file of pipeline ``name``; NotFound listing the known ones."""
    specs = list_specs(ctx)
    if name not in specs:
        raise NotFound(
            f"no pipeline named {name!r}",
            where=", ".join(str(d) for d in spec_dirs(ctx)),
            fix=f"known pipelines: {', '.join(sorted(specs)) or 'none'}",
        )
    return specs[name]


def load(ctx: Context, name: str, env: Environment = "dev") -> LoadedPipeline:
    """Load and validate pipeline ``name`` for ``env``."""
    return load_pipeline_spec(find_spec(ctx, name), env)


def open_source(ctx: Context, loaded: LoadedPipeline) -> Source:
    """Build the ingestion source a spec names (file formats for now)."""
    spec = loaded.spec
    kind = spec.source.type
    options = dict(spec.source.options)
    checkpoint = ctx.layout.state_dir / "checkpoints" / spec.name / loaded.env / "source.json"
    if kind not in FILE_TYPES:
        raise ConfigError(
            f"source type {kind!r} is not available to the local runner",
            where=f"pipeline {spec.name} source.type",
            fix=f"use one of {', '.join(sorted(FILE_TYPES))}",
        )
    raw_path = options.get("path")
    if not isinstance(raw_path, str):
        raise ConfigError("a file source needs options.path", where=f"pipeline {spec.name}")
    base = Path(loaded.source).parent if loaded.source else ctx.layout.root
    path = Path(raw_path) if Path(raw_path).is_absolute() else (base / raw_path)
    root, pattern = (path.parent, path.name) if path.suffix else (path, options.get("pattern", "*"))
    return FileSource(
        name=f"{spec.name}:{loaded.env}",
        root=root,
        checkpoint_path=checkpoint,
        pattern=str(pattern),
        format=None if kind == "files" else kind,  # type: ignore[arg-type]
        csv=CsvOptions(
            delimiter=str(options.get("delimiter", ",")),
            encoding=options.get("encoding"),
        ),
        json=JsonOptions(records_key=options.get("records_key"), encoding=options.get("encoding")),
    )


def secret_store(ctx: Context) -> LocalSecretStore:
    """The project's local secret store."""
    return LocalSecretStore(ctx.layout.state_dir / "secrets")


def tokenizer_for(ctx: Context, loaded: LoadedPipeline, *, create_key: bool) -> Tokenizer | None:
    """The tokenizer of a spec (None when no column is tokenized); optionally makes the key."""
    privacy = loaded.spec.privacy
    needs = any(c.mask == MaskMethod.TOKENIZE for c in loaded.spec.silver.columns) or any(
        c.pii.value != "none" for c in loaded.spec.silver.columns
    )
    if not needs:
        return None
    store = secret_store(ctx)
    if create_key and not store.exists(privacy.key_scope, privacy.key_name):
        store.put(privacy.key_scope, privacy.key_name, SecretStr(secrets.token_hex(32)))
    return Tokenizer.from_store(store, privacy.key_scope, privacy.key_name)


def runner_for(ctx: Context, *, create_keys: bool = False) -> PipelineRunner:
    """A PipelineRunner over the project's local backend."""
    if not ctx.writable:
        raise ConfigError(
            "pipelines need a writable context", fix="Context.open(..., writable=True)"
        )
    deps = RunnerDeps(
        tables=DeltaTableStore(ctx.store),
        catalog=ctx.metastore,
        lineage=ctx.metastore,
        sql=ctx.sql,
        clock=ctx.clock,
        open_source=lambda loaded: open_source(ctx, loaded),
        tokenizer=lambda loaded: tokenizer_for(ctx, loaded, create_key=create_keys),
        sleep=time.sleep,
    )
    return PipelineRunner(deps)


def run_demo_pipelines(ctx: Context) -> dict[str, Any]:
    """Run every demo pipeline (dev) on the bundled data; name → report dict."""
    runner = runner_for(ctx, create_keys=True)
    out: dict[str, Any] = {}
    for name in DEMO_PIPELINES:
        report = runner.run(load_pipeline_spec(demo_dir() / f"{name}.yaml", "dev"))
        out[name] = {
            "tables": report.tables,
            "quarantine": report.quarantine,
            "layers": report.layers,
            "reconciled": report.reconciled,
            "expectations": report.expectations,
        }
    return out
