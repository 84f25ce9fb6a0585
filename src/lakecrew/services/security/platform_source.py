"""The identity, secret-rotation, audit-delivery and sign-in checks as a source of the sweep.

`platform_resources(...)` runs `identity.check_identity` (over an IdentityReader: the SDK for a
databricks workspace, or an export folder), `audit_delivery.check_audit_delivery` and
`sign_ins.check_sign_ins` (over the workspace's SQL engine; the sign-in check over
`sign_in_sql` when only that one reads the audit log, as for a local workspace) with the SOP
pack's `identity:` limits, and turns every finding into one
`platform` resource whose `signals` carry the rule as `code` — the pack's `detector_signal`
rules (`security.token.*`, `security.workspace_conf`, `security.secret.rotation_overdue`,
`security.audit.*`, ...) make them findings, so they flow through Policy → Comms/Ticket like
every other rule, with their SOP sections. The findings' evidence holds ids, names and ages,
never a token or secret value.

An API the caller may not read becomes a `security.platform.unseen` resource naming the API, the
cause and the rules it hides: a 403 on the token list is a finding "not evaluated", never "no
tokens".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from lakecrew.core.pack import Identity
from lakecrew.core.resources import Resource
from lakecrew.ports.identity import IdentityReader, LogDeliveryReader
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.security.audit_delivery import NO_LOG_DELIVERY, check_audit_delivery
from lakecrew.services.security.identity import IdentityLimits, check_identity
from lakecrew.services.security.sign_ins import NON_SSO_SIGN_IN, check_sign_ins

CONF_RULE = "security.workspace_conf"
UNSEEN_RULE = "security.platform.unseen"


def limits_of(pack_identity: Identity) -> IdentityLimits:
    """The identity checks' limits from the pack section."""
    return IdentityLimits(
        token_max_age_days=pack_identity.token_max_age_days,
        max_token_lifetime_days=pack_identity.max_token_lifetime_days,
        max_admins=pack_identity.max_admins,
        secret_max_age_days=pack_identity.secret_max_age_days,
    )


def _resource(
    workspace: str, code: str, resource: str, message: str, evidence: dict[str, Any]
) -> Resource:
    rid = f"{code}:{resource}"
    signal = {"code": code, "message": message, **evidence}
    data = {"id": rid, "resource": resource, "code": code, "signals": [signal]}
    return Resource("platform", rid, workspace, data, resource)


def platform_resources(
    workspace: str,
    environment: str,
    now: datetime,
    limits: Identity,
    *,
    reader: IdentityReader | None,
    sql: SqlEngine | None = None,
    workspace_id: str | None = None,
    with_clusters: bool = False,
    delivery: LogDeliveryReader | None = None,
    sign_in_sql: SqlEngine | None = None,
) -> list[Resource]:
    """The `platform` resources of one workspace (see the module doc). The clusters-without-
    policy check (`security.cluster.no_policy`) runs only `with_clusters`: the sweep judges
    the clusters it lists with the pack's rule of that id instead of a second listing; the
    GPU-policy permissions (`security.policy.gpu_broad_use`: policies and their ACLs) always."""
    out: list[Resource] = []
    if reader is not None:
        report = check_identity(reader, environment, now, limits_of(limits), clusters=with_clusters)
        for f in report.findings:
            code = CONF_RULE if f.rule_id.startswith(CONF_RULE + ".") else f.rule_id
            evidence, resource = dict(f.evidence), f.resource
            if code == CONF_RULE:  # one finding per key (one resource: one signal per rule)
                key = f.rule_id.split(".", 2)[2]
                evidence.setdefault("key", key)
                resource = f"{resource}#{key}"
            out.append(_resource(workspace, code, resource, f.message, evidence))
        for u in report.unseen:
            out.append(_unseen(workspace, u.api, u.cause, u.what, sorted(u.hides)))
    if sql is not None and workspace_id:
        audit = check_audit_delivery(
            sql,
            workspace,
            workspace_id,
            now,
            max_gap_hours=limits.audit_max_gap_hours,
            lookback_days=limits.audit_lookback_days,
            delivery=delivery,
        )
        out.extend(_audit(workspace, audit.findings))
        for a in audit.unseen:
            out.append(_unseen(workspace, a["api"], a["cause"], a["what"], [NO_LOG_DELIVERY]))
    signs_sql = sign_in_sql or sql
    if signs_sql is not None and workspace_id:
        signs = check_sign_ins(
            signs_sql, workspace, workspace_id, now, lookback_days=limits.audit_lookback_days
        )
        out.extend(_audit(workspace, signs.findings))
        for a in signs.unseen:
            out.append(_unseen(workspace, a["api"], a["cause"], a["what"], [NON_SSO_SIGN_IN]))
    return out


def _unseen(workspace: str, api: str, cause: str, what: str, hides: list[str]) -> Resource:
    return _resource(
        workspace,
        UNSEEN_RULE,
        f"api/{api}",
        f"{api} not readable ({cause}): {', '.join(hides)} not evaluated",
        {"api": api, "cause": cause, "what": what, "hides": hides},
    )


def _audit(workspace: str, findings: Iterable[dict[str, Any]]) -> list[Resource]:
    return [
        _resource(
            workspace,
            str(f["rule_id"]),
            str(f["resource"]),
            str(f["message"]),
            dict(f.get("evidence") or {}),
        )
        for f in findings
    ]
