"""Kafka → bronze on a real local Structured Streaming query (one shared SparkSession).

There is no broker and no Kafka connector jar offline: the missing-connector error is checked on
a real session, and the streaming plumbing (projection, foreachBatch writer, checkpoint,
availableNow trigger, exactly-once across runs and a crash) is driven by Kafka-shaped records
through Spark's built-in Parquet file stream source — the product's injection point.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

pytest.importorskip("pyspark")

from pyspark.sql import DataFrame, SparkSession

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.secrets import LocalSecretStore
from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.adapters.spark.kafka import (
    BronzeStreamWriter,
    build_kafka_source,
    kafka_schema,
    read_kafka,
    run_bronze_stream,
)
from lakecrew.adapters.spark.kafka_options import KafkaReaderOptions
from lakecrew.core.errors import ConfigError, DataError
from lakecrew.ports.clock import FixedClock
from lakecrew.ports.source import BATCH_ID, RAW, SOURCE_ROW, SOURCE_URI, Source
from lakecrew.services.pipelines.loader import LoadedPipeline, load_pipeline_spec
from lakecrew.services.pipelines.runner import PipelineRunner
from lakecrew.services.pipelines.steps import RunnerDeps
from lakecrew.testing.kafka import kafka_records, write_records
from lakecrew.testing.pipelines import make_project
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

pytestmark = pytest.mark.integration
BRONZE = "lab_dev.bronze.lab_results_raw"
EXAMPLE = (
    Path(__file__).parents[2] / "src/lakecrew/services/pipelines/examples/lab_results_kafka.yaml"
)


@pytest.fixture(scope="module")
def spark(spark_session: SparkSession) -> Iterator[SparkSession]:
    yield spark_session  # tests/integration/conftest.py


def _stream(spark: SparkSession, folder: Path, headers: bool = False) -> DataFrame:
    return spark.readStream.schema(kafka_schema(headers)).parquet(str(folder))


def _writer(tmp: Path, clock: FixedClock) -> BronzeStreamWriter:
    store = DeltaTableStore(DeltaStore(tmp / "lake"))
    return BronzeStreamWriter(store, BRONZE, clock, str(tmp / "checkpoint"))


def test_missing_connector_is_one_clear_error(spark: SparkSession) -> None:
    opts = KafkaReaderOptions({"kafka.bootstrap.servers": "b1:9092", "subscribe": "t"})
    with pytest.raises(ConfigError) as err:
        read_kafka(spark, opts, where="pipeline lab_results_kafka source")
    text = str(err.value)
    assert "\n" not in text
    assert "pipeline lab_results_kafka source" in text
    assert f"org.apache.spark:spark-sql-kafka-0-10_2.13:{spark.version}" in text
    assert "spark.jars.packages" in text and "Databricks" in text


def test_secret_never_in_connector_error(spark: SparkSession) -> None:
    jaas = 'x.PlainLoginModule required username="u" password="Sup3r-s3cret";'
    opts = KafkaReaderOptions(
        {"kafka.bootstrap.servers": "b1:9092", "subscribe": "t", "kafka.sasl.jaas.config": jaas},
        ("Sup3r-s3cret",),
    )
    with pytest.raises(ConfigError) as err:
        read_kafka(spark, opts)
    assert "Sup3r-s3cret" not in str(err.value) and "Sup3r-s3cret" not in repr(err.value)


def test_stream_to_bronze_is_exactly_once_across_runs_and_a_crash(
    spark: SparkSession, tmp_path: Path
) -> None:
    clock = FixedClock(datetime(2026, 1, 5, 7, 0, tzinfo=UTC))
    incoming = tmp_path / "incoming"
    write_records(incoming, "f1", kafka_records("lab_results", 0, range(0, 5)))
    write_records(incoming, "f2", kafka_records("lab_results", 1, range(0, 3)))

    first = run_bronze_stream(_stream(spark, incoming), _writer(tmp_path, clock))
    assert (first.written, first.skipped) == (8, 0)
    store = DeltaTableStore(DeltaStore(tmp_path / "lake"))
    bronze = store.read(BRONZE)
    assert bronze.num_rows == 8
    assert set(bronze.column(SOURCE_URI).to_pylist()) == {
        "kafka://lab_results/0",
        "kafka://lab_results/1",
    }
    row = next(r for r in bronze.to_pylist() if r[SOURCE_URI] == "kafka://lab_results/0")
    assert row["key"] == f"S0-{row[SOURCE_ROW]}" and row["offset"] == row[SOURCE_ROW]
    assert row[RAW].startswith('{"sample_id": "S0-')
    assert row["_ingested_at"] == clock.now()

    # Second run (a new process would build a new writer): only the new file is read.
    write_records(incoming, "f3", kafka_records("lab_results", 0, range(5, 9)))
    second = run_bronze_stream(_stream(spark, incoming), _writer(tmp_path, clock))
    assert (second.written, second.skipped) == (4, 0)
    assert store.count(BRONZE) == 12

    # Crash after the bronze commit but before Spark records the micro-batch as done.
    write_records(incoming, "f4", kafka_records("lab_results", 1, range(3, 10)))
    crashing = _writer(tmp_path, clock)

    def crash() -> None:
        raise RuntimeError("simulated crash after the bronze write")

    crashing.after_batch = crash
    with pytest.raises(DataError, match="streaming query failed"):
        run_bronze_stream(_stream(spark, incoming), crashing)
    assert crashing.written == 7
    assert store.count(BRONZE) == 19  # written, but the micro-batch is not committed

    # Restart: Spark replays the same micro-batch (same batch id); bronze keeps one copy.
    replay = run_bronze_stream(_stream(spark, incoming), _writer(tmp_path, clock))
    assert (replay.written, replay.skipped) == (0, 7)

    final = store.read(BRONZE)
    keys = list(
        zip(final.column(SOURCE_URI).to_pylist(), final.column(SOURCE_ROW).to_pylist(), strict=True)
    )
    expected = [("kafka://lab_results/0", o) for o in range(9)]
    expected += [("kafka://lab_results/1", o) for o in range(10)]
    assert sorted(keys) == sorted(expected)  # nothing lost, nothing twice
    assert len(set(final.column(BATCH_ID).to_pylist())) == 3  # one id per committed batch

    # Nothing new: the next run reads nothing.
    idle = run_bronze_stream(_stream(spark, incoming), _writer(tmp_path, clock))
    assert (idle.written, idle.skipped) == (0, 0)
    assert store.count(BRONZE) == 19


def test_headers_become_json_text(spark: SparkSession, tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 1, 5, 7, 0, tzinfo=UTC))
    incoming = tmp_path / "incoming"
    write_records(incoming, "h1", kafka_records("lab_results", 2, [40, 41], with_headers=True))
    writer = _writer(tmp_path, clock)
    run_bronze_stream(_stream(spark, incoming, headers=True), writer, include_headers=True)
    rows = DeltaTableStore(DeltaStore(tmp_path / "lake")).read(BRONZE).to_pylist()
    assert sorted(r[SOURCE_ROW] for r in rows) == [40, 41]
    assert all(r["headers"] == '[{"key":"source","value":"lims"}]' for r in rows)


def test_pipeline_run_streams_into_bronze_then_silver_exactly_once(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The real runner over the product's Kafka source, fed Kafka-shaped files."""
    clock = FixedClock(datetime(2026, 1, 5, 7, 0, tzinfo=UTC))
    incoming = tmp_path / "incoming"
    root = make_project(tmp_path / "proj")
    ctx = Context.open(root, writable=True)
    loaded = load_pipeline_spec(EXAMPLE, "dev")
    tables = DeltaTableStore(ctx.store)

    def open_source(pipeline: LoadedPipeline) -> Source:
        writer = BronzeStreamWriter(
            tables, pipeline.full_name(pipeline.spec.bronze.table), clock, str(tmp_path / "ck")
        )
        options = {**pipeline.spec.source.options, "security": {"protocol": "PLAINTEXT"}}
        return build_kafka_source(
            name="lab:dev",
            spark=spark,
            options=options,
            secrets=LocalSecretStore(tmp_path / "secrets", environ={}),
            writer=writer,
            where="pipeline lab source",
            reader=lambda s, opts: _stream(s, incoming, headers=True),  # not a broker
        )

    deps = RunnerDeps(
        tables=tables,
        catalog=ctx.metastore,
        lineage=ctx.metastore,
        sql=ctx.sql,
        clock=clock,
        open_source=open_source,
        tokenizer=lambda _: None,
    )
    silver = loaded.full_name(loaded.spec.silver.table)
    try:
        write_records(incoming, "p1", kafka_records("lab_results", 0, range(3), with_headers=True))
        write_records(incoming, "p2", kafka_records("lab_results", 1, range(2), with_headers=True))
        first = PipelineRunner(deps).run(loaded)
        assert first.layers["silver"]["written"] == 5
        assert any("5 row(s) appended to bronze" in n for n in first.notes)
        write_records(
            incoming, "p3", kafka_records("lab_results", 0, range(3, 5), with_headers=True)
        )
        second = PipelineRunner(deps).run(loaded)
        assert second.layers["silver"]["written"] == 2
        idle = PipelineRunner(deps).run(loaded)
        assert idle.layers.get("silver", {}).get("written", 0) == 0
        rows = tables.read(silver).to_pylist()
    finally:
        ctx.close()
    got = sorted((r["topic"], r["partition"], r["offset"]) for r in rows)
    assert got == [("lab_results", 0, o) for o in range(5)] + [
        ("lab_results", 1, o) for o in range(2)
    ]
    assert {r["message_key"] for r in rows} >= {"S0-0", "S1-1"}


def test_spark_engine_run_of_a_kafka_spec_reaches_the_connector_check(
    spark: SparkSession, tmp_path: Path
) -> None:
    root = make_project(tmp_path / "proj")
    (root / "pipelines").mkdir(exist_ok=True)
    shutil.copy(EXAMPLE, root / "pipelines" / "lab_results_kafka.yaml")
    ctx = Context.open(root, writable=True)
    try:
        store = ctx.secrets
        store.put("kafka_dev", "username", SecretStr("svc-lab"))
        store.put("kafka_dev", "password", SecretStr("Sup3r-s3cret-pw"))
        runner = pw.runner_for(ctx, engine="spark")
        with pytest.raises(ConfigError) as err:
            runner.run(pw.load(ctx, "lab_results_kafka"))
    finally:
        ctx.close()
    text = str(err.value)
    assert "spark-sql-kafka-0-10_2.13" in text and "pipeline lab_results_kafka source" in text
    assert "Sup3r-s3cret-pw" not in text


def test_validate_with_the_spark_engine_accepts_the_kafka_spec(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The local engine refuses a kafka spec (tests/unit/pipelines/test_kafka_spec.py); with
    `--engine spark` validate binds its gold SQL on Spark (this module's session) and passes."""
    from typer.testing import CliRunner

    from lakecrew.faces.cli.main import app

    root = make_project(tmp_path / "proj")
    (root / "pipelines").mkdir(exist_ok=True)
    shutil.copy(EXAMPLE, root / "pipelines" / "lab_results_kafka.yaml")
    ok = CliRunner().invoke(
        app, ["-p", str(root), "pipeline", "validate", "lab_results_kafka", "--engine", "spark"]
    )
    assert ok.exit_code == 0, ok.stderr
