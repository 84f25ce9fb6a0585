"""Databricks SQL → DuckDB SQL, done once per statement text with sqlglot.

- Three-part names (`system.billing.usage`, `main.sales.orders`,
  `main.information_schema.tables`) become quoted single names registered per query
  (DuckDB reserves catalog `system` and schema `information_schema`); the original table name
  stays as alias, so `usage.col` still resolves.
- Names resolve by construction: every CTE is renamed to a generated name and each reference
  is bound to the CTE visible in its own scope (sqlglot's scope rules); any other one-part name
  — a file path, `_delta_log`, an internal relation name — is refused, so no name can reach
  DuckDB's replacement scans. DESCRIBE and SHOW are answered from the metastore (sql_catalog.py).
- `:name` parameters become DuckDB `$name`.
- decimal × decimal whose exact result would not fit DECIMAL(38) (DuckDB overflows where
  Databricks returns decimal(38,6)) is computed with operands rounded to 12 decimals and the
  product rounded to Databricks' result scale.
- Table functions are refused except a few generators (`range`, `explode`, ...): DuckDB's file
  readers (`read_parquet`, `query_table`, ...) would bypass the catalog, its grants and masks.
- `mask_expression(body, column)`: a column-mask body (core/column_masks.py) over one column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from lakecrew.core.errors import UsageError

_READ_ONLY_ROOTS = (exp.Query, exp.Describe)
SAFE_TABLE_FUNCTIONS = frozenset(
    {"range", "generate_series", "unnest", "explode", "posexplode", "inline", "stack"}
)
_MAX_PREC = 38


@dataclass(frozen=True)
class TableRef:
    """A table named in a query: its registered DuckDB name and Databricks full name."""

    alias: str
    full_name: str
    version: int | None = None


@dataclass(frozen=True)
class Parsed:
    """One parsed statement with its table references resolved to registered names."""

    tree: exp.Expr
    refs: tuple[TableRef, ...]

    @property
    def is_read(self) -> bool:
        return isinstance(self.tree, _READ_ONLY_ROOTS)


def reg_name(full_name: str, version: int | None = None) -> str:
    """The DuckDB name a table is registered under for one query."""
    base = "__lc__" + full_name.replace(".", "__")
    return base if version is None else f"{base}__v{version}"


_PLAIN = {
    "Invalid expression / Unexpected token": "unexpected token",
    "Expecting )": "a closing parenthesis is missing",
    "Expecting (": "an opening parenthesis is expected",
}


def syntax_error(sql: str, exc: Exception) -> UsageError:
    """A parse error in words: line, column, the offending token and what was wrong, e.g.
    ``SQL syntax error at line 1, column 10 near '*': an expression is missing after '*'``."""
    details = getattr(exc, "errors", None) or [{}]
    first = details[0]
    line, col = first.get("line"), first.get("col")
    token = (first.get("highlight") or "").strip()
    text = str(first.get("description") or str(exc).splitlines()[0])
    missing = re.search(r"Required keyword: '(\w+)' missing for .*?\.(\w+)'>", text)
    if missing:
        word = missing.group(1)
        what = f"{'an' if word[0] in 'aeiou' else 'a'} {word} is missing"
        what += f" before {token!r}" if token else ""
    else:
        text = re.sub(r"<Token token_type: TokenType\.SENTINEL[^>]*>", "the end of the query", text)
        text = re.sub(r"<Token token_type: [^,]*, text: ([^,]*),[^>]*>", r"'\1'", text)
        what = _PLAIN.get(text.split(".", maxsplit=1)[0].strip(), text[:200])
    if line is None:
        return UsageError(f"SQL syntax error: {what}", where="sql", fix="correct the query")
    near = f" near {token!r}" if token else ""
    lines = sql.splitlines() or [sql]
    context = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return UsageError(
        f"SQL syntax error at line {line}, column {col}{near}: {what}",
        where="sql",
        fix=f"correct the query near {context[:60]!r}" if context else "correct the query",
    )


_SHOW_STATEMENT = re.compile(r"^\s*SHOW\s+(?P<rest>[^;]*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)


def parse(sql: str, default_catalog: str | None = None) -> Parsed:
    """Parse one Databricks statement and rewrite its table names (UsageError when invalid).

    SHOW statements never reach sqlglot: its Databricks grammar has no SHOW, so it would log a
    warning and fall back to a Command; they become that Command here (sql_catalog.py answers)."""
    show = _SHOW_STATEMENT.match(sql)
    if show is not None:
        return Parsed(exp.Command(this="SHOW", expression=exp.Literal.string(show["rest"])), ())
    try:
        trees = [t for t in sqlglot.parse(sql, read="databricks") if t is not None]
    except SqlglotError as exc:
        raise syntax_error(sql, exc) from exc
    if len(trees) != 1:
        raise UsageError(
            f"expected one SQL statement, got {len(trees)}",
            where="sql",
            fix="run statements one at a time",
        )
    tree = trees[0]
    if isinstance(tree, exp.Column | exp.Identifier | exp.Literal | exp.Alias | exp.Func):
        raise UsageError(
            f"not a SQL statement: {sql.strip()[:60]!r}",
            where="sql",
            fix="start with SELECT, WITH, DESCRIBE or SHOW",
        )
    if isinstance(tree, exp.Describe | exp.Command):
        return Parsed(tree, ())  # answered from the metastore (sql_catalog.py) or refused
    refs = _rewrite_tables(tree, default_catalog)
    return Parsed(tree, tuple(refs))


def _resolve_ctes(tree: exp.Expr) -> dict[int, str]:
    """Rename every CTE to a generated name; return {id(table node): new name} for each table
    reference that resolves, in its own scope, to a CTE (sqlglot's scope rules: a CTE is
    visible after its definition, in its WITH's query and nested scopes, and inside itself
    when recursive).

    Every other one-part name is then refused by the caller: nothing a query names can reach
    a file, a replacement scan or a registered-but-unmasked relation, whatever names the CTEs
    use (the generated names are what DuckDB sees).
    """
    from sqlglot.errors import OptimizeError
    from sqlglot.optimizer.scope import traverse_scope

    ctes = list(tree.find_all(exp.CTE))
    if not ctes:
        return {}
    new_names = {id(cte): f"__lc_cte_{i}" for i, cte in enumerate(ctes)}
    try:
        scopes = traverse_scope(tree)
    except (OptimizeError, SqlglotError) as exc:
        raise UsageError(
            f"cannot resolve the query's names: {str(exc).splitlines()[0][:200]}",
            where="sql",
            fix="give each CTE and subquery a distinct name",
        ) from exc
    resolved: dict[int, str] = {}
    for scope in scopes:
        visible = {k.lower(): v for k, v in scope.cte_sources.items()}
        for table in scope.tables:
            if table.db or table.catalog or not isinstance(table.this, exp.Identifier):
                continue
            source = visible.get(table.name.lower())
            cte = source.expression.find_ancestor(exp.CTE) if source is not None else None
            if cte is not None and id(cte) in new_names:
                resolved[id(table)] = new_names[id(cte)]
    for cte in ctes:
        alias = cte.args.get("alias")
        if isinstance(alias, exp.TableAlias):
            alias.set("this", exp.to_identifier(new_names[id(cte)], quoted=True))
    return resolved


def _rewrite_tables(tree: exp.Expr, default_catalog: str | None) -> list[TableRef]:
    cte_refs = _resolve_ctes(tree)
    refs: dict[str, TableRef] = {}
    for table in list(tree.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            _check_table_function(table)
            continue  # table function, e.g. range(10)
        name, db, cat = table.name.lower(), table.db.lower(), table.catalog.lower()
        if not db:
            cte = cte_refs.get(id(table))
            if cte is None:
                raise UsageError(
                    f"table {table.name[:80]!r} is not a CTE in scope: it needs a three-part name",
                    where="sql",
                    fix="write catalog.schema.table (CTEs are visible after their definition)",
                )
            if table.args.get("alias") is None:
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            table.set("this", exp.to_identifier(cte, quoted=True))
            continue
        if not cat:
            if default_catalog is None:
                raise UsageError(
                    f"table {db}.{name} has no catalog",
                    where="sql",
                    fix="write catalog.schema.table (no default catalog is set)",
                )
            cat = default_catalog.lower()
        version = _version_of(table)
        full = f"{cat}.{db}.{name}"
        ref = TableRef(reg_name(full, version), full, version)
        refs[ref.alias] = ref
        alias = table.args.get("alias")
        table.set("catalog", None)
        table.set("db", None)
        table.set("version", None)
        table.set("this", exp.to_identifier(ref.alias, quoted=True))
        if alias is None:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
    return list(refs.values())


def bind_inputs(
    sql: str, tables: Mapping[str, object], prefix: str = "__lc_in__"
) -> tuple[exp.Expr, dict[str, str]]:
    """Parse one Databricks query over in-memory inputs and point its table names at them.

    Returns the rewritten tree and ``{input name (lower case): registered name}``; each input
    is registered as ``<prefix><name>`` and keeps its own name as alias. Names other than the
    inputs and the query's CTEs, and unsafe table functions, are a UsageError. Used by the
    DuckDB engine and the Spark engine (which gives a per-query prefix: its views are global).
    """
    parsed = parse_query(sql)
    names = {k.lower(): f"{prefix}{k.lower()}" for k in tables}
    cte_refs = _resolve_ctes(parsed)
    for table in list(parsed.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            _check_table_function(table)
            continue
        name = table.name.lower()
        cte = cte_refs.get(id(table))
        if cte is not None:
            if table.args.get("alias") is None:
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            table.set("this", exp.to_identifier(cte, quoted=True))
            continue
        if table.db or table.catalog or name not in names:
            raise UsageError(
                f"table {table.sql('databricks')[:80]} is not an input of this query",
                where="sql",
                fix="read only " + (", ".join(sorted(names)) or "no tables"),
            )
        if table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
        table.set("this", exp.to_identifier(names[name], quoted=True))
    return parsed, names


def parse_query(sql: str) -> exp.Expr:
    """One Databricks query (a SELECT or set operation), else a UsageError."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="databricks") if t is not None]
    except SqlglotError as exc:
        raise syntax_error(sql, exc) from exc
    if len(trees) != 1 or not isinstance(trees[0], exp.Query):
        raise UsageError("expected one query (SELECT)", where="sql", fix="give one SELECT")
    return trees[0]


def _check_table_function(table: exp.Table) -> None:
    node = table.this
    name = node.name if isinstance(node, exp.Anonymous) else None
    if isinstance(node, exp.Func) and name is None:
        name = node.sql_name()
    if (name or "").lower() not in SAFE_TABLE_FUNCTIONS:
        raise UsageError(
            f"table function {table.sql('databricks')[:80]} is not allowed",
            where="sql",
            fix="query catalog tables by their three-part names; allowed table functions: "
            + ", ".join(sorted(SAFE_TABLE_FUNCTIONS)),
        )


def mask_expression(body: str, column: str) -> str:
    """DuckDB SQL of a column-mask body (Databricks SQL over `value`) applied to `column`."""
    tree = sqlglot.parse_one(body, read="databricks")
    for col in list(tree.find_all(exp.Column)):
        if col.name.lower() == "value" and not col.table:
            col.replace(exp.column(exp.to_identifier(column, quoted=True)))
    return tree.sql(dialect="duckdb")


def _version_of(table: exp.Table) -> int | None:
    version = table.args.get("version")
    if version is None:
        return None
    kind = str(version.this).upper()
    value = version.args.get("expression")
    if kind != "VERSION" or not isinstance(value, exp.Literal) or value.is_string:
        raise UsageError(
            "only VERSION AS OF <int> time travel is supported locally",
            where=table.sql("databricks"),
        )
    return int(value.this)


def rewrite_decimal_products(tree: exp.Expr, schema: Mapping[str, Mapping[str, str]]) -> exp.Expr:
    """Make decimal products behave as Databricks' (see module doc). Returns a new tree."""
    if tree.find(exp.Mul) is None:
        return tree
    try:
        typed = annotate_types(
            qualify(
                tree.copy(),
                schema={k: dict(v) for k, v in schema.items()},
                dialect="databricks",
                validate_qualify_columns=False,
                quote_identifiers=False,
            ),
            schema={k: dict(v) for k, v in schema.items()},
            dialect="databricks",
        )
    except SqlglotError:
        return tree
    typed_muls = list(typed.find_all(exp.Mul))
    out = tree.copy()
    muls = list(out.find_all(exp.Mul))
    if len(muls) != len(typed_muls):
        return out
    for node, typed_node in zip(muls, typed_muls, strict=True):
        fix = _decimal_fix(typed_node)
        if fix is not None:
            node.replace(fix(node))
    return out


def _decimal_params(node: exp.Expr) -> tuple[int, int] | None:
    t = node.type
    if t is None or not t.is_type(exp.DataType.Type.DECIMAL):
        return None
    params = [p.this for p in t.expressions]
    if len(params) != 2:
        return None
    return int(str(params[0].this if hasattr(params[0], "this") else params[0])), int(
        str(params[1].this if hasattr(params[1], "this") else params[1])
    )


def _decimal_fix(mul: exp.Mul) -> Callable[[exp.Mul], exp.Expr] | None:
    left, right = _decimal_params(mul.this), _decimal_params(mul.expression)
    if left is None or right is None:
        return None
    precision = left[0] + right[0] + 1
    scale = left[1] + right[1]
    if precision <= _MAX_PREC:
        return None
    int_digits = precision - scale
    result_scale = max(_MAX_PREC - int_digits, min(scale, 6))
    s1, s2 = min(left[1], 12), min(right[1], 12)

    def build(node: exp.Mul) -> exp.Expr:
        a = exp.cast(node.this.copy(), exp.DataType.build(f"DECIMAL(38,{s1})"))
        b = exp.cast(node.expression.copy(), exp.DataType.build(f"DECIMAL(38,{s2})"))
        product = exp.Paren(this=exp.Mul(this=a, expression=b))
        return exp.cast(product, exp.DataType.build(f"DECIMAL(38,{result_scale})"))

    return build


def _day_numbering(node: exp.Expr) -> exp.Expr:
    """Databricks numbers days differently from DuckDB; sqlglot passes the calls through as is.

    Databricks `dayofweek(d)` is 1 = Sunday … 7 = Saturday (DuckDB: 0 … 6), and Databricks
    `weekday(d)` is 0 = Monday … 6 = Sunday (DuckDB's `weekday` is 0 = Sunday).
    """
    if isinstance(node, exp.DayOfWeek):
        return exp.Paren(this=exp.Add(this=node.copy(), expression=exp.Literal.number(1)))
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "weekday":
        iso = exp.Anonymous(this="isodow", expressions=[e.copy() for e in node.expressions])
        return exp.Paren(this=exp.Sub(this=iso, expression=exp.Literal.number(1)))
    return node


def to_duckdb(tree: exp.Expr) -> str:
    fixed = tree.transform(_day_numbering, copy=True)
    return fixed.sql(dialect="duckdb")
