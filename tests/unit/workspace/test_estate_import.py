"""`estate import`: REST and CLI exports, unknown fields kept, bad inputs refused whole."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.importers import read_parquet, sdk_record_check
from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.core.errors import DataError, UsageError
from lakecrew.core.system_tables import SYSTEM_TABLES
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.estate.importer import ImportReport, import_workspace
from lakecrew.services.estate.table_import import read_csv_export
from lakecrew.testing.workspace import local_workspace


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    ws, _, _ = local_workspace(tmp_path / "workspace.db")
    yield ws
    ws.close()


def run(store: LocalWorkspace, save_table: Any, path: Path) -> ImportReport:
    return import_workspace(
        store,
        save_table,
        path,
        store.name,
        check_record=sdk_record_check,
        read_parquet=read_parquet,
    )


def state(store: LocalWorkspace, lakehouse: DeltaStore) -> tuple[Any, ...]:
    objects = {k: [(o.object_id, o.data) for o in store.list(k)] for k in ObjectKind}
    return objects, store.workspace_conf(["enableVerboseAuditLogs"]), lakehouse.list_tables()


def test_raw_rest_exports(store, save_table, lakehouse, exports: Path) -> None:  # type: ignore[no-untyped-def]
    report = run(store, save_table, exports / "rest")
    assert report.objects == {
        "clusters": 3,
        "jobs": 2,
        "cluster_policies": 1,
        "warehouses": 1,
        "instance_pools": 1,
        "secret_scopes": 2,
        "secret_acls": 3,
    }
    assert report.tables == {"system.billing.usage": 2, "system.compute.clusters": 1}
    assert report.conf_keys == 4 and report.skipped == ()
    assert store.workspace_conf(["enableVerboseAuditLogs", "enableDbfsFileBrowser"]) == {
        "enableVerboseAuditLogs": "false",
        "enableDbfsFileBrowser": None,
    }
    assert {a.object_id for a in store.list(ObjectKind.SECRET_ACL)} == {
        "finance-etl/admins",
        "finance-etl/users",
        "finance-etl/svc-etl@example.org",
    }
    table = lakehouse.to_arrow("system.billing.usage").to_table().sort_by("record_id")
    rows = table.to_pylist()
    assert dict(rows[0]["custom_tags"]) == {"team": "surveillance", "env": "prod"}
    assert str(rows[1]["usage_quantity"]) == "1.500000000000000000"
    assert (
        rows[1]["usage_start_time"].hour == 2
        and rows[1]["usage_start_time"].utcoffset().total_seconds() == 0
    )
    assert rows[1]["identity_metadata"] is None and rows[1]["usage_metadata"]["job_id"] == "42"
    assert table.column("x_new_column").to_pylist() == ["extra-a", None]  # unknown column kept


def test_unknown_fields_are_kept(store, save_table, exports: Path) -> None:  # type: ignore[no-untyped-def]
    report = run(store, save_table, exports / "rest")
    cluster = store.get(ObjectKind.CLUSTER, "0312-101500-abcd1234").data
    assert cluster["last_activity_time"] == 1741780000000
    assert store.get(ObjectKind.CLUSTER, "0401-090000-idle0001").data["x_future_field"] == {
        "nested": [1, 2, 3]
    }
    assert (
        store.get(ObjectKind.JOB, "77").data["settings"]["performance_target"] == "SOME_FUTURE_MODE"
    )
    assert any("last_activity_time" in n and "kept" in n for n in report.notes)
    assert any("performance_target" in n for n in report.notes)


def test_cli_format_lists(store, save_table, exports: Path) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[int, int]] = []
    report = import_workspace(
        store,
        save_table,
        exports / "cli",
        store.name,
        check_record=sdk_record_check,
        on_progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    assert report.as_dict()["objects"] == report.objects
    assert report.objects == {"clusters": 1, "jobs": 1, "warehouses": 1, "secret_acls": 1}
    assert store.get(ObjectKind.WAREHOUSE, "b0b0b0b0b0b0b0b0").data["cluster_size"] == "X-Small"
    assert [a.object_id for a in store.list(ObjectKind.SECRET_ACL)] == ["kv-prod/admins"]
    assert store.get(ObjectKind.JOB, "501").data["job_id"] == 501  # id kept as the REST int


def test_single_file_and_empty_rest_response(
    store, save_table, tmp_path: Path, exports: Path
) -> None:  # type: ignore[no-untyped-def]
    assert run(store, save_table, exports / "rest" / "jobs.json").objects == {"jobs": 2}
    empty = tmp_path / "instance-pools.json"
    empty.write_text("{}")
    assert run(store, save_table, empty).objects == {"instance_pools": 0}


def _copy_with(exports: Path, tmp_path: Path, bad: str, name: str) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(exports / "rest", folder)
    shutil.copy(exports / "bad" / bad, folder / name)
    return folder


def test_truncated_json_is_refused_and_nothing_written(
    store, save_table, lakehouse, exports: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    before = state(store, lakehouse)
    folder = _copy_with(exports, tmp_path, "clusters-truncated.json", "zz-clusters.json")
    with pytest.raises(DataError) as err:
        run(store, save_table, folder)
    assert str(err.value).startswith(
        "file zz-clusters.json: truncated or invalid JSON at line 14 col 22"
    )
    assert state(store, lakehouse) == before


def test_wrong_type_names_file_record_and_field(
    store, save_table, lakehouse, exports: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    before = state(store, lakehouse)
    folder = _copy_with(exports, tmp_path, "clusters-wrong-type.json", "more-clusters.json")
    with pytest.raises(DataError) as err:
        run(store, save_table, folder)
    message = str(err.value)
    assert "file more-clusters.json: record 1 (clusters 0601-000000-bad00002)" in message
    assert "field num_workers: expected an integer, got string" in message
    assert "four" not in message
    assert state(store, lakehouse) == before  # the valid record 0 and the other files too


def test_missing_id_is_refused(store, save_table, exports: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        DataError, match=r"clusters-missing-id.json: record 0: field 'cluster_id' is missing"
    ):
        run(store, save_table, exports / "bad" / "clusters-missing-id.json")


def test_bad_csv_cell_names_line_and_column_not_value(
    store, save_table, lakehouse, exports: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    before = state(store, lakehouse)
    folder = tmp_path / "export"
    shutil.copytree(exports / "rest", folder)
    shutil.copy(exports / "bad" / "billing.usage.csv", folder / "billing.usage.part-2.csv")
    with pytest.raises(DataError) as err:
        run(store, save_table, folder)
    message = str(err.value)
    assert "billing.usage.part-2.csv: line 3 column 'usage_start_time'" in message
    assert "yesterday" not in message
    assert state(store, lakehouse) == before


def test_parquet_export_is_cast_and_truncated_parquet_refused(
    store, save_table, lakehouse, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good" / "system.compute.clusters.parquet"
    good.parent.mkdir()
    pq.write_table(
        pa.table(
            {
                "workspace_id": ["1"],
                "cluster_id": ["c-1"],
                "worker_count": pa.array([4], pa.int32()),
                "x_extra": [1.5],
            }
        ),
        good,
    )
    report = run(store, save_table, good)
    assert report.tables == {"system.compute.clusters": 1}
    row = lakehouse.to_arrow("system.compute.clusters").to_table().to_pylist()[0]
    assert row["worker_count"] == 4 and row["x_extra"] == 1.5
    broken = tmp_path / "broken" / "system.compute.clusters.parquet"
    broken.parent.mkdir()
    broken.write_bytes(good.read_bytes()[:100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        run(store, save_table, broken)
    assert lakehouse.version("system.compute.clusters") == 1


def test_wrong_workspace_and_unknown_table(
    store, save_table, tmp_path: Path, exports: Path
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        import_workspace(store, save_table, exports / "rest", "other-prod-eu")
    odd = tmp_path / "sales.csv"
    odd.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="not named after a known system table"):
        run(store, save_table, odd)


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("1e308", "number outside the sane range"),
        ("99999999999999999999999", "number outside the sane range"),
        ("1e4000", "number outside the sane range"),
        ("NaN", "not a finite number"),
        ("inf", "not a finite number"),
        ("-Infinity", "not a finite number"),
    ],
)
def test_absurd_numbers_are_refused_with_line_and_column(
    tmp_path: Path, cell: str, why: str
) -> None:
    usage = tmp_path / "billing.usage.csv"
    usage.write_text(
        "account_id,workspace_id,record_id,sku_name,usage_start_time,usage_quantity\n"
        "acc-1,1,r-1,STANDARD_JOBS_COMPUTE,2025-03-12T10:00:00Z,1.0\n"
        f"acc-1,1,r-2,STANDARD_JOBS_COMPUTE,2025-03-12T11:00:00Z,{cell}\n"
    )
    with pytest.raises(DataError) as err:
        read_csv_export(usage, SYSTEM_TABLES["system.billing.usage"], str(usage))
    line = err.value.one_line()
    assert f"line 3 column 'usage_quantity': {why}" in line and cell not in line
    timeline = tmp_path / "compute.node_timeline.csv"
    timeline.write_text(f"workspace_id,cluster_id,cpu_user_percent\n1,c-1,{cell}\n")
    with pytest.raises(DataError, match=f"line 2 column 'cpu_user_percent': {why}"):
        read_csv_export(timeline, SYSTEM_TABLES["system.compute.node_timeline"], str(timeline))


def test_absurd_numbers_in_parquet_are_refused_and_nothing_written(
    store, save_table, lakehouse, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    before = state(store, lakehouse)
    path = tmp_path / "x" / "system.compute.node_timeline.parquet"
    path.parent.mkdir()
    data = {"workspace_id": ["1", "1"], "cluster_id": ["c-1", "c-2"]}
    pq.write_table(pa.table({**data, "cpu_user_percent": [3.0, float("nan")]}), path)
    with pytest.raises(DataError, match="row 2 column 'cpu_user_percent': not a finite number"):
        run(store, save_table, path)
    pq.write_table(pa.table({**data, "mem_used_percent": [1e308, 2.0]}), path)
    with pytest.raises(DataError, match="row 1 column 'mem_used_percent': number outside"):
        run(store, save_table, path)
    assert state(store, lakehouse) == before
