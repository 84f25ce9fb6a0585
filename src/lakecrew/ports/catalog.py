"""Catalog ports: Unity Catalog's information model (tables, columns, tags, masks, grants, lineage).

Three small Protocols, each shaped after the Unity Catalog API so the local SQLite metastore and a
later Databricks SDK adapter implement the same methods:

- `Catalog`  tables and columns with owner, comment, properties, tags and column masks
  (UC: `tables`, `entity_tag_assignments`, `ALTER TABLE ... SET TAGS / SET MASK`);
- `Grants`   privileges on securables, with an optional expiry (UC: `grants`);
- `Lineage`  table-to-table edges written by pipelines (UC: `system.access.table_lineage`);
- `MaskFunctions` the SQL functions column masks call (UC: `functions`, `CREATE FUNCTION`).

Names are three-part and lower-case (`catalog.schema.table`); `parse_full_name` normalises them.
Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from lakecrew.core.errors import UsageError

_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SecurableType = Literal["CATALOG", "SCHEMA", "TABLE", "FUNCTION", "VOLUME"]


@functools.lru_cache(maxsize=65536)
def parse_full_name(full_name: str) -> tuple[str, str, str]:
    """Split and normalise `catalog.schema.table`; raise UsageError on anything else.

    Cached: the estate paths parse each table's name several times (catalog_name, schema_name,
    name), ~25 µs each — over a second for 10,000 tables."""
    parts = full_name.strip().strip("`").split(".")
    if len(parts) != 3 or not all(_PART.match(p.strip("`")) for p in parts):
        raise UsageError(
            f"invalid table name {full_name!r}",
            where="table name",
            fix="use a three-part name catalog.schema.table of letters, digits and _",
        )
    cat, sch, tbl = (p.strip("`").lower() for p in parts)
    return cat, sch, tbl


@dataclass(frozen=True)
class ColumnInfo:
    """One column. `type_text` is the Databricks type (`bigint`, `decimal(38,18)`, `map<...>`).

    `mask` is the full name of the masking function (`cat.schema.fn`; lakecrew's own are in
    core/column_masks.py), applied at read to every non-privileged query; `mask_using` the extra
    columns passed to it; `position` is 0-based as in Unity Catalog.
    """

    name: str
    type_text: str
    nullable: bool = True
    comment: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    mask: str | None = None
    position: int = 0
    mask_using: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableInfo:
    """A registered table (UC `TableInfo` subset). `table_type`: MANAGED, EXTERNAL, VIEW, ..."""

    full_name: str
    owner: str
    comment: str | None = None
    table_type: str = "MANAGED"
    storage_location: str | None = None
    data_source_format: str = "DELTA"
    properties: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    columns: tuple[ColumnInfo, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def catalog_name(self) -> str:
        return parse_full_name(self.full_name)[0]

    @property
    def schema_name(self) -> str:
        return parse_full_name(self.full_name)[1]

    @property
    def name(self) -> str:
        return parse_full_name(self.full_name)[2]

    def column(self, name: str) -> ColumnInfo | None:
        """The column called `name` (case-insensitive), or None."""
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


@dataclass(frozen=True)
class Grant:
    """A privilege on a securable. `expires_at` None = no expiry (UC grants never expire).

    `expired` is computed by the adapter when listing (expired grants are reported, not hidden).
    """

    principal: str
    privilege: str
    securable_type: str
    securable_name: str
    granted_by: str | None = None
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    expired: bool = False

    def is_expired(self, at: datetime) -> bool:
        """True when the grant has an expiry at or before `at`."""
        return self.expires_at is not None and self.expires_at <= at


@dataclass(frozen=True)
class LineageEdge:
    """Data flowed from `source` to `target` (table full names), written by an entity run."""

    source: str
    target: str
    entity_type: str | None = None
    entity_id: str | None = None
    entity_run_id: str | None = None
    event_time: datetime | None = None


class Catalog(Protocol):
    """Tables, columns, tags and masks."""

    def list_tables(
        self, catalog: str | None = None, schema: str | None = None
    ) -> list[TableInfo]: ...

    def get_table(self, full_name: str) -> TableInfo:
        """Raise NotFound (listing the schema's tables) when absent."""
        ...

    def register_table(self, info: TableInfo) -> TableInfo:
        """Create or update a table; existing tags, masks and column comments are kept."""
        ...

    def update_table(
        self,
        full_name: str,
        *,
        owner: str | None = None,
        comment: str | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> TableInfo: ...

    def set_tags(
        self,
        full_name: str,
        tags: Mapping[str, str],
        *,
        column: str | None = None,
        merge: bool = True,
    ) -> TableInfo: ...

    def set_column(
        self,
        full_name: str,
        column: str,
        *,
        comment: str | None = None,
        mask: str | None = None,
        mask_using: Sequence[str] = (),
        clear_mask: bool = False,
    ) -> ColumnInfo: ...

    def drop_table(self, full_name: str) -> None: ...


class Grants(Protocol):
    """Privileges (SELECT, MODIFY, USE_SCHEMA, ALL_PRIVILEGES, ...) on securables."""

    def list_grants(
        self,
        securable_name: str | None = None,
        *,
        principal: str | None = None,
        include_expired: bool = True,
    ) -> list[Grant]: ...

    def grant(self, grant: Grant) -> Grant: ...

    def revoke(
        self, principal: str, privilege: str, securable_type: str, securable_name: str
    ) -> bool:
        """Remove a grant; True when one was removed."""
        ...


class Lineage(Protocol):
    """Table lineage edges."""

    def record(self, edge: LineageEdge) -> None: ...

    def edges(
        self,
        table: str | None = None,
        *,
        direction: Literal["upstream", "downstream", "both"] = "both",
    ) -> list[LineageEdge]: ...


@dataclass(frozen=True)
class FunctionDef:
    """A one-parameter SQL function (a column mask): `value PARAM_TYPE` → RETURNS `returns`."""

    full_name: str
    body: str
    param_type: str = "STRING"
    returns: str = "STRING"
    comment: str | None = None


def same_body(a: str, b: str) -> bool:
    """True when two SQL function bodies differ only in whitespace and letter case."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


class MaskFunctions(Protocol):
    """The SQL functions column masks call."""

    def get_function(self, full_name: str) -> FunctionDef | None:
        """The function called `full_name`, or None when there is none."""
        ...

    def create_function(self, fn: FunctionDef) -> FunctionDef:
        """Create it (the same body again: no-op); SafetyRefusal when one of that name exists
        with another body (never replaced)."""
        ...
