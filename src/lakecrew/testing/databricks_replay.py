"""A real HTTP server that answers the Databricks REST API from recordings, with faults.

Used by the contract tests and the benchmark: the real `databricks-sdk` talks real HTTP to it.

- Recorded calls (`Call`): method + path + a subset of query parameters (and optionally a subset
  of the JSON body the client must send; a mismatch answers 400 so a wrong request fails the
  test). Calls with the same key answer in recording order; the last one repeats.
  `load_calls(dir)` reads one JSON file per call: `{"method", "path", "query", "expect",
  "status", "headers", "body"}` (body in the exact REST shape).
- Faults: a call may carry `status` 429 with `Retry-After`, 500, 403 ... and a `times` count;
  `raw` bytes (e.g. malformed JSON) and the `X-Replay-Truncate: n` header (a body cut short).
- `SyntheticWorkspace`: /api/2.1/clusters/list and /api/2.2/jobs/list for a workspace of any
  size, generated page by page (page token = offset), so 100,000 objects cost no memory here;
  `fail_pages` scripts 500s for given (kind, page) pairs.
- `/.well-known/databricks-config` answers 404, so the SDK's Config is built at once.
- Bearer auth: requests without `Authorization: Bearer <token>` get 401 (the token is never
  recorded; `seen` keeps only the auth scheme).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lakecrew.demo.local_http import LocalHttpServer

TOKEN = "dapi-replay-not-a-secret"
# A recording (or handler answer) carrying this header sends only that many bytes of its body
# after announcing the full Content-Length, then closes the connection: a truncated body.
TRUNCATE_HEADER = "X-Replay-Truncate"

Answer = tuple[int, dict[str, str], bytes, str]  # status, headers, body, content type
Handler = Callable[["Request"], Answer | None]


@dataclass(frozen=True)
class Request:
    """One request as the server saw it (auth reduced to its scheme)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    body: Any
    auth_scheme: str | None
    status: int = 0
    data: bytes = b""  # the raw body when it is not JSON (Files API uploads); not kept in `seen`


@dataclass
class Call:
    """A recorded answer to `method path` whose query contains `query` and body `expect`."""

    method: str
    path: str
    body: Any = None
    status: int = 200
    query: Mapping[str, str] = field(default_factory=dict)
    expect: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    times: int = 1
    raw: bytes | None = None
    content_type: str = "application/json"

    def matches(self, req: Request) -> bool:
        if req.method != self.method or req.path != self.path:
            return False
        return all(req.query.get(k, [None])[0] == str(v) for k, v in self.query.items())


def _subset(want: Any, got: Any) -> bool:
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and all(
            k in got and _subset(v, got[k]) for k, v in want.items()
        )
    return bool(want == got)


def error_body(status: int, error_code: str, message: str) -> dict[str, Any]:
    """The REST error shape: `{"error_code", "message"}`."""
    return {"error_code": error_code, "message": message}


def load_calls(directory: Path) -> list[Call]:
    """One Call per `*.json` file of `directory`, in file-name order."""
    calls = []
    for path in sorted(Path(directory).glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        calls.append(
            Call(
                method=spec["method"],
                path=spec["path"],
                body=spec.get("body"),
                status=int(spec.get("status", 200)),
                query={k: str(v) for k, v in (spec.get("query") or {}).items()},
                expect=spec.get("expect"),
                headers=spec.get("headers") or {},
                times=int(spec.get("times", 1)),
            )
        )
    return calls


class DatabricksReplay(LocalHttpServer):
    """Threaded replay server; use as a context manager. `url` is `http://127.0.0.1:<port>`."""

    def __init__(
        self,
        calls: Sequence[Call] = (),
        *,
        handlers: Sequence[Handler] = (),
        token: str = TOKEN,
        keep_seen: bool = True,
    ) -> None:
        self.calls = list(calls)
        self.handlers = list(handlers)
        self.token = token
        self.keep_seen = keep_seen
        self.seen: list[Request] = []
        self.count = 0
        self._lock = threading.Lock()
        self._listen(self._handler_class())

    def requests_to(self, method: str, path: str) -> list[Request]:
        """The requests seen for `method path`, in order."""
        return [r for r in self.seen if r.method == method and r.path == path]

    def _answer(self, req: Request, auth: str | None) -> Answer:
        if req.path == "/.well-known/databricks-config":
            return _json(404, error_body(404, "NOT_FOUND", "no host metadata"))
        if not req.path.startswith("/external/") and auth != f"Bearer {self.token}":
            return _json(401, error_body(401, "UNAUTHENTICATED", "invalid access token"))
        for handler in self.handlers:
            answer = handler(req)
            if answer is not None:
                return answer
        with self._lock:
            matching = [c for c in self.calls if c.matches(req)]
            if not matching:
                return _json(404, error_body(404, "ENDPOINT_NOT_FOUND", f"no recording {req.path}"))
            most = max(len(c.query) for c in matching)  # the most specific recording wins
            matching = [c for c in matching if len(c.query) == most]
            call = matching[0]
            if len(matching) > 1:
                call.times -= 1
                if call.times <= 0:
                    self.calls.remove(call)
        if call.expect is not None and not _subset(call.expect, req.body):
            msg = f"request body does not match the recording of {req.path}"
            return _json(400, error_body(400, "INVALID_PARAMETER_VALUE", msg))
        if call.raw is not None:
            return call.status, dict(call.headers), call.raw, call.content_type
        status, headers, body, ctype = _json(
            call.status, call.body if call.body is not None else {}
        )
        return status, {**headers, **call.headers}, body, ctype

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                octets = self.headers.get("Content-Type") == "application/octet-stream"
                try:
                    body = json.loads(raw) if raw and not octets else None
                except ValueError:
                    body = None
                auth = self.headers.get("Authorization")
                scheme = auth.split(" ", 1)[0] if auth else None
                query = parse_qs(parts.query, keep_blank_values=True)
                req = Request(self.command, parts.path, query, body, scheme,
                              data=raw if octets else b"")  # fmt: skip
                status, headers, payload, ctype = server._answer(req, auth)
                with server._lock:
                    server.count += 1
                    if server.keep_seen:
                        kept = {**req.__dict__, "status": status, "data": b""}
                        server.seen.append(Request(**kept))
                headers = dict(headers)
                cut = headers.pop(TRUNCATE_HEADER, None)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command == "HEAD":  # headers only (the Files API's metadata calls)
                    return
                if cut is not None:  # a body cut short: promise all, send part, hang up
                    self.wfile.write(payload[: int(cut)])
                    self.close_connection = True
                    return
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: object) -> None:
                return

        return H


def _json(status: int, body: Any) -> Answer:
    return status, {}, json.dumps(body).encode(), "application/json"


def synthetic_cluster(i: int) -> dict[str, Any]:
    """Cluster number `i` of a synthetic workspace, in the REST shape of clusters/list."""
    running = i % 3 == 0
    return {
        "cluster_id": f"0101-{i:06d}-synth{i % 97:02d}",
        "cluster_name": f"synthetic-{i}",
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "m5.xlarge",
        "state": "RUNNING" if running else "TERMINATED",
        "autotermination_minutes": 0 if i % 11 == 0 else 60,
        "num_workers": i % 8,
        "custom_tags": {"team": f"team-{i % 17}"} if i % 5 else {},
        "creator_user_name": f"user{i % 250}@example.org",
        "cluster_source": "UI" if i % 4 else "JOB",
        "start_time": 1_735_689_600_000 + i,
    }


def synthetic_job(i: int) -> dict[str, Any]:
    """Job number `i` of a synthetic workspace, in the REST shape of jobs/list?expand_tasks."""
    return {
        "job_id": 1_000_000 + i,
        "creator_user_name": f"user{i % 250}@example.org",
        "created_time": 1_735_689_600_000 + i,
        "settings": {
            "name": f"job-{i}",
            "max_concurrent_runs": 1,
            "tags": {"team": f"team-{i % 17}"},
            "tasks": [
                {
                    "task_key": "main",
                    "notebook_task": {"notebook_path": f"/Repos/x/job_{i}"},
                    "job_cluster_key": "jc",
                }
            ],
            "job_clusters": [
                {
                    "job_cluster_key": "jc",
                    "new_cluster": {"spark_version": "15.4.x-scala2.12", "num_workers": 2},
                }
            ],
        },
    }


@dataclass
class SyntheticWorkspace:
    """Handler for clusters/list and jobs/list over `clusters` and `jobs` generated objects.

    `fail_pages[(kind, page)] = n` answers 500 n times for that page (n < 0: always).
    `make_cluster` / `make_job` build object number i (default: the non-compliant
    `synthetic_cluster` / `synthetic_job`; a benchmark may pass mostly compliant ones).
    """

    clusters: int = 0
    jobs: int = 0
    fail_pages: dict[tuple[str, int], int] = field(default_factory=dict)
    make_cluster: Callable[[int], dict[str, Any]] = synthetic_cluster
    make_job: Callable[[int], dict[str, Any]] = synthetic_job

    def __call__(self, req: Request) -> Answer | None:
        if req.method != "GET":
            return None
        if req.path == "/api/2.1/clusters/list":
            size = int(req.query.get("page_size", ["100"])[0])
            return self._page(req, "clusters", self.clusters, min(size, 100), self.make_cluster)
        if req.path == "/api/2.2/jobs/list":
            size = int(req.query.get("limit", ["20"])[0])
            return self._page(req, "jobs", self.jobs, min(size, 100), self.make_job)
        return None

    def _page(
        self, req: Request, kind: str, total: int, size: int, make: Callable[[int], dict[str, Any]]
    ) -> Answer:
        offset = int(req.query.get("page_token", ["0"])[0] or 0)
        page = offset // size
        left = self.fail_pages.get((kind, page), 0)
        if left:
            self.fail_pages[(kind, page)] = left - 1
            return _json(500, error_body(500, "INTERNAL_ERROR", "replayed server error"))
        body: dict[str, Any] = {kind: [make(i) for i in range(offset, min(offset + size, total))]}
        if offset + size < total:
            body["next_page_token"] = str(offset + size)
            body["has_more"] = True
        return _json(200, body)


class VirtualClock:
    """A databricks.sdk Clock whose `sleep` only advances time and records the delay."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
