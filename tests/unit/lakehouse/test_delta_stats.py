"""No PII value in a Delta log: statistics of PII columns (by the catalog's classification) are
not written, and old ones are scrubbed by the next write — crash-safely."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakecrew.adapters.local import delta_stats
from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.delta_stats import classified
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import register
from lakecrew.core.errors import NotFound

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


REPORTER = "Adaeze Okafor"  # a name in a column whose name says nothing: only a tag marks it
TAGGED = pa.table({"id": ["1", "2"], "reporter": [REPORTER, "Kwame Mensah"], "n": [1, 2]})


def _classified_by(metastore: SqliteMetastore) -> Callable[[str], set[str]]:
    """The PII columns of a table as the metastore's tags classify them."""

    def classified_pii(full_name: str) -> set[str]:
        try:
            info = metastore.get_table(full_name)
        except NotFound:
            return set()
        return classified({c.name: c.tags for c in info.columns})

    return classified_pii


def test_pii_comes_from_the_catalog_classification(
    layout: ProjectLayout, metastore: SqliteMetastore
) -> None:
    """A column the metastore tags `pii` loses its statistics once it is classified, on the
    classification (protect) and on any later write, whatever its name."""

    store = DeltaStore.for_project(layout, pii_columns=_classified_by(metastore))
    name = "main.bronze.reports"
    store.create_table(name, TAGGED.schema)
    register(store, metastore, name, owner="x")
    store.append(name, TAGGED)
    table_dir = store.path(name)
    assert _log_holds(table_dir, REPORTER)  # not classified yet, name looks harmless
    metastore.set_tags(name, {"pii": "name"}, column="reporter")
    assert store.protect(name) is True
    assert not _log_holds(table_dir, REPORTER)
    store.append(name, TAGGED)
    assert not _log_holds(table_dir, REPORTER) and _log_holds(table_dir, "minValues")
    assert store.read(name).num_rows == 4


class _Killed(BaseException):
    """Stands for kill -9 at a chosen step (nothing after it runs)."""


def test_a_scrub_killed_at_any_step_is_finished_by_the_next_write(
    store: DeltaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step of the scrub (each log file rewritten, then the property commit) is a crash
    point; after a crash at any of them the table reads whole, and the next write leaves no
    PII value anywhere in the log."""
    steps: list[str] = []
    for stop in range(1, 100):
        table_dir = store.path(f"main.bronze.old{stop}")
        write_deltalake(str(table_dir), DATA)  # written before lakecrew kept PII stats out
        write_deltalake(str(table_dir), DATA, mode="append")
        DeltaTable(str(table_dir)).create_checkpoint()
        seen: list[str] = []

        def point(step: str, seen: list[str] = seen, stop: int = stop) -> None:
            seen.append(step)
            if len(seen) == stop:
                raise _Killed(step)

        monkeypatch.setattr(delta_stats, "CRASH_POINT", point)
        try:
            store.append(f"main.bronze.old{stop}", DATA)
        except _Killed:
            pass
        else:
            break  # every step has been a crash point
        steps.append(seen[-1])
        monkeypatch.setattr(delta_stats, "CRASH_POINT", lambda step: None)
        assert DeltaTable(str(table_dir)).to_pyarrow_table().num_rows == 4, seen[-1]
        store.append(f"main.bronze.old{stop}", DATA)
        assert not _log_holds(table_dir, PHONE), f"PII left after a crash {seen[-1]}"
        assert store.read(f"main.bronze.old{stop}").num_rows == 6
        assert store.read(f"main.bronze.old{stop}", version=0).num_rows == 2
    assert len(steps) >= 7 and steps[-1] == "before properties", steps


def test_classifying_a_table_with_deletion_vectors_adds_no_table_feature(
    layout: ProjectLayout, metastore: SqliteMetastore
) -> None:
    """delta-rs's SET TBLPROPERTIES on a table-features protocol adds ``variantType``: readers
    without Variant support refuse the table, and the upsert that marks deletion vectors no
    longer applies (MERGE for every later batch). The property commit is written here."""
    from lakecrew.adapters.local.delta_upsert import eligible
    from lakecrew.adapters.local.table_store import DeltaTableStore

    store = DeltaStore.for_project(layout, pii_columns=_classified_by(metastore))
    tables = DeltaTableStore(store, deletion_vectors=True)
    name = "main.silver.reports"
    tables.create(name, TAGGED.schema)
    register(store, metastore, name, owner="x")
    ids = [f"r{i}" for i in range(6)]
    first = pa.table({"id": ids, "reporter": ["Ade Bello"] * 6, "n": list(range(6))}, TAGGED.schema)
    tables.merge(name, first, ["id"])
    tables.merge(name, first.slice(0, 2), ["id"])  # marked deleted: writer 7, deletionVectors
    before = store.table(name).protocol()
    metastore.set_tags(name, {"pii": "name"}, column="reporter")
    assert store.protect(name) is True
    table = store.table(name)
    assert table.protocol() == before and "variantType" not in str(table.protocol())
    config = table.metadata().configuration
    assert config["delta.enableDeletionVectors"] == "true"
    assert "reporter" not in config["delta.dataSkippingStatsColumns"]
    assert eligible(table, deletion_vectors=True)
    assert not _log_holds(store.path(name), "Ade Bello")
    tables.merge(name, first.slice(2, 2), ["id"])
    history = DeltaTable(str(store.path(name))).history(1)[0]
    assert history["operation"] != "MERGE"  # marked, not merged
    assert store.read(name).num_rows == 6
