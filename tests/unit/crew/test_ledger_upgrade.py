"""A ledger written by an earlier release (a table without a column added since) keeps working:
the nullable column is added on first use, old rows read it as null, nothing is lost."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore, schema_of
from lakecrew.core.errors import SchemaMismatch
from lakecrew.ports.ledger import SweepRow

T = datetime(2026, 11, 30, 6, tzinfo=UTC)


def _old_sweeps(store: DeltaStore, ledger: DeltaLedgerStore) -> None:
    """The sweeps table as an earlier release wrote it: without `notes`, one row."""
    old = pa.schema([f for f in schema_of(SweepRow) if f.name != "notes"])
    name = ledger.full_name(SweepRow)
    store.create_table(name, old)
    row = SweepRow("s-old", "malaria-dev", 1, False, T, T, 3, 2, 1, 0, "completed")
    data = {f.name: getattr(row, f.name) for f in dataclasses.fields(SweepRow)}
    store.append(name, pa.Table.from_pylist([{k: data[k] for k in old.names}], schema=old))


def test_a_ledger_from_an_earlier_release_gains_the_new_column(tmp_path: Path) -> None:
    store = DeltaStore(tmp_path / "lakehouse")
    ledger = DeltaLedgerStore(store)
    _old_sweeps(store, ledger)
    new = SweepRow("s-new", "malaria-dev", 1, False, T, T, 3, 2, 1, 0, "completed")
    ledger.put_sweep(dataclasses.replace(new, notes="system.compute.node_types not read"))
    rows = {r.sweep_id: r for r in ledger.sweeps()}
    assert set(rows) == {"s-old", "s-new"}
    assert not rows["s-old"].notes and rows["s-new"].notes


def test_a_retyped_or_required_column_is_still_refused(tmp_path: Path) -> None:
    store = DeltaStore(tmp_path / "lakehouse")
    store.create_table("c.s.t", pa.schema([pa.field("a", pa.int64())]))
    with pytest.raises(SchemaMismatch):
        store.create_table(
            "c.s.t",
            pa.schema([pa.field("a", pa.string())]),
            exist_ok=True,
            add_nullable=True,
        )
    with pytest.raises(SchemaMismatch):
        store.create_table(
            "c.s.t",
            pa.schema([pa.field("a", pa.int64()), pa.field("b", pa.int64(), nullable=False)]),
            exist_ok=True,
            add_nullable=True,
        )
