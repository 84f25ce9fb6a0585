"""The ledger's history only grows; rollbacks stay rolled back; interrupted rollbacks and killed
sweeps are settled; no secret or patient identifier is stored in any file the crew writes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lakecrew.core.errors import SafetyRefusal
from lakecrew.ports.ledger import SweepRow
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.service import CrewService
from lakecrew.testing.crew import DEV_TAGS, cluster, job
from lakecrew.testing.workspace import T0

from .conftest import INFO, Crew, ms_ago

TOKEN = "dapi0123456789abcdef0123456789abcd"
PASSWORD = "Hunter2-Correct-Horse"
PHONE = "+234 803 555 0199"


def _files_holding(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path.relative_to(root)}: {n}" for n in needles if n.encode() in data]
    return hits


def test_a_plan_only_sweep_does_not_undo_a_rollback(crew: Crew) -> None:
    first = crew.sweep(2, apply=True)
    svc = CrewService(crew.deps())
    idle = next(a for a in first.applied if a.resource_id == "c-idle")
    svc.rollback(svc.action(idle.action_id), crew.ws)
    crew.sweep(1)  # plan only: used to overwrite the rolled_back row with `skipped`
    crew.sweep(2)
    row = svc.action(idle.action_id)
    assert row.status == "rolled_back" and row.before_json is not None
    again = crew.sweep(2, apply=True)
    assert idle.action_id not in {a.action_id for a in again.applied}
    assert crew.ws.get(ObjectKind.CLUSTER, "c-idle").data["state"] == "RUNNING"
    history = [r.status for r in crew.ledger.action_history() if r.action_id == idle.action_id]
    assert history[:4] == ["intent", "applied", "rolling_back", "rolled_back"]
    # a person re-approves: the next --apply sweep acts again
    svc.approve(idle.action_id, approver="DGB", reason="the cluster is idle again")
    third = crew.sweep(2, apply=True)
    assert idle.action_id in {a.action_id for a in third.applied}
    statuses = [r.status for r in crew.ledger.action_history() if r.action_id == idle.action_id]
    assert statuses[-3:] == ["approved", "intent", "applied"]


def test_an_interrupted_rollback_is_finished_by_resume_at_any_phase(crew: Crew) -> None:
    before = crew.ws.get(ObjectKind.CLUSTER, "c-idle").data
    first = crew.sweep(2, apply=True)
    svc = CrewService(crew.deps())
    idle = svc.action(next(a for a in first.applied if a.resource_id == "c-idle").action_id)
    # the state a kill leaves between recording `rolling_back` and restoring
    crew.ledger.record_action(replace(idle, status="rolling_back", reason="restoring"))
    crew.sweep(1)  # a phase-1 sweep neither settles it nor blocks the resume
    with pytest.raises(SafetyRefusal, match="--resume"):
        svc.rollback(svc.action(idle.action_id), crew.ws)
    done = svc.rollback(svc.action(idle.action_id), crew.ws, resume=True)
    assert done.status == "rolled_back"
    assert crew.ws.get(ObjectKind.CLUSTER, "c-idle").data == before


def test_a_killed_sweep_row_is_closed_as_aborted_by_the_next_run(crew: Crew) -> None:
    dead = SweepRow("dead-sweep", INFO.name, 2, True, T0, None, 0, 0, 0, 0, "running")
    crew.ledger.put_sweep(dead)
    result = crew.sweep(1)
    rows = {r.sweep_id: r for r in crew.ledger.sweeps(INFO.name)}
    assert rows["dead-sweep"].status == "aborted"
    assert result.sweep_id in (rows["dead-sweep"].error or "")
    assert rows[result.sweep_id].status == "completed"


def test_no_secret_or_pii_reaches_any_file_the_crew_writes(crew: Crew) -> None:
    params = [f"--token={TOKEN}", f"--db-url=postgresql://etl:{PASSWORD}@db/x"]
    crew.ws.load(
        {
            ObjectKind.JOB: [
                job(
                    101,
                    tasks=[
                        {
                            "task_key": "main",
                            "job_cluster_key": "jc",
                            "spark_python_task": {"python_file": "x.py", "parameters": params},
                        }
                    ],
                    email_notifications={},
                    tags={**DEV_TAGS, "patient_phone": PHONE},
                )
            ],
            ObjectKind.CLUSTER: [
                cluster(
                    "c-idle",
                    state="RUNNING",
                    last_activity_time=ms_ago(120),
                    start_time=ms_ago(600),
                    spark_env_vars={"API_TOKEN": TOKEN, "DB_PASSWORD": PASSWORD},
                    custom_tags={"contact_number": PHONE},
                )
            ],
            ObjectKind.WAREHOUSE: [
                {
                    "id": "wh1",
                    "name": "reports",
                    "state": "RUNNING",
                    "auto_stop_mins": 0,
                    "cluster_size": "Small",
                    "creator_name": "creator@x.example",
                    "tags": {
                        "custom_tags": [
                            {"key": "patient_phone", "value": PHONE},
                            {"key": "api_token", "value": TOKEN},
                        ]
                    },
                }
            ],
            ObjectKind.INSTANCE_POOL: [
                {
                    "instance_pool_id": "pool1",
                    "instance_pool_name": "etl-pool",
                    "node_type_id": "m5.large",
                    "custom_tags": {"contact_number": PHONE, "db_password": PASSWORD},
                }
            ],
        }
    )
    before_job = crew.ws.get(ObjectKind.JOB, "101").data
    result = crew.sweep(3, apply=True)
    applied = {(a.action, a.resource_id) for a in result.applied}
    assert {("update_job_settings", "101"), ("terminate", "c-idle")} <= applied
    svc = CrewService(crew.deps())
    rows = [r for r in crew.ledger.actions() if r.resource_id in ("101", "c-idle")]
    text = json.dumps([r.__dict__ for r in rows], default=str)
    assert TOKEN not in text and PASSWORD not in text and PHONE not in text
    # the rollback restores the job whole: redacted values come back from the live object
    order = [r.action_id for r in crew.ledger.action_history() if r.status == "applied"]
    for action_id in reversed([a for a in order if svc.action(a).resource_id == "101"]):
        svc.rollback(svc.action(action_id), crew.ws)
    got = crew.ws.get(ObjectKind.JOB, "101").data
    assert json.dumps(got, sort_keys=True, indent=1) == json.dumps(
        before_job, sort_keys=True, indent=1
    )
    # every file lakecrew wrote outside the workspace store itself (which holds the objects)
    crew.ws.close()
    leaks = [h for h in _files_holding(crew.root, [TOKEN, PASSWORD, PHONE])]
    assert [h for h in leaks if not h.startswith("workspace.db")] == []


def test_an_unapproved_workspace_is_swept_at_phase_1_whatever_is_asked(crew: Crew) -> None:
    from lakecrew.services.crew.service import Target

    before = crew.state()
    svc = CrewService(crew.deps())
    [result] = svc.sweep([Target(crew.ws, INFO, 2, max_phase=1)], apply=True, phase=3)
    assert not result.applied and crew.state() == before
    assert crew.ledger.sweeps(INFO.name)[0].phase == 1
    [acted] = svc.sweep([Target(crew.ws, INFO, 2)], apply=True)
    assert acted.applied
