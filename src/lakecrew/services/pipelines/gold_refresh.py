"""Refresh one gold model by group: only the groups a run's silver changes touched.

For a model ``gold_groups.group_plan`` proved decomposable, and a gold table made from the
silver version this run began from with the same SQL (the batch log's ``gold`` rows say so),
the groups whose silver rows changed (old and new values, ``ChangedGroups``) are turned into a
predicate ``P`` over the group columns: per column, its changed values (``c IN (...)``, plus
``c IS NULL`` when null is one). ``P`` selects whole groups (it reads group columns only), so the
model's SQL with ``AND P`` added to its WHERE recomputes exactly the groups ``P`` admits, and
the gold rows whose output columns satisfy ``P`` are exactly the old rows of those groups: the
new table is the gold rows outside ``P`` plus the recomputed rows — what a full rebuild gives.
``P`` may admit more groups than changed (the product of per-column values): recomputing an
unchanged group is harmless. When ``P`` admits over half of the gold rows, or a group value
has a type without an exact SQL literal (float, timestamp, nested), the caller rebuilds in full.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from lakecrew.services.pipelines.gold_groups import MOST, GroupPlan
from lakecrew.services.pipelines.sqltext import DIALECT
from lakecrew.services.pipelines.steps import RunnerDeps


@dataclass(frozen=True)
class ByGroup:
    """The new gold table and how much of it was recomputed."""

    table: pa.Table
    recomputed: int
    kept: int


def refresh_by_group(
    deps: RunnerDeps, sql: str, gold: str, plan: GroupPlan, changed: pa.Table
) -> ByGroup | str:
    """The model's new table from ``changed`` (distinct group values, silver names), or why
    it has to be rebuilt in full."""
    current = deps.tables.read(gold)
    missing = [o for o in plan.output_columns if o not in current.column_names]
    if missing:
        return f"the table has no column {missing[0]}"
    terms: list[exp.Expression] = []
    inside = pa.array([True] * current.num_rows, pa.bool_())
    for column, output in zip(plan.group_columns, plan.output_columns, strict=True):
        values = changed.column(column)
        term = _sql_term(column, values)
        if term is None:
            return f"group column {column} is {values.type}: no exact SQL literal"
        terms.append(term)
        inside = pc.and_(inside, _held(current.column(output), values))
    hit = int(pc.sum(inside).as_py() or 0)
    if current.num_rows and hit > MOST * current.num_rows:
        return f"{hit} of {current.num_rows} rows in changed groups"
    tree = sqlglot.parse_one(sql, read=DIALECT)
    assert isinstance(tree, exp.Select)  # group_plan proved it
    recomputed = deps.sql.fetch_arrow(tree.where(exp.and_(*terms)).sql(dialect=DIALECT))
    shape = [(f.name, f.type) for f in current.schema]
    if [(f.name, f.type) for f in recomputed.schema] != shape:
        return "the recomputed rows' columns differ from the table's"
    kept = current.filter(pc.invert(inside))
    table = pa.concat_tables([kept, recomputed.cast(current.schema)])
    return ByGroup(table, recomputed.num_rows, kept.num_rows)


def _sql_term(column: str, values: pa.ChunkedArray) -> exp.Expression | None:
    """``column IN (...)`` [``OR column IS NULL``] for ``values``; None: no exact literal."""
    ref = exp.column(column, quoted=True)
    literals = []
    for value in pc.unique(values.drop_null()).to_pylist():
        literal = _literal(value, values.type)
        if literal is None:
            return None
        literals.append(literal)
    parts: list[exp.Expression] = []
    if literals:
        parts.append(exp.In(this=ref.copy(), expressions=literals))
    if values.null_count:
        parts.append(exp.Is(this=ref.copy(), expression=exp.Null()))
    if not parts:
        return exp.false()
    return exp.Paren(this=exp.or_(*parts)) if len(parts) > 1 else parts[0]


def _literal(value: object, type_: pa.DataType) -> exp.Expression | None:
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return exp.Literal.string(str(value))
    if pa.types.is_boolean(type_):
        return exp.Boolean(this=bool(value))
    if pa.types.is_integer(type_) or pa.types.is_decimal(type_):
        return exp.Literal.number(str(value))
    if pa.types.is_date(type_):
        return exp.cast(exp.Literal.string(str(value)), exp.DataType.Type.DATE)
    return None


def _held(column: pa.ChunkedArray, values: pa.ChunkedArray) -> pa.Array:
    """Per gold row: its value is one of ``values`` (null when a null is among them)."""
    present = pc.unique(values.drop_null()).cast(column.type)
    hit = pc.is_in(column, value_set=present)
    if values.null_count:
        hit = pc.or_(hit, pc.is_null(column))
    return pc.fill_null(hit, False)
