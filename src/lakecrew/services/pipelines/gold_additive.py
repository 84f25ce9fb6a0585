"""Gold models kept up to date from silver's changes: SUM and COUNT per group, maintained.

A model is *additive* when ``gold_groups.group_plan`` proves it decomposable by group, it has no
HAVING, and every aggregate it computes is ``SUM(x)`` or ``COUNT(*)``/``COUNT(x)`` (no DISTINCT,
no FILTER), anywhere in its SELECT or ORDER BY (``SUM(a) / NULLIF(SUM(b), 0)`` is fine: it is
computed from two maintained sums). Such a model keeps a *state* table: per group, its row count
and, per aggregate, its sum (or count) and, for a SUM, how many of its values were non-null
(SQL's SUM of only nulls is NULL, not 0). Then, with the rows silver lost and gained since the
version the state was made from (``TableStore.changes``: what a change data feed gives),

    state' = state + Σ(added) − Σ(removed)      (groups whose row count reaches 0 dropped)

and the gold table is the model's SELECT evaluated over state' (each aggregate replaced by its
maintained value) — the rows a full rebuild gives, without reading silver. Sums must be exact:
a SUM over floating-point values is refused at refresh time (the state says so), as are more
changed rows than ``MOST`` of silver (a rebuild is then as cheap).

A full build computes the state from silver with one query, then the table from the state, so
both ways give the same types. This is the incremental refresh Databricks' materialized views do
for aggregates; a state table is the price of a model whose groups can disappear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from lakecrew.services.pipelines.gold_groups import GroupPlan, group_plan
from lakecrew.services.pipelines.sqltext import DIALECT

ROWS = "__lc_rows"
SIGN = "__lc_sign"
CHANGES = "__lc_changes"
STATE = "__lc_state"


@dataclass(frozen=True)
class AdditivePlan:
    """An additive model: its tree, group columns (silver names), the distinct aggregates it
    computes and the silver columns it reads."""

    tree: exp.Select
    group: GroupPlan
    aggregates: tuple[exp.Expression, ...]
    columns: tuple[str, ...]

    def state_sql(self) -> str:
        """The state from silver: per group, its rows, each aggregate's value and non-nulls."""
        return self._grouped(self.tree, signed=False)

    def delta_sql(self) -> str:
        """The state's change from ``__lc_changes`` (silver rows, ``__lc_sign`` +1 added and
        −1 removed)."""
        return self._grouped(_reading(self.tree.copy(), CHANGES), signed=True)

    def final_sql(self) -> str:
        """The model's rows from ``__lc_state`` (one row per group)."""
        tree = _reading(self.tree.copy(), STATE)
        for node in _aggregates(tree):
            node.replace(_maintained(node, self._slot(node)))
        tree.set("where", None)
        tree.set("group", None)
        return tree.sql(dialect=DIALECT)

    def value_columns(self) -> list[str]:
        names = [ROWS]
        for i, node in enumerate(self.aggregates):
            names.append(f"__lc_v{i}")
            if isinstance(node, exp.Sum):
                names.append(f"__lc_n{i}")
        return names

    def _slot(self, node: exp.Expression) -> int:
        key = node.sql(dialect=DIALECT)
        return next(i for i, a in enumerate(self.aggregates) if a.sql(dialect=DIALECT) == key)

    def _grouped(self, tree: exp.Select, *, signed: bool) -> str:
        group = [exp.column(c, quoted=True) for c in self.group.group_columns]
        sign = exp.column(SIGN, quoted=True)
        items: list[Any] = [*group]
        rows = exp.Sum(this=sign) if signed else exp.Count(this=exp.Star())
        items.append(exp.alias_(rows, ROWS, quoted=True))
        for i, node in enumerate(self.aggregates):
            arg = node.this
            if isinstance(node, exp.Count) and isinstance(arg, exp.Star):
                value: exp.Expression = exp.Sum(this=sign) if signed else exp.Count(this=exp.Star())
            elif isinstance(node, exp.Count):
                value = _signed_count(arg, sign) if signed else exp.Count(this=arg.copy())
            else:
                value = (
                    exp.Sum(this=exp.Mul(this=exp.Paren(this=arg.copy()), expression=sign))
                    if signed
                    else exp.Sum(this=arg.copy())
                )
            items.append(exp.alias_(value, f"__lc_v{i}", quoted=True))
            if isinstance(node, exp.Sum):
                nonnull = _signed_count(arg, sign) if signed else exp.Count(this=arg.copy())
                items.append(exp.alias_(nonnull, f"__lc_n{i}", quoted=True))
        out = tree.copy()
        out.set("expressions", items)
        out.set("order", None)
        out.set("group", exp.Group(expressions=[g.copy() for g in group]))
        return out.sql(dialect=DIALECT)


def _reading(tree: exp.Select, name: str) -> exp.Select:
    """``tree`` reading table ``name`` under the alias (or name) its one table had."""
    table = tree.find(exp.Table)
    assert table is not None  # group_plan proved one table
    alias = exp.TableAlias(this=exp.to_identifier(table.alias_or_name))
    table.replace(exp.Table(this=exp.to_identifier(name), alias=alias))
    return tree


def _signed_count(arg: exp.Expression, sign: exp.Expression) -> exp.Expression:
    case = exp.Case(
        ifs=[
            exp.If(
                this=exp.Not(this=exp.Is(this=exp.Paren(this=arg.copy()), expression=exp.Null())),
                true=sign.copy(),
            )
        ],
        default=exp.Literal.number(0),
    )
    return exp.Sum(this=case)


def _maintained(node: exp.Expression, slot: int) -> exp.Expression:
    value = exp.column(f"__lc_v{slot}", quoted=True)
    if isinstance(node, exp.Sum):
        nonnull = exp.column(f"__lc_n{slot}", quoted=True)
        positive = exp.GT(this=nonnull, expression=exp.Literal.number(0))
        return exp.Case(ifs=[exp.If(this=positive, true=value)])
    return value


def _aggregates(tree: exp.Expression) -> list[Any]:
    return [n for n in tree.walk() if isinstance(n, exp.AggFunc)]


def additive_plan(sql: str, silver: str, silver_columns: list[str]) -> AdditivePlan | str:
    """The model's ``AdditivePlan``, or why it is not additive (one line)."""
    group = group_plan(sql, silver, silver_columns)
    if isinstance(group, str):
        return group
    tree = sqlglot.parse_one(sql, read=DIALECT)
    assert isinstance(tree, exp.Select)  # group_plan proved it
    if tree.args.get("having"):
        return "it uses HAVING"
    found = _sums_and_counts(tree)
    if isinstance(found, str):
        return found
    for item in tree.expressions:
        if not isinstance(item, exp.Alias | exp.Column):
            return f"{item.sql(dialect=DIALECT)[:40]} has no alias (its name is the engine's)"
    read = _read_columns(tree, silver_columns)
    if isinstance(read, str):
        return read
    return AdditivePlan(tree, group, found, read)


def _sums_and_counts(tree: exp.Select) -> tuple[exp.Expression, ...] | str:
    """The distinct aggregates of the SELECT and ORDER BY, or why one does not add up."""
    if any(isinstance(n, exp.Filter) for n in tree.walk()):
        return "an aggregate has a FILTER clause"
    found: dict[str, exp.Expression] = {}
    for part in [*tree.expressions, *(tree.args.get("order") or exp.Order()).expressions]:
        for node in _aggregates(part):
            if not isinstance(node, exp.Sum | exp.Count):
                return f"it computes {type(node).__name__.upper()} (only SUM and COUNT add up)"
            if isinstance(node.this, exp.Distinct):
                return f"it computes {type(node).__name__.upper()}(DISTINCT ...)"
            if any(isinstance(n, exp.AggFunc) for n in node.this.walk()):
                return "an aggregate nests another"
            found.setdefault(node.sql(dialect=DIALECT), node.copy())
    return tuple(found.values())


def _read_columns(tree: exp.Select, silver_columns: list[str]) -> tuple[str, ...] | str:
    """The silver columns the model reads (silver's spelling), or the one it names but
    silver lacks (an ORDER BY may name the SELECT's aliases)."""
    known = {c.lower(): c for c in silver_columns}
    read: list[str] = []
    for column in tree.find_all(exp.Column):
        name = known.get(column.name.lower())
        if name is None:
            if _is_output(tree, column):
                continue
            return f"column {column.name} is not a silver column"
        read.append(name)
    return tuple(dict.fromkeys(read))


def _is_output(tree: exp.Select, column: exp.Column) -> bool:
    """An ORDER BY naming one of the SELECT's aliases."""
    order = tree.args.get("order")
    aliases = {s.alias.lower() for s in tree.expressions if s.alias}
    return (
        order is not None
        and column.find_ancestor(exp.Order) is order
        and (column.name.lower() in aliases)
    )


def inexact(state: pa.Schema) -> str | None:
    """Why a state's sums cannot be maintained exactly (a floating-point sum), or None."""
    for field in state:
        if field.name.startswith("__lc_v") and pa.types.is_floating(field.type):
            return "a SUM over floating-point values (not exact when maintained)"
    return None


def merged(plan: AdditivePlan, state: pa.Table, delta: pa.Table) -> pa.Table:
    """``state`` plus ``delta`` per group (null group values equal), groups left with no row
    dropped, cast back to the state's types."""
    keys = list(plan.group.group_columns)
    values = plan.value_columns()
    both = pa.concat_tables(
        [
            state.select([*keys, *values]),
            delta.select([*keys, *values]).cast(state.select([*keys, *values]).schema),
        ]
    )
    summed = both.group_by(keys, use_threads=False).aggregate(
        [(v, "sum", pc.ScalarAggregateOptions(skip_nulls=True, min_count=0)) for v in values]
    )
    summed = summed.rename_columns([_unsuffixed(n) for n in summed.column_names])
    summed = summed.filter(pc.greater(summed.column(ROWS), 0))
    return summed.select(state.column_names).cast(state.schema)


def _unsuffixed(name: str) -> str:
    return name[: -len("_sum")] if name.endswith("_sum") else name
