"""Where `lakecrew classify` reads its samples: a catalog table through the SqlEngine, or a CSV.

Values stay in this process's memory for the length of one call: proposals carry counts, never a
value, and errors name the file and line, never the data. A table is read through the project's
SqlEngine (the local engine applies column masks on read, so a column the catalog masks is
judged by its name alone — the proposal says `name`, with 0 values sampled); a CSV is read
with every column as text, up to `max_rows` rows.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lakecrew.core.errors import DataError, UsageError
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.privacy.classify import TableProposal, classify_table

_PART = re.compile(r"[A-Za-z_][\w-]*")


@dataclass(frozen=True)
class Classified:
    """One source's proposals and how many rows were read for them."""

    source: str
    rows_read: int
    proposal: TableProposal


def quoted_table_name(full_name: str) -> str:
    """`catalog.schema.table` quoted for SQL; UsageError for anything else."""
    parts = full_name.split(".")
    if len(parts) != 3 or not all(_PART.fullmatch(p) for p in parts):
        raise UsageError(
            f"{full_name!r} is not a table name",
            where="TABLE",
            fix="give catalog.schema.table (letters, digits, _ and -)",
        )
    return ".".join(f"`{p}`" for p in parts)


def classify_sql_table(
    sql: SqlEngine,
    full_name: str,
    *,
    sample: int = 200,
    max_rows: int = 10_000,
    masked: Collection[str] = (),
) -> Classified:
    """Proposals for a catalog table, from at most `max_rows` of its rows. The `masked`
    columns (a column mask in the catalog) are judged by their name alone: their values as
    read are the mask's output, which would only contradict the name."""
    table = sql.fetch_arrow(f"SELECT * FROM {quoted_table_name(full_name)} LIMIT {int(max_rows)}")
    hidden = {m.lower() for m in masked}
    for i, name in enumerate(table.column_names):
        if name.lower() in hidden:
            table = table.set_column(i, name, pa.nulls(table.num_rows, table.schema.field(i).type))
    return Classified(full_name, table.num_rows, classify_table(table, sample=sample))


def classify_csv(path: Path, *, sample: int = 200, max_rows: int = 50_000) -> Classified:
    """Proposals for a CSV file with a header line (every column read as text)."""
    table = read_csv_text(path, max_rows=max_rows)
    return Classified(str(path), table.num_rows, classify_table(table, sample=sample))


def read_csv_text(path: Path, *, max_rows: int) -> pa.Table:
    """The first `max_rows` rows of a CSV as string columns; DataError names file:line."""
    if not path.is_file():
        raise UsageError(f"{path} is not a file", where="--csv", fix="give a CSV file's path")
    with path.open("rb") as raw:
        if b"\x00" in raw.read(8192):
            raise DataError(
                "binary file, not CSV", where=str(path), fix="export the table as CSV text"
            )
    columns: list[list[str | None]] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                raise DataError("empty file: no header line", where=str(path), fix="add a header")
            columns = [[] for _ in header]
            for row in reader:
                if reader.line_num > max_rows + 1:
                    break
                if len(row) != len(header):
                    raise DataError(
                        f"{len(row)} fields where the header has {len(header)}",
                        where=f"{path}:{reader.line_num}",
                        fix="quote fields holding commas",
                    )
                for col, value in zip(columns, row, strict=True):
                    col.append(value or None)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"not UTF-8 text (byte {exc.start})", where=str(path), fix="re-save the file as UTF-8"
        ) from None
    except csv.Error as exc:
        raise DataError(f"unreadable CSV: {exc}", where=str(path), fix="fix the quoting") from None
    names = _unique(header)
    return pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, columns, strict=True)})


def _unique(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(header):
        base = name.strip() or f"column_{i + 1}"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return out
