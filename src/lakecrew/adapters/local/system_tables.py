"""Create and register the local `system.*` tables (Databricks names and types).

The schemas come from `lakecrew.core.system_tables.SYSTEM_TABLES`; each table is an empty Delta
table until the simulator or the importer writes rows. Registered with owner `system`, the
table's comment and table type MANAGED.
"""

from __future__ import annotations

import pyarrow as pa

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import register
from lakecrew.core.system_tables import COMMENTS, PARTITION_BY, ROW_KEYS, SYSTEM_TABLES
from lakecrew.ports.catalog import TableInfo

SYSTEM_OWNER = "system"


def ensure_system_tables(store: DeltaStore, metastore: SqliteMetastore) -> list[TableInfo]:
    """Create every missing system table and (re)register all of them; idempotent.

    An existing table whose schema differs from the contract raises SchemaMismatch (naming it).
    """
    out = []
    for full_name, schema in SYSTEM_TABLES.items():
        store.create_table(
            full_name,
            schema,
            partition_by=PARTITION_BY.get(full_name, ()),
            exist_ok=True,
        )
        out.append(
            register(
                store,
                metastore,
                full_name,
                owner=SYSTEM_OWNER,
                comment=COMMENTS.get(full_name),
                table_type="MANAGED",
            )
        )
    return out


def save_system_rows(
    store: DeltaStore, full_name: str, table: pa.Table, mode: str = "append"
) -> None:
    """Write imported rows: upsert on the table's row identity so re-imports are idempotent."""
    keys = ROW_KEYS.get(full_name)
    if mode == "overwrite":
        store.overwrite(full_name, table)
    elif keys and store.exists(full_name):
        store.merge(full_name, table, keys, merge_schema=True)
    else:
        store.append(full_name, table, merge_schema=True)
