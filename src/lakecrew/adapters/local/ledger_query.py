"""Findings filtered, counted and paged in SQL (the ledger's `finding_page`, `open_counts`).

The findings Delta table is loaded ONCE per Delta version into an in-memory DuckDB table,
sorted newest first (Delta has no secondary indexes; DuckDB's zone maps over the sorted
columns and its top-N sort make a page a scan of one column set, not a Python loop); each page
is then two SQL statements over that table — the rows (`ORDER BY last_seen DESC, fingerprint
DESC LIMIT ? OFFSET ?`) and the count per severity — and the filter choices (distinct values
of every filterable column) are computed with the load. A sweep, an exemption or any other
commit moves the table's version, and the next page reloads it.

Reading the Delta files through Arrow casts them to the table schema: delta-rs 1.x writes
strings as `string_view` in Parquet while the table schema says `string`, which a pushed-down
Arrow filter cannot compare (see `DeltaLedgerStore._get`).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from lakecrew.ports.ledger import FindingFilter, FindingPage, FindingRow

if TYPE_CHECKING:
    from lakecrew.adapters.local.delta import DeltaStore

# filter field → column; the only names ever put into SQL text (values are parameters)
COLUMNS = {
    "workspace": "workspace",
    "rule_id": "rule_id",
    "severity": "severity",
    "owner": "owner",
    "status": "status",
}


class FindingIndex:
    """One project's findings as a DuckDB table, refreshed when the Delta version moves."""

    def __init__(self, store: DeltaStore, full_name: str, schema: pa.Schema) -> None:
        self.store = store
        self.full_name = full_name
        self.schema = schema
        self._con = duckdb.connect(":memory:")
        self._version: int | None = None
        self._choices: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._con.close()

    def page(self, flt: FindingFilter, *, limit: int, offset: int) -> FindingPage:
        if not self.store.exists(self.full_name):
            return FindingPage([], 0, {}, {k: [] for k in COLUMNS})
        with self._lock:
            self._refresh()
            cur = self._con.cursor()
            where, params = _where(flt)
            counts = cur.execute(
                f"SELECT severity, count(*) FROM findings{where} GROUP BY severity", params
            ).fetchall()
            rows = cur.execute(
                f"SELECT * FROM findings{where} "
                "ORDER BY last_seen DESC, fingerprint DESC LIMIT ? OFFSET ?",
                [*params, max(0, limit), max(0, offset)],
            ).to_arrow_table()
            choices = dict(self._choices)
        by_severity = {str(s): int(n) for s, n in counts}
        table = rows.select(self.schema.names).cast(self.schema)
        return FindingPage(
            rows=[FindingRow(**d) for d in table.to_pylist()],
            total=sum(by_severity.values()),
            by_severity=by_severity,
            choices=choices,
        )

    def open_counts(self) -> dict[tuple[str, str, str], int]:
        if not self.store.exists(self.full_name):
            return {}
        with self._lock:
            self._refresh()
            rows = (
                self._con.cursor()
                .execute(
                    "SELECT workspace, rule_id, severity, count(*) FROM findings "
                    "WHERE status = 'open' GROUP BY ALL"
                )
                .fetchall()
            )
        return {(str(w), str(r), str(s)): int(n) for w, r, s, n in rows}

    def _refresh(self) -> None:
        version = self.store.version(self.full_name)
        if version == self._version:
            return
        data = self.store.read(self.full_name)  # cast to the table schema (string, not view)
        cur = self._con.cursor()
        cur.register("delta_findings", data)
        cur.execute(
            "CREATE OR REPLACE TABLE findings AS SELECT * FROM delta_findings "
            "ORDER BY last_seen DESC, fingerprint DESC"
        )
        cur.unregister("delta_findings")
        self._choices = {
            key: [str(v) for (v,) in cur.execute(
                f"SELECT DISTINCT {col} FROM findings ORDER BY 1"
            ).fetchall()]
            for key, col in COLUMNS.items()
        }  # fmt: skip
        self._version = version


def _where(flt: FindingFilter) -> tuple[str, list[object]]:
    conds, params = [], []
    for field in dataclasses.fields(flt):
        value = getattr(flt, field.name)
        if value is not None:
            conds.append(f"{COLUMNS[field.name]} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(conds) if conds else ""), params
