"""Build the Databricks SDK client for one workspace: bounded timeouts, CLI-like auth, retries.

Auth follows the SDK's unified client authentication, which is also the Databricks CLI's order:
explicit settings from lakecrew.yaml (`host`, `auth_profile`) first, then the environment
(`DATABRICKS_HOST`, `DATABRICKS_TOKEN`, or `DATABRICKS_CLIENT_ID` + `DATABRICKS_CLIENT_SECRET` of
a service principal for OAuth machine-to-machine, `DATABRICKS_CONFIG_PROFILE`), then the profile
in ~/.databrickscfg (`DEFAULT` when none is named). Tokens never reach logs, reprs or errors.

The SDK's `Config` probes `{host}/.well-known/databricks-config` while it is built and, with
default settings, retries for about 5 minutes offline; every client here is built with
`retry_timeout_seconds` and `http_timeout_seconds` bounded (ClientOptions).

Retries: the SDK itself retries 429 and 503 honouring `Retry-After`, and connection failures,
until `retry_timeout_seconds` per call. `RetryingApiClient` adds bounded exponential backoff with
jitter for the other 5xx answers (500, 502, 504) and truncated bodies, per request, so a listing
resumes at the failed page. Every sleep of both counts against `retry_budget_seconds`, a budget
for the whole client (one sweep), so a 429 storm cannot stretch a run without end.

Unreachable hosts: `build_client` first resolves the host and opens one TCP connection (within
`connect_timeout_seconds`, 30 s by default), so a wrong host, a DNS failure or a closed port is
one clear `Unreachable` line at once instead of minutes of retries per API; connection failures
later in a run are retried for at most `connect_timeout_seconds`, after which the client stops
calling the host (every further call raises `Unreachable` at once).

Pages: `listing(api)` counts the requests of one listing; a repeated page token, a body that is
not JSON or a body cut short is an error naming the API and the page (`PageError`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.clock import Clock, RealClock
from databricks.sdk.config import Config
from databricks.sdk.core import ApiClient
from databricks.sdk.mixins.compute import ClustersExt
from databricks.sdk.mixins.jobs import JobsExt
from databricks.sdk.service.catalog import (
    CatalogsAPI,
    FunctionsAPI,
    GrantsAPI,
    SchemasAPI,
    TablesAPI,
)
from databricks.sdk.service.compute import ClusterPoliciesAPI, InstancePoolsAPI
from databricks.sdk.service.files import FilesAPI
from databricks.sdk.service.settings import WorkspaceConfAPI
from databricks.sdk.service.sql import StatementExecutionAPI, WarehousesAPI
from databricks.sdk.service.workspace import SecretsAPI

from lakecrew.adapters.databricks.errors import clean_message, is_server_error
from lakecrew.core.errors import ConfigError, DataError, Transient, Unreachable

T = TypeVar("T")
_TRUNCATED = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


@dataclass(frozen=True)
class ClientOptions:
    """Timeouts and retry budgets of one client (seconds).

    `retry_timeout_seconds`: the SDK's budget per call (429/503 and connection retries);
    `retry_budget_seconds`: all retry sleeps of the client together (one sweep);
    `connect_timeout_seconds`: how long a host may stay unreachable before the run stops.
    """

    retry_timeout_seconds: int = 60
    http_timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 10.0
    retry_budget_seconds: float = 300.0
    connect_timeout_seconds: float = 30.0


class PageError(DataError):
    """A page of a listing could not be used: not JSON, cut short, or a repeated page token."""


@dataclass
class _Listing:
    """The requests of one listing in progress (see RetryingApiClient.listing)."""

    api: str
    pages: int = 0
    tokens: set[str] = field(default_factory=set)


class BudgetClock(Clock):
    """A databricks.sdk Clock whose sleeps share one budget; past it, `sleep` raises Transient."""

    def __init__(self, inner: Clock, budget: float) -> None:
        self.inner = inner
        self.budget = budget
        self.spent = 0.0

    def time(self) -> float:
        return self.inner.time()

    def sleep(self, seconds: float) -> None:
        if self.spent + seconds > self.budget:
            raise Transient(
                f"the retry budget of {self.budget:g} s for this workspace is used up "
                f"({self.spent:.0f} s spent waiting on 429/5xx answers)",
                fix="retry later, or raise timeouts.retry_budget_seconds in lakecrew.yaml",
            )
        self.spent += seconds
        self.inner.sleep(seconds)


class RetryingApiClient(ApiClient):
    """The SDK's ApiClient with bounded backoff on 5xx answers (the SDK only retries 429/503),
    a cap on how long a host may be unreachable, and page checks for listings."""

    def __init__(self, cfg: Config, options: ClientOptions, clock: Clock) -> None:
        super().__init__(cfg)
        self.options = options
        self.clock = clock
        self.attempts = 0  # total HTTP calls made through `do`, for tests and benchmarks
        self.unreachable: str | None = None  # once set, every call fails at once
        self._down_since: float | None = None
        self._listing: _Listing | None = None
        # The SDK retries connection failures for its whole per-call budget; cap that at
        # connect_timeout_seconds (the SDK's own retry predicate, consulted per failure).
        inner = self._api_client
        sdk_is_retryable = inner._is_retryable
        inner._is_retryable = self._is_retryable_within_connect_budget(sdk_is_retryable)  # type: ignore[method-assign,assignment]

    def _is_retryable_within_connect_budget(
        self, sdk_is_retryable: Callable[[BaseException], str | None]
    ) -> Callable[[BaseException], str | None]:
        def is_retryable(err: BaseException) -> str | None:
            if isinstance(err, requests.ConnectionError | requests.Timeout):
                now = self.clock.time()
                if self._down_since is None:
                    self._down_since = now
                if now - self._down_since >= self.options.connect_timeout_seconds:
                    return None
            return sdk_is_retryable(err)

        return is_retryable

    @contextmanager
    def listing(self, api: str) -> Iterator[_Listing]:
        """Count the requests of one listing (`api`, e.g. "clusters.list") and check its pages."""
        previous, self._listing = self._listing, _Listing(api)
        try:
            yield self._listing
        finally:
            self._listing = previous

    def do(self, *args: Any, **kwargs: Any) -> Any:
        """One REST call; 500/502/504 and cut-short bodies are retried with exponential backoff
        and jitter; a host that stays unreachable raises Unreachable."""
        if self.unreachable is not None:
            raise Unreachable(self.unreachable, fix=_UNREACHABLE_FIX)
        page = self._next_page(kwargs.get("query"))
        attempt = 1
        while True:
            self.attempts += 1
            try:
                result = super().do(*args, **kwargs)
                self._down_since = None
                return result
            except (requests.ConnectionError, requests.Timeout, TimeoutError) as exc:
                down = requests.ConnectionError | requests.Timeout
                cause = exc if isinstance(exc, down) else exc.__cause__
                if not isinstance(cause, down) or self._down_since is None:
                    raise
                if self.clock.time() - self._down_since < self.options.connect_timeout_seconds:
                    raise
                self.unreachable = (
                    f"cannot reach {self._cfg.host} ({_network_reason(cause)}); gave up after "
                    f"{self.options.connect_timeout_seconds:g} s"
                )
                raise Unreachable(self.unreachable, fix=_UNREACHABLE_FIX) from None
            except requests.JSONDecodeError:
                raise self._page_error(page, "the answer is not valid JSON") from None
            except Exception as exc:
                truncated = isinstance(exc, _TRUNCATED)
                if not (is_server_error(exc) or truncated) or attempt >= self.options.max_attempts:
                    if truncated:
                        raise self._page_error(page, "the answer was cut short") from None
                    raise
                delay = getattr(exc, "retry_after_secs", None)
                if delay is None:
                    cap = min(self.options.backoff_cap, self.options.backoff_base * 2**attempt)
                    delay = random.uniform(cap / 2, cap)
                self.clock.sleep(float(delay))
                attempt += 1

    def _next_page(self, query: Any) -> int | None:
        """Count one request of the listing in progress; refuse a page token seen before."""
        lst = self._listing
        if lst is None:
            return None
        lst.pages += 1
        token = (query or {}).get("page_token") if isinstance(query, dict) else None
        if token:
            if str(token) in lst.tokens:
                raise self._page_error(
                    lst.pages, f"page token {str(token)[:40]!r} came back again (a page loop)"
                )
            lst.tokens.add(str(token))
        return lst.pages

    def _page_error(self, page: int | None, what: str) -> PageError:
        api = self._listing.api if self._listing else "a call"
        at = f" page {page}" if page is not None else ""
        return PageError(
            f"{api}{at}: {what}",
            where=str(self._cfg.host),
            fix="the workspace answered something unusable; rerun later, and report it if "
            "it persists",
        )


_UNREACHABLE_FIX = (
    "check host in lakecrew.yaml, DNS and the network (proxy, VPN, firewall); "
    "timeouts.connect_timeout_seconds sets how long to wait"
)


def _network_reason(exc: BaseException) -> str:
    """A short reason for a connection failure, without the URL's query or any header."""
    text = str(exc)
    for marker, reason in (
        ("Name or service not known", "the host name does not resolve"),
        ("nodename nor servname", "the host name does not resolve"),
        ("Temporary failure in name resolution", "the host name does not resolve"),
        ("getaddrinfo failed", "the host name does not resolve"),
        ("Connection refused", "connection refused"),
        ("SSL", "TLS handshake failed"),
        ("timed out", "no answer in time"),
    ):
        if marker in text:
            return reason
    return type(exc).__name__


def check_reachable(host: str, timeout: float) -> None:
    """One unauthenticated GET of the host's discovery document within `timeout` s: any HTTP
    answer (even 404) proves the host answers; DNS failure, refusal or silence → Unreachable.
    (A TCP connect alone is not enough: proxies accept connections for hosts that never
    answer.)"""
    parts = urlsplit(host)
    if not parts.hostname:
        return
    shown = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
    try:
        requests.get(
            f"{shown}/.well-known/databricks-config", timeout=(timeout, timeout),
            allow_redirects=False,
        ).close()  # fmt: skip
        return
    except requests.Timeout:
        reason = f"no answer within {timeout:g} s"
    except requests.ConnectionError as exc:
        reason = _network_reason(exc)
    except requests.RequestException as exc:
        reason = type(exc).__name__
    raise Unreachable(f"cannot reach {shown} ({reason})", fix=_UNREACHABLE_FIX)


def make_config(
    *,
    host: str | None = None,
    profile: str | None = None,
    options: ClientOptions | None = None,
    clock: Clock | None = None,
    **extra: Any,
) -> Config:
    """An SDK Config with bounded timeouts; auth resolved as the Databricks CLI does.

    `extra` passes other Config attributes (e.g. `token=` in tests, `config_file=`). Raises
    ConfigError (never showing a credential) when no usable authentication is found.
    """
    opts = options or ClientOptions()
    if host:
        check_reachable(host, opts.connect_timeout_seconds)
    kwargs: dict[str, Any] = {
        "retry_timeout_seconds": opts.retry_timeout_seconds,
        "http_timeout_seconds": opts.http_timeout_seconds,
        **extra,
    }
    if host:
        kwargs["host"] = host
    if profile:
        kwargs["profile"] = profile
    try:
        return Config(
            clock=BudgetClock(clock or RealClock(), opts.retry_budget_seconds),
            product="lakecrew",
            product_version="0.1",
            **kwargs,
        )
    except (ValueError, TimeoutError) as exc:
        where = f"databricks workspace {host or '(host from environment)'}"
        raise ConfigError(
            f"cannot configure Databricks authentication: {clean_message(exc)}",
            where=where + (f", profile {profile}" if profile else ""),
            fix="set auth_profile (a ~/.databrickscfg profile) or DATABRICKS_HOST with "
            "DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET",
        ) from None


class DatabricksClient:
    """The SDK services lakecrew uses, all over one RetryingApiClient.

    Every service is a real `databricks.sdk` API class (the same classes WorkspaceClient
    exposes); `workspace_client()` gives a plain WorkspaceClient on the same Config for
    anything else.
    """

    def __init__(
        self, config: Config, options: ClientOptions | None = None, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.options = options or ClientOptions()
        self.clock: Clock = (
            config.clock if isinstance(config.clock, BudgetClock) else (clock or RealClock())
        )
        self.api = RetryingApiClient(config, self.options, self.clock)

    def __repr__(self) -> str:  # never the token
        return f"DatabricksClient(host={self.config.host!r}, auth_type={self.config.auth_type!r})"

    @property
    def host(self) -> str:
        return str(self.config.host)

    def workspace_client(self) -> WorkspaceClient:
        """A WorkspaceClient on the same (already resolved) Config."""
        return WorkspaceClient(config=self.config)

    @cached_property
    def clusters(self) -> ClustersExt:
        return ClustersExt(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def cluster_policies(self) -> ClusterPoliciesAPI:
        return ClusterPoliciesAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def jobs(self) -> JobsExt:
        return JobsExt(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def warehouses(self) -> WarehousesAPI:
        return WarehousesAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def instance_pools(self) -> InstancePoolsAPI:
        return InstancePoolsAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def secrets(self) -> SecretsAPI:
        return SecretsAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def workspace_conf(self) -> WorkspaceConfAPI:
        return WorkspaceConfAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def statement_execution(self) -> StatementExecutionAPI:
        return StatementExecutionAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def tables(self) -> TablesAPI:
        return TablesAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def catalogs(self) -> CatalogsAPI:
        return CatalogsAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def schemas(self) -> SchemasAPI:
        return SchemasAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def grants(self) -> GrantsAPI:
        return GrantsAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def functions(self) -> FunctionsAPI:
        return FunctionsAPI(self.api)  # type: ignore[no-untyped-call]

    @cached_property
    def files(self) -> FilesAPI:
        """The Files API (`PUT/DELETE /api/2.0/fs/files/Volumes/...`): single-shot uploads of up
        to 5 GiB through this client's retries (not the SDK's multipart FilesExt)."""
        return FilesAPI(self.api)  # type: ignore[no-untyped-call]


def build_client(
    *,
    host: str | None = None,
    profile: str | None = None,
    options: ClientOptions | None = None,
    clock: Clock | None = None,
    **extra: Any,
) -> DatabricksClient:
    """`make_config` + DatabricksClient in one call."""
    opts = options or ClientOptions()
    return DatabricksClient(
        make_config(host=host, profile=profile, options=opts, clock=clock, **extra), opts, clock
    )


def guarded(call: Callable[[], T], *, where: str, action: str) -> T:
    """Run one SDK call, translating its errors into lakecrew errors."""
    from lakecrew.adapters.databricks.errors import translate

    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - every SDK failure is translated
        raise translate(exc, where=where, action=action) from None
