"""Acknowledgement from PagerDuty and from ticket state stops escalation (SOP 1.8.4).

PagerDuty: a real HTTP server answers `GET /incidents?incident_key=…` with the recorded
REST API v2 shapes (tests/fixtures/notify/SOURCE.md) and checks the documented auth and
versioning headers. Jira / ServiceNow: the stateful trackers of lakecrew.testing answer
"Get issue" / Table API GET in their documented shapes after a person took the ticket.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from lakecrew.adapters.local.channels import FileChannel
from lakecrew.adapters.local.outbox_store import SqliteOutbox
from lakecrew.adapters.notify.pagerduty_acks import ACCEPT, PagerDutyAcks
from lakecrew.adapters.notify.ticket_index import TicketIndex
from lakecrew.adapters.notify.trackers import JiraTracker, ServiceNowTracker
from lakecrew.ports.ledger import FindingRow
from lakecrew.ports.outbox import AckSource
from lakecrew.ports.tickets import TicketDraft
from lakecrew.services.estate.notify_config import NotifyConfig
from lakecrew.services.notify.pipeline import AlertPipeline
from lakecrew.testing.receivers import Answer, Received, Receiver
from lakecrew.testing.trackers import JiraState, ServiceNowState, basic
from notify.helpers import recorded

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 4, 4, tzinfo=UTC)
NOW = T0 + timedelta(hours=5)  # past the default 4 h escalate_after_hours
PD_TOKEN = "u+PDrestKEYsecret"
WS = "malaria-prod-westafrica"
CONFIG = {
    "channels": {"ops": {"type": "file", "path": "ops.jsonl"},
                 "leads": {"type": "file", "path": "leads.jsonl"}},
    "routes": [{"name": "critical", "match": {"severity": ["critical"]}, "channels": ["ops"],
                "escalate_to": ["leads"]}],
}  # fmt: skip


# the recorded PagerDuty incidents were created 2015-10-06T21:30:42Z and acknowledged at 21:35:12;
# an acknowledgement counts for the finding's open episode only, so there the episode starts first
PD_T0 = datetime(2015, 10, 6, 16, tzinfo=UTC)
PD_NOW = PD_T0 + timedelta(hours=6)


def row(fp: str, first_seen: datetime = T0) -> FindingRow:
    return FindingRow(fp, WS, "cluster.autotermination_missing", "critical", "clusters",
                      f"0101-{fp[:6]}", None, "data-eng@example.org", "tag", "{}", "open",
                      first_seen, first_seen, None, "s1",
                      "Cluster without auto-termination")  # fmt: skip


def pipeline(tmp: Path, rows: list[FindingRow], sources: dict[str, AckSource]) -> AlertPipeline:
    channels = {n: FileChannel(tmp / f"{n}.jsonl") for n in ("ops", "leads")}
    for n, ch in channels.items():
        ch.name = n
    return AlertPipeline(
        NotifyConfig.model_validate(CONFIG),
        SqliteOutbox(tmp / "outbox.db"),
        channels,
        context={WS: ("prod", "malaria")},
        findings=lambda: rows,
        escalate_after_hours=4,
        ack_sources=sources,
    )


def escalated(tmp: Path) -> set[str]:
    return {n.items[0].fingerprint for n in FileChannel(tmp / "leads.jsonl").read()}


ACKED, TRIGGERED, UNKNOWN, RESOLVED = ("a" * 32, "b" * 32, "c" * 32, "d" * 32)


def pagerduty(r: Received) -> Answer:
    key = parse_qs(urlsplit(r.path).query).get("incident_key", [""])[0]
    name = {ACKED: "incidents_acknowledged", TRIGGERED: "incidents_triggered",
            RESOLVED: "incidents_resolved"}.get(key, "incidents_none")  # fmt: skip
    return recorded("pagerduty_rest", name)


def pd_check(method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
    query = parse_qs(urlsplit(path).query)
    if headers.get("Authorization") != f"Token token={PD_TOKEN}":
        return "Authorization: Token token=<REST API key> is required"
    if headers.get("Accept") != ACCEPT or method != "GET" or not path.startswith("/incidents"):
        return "GET /incidents with the version-2 Accept header"
    if query.get("date_range") != ["all"] or len(query.get("incident_key", [""])[0]) != 32:
        return "incident_key and date_range=all"
    return None


def test_pagerduty_acknowledged_or_resolved_incidents_stop_the_escalation(tmp_path: Path) -> None:
    rows = [row(fp, PD_T0) for fp in (ACKED, TRIGGERED, UNKNOWN, RESOLVED)]
    unauthorized = recorded("pagerduty_rest", "unauthorized")
    with Receiver(pagerduty, check=pd_check, invalid=unauthorized) as rx:
        source = PagerDutyAcks("oncall", SecretStr(PD_TOKEN), url=rx.url)
        alerts = pipeline(tmp_path, rows, {"oncall": source})
        report = alerts.tick(PD_NOW)
        assert rx.problems == [] and source.requests == 4
    assert report.acknowledged == 2 and report.ack_errors == []
    assert escalated(tmp_path) == {TRIGGERED, UNKNOWN}
    acks = alerts.store.acks()
    assert acks[ACKED].by == "Earline Greenholt" and acks[ACKED].source == "pagerduty:oncall"
    assert acks[ACKED].at == datetime(2015, 10, 6, 21, 35, 12, tzinfo=UTC)
    assert "resolved" in acks[RESOLVED].note
    alerts.tick(PD_NOW + timedelta(hours=1))  # acknowledged findings are not asked again
    assert escalated(tmp_path) == {TRIGGERED, UNKNOWN}


def test_an_unreadable_pagerduty_is_said_and_the_findings_still_escalate(tmp_path: Path) -> None:
    with Receiver(recorded("pagerduty_rest", "unauthorized")) as rx:
        source = PagerDutyAcks("oncall", SecretStr(PD_TOKEN), url=rx.url)
        report = pipeline(tmp_path, [row(ACKED)], {"oncall": source}).tick(NOW)
    assert report.ack_errors and "HTTP 401" in report.ack_errors[0]
    assert PD_TOKEN not in json.dumps(report.as_dict())
    assert escalated(tmp_path) == {ACKED}  # unknown acknowledgement: escalate (the safe side)


def draft(fp: str) -> TicketDraft:
    rule, title = "cluster.autotermination_missing", "Cluster without auto-termination"
    return TicketDraft(
        fp, WS, rule, f"0101-{fp[:6]}", "critical", "data-eng@example.org", title, "b"
    )


def test_a_ticket_taken_in_hand_in_jira_or_servicenow_stops_the_escalation(tmp_path: Path) -> None:
    jira_state = JiraState(basic("bot@example.org", "jira-tok"))
    sn_state = ServiceNowState(basic("lakecrew", "sn-pass"))
    with (
        Receiver(jira_state, check=jira_state.check) as jrx,
        Receiver(sn_state, check=sn_state.check) as srx,
    ):
        jira = JiraTracker(
            TicketIndex(tmp_path / "t.db", "jira"),
            url=jrx.url,
            email="bot@example.org",
            token=SecretStr("jira-tok"),
            project="DATA",
        )
        snow = ServiceNowTracker(TicketIndex(tmp_path / "t.db", "servicenow"), url=srx.url,
                                 username="lakecrew", password=SecretStr("sn-pass"),
                                 groups=lambda owner: None)  # fmt: skip
        for fp in (ACKED, TRIGGERED):
            jira.upsert(draft(fp), T0)
        snow.upsert(draft(RESOLVED), T0)
        assert jira.acks([ACKED, TRIGGERED], NOW) == []  # still To Do: nobody has it
        jira_state.take("DATA-1", "Ada Obi")
        sn_state.take("INC0010001", "kofi.mensah")
        rows = [row(fp) for fp in (ACKED, TRIGGERED, RESOLVED)]
        alerts = pipeline(tmp_path, rows, {"jira": jira, "servicenow": snow})
        report = alerts.tick(NOW)
        assert jrx.problems == [] and srx.problems == []
    assert report.acknowledged == 2 and report.ack_errors == []
    assert escalated(tmp_path) == {TRIGGERED}
    acks = alerts.store.acks()
    assert (acks[ACKED].by, acks[ACKED].source) == ("Ada Obi", "jira")
    assert acks[ACKED].at == datetime(2026, 12, 4, 9, 15, 2, 114000, tzinfo=UTC)
    assert acks[RESOLVED].by == "kofi.mensah" and "state 2" in acks[RESOLVED].note
