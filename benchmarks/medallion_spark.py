"""The medallion benchmark's local PySpark baseline, written the way a PySpark user would.

Spark writes bronze, silver, quarantine and gold itself as Parquet (``df.write.parquet``) and
``deltalake.convert_to_deltalake`` turns each directory into a Delta table: locally there are no
Delta jars (``format("delta")`` is unavailable offline), so this is the practical local route.
Nothing is collected to the driver; counts come from ``count()`` over what was written. The
session is the benchmark's own (local[2], 4 GiB driver), not lakecrew's ``local_session``. The
JVM is a child process: ``_stop`` waits for it so its peak RSS is part of the step's peak.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.medallion_work import GOLD_SQL, KEY, WARN_SQL, rules_sql

CORES = 2
DRIVER_MEMORY = "4g"


def bench_session() -> Any:
    """A local[2] SparkSession sized for this machine: 4 GiB driver, shuffles of 2x cores."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(f"local[{CORES}]")
        .appName("bench-medallion")
        .config("spark.driver.memory", DRIVER_MEMORY)
        .config("spark.sql.shuffle.partitions", str(2 * CORES))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # delta-rs reads INT96 poorly; Databricks writes micros too.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .getOrCreate()
    )


def _save(spark: Any, frame: Any, path: Path) -> int:
    """Write ``frame`` as Parquet with Spark, make it a Delta table, count it with Spark."""
    from deltalake import convert_to_deltalake

    frame.write.mode("overwrite").parquet(str(path))
    convert_to_deltalake(str(path))
    return int(spark.read.parquet(str(path)).count())


def run_spark(src: Path, out: Path) -> dict[str, Any]:
    """Local PySpark: bronze, silver, quarantine and gold written by Spark, then made Delta.

    ``seconds`` covers the work, not the imports or the session start (reported as
    ``startup_s``), as lakecrew's step excludes its imports and ``Context.open``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    spark = bench_session()
    spark.range(1).count()  # the JVM and the first job are start-up, not work
    t1 = time.perf_counter()
    raw = spark.read.option("header", True).csv(str(src / "*.csv"))
    # Bronze: raw text + file, position in the file, ingest time. Each input file (< 128 MiB) is
    # one split, so the monotonically increasing id follows file order within a file.
    in_file = Window.partitionBy("_source_file").orderBy("_pos")
    bronze = (
        raw.withColumn("_source_file", F.col("_metadata.file_path"))
        .withColumn("_pos", F.monotonically_increasing_id())
        .withColumn("_source_row", F.row_number().over(in_file))
        .drop("_pos")
        .withColumn("_ingested_at", F.current_timestamp())
    )
    counts: dict[str, Any] = {"bronze": _save(spark, bronze, out / "bronze")}
    df = raw.withColumn("_file", F.col("_metadata.file_path")).withColumn(
        "_pos", F.monotonically_increasing_id()
    )
    for col in ("year", "week", "suspected", "confirmed", "deaths"):
        df = df.withColumn(col, F.expr(f"try_cast(try_cast(nullif({col}, '') AS DOUBLE) AS INT)"))
    df = df.withColumn("updated", F.expr("try_cast(updated AS DATE)"))
    rules = rules_sql("NOT (case_id rlike '^K[0-9]+$')")
    df = df.withColumn("_dq_rules", F.expr(rules))
    for flag, cond in WARN_SQL.items():
        df = df.withColumn(flag, F.expr(f"coalesce({cond}, false)"))
    df = df.cache()
    warned = df.agg(F.expr("count_if(warn_country) + count_if(warn_updated)")).first()
    counts["warned"] = int(warned[0])
    # The latest valid row per key (checks ran on every row), ties to the later arrival.
    latest = Window.partitionBy("case_id").orderBy(
        F.col("updated").desc_nulls_last(), F.col("_file").desc(), F.col("_pos").desc()
    )
    silver = (
        df.filter("_dq_rules = ''")
        .withColumn("_rn", F.row_number().over(latest))
        .filter("_rn = 1")
        .drop("_rn", "_file", "_pos", "_dq_rules", *WARN_SQL)
        .withColumn(
            "contact_number",
            F.expr(
                "concat(left(contact_number, 4),"
                " repeat('*', greatest(length(contact_number) - 6, 0)),"
                " right(contact_number, 2))"
            ),
        )
        .withColumn(
            "changeset_user",
            F.expr(
                f"concat('tok_', left(sha2(concat('{KEY}', char(31), changeset_user), 256), 32))"
            ),
        )
    )
    counts["silver"] = _save(spark, silver, out / "silver")
    quarantine = df.filter("_dq_rules <> ''").drop("_file", "_pos")
    counts["quarantine"] = _save(spark, quarantine, out / "quarantine")
    silver.createOrReplaceTempView("silver_v")
    for name, sql in GOLD_SQL.items():
        counts[name] = _save(spark, spark.sql(sql.format(t="silver_v")), out / name)
    counts["seconds"] = time.perf_counter() - t1
    _stop(spark)
    counts["startup_s"] = round(t1 - t0, 2)
    return counts


def _stop(spark: Any) -> None:
    """Stop Spark and wait for its JVM, so the harness counts the JVM's peak memory too."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    spark.stop()
    if gateway is None:
        return
    gateway.shutdown()
    proc = getattr(gateway, "proc", None)
    if proc is not None:
        proc.stdin.close()  # the JVM exits on EOF of its stdin
        proc.wait(timeout=120)
    SparkContext._gateway = None
    SparkContext._jvm = None
