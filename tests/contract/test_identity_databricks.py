"""Identity checks through the real databricks-sdk against the replay server: the same findings
as the export, and a 403 on the token list leaves the token rules unseen (not "no tokens")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakecrew.adapters.databricks.client import build_client
from lakecrew.adapters.databricks.identity import DatabricksIdentity
from lakecrew.adapters.local.identity_export import IdentityExport
from lakecrew.services.security.identity import check_identity
from lakecrew.testing.databricks_replay import (
    TOKEN,
    Call,
    DatabricksReplay,
    VirtualClock,
    error_body,
)

from .conftest import OPTIONS

FIX = Path(__file__).parents[1] / "fixtures" / "databricks" / "identity"
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
GPU = "E0631F5C0D000002"


def _j(name: str) -> Any:
    return json.loads((FIX / name).read_text())


def _calls(tokens: Call) -> list[Call]:
    users, groups = _j("users.json"), _j("groups.json")
    return [
        tokens,
        Call("GET", "/api/2.0/preview/scim/v2/Users", users, query={"startIndex": "1"}),
        Call("GET", "/api/2.0/preview/scim/v2/Users", {"Resources": []}, query={"startIndex": "4"}),
        Call("GET", "/api/2.0/preview/scim/v2/Groups", groups, query={"startIndex": "1"}),
        Call(
            "GET", "/api/2.0/preview/scim/v2/Groups", {"Resources": []}, query={"startIndex": "5"}
        ),
        Call("GET", "/api/2.0/ip-access-lists", _j("ip_access_lists.json")),
        Call("GET", "/api/2.0/workspace-conf", _j("workspace_conf.json")),
        Call("GET", "/api/2.1/clusters/list", _j("clusters.json")),
        Call("GET", "/api/2.0/policies/clusters/list", _j("cluster_policies.json")),
        Call("GET", "/api/2.0/secrets/scopes/list", {"scopes": [{"name": "etl"}]}),
        Call("GET", "/api/2.0/secrets/list", _j("secrets.json"), query={"scope": "etl"}),
        Call(
            "GET",
            f"/api/2.0/permissions/cluster-policies/{GPU}",
            _j(f"policy_permissions/{GPU}.json"),
        ),
    ]


def _reader(replay: DatabricksReplay) -> DatabricksIdentity:
    client = build_client(host=replay.url, token=TOKEN, options=OPTIONS, clock=VirtualClock())
    return DatabricksIdentity(client, "prod-export")


def _pairs(report: Any) -> set[tuple[str, str]]:
    return {(f.rule_id, f.resource) for f in report.findings}


def test_the_sdk_path_finds_what_the_export_finds() -> None:
    expected = _pairs(check_identity(IdentityExport(FIX, "prod-export"), "prod", NOW))
    tokens = Call("GET", "/api/2.0/token-management/tokens", _j("tokens.json"))
    with DatabricksReplay(_calls(tokens)) as replay:
        report = check_identity(_reader(replay), "prod", NOW)
    assert _pairs(report) == expected and len(expected) == 12
    assert not report.partial


def test_a_403_on_the_token_list_is_unseen_not_no_tokens() -> None:
    refused = Call(
        "GET",
        "/api/2.0/token-management/tokens",
        error_body(403, "PERMISSION_DENIED", "Only Admins can access token management"),
        status=403,
    )
    with DatabricksReplay(_calls(refused)) as replay:
        report = check_identity(_reader(replay), "prod", NOW)
    assert report.partial
    (unseen,) = report.unseen
    assert unseen.api == "token_management.list" and unseen.cause == "permission"
    assert set(unseen.hides) == {
        "security.token.no_expiry",
        "security.token.too_old",
        "security.token.deactivated_owner",
    }
    rules = {f.rule_id for f in report.findings}
    assert not any(r.startswith("security.token.") for r in rules)
    assert "security.cluster.no_policy" in rules  # every other API was still read


def test_the_sweep_source_through_the_sdk_reads_no_cluster_listing() -> None:
    """The crew's `platform` source over DatabricksIdentity: the pack's limits, a 403 on the
    token list as a `security.platform.unseen` resource, and no second cluster listing."""
    from lakecrew.core.pack import Identity
    from lakecrew.services.security.platform_source import platform_resources

    refused = Call(
        "GET",
        "/api/2.0/token-management/tokens",
        error_body(403, "PERMISSION_DENIED", "Only Admins can access token management"),
        status=403,
    )
    with DatabricksReplay(_calls(refused)) as replay:
        got = platform_resources("prod-export", "prod", NOW, Identity(max_admins=50),
                                 reader=_reader(replay))  # fmt: skip
        listed = replay.requests_to("GET", "/api/2.1/clusters/list")
    codes = {r.data["code"] for r in got}
    assert "security.platform.unseen" in codes and "security.secret.rotation_overdue" in codes
    assert "security.identity.admin_count" not in codes  # the pack's limit, not the default 5
    assert not listed and "security.cluster.no_policy" not in codes
    (unseen,) = [r for r in got if r.data["code"] == "security.platform.unseen"]
    assert unseen.data["signals"][0]["cause"] == "permission"
