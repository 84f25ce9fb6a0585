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
until `retry_timeout_seconds`. `RetryingApiClient` adds bounded exponential backoff with jitter
for the other 5xx answers (500, 502, 504), per request, so a listing resumes at the failed page.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from databricks.sdk import WorkspaceClient
from databricks.sdk.clock import Clock, RealClock
from databricks.sdk.config import Config
from databricks.sdk.core import ApiClient
from databricks.sdk.mixins.compute import ClustersExt
from databricks.sdk.mixins.jobs import JobsExt
from databricks.sdk.service.catalog import CatalogsAPI, GrantsAPI, SchemasAPI, TablesAPI
from databricks.sdk.service.compute import ClusterPoliciesAPI, InstancePoolsAPI
from databricks.sdk.service.settings import WorkspaceConfAPI
from databricks.sdk.service.sql import StatementExecutionAPI, WarehousesAPI
from databricks.sdk.service.workspace import SecretsAPI

from lakecrew.adapters.databricks.errors import clean_message, is_server_error
from lakecrew.core.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class ClientOptions:
    """Timeouts and retry budget of one client (seconds)."""

    retry_timeout_seconds: int = 60
    http_timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 10.0


class RetryingApiClient(ApiClient):
    """The SDK's ApiClient with bounded backoff on 5xx answers (the SDK only retries 429/503)."""

    def __init__(self, cfg: Config, options: ClientOptions, clock: Clock) -> None:
        super().__init__(cfg)
        self.options = options
        self.clock = clock
        self.attempts = 0  # total HTTP calls made through `do`, for tests and benchmarks

    def do(self, *args: Any, **kwargs: Any) -> Any:
        """One REST call; 500/502/504 are retried with exponential backoff and jitter."""
        attempt = 1
        while True:
            self.attempts += 1
            try:
                return super().do(*args, **kwargs)
            except Exception as exc:
                if not is_server_error(exc) or attempt >= self.options.max_attempts:
                    raise
                delay = getattr(exc, "retry_after_secs", None)
                if delay is None:
                    cap = min(self.options.backoff_cap, self.options.backoff_base * 2**attempt)
                    delay = random.uniform(cap / 2, cap)
                self.clock.sleep(float(delay))
                attempt += 1


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
            clock=clock or RealClock(), product="lakecrew", product_version="0.1", **kwargs
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
        self.clock: Clock = clock or RealClock()
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
