"""A project can be copied or moved: table locations are relative to the project."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import LocalSqlEngine, register
from lakecrew.core.errors import UsageError
from lakecrew.faces.cli.main import app
from lakecrew.ports.catalog import TableInfo
from lakecrew.testing.pipelines import make_project

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


def test_a_table_outside_the_project_is_refused_unless_allowed(tmp_path: Path) -> None:
    layout = ProjectLayout(tmp_path / "p").ensure()
    outside = str(tmp_path / "elsewhere" / "cases")
    ms = SqliteMetastore(layout.metastore_path)
    with pytest.raises(UsageError) as err:
        ms.register_table(TableInfo(full_name=T, owner="x", storage_location=outside))
    line = err.value.one_line()
    assert line.startswith(f"{T}: table {T}: storage location {outside} lies outside the project")
    assert "lakehouse: {external_locations: true}" in line
    with pytest.raises(UsageError, match="outside the project"):
        ms.register_table(TableInfo(full_name=T, owner="x", storage_location="s3://b/cases"))
    assert ms.table_names() == []
    ms.close()
    allowed = SqliteMetastore(layout.metastore_path, external_locations=True)
    allowed.register_table(TableInfo(full_name=T, owner="x", storage_location=outside))
    assert allowed.outside_locations() == [(T, outside)]
    allowed.close()


def _local_only(config: Path) -> None:
    """Drop the starter's databricks workspace: doctor would try to reach its placeholder host
    (DNS and connect timeouts vary with the network and the load; not this test's subject)."""
    blocks = config.read_text(encoding="utf-8").split("\n  - name: ")
    kept = [b for b in blocks if "backend: databricks" not in b]
    assert len(kept) == len(blocks) - 1
    config.write_text("\n  - name: ".join(kept), encoding="utf-8")


def test_doctor_lists_tables_outside_the_project(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    _local_only(root / "lakecrew.yaml")
    _project(root, 1)
    doctor = ["-p", str(root), "doctor", "-o", "json"]
    first = CliRunner().invoke(app, doctor)
    assert first.exit_code == 0, first.output
    ok = json.loads(first.stdout)["meta"]
    assert ok["tables"]["ok"] is True and ok["problems"] == 0, ok
    # the table's folder replaced by a link out of the project: it no longer travels with it
    folder = ProjectLayout(root).lakehouse_dir / "main" / "s" / "cases"
    shutil.move(folder, tmp_path / "cases")
    folder.symlink_to(tmp_path / "cases")
    bad = CliRunner().invoke(app, doctor)
    assert bad.exit_code == 1
    meta = json.loads(bad.stdout)["meta"]
    tables = meta["tables"]
    assert tables["ok"] is False and meta["problems"] == ok["problems"] + 1
    assert [o["table"] for o in tables["outside"]] == [T]
    text = CliRunner().invoke(app, ["-p", str(root), "doctor"])
    assert "FAIL table locations: 1 table(s) outside the project: main.s.cases at" in text.stdout
    assert "— fix: move those tables under .lakecrew/lakehouse" in text.stdout
