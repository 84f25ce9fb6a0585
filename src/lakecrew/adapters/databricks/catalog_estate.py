"""The whole metastore at once: every table with its tags and every direct grant.

`DatabricksCatalog.list_tables()` (no schema named) and `list_grants()` (no securable named)
read the estate the way the crew's estate scope needs it, in a number of requests that grows
with schemas and pages, never with tables:

- `catalogs.list`, then `schemas.list` per catalog, then `tables.list` per schema (paged by the
  SDK; each page carries the tables' owner, comment, properties, columns and column masks);
- one statement each for `system.information_schema.table_tags` and `column_tags` (or the
  named catalog's own `information_schema`), grouped per table on this side;
- one statement each for `system.information_schema.catalog_privileges`, `schema_privileges`
  and `table_privileges`, keeping the direct grants (`inherited_from` is 'NONE' on Databricks;
  the local views leave it NULL), so a catalog- or schema-level grant is counted once, on the
  securable it was granted on — as the local metastore's Grants port lists it.

The `system` catalog is not listed (its tables are Databricks' own, never judged) and neither
are `information_schema` schemas. A failure of any of these reads is raised, never an empty
answer: tags that could not be read would make every table look unclassified.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lakecrew.adapters.databricks.client import guarded
from lakecrew.adapters.databricks.sql import quote_ident
from lakecrew.ports.catalog import Grant

if TYPE_CHECKING:
    from lakecrew.adapters.databricks.catalog import DatabricksCatalog

SKIPPED_CATALOGS = frozenset({"system"})
TAGS = "SELECT catalog_name, schema_name, table_name, tag_name, tag_value FROM {s}.table_tags"
COLUMN_TAGS = (
    "SELECT catalog_name, schema_name, table_name, column_name, tag_name, tag_value "
    "FROM {s}.column_tags"
)
DIRECT = " WHERE coalesce(inherited_from, 'NONE') = 'NONE'"
PRIVILEGES = (  # (securable type, statement: grantee, the securable's name parts, privilege)
    ("CATALOG", "SELECT grantee, catalog_name, privilege_type FROM {s}.catalog_privileges"),
    (
        "SCHEMA",
        "SELECT grantee, catalog_name, schema_name, privilege_type FROM {s}.schema_privileges",
    ),
    (
        "TABLE",
        "SELECT grantee, table_catalog, table_schema, table_name, privilege_type "
        "FROM {s}.table_privileges",
    ),
)

Key = tuple[str, str, str]


def _info_schema(catalog: str | None) -> str:
    if catalog is None:
        return "system.information_schema"
    return f"{quote_ident(catalog)}.information_schema"


def _schemas(cat: DatabricksCatalog, catalog: str | None) -> Iterator[tuple[str, str]]:
    client = cat.client
    names = (
        [catalog]
        if catalog is not None
        else guarded(
            lambda: [str(c.name) for c in client.catalogs.list()],
            where="metastore",
            action="catalogs.list",
        )
    )
    for name in names:
        if name in SKIPPED_CATALOGS:
            continue
        schemas = guarded(
            lambda n=name: [str(s.name) for s in client.schemas.list(n)],  # type: ignore[misc]
            where=name,
            action="schemas.list",
        )
        for schema in schemas:
            if schema != "information_schema":
                yield name, schema


def _tables(cat: DatabricksCatalog, catalog: str | None) -> Iterator[dict[str, Any]]:
    """Every table's REST JSON, schema by schema, paged as the SDK's `tables.list` pages
    (`max_results=0`: the server's page size) through its ApiClient (auth, retries, errors),
    without parsing each table into the SDK's dataclasses (~150 µs a table with columns)."""
    for name, schema in _schemas(cat, catalog):
        yield from guarded(
            lambda n=name, s=schema: _table_pages(cat, n, s),  # type: ignore[misc]
            where=f"{name}.{schema}",
            action="tables.list",
        )


def _table_pages(cat: DatabricksCatalog, catalog: str, schema: str) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"catalog_name": catalog, "schema_name": schema, "max_results": 0}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        page = cat.client.api.do("GET", "/api/2.1/unity-catalog/tables", query=dict(query))
        items = page.get("tables", []) if isinstance(page, dict) else None
        if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
            raise TypeError(f"tables.list of {catalog}.{schema}: not a list of table objects")
        out.extend(items)
        token = str(page.get("next_page_token") or "")
        if not token:
            return out
        if token in seen:
            raise TypeError(f"tables.list of {catalog}.{schema}: page token {token!r} repeated")
        seen.add(token)
        query["page_token"] = token


def _tag_maps(
    cat: DatabricksCatalog, catalog: str | None
) -> tuple[dict[Key, dict[str, str]], dict[Key, dict[str, dict[str, str]]]]:
    schema = _info_schema(catalog)
    tables: dict[Key, dict[str, str]] = {}
    for c, s, t, name, value in cat.sql.fetch(TAGS.format(s=schema)).rows:
        tables.setdefault((str(c), str(s), str(t)), {})[str(name)] = str(value or "")
    columns: dict[Key, dict[str, dict[str, str]]] = {}
    for c, s, t, col, name, value in cat.sql.fetch(COLUMN_TAGS.format(s=schema)).rows:
        per_table = columns.setdefault((str(c), str(s), str(t)), {})
        per_table.setdefault(str(col), {})[str(name)] = str(value or "")
    return tables, columns


def list_all_tables(cat: DatabricksCatalog, catalog: str | None) -> list[Any]:
    """Every table of the metastore (or of `catalog`), tags attached, sorted by name."""
    from dataclasses import replace

    table_tags, column_tags = _tag_maps(cat, catalog)
    out = []
    for t in _tables(cat, catalog):
        info = cat.convert_json(t, with_tags=False)
        key = (info.catalog_name, info.schema_name, info.name)
        cols = column_tags.get(key, {})
        columns = tuple(replace(c, tags=cols.get(c.name, {})) for c in info.columns)
        out.append(replace(info, tags=table_tags.get(key, {}), columns=columns))
    return sorted(out, key=lambda t: t.full_name)


def list_direct_grants(cat: DatabricksCatalog, principal: str | None) -> list[Grant]:
    """Direct grants on every catalog, schema and table the identity can see (three
    statements; UC grants never expire). The `system` catalog's grants are Databricks' own."""
    out = []
    for stype, sql in PRIVILEGES:
        for grantee, *parts, priv in cat.sql.fetch(sql.format(s=_info_schema(None)) + DIRECT).rows:
            if str(parts[0]) in SKIPPED_CATALOGS:
                continue
            if principal is None or str(grantee) == principal:
                name = ".".join(str(p) for p in parts)
                out.append(Grant(str(grantee), str(priv), stype, name))
    return out
