"""A sweep with `notifications:` routes: news goes through the outbox to the routed channels,
warnings wait for the daily digest, an unacknowledged critical escalates after the pack's
`escalate_after_hours`, and `ack` stops it. File channels: no network here."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.local.channels import FileChannel
from lakecrew.adapters.local.outbox_store import SqliteOutbox
from lakecrew.services.crew.sweep import Sweeper
from lakecrew.services.estate.notify_config import NotifyConfig
from lakecrew.services.notify.pipeline import AlertPipeline

from .conftest import INFO, Crew

CONFIG: dict[str, Any] = {
    "channels": {
        "ops": {"type": "file", "path": "ops.jsonl"},
        "leads": {"type": "file", "path": "leads.jsonl"},
    },
    "routes": [
        {"name": "critical", "match": {"severity": ["critical"]}, "channels": ["ops"],
         "escalate_to": ["leads"]},
        {"name": "warnings", "match": {"severity": ["warning"]}, "channels": ["ops"],
         "digest": "daily"},
    ],
}  # fmt: skip


def _critical_idle(crew: Crew) -> Any:
    """The crew's deps with cluster.idle made critical (the pack is the organisation's to tune)."""
    deps = crew.deps()
    rules = [r.model_copy(update={"severity": "critical"}) if r.id == "cluster.idle" else r
             for r in deps.pack.rules]  # fmt: skip
    pack = deps.pack.model_copy(update={"rules": rules})
    from lakecrew.services.policy.engine import Engine

    return replace(deps, pack=pack, engine=Engine(pack))


def _pipeline(crew: Crew, tmp: Path) -> tuple[AlertPipeline, dict[str, FileChannel]]:
    config = NotifyConfig.model_validate(CONFIG)
    channels = {n: FileChannel(tmp / f"{n}.jsonl") for n in ("ops", "leads")}
    for n, ch in channels.items():
        ch.name = n
    alerts = AlertPipeline(
        config,
        SqliteOutbox(tmp / "outbox.db"),
        channels,
        context={INFO.name: (INFO.environment, INFO.project)},
        findings=lambda: crew.ledger.findings(None),
        escalate_after_hours=4,
    )
    return alerts, channels


def test_sweep_routes_news_digests_warnings_and_escalates_unacknowledged_criticals(
    crew: Crew, tmp_path: Path
) -> None:
    alerts, channels = _pipeline(crew, tmp_path)
    deps = replace(_critical_idle(crew), alerts=alerts)
    result = Sweeper(deps).sweep(crew.ws, INFO, phase=1, apply=False)
    sev = {tf.finding.severity for tf in result.findings}
    assert sev == {"critical", "warning"}, sev
    ops = channels["ops"].read()
    assert ops, "critical/immediate news reached the routed channel"
    assert all(n.severity == "critical" for n in ops)  # warnings wait for the digest
    assert all(len(n.items) == 1 and n.items[0].event == "new" for n in ops)
    assert channels["leads"].read() == []
    # a second sweep with nothing new sends nothing again
    Sweeper(deps).sweep(crew.ws, INFO, phase=1, apply=False)
    assert len(channels["ops"].read()) == len(ops)

    # the next day: the digest of yesterday's warnings, and escalation after 4 hours
    crew.clock.advance(days=1)
    alerts.tick(crew.clock.now())
    digests = [n for n in channels["ops"].read() if n.kind == "digest"]
    assert len(digests) == 1 and all(i.severity == "warning" for i in digests[0].items)
    assert digests[0].summary is None  # no model configured: the deterministic digest
    escalated = channels["leads"].read()
    assert {n.items[0].fingerprint for n in escalated} == {n.items[0].fingerprint for n in ops}
    assert all(n.kind == "escalation" for n in escalated)
    alerts.tick(crew.clock.now())  # once per open episode
    assert len(channels["leads"].read()) == len(escalated)


def test_an_acknowledged_critical_does_not_escalate(crew: Crew, tmp_path: Path) -> None:
    alerts, channels = _pipeline(crew, tmp_path)
    deps = replace(_critical_idle(crew), alerts=alerts)
    result = Sweeper(deps).sweep(crew.ws, INFO, phase=1, apply=False)
    for tf in result.findings:
        if tf.finding.severity == "critical":
            alerts.ack(tf.finding.fingerprint, "oncall@example.org", crew.clock.now())
    crew.clock.advance(hours=5)
    alerts.tick(crew.clock.now())
    assert channels["leads"].read() == []
    rows = json.loads(json.dumps([n.items[0].fingerprint for n in channels["ops"].read()]))
    assert rows


def test_outgoing_evidence_goes_through_the_one_redactor() -> None:
    from lakecrew.services.notify.items import scrub, scrub_evidence

    raw = json.dumps({"patient_phone": "+231 555 0100", "token": "dapi" + "a" * 32, "n": 3})
    out = json.loads(scrub_evidence(raw))
    assert out["n"] == 3
    assert "+231" not in json.dumps(out) and "dapi" not in json.dumps(out)
    assert "dapi" not in scrub("token dapi" + "b" * 32 + " leaked")


@pytest.mark.integration
def test_a_tracker_that_is_down_is_said_by_the_sweep_and_its_run_record(
    crew: Crew, tmp_path: Path
) -> None:
    """No silent success: Jira down → the sweep's result and its ledger row carry the error,
    and the CLI's check exits 1 (the local ticket is kept and synced by the next sweep)."""
    from pydantic import SecretStr

    from lakecrew.adapters.notify.ticket_index import TicketIndex
    from lakecrew.adapters.notify.trackers import JiraTracker
    from lakecrew.core.errors import Transient
    from lakecrew.services.crew.sweep import raise_if_unsynced
    from lakecrew.services.notify.tickets import RoutedTickets
    from lakecrew.testing.receivers import Receiver
    from lakecrew.testing.trackers import JiraState, basic

    config = NotifyConfig.model_validate(
        {
            "trackers": {"jira": {"type": "jira", "url": "https://x.atlassian.net",
                                  "email": "bot@example.org", "token": {"scope": "s", "key": "k"},
                                  "project": "DATA"}},
            "routes": [{"name": "all", "match": {}, "tickets": ["jira"]}],
        }
    )  # fmt: skip
    state = JiraState(basic("bot@example.org", "tok"))
    with Receiver(state, check=state.check) as rx:
        index = TicketIndex(tmp_path / "tickets.db", "jira")
        jira = JiraTracker(
            index, url=rx.url, email="bot@example.org", token=SecretStr("tok"), project="DATA"
        )
        routed = RoutedTickets(
            crew.tickets,
            {"jira": jira},
            config,
            {INFO.name: (INFO.environment, INFO.project)},
            holds=lambda name, fp: index.get(fp) is not None,
        )
        deps = replace(crew.deps(), tickets=routed)
        rx.down = True
        down = Sweeper(deps).sweep(crew.ws, INFO, phase=1, apply=False)
        assert down.tickets and down.sync_errors
        assert all(e.startswith("tickets jira: ") and "503" in e for e in down.sync_errors)
        assert down.as_dict()["sync_errors"] == list(down.sync_errors)
        row = crew.ledger.sweeps(INFO.name)[-1]
        assert row.status == "completed" and "jira" in (row.error or "")
        with pytest.raises(Transient, match="sync error"):
            raise_if_unsynced([down])
        rx.down = False
        crew.clock.advance(hours=1)
        again = Sweeper(deps).sweep(crew.ws, INFO, phase=1, apply=False)
        assert again.sync_errors == () and state.issues  # the backlog reached Jira
        raise_if_unsynced([again])


def test_an_ack_ends_when_the_finding_resolves_and_recurs(tmp_path: Path) -> None:
    """`lakecrew ack` holds for the open episode it was given in: resolved, then back (a new
    first_seen) → the finding escalates again, once for the new episode."""
    from datetime import UTC, datetime, timedelta

    from lakecrew.ports.ledger import FindingRow

    t0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
    row = FindingRow(
        "f" * 32, INFO.name, "cluster.idle", "critical", "cluster", "0101-a", None, "ops",
        "tag", "{}", "open", t0, t0, None, "s1", "Idle cluster",
    )  # fmt: skip
    rows = [row]
    config = NotifyConfig.model_validate(CONFIG)
    leads = FileChannel(tmp_path / "leads.jsonl")
    alerts = AlertPipeline(
        config, SqliteOutbox(tmp_path / "outbox.db"),
        {"ops": FileChannel(tmp_path / "ops.jsonl"), "leads": leads},
        context={INFO.name: (INFO.environment, INFO.project)},
        findings=lambda: rows, escalate_after_hours=4,
    )  # fmt: skip
    alerts.ack(row.fingerprint, "oncall@example.org", t0 + timedelta(hours=1))
    alerts.tick(t0 + timedelta(hours=6))
    assert leads.read() == []  # acknowledged: no escalation
    back = t0 + timedelta(days=2)  # it resolved, then came back: a new episode
    rows[0] = replace(row, first_seen=back, last_seen=back)
    alerts.tick(back + timedelta(hours=3))
    assert leads.read() == []  # not yet 4 hours
    alerts.tick(back + timedelta(hours=5))
    (escalated,) = leads.read()
    assert escalated.kind == "escalation" and escalated.items[0].fingerprint == row.fingerprint
    alerts.ack(row.fingerprint, "oncall@example.org", back + timedelta(hours=6))
    rows[0] = replace(rows[0], first_seen=back + timedelta(days=1))  # recurs once more
    alerts.tick(back + timedelta(days=1, hours=5))
    assert len(leads.read()) == 2  # the newest ack was older than this episode too
