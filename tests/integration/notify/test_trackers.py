"""Jira Cloud v3 and ServiceNow against stateful local servers: create with ADF / required fields,
no request for an unchanged ticket, comment on change, transition to Done on resolve, reopen on
recurrence, recreate a deleted issue (404), and errors (400, 401, 429, 5xx) as the project's
error classes without the token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from lakecrew.adapters.notify.ticket_index import TicketIndex
from lakecrew.adapters.notify.trackers import JiraTracker, ServiceNowTracker
from lakecrew.core.errors import DataError, PermissionDenied, Transient
from lakecrew.ports.tickets import TicketDraft
from lakecrew.testing.receivers import Receiver
from lakecrew.testing.trackers import JiraState, ServiceNowState, basic
from notify.helpers import FP, HOSTILE, recorded

pytestmark = pytest.mark.integration
AT = datetime(2026, 12, 4, 12, tzinfo=UTC)
TOKEN = "jira-api-token-SECRET"


def draft(body: str = "Context\n  evidence: {}", severity: str = "critical") -> TicketDraft:
    return TicketDraft(
        FP,
        "malaria-prod-westafrica",
        "cluster.idle",
        "0101-abc",
        severity,
        "data-eng@example.org",
        f"[{severity}] Idle cluster {HOSTILE}",
        body + "\nRollback\n  `lakecrew rollback a1`",
    )


def _jira(tmp: Path, url: str) -> JiraTracker:
    return JiraTracker(
        TicketIndex(tmp / "tickets.db", "jira"),
        url=url,
        email="bot@example.org",
        token=SecretStr(TOKEN),
        project="DATA",
        component="lakecrew",
    )


def test_jira_lifecycle_create_skip_comment_resolve_reopen_and_recreate(tmp_path: Path) -> None:
    state = JiraState(basic("bot@example.org", TOKEN))
    with Receiver(state, check=state.check) as rx:
        jira = _jira(tmp_path, rx.url)
        t = jira.upsert(draft(), AT)
        assert t.key == "DATA-1" and rx.problems == []
        fields = state.issues["DATA-1"]["fields"]
        assert f"lakecrew-fp-{FP}" in fields["labels"] and fields["components"] == [
            {"name": "lakecrew"}
        ]
        texts = [
            n["text"]
            for p in fields["description"]["content"]
            for n in p["content"]
            if n["type"] == "text"
        ]
        assert any("lakecrew rollback a1" in x for x in texts)
        n = len(rx.requests)
        jira.upsert(draft(), AT)
        assert len(rx.requests) == n  # unchanged: no request
        jira.upsert(draft('Context\n  evidence: {"idle_minutes": 300}'), AT)
        assert len(state.issues["DATA-1"]["comments"]) == 1
        jira.resolve(FP, "finding resolved (verified by sweep s2)", AT)
        assert state.issues["DATA-1"]["status"] == "Done"
        assert len(state.issues["DATA-1"]["comments"]) == 2  # the resolution, in the same request
        jira.upsert(draft(), AT)  # recurrence
        assert state.issues["DATA-1"]["status"] == "To Do"
        state.delete("DATA-1")
        again = jira.upsert(draft("Context\n  changed again"), AT)
        assert again.key == "DATA-2"  # the deleted issue (404) was created anew
    assert rx.problems == []
    assert all(TOKEN not in r.body.decode() for r in rx.requests)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (recorded("jira", "invalid"), DataError),
        (recorded("jira", "unauthorized"), PermissionDenied),
        (recorded("teams", "throttled"), Transient),
    ],
)
def test_jira_errors_are_classified_without_the_token(
    tmp_path: Path, answer: object, error: type[Exception]
) -> None:
    with Receiver(answer) as rx, pytest.raises(error) as info:  # type: ignore[arg-type]
        _jira(tmp_path, rx.url).upsert(draft(), AT)
    assert TOKEN not in str(info.value)


def test_servicenow_create_update_resolve_with_assignment_group(tmp_path: Path) -> None:
    state = ServiceNowState(basic("lakecrew", "pw-SECRET"))
    groups = {"data-eng@example.org": "Data Engineering"}
    with Receiver(state, check=state.check) as rx:
        sn = ServiceNowTracker(
            TicketIndex(tmp_path / "t.db", "sn"),
            url=rx.url,
            username="lakecrew",
            password=SecretStr("pw-SECRET"),
            groups=groups.get,
        )
        t = sn.upsert(draft("[code]<script>x</script>[/code]"), AT)
        (rec,) = state.incidents.values()
        assert t.key == rec["number"] == "INC0010001"
        assert rec["assignment_group"] == "Data Engineering" and rec["urgency"] == "1"
        assert rec["correlation_id"] == f"lakecrew:{FP}"
        assert "[code]" not in rec["description"]
        sn.upsert(draft("changed"), AT)
        assert "changed" in rec["description"] and rec["work_notes"].startswith("The finding")
        sn.resolve(FP, "resolved by lakecrew", AT)
        assert rec["state"] == "6" and rec["close_notes"] == "resolved by lakecrew"
        sn.upsert(draft("back"), AT)
        assert rec["state"] == "2"
        state.delete("INC0010001")
        assert sn.upsert(draft("after delete"), AT).key == "INC0010002"
    assert rx.problems == []


def test_servicenow_401_and_5xx(tmp_path: Path) -> None:
    for answer, error in ((recorded("servicenow", "unauthorized"), PermissionDenied),):
        with Receiver(answer) as rx:
            sn = ServiceNowTracker(
                TicketIndex(tmp_path / "t.db", "sn"),
                url=rx.url,
                username="u",
                password=SecretStr("pw-SECRET"),
                groups=lambda o: None,
            )
            with pytest.raises(error, match="User Not Authenticated"):
                sn.upsert(draft(), AT)
    from lakecrew.testing.receivers import Answer

    with Receiver(Answer(503, b"down")) as rx:
        sn = ServiceNowTracker(
            TicketIndex(tmp_path / "t2.db", "sn"),
            url=rx.url,
            username="u",
            password=SecretStr("p"),
            groups=lambda o: None,
        )
        with pytest.raises(Transient):
            sn.upsert(draft(), AT)


def test_routed_tickets_keep_the_local_store_and_sync_jira_later_when_it_was_down(
    tmp_path: Path,
) -> None:
    from lakecrew.adapters.local.ticket_store import LocalTicketStore
    from lakecrew.services.estate.notify_config import NotifyConfig
    from lakecrew.services.notify.tickets import RoutedTickets

    config = NotifyConfig.model_validate(
        {
            "trackers": {
                "jira": {
                    "type": "jira",
                    "url": "https://example.atlassian.net",
                    "email": "bot@example.org",
                    "token": {"scope": "s", "key": "k"},
                    "project": "DATA",
                }
            },
            "routes": [{"name": "prod", "match": {"environment": ["prod"]}, "tickets": ["jira"]}],
        }
    )
    state = JiraState(basic("bot@example.org", TOKEN))
    with Receiver(state, check=state.check) as rx:
        jira = _jira(tmp_path, rx.url)
        index = jira.index
        routed = RoutedTickets(
            LocalTicketStore(tmp_path / "local.db"),
            {"jira": jira},
            config,
            {"malaria-prod-westafrica": ("prod", "malaria")},
            holds=lambda name, fp: index.get(fp) is not None,
        )
        rx.down = True
        (local,) = routed.upsert_many([draft()], AT)
        assert local.key.startswith("LC-") and routed.errors  # Jira down: the sweep goes on
        rx.down = False
        routed.upsert_many([], AT)  # next sweep: the backlog is synced
        assert list(state.issues) == ["DATA-1"]
        routed.upsert_many([], AT)
        assert list(state.issues) == ["DATA-1"]  # once
        routed.resolve(FP, "resolved", AT)
        assert state.issues["DATA-1"]["status"] == "Done"


def test_comments_post_once_to_jira_and_servicenow_and_survive_an_outage(tmp_path: Path) -> None:
    """A comment (an approved triage note) reaches the local ticket, the Jira comment API (ADF)
    and ServiceNow's work notes, once per comment id; a tracker down keeps the local comment,
    raises Transient, and the retry posts only where it is missing."""
    from lakecrew.adapters.local.ticket_store import LocalTicketStore
    from lakecrew.ports.tickets import TicketComment
    from lakecrew.services.estate.notify_config import NotifyConfig
    from lakecrew.services.notify.tickets import RoutedTickets

    sn_cfg = {"type": "servicenow", "url": "https://x.service-now.com", "username": "lakecrew",
              "password": {"scope": "s", "key": "p"}}  # fmt: skip
    jira_cfg = {"type": "jira", "url": "https://x.atlassian.net", "email": "bot@example.org",
                "token": {"scope": "s", "key": "k"}, "project": "DATA"}  # fmt: skip
    config = NotifyConfig.model_validate(
        {
            "trackers": {"jira": jira_cfg, "sn": sn_cfg},
            "routes": [{"name": "all", "match": {}, "tickets": ["jira", "sn"]}],
        }
    )
    jstate, sstate = (
        JiraState(basic("bot@example.org", TOKEN)),
        ServiceNowState(basic("lakecrew", "pw")),
    )
    with Receiver(jstate, check=jstate.check) as jrx, Receiver(sstate, check=sstate.check) as srx:
        jira = _jira(tmp_path, jrx.url)
        sn = ServiceNowTracker(
            TicketIndex(tmp_path / "tickets.db", "sn"),
            url=srx.url,
            username="lakecrew",
            password=SecretStr("pw"),
            groups=lambda o: None,
        )
        trackers = {"jira": jira, "sn": sn}
        routed = RoutedTickets(
            LocalTicketStore(tmp_path / "local.db"), trackers, config, {},
            holds=lambda name, fp: trackers[name].index.get(fp) is not None,
        )  # fmt: skip
        routed.upsert_many([draft()], AT)
        note = TicketComment(FP, "p1", "ops", f"Root cause: {HOSTILE}\nNext steps: 1. tag", AT)
        jrx.down = True
        with pytest.raises(Transient, match="comment kept on LC-1 but not posted to jira"):
            routed.comment(note)
        (incident,) = sstate.incidents.values()
        assert incident["journal"] == [note.text] and routed.comments(FP) == [note]
        assert jstate.issues["DATA-1"]["comments"] == []
        jrx.down = False
        where = routed.comment(note)  # the retry: Jira only
        assert where == "LC-1, jira DATA-1, sn INC0010001"
        routed.comment(note)  # again: nothing new anywhere
        (body,) = jstate.issues["DATA-1"]["comments"]
        texts = [n["text"] for p in body["content"] for n in p["content"] if n["type"] == "text"]
        assert texts == [f"Root cause: {HOSTILE}", "Next steps: 1. tag"]  # text nodes: no markup
        assert incident["journal"] == [note.text] and len(routed.comments(FP)) == 1
    assert jrx.problems == [] and srx.problems == []
