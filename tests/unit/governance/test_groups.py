"""Group membership from SCIM payloads (the recorded shape in tests/fixtures/databricks/scim):
nested groups expanded, a cycle cut, service principals not people, a deleted member counted;
and the review using it: a group grant is used only when one of its people used the table."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from lakecrew.adapters.local.identity_export import IdentityExport
from lakecrew.ports.catalog import Grant, TableInfo
from lakecrew.services.governance.groups import read_members, resolve
from lakecrew.services.governance.review import LastUse, review

from .conftest import T0

SCIM = Path(__file__).parents[2] / "fixtures" / "databricks" / "scim"


def _j(name: str) -> Any:
    return json.loads((SCIM / name).read_text())["Resources"]


def test_nested_groups_cycles_and_unknown_members() -> None:
    m = resolve(_j("groups.json"), _j("users.json"))
    assert m.of("Malaria-Analysts") == {"kofi@moh.example", "amina@moh.example"}
    assert m.of("surveillance-leads") == {"amina@moh.example", "kofi@moh.example"}  # the cycle
    assert m.of("users") == frozenset() and m.of("nobody") is None
    assert dict(m.unknown) == {"malaria-analysts": 1, "surveillance-leads": 1}  # user id 199


def test_an_export_folder_without_groups_is_unseen_not_empty(tmp_path: Path) -> None:
    m = read_members(IdentityExport(tmp_path, "local"))
    assert m.unseen is not None and "groups" in m.unseen and m.of("users") is None
    rev = review([Grant("analysts", "SELECT", "TABLE", "a.b.c")], [], LastUse.from_rows([], []),
                 at=T0, window_days=30, members=m)  # fmt: skip
    assert rev.grants[0].members is None and "group membership unknown" in rev.notes[0]


def test_a_group_grant_counts_only_its_peoples_use() -> None:
    m = resolve(_j("groups.json"), _j("users.json"))
    table = TableInfo("lassa_prod.gold.weekly", "lassa")
    grants = [
        Grant(g, "SELECT", "TABLE", table.full_name, granted_at=T0 - timedelta(days=200))
        for g in ("malaria-analysts", "idle-readers")
    ]
    use = LastUse.from_rows(
        [(table.full_name, "kofi@moh.example", T0 - timedelta(days=2))], ["kofi@moh.example"]
    )
    by = {g.principal: g for g in review(grants, [table], use, at=T0, window_days=365,
                                          members=m).grants}  # fmt: skip
    assert by["malaria-analysts"].flags == () and by["malaria-analysts"].last_used is not None
    # without membership anyone's use would count: james never used it, so it is unused
    assert by["idle-readers"].flags == ("unused_90d",) and by["idle-readers"].last_used is None
    assert by["idle-readers"].members == ("james@moh.example",)


def test_a_user_the_directory_no_longer_holds_is_flagged() -> None:
    m = resolve(_j("groups.json"), _j("users.json"))
    grants = [
        Grant(u, "SELECT", "TABLE", "lassa_prod.gold.weekly", granted_at=T0)
        for u in ("Kofi@moh.example", "james@moh.example", "kwame.old-name@moh.example")
    ]
    seen = ["kofi@moh.example", "james@moh.example", "kwame.old-name@moh.example"]
    flags = {
        g.principal: g.flags
        for g in review(
            grants, [], LastUse.from_rows([], seen), at=T0, window_days=30, members=m
        ).grants
    }
    assert "principal_unknown" not in flags["Kofi@moh.example"]  # active: case does not matter
    assert "principal_unknown" in flags["james@moh.example"]  # deactivated
    assert "principal_unknown" in flags["kwame.old-name@moh.example"]  # renamed or deleted
    unread = review(grants, [], LastUse.from_rows([], seen), at=T0, window_days=30)
    assert not any("principal_unknown" in g.flags for g in unread.grants)  # no directory: no flag
