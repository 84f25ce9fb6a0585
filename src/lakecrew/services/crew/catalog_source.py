"""Unity Catalog tables as crew resources (rules of resource type `tables`, SOP 1.3).

Each table becomes a REST-like `TableInfo` dict plus what the table rules read next to it:
`tags` (table tags), `column_tags` (column → tags), `columns[].mask`, and `grants`
([{principal, principal_type, privileges, temporary, expires_at}]; a principal with '@' is a user).
The metastore is shared by the estate, so tables are observed in the estate scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lakecrew.core.resources import Resource
from lakecrew.ports.catalog import Catalog, Grant, Grants, TableInfo


def _grant(g: Grant) -> dict[str, Any]:
    return {
        "principal": g.principal,
        "principal_type": "user" if "@" in g.principal else "group",
        "privileges": [g.privilege],
        "temporary": False,
        "expires_at": g.expires_at.isoformat() if g.expires_at else None,
    }


def table_data(info: TableInfo, grants: Iterable[Grant]) -> dict[str, Any]:
    """The dict the table rules evaluate."""
    return {
        "full_name": info.full_name,
        "owner": info.owner,
        "comment": info.comment,
        "table_type": info.table_type,
        "properties": dict(info.properties),
        "tags": dict(info.tags),
        "columns": [
            {"name": c.name, "type_text": c.type_text, "mask": c.mask, "tags": dict(c.tags)}
            for c in info.columns
        ],
        "column_tags": {c.name: dict(c.tags) for c in info.columns if c.tags},
        "grants": [_grant(g) for g in grants],
    }


def table_resources(catalog: Catalog, grants: Grants, scope: str) -> list[Resource]:
    """Every registered table except the `system` and `lakecrew` catalogs' own tables."""
    by_table: dict[str, list[Grant]] = {}
    for g in grants.list_grants():
        by_table.setdefault(g.securable_name, []).append(g)
    out = []
    for info in catalog.list_tables():
        if info.catalog_name in ("system", "lakecrew"):
            continue
        data = table_data(info, by_table.get(info.full_name, []))
        out.append(Resource("tables", info.full_name, scope, data, info.full_name))
    return out
