"""Owner resolution, fingerprint-stable ledger upserts, outbox, tickets, locks."""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest

from lakecrew.adapters.local.channels import ConsoleChannel, FileChannel
from lakecrew.core.errors import Conflict, DataError
from lakecrew.core.resources import Resource
from lakecrew.ports.notify import Delivery, Notification
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.observer import Observer
from lakecrew.services.crew.policy_step import PolicyStep, resolve_owner
from lakecrew.services.crew.sweep import Sweeper
from lakecrew.services.policy.engine import Engine
from lakecrew.testing.crew import cluster, job

from .conftest import INFO, PACK, Crew


def _res(kind: str, data: dict[str, object]) -> Resource:
    return Resource(kind, "x", "ws", data)


def test_owner_resolution_order() -> None:
    c = cluster(
        "c1",
        custom_tags={"owner": "tagged@x"},
        single_user_name="single@x",
        creator_user_name="creator@x",
    )
    assert resolve_owner(_res("clusters", c), "ws@x") == ("tagged@x", "tag")
    c["custom_tags"] = {}
    assert resolve_owner(_res("clusters", c), "ws@x") == ("single@x", "run_as")
    del c["single_user_name"]
    assert resolve_owner(_res("clusters", c), "ws@x") == ("creator@x", "creator")
    del c["creator_user_name"]
    assert resolve_owner(_res("clusters", c), "ws@x") == ("ws@x", "workspace")
    j = job(1, tags={})
    assert resolve_owner(_res("jobs", j), "ws@x") == ("runner@x.example", "run_as")
    assert resolve_owner(None, "ws@x") == ("ws@x", "workspace")


def test_findings_keep_fingerprint_and_first_seen_then_resolve(crew: Crew) -> None:
    crew.sweep(1)
    first = {r.fingerprint: r for r in crew.ledger.findings()}
    crew.clock.advance(hours=1)
    crew.sweep(1)
    rows = crew.ledger.findings()
    second = {r.fingerprint: r for r in rows}
    assert len(rows) == len(second)  # upserted on the fingerprint, never duplicated
    assert first.keys() <= second.keys()  # (c-big became idle meanwhile: one new finding)
    for fp, old in first.items():
        assert second[fp].first_seen == old.first_seen
        assert second[fp].last_seen == old.last_seen + timedelta(hours=1)
    crew.ws.set_tags(ObjectKind.CLUSTER, "c-notags", {"project": "p", "owner": "o@x"})
    crew.sweep(1)
    tag_fp = next(fp for fp, r in first.items() if r.rule_id == "cluster.tags_missing")
    row = next(r for r in crew.ledger.findings() if r.fingerprint == tag_fp)
    assert row.status == "resolved" and row.resolved_at == crew.clock.now()


def test_sweep_fails_loudly_when_not_everything_was_evaluated(crew: Crew) -> None:
    class DroppingEngine(Engine):
        def evaluate(self, resources, ctx):  # type: ignore[no-untyped-def]
            return super().evaluate([r for r in resources if r.resource_type != "jobs"], ctx)

    snap = Observer(crew.clock).observe(crew.ws, INFO)
    with pytest.raises(DataError, match=r"discovered 7 resources but evaluated 5 \(jobs"):
        PolicyStep(DroppingEngine(PACK)).run(snap, [], [], "s")


def test_outbox_groups_per_owner_and_severity_without_repeats(crew: Crew) -> None:
    crew.sweep(1)
    notes = crew.channel.read()
    keys = [(n.owner, n.severity) for n in notes]
    assert len(keys) == len(set(keys)) and notes
    assert all(r.status == "delivered" for r in crew.ledger.notifications())
    assert any("cluster.tags_missing" in n.body for n in notes if n.owner == "creator@x.example")
    crew.sweep(1)
    assert len(crew.channel.read()) == len(notes)  # nothing new, nothing sent


def test_undelivered_notifications_are_retried(crew: Crew) -> None:
    class Down:
        name = "down"

        def send(self, n: Notification) -> Delivery:
            return Delivery(False, "channel unavailable")

    deps = crew.deps()
    from dataclasses import replace

    Sweeper(replace(deps, notifier=Down())).sweep(crew.ws, INFO, phase=1, apply=False)
    rows = crew.ledger.notifications()
    assert rows and {r.status for r in rows} == {"failed"} and all(r.attempts == 1 for r in rows)
    crew.sweep(1)
    assert {r.status for r in crew.ledger.notifications()} == {"delivered"}
    assert len(crew.channel.read()) == len(rows)


def test_channels_write_and_report_failures(tmp_path) -> None:  # type: ignore[no-untyped-def]
    n = Notification("id1", "ws", "o@x", "warning", "subj", "body")
    buf = io.StringIO()
    assert ConsoleChannel(buf).send(n).delivered and "subj" in buf.getvalue()
    (tmp_path / "blocked").write_text("a file where a folder should be")
    bad = FileChannel(tmp_path / "blocked" / "out.jsonl").send(n)
    assert not bad.delivered and bad.error and "blocked" in bad.error


def test_one_ticket_per_fingerprint_resolved_with_the_finding(crew: Crew) -> None:
    crew.sweep(2)
    crew.sweep(2)
    tickets = crew.tickets.list()
    assert len({t.fingerprint for t in tickets}) == len(tickets) > 0
    idle = next(t for t in tickets if t.rule_id == "cluster.idle")
    assert "Remediation" in idle.body and "Rollback" in idle.body
    result = crew.sweep(2, apply=True)
    assert result.applied
    crew.sweep(2)
    idle_after = crew.tickets.get(idle.fingerprint)
    assert idle_after is not None and idle_after.status == "resolved"
    assert len(crew.tickets.list()) == len(tickets)
    mirrored = {t.fingerprint: t.status for t in crew.ledger.tickets()}
    assert mirrored[idle.fingerprint] == "resolved"


def test_ticket_reopens_when_the_finding_returns(crew: Crew) -> None:
    crew.sweep(2, apply=True)
    crew.sweep(2)
    crew.ws.load({ObjectKind.CLUSTER: [cluster("c-notags", custom_tags={})]})
    crew.sweep(1)
    reopened = [t for t in crew.tickets.list() if t.rule_id == "cluster.tags_missing"]
    assert len(reopened) == 1 and reopened[0].status == "open"


def test_second_sweep_of_a_workspace_is_refused_with_the_holder_pid(crew: Crew) -> None:
    with crew.locks.acquire(INFO.name), pytest.raises(Conflict, match=f"pid {os.getpid()}"):
        crew.sweep(1)
    crew.sweep(1)  # released
