"""One simulated project, one real uvicorn server and one real Chromium for the dashboard tests.

The project (seed 7) gets a cluster named `<script>alert(1)</script>` without tags, and
`crew.approvals_required_for: [terminate]`; one workspace is swept at phase 2 with --apply, so
the ledger holds applied actions (add_tags: roll back), an action awaiting approval (terminate)
and open findings. Accounts: `viewer1` (viewer) and `operator1` (operator).
Session-scoped (not package): xdist may run other tests on the worker between these modules.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lakecrew.faces.web.accounts import Accounts, accounts_path
from lakecrew.faces.web.app import WebConfig, create_app
from lakecrew.ports.clock import FixedClock
from lakecrew.ports.workspace import ObjectKind
from lakecrew.testing.crew import cluster, ground_truth
from lakecrew.testing.web import launch_chromium, running

WS = "malaria-dev-westafrica"
XSS = "<script>alert(1)</script>"
XSS_ID = "0101-000000-xss00001"
PASSWORD = "correct horse battery staple"


@dataclass
class Site:
    project: Path
    base: str
    now: datetime
    app: Any


def _prepare(root: Path) -> datetime:
    from lakecrew.wiring import crew as cw
    from lakecrew.wiring.context import Context

    config = root / "lakecrew.yaml"
    doc = yaml.safe_load(config.read_text())
    doc.setdefault("crew", {})["approvals_required_for"] = ["terminate"]
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    now = datetime.fromisoformat(ground_truth(root)["now"])
    with Context.open(root, writable=True, clock=FixedClock(now)) as lc:
        lc.local_workspace(WS).put_many(
            ObjectKind.CLUSTER, [cluster(XSS_ID, cluster_name=XSS, custom_tags={})]
        )
        cw.sweep(lc, WS, apply=True, phase=2)
    accounts = Accounts(accounts_path(root))
    accounts.add("viewer1", PASSWORD, "viewer")
    accounts.add("operator1", PASSWORD, "operator")
    accounts.close()
    return now


@pytest.fixture(scope="session")
def site(seed7_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("web") / "proj"
    shutil.copytree(seed7_template, root)
    now = _prepare(root)
    app = create_app(WebConfig(root, clock=FixedClock(now)))
    app.state.dashboard.cost()  # the weekly cost review, computed once (then cached)
    with running(app) as base:
        yield Site(root, base, now, app)
    app.state.dashboard.close()
    app.state.accounts.close()


def login(base: str, user: str) -> httpx.Client:
    """An HTTP client logged in as `user` (through the login form and its CSRF cookie)."""
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=120)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    done = client.post(
        "/login",
        data={"username": user, "password": PASSWORD, "csrf_token": token[1], "next": "/"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/", done.text
    return client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium per test session (launching one costs about a second)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
