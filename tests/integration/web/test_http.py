"""The dashboard over real HTTP (uvicorn + httpx): authentication, roles, CSRF, headers,
escaping, the JSON API and its OpenAPI schema, the password store."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from lakecrew.faces.web.accounts import accounts_path

from .conftest import PASSWORD, XSS, XSS_ID, Site, login

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("web")]


def test_unauthenticated_requests_redirect_or_get_401(site: Site) -> None:
    anon = httpx.Client(base_url=site.base, follow_redirects=False)
    page = anon.get("/findings")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/findings"
    for path in ("/api/findings", "/api/actions", "/api/cost", "/api/openapi.json"):
        assert anon.get(path).status_code == 401, path
    assert anon.post("/api/exemptions", json={}).status_code == 401
    assert anon.post("/findings/exempt", data={}).status_code == 303  # to the login page
    wrong = anon.get("/login")
    token = wrong.cookies.get("lakecrew_login_csrf")
    bad = anon.post(
        "/login",
        data={"username": "operator1", "password": "not it at all", "csrf_token": token},
    )
    assert bad.status_code == 303 and bad.headers["location"] == "/login?error=1"
    assert "lakecrew_session" not in bad.cookies


def test_login_without_its_csrf_cookie_is_refused(site: Site) -> None:
    anon = httpx.Client(base_url=site.base, follow_redirects=False)
    data = {"username": "operator1", "password": PASSWORD, "csrf_token": "forged"}
    assert anon.post("/login", data=data).status_code == 403


def test_viewer_reads_but_cannot_act(site: Site) -> None:
    viewer = login(site.base, "viewer1")
    page = viewer.get("/actions")
    assert page.status_code == 200
    assert "/approve" not in page.text and "/rollback" not in page.text
    assert 'action="/findings/exempt"' not in viewer.get("/findings").text
    csrf = viewer.get("/api/me").json()["csrf_token"]
    before = {a["action_id"]: a["status"] for a in viewer.get("/api/actions").json()["items"]}
    headers = {"X-CSRF-Token": csrf}
    for action_id in list(before)[:3]:  # whatever their state: the role is checked first
        for verb in ("approve", "rollback"):
            url = f"/api/actions/{action_id}/{verb}"
            assert viewer.post(url, json={}, headers=headers).status_code == 403
    assert viewer.post("/findings/exempt", data={"csrf_token": csrf}).status_code == 403
    after = {a["action_id"]: a["status"] for a in viewer.get("/api/actions").json()["items"]}
    assert after == before


def test_posts_without_the_csrf_token_are_refused(site: Site) -> None:
    op = login(site.base, "operator1")
    applied = op.get("/api/actions", params={"status": "applied"}).json()["items"]
    # not the one the browser test rolls back
    action = next(a for a in applied if a["resource_id"] != XSS_ID)
    url = f"/api/actions/{action['action_id']}/rollback"
    assert op.post(url).status_code == 403
    assert op.post(url, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    form = op.post(f"/actions/{action['action_id']}/rollback", data={"confirm": "yes"})
    assert form.status_code == 403
    still = op.get("/api/actions", params={"status": "applied"}).json()["items"]
    assert action["action_id"] in {a["action_id"] for a in still}


def test_security_headers_and_no_inline_script(site: Site) -> None:
    op = login(site.base, "operator1")
    page = op.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    cookie = next(c for c in op.cookies.jar if c.name == "lakecrew_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert "<script" not in page.text and " style=" not in page.text


def test_attacker_controlled_names_are_escaped(site: Site) -> None:
    op = login(site.base, "operator1")
    page = op.get("/findings", params={"rule": "cluster.tags_missing"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert XSS not in page.text
    api = op.get("/api/findings", params={"rule": "cluster.tags_missing"}).json()
    assert XSS in {f["resource_name"] for f in api["items"]}  # JSON carries it as data


def test_api_findings_filters_paginates_and_matches_the_view_model(site: Site) -> None:
    from lakecrew.faces.web.views import FindingQuery

    op = login(site.base, "operator1")
    got = op.get("/api/findings", params={"severity": "warning", "per_page": 3}).json()
    assert got["per_page"] == 3 and len(got["items"]) <= 3 and got["total"] >= len(got["items"])
    assert all(f["severity"] == "warning" for f in got["items"])
    expected = site.app.state.dashboard.findings(FindingQuery(severity="warning", per_page=3))
    assert got == expected
    assert got["pages"] == -(-got["total"] // 3)


def test_openapi_schema_documents_the_api(site: Site) -> None:
    op = login(site.base, "operator1")
    schema = op.get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/api/findings", "/api/actions", "/api/cost", "/api/overview"} <= paths
    assert "post" in schema["paths"]["/api/actions/{action_id}/rollback"]
    assert not any(p.startswith(("/findings", "/login")) for p in paths)  # pages stay out


def test_passwords_are_stored_as_argon2id_hashes_only(site: Site) -> None:
    with sqlite3.connect(accounts_path(site.project)) as db:
        hashes = [h for (h,) in db.execute("SELECT hash FROM users")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(PASSWORD in h for h in hashes)
    assert PASSWORD.encode() not in accounts_path(site.project).read_bytes()
