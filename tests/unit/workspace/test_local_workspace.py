"""LocalWorkspace: REST semantics of each mutation, before/after, audit rows, atomicity."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lakecrew.core.errors import Conflict, NotFound, UsageError
from lakecrew.core.system_tables import SYSTEM_TABLES
from lakecrew.ports.workspace import ObjectKind, WorkspaceObject, secret_acl_id
from lakecrew.testing.workspace import T0, local_workspace

CLUSTER = {
    "cluster_id": "c-1",
    "cluster_name": "shared",
    "spark_version": "15.4.x-scala2.12",
    "state": "RUNNING",
    "autoscale": {"min_workers": 2, "max_workers": 8},
    "autotermination_minutes": 120,
    "custom_tags": {"team": "a"},
    "driver": {"node_id": "n1"},
    "spec": {"autoscale": {"min_workers": 2, "max_workers": 8}, "custom_tags": {"team": "a"}},
}
JOB = {
    "job_id": 7,
    "settings": {
        "name": "j",
        "tags": {"team": "a"},
        "max_concurrent_runs": 1,
        "tasks": [{"task_key": "a", "max_retries": 0}, {"task_key": "b", "max_retries": 0}],
        "job_clusters": [{"job_cluster_key": "k", "new_cluster": {"num_workers": 1}}],
    },
}
WAREHOUSE = {"id": "w-1", "name": "wh", "tags": {"custom_tags": [{"key": "team", "value": "a"}]}}
POOL = {"instance_pool_id": "p-1", "instance_pool_name": "pool"}


@pytest.fixture
def ws(tmp_path: Path):  # type: ignore[no-untyped-def]
    store, sink, clock = local_workspace(tmp_path / "workspace.db")
    store.put_many(ObjectKind.CLUSTER, [CLUSTER])
    store.put_many(ObjectKind.JOB, [JOB])
    store.put_many(ObjectKind.WAREHOUSE, [WAREHOUSE])
    store.put_many(ObjectKind.INSTANCE_POOL, [POOL])
    store.put_many(ObjectKind.CLUSTER_POLICY, [{"policy_id": "pol-1", "name": "p"}])
    yield store, sink, clock
    store.close()


def test_terminate_like_clusters_delete(ws) -> None:  # type: ignore[no-untyped-def]
    store, sink, _ = ws
    change = store.terminate("c-1")
    assert change.before == CLUSTER
    after = store.get(ObjectKind.CLUSTER, "c-1").data
    assert after == change.after
    assert after["state"] == "TERMINATED"
    assert after["terminated_time"] == int(T0.timestamp() * 1000)
    assert after["termination_reason"]["code"] == "USER_REQUEST"
    assert "driver" not in after and after["autoscale"] == CLUSTER["autoscale"]
    [row] = sink.rows
    assert (row["service_name"], row["action_name"]) == ("clusters", "delete")
    assert row["request_params"] == {"cluster_id": "c-1"}
    assert row["user_identity"]["email"] == "lakecrew-crew"
    assert row["event_id"] == change.audit_event_id and row["workspace_id"] == "1234567890123456"


def test_audit_rows_fit_the_system_table_schema(ws) -> None:  # type: ignore[no-untyped-def]
    store, sink, _ = ws
    store.set_tags(ObjectKind.CLUSTER, "c-1", {"owner": "x"})
    store.update_job("7", {"timeout_seconds": 60})
    store.set_workspace_conf({"enableVerboseAuditLogs": "true"})
    table = pa.Table.from_pylist(sink.rows, schema=SYSTEM_TABLES["system.access.audit"])
    assert table.num_rows == 3
    assert table.column("action_name").to_pylist() == ["edit", "update", "workspaceConfEdit"]


def test_resize_running_cluster_and_refuse_terminated(ws) -> None:  # type: ignore[no-untyped-def]
    store, sink, _ = ws
    after = store.resize("c-1", num_workers=3).after
    assert after["num_workers"] == 3 and "autoscale" not in after
    assert after["spec"]["num_workers"] == 3 and "autoscale" not in after["spec"]
    after = store.resize("c-1", autoscale=(1, 4)).after
    assert after["autoscale"] == {"min_workers": 1, "max_workers": 4} and "num_workers" not in after
    with pytest.raises(UsageError):
        store.resize("c-1", autoscale=(5, 2))
    store.terminate("c-1")
    with pytest.raises(Conflict, match="c-1"):
        store.resize("c-1", num_workers=1)
    assert [r["action_name"] for r in sink.rows] == ["resize", "resize", "delete"]


def test_autotermination_bounds(ws) -> None:  # type: ignore[no-untyped-def]
    store, _, _ = ws
    assert store.set_autotermination("c-1", 30).after["autotermination_minutes"] == 30
    assert store.get(ObjectKind.CLUSTER, "c-1").data["spec"]["autotermination_minutes"] == 30
    assert store.set_autotermination("c-1", 0).after["autotermination_minutes"] == 0
    for bad in (5, 10001, -1):
        with pytest.raises(UsageError):
            store.set_autotermination("c-1", bad)


def test_tags_in_each_rest_shape(ws) -> None:  # type: ignore[no-untyped-def]
    store, _, _ = ws
    c = store.set_tags(ObjectKind.CLUSTER, "c-1", {"env": "dev"}).after
    assert c["custom_tags"] == {"team": "a", "env": "dev"} == c["spec"]["custom_tags"]
    j = store.set_tags(ObjectKind.JOB, "7", {"env": "dev"}, merge=False).after
    assert j["settings"]["tags"] == {"env": "dev"}
    w = store.set_tags(ObjectKind.WAREHOUSE, "w-1", {"team": "b", "env": "dev"}).after
    assert w["tags"]["custom_tags"] == [
        {"key": "team", "value": "b"},
        {"key": "env", "value": "dev"},
    ]
    p = store.set_tags(ObjectKind.INSTANCE_POOL, "p-1", {"env": "dev"}).after
    assert p["custom_tags"] == {"env": "dev"}
    with pytest.raises(UsageError):
        store.set_tags(ObjectKind.CLUSTER_POLICY, "pol-1", {"env": "dev"})
    with pytest.raises(UsageError, match="limit of 25"):
        store.set_tags(ObjectKind.JOB, "7", {f"k{i}": "v" for i in range(26)})


def test_update_job_merges_tasks_by_key(ws) -> None:  # type: ignore[no-untyped-def]
    store, sink, _ = ws
    change = store.update_job(
        "7",
        {
            "tasks": [{"task_key": "b", "max_retries": 2}, {"task_key": "c"}],
            "max_concurrent_runs": 3,
        },
        fields_to_remove=("job_clusters/k", "tags"),
    )
    settings = change.after["settings"]
    assert settings["tasks"] == [
        {"task_key": "a", "max_retries": 0},
        {"task_key": "b", "max_retries": 2},
        {"task_key": "c"},
    ]
    assert settings["max_concurrent_runs"] == 3 and settings["job_clusters"] == []
    assert "tags" not in settings and change.before == JOB
    assert sink.rows[-1]["request_params"]["new_settings"] == "max_concurrent_runs,tasks"
    with pytest.raises(UsageError):
        store.update_job("7", {}, fields_to_remove=("schedule/pause_status",))


def test_restore_puts_the_before_state_back(ws) -> None:  # type: ignore[no-untyped-def]
    store, sink, _ = ws
    change = store.terminate("c-1")
    back = store.restore(ObjectKind.CLUSTER, "c-1", change.before)
    assert store.get(ObjectKind.CLUSTER, "c-1").data == CLUSTER == back.after
    assert back.before == change.after
    assert sink.rows[-1]["request_params"]["lakecrew_operation"] == "rollback"
    with pytest.raises(UsageError):
        store.restore(ObjectKind.CLUSTER, "c-2", change.before)


def test_not_found_names_the_id(ws) -> None:  # type: ignore[no-untyped-def]
    store, sink, _ = ws
    with pytest.raises(NotFound, match="nope-123"):
        store.terminate("nope-123")
    with pytest.raises(NotFound, match="nope-123"):
        store.get(ObjectKind.JOB, "nope-123")
    assert sink.rows == []


def test_failed_audit_leaves_nothing_changed(ws) -> None:  # type: ignore[no-untyped-def]
    store, sink, _ = ws
    sink.fail_with = RuntimeError("delta down")
    with pytest.raises(RuntimeError):
        store.terminate("c-1")
    assert store.get(ObjectKind.CLUSTER, "c-1").data == CLUSTER


def test_workspaces_share_a_file_but_not_objects(tmp_path: Path) -> None:
    a, _, _ = local_workspace(tmp_path / "w.db", name="a-dev-eu")
    b, _, _ = local_workspace(tmp_path / "w.db", name="b-dev-eu")
    a.put_many(ObjectKind.CLUSTER, [CLUSTER])
    assert a.count(ObjectKind.CLUSTER) == 1 and b.count(ObjectKind.CLUSTER) == 0
    with pytest.raises(NotFound):
        b.get(ObjectKind.CLUSTER, "c-1")


def test_conf_and_acls(ws) -> None:  # type: ignore[no-untyped-def]
    store, sink, _ = ws
    store.load(
        {
            ObjectKind.SECRET_ACL: [
                WorkspaceObject(
                    ObjectKind.SECRET_ACL,
                    secret_acl_id("s", "users"),
                    {"principal": "users", "permission": "READ"},
                )
            ]
        },
        {"enableIpAccessLists": "true"},
    )
    assert store.workspace_conf(["enableIpAccessLists", "never"]) == {
        "enableIpAccessLists": "true",
        "never": None,
    }
    [acl] = store.list(ObjectKind.SECRET_ACL)
    assert acl.object_id == "s/users"
    store.set_workspace_conf({"enableIpAccessLists": None})
    assert store.workspace_conf(["enableIpAccessLists"]) == {"enableIpAccessLists": None}
    assert sink.rows[-1]["request_params"]["workspaceConfKeys"] == "enableIpAccessLists"


def test_bulk_load_of_100k_objects_in_one_transaction(tmp_path: Path) -> None:
    store, _, _ = local_workspace(tmp_path / "big.db")
    clusters = (
        {"cluster_id": f"c-{i:06d}", "state": "RUNNING", "num_workers": i % 8}
        for i in range(100_000)
    )
    assert store.put_many(ObjectKind.CLUSTER, clusters) == 100_000
    assert store.count(ObjectKind.CLUSTER) == 100_000
    first = next(store.list(ObjectKind.CLUSTER))
    assert first.object_id == "c-000000" and first.data["num_workers"] == 0
    with pytest.raises(UsageError, match="#1"):  # one bad object: the whole batch is refused
        store.put_many(ObjectKind.JOB, [{"job_id": 1}, {"settings": {}}])
    assert store.count(ObjectKind.JOB) == 0
    store.close()
