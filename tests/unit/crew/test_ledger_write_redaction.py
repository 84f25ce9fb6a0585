"""An action row is redacted once and written to two tables: both hold the redacted values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
from lakecrew.ports.ledger import ActionRow

TOKEN = "dapi" + "0123456789abcdef" * 2


def test_action_states_are_redacted_in_current_rows_and_history(tmp_path: Path) -> None:
    ledger = DeltaLedgerStore(DeltaStore(tmp_path))
    now = datetime(2026, 3, 2, tzinfo=UTC)
    rows = [
        ActionRow(
            f"a{i}",
            "s1",
            "ws",
            f"fp{i}",
            "job.hardcoded_secret",
            "set_job_settings",
            "jobs",
            f"{i}",
            f'{{"api_token": "{TOKEN}"}}',
            "planned",
            f"saw token={TOKEN}",
            f'{{"settings": {{"patient_phone": "+234803000000{i}"}}}}',
            None,
            "o@x.org",
            now,
            now,
        )
        for i in range(3)
    ]
    ledger.put_actions(rows)
    current = sorted(ledger.actions("ws"), key=lambda r: r.action_id)
    history = ledger.action_history("ws")
    assert len(current) == 3 and len(history) == 3
    for row in [*current, *history]:
        text = " ".join(str(x) for x in (row.target_json, row.reason, row.before_json))
        assert TOKEN not in text and "+23480300000" not in text
        assert "<redacted" in row.target_json and "<redacted" in row.reason
    assert [r.action_id for r in current] == ["a0", "a1", "a2"]
    assert {r.action_id for r in history} == {"a0", "a1", "a2"}
