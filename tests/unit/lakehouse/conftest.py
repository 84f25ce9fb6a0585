"""Fixtures for the local lakehouse tests: a fresh project folder per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import LocalSqlEngine


@pytest.fixture
def layout(tmp_path: Path) -> ProjectLayout:
    return ProjectLayout(tmp_path / "proj").ensure()


@pytest.fixture
def store(layout: ProjectLayout) -> DeltaStore:
    return DeltaStore.for_project(layout)


@pytest.fixture
def metastore(layout: ProjectLayout) -> Iterator[SqliteMetastore]:
    ms = SqliteMetastore(layout.metastore_path)
    yield ms
    ms.close()


@pytest.fixture
def engine(store: DeltaStore, metastore: SqliteMetastore) -> Iterator[LocalSqlEngine]:
    eng = LocalSqlEngine(store, metastore, writable=True)
    yield eng
    eng.close()
