"""Build or maintain one additive gold model through its state table (gold_additive.py).

The state of gold table ``c.s.t`` is ``lakecrew.pipelines.gold_state__c__s__t``: lakecrew's own
record, beside the batch log, never a table of the pipeline's catalog. The state is written
first, then the gold table, then, in one batch-log commit, both markers (the silver version and
model sha256 each was made from; the state's is the row whose ``batch_id`` is the state table's
name). A run maintains a model only when both markers name the silver version it began from, so
a crash anywhere before that commit leaves the old markers and the next run rebuilds in full.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.ports.tables import RowChanges
from lakecrew.services.pipelines.gold_additive import (
    CHANGES,
    SIGN,
    STATE,
    AdditivePlan,
    inexact,
    merged,
)
from lakecrew.services.pipelines.gold_groups import MOST
from lakecrew.services.pipelines.sqltext import qualify_sql
from lakecrew.services.pipelines.steps import RunnerDeps

STATE_SCHEMA = "lakecrew.pipelines"
FLOOR = 100_000
"""Changed rows always worth maintaining from (below it either way costs little, and the
maintained path is the one exercised by small tables too)."""


def state_table(gold: str) -> str:
    """The state table of gold table ``gold`` (a full name)."""
    return f"{STATE_SCHEMA}.gold_state__" + re.sub(r"[^0-9A-Za-z_]", "_", gold.replace(".", "__"))


def store_tells(deps: RunnerDeps, silver: str) -> bool:
    """Whether the table store can tell silver's row changes at all (the local Delta store
    can; stores that keep no change record this code reads say why not)."""
    version = deps.tables.version(silver)
    if version is None:
        return False
    return isinstance(deps.tables.changes(silver, version, [], 0), RowChanges)


@dataclass(frozen=True)
class Made:
    """A model's new state and rows (None: unchanged), and how they were made (the notes)."""

    state: pa.Table
    table: pa.Table | None
    how: str


def build(deps: RunnerDeps, plan: AdditivePlan, catalog: str) -> Made:
    """From silver: the state in one query, then the model's rows from the state."""
    state = deps.sql.fetch_arrow(qualify_sql(plan.state_sql(), catalog))
    return Made(state, deps.sql.query_tables(plan.final_sql(), {STATE: state}), "")


class SilverChanges:
    """Silver's rows changed since version ``since`` (the columns every additive model of the
    run reads), read from the table store once, on first use, as one table signed +1 for a
    row added and −1 for a row removed; or why they cannot be told."""

    def __init__(self, deps: RunnerDeps, silver: str, since: int, columns: Sequence[str]):
        self.deps, self.silver, self.since, self.columns = deps, silver, since, list(columns)
        self._found: pa.Table | str | None = None

    def signed(self) -> pa.Table | str:
        if self._found is None:
            self._found = self._read()
        return self._found

    def _read(self) -> pa.Table | str:
        rows = self.deps.tables.count(self.silver)
        limit = max(int(MOST * rows), FLOOR)
        found = self.deps.tables.changes(self.silver, self.since, self.columns, limit)
        if isinstance(found, str):
            return found
        removed, added = found.removed.num_rows, found.added.num_rows
        return pa.concat_tables(
            [
                found.removed.append_column(SIGN, pa.array(np.full(removed, -1, np.int64))),
                found.added.append_column(SIGN, pa.array(np.ones(added, np.int64))),
            ],
            promote_options="permissive",
        )


def maintain(deps: RunnerDeps, plan: AdditivePlan, gold: str, changes: SilverChanges) -> Made | str:
    """From silver's changed rows and the state made from the version they start at; or why
    the model has to be rebuilt in full (one line)."""
    current = deps.tables.schema(gold)
    if current is None:
        return "the table does not exist"
    state = deps.tables.read(state_table(gold))
    why = inexact(state.schema)
    if why is not None:
        return why
    signed = changes.signed()
    if isinstance(signed, str):
        return signed
    if not signed.num_rows:
        return Made(state, None, "unchanged (no silver row changed)")
    delta = deps.sql.query_tables(plan.delta_sql(), {CHANGES: signed})
    new_state = merged(plan, state, delta)
    table = deps.sql.query_tables(plan.final_sql(), {STATE: new_state})
    if [f.name for f in table.schema] != current.names:
        return "the maintained rows' columns differ from the table's"
    sign = signed.column(SIGN)
    added = int(pc.sum(pc.greater(sign, 0)).as_py() or 0)
    how = (
        f"maintained from silver's changes ({signed.num_rows - added} rows removed, {added} added)"
    )
    return Made(new_state, table.cast(current), how)


def save_state(deps: RunnerDeps, gold: str, state: pa.Table) -> None:
    """Replace the state table (created, or its schema overwritten, as ``state`` needs)."""
    name = state_table(gold)
    current = deps.tables.schema(name)
    if current is None:
        deps.tables.create(name, state.schema)
    deps.tables.replace(
        name, state, overwrite_schema=current is not None and current != state.schema
    )
