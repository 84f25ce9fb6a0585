"""HTTP JSON client with bounded retries, and a generic paginated JSON source.

Retries: 429 and 5xx (and connection errors/timeouts) with exponential backoff and full jitter,
honouring ``Retry-After``; every request has connect/read timeouts. Credentials live in the
auth objects only: their ``repr`` is masked, and URLs in errors are stripped of user info and
of secret-looking query parameters.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from lakecrew.adapters.sources.checkpoint import (
    JsonCheckpoint,
    batch_id,
    json_text_columns,
    with_metadata,
)
from lakecrew.core.errors import (
    DataError,
    LakecrewError,
    NotFound,
    PermissionDenied,
    Transient,
    UsageError,
)
from lakecrew.ports.source import Batch, CheckpointToken

_SECRET_WORDS = ("token", "key", "secret", "password", "pass", "auth", "signature")


class TokenAuth(AuthBase):
    """``Authorization: <scheme> <token>`` (DHIS2 personal access tokens use ``ApiToken``)."""

    def __init__(self, token: str, scheme: str = "ApiToken") -> None:
        self._token = token
        self._scheme = scheme

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"{self._scheme} {self._token}"
        return r

    def __repr__(self) -> str:
        return f"TokenAuth(scheme={self._scheme!r}, token=***)"


class BasicAuth(HTTPBasicAuth):
    """HTTP basic auth whose repr never shows the password."""

    def __repr__(self) -> str:
        return "BasicAuth(username=***, password=***)"


def safe_url(url: str) -> str:
    """The URL without user info and with secret-looking query values replaced by ``***``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    query = [
        (k, "***" if any(w in k.lower() for w in _SECRET_WORDS) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class HttpClient:
    """GET JSON with timeouts, retries and clear errors. ``sleep`` is injectable for tests."""

    auth: AuthBase | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: tuple[float, float] = (10.0, 120.0)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    session: requests.Session = field(default_factory=requests.Session)
    waits: list[float] = field(default_factory=list)
    """Every backoff wait taken, in seconds (for run reports and tests)."""

    def get_json(self, url: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        """GET ``url`` and decode JSON; raises Transient after the last failed attempt."""
        where = safe_url(url)
        for attempt in range(1, self.retry.max_attempts + 1):
            last = attempt == self.retry.max_attempts
            try:
                resp = self.session.get(
                    url,
                    params=list(params),
                    auth=self.auth,
                    timeout=self.timeout,
                    headers={"Accept": "application/json"},
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                if last:
                    raise Transient(
                        f"{kind} after {attempt} attempts",
                        where=where,
                        fix="check that the server is reachable; re-run resumes where it stopped",
                    ) from None
                self._wait(attempt, None)
                continue
            if resp.status_code in self.retry.retry_statuses:
                if last:
                    raise Transient(
                        f"HTTP {resp.status_code} after {attempt} attempts",
                        where=where,
                        fix="the server is overloaded or failing; re-run later (it resumes)",
                    )
                self._wait(attempt, parse_retry_after(resp.headers.get("Retry-After")))
                continue
            _raise_for_status(resp.status_code, where)
            try:
                return resp.json()
            except ValueError:
                raise DataError(
                    f"response is not JSON (content-type {resp.headers.get('Content-Type')})",
                    where=where,
                    fix="check the URL: a login page or proxy error page is the usual cause",
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        seconds = self.retry.delay(attempt, retry_after, self.rng)
        self.waits.append(seconds)
        self.sleep(seconds)


def _raise_for_status(status: int, where: str) -> None:
    if status < 400:
        return
    if status in (401, 403):
        raise PermissionDenied(
            f"server refused the credentials (HTTP {status})",
            where=where,
            fix="check the user/password or API token and that it may read this resource",
        )
    if status == 404:
        raise NotFound("HTTP 404", where=where, fix="check the base URL and the API path")
    raise LakecrewError(f"HTTP {status}", where=where, fix="check the request parameters")


@dataclass(frozen=True)
class PageNumberPaging:
    """``?page=N&pageSize=S``; the last page is ``page_count_path`` or a short page."""

    page_param: str = "page"
    size_param: str | None = "pageSize"
    page_size: int = 100
    page_count_path: tuple[str, ...] | None = ("pager", "pageCount")


@dataclass(frozen=True)
class NextLinkPaging:
    """Follow the URL at ``next_path`` (absolute or relative) until it is absent."""

    next_path: tuple[str, ...] = ("next",)


@dataclass(frozen=True)
class PagedRequest:
    """One logical request; ``key`` names it in the checkpoint and in batch ids."""

    key: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    records_keys: tuple[str, ...] = ("results",)
    """Candidate keys of the record array, first present wins (``()`` = body is the array)."""
    paging: PageNumberPaging | NextLinkPaging | None = None
    empty_ok: bool = False
    """A response with none of ``records_keys`` means no records (DHIS2 answers ``{}``)."""


def _dig(doc: Any, path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


@dataclass
class PagedJsonSource:
    """Snapshot source over paginated JSON endpoints; resumes mid-pagination after a crash.

    A *run* reads every request to its last page. Each page is one batch; committing a page
    records it. When a run is complete the next ``read()`` starts a new run (a new snapshot).
    """

    name: str
    base_url: str
    requests: Sequence[PagedRequest]
    checkpoint_path: Any
    client: HttpClient = field(default_factory=HttpClient)

    def __post_init__(self) -> None:
        keys = [r.key for r in self.requests]
        if len(set(keys)) != len(keys):
            raise UsageError(f"duplicate request keys in source {self.name!r}: {keys}")
        self._store = JsonCheckpoint(self.checkpoint_path)

    def _progress(self) -> tuple[int, dict[str, Any]]:
        state = self._store.load()
        if not state or state.get("complete"):
            return int(state.get("run", 0)) + 1, {}
        return int(state["run"]), dict(state.get("requests", {}))

    def discover(self) -> Sequence[str]:
        """Keys of the requests not finished in the current run."""
        _, progress = self._progress()
        return [r.key for r in self.requests if not progress.get(r.key, {}).get("done")]

    def read(self) -> Iterator[Batch]:
        """One batch per page, resuming after the last committed page of the current run."""
        run, progress = self._progress()
        for req in self.requests:
            prog = progress.get(req.key, {})
            if prog.get("done"):
                continue
            yield from self._pages(run, req, int(prog.get("pages", 0)), prog.get("next"))

    def _pages(self, run: int, req: PagedRequest, done: int, nxt: str | None) -> Iterator[Batch]:
        page = done + 1
        while True:
            url, params = self._url(req, page, nxt)
            body = self.client.get_json(url, params)
            records = self._records(req, body, url)
            last, nxt = self._is_last(req, body, page, len(records), url)
            yield self._batch(
                run=run,
                req=req,
                page=page,
                url=url,
                params=params,
                records=records,
                last=last,
                nxt=nxt,
            )
            if last:
                return
            page += 1

    def _url(
        self, req: PagedRequest, page: int, nxt: str | None
    ) -> tuple[str, list[tuple[str, str]]]:
        if isinstance(req.paging, NextLinkPaging) and page > 1:
            if nxt is None:
                raise DataError("checkpoint lost the next-page link", where=req.key)
            return nxt, []
        url = urljoin(self.base_url.rstrip("/") + "/", req.path.lstrip("/"))
        params = list(req.params)
        if isinstance(req.paging, PageNumberPaging):
            params.append((req.paging.page_param, str(page)))
            if req.paging.size_param:
                params.append((req.paging.size_param, str(req.paging.page_size)))
        return url, params

    def _records(self, req: PagedRequest, body: Any, url: str) -> list[Any]:
        if not req.records_keys:
            found = body
        else:
            key = next((k for k in req.records_keys if isinstance(body, dict) and k in body), None)
            if key is None and req.empty_ok and isinstance(body, dict):
                return []
            found = body.get(key) if key is not None else None
        if not isinstance(found, list):
            keys = ", ".join(sorted(body)[:8]) if isinstance(body, dict) else type(body).__name__
            raise DataError(
                f"no record array under {list(req.records_keys)} (response keys: {keys})",
                where=safe_url(url),
                fix="check the API version and the records key of the request",
            )
        return found

    def _is_last(
        self, req: PagedRequest, body: Any, page: int, count: int, url: str
    ) -> tuple[bool, str | None]:
        paging = req.paging
        if paging is None:
            return True, None
        if isinstance(paging, NextLinkPaging):
            link = _dig(body, paging.next_path)
            return (not link), (urljoin(url, str(link)) if link else None)
        pages = _dig(body, paging.page_count_path) if paging.page_count_path else None
        if isinstance(pages, int):
            return page >= pages, None
        return count < paging.page_size, None

    def _batch(
        self,
        *,
        run: int,
        req: PagedRequest,
        page: int,
        url: str,
        params: list[tuple[str, str]],
        records: list[Any],
        last: bool,
        nxt: str | None,
    ) -> Batch:
        bid = batch_id(self.name, run, req.key, page)
        uri = safe_url(f"{url}?{urlencode(params)}" if params else url)
        objects = [r if isinstance(r, dict) else {"value": r} for r in records]
        raws: list[str | None] = [json.dumps(r, ensure_ascii=False) for r in records]
        table = with_metadata(
            dict(json_text_columns(objects)),
            uri=uri,
            rows=list(range(1, len(records) + 1)),
            bid=bid,
            raw=raws,
            where=uri,
        )
        state = {"run": run, "key": req.key, "pages": page, "next": nxt, "done": last}
        token = CheckpointToken(self.name, bid, json.dumps(state))
        return Batch(bid, self.name, table, token, notes=(f"{req.key} page {page}",))

    def commit(self, token: CheckpointToken) -> None:
        """Record one page as ingested; completes the run after the last page of all requests."""
        if token.source != self.name:
            raise UsageError(f"token of source {token.source!r} given to {self.name!r}")
        info = json.loads(token.state)
        state = self._store.load()
        if state.get("run") != info["run"]:
            state = {"run": info["run"], "requests": {}}
        state["requests"][info["key"]] = {
            "pages": info["pages"],
            "next": info["next"],
            "done": info["done"],
        }
        state["complete"] = all(state["requests"].get(r.key, {}).get("done") for r in self.requests)
        self._store.save(state)
