"""DHIS2 Web API source: dataValueSets, paged organisationUnits, tracker events, tracked entities.

Built on the generic paginated source: each request below is one ``PagedRequest``; the source
reads them page by page with retries and resumes mid-pagination after a crash. Auth is basic
(username/password) or a personal access token (``Authorization: ApiToken <token>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from requests.auth import AuthBase

from lakecrew.adapters.sources.http import (
    BasicAuth,
    HttpClient,
    PagedJsonSource,
    PagedRequest,
    PageNumberPaging,
    RetryPolicy,
    TokenAuth,
)
from lakecrew.core.errors import UsageError


def dhis2_auth(
    *, username: str | None = None, password: str | None = None, token: str | None = None
) -> AuthBase:
    """Basic auth or an API token (exactly one of the two)."""
    if token and not (username or password):
        return TokenAuth(token, scheme="ApiToken")
    if username and password and not token:
        return BasicAuth(username, password)
    raise UsageError(
        "DHIS2 needs either username + password or an API token, not both or neither",
        fix="set dhis2.token (preferred) or dhis2.username and dhis2.password",
    )


def data_value_sets(
    data_set: str,
    *,
    periods: Sequence[str] = (),
    org_units: Sequence[str] = (),
    children: bool = False,
    start_date: str | None = None,
    end_date: str | None = None,
    last_updated: str | None = None,
    key: str | None = None,
) -> PagedRequest:
    """GET /api/dataValueSets (not paged by DHIS2; an empty answer ``{}`` means no values)."""
    if not periods and not (start_date and end_date) and not last_updated:
        raise UsageError(
            "dataValueSets needs periods, a start/end date or lastUpdated",
            where=f"dataSet {data_set}",
        )
    if not org_units:
        raise UsageError("dataValueSets needs at least one orgUnit", where=f"dataSet {data_set}")
    params: list[tuple[str, str]] = [("dataSet", data_set)]
    params += [("period", p) for p in periods]
    params += [("orgUnit", ou) for ou in org_units]
    params.append(("children", "true" if children else "false"))
    for name, value in (
        ("startDate", start_date),
        ("endDate", end_date),
        ("lastUpdated", last_updated),
    ):
        if value:
            params.append((name, value))
    name = key or "dataValueSets:" + ",".join([data_set, *periods, *org_units])
    return PagedRequest(
        name, "dataValueSets", tuple(params), ("dataValues",), paging=None, empty_ok=True
    )


def organisation_units(
    *, fields: str = "id,name,level,path,geometry", page_size: int = 1000, key: str | None = None
) -> PagedRequest:
    """GET /api/organisationUnits, paged by ``pager.page``/``pager.pageCount``."""
    return PagedRequest(
        key or "organisationUnits",
        "organisationUnits",
        (("fields", fields),),
        ("organisationUnits",),
        PageNumberPaging("page", "pageSize", page_size, ("pager", "pageCount")),
    )


def tracker_events(
    program: str,
    *,
    org_unit: str | None = None,
    updated_after: str | None = None,
    page_size: int = 200,
    legacy: bool = False,
    key: str | None = None,
) -> PagedRequest:
    """Tracker events: /api/tracker/events (2.36+; records under ``events`` or ``instances``)
    or the legacy /api/events. Paged with ``totalPages`` so the pager carries ``pageCount``."""
    params: list[tuple[str, str]] = [("program", program), ("totalPages", "true")]
    if org_unit:
        params.append(("orgUnit", org_unit))
    if updated_after:
        params.append(("updatedAfter" if not legacy else "lastUpdatedStartDate", updated_after))
    path = "events" if legacy else "tracker/events"
    return PagedRequest(
        key or f"events:{program}",
        path,
        tuple(params),
        ("events", "instances"),
        PageNumberPaging("page", "pageSize", page_size, ("pager", "pageCount")),
    )


def tracked_entities(
    *,
    program: str | None = None,
    tracked_entity_type: str | None = None,
    org_unit: str,
    page_size: int = 200,
    legacy: bool = False,
    key: str | None = None,
) -> PagedRequest:
    """Tracked entities: /api/tracker/trackedEntities or legacy /api/trackedEntityInstances.

    The records hold personal data (names, sex, dates of birth): bronze must classify them.
    """
    if not (program or tracked_entity_type):
        raise UsageError("tracked entities need a program or a trackedEntityType")
    params: list[tuple[str, str]] = [("totalPages", "true")]
    params.append(("ou" if legacy else "orgUnit", org_unit))
    if program:
        params.append(("program", program))
    if tracked_entity_type:
        params.append(("trackedEntityType", tracked_entity_type))
    path = "trackedEntityInstances" if legacy else "tracker/trackedEntities"
    return PagedRequest(
        key or f"trackedEntities:{program or tracked_entity_type}:{org_unit}",
        path,
        tuple(params),
        ("trackedEntityInstances",) if legacy else ("trackedEntities", "instances"),
        PageNumberPaging("page", "pageSize", page_size, ("pager", "pageCount")),
    )


def dhis2_source(
    name: str,
    base_url: str,
    requests: Sequence[PagedRequest],
    checkpoint_path: Path,
    *,
    auth: AuthBase,
    retry: RetryPolicy | None = None,
    timeout: tuple[float, float] = (10.0, 120.0),
    client: HttpClient | None = None,
) -> PagedJsonSource:
    """A DHIS2 source; ``base_url`` is the instance root (``/api`` is appended if missing)."""
    root = base_url.rstrip("/")
    api = root if root.endswith("/api") else root + "/api"
    http = client or HttpClient(auth=auth, retry=retry or RetryPolicy(), timeout=timeout)
    if client is not None:
        http.auth = auth
    return PagedJsonSource(name, api, list(requests), checkpoint_path, http)
