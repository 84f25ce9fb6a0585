"""Parity: the same specs run with the local engine and with the Spark engine.

Spark reads the delta-rs tables through their live Parquet files (no Delta jars offline): the
silver rows of a spec whose ``silver.sql`` standardises state names must come out identical to
the DuckDB ones. lassa_weekly runs with Spark writing every table through the Spark TableStore
over Spark's own catalog (the Databricks cluster's code path, Parquet instead of Delta) and
must give the local run's bronze, silver, quarantine and gold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakecrew.testing.pipelines import (
    CASES_HEADER,
    add_silver_sql,
    case_rows,
    make_project,
    write_spec,
)
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

pytest.importorskip("pyspark")
# One worker for the module: the runs share one SparkSession (one JVM start).
pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("spark_parity"),
    pytest.mark.usefixtures("spark_session"),  # tests/integration/conftest.py: test settings
]
README = Path(__file__).parents[2] / "README.md"


LASSA = "lassa_dev"


def _lassa(root: Path, tables: str) -> dict[str, Any]:
    """Run lassa_weekly on the local engine (delta-rs) or on Spark writing through the Spark
    TableStore over Spark's own catalog; every layer's rows, read back through its store."""
    ctx = Context.open(make_project(root), writable=True)
    try:
        if tables == "delta":
            runner = pw.runner_for(ctx)
        else:
            runner = pw.runner_for(ctx, engine="spark", tables="spark-catalog")
        report = runner.run(pw.load(ctx, "lassa_weekly"))
        assert report.status == "SUCCEEDED" and report.reconciled
        store = runner.deps.tables
        out = {
            name: store.read(f"{LASSA}.{name}")
            for name in ("bronze.lassa_weekly_raw", "silver.lassa_weekly",
                         "silver.lassa_weekly_quarantine", "gold.lassa_weekly_by_state")
        }  # fmt: skip
        out["notes"] = report.notes
        out["layers"] = report.layers
    finally:
        ctx.close()
    return out


def _gold_rows(gold: Any) -> list[tuple[Any, ...]]:
    types = {f.name: str(f.type) for f in gold.schema}
    # Same column types from either engine (SUM of int is BIGINT on both, as on Databricks).
    assert types["confirmed"] == types["deaths"] == "int64"
    assert (types["year"], types["week"], types["cfr"]) == ("int32", "int32", "double")
    out = []
    for r in gold.to_pylist():
        cfr = None if r["cfr"] is None else round(float(r["cfr"]), 4)
        out.append(
            (r["state"], r["year"], r["week"], str(r["week_start"]),
             int(r["confirmed"]), int(r["deaths"]), cfr)
        )  # fmt: skip
    return sorted(out, key=lambda t: tuple("" if v is None else str(v) for v in t))


def _rows(table: Any, drop: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows by column name (the stores order columns differently: Spark puts partition
    columns last), without the columns named in ``drop``."""
    names = sorted(n for n in table.column_names if n not in drop)
    rows = [tuple(str(r[n]) for n in names) for r in table.select(names).to_pylist()]
    return sorted(rows)


def test_lassa_weekly_is_identical_through_the_spark_table_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NCDC Lassa data (two files, `States` and `states`): the local engine over delta-rs and
    Spark writing every table through SparkTableStore over Spark's own catalog (the code path
    of a Databricks cluster, Parquet instead of Delta: see adapters/spark/table_store.py) give
    the same bronze, silver, quarantine and gold; gold's SQL runs in Spark and its table is
    loaded from that query."""
    from lakecrew.adapters.spark.engine import SparkCatalogEngine

    loaded_from_query: list[bool] = []
    frame_of = SparkCatalogEngine.frame_of

    def spy(self: SparkCatalogEngine, result: Any) -> Any:
        frame = frame_of(self, result)
        loaded_from_query.append(frame is not None)
        return frame

    monkeypatch.setattr(SparkCatalogEngine, "frame_of", spy)
    local = _lassa(tmp_path / "local", "delta")
    spark = _lassa(tmp_path / "spark", "spark-catalog")
    # gold was loaded from its query (on Databricks: UC lineage silver → gold), nothing else
    assert loaded_from_query.count(True) == 1, loaded_from_query
    assert local["layers"] == spark["layers"]
    gold = _gold_rows(local["gold.lassa_weekly_by_state"])
    assert len(gold) > 1000
    assert gold == _gold_rows(spark["gold.lassa_weekly_by_state"])
    # run-specific stamps differ between two runs; everything else is equal
    stamps = ("_ingested_at", "_batch_id", "_run_id", "_quarantined_at", "_source_uri")
    for table in ("silver.lassa_weekly", "silver.lassa_weekly_quarantine"):
        assert local[table].num_rows > 0
        assert _rows(local[table], stamps) == _rows(spark[table], stamps), table
    # bronze: one `States` column, each file's own header in _renamed_columns
    for run in (local, spark):
        bronze = run["bronze.lassa_weekly_raw"]
        assert bronze.num_rows == 7596
        assert "states" not in bronze.column_names and "States" in bronze.column_names
        renamed = {v for v in bronze.column("_renamed_columns").to_pylist() if v is not None}
        assert renamed == {'{"States": "states"}'}
        assert any("stored as 'States'" in n for n in run["notes"])
    assert _rows(local["bronze.lassa_weekly_raw"], stamps) == _rows(
        spark["bronze.lassa_weekly_raw"], stamps
    )


def _silver_with_sql(root: Path, engine: str) -> list[dict[str, Any]]:
    project = make_project(root)
    add_silver_sql(write_spec(project))
    rows = case_rows(0, 40) + (
        "C09990,  edo ,3,2,1,+2348031234990,2024-01-02\n"
        "C09991,abuja,3,2,1,+2348031234991,2024-01-02\n"
        "C09992,ONDO,3,3,1,+2348031234992,2024-01-02\n"
        "C09993,cross river,3,2,5,+2348031234993,2024-01-02\n"
    )
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + rows)
    ctx = Context.open(project, writable=True)
    try:
        runner = pw.runner_for(ctx, engine=engine, create_keys=True)
        report = runner.run(pw.load(ctx, "cases"))
        assert report.reconciled
        silver = ctx.store.read("t_dev.silver.cases").drop_columns(["_ingested_at"])
        quarantine = ctx.store.read("t_dev.silver.cases_quarantine")
    finally:
        ctx.close()
    assert quarantine.column("case_id").to_pylist() == ["C09993"]  # deaths > confirmed
    out = silver.drop_columns(["_source_uri", "_batch_id"]).to_pylist()
    return sorted(out, key=lambda r: str(r["case_id"]))


def test_silver_sql_gives_identical_silver_on_duckdb_and_spark(tmp_path: Path) -> None:
    local = _silver_with_sql(tmp_path / "local", "local")
    spark = _silver_with_sql(tmp_path / "spark", "spark")
    assert len(local) == 43
    states = {r["case_id"]: r["state"] for r in local}
    assert (states["C09990"], states["C09991"], states["C09992"]) == ("Edo", "FCT", "Ondo")
    assert local == spark


def test_the_readme_tour_spark_line_runs_as_written(tmp_path: Path) -> None:
    """The README tour's `--engine spark` line, taken from the README, run in process (the
    session's JVM is already up) on a project with the shipped lassa_weekly spec."""
    import json
    import shlex

    from typer.testing import CliRunner

    from lakecrew.faces.cli.main import app
    from lakecrew.testing.readme_tour import tour_commands

    (line, expected), *_ = [(c, x) for c, x in tour_commands(README) if "--engine spark" in c]
    args = shlex.split(line, comments=True)[1:]  # without `$L`
    project = make_project(tmp_path / "tour")
    result = CliRunner().invoke(app, [*args, "--project", str(project), "--output", "json"])
    assert result.exit_code == expected == 0, result.output
    run = json.loads(result.stdout)["items"][0]
    assert run["status"] == "SUCCEEDED" and run["reconciled"]
    assert run["tables"]["lassa_dev.gold.lassa_weekly_by_state"] > 1000


def test_spark_reads_only_the_live_rows_of_a_table_with_deletion_vectors(tmp_path: Path) -> None:
    import pyarrow as pa

    from lakecrew.adapters.local.delta import DeltaStore
    from lakecrew.adapters.local.table_store import DeltaTableStore
    from lakecrew.adapters.spark.engine import SparkSqlEngine

    store = DeltaStore(tmp_path / "lake")
    tables = DeltaTableStore(store, deletion_vectors=True)  # a local run wrote the table
    schema = pa.schema([("id", pa.string()), ("n", pa.int64())])
    tables.create("c.s.t", schema)
    tables.merge("c.s.t", pa.table({"id": [f"a{i}" for i in range(20)], "n": [1] * 20}), ["id"])
    tables.merge("c.s.t", pa.table({"id": ["a3", "a7", "new"], "n": [2, 2, 2]}), ["id"])
    live = store.live_files(store.table("c.s.t"))
    assert live is not None and live.deleted()
    collected = SparkSqlEngine(store).frame("c.s.t").collect()
    assert len(collected) == 21  # the replaced versions of a3 and a7 are not read
    rows = {r["id"]: r["n"] for r in collected}
    assert rows == {**{f"a{i}": 1 for i in range(20)}, "a3": 2, "a7": 2, "new": 2}


def test_additive_gold_maintained_on_the_spark_engine_equals_its_sql(tmp_path: Path) -> None:
    """The Spark engine maintains an additive model from silver's changes too (a local Delta
    store, copy-on-write); it found PySpark dropping the rows after an empty Arrow batch."""
    from lakecrew.services.pipelines.sqltext import qualify_sql

    root = make_project(tmp_path / "proj")
    write_spec(root)
    ctx = Context.open(root, writable=True)
    runner = pw.runner_for(ctx, engine="spark", create_keys=True)

    def line(key: int, state: str, week: int, confirmed: int, day: int) -> str:
        return f"C{key:03d},{state},{week},{confirmed},0,+2348031234567,2024-01-{day:02d}\n"

    batches = [
        [line(1, "Edo", 2, 5, 1), line(2, "Kano", 3, 4, 1), line(3, "", 2, 1, 1)],
        [line(1, "Kano", 2, 7, 2), line(4, "Edo", 2, 2, 2)],
        [line(2, "Edo", 3, 1, 3)],
    ]
    try:
        for i, rows in enumerate(batches):
            (root / "incoming" / f"b{i}.csv").write_text(CASES_HEADER + "".join(rows))
            loaded = pw.load(ctx, "cases")
            notes = runner.run(loaded).notes
            if i:
                assert any(n.startswith("t_dev.gold.cases_by_state: maintained") for n in notes)
            for model in loaded.spec.gold:
                assert model.sql is not None
                want = runner.deps.sql.fetch_arrow(qualify_sql(model.sql, "t_dev"))
                got = ctx.store.read(loaded.full_name(model.table))
                assert sorted(map(repr, got.to_pylist())) == sorted(map(repr, want.to_pylist()))
    finally:
        ctx.close()
