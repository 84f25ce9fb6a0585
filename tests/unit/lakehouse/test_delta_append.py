"""Appends written by pyarrow and committed by delta-rs (delta_append.py): the same rows, the
same statistics as delta-rs's own writer (bounds never tighter than the data), files of the
asked size, nothing left behind by a failure."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from lakecrew.adapters.local import delta_append, delta_write
from lakecrew.adapters.local.delta_write import write_delta

N = 20_000
START = datetime(2026, 1, 1, tzinfo=UTC)


def _rows(n: int = N) -> pa.Table:
    return pa.table(
        {
            "case_id": pa.array([f"K{i:07d}" for i in range(n)]),
            "week": pa.array([i % 53 + 1 for i in range(n)], pa.int32()),
            "big": pa.array([i * 1_000_003 - 7 for i in range(n)], pa.int64()),
            "reported": pa.array([date(2024, 1, 1) + timedelta(days=i % 400) for i in range(n)]),
            # sub-millisecond instants: the max must not be rounded below the data
            "seen": pa.array(
                [START + timedelta(microseconds=i * 1_234_567 + 999) for i in range(n)],
                pa.timestamp("us", tz="UTC"),
            ),
            "rate": pa.array([i / 3 for i in range(n)]),
            "state": pa.array([["Kano", "Lagos", None][i % 3] for i in range(n)]),
            "empty": pa.array([None] * n, pa.string()),
            "_source_row": pa.array(range(2, n + 2), pa.int64()),
        }
    )


def _table(path: Path, rows: pa.Table, config: dict[str, str] | None = None) -> DeltaTable:
    write_deltalake(str(path), rows.slice(0, 0), configuration=config)
    return DeltaTable(str(path))


def _added(path: Path, version: int) -> list[dict[str, Any]]:
    log = path / "_delta_log" / f"{version:020d}.json"
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [line["add"] for line in lines if "add" in line]


def _stats(path: Path, version: int) -> dict[str, Any]:
    (add,) = _added(path, version)
    return dict(json.loads(add["stats"]))


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _write(table: DeltaTable, rows: pa.Table, *, fast: bool, file_bytes: int | None = None) -> None:
    delta_write.FAST_APPEND = fast
    try:
        write_delta(table, rows, "append", None, None, None, file_bytes)
    finally:
        delta_write.FAST_APPEND = True


def test_the_statistics_are_delta_rs_own_and_never_tighter(tmp_path: Path) -> None:
    rows = _rows()
    ours, theirs = _table(tmp_path / "ours", rows), _table(tmp_path / "theirs", rows)
    assert delta_append.applies(ours, rows.schema)
    _write(ours, rows, fast=True)
    _write(theirs, rows, fast=False)
    mine, reference = _stats(tmp_path / "ours", 1), _stats(tmp_path / "theirs", 1)

    assert mine["numRecords"] == reference["numRecords"] == N
    assert mine["nullCount"] == reference["nullCount"]
    for name in ("case_id", "week", "big", "reported", "state"):
        assert mine["minValues"][name] == reference["minValues"][name], name
        assert mine["maxValues"][name] == reference["maxValues"][name], name
    # floats keep their null count only; an all-null column has no bounds, as in delta-rs
    assert "rate" not in mine["minValues"] and "empty" not in mine["maxValues"]
    # timestamps to the millisecond: the min rounded down, the max rounded up
    seen = rows.column("seen")
    low, high = _instant(mine["minValues"]["seen"]), _instant(mine["maxValues"]["seen"])
    assert low <= seen[0].as_py() and high >= seen[-1].as_py()
    assert high - seen[-1].as_py() < timedelta(milliseconds=1)
    assert low == _instant(reference["minValues"]["seen"])


def test_the_rows_read_back_and_skipping_on_the_max_finds_the_last_row(tmp_path: Path) -> None:
    rows = _rows()
    table = _table(tmp_path / "t", rows)
    _write(table, rows, fast=True)
    assert table.version() == 1  # the kept-open table follows the commit
    back = DeltaTable(str(tmp_path / "t")).to_pyarrow_table().sort_by("case_id")
    assert back.equals(rows.cast(back.schema))
    last = rows.column("seen")[-1]
    dataset = DeltaTable(str(tmp_path / "t")).to_pyarrow_dataset()
    assert dataset.to_table(filter=ds.field("seen") == last).num_rows == 1


def test_files_are_cut_at_the_asked_size_and_hold_every_row(tmp_path: Path) -> None:
    rows = _rows(120_000)
    table = _table(tmp_path / "t", rows)
    _write(table, rows, fast=True, file_bytes=256 * 1024)
    adds = _added(tmp_path / "t", 1)
    assert len(adds) >= 4
    assert sum(json.loads(a["stats"])["numRecords"] for a in adds) == rows.num_rows
    sizes = sorted(int(a["size"]) for a in adds)
    assert sizes[-2] < 3 * 256 * 1024  # the estimate is measured after the first file
    back = DeltaTable(str(tmp_path / "t")).to_pyarrow_table().sort_by("case_id")
    assert back.equals(rows.cast(back.schema))


def test_a_near_unique_text_column_gets_no_dictionary(tmp_path: Path) -> None:
    rows = _rows()
    table = _table(tmp_path / "t", rows)
    _write(table, rows, fast=True)
    (add,) = _added(tmp_path / "t", 1)
    meta = pq.ParquetFile(tmp_path / "t" / add["path"]).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(9)}
    assert "RLE_DICTIONARY" not in encodings["case_id"]
    assert "RLE_DICTIONARY" in encodings["state"]
    assert "DELTA_BINARY_PACKED" in encodings["_source_row"]


def test_columns_without_log_statistics_get_none_in_the_file_either(tmp_path: Path) -> None:
    rows = _rows()
    config = {"delta.dataSkippingStatsColumns": "case_id,week"}
    table = _table(tmp_path / "t", rows, config)
    _write(table, rows, fast=True)
    stats = _stats(tmp_path / "t", 1)
    assert set(stats["nullCount"]) == {"case_id", "week"}
    (add,) = _added(tmp_path / "t", 1)
    column = pq.ParquetFile(tmp_path / "t" / add["path"]).metadata.row_group(0).column(6)
    assert column.path_in_schema == "state" and column.statistics is None


def test_long_strings_keep_no_bounds(tmp_path: Path) -> None:
    rows = pa.table({"note": pa.array(["x" * 65, "a", None])})
    table = _table(tmp_path / "t", rows)
    _write(table, rows, fast=True)
    stats = _stats(tmp_path / "t", 1)
    assert stats["nullCount"] == {"note": 1} and stats["minValues"] == {}


def test_a_stream_that_fails_midway_commits_nothing_and_leaves_no_file(tmp_path: Path) -> None:
    rows = _rows(3000)
    table = _table(tmp_path / "t", rows)

    def batches() -> Any:
        yield from rows.slice(0, 1000).to_batches()
        raise ValueError("the source broke")

    reader = pa.RecordBatchReader.from_batches(rows.schema, batches())
    with pytest.raises(ValueError, match="source broke"):
        delta_append.append(table, reader, None, None)
    assert DeltaTable(str(tmp_path / "t")).version() == 0
    assert not list((tmp_path / "t").glob("*.parquet"))


def test_a_failed_commit_removes_the_files_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _rows(3000)
    table = _table(tmp_path / "t", rows)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("commit refused")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", refuse)
    with pytest.raises(RuntimeError, match="commit refused"):
        delta_append.append(table, rows, None, None)
    assert not list((tmp_path / "t").glob("*.parquet"))


def test_tables_it_cannot_serve_go_to_delta_rs(tmp_path: Path) -> None:
    rows = pa.table({"a": pa.array([1, 2]), "p": pa.array(["x", "y"])})
    write_deltalake(str(tmp_path / "parted"), rows, partition_by=["p"])
    assert not delta_append.applies(DeltaTable(str(tmp_path / "parted")), rows.schema)
    plain = _table(tmp_path / "plain", rows)
    assert not delta_append.applies(plain, rows.append_column("b", pa.array([1, 2])).schema)
    nested = pa.table({"a": pa.array([[1], [2]])})
    assert not delta_append.applies(_table(tmp_path / "nested", nested), nested.schema)
    plain.alter.add_constraint({"positive": "a > 0"})
    assert not delta_append.applies(DeltaTable(str(tmp_path / "plain")), rows.schema)


@pytest.mark.parametrize(
    ("config", "kept"), [(None, 32), ({"delta.dataSkippingNumIndexedCols": "5"}, 5)]
)
def test_statistics_cover_the_first_columns_delta_rs_would_index(
    tmp_path: Path, config: dict[str, str] | None, kept: int
) -> None:
    rows = pa.table({f"c{i:02d}": pa.array([i, i + 1], pa.int64()) for i in range(40)})
    ours = _table(tmp_path / "ours", rows, config)
    theirs = _table(tmp_path / "theirs", rows, config)
    _write(ours, rows, fast=True)
    _write(theirs, rows, fast=False)
    mine, reference = _stats(tmp_path / "ours", 1), _stats(tmp_path / "theirs", 1)
    assert len(mine["nullCount"]) == kept
    assert mine["nullCount"] == reference["nullCount"]
    assert mine["minValues"] == reference["minValues"]
