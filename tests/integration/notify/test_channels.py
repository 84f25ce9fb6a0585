"""Each channel against a local HTTP server that checks the documented request shape and answers
with recorded real responses (success, 400, 401/403, 404, 410, 429 + Retry-After, 5xx, timeout).
Hostile text (mentions, Markdown, HTML) must arrive escaped in every format."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import SecretStr

from lakecrew.adapters.notify import http as http_mod
from lakecrew.adapters.notify.channels import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    PagerDutyChannel,
    SignedWebhookChannel,
    TeamsWorkflowChannel,
)
from lakecrew.adapters.notify.slack import SlackApiChannel, SlackWebhookChannel
from lakecrew.testing.receivers import Answer, Receiver
from notify.helpers import FP, HOSTILE, item, note, recorded, texts

pytestmark = pytest.mark.integration
SECRET_PATH = "/services/T000/B000/SECRETxyz"
ROUTING_KEY = "R" * 32


def _json_check(required: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def check(method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
        if method != "POST" or "application/json" not in headers.get("Content-Type", ""):
            return f"not a JSON POST: {method} {headers.get('Content-Type')}"
        data = json.loads(body)
        missing = [k for k in required if k not in data]
        return f"missing {missing}" if missing else None

    return check


def _no_raw_markup(strings: list[str]) -> None:
    joined = "\n".join(strings)
    assert "<!channel>" not in joined
    assert "@here" not in joined
    assert "<b>" not in joined


# ------------------------------------------------------------------------------ Slack webhook


def _mrkdwn(obj: object) -> list[str]:
    """The texts Slack renders as mrkdwn."""
    if isinstance(obj, dict):
        here = [obj["text"]] if obj.get("type") == "mrkdwn" else []
        return here + [s for v in obj.values() for s in _mrkdwn(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _mrkdwn(v)]
    return []


def slack_shape(method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
    problem = _json_check(("text", "blocks"))(method, path, headers, body)
    if problem:
        return problem
    blocks = json.loads(body)["blocks"]
    if not 1 <= len(blocks) <= 50:
        return "blocks: 1..50"
    if blocks[0]["type"] != "header" or len(blocks[0]["text"]["text"]) > 150:
        return "first block must be a header of <= 150 characters"
    for b in blocks:
        if b["type"] == "section" and len(b.get("fields", [])) > 10:
            return "at most 10 fields per section"
        if b["type"] == "section" and len(b.get("text", {}).get("text", "")) > 3000:
            return "section text over 3000 characters"
    return None


def test_slack_webhook_sends_block_kit_with_every_field_escaped() -> None:
    with Receiver(recorded("slack_webhook", "ok"), check=slack_shape) as rx:
        ch = SlackWebhookChannel("ops", SecretStr(rx.url + SECRET_PATH))
        result = ch.send(note())
    assert result.delivered, result.error
    assert rx.problems == []
    body = rx.requests[0].json()
    fields = [f["text"] for b in body["blocks"] for f in b.get("fields", [])]
    for label in ("Severity", "Rule", "Resource", "Owner", "SOP section", "Workspace"):
        assert any(f.startswith(f"*{label}*") for f in fields), label
    strings = texts(body)
    _no_raw_markup(strings)
    assert any("&lt;!channel&gt;" in s for s in strings)
    assert any("lakecrew rollback a1" in s for s in strings)
    mrkdwn = [body["text"]] + [s for s in _mrkdwn(body["blocks"])]
    assert mrkdwn and not any("*bold*" in s or "`code`" in s for s in mrkdwn)


@pytest.mark.parametrize(
    ("name", "permanent", "retry_after"),
    [
        ("invalid_payload", True, None),
        ("invalid_token", True, None),
        ("no_service", True, None),
        ("channel_is_archived", True, None),
        ("rate_limited", False, 30.0),
        ("rollup_error", False, None),
    ],
)
def test_slack_webhook_failures_are_classified_without_leaking_the_url(
    name: str, permanent: bool, retry_after: float | None
) -> None:
    with Receiver(recorded("slack_webhook", name)) as rx:
        result = SlackWebhookChannel("ops", SecretStr(rx.url + SECRET_PATH)).send(note())
    assert not result.delivered
    assert result.permanent is permanent
    assert result.retry_after == retry_after
    assert "SECRETxyz" not in (result.error or "")
    assert name in (result.error or "")


def test_slack_webhook_timeout_is_retryable_and_says_nothing_secret() -> None:
    with Receiver(Answer(hold=True)) as rx:
        ch = SlackWebhookChannel("ops", SecretStr(rx.url + SECRET_PATH), timeout=1)
        result = ch.send(note())
        rx.release()
    assert not result.delivered and not result.permanent
    assert "SECRETxyz" not in (result.error or "")


# ------------------------------------------------------------------------------ Slack API


def slack_api_shape(method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
    if path != "/api/chat.postMessage":
        return f"unexpected path {path}"
    if headers.get("Authorization") != "Bearer xoxb-test-token":
        return "missing bot token"
    return slack_shape(method, path, headers, body) if body.startswith(b"{") else "not JSON"


def test_slack_api_posts_then_threads_updates_under_the_first_message() -> None:
    with Receiver(recorded("slack_api", "ok"), check=slack_api_shape) as rx:
        ch = SlackApiChannel(
            "ops", SecretStr("xoxb-test-token"), "#data-ops", base_url=rx.url + "/api/"
        )
        first = ch.send(note())
        update = ch.send(note(item(event="changed"), nid="n-2", thread=first.ref))
    assert rx.problems == []
    assert first.delivered and first.ref == "1503435956.000247"
    assert update.delivered
    sent = [r.json() for r in rx.requests]
    assert sent[0]["channel"] == "#data-ops" and "thread_ts" not in sent[0]
    assert sent[1]["thread_ts"] == "1503435956.000247"
    _no_raw_markup(texts(sent))


@pytest.mark.parametrize(
    ("name", "permanent", "retry_after"),
    [("invalid_auth", True, None), ("invalid_blocks", True, None), ("ratelimited", False, 30.0)],
)
def test_slack_api_errors(name: str, permanent: bool, retry_after: float | None) -> None:
    with Receiver(recorded("slack_api", name)) as rx:
        ch = SlackApiChannel("ops", SecretStr("xoxb-test-token"), "#x", base_url=rx.url + "/api/")
        result = ch.send(note())
    assert not result.delivered
    assert (result.permanent, result.retry_after) == (permanent, retry_after)
    assert name in (result.error or "")
    assert "xoxb" not in (result.error or "")


# ------------------------------------------------------------------------------ Teams


def teams_shape(method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
    problem = _json_check(("type", "attachments"))(method, path, headers, body)
    if problem:
        return problem
    data = json.loads(body)
    att = data["attachments"]
    if data["type"] != "message" or len(att) != 1:
        return "a Workflows message has type message and one attachment"
    if att[0]["contentType"] != "application/vnd.microsoft.card.adaptive":
        return "attachment must be an Adaptive Card"
    card = att[0]["content"]
    if card.get("type") != "AdaptiveCard" or card.get("version") not in ("1.2", "1.3", "1.4"):
        return "content must be an AdaptiveCard of version <= 1.4"
    if not all(b["type"] in ("TextBlock", "FactSet") for b in card["body"]):
        return "unexpected element"
    return None


def test_teams_workflow_posts_an_escaped_adaptive_card() -> None:
    with Receiver(recorded("teams", "accepted"), check=teams_shape) as rx:
        result = TeamsWorkflowChannel("teams", SecretStr(rx.url + "/workflows/SECRETxyz")).send(
            note()
        )
    assert result.delivered and rx.problems == []
    card = rx.requests[0].json()["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for b in card["body"] for f in b.get("facts", [])}
    assert facts["Severity"] == "critical" and facts["Rule"].startswith("cluster.")
    strings = texts(card)
    assert "@here" not in "\n".join(strings)
    assert any(r"\*bold\*" in s for s in strings)
    assert rx.requests[0].headers["Idempotency-Key"] == "n-0001"


@pytest.mark.parametrize(
    ("name", "permanent", "retry_after"),
    [("invalid", True, None), ("unauthorized", True, None), ("throttled", False, 120.0)],
)
def test_teams_errors(name: str, permanent: bool, retry_after: float | None) -> None:
    with Receiver(recorded("teams", name)) as rx:
        result = TeamsWorkflowChannel("t", SecretStr(rx.url + "/wf/SECRETxyz")).send(note())
    assert (result.delivered, result.permanent, result.retry_after) == (
        False,
        permanent,
        retry_after,
    )
    assert "SECRETxyz" not in (result.error or "")


# ------------------------------------------------------------------------------ PagerDuty


def pd_shape(method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
    if path != "/v2/enqueue":
        return f"unexpected path {path}"
    ev = json.loads(body)
    if len(ev.get("routing_key", "")) != 32:
        return "routing_key must be 32 characters"
    if ev.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        return "bad event_action"
    if not 0 < len(ev.get("dedup_key", "")) <= 255:
        return "dedup_key 1..255"
    if ev["event_action"] == "trigger":
        p = ev.get("payload") or {}
        if not (p.get("summary") and p.get("source")):
            return "trigger needs payload.summary and payload.source"
        if len(p["summary"]) > 1024 or p.get("severity") not in (
            "critical",
            "error",
            "warning",
            "info",
        ):
            return "bad summary or severity"
    elif "payload" in ev:
        return "acknowledge/resolve carry no payload"
    return None


def test_pagerduty_trigger_and_resolve_share_the_fingerprint_as_dedup_key() -> None:
    with Receiver(recorded("pagerduty", "accepted"), check=pd_shape) as rx:
        ch = PagerDutyChannel("oncall", SecretStr(ROUTING_KEY), url=rx.url + "/v2/enqueue")
        trig = ch.send(note())
        res = ch.send(note(item(event="resolved"), nid="n-2"))
    assert rx.problems == []
    assert trig.delivered and res.delivered
    events = [r.json() for r in rx.requests]
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert {e["dedup_key"] for e in events} == {FP}
    details = events[0]["payload"]["custom_details"]["items"][0]
    assert details["resource_name"] == HOSTILE  # JSON carries text, not markup


@pytest.mark.parametrize(
    ("name", "permanent", "retry_after"),
    [("invalid", True, None), ("throttled", False, 60.0)],
)
def test_pagerduty_errors(name: str, permanent: bool, retry_after: float | None) -> None:
    with Receiver(recorded("pagerduty", name)) as rx:
        ch = PagerDutyChannel("oncall", SecretStr(ROUTING_KEY), url=rx.url + "/v2/enqueue")
        result = ch.send(note())
    assert (result.delivered, result.permanent, result.retry_after) == (
        False,
        permanent,
        retry_after,
    )
    assert ROUTING_KEY not in (result.error or "")


def test_pagerduty_5xx_and_unreachable_are_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver(Answer(502, b"bad gateway")) as rx:
        url = rx.url
        bad = PagerDutyChannel("oncall", SecretStr(ROUTING_KEY), url=url + "/v2/enqueue").send(
            note()
        )
    assert not bad.delivered and not bad.permanent
    gone = PagerDutyChannel("oncall", SecretStr(ROUTING_KEY), url=url + "/v2/enqueue").send(note())
    assert not gone.delivered and not gone.permanent and "unreachable" in (gone.error or "")


# ------------------------------------------------------------------------------ webhook


def test_signed_webhook_signature_verifies_and_idempotency_key_is_sent() -> None:
    key = "whsec-test"
    with Receiver(Answer(204)) as rx:
        ch = SignedWebhookChannel("hook", SecretStr(rx.url + "/hook"), SecretStr(key))
        assert ch.send(note()).delivered
    r = rx.requests[0]
    ts = r.headers[TIMESTAMP_HEADER]
    want = hmac.new(key.encode(), ts.encode() + b"." + r.body, hashlib.sha256).hexdigest()
    assert r.headers[SIGNATURE_HEADER] == f"sha256={want}"
    assert r.headers["Idempotency-Key"] == "n-0001"
    body = r.json()
    assert body["items"][0]["fingerprint"] == FP and body["version"] == "1"


def test_timeouts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_mod, "TIMEOUT", (1.0, 0.5))
    with Receiver(Answer(hold=True)) as rx:
        result = TeamsWorkflowChannel("t", SecretStr(rx.url + "/wf/SECRETxyz")).send(note())
        rx.release()
    assert not result.delivered and not result.permanent
    assert "did not answer" in (result.error or "")
