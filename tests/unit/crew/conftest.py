"""A small crew over real local adapters: a LocalWorkspace, the Delta ledger, a ticket store,
a file channel and file locks, at a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.local.channels import FileChannel
from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
from lakecrew.adapters.local.lock import FileLocks
from lakecrew.adapters.local.ticket_store import LocalTicketStore
from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.ports.clock import FixedClock
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.observer import Observer
from lakecrew.services.crew.plan import CrewSettings
from lakecrew.services.crew.snapshot import WorkspaceInfo
from lakecrew.services.crew.sweep import CrewDeps, Sweeper, SweepResult
from lakecrew.services.policy.engine import Engine
from lakecrew.services.policy.loader import load_pack
from lakecrew.testing.crew import cluster, job
from lakecrew.testing.workspace import T0, RecordingAuditSink

INFO = WorkspaceInfo(
    "malaria-dev-westafrica", "dev", "ws-owner@x.example", "malaria", "Health", "1234567890123456"
)
PACK = load_pack().pack


def ms_ago(minutes: float) -> int:
    return int((T0 - timedelta(minutes=minutes)).timestamp() * 1000)


@dataclass
class Crew:
    ws: LocalWorkspace
    ledger: DeltaLedgerStore
    tickets: LocalTicketStore
    channel: FileChannel
    clock: FixedClock
    locks: FileLocks
    root: Path
    settings: CrewSettings

    def deps(self, **settings: Any) -> CrewDeps:
        return CrewDeps(
            pack=PACK,
            engine=Engine(PACK),
            ledger=self.ledger,
            notifier=self.channel,
            tickets=self.tickets,
            locks=self.locks,
            observer=Observer(self.clock),
            clock=self.clock,
            settings=CrewSettings(**settings) if settings else self.settings,
        )

    def sweep(self, phase: int, apply: bool = False, **settings: Any) -> SweepResult:
        return Sweeper(self.deps(**settings)).sweep(self.ws, INFO, phase=phase, apply=apply)

    def state(self) -> dict[str, Any]:
        return {k.value: {o.object_id: o.data for o in self.ws.list(k)} for k in ObjectKind}


def standard_objects() -> dict[ObjectKind, list[dict[str, Any]]]:
    """idle cluster, untagged cluster, oversized running cluster, a job missing retries and
    notifications, a compliant cluster and a compliant job."""
    no_tags = cluster("c-notags", custom_tags={"cost_center": "Health", "environment": "dev"})
    return {
        ObjectKind.CLUSTER: [
            cluster(
                "c-idle", state="RUNNING", last_activity_time=ms_ago(120), start_time=ms_ago(600)
            ),
            no_tags,
            cluster(
                "c-big",
                state="RUNNING",
                autoscale={"min_workers": 1, "max_workers": 4},
                last_activity_time=ms_ago(5),
            ),
            cluster("c-ok"),
        ],
        ObjectKind.JOB: [
            job(
                101,
                tasks=[
                    {
                        "task_key": "main",
                        "job_cluster_key": "jc",
                        "notebook_task": {"notebook_path": "/x"},
                    }
                ],
                email_notifications={},
            ),
            job(102),
        ],
    }


@pytest.fixture
def crew(tmp_path: Path) -> Iterator[Crew]:
    clock = FixedClock(T0)
    ws = LocalWorkspace(
        INFO.name, "1234567890123456", tmp_path / "workspace.db", RecordingAuditSink(), clock
    )
    ws.load(standard_objects())
    yield Crew(
        ws=ws,
        ledger=DeltaLedgerStore(DeltaStore(tmp_path / "lakehouse")),
        tickets=LocalTicketStore(tmp_path / "tickets.db"),
        channel=FileChannel(tmp_path / "outbox.jsonl"),
        clock=clock,
        locks=FileLocks(tmp_path / "locks"),
        root=tmp_path,
        settings=CrewSettings(max_actions=50, max_percent=100),
    )
    ws.close()
