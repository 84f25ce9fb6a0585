"""PostgreSQL source against a real PostgreSQL server started by the test (Debian package)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lakecrew.adapters.sources.postgres import APPLICATION_NAME, PostgresSource
from lakecrew.core.errors import ConfigError, NotFound, Transient
from lakecrew.ports.source import Batch
from lakecrew.testing.postgres import PgServer, postgres_server

pytestmark = pytest.mark.integration
__all__ = ["postgres_server"]

ROWS = 1000


@pytest.fixture
def visits(postgres_server: PgServer) -> Iterator[PgServer]:
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS clinic_visits")
        conn.execute(
            "CREATE TABLE clinic_visits (visit_id bigint PRIMARY KEY, facility text, "
            "cases integer, updated_at timestamptz)"
        )
        # ten rows share every timestamp, so ties straddle every batch boundary
        conn.execute(
            "INSERT INTO clinic_visits SELECT g, 'Kenema Government Hospital', g %% 7, "
            "timestamptz '2024-01-01 00:00:00+00' + ((g / 10) * interval '1 minute') "
            "FROM generate_series(1, %s) g",
            [ROWS],
        )
        conn.execute("INSERT INTO clinic_visits VALUES (5000, 'no watermark', 1, NULL)")
    yield postgres_server


def _source(server: PgServer, tmp_path: Path, **kw: object) -> PostgresSource:
    args: dict[str, object] = {
        "name": "visits",
        "conninfo": server.dsn,
        "table": "public.clinic_visits",
        "watermark_column": "updated_at",
        "id_column": "visit_id",
        "checkpoint_path": tmp_path / "pg.json",
        "batch_rows": 64,
        "sleep": lambda s: None,
    }
    return PostgresSource(**{**args, **kw})  # type: ignore[arg-type]


def _ids(batches: list[Batch]) -> list[int]:
    return [int(v) for b in batches for v in b.table.column("visit_id").to_pylist()]


def _terminate(server: PgServer) -> int:
    with psycopg.connect(server.dsn, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [APPLICATION_NAME],
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_incremental_extraction_with_a_connection_drop(visits: PgServer, tmp_path: Path) -> None:
    src = _source(visits, tmp_path)
    got: list[Batch] = []
    for i, batch in enumerate(src.read()):
        got.append(batch)
        src.commit(batch.checkpoint)
        if i == 3:
            assert _terminate(visits) == 1, "the source's backend was killed mid-extraction"
    assert src.reconnects == 1
    assert _ids(got) == list(range(1, ROWS + 1)), "no loss, no duplicate, watermark order"
    assert got[0].table.column("updated_at")[0].as_py() == "2024-01-01 00:00:00+00"
    assert got[0].table.column("cases").to_pylist()[:3] == ["1", "2", "3"]
    # new rows arrive later: only they are extracted
    with psycopg.connect(visits.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO clinic_visits VALUES (1001, 'Bo', 2, now()), (1002, 'Bo', 3, now())"
        )
    later = list(_source(visits, tmp_path).read())
    assert _ids(later) == [1001, 1002]


def test_crash_before_commit_rereads_the_same_batch(visits: PgServer, tmp_path: Path) -> None:
    src = _source(visits, tmp_path)
    reader = src.read()
    first = next(reader)
    src.commit(first.checkpoint)
    lost = next(reader)  # written to bronze, then the process died before commit
    src.close()
    again = list(_source(visits, tmp_path).read())
    assert again[0].batch_id == lost.batch_id
    assert again[0].table.column("visit_id").equals(lost.table.column("visit_id"))
    assert _ids([first, *again]) == list(range(1, ROWS + 1))


def test_server_down_is_transient_and_the_rerun_resumes(visits: PgServer, tmp_path: Path) -> None:
    src = _source(visits, tmp_path, max_reconnects=2, connect_timeout=2)
    got: list[Batch] = []
    with pytest.raises(Transient, match="2 reconnects failed") as err:
        for i, batch in enumerate(src.read()):
            got.append(batch)
            src.commit(batch.checkpoint)
            if i == 1:
                visits.stop("immediate")
    assert "password" not in str(err.value) and "fix:" in str(err.value)
    visits.start()
    got += list(_source(visits, tmp_path).read())
    assert _ids(got) == list(range(1, ROWS + 1))


def test_configuration_errors_are_clear(visits: PgServer, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="table does not exist"):
        list(_source(visits, tmp_path, table="public.nope").read())
    bad = PostgresSource(
        name="v",
        conninfo=visits.dsn,
        table="clinic_visits",
        watermark_column="modified",
        id_column="visit_id",
        checkpoint_path=tmp_path / "x.json",
    )
    with pytest.raises(ConfigError, match="column 'modified' not in the table"):
        list(bad.read())
