"""E-mail over SMTP with the standard library (smtplib + email.message): STARTTLS, AUTH,
multipart plain text + HTML, a stable Message-ID per notification (receivers and mail clients
drop a repeat), `Auto-Submitted: auto-generated` (RFC 3834) and threading headers per finding.
No third-party client is needed: smtplib is the reference SMTP client for Python.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate

from pydantic import SecretStr

from lakecrew.adapters.notify.formats import email_html, email_text, headline
from lakecrew.ports.notify import Delivery, Notification


def message_id(notification_id: str, domain: str) -> str:
    return f"<{notification_id}@{domain}>"


class EmailChannel:
    """One SMTP relay and a fixed list of recipients."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        to: Sequence[str],
        starttls: bool = True,
        username: str | None = None,
        password: SecretStr | None = None,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.to = list(to)
        self.starttls = starttls
        self.username = username
        self._password = password
        self._tls = tls_context
        self.timeout = timeout

    def build(self, n: Notification) -> EmailMessage:
        domain = self.sender.rpartition("@")[2] or "lakecrew.local"
        msg = EmailMessage()
        msg["Subject"] = headline(n)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = message_id(n.notification_id, domain)
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Lakecrew-Kind"] = n.kind
        if len(n.items) == 1:
            thread = message_id(n.items[0].fingerprint[:32], domain)
            msg["References"] = thread
            if n.items[0].event != "new":
                msg["In-Reply-To"] = thread
        msg.set_content(email_text(n))
        msg.add_alternative(email_html(n), subtype="html")
        return msg

    def send(self, notification: Notification) -> Delivery:
        msg = self.build(notification)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=self._tls or ssl.create_default_context())
                    smtp.ehlo()
                if self.username:
                    password = self._password.get_secret_value() if self._password else ""
                    smtp.login(self.username, password)
                refused = smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            return Delivery(False, f"SMTP login refused ({exc.smtp_code})", permanent=True)
        except smtplib.SMTPRecipientsRefused:
            return Delivery(False, "SMTP server refused every recipient", permanent=True)
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            return Delivery(False, f"SMTP error {exc.smtp_code}", permanent=permanent)
        except (smtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            return Delivery(False, f"SMTP server unreachable ({type(exc).__name__})")
        if refused:
            return Delivery(False, f"SMTP refused {len(refused)} recipient(s)", permanent=True)
        return Delivery(True, ref=msg["Message-ID"])
