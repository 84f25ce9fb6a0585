"""A project can be copied or moved: table locations are relative to the project."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pyarrow as pa

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import LocalSqlEngine, register

T = "main.s.cases"


def _project(root: Path, rows: int) -> None:
    layout = ProjectLayout(root).ensure()
    store = DeltaStore.for_project(layout)
    ms = SqliteMetastore(layout.metastore_path)
    data = pa.table({"n": list(range(rows))})
    store.create_table(T, data.schema)
    store.append(T, data)
    register(store, ms, T, owner="x")
    ms.close()


def _count(root: Path) -> int:
    layout = ProjectLayout(root)
    ms = SqliteMetastore(layout.metastore_path)
    eng = LocalSqlEngine(DeltaStore.for_project(layout), ms)
    try:
        return int(eng.fetch(f"SELECT count(*) FROM {T}").scalar())
    finally:
        eng.close()
        ms.close()


def test_a_copy_reads_its_own_tables_and_survives_the_original_moving(tmp_path: Path) -> None:
    _project(tmp_path / "a", 3)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    DeltaStore.for_project(ProjectLayout(tmp_path / "b")).append(T, pa.table({"n": [9]}))
    assert _count(tmp_path / "b") == 4 and _count(tmp_path / "a") == 3
    (tmp_path / "a").rename(tmp_path / "moved")
    assert _count(tmp_path / "b") == 4 and _count(tmp_path / "moved") == 3
    db = sqlite3.connect(tmp_path / "b" / ".lakecrew" / "metastore.db")
    [(stored,)] = db.execute("SELECT storage_location FROM tables").fetchall()
    db.close()
    assert not Path(stored).is_absolute()


def test_absolute_locations_of_older_projects_are_read_under_this_project(tmp_path: Path) -> None:
    _project(tmp_path / "old", 2)
    db = sqlite3.connect(tmp_path / "old" / ".lakecrew" / "metastore.db")
    db.execute(
        "UPDATE tables SET storage_location = ?",
        ("/elsewhere/proj/.lakecrew/lakehouse/main/s/cases",),
    )
    db.commit()
    db.close()
    assert _count(tmp_path / "old") == 2
