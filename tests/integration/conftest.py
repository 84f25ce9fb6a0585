"""The integration suite's one SparkSession per worker, set up for tiny data in a short JVM."""

from __future__ import annotations

from typing import Any

import pytest

# Test-only settings (the product's local_session keeps Spark's defaults for real data).
# Measured on the lassa parity run, cold JVM: 101 s → 31 s under load 12 (docs/benchmarks.md).
# - Interpreted expressions instead of Janino compiling a Java class per new plan: with a few
#   thousand rows, compiling is nearly all of a statement's time in a fresh JVM. Both paths
#   are Spark's own execution (Spark's test suite runs each expression both ways); the
#   store's statements, plans and results are the same.
# - A JVM that lives a minute: C1 only (no C2 compiles of code run a few times) and the
#   serial collector on the 1 GiB driver.
TEST_SPARK_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@pytest.fixture(scope="session")
def spark_session() -> Any:
    """Starts the worker's JVM with TEST_SPARK_CONF; the product's later ``local_session()``
    calls (runner_for, the CLI) get this running session."""
    pytest.importorskip("pyspark")
    from lakecrew.adapters.spark.engine import local_session

    return local_session("lakecrew-tests", extra=TEST_SPARK_CONF)
