"""Streaming CSV: the Arrow fast path agrees with the exact csv-module path, row for row."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from lakecrew.adapters.sources import csvscan, csvstream
from lakecrew.adapters.sources.csvscan import Dialect, scan_file
from lakecrew.adapters.sources.csvstream import stream_csv
from lakecrew.adapters.sources.files import FileSource
from lakecrew.core.errors import DataError
from lakecrew.ports.source import SOURCE_ROW


@pytest.fixture(autouse=True, params=["in memory", "in blocks", "as dictionaries"])
def _how_read(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test three times: the file read once and kept for the parse; read in blocks then
    again by the parser (files over ``IN_MEMORY``); every column of the fast path parsed as a
    dictionary."""
    if request.param == "in blocks":
        monkeypatch.setattr(csvscan, "IN_MEMORY", 0)
    if request.param == "as dictionaries":
        monkeypatch.setattr(csvstream, "PROBE_ROWS", 0)
        monkeypatch.setattr(csvstream, "FEW", 1.0)


Result = tuple[
    list[int], list[tuple[str | None, ...]], list[tuple[int | None, str, str]], list[bool]
]


def _read(path: Path, dialect: Dialect, *, exact: bool = False) -> tuple[bool, Result]:
    scan = scan_file(path, None, dialect)
    fast = scan.regular
    if exact:
        scan.regular = False
    rows: list[int] = []
    values: list[tuple[str | None, ...]] = []
    rejects: list[tuple[int | None, str, str]] = []
    lasts: list[bool] = []
    for chunk in stream_csv(path, scan, dialect):
        rows += chunk.rows.tolist()
        columns = [chunk.columns[n].to_pylist() for n in chunk.columns]
        values += list(zip(*columns, strict=True))
        rejects += [(r.row, r.reason, r.raw.rstrip("\r\n")) for r in chunk.rejected]
        lasts.append(chunk.last)
    return fast, (rows, values, rejects, lasts)


STRAY = ['{0},"x"y,z', '{0},a"b,z', '{0},ab",z', '"{0}"x,"y",z', '{0},a"b\nc",z', '{0},a"b",z']


def _random_csv(rng: random.Random) -> str:
    lines = ["id,name,note"]
    for i in range(rng.randint(0, 30)):
        pick = rng.random()
        if pick < 0.1:
            lines.append("")
        elif pick < 0.2:
            lines.append(f'{i},"two\nlines",z')
        elif pick < 0.3:
            lines.append(f"{i},short")
        elif pick < 0.35:
            lines.append(f'{i},"say ""hi""",z')
        elif pick < 0.4:
            lines.append(f"{i},,")
        else:
            lines.append(f'{i},"v{i}",w')
    if lines[1:] and rng.random() < 0.2:  # a stray quote: the scan must send it to the exact path
        at = rng.randrange(1, len(lines))
        lines[at] = rng.choice(STRAY).format(at)
    end = "\r\n" if rng.random() < 0.3 else "\n"
    body = end.join(lines) + (end if rng.random() < 0.7 else "")
    return ("\ufeff" + body) if rng.random() < 0.2 else body


def test_fast_path_matches_exact_path_on_random_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    path = tmp_path / "f.csv"
    fast_runs = 0
    for _ in range(160):
        path.write_text(_random_csv(rng), encoding="utf-8", newline="")
        monkeypatch.setattr(csvscan, "BLOCK", rng.choice([5, 11, 64, 1 << 20]))
        dialect = Dialect(chunk_rows=rng.choice([1, 4, 1000]))
        fast, got = _read(path, dialect)
        _, want = _read(path, dialect, exact=True)
        assert got == want
        fast_runs += fast
    assert fast_runs > 60, "most generated files have regular quoting and take the fast path"


def test_line_numbers_and_reasons_on_the_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('a,b\n1,"x\ny"\n\n2\n3,z\n4,5,6', encoding="utf-8")
    fast, (rows, values, rejects, lasts) = _read(path, Dialect())
    assert fast
    assert rows == [2, 6] and values == [("1", "x\ny"), ("3", "z")]
    assert rejects == [
        (5, "expected 2 fields, found 1", "2"),
        (7, "truncated last line (no line end): expected 2 fields, found 3", "4,5,6"),
    ]
    assert lasts == [True]


def test_stray_quotes_take_the_exact_path(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('a,b\n1,"x"y\n2,ok\n', encoding="utf-8")
    fast, (rows, _, rejects, _) = _read(path, Dialect())
    assert not fast and rows == [3]
    assert rejects[0][0] == 2 and rejects[0][1].startswith("malformed CSV")


def test_invalid_utf8_across_blocks_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvscan, "BLOCK", 3)
    path = tmp_path / "f.csv"
    path.write_bytes("a,b\nSanté,1\n".encode() + b"x\xff,2\n")
    with pytest.raises(DataError, match="not valid utf-8") as err:
        scan_file(path, "utf-8", Dialect())
    assert f"{path}:3" in str(err.value)
    scan = scan_file(path, None, Dialect())  # undeclared: detected instead
    assert scan.detected and scan.encoding != "utf-8"


def test_large_file_is_read_in_bounded_batches_and_committed_once(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    body = "id,v\n" + "".join(f"{i},{i % 7}\n" for i in range(25)) + "bad\n"
    (inbox / "big.csv").write_text(body, encoding="utf-8")
    src = FileSource("s", inbox, tmp_path / "ckpt.json", batch_rows=10)
    first = next(iter(src.read()))
    src.commit(first.checkpoint)  # a partial token records nothing
    assert src.discover() == ["big.csv"]
    batches = list(src.read())
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert batches[0].batch_id == first.batch_id and len({b.batch_id for b in batches}) == 3
    assert batches[1].table.column(SOURCE_ROW).to_pylist()[0] == 12
    assert [r.row for r in batches[-1].rejected] == [27]
    for batch in batches:
        src.commit(batch.checkpoint)
    assert src.discover() == []


def test_a_file_read_whole_is_parsed_from_the_bytes_that_were_hashed(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("id,name\n1,Kano\n2,Lagos\n", encoding="utf-8")
    scan = scan_file(path, None, Dialect())
    if csvscan.IN_MEMORY == 0:
        assert scan.data is None
        return
    assert scan.data == path.read_bytes()
    path.write_text("id,name\n9,Changed\n", encoding="utf-8")  # after the scan
    rows = [c.columns["name"].to_pylist() for c in stream_csv(path, scan, Dialect())]
    assert rows == [["Kano", "Lagos"]]


def test_columns_of_few_values_are_parsed_as_dictionaries_with_the_same_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvstream, "PROBE_ROWS", 10)
    monkeypatch.setattr(csvstream, "FEW", 0.25)
    path = tmp_path / "cases.csv"
    lines = [f"K{i},{['Kano', 'Lagos'][i % 2]}" for i in range(400)]
    path.write_text("id,state\n" + "\n".join(lines) + "\n", encoding="utf-8")
    (chunk,) = stream_csv(path, scan_file(path, None, Dialect()), Dialect(chunk_rows=1000))
    assert pa.types.is_string(chunk.columns["id"].type)  # 400 distinct of 400: text
    state = chunk.columns["state"]
    assert pa.types.is_dictionary(state.type) and state.num_chunks == 1
    assert state.to_pylist() == [["Kano", "Lagos"][i % 2] for i in range(400)]
