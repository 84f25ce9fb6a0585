"""Temporary access: a recorded, approved grant with an expiry; expired grants revoked at
phase >= 3 (and only then), including grants whose securable or principal is gone; rollback."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from lakecrew.core.errors import UsageError
from lakecrew.ports.catalog import Grant
from lakecrew.services.governance.access import (
    checked_request,
    expired_grants,
    grant_temporary,
    revocation_items,
    revoke_expired,
)
from lakecrew.services.governance.executor import ACCESS_SCOPE

from .conftest import T0, TABLE, Gov

UNTIL = T0 + timedelta(days=7)


def _request(**kw: object):  # type: ignore[no-untyped-def]
    args = {
        "principal": "amina@moh.example",
        "privilege": "select",
        "securable": TABLE,
        "until": UNTIL,
        "reason": "outbreak analysis",
        "approver": "lassa-steward",
    }
    args.update(kw)
    return checked_request(now=T0, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"privilege": "READ"}, "unknown privilege"),
        ({"until": T0 - timedelta(days=1)}, "not in the future"),
        ({"approver": " "}, "needs a principal"),
        ({"approver": "AMINA@moh.example"}, "cannot be the principal"),
        ({"securable": "a..b"}, "is not a catalog"),
    ],
)
def test_bad_requests_are_usage_errors(change: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _request(**change)


def test_grant_is_recorded_applied_and_rolled_back(gov: Gov) -> None:
    row = grant_temporary(_request(), gov.ex, "g1")
    assert row.status == "applied" and row.workspace == ACCESS_SCOPE
    target = json.loads(row.target_json)
    assert (target["reason"], target["approver"]) == ("outbreak analysis", "lassa-steward")
    (held,) = gov.ms.list_grants(TABLE, principal="amina@moh.example")
    assert held.privilege == "SELECT" and held.expires_at == UNTIL
    assert gov.ex.rollback(row).status == "rolled_back"
    assert gov.ms.list_grants(TABLE, principal="amina@moh.example") == []


def test_a_grant_on_a_table_that_does_not_exist_fails_and_grants_nothing(gov: Gov) -> None:
    missing = "lassa_prod.bronze.dropped_last_week"
    row = grant_temporary(_request(securable=missing), gov.ex, "g1")
    assert row.status == "failed" and missing in row.reason
    assert gov.ms.list_grants(missing) == []


def test_expired_grants_are_revoked_at_phase_3_only_and_notified(gov: Gov) -> None:
    grant_temporary(_request(), gov.ex, "g1")
    # a metastore grant with an expiry set elsewhere, on a table dropped since
    gov.ms.grant(
        Grant(
            "old-team",
            "SELECT",
            "TABLE",
            "lassa_prod.bronze.gone",
            expires_at=T0 + timedelta(days=1),
        )
    )
    assert expired_grants(gov.ledger, gov.ms.list_grants(), gov.clock.now()) == []
    gov.clock.advance(days=8)
    expired = expired_grants(gov.ledger, gov.ms.list_grants(), gov.clock.now())
    assert [(e.principal, e.source) for e in expired] == [
        ("amina@moh.example", "ledger"),
        ("old-team", "metastore"),
    ]
    plan_only = revoke_expired(expired, gov.ex, "s1", phase=2, apply=True)
    assert not plan_only.applied and len(plan_only.planned) == 2
    assert len(gov.ms.list_grants(TABLE)) == 1  # nothing revoked below phase 3
    report = revoke_expired(expired, gov.ex, "s2", phase=3, apply=True)
    assert [r.status for r in report.rows] == ["applied", "applied"]
    assert gov.ms.list_grants(principal="amina@moh.example") == []
    assert expired_grants(gov.ledger, gov.ms.list_grants(), gov.clock.now()) == []
    (item, _) = revocation_items(report.revoked)
    assert item.event == "action" and "lakecrew rollback" in item.links[0][1]
    assert json.loads(item.evidence)["principal"] == "amina@moh.example"


def test_a_grant_already_gone_is_skipped_not_failed(gov: Gov) -> None:
    grant_temporary(_request(), gov.ex, "g1")
    gov.clock.advance(days=8)
    expired = expired_grants(gov.ledger, gov.ms.list_grants(), gov.clock.now())
    gov.ms.revoke("amina@moh.example", "SELECT", "TABLE", TABLE)  # principal deleted meanwhile
    report = revoke_expired(expired, gov.ex, "s1", phase=3, apply=True)
    assert [(r.status, r.reason) for r in report.rows] == [
        ("skipped", "already in the target state")
    ]


def test_revocation_rollback_grants_it_back_with_its_expiry(gov: Gov) -> None:
    grant_temporary(_request(), gov.ex, "g1")
    gov.clock.advance(days=8)
    expired = expired_grants(gov.ledger, gov.ms.list_grants(), gov.clock.now())
    (row,) = revoke_expired(expired, gov.ex, "s1", phase=4, apply=True).rows
    gov.ex.rollback(row)
    (back,) = gov.ms.list_grants(TABLE, principal="amina@moh.example")
    assert back.expires_at == UNTIL
