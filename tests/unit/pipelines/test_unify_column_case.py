"""bronze.unify_column_case: one bronze column for headers that differ only by case."""

from __future__ import annotations

import json

import pyarrow as pa

from lakecrew.services.pipelines.bronze import unify_case
from lakecrew.services.pipelines.columns import RENAMED_COLUMNS
from lakecrew.services.pipelines.steps import RunState

BRONZE = pa.schema([("States", pa.string()), ("EpiWeek", pa.string()), ("_batch_id", pa.string())])


def test_a_column_spelled_otherwise_is_stored_under_bronzes_name_with_its_header_kept() -> None:
    state = RunState("r1")
    rows = pa.table({"states": ["Edo", "Ondo"], "epiweek": ["1", "2"], "year": ["26", "26"]})
    out = unify_case(rows, BRONZE, "c.bronze.t", state)
    assert out.column_names == ["States", "EpiWeek", "year", RENAMED_COLUMNS]
    assert out.column("States").to_pylist() == ["Edo", "Ondo"]
    headers = out.column(RENAMED_COLUMNS).to_pylist()
    assert headers[0] == headers[1]
    assert json.loads(str(headers[0])) == {"EpiWeek": "epiweek", "States": "states"}
    assert state.notes == [
        "bronze c.bronze.t: column 'epiweek' stored as 'EpiWeek', column 'states' stored as "
        "'States' (bronze.unify_column_case; headers kept in _renamed_columns)"
    ]


def test_nothing_changes_without_bronze_without_a_clash_or_with_both_in_one_batch() -> None:
    state = RunState("r1")
    rows = pa.table({"states": ["Edo"]})
    assert unify_case(rows, None, "t", state) is rows  # first batch: bronze is created from it
    same = pa.table({"States": ["Edo"], "year": ["26"]})
    assert unify_case(same, BRONZE, "t", state) is same
    both = pa.table({"States": ["Edo"], "states": ["Ondo"]})
    assert unify_case(both, BRONZE, "t", state) is both  # the store refuses it, in one line
    assert state.notes == []
