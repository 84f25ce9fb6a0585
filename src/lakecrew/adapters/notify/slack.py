"""Slack: incoming webhook and `chat.postMessage`, through slack_sdk (the official client).

- `SlackWebhookChannel`: POST {text, blocks} to the webhook URL (a secret). Webhooks answer
  the text `ok`; they cannot thread (no message id comes back).
- `SlackApiChannel`: `chat.postMessage` with a bot token to a channel; the answer's `ts` is
  kept by the outbox, and later news about the same finding (changed, resolved, escalated) is
  posted in that thread (`thread_ts`).

slack_sdk's own retry handlers are switched off (`retry_handlers=[]`): the durable outbox owns
retries, backoff and Retry-After. Its logger is silenced (it logs request URLs at DEBUG, and
a webhook URL is a credential).
"""

from __future__ import annotations

import logging
import socket
import urllib.error

from pydantic import SecretStr

from lakecrew.adapters.notify.formats import headline, slack_blocks, slack_escape
from lakecrew.adapters.notify.http import answer
from lakecrew.ports.notify import Delivery, Notification

_QUIET = logging.getLogger("lakecrew.adapters.notify.slack_sdk")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
_QUIET.setLevel(logging.CRITICAL)
_NETWORK = (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError)


def slack_message(n: Notification) -> dict[str, object]:
    return {"text": slack_escape(headline(n)), "blocks": slack_blocks(n)}


class SlackWebhookChannel:
    """An incoming webhook (the URL is read from the SecretStore by the wiring)."""

    def __init__(self, name: str, url: SecretStr, *, timeout: int = 15) -> None:
        from slack_sdk.webhook import WebhookClient

        self.name = name
        self._client = WebhookClient(
            url.get_secret_value(), timeout=timeout, logger=_QUIET, retry_handlers=[]
        )

    def send(self, notification: Notification) -> Delivery:
        try:
            resp = self._client.send_dict(slack_message(notification))
        except _NETWORK as exc:
            return Delivery(False, f"Slack webhook unreachable ({type(exc).__name__})")
        headers = {k.title(): v[0] if isinstance(v, list) else v for k, v in resp.headers.items()}
        return answer(resp.status_code, headers, str(resp.body), "Slack webhook")


class SlackApiChannel:
    """`chat.postMessage` to one Slack channel with a bot token."""

    def __init__(
        self,
        name: str,
        token: SecretStr,
        channel: str,
        *,
        base_url: str = "https://slack.com/api/",
        timeout: int = 15,
    ) -> None:
        from slack_sdk import WebClient

        self.name = name
        self.channel = channel
        self._client = WebClient(
            token=token.get_secret_value(),
            base_url=base_url,
            timeout=timeout,
            logger=_QUIET,
            retry_handlers=[],
        )

    def send(self, notification: Notification) -> Delivery:
        from slack_sdk.errors import SlackApiError

        msg = slack_message(notification)
        try:
            resp = self._client.chat_postMessage(
                channel=self.channel,
                text=str(msg["text"]),
                blocks=msg["blocks"],  # type: ignore[arg-type]
                thread_ts=notification.thread_ref,
                unfurl_links=False,
            )
        except SlackApiError as exc:
            r = exc.response
            code = r.get("error") if isinstance(r.data, dict) else None
            headers = {k.title(): v[0] if isinstance(v, list) else v for k, v in r.headers.items()}
            status = r.status_code if r.status_code != 200 else 400  # ok:false on HTTP 200
            return answer(status, headers, str(code or r.data), "Slack chat.postMessage")
        except _NETWORK as exc:
            return Delivery(False, f"Slack API unreachable ({type(exc).__name__})")
        ts = resp.get("ts")
        return Delivery(True, ref=str(ts) if ts else None)
