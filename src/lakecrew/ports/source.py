"""Ingestion sources: files, REST APIs, databases and streams, all yielding the same Batch.

Two-phase contract (what makes ingestion exactly-once across crashes):

1. ``for batch in source.read():`` — reading never changes the checkpoint;
2. the caller writes ``batch.table`` to bronze (idempotently, keyed by ``batch.batch_id`` and
   the ``_source_row`` column) and quarantines ``batch.rejected``;
3. only then ``source.commit(batch.checkpoint)``.

A crash between 2 and 3 makes the next ``read()`` yield the same batch again, with the same
``batch_id`` and the same row numbers, so the bronze writer can drop what it already has.
Commit tokens must be committed in the order the batches were read.

Every batch table carries the metadata columns of ``METADATA_COLUMNS``; all other columns are
the source's own, as raw as the source allows (CSV fields as text, JSON values as text with the
whole record in ``_raw``, database values as their PostgreSQL text form, Parquet as typed).
A metadata text column that is constant in a batch (``_source_uri``, ``_batch_id``,
``_file_sha256``) may come dictionary-encoded (one value, no copy per row), and so may a CSV
column of few distinct values (parsed as a dictionary, one per chunk); they hold text all the
same, and ``plain`` gives the table with plain types to code that needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pyarrow as pa

SOURCE_URI = "_source_uri"
"""Where the row came from: file path, URL without credentials, table, spool."""
SOURCE_ROW = "_source_row"
"""1-based position of the row in its unit (file line, record index, spool sequence)."""
BATCH_ID = "_batch_id"
"""Deterministic id of the batch; equal on a re-read of the same data."""
RAW = "_raw"
"""The record exactly as received (JSON text) for semi-structured sources; null otherwise."""
FILE_SHA256 = "_file_sha256"
"""sha256 (hex) of the whole source file the row came from: which version of a file it is
(a changed file is ingested again as a new version); null for sources that are not files."""
METADATA_COLUMNS: tuple[str, ...] = (SOURCE_URI, SOURCE_ROW, BATCH_ID, RAW, FILE_SHA256)

FILE_SOURCE_TYPES = ("csv", "json", "jsonl", "parquet", "files")
SPARK_ONLY_SOURCE_TYPES = ("kafka",)
"""Streaming sources that only the Spark engine runs (adapters/spark/kafka.py)."""
SOURCE_TYPES = (*FILE_SOURCE_TYPES, "dhis2", *SPARK_ONLY_SOURCE_TYPES)
"""Every ``source.type`` a pipeline spec may name (adapters/sources/factory.py builds them)."""


def plain_type(dtype: pa.DataType) -> pa.DataType:
    """The type a column holds: a dictionary's value type, else the type itself."""
    return dtype.value_type if pa.types.is_dictionary(dtype) else dtype


def encoded_as(dtype: pa.DataType, target: pa.DataType) -> bool:
    """True when ``dtype`` is a dictionary of ``target`` values: stored as ``target`` without
    decoding (a cast would copy every row's value)."""
    return bool(pa.types.is_dictionary(dtype) and dtype.value_type == target)


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every dictionary type replaced by its value type."""
    if not any(pa.types.is_dictionary(f.type) for f in schema):
        return schema
    fields = [f.with_type(plain_type(f.type)) for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def plain(table: pa.Table) -> pa.Table:
    """``table`` with dictionary-encoded columns decoded (the same table when it has none)."""
    held = table.schema
    schema = plain_schema(held)
    return table if schema is held else table.cast(schema)


@dataclass(frozen=True)
class CheckpointToken:
    """What ``commit`` records once the batch is safely written. Opaque to callers."""

    source: str
    batch_id: str
    state: str
    """JSON text, interpreted only by the source that issued it."""


@dataclass(frozen=True)
class Rejected:
    """A record the source could not parse; kept for quarantine, never silently dropped.

    ``raw`` holds the original text and may contain personal data: write it to quarantine
    storage only, never to logs or error messages.
    """

    source_uri: str
    row: int | None
    reason: str
    raw: str


@dataclass(frozen=True, eq=False)
class Batch:
    """One unit of ingested data plus the token to commit after it is written."""

    batch_id: str
    source: str
    table: pa.Table
    checkpoint: CheckpointToken
    rejected: tuple[Rejected, ...] = ()
    encoding: str | None = None
    """Text encoding used to decode the input, when the source decoded text."""
    notes: tuple[str, ...] = field(default=())
    """One-line observations for the run report (never values, never secrets)."""

    @property
    def num_rows(self) -> int:
        """Number of accepted rows (rejected records are not counted)."""
        return int(self.table.num_rows)


class Source(Protocol):
    """Anything that yields batches and remembers, on commit, what was ingested."""

    @property
    def name(self) -> str:
        """Stable name of the source; part of every batch id and checkpoint token."""
        ...

    def discover(self) -> Sequence[str]:
        """Units of work (files, pages, tables, spool ranges) not yet committed."""
        ...

    def read(self) -> Iterator[Batch]:
        """Yield batches of the pending work in order; never changes the checkpoint."""
        ...

    def commit(self, token: CheckpointToken) -> None:
        """Record a batch as ingested; call only after its bronze write succeeded."""
        ...


@runtime_checkable
class Rewindable(Protocol):
    """A source that can read everything again, ignoring its checkpoint (``--full-refresh``)."""

    def rewind(self) -> None:
        """Make the next ``read`` yield every unit again (bronze skips rows it holds)."""
        ...


def drain(source: Source, write: Callable[[Batch], None]) -> int:
    """Read every pending batch, ``write`` it, then commit it; returns the rows written."""
    rows = 0
    for batch in source.read():
        write(batch)
        source.commit(batch.checkpoint)
        rows += batch.num_rows
    return rows
