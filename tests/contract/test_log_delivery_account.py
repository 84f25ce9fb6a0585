"""Account log delivery read through databricks-sdk's account API (`LogDeliveryAPI`, what
`AccountClient.log_delivery` is) against the replay server: lakecrew.yaml's `account:` section
makes `lakecrew security audit` and the sweep's platform source page through
`GET /api/2.0/accounts/{id}/log-delivery` instead of needing an exported file; an API the
identity may not read (403) or that the account does not have (404) leaves the check unseen —
never "no log delivery configured"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.crew import ground_truth
from lakecrew.testing.databricks_project import cli_env
from lakecrew.testing.databricks_replay import Call, DatabricksReplay, error_body

FIX = Path(__file__).parents[1] / "fixtures" / "databricks" / "account"
ACCOUNT = "7d3e0c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
PATH = f"/api/2.0/accounts/{ACCOUNT}/log-delivery"
WS = "malaria-dev-westafrica"  # workspace_id 3900000000000001: in the page-2 filter
RULE = "security.audit.no_log_delivery"


def _page(n: int) -> Any:
    return json.loads((FIX / f"log_delivery_page{n}.json").read_text())


PAGES = [
    Call("GET", PATH, _page(2), query={"page_token": "AQAAAAEAAAAC"}),
    Call("GET", PATH, _page(1)),
]


@pytest.fixture(scope="module")
def project(seed7_project: Path) -> Iterator[tuple[Path, str]]:
    yield seed7_project, ground_truth(seed7_project)["now"]


def _audit(root: Path, url: str, tmp: Path, workspace: str = WS) -> tuple[int, Any]:
    yaml = root / "lakecrew.yaml"
    plain = yaml.read_text()
    yaml.write_text(plain + f"account:\n  host: {url}\n  account_id: {ACCOUNT}\n")
    try:
        now = ground_truth(root)["now"]
        args = ["security", "audit", "--workspace", workspace, "--now", now]
        result = CliRunner().invoke(
            app,
            [*args, "--max-gap-hours", "72", "-p", str(root), "-o", "json"],
            env=cli_env(tmp),
        )
    finally:
        yaml.write_text(plain)
    return result.exit_code, json.loads(result.stdout)


def test_every_page_is_read_and_an_enabled_audit_delivery_covers_the_workspace(
    project: tuple[Path, str], tmp_path: Path
) -> None:
    root, _ = project
    with DatabricksReplay(PAGES) as replay:
        code, out = _audit(root, replay.url, tmp_path)
        seen = replay.requests_to("GET", PATH)
    assert code == 0, out
    assert out["items"] == [] and out["meta"]["not_checked"] == [] and out["meta"]["unseen"] == []
    assert [r.query.get("page_token") for r in seen] == [None, ["AQAAAAEAAAAC"]]


def test_a_workspace_outside_every_enabled_audit_delivery_is_a_finding(
    project: tuple[Path, str], tmp_path: Path
) -> None:
    """The only AUDIT_LOGS delivery covering more workspaces is DISABLED; the enabled one
    filters other workspace ids: this workspace's audit logs are not delivered."""
    root, _ = project
    filtered = _page(2)
    filtered["log_delivery_configurations"][0]["workspace_ids_filter"] = [3900000000000099]
    calls = [Call("GET", PATH, filtered, query={"page_token": "AQAAAAEAAAAC"}), PAGES[1]]
    with DatabricksReplay(calls) as replay:
        code, out = _audit(root, replay.url, tmp_path)
    assert code == 1
    [finding] = out["items"]
    assert finding["rule_id"] == RULE and finding["evidence"] == {"configurations": 3}


@pytest.mark.parametrize(
    ("status", "error_code", "cause"),
    [(403, "PERMISSION_DENIED", "permission"), (404, "NOT_FOUND", "not_enabled")],
)
def test_an_account_api_that_cannot_be_read_is_unseen_not_unconfigured(
    project: tuple[Path, str], tmp_path: Path, status: int, error_code: str, cause: str
) -> None:
    root, _ = project
    refused = Call("GET", PATH, error_body(status, error_code, "not for you"), status=status)
    with DatabricksReplay([refused]) as replay:
        code, out = _audit(root, replay.url, tmp_path)
    assert code == 1  # never a clean exit on an unread account
    assert RULE not in {i["rule_id"] for i in out["items"]}  # not "no log delivery"
    [unseen] = out["meta"]["unseen"]
    assert unseen["api"] == "log_delivery.list" and unseen["cause"] == cause
    assert out["meta"]["not_checked"][0].startswith(f"{RULE} (unseen: log_delivery.list")


def test_the_sweep_source_turns_a_refused_account_api_into_an_unseen_resource(
    project: tuple[Path, str],
) -> None:
    """The crew's platform source with the account reader: a 403 is one
    `security.platform.unseen` resource hiding the log-delivery rule, not its finding."""
    from datetime import datetime

    from lakecrew.adapters.databricks.client import build_client
    from lakecrew.core.pack import Identity
    from lakecrew.services.security.platform_source import platform_resources
    from lakecrew.testing.databricks_replay import TOKEN, VirtualClock
    from lakecrew.wiring.context import Context

    from .conftest import OPTIONS

    root, now = project
    refused = Call("GET", PATH, error_body(403, "PERMISSION_DENIED", "account admin"), status=403)
    with DatabricksReplay([refused]) as replay, Context.open(root) as ctx:
        from lakecrew.adapters.databricks.account import DatabricksAccount

        client = build_client(
            host=replay.url, token=TOKEN, account_id=ACCOUNT, options=OPTIONS, clock=VirtualClock()
        )
        got = platform_resources(
            WS,
            "dev",
            datetime.fromisoformat(now),
            Identity(audit_max_gap_hours=72),
            reader=None,
            sql=ctx.sql,
            workspace_id="3900000000000001",
            delivery=DatabricksAccount(client),
        )
    [unseen] = [r for r in got if r.data["code"] == "security.platform.unseen"]
    signal = unseen.data["signals"][0]
    assert signal["api"] == "log_delivery.list" and signal["hides"] == [RULE]
    assert RULE not in {r.data["code"] for r in got}
