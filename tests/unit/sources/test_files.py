"""File source: real Lassa / healthsites CSV subsets, re-encoded, truncated, JSON, Parquet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakecrew.adapters.sources.files import CsvOptions, FileSource, JsonOptions
from lakecrew.core.errors import DataError, NotFound
from lakecrew.ports.source import BATCH_ID, RAW, SOURCE_ROW, Batch, drain

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LASSA = FIXTURES / "files" / "lassa_2018_by_state_head40.csv"
HEALTHSITES = FIXTURES / "files" / "healthsites_west_africa_accents30.csv"
DHIS2 = FIXTURES / "dhis2"


def _source(tmp_path: Path, **kwargs: object) -> FileSource:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    return FileSource(name="landing", root=inbox, checkpoint_path=tmp_path / "ckpt.json", **kwargs)  # type: ignore[arg-type]


def _collect(source: FileSource) -> list[Batch]:
    written: list[Batch] = []
    drain(source, written.append)
    return written


def test_lassa_csv_is_read_as_raw_strings_with_line_numbers(tmp_path: Path) -> None:
    src = _source(tmp_path)
    shutil.copy(LASSA, src.root / "lassa.csv")
    [batch] = _collect(src)
    assert batch.num_rows == 40 and batch.rejected == () and batch.encoding == "utf-8"
    table = batch.table
    assert table.schema.field("ConfCases").type == pa.string()
    assert table.column("State")[0].as_py() == "Bauchi"
    assert table.column("CFR")[3].as_py() == "75.0"
    assert table.column(SOURCE_ROW).to_pylist()[:2] == [2, 3]
    assert set(table.column(BATCH_ID).to_pylist()) == {batch.batch_id}


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-16"])
def test_other_encodings_are_detected_and_reported(tmp_path: Path, encoding: str) -> None:
    src = _source(tmp_path)
    text = HEALTHSITES.read_text(encoding="utf-8").replace("\u2019", "'")  # not in latin-1
    (src.root / "sites.csv").write_bytes(text.encode(encoding))
    [batch] = _collect(src)
    assert batch.encoding is not None and batch.encoding != "utf-8"
    names = batch.table.column("name").to_pylist()
    assert names[0] == "Centre de Santé public de Godomey"
    assert "Centre de traitement anti lèpre" in names
    assert batch.num_rows == 30 and batch.rejected == ()


def test_declared_encoding_mismatch_is_one_clear_error(tmp_path: Path) -> None:
    src = _source(tmp_path, csv=CsvOptions(encoding="utf-8"))
    text = HEALTHSITES.read_text(encoding="utf-8")
    (src.root / "sites.csv").write_bytes(text.encode("cp1252"))
    with pytest.raises(DataError) as err:
        _collect(src)
    assert "sites.csv:2" in str(err.value) and "not valid utf-8" in str(err.value)
    assert "fix:" in str(err.value)
    assert src.discover() == ["sites.csv"], "nothing may be committed after a failure"


def test_a_truncated_csv_fails_the_file_and_loads_once_complete(tmp_path: Path) -> None:
    src = _source(tmp_path)
    data = LASSA.read_bytes()
    cut = data[: len(data) - 30]  # the upload stopped in the middle of the last line
    (src.root / "lassa.csv").write_bytes(cut)
    with pytest.raises(DataError, match=r"last line \(line 41\) is cut off"):
        _collect(src)
    assert src.discover() == ["lassa.csv"], "nothing of a cut-off file is committed"
    (src.root / "lassa.csv").write_bytes(data)  # the upload completes under the same name
    [batch] = _collect(src)
    assert batch.num_rows == 40 and not batch.rejected


def test_an_empty_or_header_only_file_is_a_note_and_loads_when_complete(tmp_path: Path) -> None:
    src = _source(tmp_path)
    (src.root / "a.csv").write_text("")
    (src.root / "b.csv").write_text("id,name\n")
    batches = _collect(src)
    notes = [n for b in batches for n in b.notes]
    assert notes == ["a.csv: empty, no rows", "b.csv: header only, no rows"]
    (src.root / "a.csv").write_text("id,name\n1,x\n")  # arrives complete later
    [batch] = _collect(src)
    assert batch.num_rows == 1 and "a.csv changed since it was ingested" in batch.notes[0]


def test_a_pattern_matching_nothing_is_an_error_unless_allowed(tmp_path: Path) -> None:
    src = _source(tmp_path)
    with pytest.raises(NotFound, match="no file matches"):
        src.discover()
    allowed = _source(tmp_path, allow_no_files=True)
    assert allowed.discover() == [] and _collect(allowed) == []


def test_wrong_field_count_and_broken_quote_are_rejected(tmp_path: Path) -> None:
    src = _source(tmp_path, csv=CsvOptions(delimiter=";"))
    body = 'id;name;note\n1;"Kenema; East";ok\n2;only-two\n3;"a"b;x\n4;"multi\nline";fine\n'
    (src.root / "semi.csv").write_text(body, encoding="utf-8")
    [batch] = _collect(src)
    assert batch.table.column("name").to_pylist() == ["Kenema; East", "multi\nline"]
    assert batch.table.column(SOURCE_ROW).to_pylist() == [2, 5]
    reasons = {r.row: r.reason for r in batch.rejected}
    assert reasons[3] == "expected 3 fields, found 2"
    assert reasons[4].startswith("malformed CSV")


def test_each_file_exactly_once_including_after_a_crash(tmp_path: Path) -> None:
    src = _source(tmp_path)
    shutil.copy(LASSA, src.root / "a.csv")
    shutil.copy(HEALTHSITES, src.root / "b.csv")
    first = next(iter(src.read()))  # crash: read (and maybe written) but never committed
    again = _collect(src)
    assert again[0].batch_id == first.batch_id, "same batch id after a crash"
    assert src.discover() == [] and _collect(src) == []
    shutil.copy(LASSA, src.root / "c.csv")
    assert src.discover() == ["c.csv"]
    (src.root / "a.csv").write_text("changed\n", encoding="utf-8")
    assert src.discover() == ["a.csv (changed)", "c.csv"], "a changed file is a new version"
    ignoring = _source(tmp_path, on_change="ignore")
    assert ignoring.discover() == ["c.csv"]
    with pytest.raises(DataError, match="changed since it was ingested"):
        _source(tmp_path, on_change="error").discover()
    rewound = _source(tmp_path)
    rewound.rewind()
    assert rewound.discover() == ["a.csv (changed)", "b.csv (re-read)", "c.csv"]


def test_missing_directory_and_vanished_file(tmp_path: Path) -> None:
    src = FileSource(name="x", root=tmp_path / "nope", checkpoint_path=tmp_path / "c.json")
    with pytest.raises(NotFound, match="input directory does not exist"):
        src.discover()
    src = _source(tmp_path)
    shutil.copy(LASSA, src.root / "a.csv")
    [(entry, _)] = src._pending()
    (src.root / "a.csv").unlink()
    with pytest.raises(NotFound, match="disappeared"):
        src.read_file(entry)


def test_json_lines_keep_raw_text_and_reject_bad_lines(tmp_path: Path) -> None:
    src = _source(tmp_path)
    values = json.loads((DHIS2 / "dataValueSets_sl_demo_v2.40_1.json").read_text())["dataValues"]
    lines = [json.dumps(v) for v in values[:5]] + ["[1,2]"]
    (src.root / "dv.jsonl").write_text("\n".join(lines), encoding="utf-8")
    [batch] = _collect(src)
    assert batch.num_rows == 5
    assert batch.table.column(RAW).to_pylist() == lines[:5]
    assert batch.table.column("followup").to_pylist()[0] == "false"
    assert batch.table.column("comment").to_pylist()[:2] == [None, ""]
    reasons = [r.reason for r in batch.rejected]
    assert reasons == ["JSON line is not an object"]
    (src.root / "cut.jsonl").write_text(lines[0] + '\n{"dataElement": "DUTS', encoding="utf-8")
    with pytest.raises(DataError, match="cut off"):
        _collect(src)


def test_json_array_truncated_and_records_key(tmp_path: Path) -> None:
    src = _source(tmp_path)
    text = (DHIS2 / "organisationUnits_sl_demo_v2.38_page2.json").read_text()
    units = json.loads(text)["organisationUnits"]
    array = json.dumps(units[:3])
    (src.root / "ou.json").write_text(array[:-40], encoding="utf-8")
    [batch] = _collect(src)
    assert batch.num_rows == 2 and len(batch.rejected) == 1
    assert batch.rejected[0].row == 3 and "invalid JSON" in batch.rejected[0].reason
    src2 = FileSource(
        name="dv",
        root=DHIS2,
        pattern="organisationUnits_*page2.json",
        checkpoint_path=tmp_path / "c2.json",
        json=JsonOptions(records_key="organisationUnits"),
    )
    [ou] = _collect(src2)
    assert ou.num_rows == len(units) and "geometry" in ou.table.column_names


def test_parquet_keeps_types_and_corrupt_parquet_is_clear(tmp_path: Path) -> None:
    src = _source(tmp_path)
    pq.write_table(pa.table({"week": [1, 2], "state": ["Edo", "Ondo"]}), src.root / "w.parquet")
    [batch] = _collect(src)
    assert batch.table.column("week").type == pa.int64()
    (src.root / "z.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        _collect(src)
