"""Every expectation type on small real-data tables (NCDC Lassa extracts)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pydantic import TypeAdapter, ValidationError

from lakecrew.core.errors import ConfigError, DataError
from lakecrew.services.quality.coercion import ColumnCoercion, coerce_table
from lakecrew.services.quality.engine import CheckContext, evaluate
from lakecrew.services.quality.results import DQ_RESULTS_SCHEMA, results_table
from lakecrew.services.quality.rules import Expectation
from lakecrew.testing.rawcsv import read_text_csv

FIX = Path(__file__).parents[2] / "fixtures" / "quality"
NOW = datetime(2026, 1, 15, tzinfo=UTC)
RULE = TypeAdapter(Expectation)


def rule(**kw: Any) -> Expectation:
    return RULE.validate_python(kw)


@pytest.fixture(scope="module")
def lassa() -> pa.Table:
    raw = read_text_csv(FIX / "lassa_fbranda_by_state_sample.csv")
    return coerce_table(
        raw,
        [
            ColumnCoercion("States", "state", "string"),
            ColumnCoercion("EpiWeek", "week", "int"),
            ColumnCoercion("DateMax", "week_end", "date"),
            ColumnCoercion("Lat", "lat", "double"),
            ColumnCoercion("Lon", "lon", "double"),
            ColumnCoercion("ConfCases", "confirmed", "int"),
            ColumnCoercion("ConfDeaths", "deaths", "int"),
        ],
    ).table


def failed(table: pa.Table, r: Expectation, ctx: CheckContext | None = None) -> list[int]:
    report = evaluate(table, [r], ctx or CheckContext(now=NOW))
    mask = report.row_failures[r.name].to_pylist()
    res = report.result(r.name)
    assert res.failed_count == sum(mask) and res.passed_count == table.num_rows - sum(mask)
    return [i for i, bad in enumerate(mask) if bad]


def test_not_null_flags_the_na_rows(lassa: pa.Table) -> None:
    rows = failed(lassa, rule(name="state_present", type="not_null", columns=["state"]))
    assert rows == [0, 1, 2, 10, 11]  # the verbatim rows whose every value is NA


def test_compare_deaths_le_confirmed_finds_the_known_bad_rows(lassa: pa.Table) -> None:
    rows = failed(
        lassa, rule(name="d_le_c", type="compare", left="deaths", op="<=", right="confirmed")
    )
    assert len(rows) == 3  # the three verbatim rows with ConfDeaths 1 > ConfCases 0
    for i in rows:
        assert lassa.column("deaths")[i].as_py() > lassa.column("confirmed")[i].as_py()


def test_compare_lat_differs_from_lon(lassa: pa.Table) -> None:
    rows = failed(lassa, rule(name="lat_ne_lon", type="compare", left="lat", op="!=", right="lon"))
    assert rows  # Anambra rows with latitude == longitude
    assert all(lassa.column("lat")[i] == lassa.column("lon")[i] for i in rows)


def test_between_and_dates(lassa: pa.Table) -> None:
    assert failed(lassa, rule(name="lat_ng", type="between", column="lat", min=4.0, max=14.0)) == []
    assert failed(lassa, rule(name="lat_south", type="between", column="lat", max=7.0))
    late = failed(
        lassa, rule(name="after_2018", type="between", column="week_end", min="2018-01-01")
    )
    assert late and all(lassa.column("week_end")[i].as_py().year < 2018 for i in late)


def test_in_set_regex_and_negated_set(lassa: pa.Table) -> None:
    some = ["Edo", "Ondo", "Bauchi", "Ebonyi", "Nasarawa", "Plateau", "Taraba"]
    rows = failed(lassa, rule(name="known", type="in_set", column="state", values=some))
    assert all(lassa.column("state")[i].as_py() not in some for i in rows)
    assert failed(
        lassa,
        rule(
            name="not_edo",
            type="in_set",
            column="state",
            values=["edo"],
            case_insensitive=True,
            negate=True,
        ),
    ) == [i for i, s in enumerate(lassa.column("state").to_pylist()) if s == "Edo"]
    caps = failed(
        lassa, rule(name="capitalised", type="regex", column="state", pattern="[A-Z][a-z]+")
    )
    assert {lassa.column("state")[i].as_py() for i in caps} == {"Cross River", "FCT"}


def test_unique_single_and_composite(lassa: pa.Table) -> None:
    dup_state = failed(lassa, rule(name="u1", type="unique", columns=["state"]))
    assert dup_state  # states repeat across weeks
    assert failed(lassa, rule(name="u2", type="unique", columns=["state", "week_end"])) == []


def test_foreign_key_against_reference_keys(lassa: pa.Table) -> None:
    states = pa.table({"name": ["Edo", "Ondo", "Bauchi", "Ebonyi", "Anambra"]})
    ctx = CheckContext(now=NOW, reference_keys={"ref.states": states})
    r = rule(
        name="fk",
        type="foreign_key",
        columns=["state"],
        ref_table="ref.states",
        ref_columns=["name"],
    )
    rows = failed(lassa, r, ctx)
    assert all(
        lassa.column("state")[i].as_py() not in states.column("name").to_pylist() for i in rows
    )
    assert 0 not in rows  # null keys are not checked
    composite = pa.table({"state": ["Edo"], "week_end": lassa.column("week_end").slice(8, 1)})
    r2 = rule(name="fk2", type="foreign_key", columns=["state", "week_end"], ref_table="a.b")
    rows2 = failed(lassa, r2, CheckContext(now=NOW, reference_keys={"a.b": composite}))
    assert rows2 == [i for i in range(lassa.num_rows) if i not in (0, 1, 2, 8, 10, 11)]
    with pytest.raises(DataError, match=r"keys of ref\.missing were not provided"):
        evaluate(
            lassa,
            [rule(name="fk3", type="foreign_key", columns=["state"], ref_table="ref.missing")],
            CheckContext(now=NOW),
        )


def test_freshness(lassa: pa.Table) -> None:
    r = rule(name="fresh", type="freshness", column="week_end", max_age="30d", action="fail")
    stale = evaluate(lassa, [r], CheckContext(now=NOW)).result("fresh")
    assert stale.status == "failed" and stale.observed is not None and stale.observed > 86400 * 30
    newest = max(v for v in lassa.column("week_end").to_pylist() if v)
    soon = datetime(newest.year, newest.month, newest.day, tzinfo=UTC)
    ok = evaluate(lassa, [r], CheckContext(now=soon)).result("fresh")
    assert ok.status == "passed"


def test_row_count_anomaly_robust() -> None:
    t = pa.table({"x": list(range(40))})
    r = rule(name="rows", type="row_count_anomaly", min_history=5, action="fail")
    normal = CheckContext(now=NOW, row_count_history=[38, 41, 40, 39, 42, 400])
    assert evaluate(t, [r], normal).result("rows").status == "passed"  # one outlier in history
    spike = CheckContext(now=NOW, row_count_history=[5, 4, 6, 5, 5])
    report = evaluate(t, [r], spike)
    assert report.result("rows").status == "failed" and report.fatal()
    short = evaluate(t, [r], CheckContext(now=NOW, row_count_history=[1, 2]))
    assert short.result("rows").status == "skipped"


def test_actions_split_and_dq_table_has_no_values(lassa: pa.Table) -> None:
    rules = [
        rule(name="state_present", type="not_null", columns=["state"], action="drop"),
        rule(
            name="d_le_c",
            type="compare",
            left="deaths",
            op="<=",
            right="confirmed",
            action="quarantine",
        ),
        rule(name="lat_ne_lon", type="compare", left="lat", op="!=", right="lon", action="warn"),
    ]
    report = evaluate(lassa, rules, CheckContext(now=NOW))
    split = report.split(lassa)
    assert split.dropped_count == 5
    assert split.quarantined.num_rows == 3
    assert set(split.quarantined.column("_dq_rules").to_pylist()) == {"d_le_c"}
    assert split.good.num_rows + 5 + 3 == lassa.num_rows
    assert report.result("lat_ne_lon").failed_count == 2  # warned, kept
    table = results_table(report.results, run_id="r1", pipeline="p", table_name="c.s.t", at=NOW)
    assert table.schema == DQ_RESULTS_SCHEMA and table.num_rows == 3
    text = str(table.to_pylist())
    for state in set(lassa.column("state").drop_null().to_pylist()):
        assert state not in text
    with pytest.raises(DataError):
        evaluate(
            lassa,
            [rule(name="x", type="not_null", columns=["state"], action="fail")],
            CheckContext(now=NOW),
        ).raise_for_fatal("c.s.t")


def test_invalid_rules_are_rejected() -> None:
    with pytest.raises(ValidationError):
        rule(name="b", type="between", column="x")
    with pytest.raises(ValidationError):
        rule(name="r", type="regex", column="x", pattern="(?<=a)b")
    with pytest.raises(ValidationError):
        rule(name="f", type="freshness", column="x", max_age="soon")
    with pytest.raises(ValidationError):
        rule(name="f", type="freshness", column="x", max_age="1d", action="quarantine")
    with pytest.raises(ValidationError):
        rule(name="n", type="not_null", columns=["x"], colour="red")
    with pytest.raises(ConfigError, match="unknown column"):
        evaluate(
            pa.table({"a": [1]}),
            [rule(name="n", type="not_null", columns=["b"])],
            CheckContext(now=NOW),
        )
