"""DHIS2 source against a local HTTP server replaying the real recorded DHIS2 responses."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from lakecrew.adapters.sources.dhis2 import (
    data_value_sets,
    dhis2_auth,
    dhis2_source,
    organisation_units,
    tracked_entities,
    tracker_events,
)
from lakecrew.adapters.sources.http import (
    HttpClient,
    NextLinkPaging,
    PagedJsonSource,
    PagedRequest,
    PageNumberPaging,
    RetryPolicy,
    parse_retry_after,
    safe_url,
)
from lakecrew.core.errors import PermissionDenied, Transient, UsageError
from lakecrew.demo.replay_server import Fault, ReplayServer, Route, dhis2_routes
from lakecrew.ports.source import RAW, SOURCE_ROW, Batch, drain

REC = Path(__file__).resolve().parents[2] / "fixtures" / "dhis2"
TOKEN = "d2pat_TESTTOKENnotreal0000000000000000000000"


def _recorded_dvs() -> list[tuple[str, list[str], list[str], int]]:
    out = []
    for entry in json.loads((REC / "PROVENANCE.json").read_text()):
        if entry["file"].startswith("dataValueSets_"):
            q = parse_qs(urlsplit(entry["url"]).query)
            count = len(json.loads((REC / entry["file"]).read_text())["dataValues"])
            out.append((q["dataSet"][0], q["period"], q["orgUnit"], count))
    return out


def _client() -> HttpClient:
    return HttpClient(sleep=lambda s: None, retry=RetryPolicy(max_attempts=4))


def _collect(source: PagedJsonSource) -> list[Batch]:
    got: list[Batch] = []
    drain(source, got.append)
    return got


def test_data_value_sets_with_token_auth(tmp_path: Path) -> None:
    reqs = [data_value_sets(ds, periods=pe, org_units=ous) for ds, pe, ous, _ in _recorded_dvs()]
    with ReplayServer(dhis2_routes(REC), token=TOKEN) as server:
        src = dhis2_source(
            "dhis2", server.url, reqs, tmp_path / "c.json", auth=dhis2_auth(token=TOKEN),
            client=_client(),
        )  # fmt: skip
        batches = _collect(src)
        assert {s.auth_scheme for s in server.seen} == {"ApiToken"}
    assert [b.num_rows for b in batches] == [n for *_, n in _recorded_dvs()]
    assert sum(b.num_rows for b in batches) == 607
    first = batches[0].table
    assert first.column("value")[0].as_py() == "27"
    assert first.column("comment").to_pylist()[:2] == [None, ""]
    assert json.loads(first.column(RAW)[0].as_py())["storedBy"] == "bombali2"
    assert src.discover() == [r.key for r in reqs], "a completed run starts a new snapshot"


def test_organisation_units_are_paged_with_basic_auth(tmp_path: Path) -> None:
    with ReplayServer(dhis2_routes(REC), basic=("admin", "district")) as server:
        src = dhis2_source(
            "ou", server.url, [organisation_units()], tmp_path / "c.json",
            auth=dhis2_auth(username="admin", password="district"), client=_client(),
        )  # fmt: skip
        batches = _collect(src)
        pages = [s.query["page"] for s in server.seen]
    assert pages == [["1"], ["2"]]
    assert [b.num_rows for b in batches] == [1000, 332]
    ids = [i for b in batches for i in b.table.column("id").to_pylist()]
    assert len(ids) == len(set(ids)) == 1332
    assert batches[0].table.column(SOURCE_ROW).to_pylist()[:2] == [1, 2]


def test_500_then_200_and_429_retry_after_are_retried(tmp_path: Path) -> None:
    routes = dhis2_routes(REC)
    page2 = next(r for r in routes if r.query.get("page") == ["2"])
    page2.faults = [Fault(500, times=2), Fault(429, headers={"Retry-After": "7"})]
    client = _client()
    with ReplayServer(routes) as server:
        src = dhis2_source(
            "ou", server.url, [organisation_units()], tmp_path / "c.json",
            auth=dhis2_auth(token=TOKEN), client=client,
        )  # fmt: skip
        batches = _collect(src)
        statuses = [s.status for s in server.seen]
    assert statuses == [200, 500, 500, 429, 200]
    assert [b.num_rows for b in batches] == [1000, 332]
    assert client.waits[2] == 7.0, "Retry-After is honoured"
    assert all(0 <= w <= 1.0 for w in client.waits[:2]), "jittered backoff within the cap"


def test_persistent_500_is_transient_and_resumes_at_the_failed_page(tmp_path: Path) -> None:
    routes = dhis2_routes(REC)
    page2 = next(r for r in routes if r.query.get("page") == ["2"])
    page2.faults = [Fault(503, times=4)]
    with ReplayServer(routes) as server:
        src = dhis2_source(
            "ou", server.url, [organisation_units()], tmp_path / "c.json",
            auth=dhis2_auth(token=TOKEN), client=_client(),
        )  # fmt: skip
        got: list[Batch] = []
        with pytest.raises(Transient, match="HTTP 503 after 4 attempts") as err:
            drain(src, got.append)
        assert TOKEN not in str(err.value)
        assert [b.num_rows for b in got] == [1000]
        again = _collect(src)  # the re-run reads page 2 only
        assert [b.num_rows for b in again] == [332]
        assert [s.query["page"] for s in server.seen][-1] == ["2"]
        assert again[0].batch_id != got[0].batch_id


def test_crash_before_commit_rereads_the_same_batch(tmp_path: Path) -> None:
    with ReplayServer(dhis2_routes(REC)) as server:
        src = dhis2_source(
            "ou", server.url, [organisation_units()], tmp_path / "c.json",
            auth=dhis2_auth(token=TOKEN), client=_client(),
        )  # fmt: skip
        crashed = next(iter(src.read()))  # written to bronze, then the process died
        replay = _collect(src)
    assert replay[0].batch_id == crashed.batch_id
    assert replay[0].table.column("id").equals(crashed.table.column("id"))


def test_wrong_credentials_are_one_clear_error_without_the_secret(tmp_path: Path) -> None:
    with ReplayServer(dhis2_routes(REC), basic=("admin", "district")) as server:
        src = dhis2_source(
            "ou", server.url, [organisation_units()], tmp_path / "c.json",
            auth=dhis2_auth(username="admin", password="s3cret-wrong"), client=_client(),
        )  # fmt: skip
        with pytest.raises(PermissionDenied, match="HTTP 401") as err:
            _collect(src)
    assert "s3cret-wrong" not in str(err.value) and "fix:" in str(err.value)
    assert "s3cret" not in repr(src.client.auth)
    with pytest.raises(UsageError):
        dhis2_auth(username="a", password="b", token="c")


def test_tracker_events_and_legacy_tracked_entities(tmp_path: Path) -> None:
    # The recordings here are dhis2-core *import* payloads; served wrapped as GET answers.
    events_doc = json.loads((REC / "tracker_import_event_with_data_values.json").read_text())
    tei = json.loads(
        (REC / "trackedEntityInstance_legacy_with_enrollments_events.json").read_text()
    )
    routes = [
        Route("/api/tracker/events", json.dumps({"events": events_doc["events"]}).encode()),
        Route(
            "/api/trackedEntityInstances", json.dumps({"trackedEntityInstances": [tei]}).encode()
        ),
    ]
    with ReplayServer(routes) as server:
        src = dhis2_source(
            "tracker", server.url,
            [tracker_events("BFcipDERJnf"), tracked_entities(program="IpHINAT79UW",
             org_unit="DiszpKrYNg8", legacy=True)],
            tmp_path / "c.json", auth=dhis2_auth(token=TOKEN), client=_client(),
        )  # fmt: skip
        ev, te = _collect(src)
    assert ev.table.column("event").to_pylist() == ["D9PbzJY8bJO"]
    assert json.loads(ev.table.column("dataValues")[0].as_py())
    assert te.num_rows == 1 and len(json.loads(te.table.column("enrollments")[0].as_py())) == 3


def test_generic_next_link_source(tmp_path: Path) -> None:
    routes = [
        Route("/v1/items", b'{"results":[{"id":1},{"id":2}],"next":"/v1/items?cursor=b"}'),
        Route("/v1/items", b'{"results":[{"id":3}],"next":null}', query={"cursor": ["b"]}),
    ]
    with ReplayServer(routes) as server:
        src = PagedJsonSource(
            "gen", server.url + "/v1/",
            [PagedRequest("items", "items", paging=NextLinkPaging(("next",)))],
            tmp_path / "c.json", _client(),
        )  # fmt: skip
        got = _collect(src)
    assert [b.table.column("id").to_pylist() for b in got] == [["1", "2"], ["3"]]


def test_generic_page_number_source_stops_on_a_short_page(tmp_path: Path) -> None:
    routes = [
        Route("/p", b"[1,2]", query={"page": ["1"]}),
        Route("/p", b"[3]", query={"page": ["2"]}),
    ]
    req = PagedRequest("p", "p", (), (), PageNumberPaging("page", None, 2, None))
    with ReplayServer(routes) as server:
        got = _collect(PagedJsonSource("pn", server.url, [req], tmp_path / "c.json", _client()))
    assert [b.table.column("value").to_pylist() for b in got] == [["1", "2"], ["3"]]


def test_helpers() -> None:
    assert parse_retry_after("12") == 12.0 and parse_retry_after("soon") is None
    assert (
        safe_url("https://u:p@h.org/api?x=1&api_key=zz")
        == "https://h.org/api?x=1&api_key=%2A%2A%2A"
    )
