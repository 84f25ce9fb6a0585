"""silver.sql: load-time checks at file:line, the local engine run, and reconciliation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from lakecrew.core.errors import ConfigError, UsageError
from lakecrew.services.estate.yamlpos import ConfigProblems
from lakecrew.services.pipelines.loader import load_pipeline_text
from lakecrew.services.pipelines.silver_sql import _row_order, apply_silver_sql
from lakecrew.testing.pipelines import (
    CASES_HEADER,
    add_silver_sql,
    case_rows,
    make_project,
    write_spec,
)
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

WHERE = "pipeline cases silver.sql"
DIRTY = (
    "C09990,  edo ,3,2,1,+2348031234990,2024-01-02\n"
    "C09991,abuja,3,2,1,+2348031234991,2024-01-02\n"
    "C09992,ONDO,3,2,1,+2348031234992,2024-01-02\n"
    "C09993,Atlantis,3,2,1,+2348031234993,2024-01-02\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.fixture
def ctx(project: Path) -> Iterator[Context]:
    context = Context.open(project, writable=True)
    yield context
    context.close()


def _spec_text(project: Path, sql: str) -> str:
    path = write_spec(project)
    add_silver_sql(path, sql)
    return path.read_text()


def _problem(project: Path, sql: str) -> str:
    text = _spec_text(project, sql)
    with pytest.raises(ConfigProblems) as err:
        load_pipeline_text(text, "dev", source="cases.yaml")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("  sql: |"))
    message = str(err.value)
    assert f"cases.yaml:{line}" in message
    return message


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT case_id FROM bronze WHERE week > 1", "WHERE is not allowed"),
        ("SELECT state, count(*) AS n FROM bronze GROUP BY state", "GROUP BY is not allowed"),
        ("SELECT count(*) AS n FROM bronze", "collapses rows"),
        ("SELECT DISTINCT state FROM bronze", "DISTINCT is not allowed"),
        ("SELECT case_id FROM silver.cases", "expected FROM bronze"),
        ("SELECT b.case_id FROM bronze b JOIN lookup l ON b.state = l.s", "JOIN is not allowed"),
        ("SELECT case_id FROM bronze UNION ALL SELECT case_id FROM bronze", "one SELECT"),
        ("SELECT explode(array(1, 2)) AS x FROM bronze", "generators"),
        ("SELECT case_id, 'x' AS _batch_id FROM bronze", "_batch_id is bronze metadata"),
        ("SELECT case_id, 1 AS __lc_row FROM bronze", "reserved"),
        ("SELECT case_id FROM bronze LIMIT 5", "LIMIT is not allowed"),
        ("SELECT case_id, (SELECT max(week) FROM bronze) AS m FROM bronze", "subqueries"),
        ("SELECT case_id FROM bronze WHERE", "does not parse"),
    ],
)
def test_bad_silver_sql_is_refused_at_its_line(project: Path, sql: str, expected: str) -> None:
    assert expected in _problem(project, sql)


def test_row_preserving_sql_loads(project: Path) -> None:
    text = _spec_text(project, "SELECT *, sum(1) OVER (PARTITION BY state) AS n FROM bronze b")
    loaded = load_pipeline_text(text, "dev", source="cases.yaml")
    assert loaded.spec.silver.sql is not None


def _batch(n: int = 4) -> pa.Table:
    at = datetime(2024, 5, 1, tzinfo=UTC)
    return pa.table(
        {
            "state": pa.array([" edo", "ABUJA", "kano ", None][:n]),
            "week": pa.array(["3", "4", "x", "7"][:n]),
            "_source_uri": pa.array(["f.csv"] * n),
            "_source_row": pa.array(range(2, n + 2), pa.int64()),
            "_batch_id": pa.array(["b1"] * n),
            "_raw": pa.nulls(n, pa.string()),
            "_ingested_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
        }
    )


def test_apply_keeps_metadata_and_bronze_order(ctx: Context) -> None:
    sql = (
        "SELECT CASE WHEN upper(trim(state)) = 'ABUJA' THEN 'FCT' "
        "ELSE initcap(lower(trim(state))) END AS state, week "
        "FROM bronze ORDER BY week DESC"
    )
    raw = _batch()
    out = apply_silver_sql(ctx.sql, sql, raw, where=WHERE)
    assert out.column_names == [
        "_source_uri", "_source_row", "_batch_id", "_raw", "_ingested_at", "state", "week",
    ]  # fmt: skip
    assert out.column("state").to_pylist() == ["Edo", "FCT", "Kano", None]
    assert out.column("_source_row").to_pylist() == [2, 3, 4, 5]
    assert out.column("_ingested_at").type == raw.column("_ingested_at").type


def test_select_star_passes_metadata_once(ctx: Context) -> None:
    out = apply_silver_sql(
        ctx.sql, "SELECT *, upper(state) AS up FROM bronze", _batch(), where=WHERE
    )
    assert out.column_names.count("_batch_id") == 1
    assert "__lc_row" not in out.column_names
    assert out.column("up").to_pylist() == [" EDO", "ABUJA", "KANO ", None]


def test_runtime_failures_are_config_errors_without_values(ctx: Context) -> None:
    with pytest.raises(ConfigError, match=r"silver\.sql failed") as err:
        apply_silver_sql(ctx.sql, "SELECT no_such_column FROM bronze", _batch(), where=WHERE)
    assert err.value.where == WHERE
    with pytest.raises(ConfigError, match="message withheld") as err:
        apply_silver_sql(
            ctx.sql, "SELECT CAST(week AS INT) AS w FROM bronze", _batch(), where=WHERE
        )
    assert "'x'" not in str(err.value)
    with pytest.raises(ConfigError, match="outputs column"):
        apply_silver_sql(ctx.sql, "SELECT *, week AS state FROM bronze", _batch(), where=WHERE)
    with pytest.raises(ConfigError, match="WHERE is not allowed"):
        apply_silver_sql(ctx.sql, "SELECT week FROM bronze WHERE week = '3'", _batch(), where=WHERE)


def test_row_order_refuses_lost_added_or_repeated_rows() -> None:
    assert _row_order(pa.chunked_array([[2, 0, 1]]), 3, WHERE).to_pylist() == [1, 2, 0]
    for ids in ([0, 1], [0, 1, 1], [0, 1, 2, 3], [0, 1, None]):
        with pytest.raises(ConfigError, match="must keep every row"):
            _row_order(pa.chunked_array([ids], pa.int64()), 3, WHERE)


def test_local_engine_reads_only_its_inputs(ctx: Context) -> None:
    data = {"bronze": _batch()}
    with pytest.raises(UsageError, match="not an input"):
        ctx.sql.query_tables("SELECT * FROM t_dev.silver.cases", data)
    with pytest.raises(UsageError, match="not allowed"):
        ctx.sql.query_tables("SELECT * FROM read_parquet('/etc/x.parquet')", data)
    with_cte = "WITH w AS (SELECT week FROM bronze) SELECT count(*) AS n FROM w"
    assert ctx.sql.query_tables(with_cte, data).column("n").to_pylist() == [4]


def test_pipeline_with_silver_sql_standardises_and_reconciles(project: Path, ctx: Context) -> None:
    add_silver_sql(write_spec(project))
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 6) + DIRTY)
    report = pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))
    silver = report.layers["silver"]
    assert report.reconciled is True
    assert silver["read"] == 10 == silver["written"] + silver["quarantined"] + silver["dropped"]
    rows = {r["case_id"]: r for r in ctx.store.read("t_dev.silver.cases").to_pylist()}
    assert rows["C09990"]["state"] == "Edo" and rows["C09991"]["state"] == "FCT"
    assert rows["C09992"]["state"] == "Ondo" and rows["C09993"]["state"] == "Atlantis"
    assert rows["C09990"]["_source_row"] == 8 and rows["C09990"]["_batch_id"]
    assert rows["C09990"]["phone"] != "+2348031234990"  # masking still runs after the SQL


def test_quarantine_counts_rows_the_sql_kept(project: Path, ctx: Context) -> None:
    path = write_spec(project)
    add_silver_sql(path)
    text = path.read_text().replace(
        "  quarantine: {table: silver.cases_quarantine}",
        "    - {name: known_state, type: in_set, column: state, action: quarantine,"
        " values: [Edo, Ondo, Bauchi, Taraba, FCT]}\n"
        "  quarantine: {table: silver.cases_quarantine}",
    )
    path.write_text(text)
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 6) + DIRTY)
    report = pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))
    silver = report.layers["silver"]
    assert report.reconciled is True
    assert (silver["read"], silver["written"], silver["quarantined"]) == (10, 9, 1)
    quarantine = ctx.store.read("t_dev.silver.cases_quarantine").to_pylist()
    assert [q["case_id"] for q in quarantine] == ["C09993"]
    assert quarantine[0]["_source_row"] == "11"
