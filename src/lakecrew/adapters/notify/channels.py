"""Teams Workflows, PagerDuty Events API v2 and a signed generic webhook, over requests.

Written by hand on purpose (the brief is to prefer a kept client):
- Teams: `pymsteams` builds legacy Office 365 connector MessageCards, which Workflows webhooks
  reject; a Workflows webhook is one POST of an Adaptive Card message, nothing to wrap.
- PagerDuty: the official `pagerduty` client (7.x) retries 429 without limit, sleeping in
  process and ignoring Retry-After, and retries 5xx itself; the durable outbox must own
  retries (a sleeping client would hold a sweep for minutes and hide the failure). The Events
  API v2 is one documented POST.
- Generic webhook: our own format (JSON + HMAC-SHA256 signature), no client exists.

Every request carries the message id as `Idempotency-Key` (PagerDuty: `dedup_key` is the
finding fingerprint, as PagerDuty de-duplicates alerts on it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests
from pydantic import SecretStr

from lakecrew.adapters.notify.formats import adaptive_card, clip, headline, plain_item, webhook_body
from lakecrew.adapters.notify.http import post_json
from lakecrew.ports.notify import Delivery, Notification

PD_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
PD_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}
SIGNATURE_HEADER = "X-Lakecrew-Signature"
TIMESTAMP_HEADER = "X-Lakecrew-Timestamp"


class TeamsWorkflowChannel:
    """A Teams Workflows ("Post to a channel when a webhook request is received") webhook."""

    def __init__(self, name: str, url: SecretStr) -> None:
        self.name = name
        self._url = url
        self._session = requests.Session()

    def send(self, notification: Notification) -> Delivery:
        result, _ = post_json(
            self._session,
            self._url.get_secret_value(),
            adaptive_card(notification),
            "Teams workflow",
            {"Idempotency-Key": notification.notification_id},
        )
        return result


def pagerduty_event(
    n: Notification, routing_key: str, *, source: str = "lakecrew"
) -> dict[str, object]:
    """One Events API v2 event: trigger (new, changed, escalated), resolve or acknowledge.

    The dedup_key is the finding's fingerprint (PagerDuty groups every event of one finding in
    one alert); a notification without exactly one finding uses its own id."""
    item = n.items[0] if len(n.items) == 1 else None
    dedup = item.fingerprint if item is not None else n.notification_id
    event_action = "trigger"
    if item is not None and item.event == "resolved":
        event_action = "resolve"
    elif item is not None and item.event == "acknowledged":
        event_action = "acknowledge"
    event: dict[str, object] = {
        "routing_key": routing_key,
        "event_action": event_action,
        "dedup_key": dedup[:255],
    }
    if event_action == "trigger":
        details = {"items": [plain_item(i) for i in n.items]} if n.items else {"body": n.body}
        event["payload"] = {
            "summary": clip(headline(n), 1024),
            "source": item.workspace if item is not None else (n.workspace or source),
            "severity": PD_SEVERITY.get(n.severity, "info"),
            "component": item.resource_id if item is not None else None,
            "group": item.project if item is not None else None,
            "class": item.rule_id if item is not None else n.kind,
            "custom_details": details,
        }
        event["client"] = "lakecrew"
    return event


class PagerDutyChannel:
    """PagerDuty Events API v2 (`POST /v2/enqueue`) with an integration's routing key."""

    def __init__(self, name: str, routing_key: SecretStr, *, url: str = PD_EVENTS_URL) -> None:
        self.name = name
        self._key = routing_key
        self._url = url
        self._session = requests.Session()

    def send(self, notification: Notification) -> Delivery:
        event = pagerduty_event(notification, self._key.get_secret_value())
        result, resp = post_json(
            self._session,
            self._url,
            event,
            "PagerDuty Events API",
            {"Idempotency-Key": notification.notification_id},
        )
        if result.delivered and resp is not None:
            try:
                answer = resp.json()
            except ValueError:
                answer = {}
            return Delivery(True, ref=str(answer.get("dedup_key") or event["dedup_key"]))
        return result


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body) — verify it the same way."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class SignedWebhookChannel:
    """POSTs webhook_body() JSON with `X-Lakecrew-Signature` (HMAC-SHA256 over timestamp and
    body) and `X-Lakecrew-Timestamp`; receivers reject old timestamps to stop replays."""

    def __init__(self, name: str, url: SecretStr, signing_key: SecretStr) -> None:
        self.name = name
        self._url = url
        self._key = signing_key
        self._session = requests.Session()

    def send(self, notification: Notification) -> Delivery:
        raw = json.dumps(webhook_body(notification), ensure_ascii=False, sort_keys=True).encode()
        ts = str(int(time.time()))
        headers = {
            "Idempotency-Key": notification.notification_id,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: sign(self._key.get_secret_value().encode(), ts, raw),
        }
        result, _ = post_json(
            self._session, self._url.get_secret_value(), None, "webhook", headers, raw=raw
        )
        return result
