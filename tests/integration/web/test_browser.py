"""The dashboard and the report in a real Chromium (Debian package, driven by Playwright):
the operator's flows, the viewer's limits, escaping, axe-core on every page, the single-file
report opened from disk with the network blocked."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lakecrew.faces.web.render import report_html, section_charts
from lakecrew.testing.web import axe_serious

from .conftest import PASSWORD, WS, XSS, XSS_ID, Site

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("web")]
TIMEOUT_MS = 120_000  # a loaded machine is slow, never wrong: waits end on events, not time
PAGES = ("/", "/findings", "/actions", "/pipelines", "/finops", "/governance", "/models", "/rules")


def _login(page: Any, base: str, user: str) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button")
    page.wait_for_url(f"{base}/")


def _tags(site: Site, cluster_id: str) -> dict[str, str]:
    with sqlite3.connect(site.project / ".lakecrew" / "workspace.db") as db:
        (body,) = db.execute(
            "SELECT body FROM workspace_objects WHERE workspace = ? AND kind = 'clusters' "
            "AND object_id = ?",
            (WS, cluster_id),
        ).fetchone()
    return json.loads(body).get("custom_tags") or {}


def _status(site: Site, action_id: str) -> str:
    items = site.app.state.dashboard.actions(None, None)["items"]
    return next(a["status"] for a in items if a["action_id"] == action_id)


def test_operator_filters_exempts_approves_and_rolls_back(site: Site, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, site.base, "operator1")

    page.goto(f"{site.base}/findings")
    page.select_option("#filter-workspace", WS)
    page.select_option("#filter-severity", "warning")
    page.click("form.filters button")
    page.wait_for_url("**/findings?*severity=warning*")
    rows = page.locator("tr.finding")
    assert rows.count() > 0
    cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]
    assert all(c[0] == "warning" and c[2] == WS for c in cells)

    page.goto(f"{site.base}/findings?rule=cluster.tags_missing&workspace={WS}")
    assert page.locator(".resource-name").all_inner_texts().count(XSS) == 1  # text, not markup
    row = page.locator("tr.finding", has_text=XSS_ID)
    row.locator("summary", has_text="exempt").click()
    row.locator("input[name=reason]").fill("training run, agreed with the data lead")
    row.locator("input[name=until]").fill("2027-01-31")
    row.locator("form.exempt button").click()
    page.wait_for_url("**/findings?done=exempted")
    dashboard = site.app.state.dashboard
    with dashboard._write() as lc:  # the ledger, as `lakecrew sql` would read it
        exemptions = [e for e in lc.ledger.exemptions() if e.resource_id == XSS_ID]
    assert [(e.rule_id, e.approver) for e in exemptions] == [
        ("cluster.tags_missing", "operator1 (web)")
    ]

    page.goto(f"{site.base}/actions?status=awaiting_approval")
    pending = page.locator("tr.action").first
    pending_id = pending.get_attribute("data-action-id")
    pending.locator("form.approve button").click()
    page.wait_for_url("**/actions?done=approved")
    assert _status(site, pending_id) == "approved"

    applied = [
        a
        for a in dashboard.actions(WS, "applied")["items"]
        if a["resource_id"] == XSS_ID and a["action"] == "add_tags"
    ]
    assert len(applied) == 1 and _tags(site, XSS_ID)  # the crew tagged it
    page.goto(f"{site.base}/actions?status=applied")
    target = page.locator(f"tr.action[data-action-id='{applied[0]['action_id']}']")
    target.locator("form.rollback button").click()  # the confirmation box is required
    assert _status(site, applied[0]["action_id"]) == "applied"
    target.locator("input[name=confirm]").check()
    target.locator("form.rollback button").click()
    page.wait_for_url("**/actions?done=rolled+back")
    assert _status(site, applied[0]["action_id"]) == "rolled_back"
    assert _tags(site, XSS_ID) == {}  # the workspace is back to its before-state
    assert dialogs == []
    context.close()


def test_viewer_sees_no_controls(site: Site, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    _login(page, site.base, "viewer1")
    page.goto(f"{site.base}/actions")
    assert page.locator("tr.action").count() > 0
    assert page.locator("form.approve, form.rollback").count() == 0
    page.goto(f"{site.base}/findings")
    assert page.locator("tr.finding").count() > 0 and page.locator("form.exempt").count() == 0
    context.close()


def test_every_page_passes_axe_without_serious_violations(site: Site, browser: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    context = browser.new_context(bypass_csp=True)  # axe is injected as a script
    page = context.new_page()
    page.goto(f"{site.base}/login")
    problems = axe_serious(axe.run(page).response)
    _login(page, site.base, "operator1")
    for path in PAGES:
        page.goto(f"{site.base}{path}")
        problems += [f"{path}: {p}" for p in axe_serious(axe.run(page).response)]
    assert problems == []
    context.close()


def test_report_opens_offline_from_disk_and_renders_every_chart(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    import jsonschema

    data = site.app.state.dashboard.weekly()
    schema_dir = Path(__file__).parents[3] / "src" / "lakecrew" / "faces" / "cli" / "schemas"
    schema = json.loads((schema_dir / "report.schema.json").read_text())
    jsonschema.validate(
        {"kind": "report", "items": [data], "meta": {"written": [], "seconds": 1.0}}, schema
    )
    path = tmp_path / "weekly.html"
    path.write_text(report_html(data), encoding="utf-8")
    context = browser.new_context(offline=True)
    requested: list[str] = []

    def block(route: Any) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", block)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(path.as_uri())
    charts = page.locator("svg.chart")
    drawn = section_charts(data)
    empty = sum(1 for svg in drawn.values() if ">no data</desc>" in svg)
    assert charts.count() == len(drawn) >= 8 and empty <= 2
    marked = 0
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 10
        marked += charts.nth(i).locator("rect, polyline").count() > 0
    assert marked == len(drawn) - empty  # every chart with data draws it
    assert requested == [path.as_uri()]  # nothing but the file itself
    assert page.locator("#findings tr.finding").count() > 0
    context.close()
