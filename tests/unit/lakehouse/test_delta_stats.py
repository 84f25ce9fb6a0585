"""No PII value in a Delta log: statistics of PII columns are not written, and old ones are
scrubbed by the next write."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from lakecrew.adapters.local.delta import DeltaStore

PHONE = "+234 803 555 0199"
DATA = pa.table({"id": ["1", "2"], "contact_number": [PHONE, "+225 22 47 75"], "n": [1, 2]})


def _log_holds(table_dir: Path, text: str) -> bool:
    return any(text.encode() in f.read_bytes() for f in (table_dir / "_delta_log").glob("*"))


def test_new_tables_keep_no_statistics_of_pii_columns(store: DeltaStore) -> None:
    store.create_table("main.bronze.people", DATA.schema)
    store.append("main.bronze.people", DATA)
    table_dir = store.path("main.bronze.people")
    assert not _log_holds(table_dir, PHONE) and not _log_holds(table_dir, "+225")
    assert _log_holds(table_dir, "minValues")  # the other columns keep their statistics


def test_the_next_write_scrubs_statistics_already_in_the_log(store: DeltaStore) -> None:
    table_dir = store.path("main.bronze.old")
    write_deltalake(str(table_dir), DATA)  # written before lakecrew kept PII stats out
    DeltaTable(str(table_dir)).create_checkpoint()
    assert _log_holds(table_dir, PHONE)
    store.append("main.bronze.old", DATA)
    assert not any(PHONE.encode() in f.read_bytes() for f in (table_dir / "_delta_log").glob("*"))
    assert store.read("main.bronze.old").num_rows == 4
    assert store.read("main.bronze.old", version=0).num_rows == 2  # history still readable
