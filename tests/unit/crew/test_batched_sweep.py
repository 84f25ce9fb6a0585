"""A sweep recorded batch by batch writes exactly what a sweep of the whole workspace in one
batch writes (findings, actions, notifications, tickets), and a sweep stopped at a batch
boundary, then run again, leaves that same ledger (no duplicate, nothing lost)."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.local.channels import FileChannel
from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
from lakecrew.adapters.local.lock import FileLocks
from lakecrew.adapters.local.ticket_store import LocalTicketStore
from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.sweep import Sweeper, SweepResult
from lakecrew.testing.crew import cluster, job
from lakecrew.testing.workspace import RecordingAuditSink

from .conftest import INFO, Crew, ms_ago, standard_objects

SETTINGS = {"max_actions": 50, "max_percent": 100}


class Killed(BaseException):
    """The process dies here (not a LakecrewError: the sweep row stays `running`)."""


def _estate(ws: LocalWorkspace) -> None:
    """23 more resources with findings of several rules, owners and severities."""
    ws.load(
        {
            ObjectKind.CLUSTER: [
                cluster(f"c-free-{i}", custom_tags={"owner": f"o{i % 3}@x.example"})
                for i in range(6)
            ]
            + [cluster(f"c-noauto-{i}", autotermination_minutes=0) for i in range(5)]
            + [
                cluster(
                    "c-idle-2",
                    state="RUNNING",
                    last_activity_time=ms_ago(180),
                    start_time=ms_ago(900),
                )
            ],
            ObjectKind.JOB: [job(300 + i, tags={}) for i in range(6)]
            + [job(400 + i, max_retries=0) for i in range(5)],
        }
    )


def _twin(crew: Crew, name: str) -> Crew:
    """The same workspace, with a ledger, tickets, outbox and locks of its own."""
    root = crew.root / name
    return replace(
        crew,
        ledger=DeltaLedgerStore(DeltaStore(root / "lakehouse")),
        tickets=LocalTicketStore(root / "tickets.db"),
        channel=FileChannel(root / "outbox.jsonl"),
        locks=FileLocks(root / "locks"),
        root=root,
    )


def _sweep(
    crew: Crew, chunk: int, *, phase: int = 4, apply: bool = False, stop_at: str | None = None
) -> SweepResult:
    def on_step(step: str) -> None:
        if step == stop_at:
            raise Killed(step)

    deps = crew.deps(**SETTINGS, observe_chunk=chunk)
    return Sweeper(deps).sweep(crew.ws, INFO, phase=phase, apply=apply, on_step=on_step)


def _ledger(crew: Crew) -> dict[str, Any]:
    """The ledger's rows without the sweep ids (a re-run has its own)."""

    def rows(items: list[Any], key: str) -> list[dict[str, Any]]:
        return sorted(
            ({k: v for k, v in asdict(r).items() if k != "sweep_id"} for r in items),
            key=lambda d: str(d[key]),
        )

    lg = crew.ledger
    return {
        "findings": rows(lg.findings(INFO.name), "fingerprint"),
        "actions": rows(lg.actions(INFO.name), "action_id"),
        "history": sorted(str(sorted(r.items())) for r in rows(lg.action_history(), "action_id")),
        "notifications": rows(lg.notifications(INFO.name), "notification_id"),
        "tickets": rows(lg.tickets(INFO.name), "fingerprint"),
        "local_tickets": sorted(
            (t.fingerprint, t.status, t.title, t.body) for t in crew.tickets.list()
        ),
    }


@pytest.fixture
def whole(crew: Crew) -> tuple[SweepResult, dict[str, Any], Crew]:
    _estate(crew.ws)
    one = _twin(crew, "whole")
    result = _sweep(one, 0)
    return result, _ledger(one), crew


def test_batches_of_seven_write_what_one_batch_writes(
    whole: tuple[SweepResult, dict[str, Any], Crew],
) -> None:
    result, expected, crew = whole
    assert result.discovered > 21 and result.finding_count > 14  # several batches of 7
    assert expected["notifications"] and expected["tickets"] and expected["actions"]
    batched = _twin(crew, "batched")
    got = _sweep(batched, 7)
    assert _ledger(batched) == expected
    assert got.finding_count == result.finding_count and got.tickets == result.tickets
    assert [tf.finding.fingerprint for tf in got.findings] == [
        tf.finding.fingerprint for tf in result.findings
    ]
    assert [a.action_id for a in got.plan.actions] == [a.action_id for a in result.plan.actions]
    assert (got.plan.limit, got.plan.refused, got.notifications) == (
        result.plan.limit,
        result.plan.refused,
        result.notifications,
    )


def test_a_sweep_killed_between_batches_then_run_again_leaves_the_same_ledger(
    whole: tuple[SweepResult, dict[str, Any], Crew],
) -> None:
    _, expected, crew = whole
    again = _twin(crew, "crashed")
    with pytest.raises(Killed):
        _sweep(again, 7, stop_at="batch 2")
    assert len(again.ledger.findings(INFO.name)) < len(expected["findings"])  # part written
    assert [s.status for s in again.ledger.sweeps(INFO.name)] == ["running"]
    _sweep(again, 7)
    assert _ledger(again) == expected
    assert sorted(s.status for s in again.ledger.sweeps(INFO.name)) == ["aborted", "completed"]


def test_the_result_keeps_the_first_findings_and_counts_them_all(crew: Crew) -> None:
    _estate(crew.ws)
    deps = crew.deps(**SETTINGS, observe_chunk=5, result_items=4)
    result = Sweeper(deps).sweep(crew.ws, INFO, phase=4, apply=False)
    assert len(result.findings) == 4 and len(result.plan.actions) == 4
    assert result.finding_count == len(crew.ledger.findings(INFO.name)) > 4
    assert result.plan.action_count == len(crew.ledger.actions(INFO.name)) > 4
    out = result.as_dict()
    assert out["findings_total"] == result.finding_count and len(out["findings"]) == 4


def test_an_applying_sweep_in_batches_acts_and_records_like_one_batch(crew: Crew) -> None:
    """--apply holds the runnable actions until the last batch: the same actions are applied
    (terminations first), with the same tickets and notifications, as in one batch."""
    outcomes = []
    for name, chunk in (("one", 0), ("seven", 7)):
        twin = replace(_twin(crew, name), ws=_workspace(crew, crew.root / f"{name}.db"))
        twin.ws.load(standard_objects())
        _estate(twin.ws)
        result = _sweep(twin, chunk, phase=2, apply=True)
        assert result.applied and not result.refused
        outcomes.append(
            ([a.action_id for a in result.applied], _ledger(twin), twin.state(), result.tickets)
        )
        twin.ws.close()
    assert outcomes[0] == outcomes[1]


def _workspace(crew: Crew, path: Path) -> LocalWorkspace:
    return LocalWorkspace(INFO.name, "1234567890123456", path, RecordingAuditSink(), crew.clock)
