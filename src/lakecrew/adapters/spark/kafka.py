"""Kafka → bronze on Spark Structured Streaming, exactly once, through the TableStore.

The pieces, in the order a query uses them:

- ``read_kafka(spark, options)``: ``spark.readStream.format("kafka").options(**opts).load()``;
  a Spark without the Kafka connector ("Failed to find data source: kafka") becomes one
  ``ConfigError`` saying how to add it;
- ``bronze_projection(stream, include_headers=)``: Kafka's fixed schema (``KAFKA_SCHEMA``) →
  bronze columns: ``key`` (text), ``topic``, ``partition``, ``offset``, ``timestamp``,
  ``timestamp_type`` [, ``headers`` as JSON text], ``_source_uri`` = ``kafka://topic/partition``,
  ``_source_row`` = offset, ``_raw`` = ``CAST(value AS STRING)``;
- ``BronzeStreamWriter``: the ``foreachBatch`` function. Batch id = ``<query id>:<batch id>``
  (the query id is kept in the checkpoint, so a replayed micro-batch has the same id); rows whose
  ``(_batch_id, _source_uri, _source_row)`` bronze already holds are skipped, the rest appended
  with ``_ingested_at`` in one commit. Spark records the micro-batch as done only after the
  function returns, so a crash in between replays it and the skip makes it exactly-once;
- ``start_bronze_stream(stream, writer, ...)`` / ``run_bronze_stream``: the ``writeStream`` with
  ``checkpointLocation``, the trigger (``availableNow`` or ``processingTime``) and the writer.
  **Injection point**: they take any streaming DataFrame with Kafka's schema, so tests feed
  Kafka-shaped records through Spark's file stream source into the same product code.
- ``SparkKafkaSource``: the ``Source`` the pipeline runner drains. Unlike file sources its
  ``read()`` writes bronze itself (inside ``foreachBatch``; the Spark checkpoint is the commit
  log), then yields each micro-batch's row keys, which the runner finds already in bronze and
  hands to silver (so silver and gold follow in the same run).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakecrew.adapters.spark.kafka_options import (
    KafkaReaderOptions,
    kafka_options,
    parse_kafka_options,
    redact,
)
from lakecrew.core.errors import ConfigError, DataError, LakecrewError
from lakecrew.core.kafka_spec import KafkaSourceOptions, ProcessingTime
from lakecrew.ports.clock import Clock
from lakecrew.ports.secrets import SecretStore
from lakecrew.ports.source import BATCH_ID, RAW, SOURCE_ROW, SOURCE_URI, Batch, CheckpointToken
from lakecrew.ports.tables import TableStore

INGESTED_AT = "_ingested_at"
TS = pa.timestamp("us", tz="UTC")
KAFKA_SCHEMA = StructType(
    [
        StructField("key", BinaryType()),
        StructField("value", BinaryType()),
        StructField("topic", StringType()),
        StructField("partition", IntegerType()),
        StructField("offset", LongType()),
        StructField("timestamp", TimestampType()),
        StructField("timestampType", IntegerType()),
    ]
)
"""The fixed schema of Spark's Kafka source (without ``includeHeaders``)."""
HEADERS_FIELD = StructField(
    "headers",
    ArrayType(StructType([StructField("key", StringType()), StructField("value", BinaryType())])),
)
KAFKA_PACKAGE = "org.apache.spark:spark-sql-kafka-0-10_2.13"
Trigger = str | ProcessingTime


def kafka_schema(include_headers: bool = False) -> StructType:
    """Kafka's record schema, with ``headers`` when ``includeHeaders`` is on."""
    fields = list(KAFKA_SCHEMA.fields) + ([HEADERS_FIELD] if include_headers else [])
    return StructType(fields)


def missing_connector_error(spark: SparkSession, where: str = "kafka source") -> ConfigError:
    """The one error for a Spark without the Kafka data source."""
    return ConfigError(
        "this Spark has no Kafka data source (the spark-sql-kafka connector is not installed)",
        where=where,
        fix=f"add {KAFKA_PACKAGE}:{spark.version} via spark.jars.packages "
        "(or --packages), or run on Databricks where it is built in",
    )


def read_kafka(
    spark: SparkSession, options: Mapping[str, str], *, where: str = "kafka source"
) -> DataFrame:
    """The streaming DataFrame of Spark's Kafka source (``KAFKA_SCHEMA``)."""
    try:
        return spark.readStream.format("kafka").options(**dict(options)).load()
    except PySparkException as exc:  # AnalysisException and friends
        text = str(exc)
        if "DATA_SOURCE_NOT_FOUND" in text or "Failed to find data source" in text:
            raise missing_connector_error(spark, where) from None
        first = redact(text.splitlines()[0] if text else type(exc).__name__, options)
        raise ConfigError(f"cannot open the Kafka stream: {first[:300]}", where=where) from None


def bronze_projection(stream: DataFrame, *, include_headers: bool = False) -> DataFrame:
    """Kafka's columns → bronze columns and lakecrew's metadata (no batch id yet)."""
    cols = [
        F.col("key").cast("string").alias("key"),
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.col("timestamp"),
        F.col("timestampType").alias("timestamp_type"),
    ]
    if include_headers:
        text = F.transform(
            "headers",
            lambda h: F.struct(h["key"].alias("key"), h["value"].cast("string").alias("value")),
        )
        cols.append(F.to_json(text).alias("headers"))
    uri = F.concat(F.lit("kafka://"), F.col("topic"), F.lit("/"), F.col("partition").cast("string"))
    cols += [
        uri.alias(SOURCE_URI),
        F.col("offset").alias(SOURCE_ROW),
        F.col("value").cast("string").alias(RAW),
    ]
    return stream.select(*cols)


@dataclass
class BronzeStreamWriter:
    """``foreachBatch`` function appending each micro-batch to bronze, idempotently."""

    tables: TableStore
    table: str
    clock: Clock
    checkpoint: str
    partition_by: Sequence[str] = ()
    batches: int = 0
    written: int = 0
    skipped: int = 0
    failure: BaseException | None = None
    after_batch: Callable[[], None] | None = None
    """Continuous triggers: run the downstream layers (silver, gold) after each micro-batch."""
    keys: list[pa.Table] = field(default_factory=list, repr=False)
    """Per micro-batch with rows: its ``(_source_uri, _source_row, _batch_id)`` (for ``read``)."""
    _query_id: str | None = field(default=None, repr=False)

    def __call__(self, frame: DataFrame, epoch_id: int) -> None:
        try:
            self._write(frame, epoch_id)
            if self.after_batch is not None:
                self.after_batch()
        except BaseException as exc:  # kept: Spark only passes the text back
            self.failure = exc
            raise

    def batch_id(self, spark: SparkSession, epoch_id: int) -> str:
        """``<query id>:<epoch>``: the same on a replay from the same checkpoint."""
        if self._query_id is None:
            self._query_id = query_id(spark, self.checkpoint)
        return f"{self._query_id}:{epoch_id}"

    def _write(self, frame: DataFrame, epoch_id: int) -> None:
        data = frame.toArrow()
        self.batches += 1
        if not data.num_rows:
            return
        bid = self.batch_id(frame.sparkSession, epoch_id)
        at = data.schema.get_field_index(RAW)
        data = data.add_column(at, BATCH_ID, pa.array([bid] * data.num_rows, pa.string()))
        self.keys.append(data.select([SOURCE_URI, SOURCE_ROW, BATCH_ID]))
        fresh = self._unseen(data, bid)
        self.skipped += data.num_rows - fresh.num_rows
        if not fresh.num_rows:
            return
        stamp = pa.array([self.clock.now()] * fresh.num_rows, TS)
        fresh = fresh.append_column(INGESTED_AT, stamp)
        if not self.tables.exists(self.table):
            self.tables.create(self.table, fresh.schema, partition_by=self.partition_by)
        self.tables.append(self.table, fresh)
        self.written += fresh.num_rows

    def _unseen(self, data: pa.Table, bid: str) -> pa.Table:
        if not self.tables.exists(self.table):
            return data
        seen = self.tables.read(self.table, [SOURCE_URI, SOURCE_ROW], where={BATCH_ID: bid})
        if not seen.num_rows:
            return data
        keep = pc.invert(pc.is_in(_row_keys(data), value_set=_row_keys(seen)))
        return data.filter(keep)


def _row_keys(table: pa.Table) -> pa.Array:
    rows = pc.cast(table.column(SOURCE_ROW), pa.string())
    return pc.binary_join_element_wise(table.column(SOURCE_URI), rows, "#").combine_chunks()


def query_id(spark: SparkSession, checkpoint: str) -> str:
    """The streaming query's id, as its checkpoint's ``metadata`` file records it."""
    local = checkpoint.removeprefix("file://")
    if "://" not in local and Path(local, "metadata").is_file():
        text = Path(local, "metadata").read_text(encoding="utf-8")
    else:
        rows = spark.read.text(f"{checkpoint.rstrip('/')}/metadata").collect()
        text = "\n".join(r[0] for r in rows)
    try:
        return str(json.loads(text.splitlines()[0])["id"])
    except (ValueError, KeyError, IndexError):
        raise DataError(
            "the streaming checkpoint has no readable query id",
            where=f"{checkpoint}/metadata",
            fix="restore the checkpoint, or start over with an empty checkpoint folder",
        ) from None


def start_bronze_stream(
    stream: DataFrame,
    writer: BronzeStreamWriter,
    *,
    trigger: Trigger = "available_now",
    include_headers: bool = False,
) -> StreamingQuery:
    """Start ``stream`` (Kafka's schema) → ``writer`` with its checkpoint and the trigger."""
    projected = bronze_projection(stream, include_headers=include_headers)
    out = projected.writeStream.option("checkpointLocation", writer.checkpoint)
    out = out.foreachBatch(writer)
    if isinstance(trigger, ProcessingTime):
        out = out.trigger(processingTime=trigger.processing_time)
    else:
        out = out.trigger(availableNow=True)
    return out.start()


def run_bronze_stream(
    stream: DataFrame,
    writer: BronzeStreamWriter,
    *,
    trigger: Trigger = "available_now",
    include_headers: bool = False,
    where: str = "kafka source",
) -> BronzeStreamWriter:
    """Run the query until it stops (``available_now``: when caught up); re-raise failures."""
    query = start_bronze_stream(stream, writer, trigger=trigger, include_headers=include_headers)
    try:
        query.awaitTermination()
    except PySparkException as exc:  # StreamingQueryException
        if isinstance(writer.failure, LakecrewError):
            raise writer.failure from None
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"the streaming query failed: {text[:300]}", where=where) from None
    finally:
        if query.isActive:
            query.stop()
    return writer


Reader = Callable[[SparkSession, Mapping[str, str]], DataFrame]


@dataclass
class SparkKafkaSource:
    """The pipeline ``Source`` of a kafka spec on the Spark engine (see module docstring)."""

    name: str
    spark: SparkSession
    spec: KafkaSourceOptions
    options: KafkaReaderOptions
    writer: BronzeStreamWriter
    reader: Reader | None = None
    """Opens the stream; ``None`` = ``read_kafka`` (tests pass a Kafka-shaped file stream)."""
    where: str = "kafka source"

    def discover(self) -> Sequence[str]:
        """The subscription (topics, pattern or assignment) the query reads."""
        for key in ("subscribe", "subscribePattern", "assign"):
            if key in self.options:
                return [f"kafka {key}={self.options[key]}"]
        return []

    def read(self) -> Iterator[Batch]:
        """Run the query into bronze, then yield each micro-batch's row keys (already written).

        The runner's bronze step finds those rows in bronze (counted as skipped) and hands each
        batch id to silver, so silver and gold follow in the same run. A run that read nothing
        yields one empty batch; the first batch's notes carry the streaming counts.
        """
        if self.reader is None:
            stream = read_kafka(self.spark, self.options, where=self.where)
        else:
            stream = self.reader(self.spark, self.options)
        run_bronze_stream(
            stream,
            self.writer,
            trigger=self.spec.trigger,
            include_headers=self.spec.include_headers,
            where=self.where,
        )
        w = self.writer
        note = (
            f"kafka: {w.batches} micro-batch(es), {w.written} row(s) appended to bronze "
            f"in foreachBatch, {w.skipped} already there"
        )
        empty = pa.table(
            {
                SOURCE_URI: pa.array([], pa.string()),
                SOURCE_ROW: pa.array([], pa.int64()),
                BATCH_ID: pa.array([], pa.string()),
            }
        )
        notes: tuple[str, ...] = (note,)
        for keys in w.keys or [empty]:
            bid = keys.column(BATCH_ID)[0].as_py() if keys.num_rows else "spark-checkpoint"
            token = CheckpointToken(self.name, bid, json.dumps({}))
            yield Batch(bid, self.name, keys, token, notes=notes)
            notes = ()

    def commit(self, token: CheckpointToken) -> None:
        """Nothing to do: Spark's checkpoint committed each micro-batch after its write."""


def build_kafka_source(
    *,
    name: str,
    spark: SparkSession,
    options: Mapping[str, Any],
    secrets: SecretStore,
    writer: BronzeStreamWriter,
    where: str,
    reader: Reader | None = None,
) -> SparkKafkaSource:
    """The Source of a kafka spec (``options`` = its validated ``source.options``)."""
    spec = parse_kafka_options(options)
    shaded = "DATABRICKS_RUNTIME_VERSION" in os.environ
    opts = kafka_options(spec, secrets, shaded_client=shaded)
    return SparkKafkaSource(name, spark, spec, opts, writer, reader=reader, where=where)
