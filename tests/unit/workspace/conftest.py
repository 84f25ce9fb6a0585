"""Fixtures for the workspace store, SDK shape and estate import tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.core.system_tables import SYSTEM_TABLES

EXPORTS = Path(__file__).parents[2] / "fixtures" / "exports"


@pytest.fixture
def exports() -> Path:
    return EXPORTS


@pytest.fixture
def lakehouse(tmp_path: Path) -> DeltaStore:
    return DeltaStore(tmp_path / "lakehouse")


@pytest.fixture
def save_table(lakehouse: DeltaStore) -> Callable[[str, pa.Table, str], None]:
    """The composition root's save_table: create the system table if needed, then append."""

    def save(full_name: str, table: pa.Table, mode: str) -> None:
        assert mode == "append"
        lakehouse.create_table(full_name, SYSTEM_TABLES[full_name], exist_ok=True)
        lakehouse.append(full_name, table, merge_schema=True)

    return save
