"""The dashboard's models page and `/api/models` over the session's real MLflow store: the
same inventory as `lakecrew models`, descriptions escaped and redacted, axe-core clean in
real Chromium."""

from __future__ import annotations

import re
import threading

import pytest

from lakecrew.testing.mlflow_store import MODEL, StoreProject
from lakecrew.testing.web import axe_serious, launch_chromium, running
from lakecrew.wiring.context import Context
from lakecrew.wiring.mlops import model_ops

# one session MLflow store (store_project, ~8 s to build) for both files: one worker
pytestmark = pytest.mark.xdist_group("mlflow_store")

PASSWORD = "models page passphrase"
XSS = "<script>alert(1)</script>"
SECRET = "dapi0123456789abcdef0123456789abcdef"


def _check_in_chromium(
    base: str, cookies: list[dict[str, str]], models: int, failures: list[BaseException]
) -> None:
    try:
        from axe_playwright_python.sync_playwright import Axe
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = launch_chromium(p)
            context = browser.new_context(bypass_csp=True)  # axe is injected as a script
            context.add_cookies(cookies)  # type: ignore[arg-type]
            tab = context.new_page()
            tab.goto(f"{base}/models")
            assert tab.locator("section.model").count() == models
            assert axe_serious(Axe().run(tab).response) == []
            browser.close()
    except BaseException as exc:  # re-raised in the test's thread
        failures.append(exc)


def test_models_page_and_api_show_the_registry(store_project: StoreProject) -> None:
    import httpx  # the web stack (~0.5 s): imported by this test, not at every collection
    import mlflow

    from lakecrew.faces.web.accounts import Accounts, accounts_path
    from lakecrew.faces.web.app import WebConfig, create_app

    mlflow.set_tracking_uri(store_project.tracking_uri)
    mlflow.set_registry_uri(store_project.tracking_uri)
    client = mlflow.MlflowClient()
    src = client.get_model_version(MODEL, store_project.versions[0].version)
    name = "dev.ml.web_page"
    mlflow.register_model(src.source, name)
    client.update_registered_model(name, description=f"{XSS} token {SECRET}")
    accounts = Accounts(accounts_path(store_project.root))
    accounts.add("models-viewer", PASSWORD, "viewer", replace=True)
    accounts.close()
    with Context.open(store_project.root) as lc:
        expected = {
            m["name"]: [v["version"] for v in m["versions"]] for m in model_ops(lc).inventory()
        }

    app = create_app(WebConfig(store_project.root))
    try:
        with running(app) as base:
            web = httpx.Client(base_url=base, timeout=60)
            form = web.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            web.post("/login", data={"username": "models-viewer", "password": PASSWORD,
                                     "csrf_token": token[1]})  # fmt: skip
            assert httpx.get(f"{base}/api/models").status_code == 401
            data = web.get("/api/models").json()
            got = {m["name"]: [v["version"] for v in m["versions"]] for m in data["items"]}
            assert got == expected and data["count"] == len(expected) and data["notes"] == []
            mine = next(m for m in data["items"] if m["name"] == name)
            assert SECRET not in str(mine) and XSS in mine["description"]  # data, redacted
            page = web.get("/models").text
            assert f"<h2>{MODEL}</h2>" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
            assert XSS not in page and SECRET not in page
            cookies = [{"name": c.name, "value": c.value, "url": base} for c in web.cookies.jar]
            # in its own thread: a worker may already hold the web suite's session-wide
            # sync_playwright, and Playwright refuses a second sync API in a thread that has one
            failures: list[BaseException] = []
            worker = threading.Thread(
                target=_check_in_chromium, args=(base, cookies, len(expected), failures)
            )
            worker.start()
            worker.join()
            if failures:
                raise failures[0]
    finally:
        app.state.dashboard.close()
        app.state.accounts.close()
