"""Build an ingestion source from a pipeline spec's ``source.type`` and ``options`` (plain data).

- file types (``csv``, ``json``, ``jsonl``, ``parquet``, ``files``): ``path`` (a file, or a folder
  with ``pattern``), ``delimiter``, ``encoding``, ``records_key``; relative paths resolve
  against ``base_dir``;
- ``dhis2``: ``base_url``, ``token_secret: {scope, key}`` (read from the SecretStore, never in the
  spec) and ``requests``: a list of ``{resource: dataValueSets | organisationUnits |
  trackedEntities, ...}`` with the arguments of the matching ``adapters.sources.dhis2`` function;
- ``kafka``: refused here (ConfigError): it runs on the Spark engine only, built by
  ``adapters.spark.kafka.build_kafka_source`` (see ``wiring.pipelines``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from lakecrew.adapters.sources.dhis2 import (
    data_value_sets,
    dhis2_auth,
    dhis2_source,
    organisation_units,
    tracked_entities,
)
from lakecrew.adapters.sources.files import (
    CsvOptions,
    FileFormat,
    FileSource,
    JsonOptions,
    OnChange,
)
from lakecrew.adapters.sources.http import HttpClient, PagedRequest
from lakecrew.core.errors import ConfigError
from lakecrew.ports.secrets import SecretStore
from lakecrew.ports.source import FILE_SOURCE_TYPES, SOURCE_TYPES, SPARK_ONLY_SOURCE_TYPES, Source


def spark_only(kind: str, *, where: str) -> ConfigError:
    """The refusal of a Spark-only source on the local (DuckDB) engine."""
    return ConfigError(
        f"a {kind} source runs on the Spark engine only (Structured Streaming)",
        where=f"{where} source.type",
        fix="run it with --engine spark (needs the Kafka connector: adapters/spark/README.md) "
        "or on Databricks (lakecrew pipeline bundle)",
    )


def build_source(
    kind: str,
    options: Mapping[str, Any],
    *,
    name: str,
    checkpoint: Path,
    base_dir: Path,
    secrets: SecretStore,
    where: str,
    client: HttpClient | None = None,
) -> Source:
    """The Source for ``kind``; ConfigError (naming ``where``) on unknown types or options."""
    if kind in FILE_SOURCE_TYPES:
        return _file_source(
            kind, options=options, name=name, checkpoint=checkpoint, base_dir=base_dir, where=where
        )
    if kind in SPARK_ONLY_SOURCE_TYPES:
        raise spark_only(kind, where=where)
    if kind == "dhis2":
        return _dhis2(
            options, name=name, checkpoint=checkpoint, secrets=secrets, where=where, client=client
        )
    raise ConfigError(
        f"unknown source type {kind!r}",
        where=f"{where} source.type",
        fix=f"use one of {', '.join(SOURCE_TYPES)}",
    )


def _file_source(
    kind: str,
    *,
    options: Mapping[str, Any],
    name: str,
    checkpoint: Path,
    base_dir: Path,
    where: str,
) -> FileSource:
    raw_path = options.get("path")
    if not isinstance(raw_path, str):
        raise ConfigError("a file source needs options.path", where=f"{where} source.options")
    path = Path(raw_path) if Path(raw_path).is_absolute() else base_dir / raw_path
    if path.suffix:
        root, pattern = path.parent, path.name
    else:
        root, pattern = path, str(options.get("pattern", "*"))
    encoding = options.get("encoding")
    batch_rows = options.get("batch_rows", 1_000_000)
    if not isinstance(batch_rows, int) or isinstance(batch_rows, bool) or batch_rows < 1:
        raise ConfigError(
            "options.batch_rows must be a positive whole number",
            where=f"{where} source.options.batch_rows",
            fix="e.g. batch_rows: 500000 (rows per batch; bounds a run's memory)",
        )
    return FileSource(
        name=name,
        root=root,
        checkpoint_path=checkpoint,
        pattern=pattern,
        format=None if kind == "files" else cast(FileFormat, kind),
        csv=CsvOptions(delimiter=str(options.get("delimiter", ",")), encoding=encoding),
        json=JsonOptions(records_key=options.get("records_key"), encoding=encoding),
        batch_rows=batch_rows,
        on_change=cast(OnChange, options.get("on_change", "reingest")),
        allow_no_files=bool(options.get("allow_no_files", False)),
    )


def _dhis2(
    options: Mapping[str, Any],
    *,
    name: str,
    checkpoint: Path,
    secrets: SecretStore,
    where: str,
    client: HttpClient | None,
) -> Source:
    base_url = options.get("base_url")
    secret = options.get("token_secret")
    requests = options.get("requests")
    if not isinstance(base_url, str) or not isinstance(secret, Mapping) or not requests:
        raise ConfigError(
            "a dhis2 source needs base_url, token_secret {scope, key} and requests",
            where=f"{where} source.options",
        )
    token = secrets.get(str(secret.get("scope")), str(secret.get("key")))
    auth = dhis2_auth(token=token.get_secret_value())
    reqs = [_request(r, where) for r in requests]
    return dhis2_source(name, base_url, reqs, checkpoint, auth=auth, client=client)


def _request(spec: Any, where: str) -> PagedRequest:
    if not isinstance(spec, Mapping):
        raise ConfigError("each dhis2 request is a mapping", where=f"{where} source.requests")
    args = {k: v for k, v in spec.items() if k != "resource"}
    resource = spec.get("resource")
    try:
        if resource == "dataValueSets":
            data_set = args.pop("data_set")
            return data_value_sets(data_set, **args)
        if resource == "organisationUnits":
            return organisation_units(**args)
        if resource == "trackedEntities":
            return tracked_entities(**args)
    except (KeyError, TypeError) as exc:
        raise ConfigError(
            f"bad arguments for dhis2 {resource}: {exc}", where=f"{where} source.requests"
        ) from None
    raise ConfigError(
        f"unknown dhis2 resource {resource!r}",
        where=f"{where} source.requests",
        fix="use dataValueSets, organisationUnits or trackedEntities",
    )
