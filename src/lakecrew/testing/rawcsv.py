"""Read a CSV the way a bronze batch holds it: every column as text, nothing turned into null.

Used by tests of quality, privacy and pipelines on the real-data fixtures in tests/fixtures.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv


def read_text_csv(path: Path) -> pa.Table:
    """All columns as strings; empty fields stay ``''`` (as in a raw bronze batch)."""
    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8").strip()
    names = next(iter(pacsv.read_csv(pa.py_buffer(header.encode() + b"\n"),
                                     read_options=pacsv.ReadOptions(autogenerate_column_names=False)).column_names for _ in [0]))
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    return pacsv.read_csv(path, convert_options=convert)
