"""SparkCatalogEngine's name resolution: what goes to Spark as written and what is rewritten."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# pyspark, and the Databricks SDK the Spark table store imports, load with the first test
# (~1.5 s), not at every collection of the suite
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed"
)

if TYPE_CHECKING:
    from lakecrew.adapters.spark.engine import SparkCatalogEngine

NO_SESSION: Any = None  # name resolution runs no Spark


def _engine(delta: bool) -> SparkCatalogEngine:
    from lakecrew.adapters.spark.engine import SparkCatalogEngine
    from lakecrew.adapters.spark.table_store import SparkTableStore

    store = SparkTableStore(
        NO_SESSION, records_schema="lassa_dev.lakecrew", delta=delta,
        local_root=Path("/tmp/unused"), prefix="p_",
    )  # fmt: skip
    return SparkCatalogEngine(NO_SESSION, store.query_parts)


def test_on_a_cluster_statements_go_to_spark_as_written() -> None:
    engine = _engine(delta=True)
    for sql in (
        "ALTER TABLE lassa_dev.bronze.raw ALTER COLUMN phone SET MASK lakecrew_masks.m.phone",
        "SELECT state, SUM(n) AS n FROM lassa_dev.silver.t GROUP BY state",
        "SELECT * FROM system.access.table_lineage WHERE target_table_full_name = :t",
        "COMMENT ON TABLE lassa_dev.gold.g IS 'Weekly cases'",
    ):
        assert engine._prepare(sql) == sql


def test_record_tables_and_spark_catalog_names_are_rewritten() -> None:
    cluster = _engine(delta=True)._prepare("SELECT * FROM lakecrew.crew.runs")
    assert "`lassa_dev`.`lakecrew`.`crew_runs`" in cluster
    local = _engine(delta=False)._prepare("SELECT state FROM lassa_dev.silver.t AS s")
    assert local == "SELECT state FROM `spark_catalog`.`p_lassa_dev__silver`.`t` AS s"
