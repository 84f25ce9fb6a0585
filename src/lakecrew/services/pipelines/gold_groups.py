"""Which gold models can be refreshed group by group, proved from their SQL with sqlglot.

A gold model is *decomposable by group* when each of its rows depends only on the silver rows of
one group: one SELECT over silver alone (no join, subquery, CTE, set operation, window function,
DISTINCT, LIMIT/OFFSET, QUALIFY, sampling, generator, non-deterministic or unknown function),
GROUP BY plain silver columns (names or SELECT ordinals; no ROLLUP/CUBE/GROUPING SETS), and each
group column output as itself (``state`` or ``state AS s``), so the output columns name the group
of a gold row. WHERE and HAVING are allowed (they judge one row, one group). Then, when a run
changes some silver rows, only the groups of those rows (their old and new values) can change:
recomputing exactly those groups from silver and replacing their gold rows gives the table a
full rebuild would (``gold_step``). Anything else is rebuilt in full, with the reason recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import sqlglot
from sqlglot import exp

from lakecrew.services.pipelines.sqltext import DIALECT

_REFUSED_CLAUSES = {
    "joins": "a JOIN", "laterals": "a LATERAL VIEW", "with_": "a CTE", "limit": "LIMIT",
    "offset": "OFFSET", "distinct": "DISTINCT", "qualify": "QUALIFY", "sample": "TABLESAMPLE",
    "pivots": "PIVOT",
}  # fmt: skip
_VOLATILE = (
    exp.Rand, exp.Randn, exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime,
    exp.CurrentDatetime, exp.CurrentUser, exp.Uuid, exp.Anonymous,
)  # fmt: skip
_NESTED = (exp.Subquery, exp.Union, exp.Intersect, exp.Except, exp.Window, exp.Explode)


@dataclass(frozen=True)
class GroupPlan:
    """How to refresh one gold model by group: silver's group columns and their output names."""

    group_columns: tuple[str, ...]
    output_columns: tuple[str, ...]


def group_plan(sql: str, silver: str, silver_columns: list[str]) -> GroupPlan | str:
    """The model's ``GroupPlan``, or why it cannot be refreshed by group (one line).

    ``sql`` is the model's qualified Spark SQL, ``silver`` silver's full name and
    ``silver_columns`` its column names.
    """
    try:
        tree = sqlglot.parse_one(sql, read=DIALECT)
    except sqlglot.errors.ParseError:
        return "the SQL does not parse"
    if not isinstance(tree, exp.Select):
        return "not a single SELECT"
    for key, what in _REFUSED_CLAUSES.items():
        if tree.args.get(key):
            return f"it uses {what}"
    tables = list(tree.find_all(exp.Table))
    if len(tables) != 1 or _name(tables[0]) != silver.lower():
        return "it reads a table other than silver (or silver twice)"
    for node in tree.walk():
        if isinstance(node, _NESTED) or (isinstance(node, exp.Select) and node is not tree):
            return f"it uses {type(node).__name__.lower()}"
        if isinstance(node, _VOLATILE):
            return f"it calls {node.sql(dialect=DIALECT)[:40]} (not provably deterministic)"
    group = tree.args.get("group")
    if group is not None and any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets")):
        return "GROUP BY with ROLLUP, CUBE or GROUPING SETS"
    if group is None or not group.expressions or group.args.get("totals"):
        return "no plain GROUP BY"
    return _columns(tree, group.expressions, {c.lower(): c for c in silver_columns})


def _columns(
    tree: exp.Select, grouped: list[exp.Expression], silver: dict[str, str]
) -> GroupPlan | str:
    selected = tree.expressions
    columns: list[str] = []
    for grouped_by in grouped:
        item = grouped_by
        if isinstance(item, exp.Literal) and item.is_int:
            at = int(item.this) - 1
            if not 0 <= at < len(selected):
                return f"GROUP BY {item.this} is not a SELECT position"
            item = selected[at].unalias()
        if not isinstance(item, exp.Column) or item.name.lower() not in silver:
            return f"GROUP BY {item.sql(dialect=DIALECT)[:40]} is not a silver column"
        columns.append(silver[item.name.lower()])
    outputs: list[str] = []
    for column in columns:
        found = [s.alias_or_name for s in selected if _is_column(s.unalias(), column)]
        if not found:
            return f"group column {column} is not in the SELECT list as itself"
        outputs.append(found[0])
    if len({c.lower() for c in columns}) != len(columns):
        return "a group column is repeated"
    return GroupPlan(tuple(columns), tuple(outputs))


def _is_column(node: exp.Expression, column: str) -> bool:
    return isinstance(node, exp.Column) and node.name.lower() == column.lower()


def _name(table: exp.Table) -> str:
    return ".".join(p for p in (table.catalog, table.db, table.name) if p).lower()


MOST = 0.5
"""Above this share of a gold table's rows to recompute, a full rebuild is as cheap."""


@dataclass
class ChangedGroups:
    """The group-column values of the silver rows a run changed (their values before and
    after), or why every group may have changed (``everything``: a full refresh, a schema
    change, a replaced file version).

    ``plans`` are the gold tables refreshed by group and ``gold_rows`` their sizes. A table
    whose changed groups already number over ``MOST`` of its rows is given up (rebuilt in full):
    its group columns are no longer recorded, so silver's lookup of the rows a batch replaces
    reads no more columns than it needs (when every batch touches every group, tracking them
    would only cost).
    """

    plans: dict[str, GroupPlan] = field(default_factory=dict)
    gold_rows: dict[str, int] = field(default_factory=dict)
    tables: list[pa.Table] = field(default_factory=list)
    unknown: str | None = None
    given_up: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """The silver columns still worth recording."""
        if self.unknown is not None:
            return ()
        found = [
            c for t, p in self.plans.items() if t not in self.given_up for c in p.group_columns
        ]
        return tuple(dict.fromkeys(found))

    def add(self, rows: pa.Table | None) -> None:
        """Record the distinct group values of ``rows`` (old or new versions of silver rows)."""
        names = list(self.columns)
        if rows is None or not names or not rows.num_rows:
            return
        missing = [c for c in names if c not in rows.column_names]
        if missing:
            self.everything(f"silver rows without column {missing[0]}")
            return
        self.tables.append(rows.select(names).group_by(names).aggregate([]))
        for table, plan in self.plans.items():
            if table in self.given_up:
                continue
            changed = self.distinct(plan.group_columns)
            n, held = (changed.num_rows if changed is not None else 0), self.gold_rows.get(table, 0)
            if n > MOST * held:
                self.given_up[table] = f"{n} changed groups, over half of its {held} rows"

    def everything(self, why: str) -> None:
        if self.unknown is None:
            self.unknown = why
            self.tables = []

    def distinct(self, columns: tuple[str, ...]) -> pa.Table | None:
        """Distinct values of ``columns`` over what was recorded (None: nothing recorded)."""
        names = list(columns)
        tables = [t.select(names) for t in self.tables if set(names) <= set(t.column_names)]
        if not tables:
            return None
        both = pa.concat_tables(tables, promote_options="permissive")
        return both.group_by(names).aggregate([])
