"""Read-only catalog statements answered from the metastore: DESCRIBE, SHOW TABLES/SCHEMAS/CATALOGS.

They never reach DuckDB (which would not parse Databricks' forms) and need no write access.
Result columns follow Databricks: DESCRIBE gives `col_name, data_type, comment`; SHOW TABLES
`database, tableName, isTemporary`; SHOW SCHEMAS `databaseName`; SHOW CATALOGS `catalog`.
"""

from __future__ import annotations

import re

import pyarrow as pa
from sqlglot import exp

from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.core.errors import UsageError

_SHOW = re.compile(
    r"^\s*(?P<what>TABLES|SCHEMAS|DATABASES|CATALOGS)"
    r"(?:\s+(?:IN|FROM)\s+(?P<scope>[`\w.]+))?\s*;?\s*$",
    re.IGNORECASE,
)


def is_catalog_statement(tree: exp.Expr) -> bool:
    return isinstance(tree, exp.Describe) or (
        isinstance(tree, exp.Command) and str(tree.this).upper() == "SHOW"
    )


def answer(tree: exp.Expr, metastore: SqliteMetastore, default_catalog: str | None) -> pa.Table:
    """The rows of one DESCRIBE / SHOW statement (UsageError for other forms)."""
    if isinstance(tree, exp.Describe):
        return _describe(tree, metastore, default_catalog)
    text = tree.expression.name if isinstance(tree.expression, exp.Literal) else ""
    m = _SHOW.match(text)
    if m is None:
        raise UsageError(
            f"SHOW {text[:60]} is not supported locally",
            where="sql",
            fix="use SHOW TABLES [IN catalog.schema], SHOW SCHEMAS [IN catalog], SHOW CATALOGS",
        )
    what = m["what"].upper()
    scope = [p.strip("`").lower() for p in (m["scope"] or "").split(".") if p]
    if what == "CATALOGS":
        return pa.table({"catalog": pa.array(metastore.list_catalogs(), pa.string())})
    if what in ("SCHEMAS", "DATABASES"):
        cat = scope[0] if scope else default_catalog
        names = [s.split(".", 1)[1] for s in metastore.list_schemas(cat)]
        return pa.table({"databaseName": pa.array(names, pa.string())})
    cat, sch = _schema_scope(scope, default_catalog)
    names = metastore.table_names(cat, sch)
    return pa.table(
        {
            "database": pa.array([n.split(".")[1] for n in names], pa.string()),
            "tableName": pa.array([n.split(".")[2] for n in names], pa.string()),
            "isTemporary": pa.array([False] * len(names), pa.bool_()),
        }
    )


def _schema_scope(scope: list[str], default_catalog: str | None) -> tuple[str | None, str | None]:
    if len(scope) == 2:
        return scope[0], scope[1]
    if len(scope) == 1:
        return default_catalog, scope[0]
    if default_catalog is None:
        return None, None
    return default_catalog, None


def _describe(
    tree: exp.Describe, metastore: SqliteMetastore, default_catalog: str | None
) -> pa.Table:
    table = tree.this
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise UsageError("only DESCRIBE [TABLE] catalog.schema.table is supported", where="sql")
    cat = table.catalog or default_catalog
    if not cat or not table.db:
        raise UsageError(
            f"table {table.name!r} needs a three-part name", where="sql", fix="catalog.schema.table"
        )
    info = metastore.get_table(f"{cat}.{table.db}.{table.name}")
    return pa.table(
        {
            "col_name": pa.array([c.name for c in info.columns], pa.string()),
            "data_type": pa.array([c.type_text for c in info.columns], pa.string()),
            "comment": pa.array([c.comment for c in info.columns], pa.string()),
        }
    )
