"""SqlEngine port: run Databricks-dialect SQL against the local engine or a SQL warehouse.

Queries are written once in Databricks SQL with named `:param` markers; each adapter translates
them at one point (the local adapter with sqlglot) and binds parameters, never string-builds them.
Arrow tables are the bulk interchange format on both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pyarrow as pa


@dataclass(frozen=True)
class ResultSet:
    """A small query result: column names and rows of Python values."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    @classmethod
    def from_arrow(cls, table: pa.Table) -> ResultSet:
        """The rows of an Arrow table as Python values (what every engine's ``fetch`` returns)."""
        columns = tuple(table.column_names)
        rows = tuple(zip(*(c.to_pylist() for c in table.columns), strict=True))
        return cls(columns, rows if columns else ())

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


class SqlEngine(Protocol):
    """execute / fetch / fetch_arrow / save_table, after the lsql SqlBackend shape."""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def fetch(self, sql: str, params: Mapping[str, Any] | None = None) -> ResultSet: ...

    def fetch_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table: ...

    def save_table(
        self, full_name: str, data: pa.Table, mode: Literal["append", "overwrite"] = "append"
    ) -> None: ...

    def query_tables(self, sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
        """Run one Spark SQL query over in-memory Arrow ``tables``, each named by its key.

        The query may name only those tables (single-part names, case-insensitive) and its own
        CTEs, never catalog tables; the inputs are the caller's data, so no column masks apply.
        Row order of the result is not guaranteed. Errors: UsageError for bad SQL or names,
        DataError when a value cannot be computed (the message may quote the value).
        """
        ...
