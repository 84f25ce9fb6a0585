"""Behaviour of the Workspace port, identical on the local and the Databricks adapter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from databricks.sdk.service.compute import ClusterDetails
from databricks.sdk.service.jobs import Job

from lakecrew.core.errors import Conflict, NotFound, UsageError
from lakecrew.ports.workspace import ObjectKind

from .conftest import SEED, Backend

CL1, CL2 = SEED["clusters"]
JOB = SEED["jobs"][0]
WH = SEED["warehouses"][0]
C1 = CL1["cluster_id"]

Make = Callable[[str], Backend]


def test_list_pages_and_get_full_objects(backend_for: Make) -> None:
    b = backend_for("listing")
    clusters = list(b.workspace.list(ObjectKind.CLUSTER))
    assert [c.object_id for c in clusters] == [C1, CL2["cluster_id"]]
    assert ClusterDetails.from_dict(dict(clusters[0].data)).as_dict() == CL1
    [job] = b.workspace.list(ObjectKind.JOB)
    assert job.object_id == "7" and job.data["settings"]["tasks"][1]["task_key"] == "b"
    got = b.workspace.get(ObjectKind.JOB, "7").data
    assert Job.from_dict(dict(got)).settings.tags == {"team": "a"}  # type: ignore[union-attr]
    [wh] = b.workspace.list(ObjectKind.WAREHOUSE)
    assert wh.data["tags"]["custom_tags"] == [{"key": "team", "value": "a"}]
    conf = b.workspace.workspace_conf(["enableIpAccessLists", "neverSet"])
    assert conf == {"enableIpAccessLists": "true", "neverSet": None}
    if b.replay:  # the second page was asked with the first page's token
        pages = b.replay.requests_to("GET", "/api/2.1/clusters/list")
        assert [p.query.get("page_token") for p in pages] == [None, ["p2"]]


def test_set_tags_merges_and_returns_before_after(backend_for: Make) -> None:
    b = backend_for("cluster_tags")
    change = b.workspace.set_tags(ObjectKind.CLUSTER, C1, {"env": "dev"})
    assert change.before["custom_tags"] == {"team": "a"}
    assert change.after["custom_tags"] == {"team": "a", "env": "dev"}
    assert change.action == "edit" and change.changed
    if b.replay and b.clock:  # 429 first: the SDK waited at least Retry-After (7 s)
        assert any(s >= 7 for s in b.clock.sleeps)
        assert [r.status for r in b.replay.requests_to("POST", "/api/2.1/clusters/update")] == [
            429,
            200,
        ]


def test_set_tags_refuses_kinds_without_tags(backend_for: Make) -> None:
    b = backend_for("listing")
    with pytest.raises(UsageError):
        b.workspace.set_tags(ObjectKind.CLUSTER_POLICY, "pol-1", {"env": "dev"})


def test_autotermination_validates_then_updates(backend_for: Make) -> None:
    b = backend_for("autotermination")
    for bad in (5, 10001, -1):
        with pytest.raises(UsageError):
            b.workspace.set_autotermination(C1, bad)
    change = b.workspace.set_autotermination(C1, 30)
    assert (change.before["autotermination_minutes"], change.after["autotermination_minutes"]) == (
        120,
        30,
    )
    if b.replay:  # a 500, then the 200: retried with backoff
        statuses = [r.status for r in b.replay.requests_to("POST", "/api/2.1/clusters/update")]
        assert statuses == [500, 200]


def test_terminate_keeps_the_cluster(backend_for: Make) -> None:
    b = backend_for("terminate")
    change = b.workspace.terminate(C1)
    assert change.before["state"] == "RUNNING" and change.after["state"] == "TERMINATED"
    assert change.after["termination_reason"]["code"] == "USER_REQUEST"
    assert b.workspace.get(ObjectKind.CLUSTER, C1).data["cluster_name"] == "shared"


def test_resize_running_and_refuse_terminated(backend_for: Make) -> None:
    b = backend_for("resize")
    change = b.workspace.resize(C1, num_workers=3)
    assert change.after["num_workers"] == 3 and "autoscale" not in change.after
    with pytest.raises(UsageError):
        b.workspace.resize(C1, num_workers=1, autoscale=(1, 2))
    with pytest.raises(Conflict, match=CL2["cluster_id"]):
        b.workspace.resize(CL2["cluster_id"], num_workers=1)


def test_update_job_merges_tasks_by_key(backend_for: Make) -> None:
    b = backend_for("update_job")
    new_task = {"task_key": "b", "max_retries": 2, "notebook_task": {"notebook_path": "/b"}}
    change = b.workspace.update_job(
        "7", {"max_concurrent_runs": 3, "tasks": [new_task]}, fields_to_remove=("tags",)
    )
    settings = change.after["settings"]
    assert [t["task_key"] for t in settings["tasks"]] == ["a", "b"]
    assert settings["tasks"][1]["max_retries"] == 2 and settings["max_concurrent_runs"] == 3
    assert "tags" not in settings and change.before == JOB
    with pytest.raises(UsageError):
        b.workspace.update_job("7", {}, fields_to_remove=("schedule/pause_status",))


def test_warehouse_tags_are_a_list_of_pairs(backend_for: Make) -> None:
    b = backend_for("warehouse_tags")
    change = b.workspace.set_tags(ObjectKind.WAREHOUSE, WH["id"], {"team": "b", "env": "dev"})
    assert change.after["tags"]["custom_tags"] == [
        {"key": "team", "value": "b"},
        {"key": "env", "value": "dev"},
    ]
    assert change.after["cluster_size"] == "Small"  # the full-replace edit kept the rest


def test_not_found_names_the_id(backend_for: Make) -> None:
    b = backend_for("not_found")
    with pytest.raises(NotFound, match="nope-123"):
        b.workspace.get(ObjectKind.CLUSTER, "nope-123")
    with pytest.raises(NotFound, match="404"):
        b.workspace.get(ObjectKind.JOB, "404")


def test_warehouse_autostop_edits_the_whole_object(backend_for: Make) -> None:
    b = backend_for("warehouse_autostop")
    for bad in (5, -1, 10001):
        with pytest.raises(UsageError):
            b.workspace.set_warehouse_autostop(WH["id"], bad)
    change = b.workspace.set_warehouse_autostop(WH["id"], 30)
    assert (change.before["auto_stop_mins"], change.after["auto_stop_mins"]) == (10, 30)
    assert change.action == "editWarehouse" and change.changed
    assert change.after["tags"] == WH["tags"] and change.after["cluster_size"] == "Small"
    if b.replay:  # read-modify-write: the edit carried the whole object, not only the field
        [edit] = b.replay.requests_to("POST", f"/api/2.0/sql/warehouses/{WH['id']}/edit")
        assert edit.body["auto_stop_mins"] == 30
        assert edit.body["name"] == "reports" and edit.body["tags"] == WH["tags"]
        assert edit.body["max_num_clusters"] == 1 and edit.body["warehouse_type"] == "PRO"
