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
