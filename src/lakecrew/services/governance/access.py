"""Temporary access (SOP 1.3.2): documented, approved grants that expire and are revoked.

`grant_temporary` records the request (principal, privilege, securable, until, reason,
approver) as a `grant_temporary_access` action in the crew ledger (scope ``(access)``) and
applies it through the Grants port — intent, call, applied; `lakecrew rollback` revokes it.
`expired_grants` lists the temporary grants whose expiry has passed: the ledger's (Unity
Catalog keeps no expiry) and the metastore's own (`expires_at`, local backend).
`revoke_expired` plans a `revoke_expired_grant` for each and, at phase ≥ 3 with `apply`,
revokes them and returns what to notify. A grant already gone (revoked by hand, principal
deleted, securable dropped) is recorded as skipped with the reason, never as a failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from lakecrew.core.errors import UsageError
from lakecrew.core.findings import fingerprint
from lakecrew.ports.catalog import Grant
from lakecrew.ports.ledger import ActionRow, LedgerStore
from lakecrew.ports.notify import AlertItem
from lakecrew.services.crew.plan import PlannedAction, action_id
from lakecrew.services.governance.executor import ACCESS_SCOPE, CatalogExecutor
from lakecrew.services.policy.actions import plugin
from lakecrew.services.policy.actions.catalog_base import grant_id

GRANT_ACTION = "grant_temporary_access"
REVOKE_ACTION = "revoke_expired_grant"
PRIVILEGES = frozenset(
    {
        "ALL_PRIVILEGES",
        "SELECT",
        "MODIFY",
        "USE_CATALOG",
        "USE_SCHEMA",
        "EXECUTE",
        "READ_VOLUME",
        "WRITE_VOLUME",
        "CREATE_TABLE",
        "CREATE_SCHEMA",
        "CREATE_FUNCTION",
        "APPLY_TAG",
        "BROWSE",
        "MANAGE",
        "REFRESH",
        "READ_FILES",
        "WRITE_FILES",
    }
)
_TYPES = {1: "CATALOG", 2: "SCHEMA", 3: "TABLE"}


@dataclass(frozen=True)
class AccessRequest:
    """`lakecrew access grant PRINCIPAL PRIVILEGE SECURABLE --until --reason --approver`."""

    principal: str
    privilege: str
    securable: str
    until: datetime
    reason: str
    approver: str

    def target(self) -> dict[str, str]:
        return {
            "principal": self.principal,
            "privilege": self.privilege,
            "securable_type": _TYPES[len(self.securable.split("."))],
            "securable": self.securable,
            "until": self.until.isoformat(),
            "reason": self.reason,
            "approver": self.approver,
        }


def checked_request(
    principal: str,
    privilege: str,
    securable: str,
    until: datetime,
    reason: str,
    approver: str,
    *,
    now: datetime,
) -> AccessRequest:
    """Validate a request; UsageError (exit 2) says what is wrong and how to fix it."""
    priv = privilege.strip().upper().replace(" ", "_")
    if priv not in PRIVILEGES:
        raise UsageError(
            f"unknown privilege {privilege!r}",
            where="PRIVILEGE",
            fix="one of " + ", ".join(sorted(PRIVILEGES)),
        )
    name = securable.strip().strip("`").lower()
    if not 1 <= len(name.split(".")) <= 3 or not all(name.split(".")):
        raise UsageError(
            f"{securable!r} is not a catalog, schema or table name",
            where="SECURABLE",
            fix="e.g. lassa_prod.silver.case_reports",
        )
    when = until if until.tzinfo else until.replace(tzinfo=UTC)
    if when <= now:
        raise UsageError(
            f"--until {until:%Y-%m-%d} is not in the future",
            where="--until",
            fix="temporary access needs an expiry after today",
        )
    if not reason.strip() or not approver.strip() or not principal.strip():
        raise UsageError(
            "temporary access needs a principal, a --reason and an --approver",
            where="lakecrew access grant",
            fix="SOP 1.3.2: documented approval",
        )
    if approver.strip().casefold() == principal.strip().casefold():
        raise UsageError("the approver cannot be the principal", where="--approver")
    return AccessRequest(
        principal.strip(), priv, name, when.astimezone(UTC), reason.strip(), approver.strip()
    )


def _planned(rule: str, name: str, target: dict[str, str], owner: str) -> PlannedAction:
    rid = grant_id(
        target["principal"], target["privilege"], target["securable_type"], target["securable"]
    )
    fp = fingerprint(ACCESS_SCOPE, "grants", rid, rule)
    return PlannedAction(
        action_id(fp, name, target),
        fp,
        rule,
        name,
        "grants",
        rid,
        target,
        owner,
        "planned",
        "requested",
    )


def grant_temporary(req: AccessRequest, executor: CatalogExecutor, sweep_id: str) -> ActionRow:
    """Record and apply one temporary grant."""
    return executor.apply(
        _planned("access.temporary", GRANT_ACTION, req.target(), req.approver),
        sweep_id,
        executor.scope(ACCESS_SCOPE),
    )


@dataclass(frozen=True)
class ExpiredGrant:
    principal: str
    privilege: str
    securable_type: str
    securable: str
    expires_at: datetime
    owner: str
    source: str  # "ledger" | "metastore"

    def target(self) -> dict[str, str]:
        return {
            "principal": self.principal,
            "privilege": self.privilege,
            "securable_type": self.securable_type,
            "securable": self.securable,
            "expired_at": self.expires_at.isoformat(),
        }


def _latest(rows: list[ActionRow]) -> dict[str, ActionRow]:
    out: dict[str, ActionRow] = {}
    for r in sorted(rows, key=lambda r: r.updated_at):
        out[r.resource_id] = r
    return out


def expired_grants(
    ledger: LedgerStore, grants: list[Grant], now: datetime, *, scope: str = ACCESS_SCOPE
) -> list[ExpiredGrant]:
    """Temporary grants past their expiry, not revoked since (ledger first, then metastore);
    `scope`: the ledger scope of the catalog they were granted on (`executor.scope`)."""
    rows = ledger.actions(scope)
    granted = _latest([r for r in rows if r.action == GRANT_ACTION and r.status == "applied"])
    revoked = _latest([r for r in rows if r.action == REVOKE_ACTION and r.status == "applied"])
    out: dict[str, ExpiredGrant] = {}
    for rid, row in granted.items():
        t = json.loads(row.target_json)
        until = datetime.fromisoformat(t["until"])
        gone = revoked.get(rid)
        if until <= now and (gone is None or gone.updated_at < row.updated_at):
            out[rid] = ExpiredGrant(
                t["principal"],
                t["privilege"],
                t["securable_type"],
                t["securable"],
                until,
                row.owner,
                "ledger",
            )
    for g in grants:
        rid = grant_id(g.principal, g.privilege, g.securable_type, g.securable_name)
        if g.expires_at is not None and g.expires_at <= now and rid not in out:
            out[rid] = ExpiredGrant(
                g.principal,
                g.privilege,
                g.securable_type,
                g.securable_name,
                g.expires_at,
                g.granted_by or "",
                "metastore",
            )
    return [out[k] for k in sorted(out)]


@dataclass(frozen=True)
class RevokeReport:
    planned: tuple[PlannedAction, ...]
    rows: tuple[ActionRow, ...]
    phase: int
    applied: bool

    @property
    def revoked(self) -> list[ActionRow]:
        return [r for r in self.rows if r.status == "applied"]


def revoke_expired(
    expired: list[ExpiredGrant],
    executor: CatalogExecutor,
    sweep_id: str,
    *,
    phase: int,
    apply: bool,
) -> RevokeReport:
    """Plan a revocation per expired grant; revoke them when `apply` and phase allows."""
    floor = plugin(REVOKE_ACTION).floor or 5
    planned = tuple(
        _planned("grant.temporary_expired", REVOKE_ACTION, e.target(), e.owner) for e in expired
    )
    if not apply or phase < floor:
        return RevokeReport(planned, (), phase, False)
    scope = executor.scope(ACCESS_SCOPE)
    rows = tuple(executor.apply(pa, sweep_id, scope) for pa in planned)
    return RevokeReport(planned, rows, phase, True)


def revocation_items(
    rows: list[ActionRow], *, environment: str = "", project: str = "", scope: str = ACCESS_SCOPE
) -> list[AlertItem]:
    """One `action` alert per revoked grant (who, what, on what, when it expired); `scope`:
    the ledger scope they were revoked under (`(access:W)` on workspace W's Unity Catalog)."""
    out = []
    for r in rows:
        t = json.loads(r.target_json)
        out.append(
            AlertItem(
                fingerprint=r.fingerprint,
                event="action",
                severity="info",
                rule_id=r.rule_id,
                title="Expired temporary access revoked",
                sop_section="1.3.2",
                resource_type="grants",
                resource_id=r.resource_id,
                resource_name=t["securable"],
                workspace=scope,
                environment=environment,
                project=project,
                owner=r.owner,
                evidence=json.dumps(
                    {
                        "principal": t["principal"],
                        "privilege": t["privilege"],
                        "securable": t["securable"],
                        "expired_at": t["expired_at"],
                    }
                ),
                fix="grant it again with `lakecrew access grant` if still needed",
                links=((f"roll back {r.action}", f"lakecrew rollback {r.action_id}"),),
            )
        )
    return out
