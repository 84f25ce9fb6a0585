"""SIEM forwarding through the durable outbox: OCSF JSON lines to a file, and Splunk HEC events
to a real local HTTP server that fails once (the outbox retries; the event ids stay stable)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from lakecrew.adapters.local.outbox_store import SqliteOutbox
from lakecrew.adapters.notify.siem import SiemFileChannel, SplunkHecChannel
from lakecrew.services.notify.outbox import Dispatcher, OutboxSettings
from lakecrew.services.security.forward import forward, security_notification
from lakecrew.testing.receivers import Answer, Receiver

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
HEC_TOKEN = "00000000-1111-2222-3333-444444444444"
FINDINGS = [
    {
        "rule_id": "security.token.no_expiry",
        "resource": "token/5684c955",
        "message": "token of amina@example.org never expires",
        "evidence": {"owner": "amina@example.org"},
    },
    {
        "rule_id": "security.audit.delivery_gap",
        "resource": "workspace/malaria-prod-westafrica",
        "message": "no audit rows for 30 hours",
    },
]


def _hec_ok(r: object) -> Answer:
    return Answer(200, b'{"text":"Success","code":0}')


def test_splunk_hec_through_the_outbox_with_a_retry(tmp_path: Path) -> None:
    store = SqliteOutbox(tmp_path / "outbox.db")
    note = security_notification("malaria-prod-westafrica", "prod", FINDINGS)
    fail_once = [Answer(503, b'{"text":"Server is busy","code":9}')]
    with Receiver(_hec_ok, script=fail_once) as rx:
        hec = SplunkHecChannel("siem", rx.url, SecretStr(HEC_TOKEN), index="security")
        assert forward(store, "siem", note, NOW) == 1
        assert forward(store, "siem", note, NOW) == 0  # the same findings: queued once
        d = Dispatcher(store, {"siem": hec}, OutboxSettings(base_delay=1))
        first = d.drain(NOW)
        second = d.drain(NOW + timedelta(minutes=10))
        assert first.as_dict()["delivered"] == 0 and second.as_dict()["delivered"] == 1
        assert len(rx.requests) == 2
        last = rx.requests[-1]
    assert last.path == "/services/collector/event"
    assert last.headers["Authorization"] == f"Splunk {HEC_TOKEN}"
    events = [json.loads(line) for line in last.body.decode().splitlines()]
    assert [e["event"]["finding_info"]["types"][0] for e in events] == [
        "security.token.no_expiry",
        "security.audit.delivery_gap",
    ]
    first_event = events[0]
    assert (
        first_event["index"] == "security" and first_event["sourcetype"] == "ocsf:detection_finding"
    )
    ocsf = first_event["event"]
    assert ocsf["class_uid"] == 2004 and ocsf["activity_id"] == 1 and ocsf["type_uid"] == 200401
    assert ocsf["severity_id"] == 4 and ocsf["metadata"]["uid"] == f"{note.notification_id}:0"
    assert "amina@example.org" not in last.body.decode()  # e-mails are redacted on the way out
    retried = json.loads(rx.requests[0].body.decode().splitlines()[0])
    assert retried["event"]["metadata"]["uid"] == ocsf["metadata"]["uid"]  # stable across retries


def test_ocsf_json_lines_file(tmp_path: Path) -> None:
    store = SqliteOutbox(tmp_path / "outbox.db")
    path = tmp_path / "siem" / "lakecrew.ocsf.jsonl"
    forward(store, "siem-file", security_notification("ws", "prod", FINDINGS), NOW)
    Dispatcher(store, {"siem-file": SiemFileChannel("siem-file", path)}).drain(NOW)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 2 and {x["class_name"] for x in lines} == {"Detection Finding"}
    assert lines[1]["finding_info"]["src_url"] == "SOP 1.4.4"
