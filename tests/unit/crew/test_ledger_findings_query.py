"""The ledger's findings page in SQL (DuckDB over the findings Delta table) against the same
filter done in memory, and the workspace filter on a freshly written table (delta-rs writes
`string_view` Parquet columns: the pushed-down Arrow filter raised ArrowNotImplementedError)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
from lakecrew.faces.web.views import (
    FindingQuery,
    findings_page,
    findings_view,
    open_counts,
    sorted_findings,
)
from lakecrew.ports.ledger import FindingFilter, FindingRow

T = datetime(2026, 12, 4, 10, tzinfo=UTC)
SEVERITIES = ("critical", "warning", "info")


def _rows(n: int) -> list[FindingRow]:
    return [
        FindingRow(
            fingerprint=f"{i:06d}", workspace=("ws-a", "ws-b", "ws-c")[i % 3],
            rule_id=f"rule.{i % 7}", severity=SEVERITIES[i % 5 % 3], resource_type="clusters",
            resource_id=f"c-{i}", resource_name=f"n-{i}", owner=f"o{i % 4}@x.example",
            owner_source="tag", evidence_json="{}",
            status=("open", "resolved", "exempted")[i % 2], first_seen=T,
            last_seen=T - timedelta(minutes=i % 50), resolved_at=None, sweep_id="s",
        )
        for i in range(n)
    ]  # fmt: skip


def test_finding_page_in_sql_matches_the_in_memory_page(tmp_path: Path) -> None:
    ledger = DeltaLedgerStore(DeltaStore(tmp_path / "lakehouse"))
    empty = ledger.finding_page(FindingFilter(), limit=10, offset=0)
    assert empty.total == 0 and empty.rows == []  # no table yet: nothing, and nothing created
    assert ledger.open_counts() == {}
    rows = _rows(600)
    ledger.put_findings(rows)
    # the reported bug: the workspace filter on a table written by one MERGE
    assert sorted(r.fingerprint for r in ledger.findings("ws-b")) == sorted(
        r.fingerprint for r in rows if r.workspace == "ws-b"
    )
    assert len(ledger.action_history("ws-b")) == 0
    memory = sorted_findings(rows)
    for query in (
        FindingQuery(),
        FindingQuery(workspace="ws-b", severity="critical", per_page=7, page=3),
        FindingQuery(rule="rule.3", owner="o2@x.example", status="open", per_page=5, page=2),
        FindingQuery(workspace="ws-a", page=999, per_page=20),  # clamped to the last page
    ):
        per_page, offset = query.window(10**9)
        found = ledger.finding_page(query.store_filter(), limit=per_page, offset=offset)
        _, last = query.window(found.total)
        if last != offset:
            found = ledger.finding_page(query.store_filter(), limit=per_page, offset=last)
        assert findings_view(found, query) == findings_page(memory, query), query
    assert ledger.open_counts() == open_counts(rows)  # the overview's and governance's counts
    # a new commit (a later sweep) is seen by the next page
    ledger.put_findings([FindingRow(**{**_rows(1)[0].__dict__, "fingerprint": "new",
                                       "workspace": "ws-new", "last_seen": T})])  # fmt: skip
    page = ledger.finding_page(FindingFilter(workspace="ws-new"), limit=5, offset=0)
    assert [r.fingerprint for r in page.rows] == ["new"] and page.total == 1
    assert "ws-new" in page.choices["workspace"]
