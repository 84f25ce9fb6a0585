"""Spark SQL text of pipeline specs: syntax check and catalog qualification with sqlglot.

Specs write SQL in Spark SQL (the Databricks dialect) with two-part ``schema.table`` names; the
runner calls ``qualify_sql`` to add the environment's catalog, then hands the Spark SQL to the
SqlEngine port (the local engine translates it to DuckDB itself).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from lakecrew.core.errors import ConfigError

DIALECT = "databricks"


def check_spark_sql(sql: str) -> str | None:
    """None when ``sql`` is one Spark SQL query, else a one-line reason (no SQL echoed)."""
    try:
        parsed = sqlglot.parse(sql, read=DIALECT)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line = first.get("line")
        return f"syntax error near line {line} of the SQL" if line else "syntax error"
    statements = [p for p in parsed if p is not None]
    if len(statements) != 1:
        return f"expected one statement, found {len(statements)}"
    if not isinstance(statements[0], exp.Query):
        return "expected a SELECT query"
    return None


def qualify_sql(sql: str, catalog: str) -> str:
    """Prefix every ``schema.table`` reference with ``catalog`` (CTE names are left alone)."""
    problem = check_spark_sql(sql)
    if problem:
        raise ConfigError(f"invalid Spark SQL: {problem}", fix="fix the SQL in the spec")
    tree = sqlglot.parse_one(sql, read=DIALECT)
    for table in tree.find_all(exp.Table):
        if table.args.get("db") is not None and table.args.get("catalog") is None:
            table.set("catalog", exp.to_identifier(catalog))
    return tree.sql(dialect=DIALECT)


def referenced_tables(sql: str) -> list[str]:
    """``schema.table`` names a query reads (for lineage and ordering of gold models)."""
    tree = sqlglot.parse_one(sql, read=DIALECT)
    names = {f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db}
    return sorted(names)


SILVER_INPUT = "bronze"
"""The name ``silver.sql`` gives the current bronze batch."""
RESERVED_PREFIX = "__lc_"
"""Column names the runner keeps for itself (row identity while silver.sql runs)."""
_CLAUSES = {
    "where": "WHERE", "group": "GROUP BY", "having": "HAVING", "qualify": "QUALIFY",
    "limit": "LIMIT", "offset": "OFFSET", "distinct": "DISTINCT", "joins": "JOIN",
    "laterals": "LATERAL VIEW", "with_": "WITH", "sample": "TABLESAMPLE", "pivots": "PIVOT",
}  # fmt: skip
_ALLOWED_CLAUSES = {"expressions", "from_", "order", "hint", "sort", "cluster", "distribute"}
_GENERATORS = (exp.Explode, exp.Posexplode, exp.Inline, exp.Unnest)
_GENERATOR_NAMES = {"stack", "inline_outer", "explode_outer", "posexplode_outer"}


def check_silver_sql(sql: str, protected: tuple[str, ...] = ()) -> str | None:
    """None when ``sql`` is a row-preserving Spark SQL SELECT over ``bronze``, else why not.

    Row-preserving: one SELECT list over ``FROM bronze [alias]`` (ORDER BY allowed), with scalar
    expressions and window functions only — no WHERE, GROUP BY, DISTINCT, JOIN, LIMIT, set
    operations, CTEs, subqueries, aggregates or generators (explode, ...). ``protected`` columns
    (bronze metadata) may be selected as they are but not computed under their name.
    """
    problem = check_spark_sql(sql)
    if problem:
        return f"does not parse as Spark SQL: {problem}"
    tree = sqlglot.parse_one(sql, read=DIALECT)
    if not isinstance(tree, exp.Select):
        return "expected one SELECT (no UNION, INTERSECT or EXCEPT)"
    used = [k for k, v in tree.args.items() if v and k not in _ALLOWED_CLAUSES]
    if used:
        clause = _CLAUSES.get(used[0], used[0].upper())
        return f"{clause} is not allowed: silver.sql must keep every bronze row"
    source = _silver_source(tree)
    if source is None:
        return f"expected FROM {SILVER_INPUT} (the current bronze batch), nothing else"
    if len(list(tree.find_all(exp.Select))) > 1:
        return "subqueries are not allowed in silver.sql"
    if any(t is not source for t in tree.find_all(exp.Table)):
        return f"silver.sql may read only {SILVER_INPUT}"
    for agg in tree.find_all(exp.AggFunc):
        if agg.find_ancestor(exp.Window) is None:
            return f"aggregate {agg.sql(DIALECT)[:40]} collapses rows: use a window (OVER ...)"
    for func in tree.find_all(exp.Func):
        name = func.name.lower() if isinstance(func, exp.Anonymous) else ""
        if isinstance(func, _GENERATORS) or name in _GENERATOR_NAMES:
            return "generators (explode, inline, stack) change the row count"
    return _check_outputs(tree, {p.lower() for p in protected})


def _silver_source(tree: exp.Select) -> exp.Table | None:
    clause = tree.args.get("from_")
    table = clause.this if isinstance(clause, exp.From) else None
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        return None
    if table.db or table.catalog or table.name.lower() != SILVER_INPUT:
        return None
    return table


def _check_outputs(tree: exp.Select, protected: set[str]) -> str | None:
    seen: set[str] = set()
    for item in tree.expressions:
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and item.is_star):
            continue
        name = item.alias_or_name
        low = name.lower()
        if low.startswith(RESERVED_PREFIX):
            return f"column names starting with {RESERVED_PREFIX} are reserved"
        if low in protected and not (isinstance(item, exp.Column) and item.name.lower() == low):
            return f"{name} is bronze metadata: select it as is, not computed"
        if low in seen:
            return f"column {name} is selected twice"
        seen.add(low)
    return None


def with_row_id(sql: str, column: str) -> str:
    """``sql`` (checked by ``check_silver_sql``) with ``<bronze alias>.<column>`` selected last."""
    tree = sqlglot.parse_one(sql, read=DIALECT)
    assert isinstance(tree, exp.Select)
    source = _silver_source(tree)
    assert source is not None
    ref = exp.column(exp.to_identifier(column, quoted=True), table=source.alias_or_name)
    tree.set("expressions", [*tree.expressions, exp.alias_(ref, column, quoted=True)])
    return tree.sql(dialect=DIALECT)


def inline_tables(sql: str, names: dict[str, str]) -> str:
    """Point ``schema.table`` references at single-part names (``{"silver.cases": "x"}``).

    Each replaced table keeps its name as alias (``silver.cases`` → ``x AS cases``) so column
    references qualified by the table name still resolve; other references are left alone.
    """
    tree = sqlglot.parse_one(sql, read="databricks")
    for table in list(tree.find_all(exp.Table)):
        key = f"{table.db}.{table.name}".lower() if table.db else ""
        if key not in names:
            continue
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        table.set("catalog", None)
        table.set("db", None)
        table.set("this", exp.to_identifier(names[key]))
        table.set("alias", alias)
    return tree.sql(dialect="databricks")
