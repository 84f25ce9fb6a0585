"""The ledger's copy of the tickets: new fingerprints are appended, known ones merged, one row
per fingerprint even when another store (another process) wrote the table in between."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
from lakecrew.ports.ledger import TicketRow

T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _row(n: int, status: str = "open") -> TicketRow:
    return TicketRow(
        fingerprint=f"fp-{n:04d}",
        ticket_key=f"LC-{n}",
        system="local",
        workspace="ws",
        rule_id="cluster.tags_missing",
        resource_id=f"c-{n}",
        owner="owner@example.org",
        status=status,  # type: ignore[arg-type]
        created_at=T,
        updated_at=T,
        resolved_at=None if status == "open" else T,
    )


def _operations(store: DeltaStore) -> list[str]:
    history = store.history("lakecrew.crew.tickets")
    return [str(h["operation"]) for h in reversed(history) if h["operation"] != "CREATE TABLE"]


def test_new_tickets_are_appended_and_known_ones_merged(tmp_path: Path) -> None:
    store = DeltaStore(tmp_path / "lakehouse")
    ledger = DeltaLedgerStore(store)
    ledger.put_tickets([_row(1), _row(2)])
    ledger.put_tickets([_row(3)])
    ledger.put_tickets([_row(4), replace(_row(2, "resolved"), updated_at=T)])  # 2 is known
    assert _operations(store) == ["WRITE", "WRITE", "MERGE"]
    rows = {r.fingerprint: r.status for r in ledger.tickets()}
    assert rows == {"fp-0001": "open", "fp-0002": "resolved", "fp-0003": "open", "fp-0004": "open"}
    assert len(ledger.tickets()) == 4


def test_a_write_by_another_store_is_seen_before_appending(tmp_path: Path) -> None:
    store = DeltaStore(tmp_path / "lakehouse")
    ours, theirs = DeltaLedgerStore(store), DeltaLedgerStore(DeltaStore(tmp_path / "lakehouse"))
    ours.put_tickets([_row(1)])
    theirs.put_tickets([_row(2)])  # our key index describes the version before this one
    ours.put_tickets([_row(2, "resolved")])  # so this is read again: merged, not appended
    assert _operations(store) == ["WRITE", "WRITE", "MERGE"]
    assert sorted((r.fingerprint, r.status) for r in ours.tickets()) == [
        ("fp-0001", "open"),
        ("fp-0002", "resolved"),
    ]
