"""A table created with `stats_columns` keeps data-skipping statistics of those columns alone:
the Delta log holds no others, the Parquet writer computes no others (a third of its CPU on
text columns), and reads filtering on any column still return every matching row."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.delta_stats import (
    STATS_COLUMNS,
    _names,
    enforce,
    only_stats_of,
    without_stats,
)

ROWS = pa.table(
    {
        "state": ["Kano", None, "Lagos"],
        "n": [1, None, 3],
        "contact_number": ["+234 803 555 0199", "+225 22 47 75", None],
        "_batch_id": ["b1", "b1", "b1"],
    }
)


def _stats(table_dir: Path) -> list[dict[str, object]]:
    out = []
    for commit in sorted((table_dir / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            add = json.loads(line).get("add")
            if add and add.get("stats"):
                out.append(json.loads(add["stats"]))
    return out


def test_only_the_chosen_columns_get_statistics_and_filters_stay_exact(store: DeltaStore) -> None:
    name = "main.bronze.raw"
    store.create_table(name, ROWS.schema, stats_columns=["_batch_id", "contact_number", "gone"])
    store.append(name, ROWS)
    store.append(name, ROWS)
    table_dir = store.path(name)
    # PII (by name) and columns the table lacks are never listed.
    assert DeltaTable(str(table_dir)).metadata().configuration[STATS_COLUMNS] == "_batch_id"
    for stats in _stats(table_dir):
        assert stats["numRecords"] == 3
        assert set(stats["minValues"]) == {"_batch_id"}  # type: ignore[arg-type]
    for part in table_dir.glob("*.parquet"):
        meta = pq.ParquetFile(part).metadata.row_group(0)
        kept = {meta.column(i).path_in_schema: meta.column(i).is_stats_set for i in range(4)}
        assert kept == {"state": False, "n": False, "contact_number": False, "_batch_id": True}
    # delta-rs prunes files by the log's statistics: a column without any must not be pruned.
    assert store.scan(name, filter=pc.field("state").is_null()).num_rows == 2
    assert store.scan(name, filter=pc.field("n") == 3).num_rows == 2
    assert store.scan(name, filter=pc.field("_batch_id") == "b2").num_rows == 0


def test_the_pii_rule_keeps_a_chosen_list_and_still_removes_pii_from_it(store: DeltaStore) -> None:
    name = "main.bronze.chosen"
    store.create_table(name, ROWS.schema, stats_columns=["state", "_batch_id"])
    store.append(name, ROWS)
    table_dir = store.path(name)
    table = DeltaTable(str(table_dir))
    assert enforce(table, table_dir) is False  # no PII in the list: left as chosen
    assert table.metadata().configuration[STATS_COLUMNS] == "state,_batch_id"
    assert enforce(table, table_dir, {"state"}) is True  # now classified: removed, scrubbed
    table = DeltaTable(str(table_dir))
    assert table.metadata().configuration[STATS_COLUMNS] == "_batch_id"
    assert all("state" not in s["minValues"] for s in _stats(table_dir))  # type: ignore[operator]


def test_a_list_derived_from_pii_still_grows_with_the_table(store: DeltaStore) -> None:
    name = "main.silver.people"
    store.create_table(name, ROWS.schema)  # contact_number: PII by its name
    store.append(name, ROWS)
    config = DeltaTable(str(store.path(name))).metadata().configuration
    assert config[STATS_COLUMNS] == "state,n,_batch_id"
    wider = ROWS.append_column("added", pa.array(["x", "y", "z"]))
    store.append(name, wider, merge_schema=True)
    store.append(name, wider)
    config = DeltaTable(str(store.path(name))).metadata().configuration
    assert config[STATS_COLUMNS] == "state,n,_batch_id,added"
    assert "added" in _stats(store.path(name))[-1]["minValues"]  # type: ignore[operator]


def test_without_stats_reads_the_property_as_written() -> None:
    names = ["a", "b c", "we`ird", "_batch_id"]
    listed = only_stats_of(["b c", "we`ird"])
    assert _names(listed[STATS_COLUMNS]) == ["b c", "we`ird"]
    assert without_stats(listed, names) == ["a", "_batch_id"]
    assert without_stats(only_stats_of([]), names) == names
    assert without_stats({}, names) == []  # Delta's default: left to delta-rs


def test_row_numbers_are_delta_encoded_and_read_back_unchanged(store: DeltaStore) -> None:
    rows = pa.table({"_source_row": pa.array([2, 3, 5, 9], pa.int64()), "v": ["a", "b", "c", "d"]})
    text = pa.table({"_source_row": ["2", "3"], "v": ["a", "b"]})  # quarantine keeps text
    for name, data in (("main.bronze.numbered", rows), ("main.silver.q", text)):
        store.create_table(name, data.schema)
        store.append(name, data)
        assert store.read(name).sort_by("_source_row").equals(data)
    numbered = next(store.path("main.bronze.numbered").glob("*.parquet"))
    column = pq.ParquetFile(numbered).metadata.row_group(0).column(0)
    assert "DELTA_BINARY_PACKED" in column.encodings and column.is_stats_set
    as_text = next(store.path("main.silver.q").glob("*.parquet"))
    assert (
        "DELTA_BINARY_PACKED"
        not in pq.ParquetFile(as_text).metadata.row_group(0).column(0).encodings
    )
