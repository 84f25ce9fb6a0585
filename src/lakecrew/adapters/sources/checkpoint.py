"""Atomic JSON checkpoint files and deterministic batch ids shared by the sources."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lakecrew.core.errors import DataError
from lakecrew.core.files import write_atomic
from lakecrew.ports.source import (
    BATCH_ID,
    FILE_SHA256,
    METADATA_COLUMNS,
    RAW,
    SOURCE_ROW,
    SOURCE_URI,
)


def batch_id(*parts: object) -> str:
    """A deterministic 24-hex id from the parts (same input, same id, across processes)."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class JsonCheckpoint:
    """A JSON object on disk, replaced atomically on every save."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        """The saved state, or ``{}`` when nothing was committed yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"checkpoint is not valid JSON ({exc.msg} at line {exc.lineno})",
                where=str(self.path),
                fix="restore it from backup, or delete it to re-ingest everything",
            ) from exc
        if not isinstance(state, dict):
            raise DataError("checkpoint is not a JSON object", where=str(self.path))
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state atomically."""
        text = json.dumps(state, sort_keys=True, indent=1, ensure_ascii=False)
        write_atomic(self.path, text.encode("utf-8"))


def with_metadata(
    columns: dict[str, pa.Array | pa.ChunkedArray | list[Any]],
    *,
    uri: str | list[str],
    rows: Sequence[int] | np.ndarray,
    bid: str,
    raw: list[str | None] | None = None,
    where: str,
    sha256: str | None = None,
) -> pa.Table:
    """Build the batch table: source columns as given, then the metadata columns
    (``sha256``: of the whole source file, for file sources)."""
    clash = [name for name in columns if name in METADATA_COLUMNS]
    if clash:
        raise DataError(
            f"source column {clash[0]!r} collides with a lakecrew metadata column",
            where=where,
            fix="rename the column at the source or in the reader options",
        )
    n = len(rows)
    data: dict[str, Any] = dict(columns)
    data[SOURCE_URI] = pa.array(uri, pa.string()) if isinstance(uri, list) else _repeat(uri, n)
    data[SOURCE_ROW] = pa.array(rows, pa.int64())
    data[BATCH_ID] = _repeat(bid, n)
    data[RAW] = pa.array(raw, pa.string()) if raw is not None else pa.nulls(n, pa.string())
    data[FILE_SHA256] = _repeat(sha256, n) if sha256 is not None else pa.nulls(n, pa.string())
    return pa.table(data)


def _repeat(value: str, n: int) -> pa.Array:
    """``n`` times one string, dictionary-encoded: one value and ``n`` zero indices (4 bytes a
    row instead of a copy of the text per row: 151 bytes a row for a file's three columns)."""
    indices = pa.array(np.zeros(n, np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))


def json_text_columns(records: list[dict[str, Any]]) -> dict[str, pa.Array]:
    """Top-level keys of JSON records as string columns (nested values as JSON text)."""
    names: dict[str, None] = {}
    for record in records:
        for key in record:
            names.setdefault(key, None)
    return {
        name: pa.array([scalar_text(r.get(name)) for r in records], pa.string()) for name in names
    }


def scalar_text(value: Any) -> str | None:
    """A JSON value as text: strings as-is, other scalars as JSON, containers as JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
