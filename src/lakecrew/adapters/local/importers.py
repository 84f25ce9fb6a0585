"""Adapter-side readers the estate importer is given by the composition root.

import_workspace(store, save_table, path, name,
                 check_record=sdk_record_check, read_parquet=read_parquet)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lakecrew.adapters.local.rest_shapes import ShapeIssue, check_shape
from lakecrew.core.errors import DataError
from lakecrew.ports.workspace import ObjectKind


def read_parquet(path: Path) -> pa.Table:
    """A Parquet export file as an Arrow table; DataError when truncated or not Parquet."""
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            "not a readable Parquet file (truncated or corrupt)",
            where=f"file {path.name}",
            fix="re-export the table",
        ) from exc


def sdk_record_check(kind: ObjectKind, record: Any) -> Sequence[ShapeIssue]:
    """Field types of one REST record checked against its databricks-sdk dataclass."""
    return check_shape(kind, record)
