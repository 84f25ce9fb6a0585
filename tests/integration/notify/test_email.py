"""The e-mail channel against a real local SMTP server (aiosmtpd): STARTTLS, AUTH, multipart
plain text + HTML with escaped HTML, stable Message-ID, refused login and server down."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from lakecrew.adapters.notify.email import EmailChannel
from lakecrew.testing.smtp import LocalSmtp
from notify.helpers import FP, HOSTILE, item, note

pytestmark = pytest.mark.integration


def _channel(smtp: LocalSmtp, password: str = "secret-pw") -> EmailChannel:
    return EmailChannel(
        "mail",
        host="127.0.0.1",
        port=smtp.port,
        sender="lakecrew@example.org",
        to=["data-leads@example.org"],
        username="lakecrew",
        password=SecretStr(password),
        tls_context=smtp.client_context(),
    )


def test_email_over_starttls_with_auth_sends_text_and_escaped_html() -> None:
    with LocalSmtp() as smtp:
        result = _channel(smtp).send(note(item(event="changed")))
    assert result.delivered, result.error
    (msg,) = smtp.messages
    assert msg["Message-ID"] == "<n-0001@example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["In-Reply-To"] == f"<{FP}@example.org>"  # threads under the finding
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk()
             if not p.is_multipart()}  # fmt: skip
    assert HOSTILE in parts["text/plain"]
    html = parts["text/html"]
    assert "<b>html</b>" not in html and "&lt;b&gt;html&lt;/b&gt;" in html
    assert "lakecrew rollback a1" in html
    assert smtp.envelopes == [("lakecrew@example.org", ["data-leads@example.org"])]


def test_wrong_password_is_a_permanent_refusal_without_the_password() -> None:
    with LocalSmtp() as smtp:
        result = _channel(smtp, password="not-it").send(note())
    assert not result.delivered and result.permanent
    assert "not-it" not in (result.error or "")
    assert smtp.messages == []


def test_server_saying_try_later_and_server_gone_are_retryable() -> None:
    with LocalSmtp() as smtp:
        smtp.down = True
        later = _channel(smtp).send(note())
        port = smtp.port
    assert not later.delivered and not later.permanent
    ch = _channel(smtp)
    ch.port = port  # the server has stopped
    gone = ch.send(note())
    assert not gone.delivered and not gone.permanent and "unreachable" in (gone.error or "")
