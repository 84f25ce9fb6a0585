"""The strict ``source.options`` of file and DHIS2 sources (checked at load, at file:line).

Unknown keys are refused with a did-you-mean (``encodng`` → ``encoding``), like every other part
of a spec; ``kafka_spec.py`` does the same for Kafka. File sources (``csv``, ``json``, ``jsonl``,
``parquet``, ``files``) fail loudly by default:

- ``path``/``pattern`` matching no file at all is an error (``allow_no_files: true`` opts out,
  e.g. for a drop folder that is often empty); no *new* file is not an error;
- a file that changed since it was ingested (size, mtime, then sha256) is re-ingested as a new
  version (``on_change: reingest``, the default: bronze keeps both versions, each under a batch
  id derived from its sha256; the new version replaces the old one's rows in silver and
  quarantine), or fails the run
  (``on_change: error``), or is skipped with a note (``on_change: ignore``);
- a CSV whose last line is cut off (no final newline and the last record malformed) fails the
  file: nothing of it is committed, so the next run reads it again once it is complete.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lakecrew.ports.source import FILE_SOURCE_TYPES

OnChange = Literal["reingest", "error", "ignore"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSourceOptions(_Strict):
    """Options of a file source (``type: csv | json | jsonl | parquet | files``)."""

    path: Annotated[str, Field(min_length=1)]
    """A folder (then ``pattern`` picks files) or one file; relative to the spec's folder."""
    pattern: Annotated[str, Field(min_length=1)] = "*"
    """Glob under ``path`` (recursive), e.g. ``*.csv``."""
    encoding: str | None = None
    """Text encoding; unset: UTF-8, else detected and reported in the run's notes."""
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    """CSV field delimiter (one character)."""
    records_key: str | None = None
    """JSON: the key of the array of records inside a top-level object (e.g. ``dataValues``)."""
    batch_rows: Annotated[int, Field(ge=1)] = 1_000_000
    """Rows per CSV batch: bounds a run's memory."""
    on_change: OnChange = "reingest"
    """A file changed since it was ingested: ``reingest`` (new version), ``error``, ``ignore``."""
    allow_no_files: bool = False
    """``true``: a path/pattern matching no file is not an error (the run notes it)."""


class Dhis2Secret(_Strict):
    """Where the DHIS2 personal access token lives in the secret store."""

    scope: Annotated[str, Field(min_length=1)]
    key: Annotated[str, Field(min_length=1)]


class Dhis2Request(BaseModel):
    """One DHIS2 request: ``resource`` plus that resource's arguments (checked when built)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    resource: Literal["dataValueSets", "organisationUnits", "trackedEntities"]


class Dhis2SourceOptions(_Strict):
    """Options of ``type: dhis2``."""

    base_url: Annotated[str, Field(min_length=1)]
    token_secret: Dhis2Secret
    requests: Annotated[list[Dhis2Request], Field(min_length=1)]


SOURCE_OPTION_MODELS: dict[str, type[BaseModel]] = {
    **dict.fromkeys(FILE_SOURCE_TYPES, FileSourceOptions),
    "dhis2": Dhis2SourceOptions,
}


def validate_source_options(kind: str, value: Any) -> Any:
    """Validate ``source.options`` of a file or DHIS2 source; returns the options unchanged."""
    model = SOURCE_OPTION_MODELS.get(kind)
    if model is not None:
        model.model_validate(value)
    return value
