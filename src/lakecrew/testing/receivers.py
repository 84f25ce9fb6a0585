"""Receivers: real HTTP servers on 127.0.0.1 standing in for Slack, Teams, PagerDuty, webhooks.

Each request is recorded (method, path, headers, body), checked against the documented request
shape by a `check` function (a problem → answered 400 with the recorded validation error and
kept in `problems`), then answered from a script of recorded answers (consumed in order), or
from the default answer. `down = True` answers 503 to everything (a channel down for an hour),
`Answer(hold=True)` keeps the connection open without answering until `release()` (a timeout).

`delivered_keys()` lists the `Idempotency-Key` of every request answered 2xx: a receiver that
de-duplicates on it counts `len(set(...))`.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from lakecrew.demo.local_http import LocalHttpServer


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    hold: bool = False


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


Check = Callable[[str, str, dict[str, str], bytes], str | None]


class Receiver(LocalHttpServer):
    """A scripted receiver; use as a context manager."""

    def __init__(
        self,
        default: Answer | Callable[[Received], Answer],
        *,
        check: Check | None = None,
        invalid: Answer | None = None,
        script: Iterable[Answer] = (),
    ) -> None:
        self.default = default
        self.check = check
        self.invalid = invalid or Answer(400, b'{"error":"invalid request"}')
        self.script: deque[Answer] = deque(script)
        self.requests: list[Received] = []
        self.problems: list[str] = []
        self.down = False
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._listen(self._handler())

    def release(self) -> None:
        self._released.set()

    def delivered_keys(self) -> list[str]:
        return [
            r.headers.get("Idempotency-Key", "") for r in self.requests if 200 <= r.status < 300
        ]

    def ok(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def _decide(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            problem = self.check(method, path, headers, body) if self.check else None
            if problem is not None:
                self.problems.append(problem)
                answer = self.invalid
            elif self.down:
                answer = Answer(503, b'{"error":"service unavailable"}')
            elif self.script:
                answer = self.script.popleft()
            elif callable(self.default):
                answer = self.default(Received(method, path, headers, body, 0))
            else:
                answer = self.default
            if not answer.hold:
                self.requests.append(Received(method, path, headers, body, answer.status))
            return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, method: str) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size) if size else b""
                headers = {k.title(): v for k, v in self.headers.items()}
                answer = server._decide(method, self.path, headers, body)
                if answer.hold:
                    server._released.wait(30)
                    self.close_connection = True
                    return
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_GET(self) -> None:
                self._serve("GET")

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler
