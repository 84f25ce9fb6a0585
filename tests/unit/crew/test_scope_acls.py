"""A listing's secret ACLs, held by scope until the scopes are listed: each scope gets its own
entries in listing order, whatever order the ACLs arrived in, and equal ACLs are kept once."""

from __future__ import annotations

from lakecrew.services.crew.observer import ScopeAcls


def test_each_scope_gets_its_entries_in_listing_order() -> None:
    acls = ScopeAcls()
    acls.add("etl", {"principal": "admins", "permission": "MANAGE"})
    acls.add("ml", {"principal": "admins", "permission": "MANAGE"})
    acls.add("etl", {"principal": "engineers", "permission": "READ", "note": ["é", 1, None]})
    assert acls.of("etl") == [
        {"principal": "admins", "permission": "MANAGE"},
        {"principal": "engineers", "permission": "READ", "note": ["é", 1, None]},
    ]
    assert acls.of("ml") == [{"principal": "admins", "permission": "MANAGE"}]
    assert acls.of("unknown") == []


def test_scopes_with_equal_acls_share_one_copy_and_callers_get_their_own_dicts() -> None:
    acls = ScopeAcls()
    for k in range(3):
        acls.add(f"etl-r{k}", {"principal": "admins", "permission": "MANAGE"})
        acls.add(f"etl-r{k}", {"principal": "etl-engineers", "permission": "READ"})
    held = [acls.by_scope[f"etl-r{k}"] for k in range(3)]
    assert held[0] is held[1] is held[2]
    mine = acls.of("etl-r0")
    mine[0]["permission"] = "READ"
    assert acls.of("etl-r1")[0]["permission"] == "MANAGE"
