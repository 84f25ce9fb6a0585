"""A real SMTP server on 127.0.0.1 (aiosmtpd) with STARTTLS and AUTH, for the e-mail channel.

    with LocalSmtp(user="lakecrew", password="pw") as smtp:
        ... EmailChannel(host="127.0.0.1", port=smtp.port, tls_context=smtp.client_context()) ...
        smtp.messages  # email.message.Message objects received

The certificate is self-signed for 127.0.0.1, made with `cryptography` in a temp folder;
`client_context()` trusts exactly it. AUTH is only offered after STARTTLS (aiosmtpd's default).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any, Self


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalSmtp:
    """aiosmtpd Controller with STARTTLS required and LOGIN/PLAIN auth of one user."""

    def __init__(self, *, user: str = "lakecrew", password: str = "secret-pw") -> None:
        self.user = user
        self.password = password
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._dir = tempfile.TemporaryDirectory(prefix="lakecrew-smtp-")
        self.cert, self.key = _self_signed(Path(self._dir.name))
        self.down = False
        self._controller: Any = None
        self._client_tls = ssl.create_default_context(cafile=str(self.cert))

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context trusting exactly this server's certificate."""
        return self._client_tls

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> Self:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        server = self

        class Handler:
            async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
                if server.down:
                    return "451 4.3.0 try again later"
                server.messages.append(message_from_bytes(envelope.content))
                server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        def authenticator(
            srv: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode() == server.user
                and auth_data.password.decode() == server.password
            )
            return AuthResult(success=ok, handled=False)

        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(str(self.cert), str(self.key))
        self._controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=_free_port(),
            tls_context=tls,
            require_starttls=True,
            authenticator=authenticator,
            auth_required=True,
            auth_exclude_mechanism=["LOGIN"],  # smtplib then tries PLAIN only
        )
        self._controller.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()
        self._dir.cleanup()
