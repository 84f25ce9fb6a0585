"""An older `system.billing.list_prices` without `pricing.effective_list`: `pricing.default`.

Databricks added `pricing.effective_list` (the list price after account-level list-price
changes) to `list_prices` in a later release; every cost query here reads
`pricing.effective_list.default`. On a workspace whose table predates it the warehouse answers
`FIELD_NOT_FOUND` / `UNRESOLVED_COLUMN`, which the engine raises as ColumnMissing naming
`effective_list`. `ListPriceFallback` wraps the billing engine: such a query is run once more
with `pricing.default` in its place, and from then on every query is (one failure per run).
`note` then says so, and the commands put it into `meta.billing_source`: figures are list
prices without effective-list adjustments, never silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

import pyarrow as pa

from lakecrew.core.errors import ColumnMissing
from lakecrew.ports.sql import ResultSet, SqlEngine

EFFECTIVE = "pricing.effective_list.default"
DEFAULT = "pricing.default"
NOTE = (
    "system.billing.list_prices has no pricing.effective_list (an older release): priced at "
    "pricing.default (list prices without effective-list adjustments)"
)
T = TypeVar("T")


class ListPriceFallback:
    """A SqlEngine reading `pricing.default` where `pricing.effective_list` is missing."""

    def __init__(self, inner: SqlEngine) -> None:
        self.inner = inner
        self.fell_back = False

    @property
    def note(self) -> str | None:
        return NOTE if self.fell_back else None

    def _run(self, call: Callable[[str], T], sql: str) -> T:
        if self.fell_back:
            return call(sql.replace(EFFECTIVE, DEFAULT))
        try:
            return call(sql)
        except ColumnMissing as exc:
            if exc.column != "effective_list" or EFFECTIVE not in sql:
                raise
            self.fell_back = True
            return call(sql.replace(EFFECTIVE, DEFAULT))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(lambda s: self.inner.execute(s, params), sql)

    def fetch(self, sql: str, params: Mapping[str, Any] | None = None) -> ResultSet:
        return self._run(lambda s: self.inner.fetch(s, params), sql)

    def fetch_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        return self._run(lambda s: self.inner.fetch_arrow(s, params), sql)

    def save_table(
        self, full_name: str, data: pa.Table, mode: Literal["append", "overwrite"] = "append"
    ) -> None:
        self.inner.save_table(full_name, data, mode)

    def query_tables(self, sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
        return self.inner.query_tables(sql, tables)


def with_price_note(engine: object, source: str) -> str:
    """`source` (where billing was read) plus the fallback note when the engine used it."""
    note = getattr(engine, "note", None) if isinstance(engine, ListPriceFallback) else None
    return f"{source}; {note}" if note else source
