"""Schema evolution check (SOP 1.6.2): additive changes pass, breaking changes fail the run.

- additive: new nullable columns, and type widening (int32→int64, float32→float64,
  int→double, date→timestamp); recorded by the caller as a new schema version;
- breaking: a removed column, any other type change, a new non-nullable column, a nullable column
  that became non-nullable. Breaking changes raise SchemaMismatch naming the table and the
  columns, unless every breaking column is listed in ``approved`` (from the pipeline spec).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from lakecrew.core.errors import SchemaMismatch

Kind = Literal["none", "additive", "breaking"]

_WIDENING = {
    (pa.int8(), pa.int16()), (pa.int8(), pa.int32()), (pa.int8(), pa.int64()),
    (pa.int16(), pa.int32()), (pa.int16(), pa.int64()), (pa.int32(), pa.int64()),
    (pa.float32(), pa.float64()), (pa.int32(), pa.float64()), (pa.int16(), pa.float64()),
    (pa.int8(), pa.float64()), (pa.date32(), pa.timestamp("us", tz="UTC")),
}  # fmt: skip


@dataclass(frozen=True)
class SchemaChange:
    """What changed between the table's schema and the incoming one."""

    table: str
    kind: Kind
    added: tuple[str, ...] = ()
    widened: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def breaking_columns(self) -> tuple[str, ...]:
        """Columns whose change breaks readers."""
        return (*self.removed, *self.changed)

    def message(self) -> str:
        """One line naming the table and the columns (never any data)."""
        parts = [
            f"{label}: {', '.join(cols)}"
            for label, cols in (
                ("added", self.added),
                ("widened", self.widened),
                ("removed", self.removed),
                ("type or nullability changed", self.changed),
            )
            if cols
        ]
        return f"{self.kind} schema change of {self.table}" + (
            f" ({'; '.join(parts)})" if parts else ""
        )


def compare_schemas(table: str, current: pa.Schema | None, incoming: pa.Schema) -> SchemaChange:
    """Classify the change from ``current`` (None for a new table) to ``incoming``."""
    if current is None:
        return SchemaChange(table, "additive", added=tuple(incoming.names))
    added: list[str] = []
    widened: list[str] = []
    changed: list[str] = []
    old = {f.name: f for f in current}
    new = {f.name: f for f in incoming}
    removed = [n for n in old if n not in new]
    for name, field in new.items():
        before = old.get(name)
        if before is None:
            (added if field.nullable else changed).append(name)
        elif before.type != field.type:
            (widened if (before.type, field.type) in _WIDENING else changed).append(name)
        elif before.nullable and not field.nullable:
            changed.append(name)
    kind: Kind = "breaking" if removed or changed else ("additive" if added or widened else "none")
    return SchemaChange(table, kind, tuple(added), tuple(widened), tuple(removed), tuple(changed))


def check_evolution(
    table: str, current: pa.Schema | None, incoming: pa.Schema, approved: Iterable[str] = ()
) -> SchemaChange:
    """``compare_schemas``, raising SchemaMismatch for unapproved breaking changes."""
    change = compare_schemas(table, current, incoming)
    unapproved = [c for c in change.breaking_columns if c not in set(approved)]
    if change.kind == "breaking" and unapproved:
        raise SchemaMismatch(
            change.message(),
            where=table,
            fix=(
                f"restore column(s) {', '.join(unapproved)} in the source, or approve the change "
                "in the spec (silver.schema.approved_breaking_changes) after review"
            ),
        )
    return change
