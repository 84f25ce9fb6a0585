"""Read a CSV the way a bronze batch holds it: every column as text, nothing turned into null.

Used by tests of quality, privacy and pipelines on the real-data fixtures in tests/fixtures.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv


def read_text_csv(path: Path) -> pa.Table:
    """All columns as strings; empty fields stay ``''`` (as in a raw bronze batch)."""
    with path.open(encoding="utf-8", newline="") as fh:
        names = next(csv.reader(fh))
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    return pacsv.read_csv(path, convert_options=convert)
