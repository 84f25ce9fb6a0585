"""OIDC sign-in against a real OpenID Connect provider on loopback (lakecrew.testing.
oidc_provider: discovery, JWKS, authorization and token endpoints, RS256 ID tokens), driven
over HTTP by httpx as a browser would follow the redirects: a good sign-in maps the groups
claim to a role; a bad signature, another audience, an expired token, a missing nonce, a
state that is not the browser's, a replayed callback and a user with no mapped group are
refused and leave no session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr

from lakecrew.faces.web.app import WebConfig, create_app
from lakecrew.faces.web.oidc import STATE_COOKIE
from lakecrew.testing.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, oidc_provider
from lakecrew.testing.web import axe_serious, free_port, running


@dataclass
class Sso:
    base: str
    provider: Provider


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sso]:
    from lakecrew.services.estate.starter import write_starter
    from lakecrew.wiring.context import Context

    root = tmp_path_factory.mktemp("oidc") / "proj"
    root.mkdir()
    write_starter(root, force=False)
    port = free_port()
    with (
        pytest.MonkeyPatch.context() as mp,
        oidc_provider({"email": "amina@ehealth.example", "groups": ["lakecrew-ops"]}) as idp,
    ):
        mp.setenv("LAKECREW_ALLOW_INSECURE_HOSTS", "1")  # loopback http issuer (tests only)
        doc = yaml.safe_load((root / "lakecrew.yaml").read_text())
        doc["web"] = {"oidc": {
            "issuer": idp.issuer, "client_id": CLIENT_ID,
            "client_secret": {"scope": "lakecrew", "key": "oidc-client-secret"},
            "redirect_url": f"http://127.0.0.1:{port}/auth/oidc/callback",
            "roles": {"claim": "groups", "operator": ["lakecrew-ops"], "viewer": ["staff"]},
            "label": "Test IdP",
        }}  # fmt: skip
        (root / "lakecrew.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        with Context.open(root, writable=True) as lc:
            lc.secrets.put("lakecrew", "oidc-client-secret", SecretStr(CLIENT_SECRET))
        app = create_app(WebConfig(root))
        with running(app, port=port) as base:
            yield Sso(base, idp)
        app.state.dashboard.close()
        app.state.accounts.close()


def _to_callback(sso: Sso) -> tuple[httpx.Client, str]:
    """A browser sent to the provider and back: the callback URL it is about to open."""
    client = httpx.Client(base_url=sso.base, timeout=30)
    start = client.get("/auth/oidc/start", params={"next": "/findings"})
    assert start.status_code == 303 and start.headers["location"].startswith(sso.provider.issuer)
    back = httpx.get(start.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    return client, back.headers["location"]


def _sign_in(sso: Sso, *, tamper_state: bool = False) -> tuple[httpx.Client, httpx.Response]:
    """Follow the flow hop by hop (as a browser would); the last response is the callback's."""
    client, callback = _to_callback(sso)
    if tamper_state:
        callback = callback.replace("state=", "state=x")
    return client, client.get(callback)


def test_sign_in_maps_groups_to_a_role(sso: Sso) -> None:
    sso.provider.next_token = "good"
    login = httpx.get(f"{sso.base}/login")
    assert "Sign in with Test IdP" in login.text
    client, done = _sign_in(sso)
    assert done.status_code == 200, done.text
    assert 'content="0;url=/findings"' in done.text  # moves on by a same-site refresh
    me = client.get("/api/me").json()
    assert me["user"] == "amina@ehealth.example" and me["role"] == "operator"
    assert client.get("/findings").status_code == 200
    # the callback is one use: replaying it, state cookie and all, is refused
    state = done.request.url.params["state"]
    replay = httpx.get(str(done.request.url), headers={"Cookie": f"{STATE_COOKIE}={state}"})
    assert replay.status_code == 403 and "unknown, used or expired" in replay.text


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("bad_signature", "signature does not verify"),
        ("wrong_audience", "aud"),
        ("expired", "expired"),
        ("no_nonce", "nonce"),
    ],
)
def test_bad_id_tokens_are_refused(sso: Sso, token: str, why: str) -> None:
    sso.provider.next_token = token
    client, done = _sign_in(sso)
    sso.provider.next_token = "good"
    assert done.status_code == 403 and "sign-in refused" in done.text
    assert why in done.text.lower()
    assert client.get("/api/me").status_code == 401  # no session was opened


def test_state_not_the_browsers_is_refused(sso: Sso) -> None:
    client, done = _sign_in(sso, tamper_state=True)
    assert done.status_code == 403 and "state does not match" in done.text
    assert client.get("/api/me").status_code == 401
    # the callback opened by another browser (without this one's state cookie) is refused,
    # and does not spend this browser's sign-in
    client, callback = _to_callback(sso)
    other = httpx.get(callback)
    assert other.status_code == 403 and "state does not match" in other.text
    assert client.get(callback).status_code == 200


def test_user_without_a_mapped_group_is_refused(sso: Sso) -> None:
    sso.provider.claims["groups"] = ["finance"]
    try:
        client, done = _sign_in(sso)
    finally:
        sso.provider.claims["groups"] = ["lakecrew-ops"]
    assert done.status_code == 403 and "no lakecrew role" in done.text
    assert client.get("/api/me").status_code == 401


def test_chromium_signs_in_through_the_provider_and_pages_pass_axe(sso: Sso, browser: Any) -> None:
    """Real Chromium follows the flow (provider redirect, callback, same-site refresh);
    axe-core finds no serious violation on the login page with its SSO link, the signed-in
    page and the refusal page."""
    from axe_playwright_python.sync_playwright import Axe

    sso.provider.next_token = "good"
    axe = Axe()
    context = browser.new_context(bypass_csp=True)  # axe is injected as a script
    page = context.new_page()
    page.goto(f"{sso.base}/login?next=/rules")
    problems = [f"login: {p}" for p in axe_serious(axe.run(page).response)]
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.wait_for_url(f"{sso.base}/rules")
    assert "amina@ehealth.example (operator)" in page.locator("header").inner_text()
    client, done = _sign_in(sso)
    client.close()
    # the signed-in page, without its refresh (else it is gone before axe runs)
    page.set_content(re.sub(r'<meta http-equiv="refresh"[^>]*>', "", done.text))
    problems += [f"signed in: {p}" for p in axe_serious(axe.run(page).response)]
    sso.provider.next_token = "expired"
    page.goto(f"{sso.base}/auth/oidc/start")
    sso.provider.next_token = "good"
    assert "sign-in refused" in page.content()
    problems += [f"refused: {p}" for p in axe_serious(axe.run(page).response)]
    assert problems == []
    context.close()
