"""A real HTTP server on 127.0.0.1 that replays recorded responses, with scripted faults.

Routes match on method, path and a subset of query parameters (the most specific route wins),
so a recorded ``?fields=..&pageSize=1000`` answers page 1 and ``...&page=2`` answers page 2.
Faults are consumed in order before the recorded answer (e.g. 500 twice, then the recording).
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from lakecrew.demo.local_http import LocalHttpServer


@dataclass
class Fault:
    """Answer ``status`` (with ``headers``) ``times`` times; ``disconnect`` drops the socket."""

    status: int = 500
    times: int = 1
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b'{"httpStatusCode":500,"status":"ERROR","message":"replayed fault"}'
    disconnect: bool = False


@dataclass
class Route:
    """A recorded answer for ``method path`` whose query contains ``query``."""

    path: str
    body: bytes
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    status: int = 200
    method: str = "GET"
    content_type: str = "application/json;charset=UTF-8"
    faults: list[Fault] = field(default_factory=list)

    def matches(self, method: str, path: str, query: Mapping[str, list[str]]) -> bool:
        """True when method and path are equal and every route query value is present."""
        if method != self.method or path != self.path:
            return False
        return all(sorted(query.get(k, [])) == sorted(v) for k, v in self.query.items())


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it (auth header reduced to its scheme)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    auth_scheme: str | None
    status: int


class ReplayServer(LocalHttpServer):
    """Threaded server; use as a context manager. ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(
        self,
        routes: Sequence[Route],
        *,
        basic: tuple[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        self.routes = sorted(routes, key=lambda r: -len(r.query))
        self.seen: list[Seen] = []
        self._basic = basic
        self._token = token
        self._lock = threading.Lock()
        self._listen(self._handler())

    def _authorized(self, header: str | None) -> bool:
        if self._basic is None and self._token is None:
            return True
        if not header:
            return False
        if self._token is not None and hmac.compare_digest(header, f"ApiToken {self._token}"):
            return True
        if self._basic is not None:
            want = base64.b64encode(":".join(self._basic).encode()).decode()
            return hmac.compare_digest(header, f"Basic {want}")
        return False

    def _answer(self, method: str, target: str, auth: str | None) -> tuple[Route | None, Fault]:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        scheme = auth.split(" ", 1)[0] if auth else None
        with self._lock:
            if not self._authorized(auth):
                fault = Fault(401, body=b'{"httpStatusCode":401,"message":"Unauthorized"}')
                self.seen.append(Seen(method, parts.path, query, scheme, 401))
                return None, fault
            route = next((r for r in self.routes if r.matches(method, parts.path, query)), None)
            if route is None:
                self.seen.append(Seen(method, parts.path, query, scheme, 404))
                return None, Fault(404, body=b'{"httpStatusCode":404,"message":"Not Found"}')
            if route.faults:
                fault = route.faults[0]
                fault.times -= 1
                if fault.times <= 0:
                    route.faults.pop(0)
                self.seen.append(Seen(method, parts.path, query, scheme, fault.status))
                return route, fault
            self.seen.append(Seen(method, parts.path, query, scheme, route.status))
            return route, Fault(route.status, body=route.body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                route, answer = server._answer("GET", self.path, self.headers.get("Authorization"))
                if answer.disconnect:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(answer.status)
                ctype = route.content_type if route else "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(answer.body)))
                if answer.status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="DHIS2"')
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler


def dhis2_routes(recordings: Path) -> list[Route]:
    """Routes for every recorded GET in ``recordings/PROVENANCE.json``.

    ``children`` is left out of the match (DHIS2 reads ``False``/``false`` alike) and the
    recorded host prefix is dropped: routes answer ``/api/...`` on the replay server.
    """
    entries = json.loads((recordings / "PROVENANCE.json").read_text(encoding="utf-8"))
    routes = []
    for entry in entries:
        if entry.get("method") != "GET":
            continue
        parts = urlsplit(entry["url"])
        path = parts.path[parts.path.index("/api/") :]
        query = {k: v for k, v in parse_qs(parts.query).items() if k != "children"}
        if "organisationUnits" in path and "page" not in query:
            query["page"] = ["1"]
        body = (recordings / entry["file"]).read_bytes()
        routes.append(Route(path, body, query))
    return routes
