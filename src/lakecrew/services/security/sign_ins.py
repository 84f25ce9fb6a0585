"""Sign-ins that did not go through SSO (SOP 1.4.3: "Authentication must be integrated with
SSO/Identity Provider"), judged from the audit log.

Whether SSO or unified login is *enforced* is an account setting no documented API exposes
(docs/security.md says what was searched), so it is not read. What can be read is how people
actually signed in: `system.access.audit` records each sign-in under the service `accounts`
with an action per method. `check_sign_ins(sql, workspace, workspace_id, now, lookback_days)`
counts the successful (status 200) interactive sign-ins of the window per action and user (one
aggregate query through the SqlEngine port: the local engine or a SQL warehouse) and sorts them:

- through the identity provider (SSO): ``samlLogin``, ``oidcBrowserLogin``, ``aadBrowserLogin``
  (Microsoft Entra ID browser workflow);
- not through it: ``login`` (the workspace's own sign-in form — unless its
  ``authenticationMethod`` request parameter names an SSO protocol), ``mfaLogin`` and
  ``multiFactorAuthenticationLogin`` (Databricks' own second factor, which SSO users do not
  use), ``accountLoginCodeAuthentication`` (a one-time code sent by e-mail);
- programmatic sign-ins (``tokenLogin``, ``aadTokenLogin``, ``jwtLogin``, ``certLogin``, OAuth
  clients) are not interactive and are not judged here (the token checks judge tokens).

Any non-SSO interactive sign-in is ``security.identity.non_sso_sign_in``: one finding per
workspace with the counts per action, the number of users and each user masked
(`mask_email`: ``a***@moh.example``) with their count, and the SSO sign-ins of the same window
for comparison. None at all in the window says nothing either way (a note, never "SSO
enforced"). The audit table unreadable (missing, no permission) leaves the check *unseen*
(`report.unseen`), never "no password sign-ins".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lakecrew.core.errors import NotFound, PermissionDenied, Unavailable
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.privacy.masking import mask_email
from lakecrew.services.security.identity import IdentityFinding, IdentityReport, Unseen

NON_SSO_SIGN_IN = "security.identity.non_sso_sign_in"
AUDIT_TABLE = "system.access.audit"
SSO_ACTIONS = ("samlLogin", "oidcBrowserLogin", "aadBrowserLogin")
NON_SSO_ACTIONS = (
    "login",
    "mfaLogin",
    "multiFactorAuthenticationLogin",
    "accountLoginCodeAuthentication",
)
_SSO_METHOD = ("saml", "oidc", "sso", "aad", "entra", "oauth")

SIGN_INS_SQL = """
SELECT action_name AS action,
       lower(coalesce(user_identity.email, request_params['user'])) AS principal,
       request_params['authenticationMethod'] AS method,
       count(*) AS sign_ins
FROM system.access.audit
WHERE workspace_id = :ws AND event_time >= :since AND event_time < :until
  AND service_name = 'accounts' AND response.status_code = 200
  AND action_name IN ({actions})
GROUP BY action_name, lower(coalesce(user_identity.email, request_params['user'])),
         request_params['authenticationMethod']
"""


@dataclass
class SignInReport:
    workspace: str
    window_days: int
    sso: int = 0
    non_sso: Counter[str] = field(default_factory=Counter)  # action → sign-ins
    users: dict[str, int] = field(default_factory=dict)  # principal → non-SSO sign-ins
    methods: Counter[str] = field(default_factory=Counter)  # authenticationMethod of `login`
    findings: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unseen: list[dict[str, str]] = field(default_factory=list)  # api, cause, what


def _sso_login(action: str, method: str | None) -> bool:
    """A `login` row whose authenticationMethod names an SSO protocol went through the IdP."""
    return action == "login" and any(m in (method or "").lower() for m in _SSO_METHOD)


def check_sign_ins(
    sql: SqlEngine, workspace: str, workspace_id: str, now: datetime, *, lookback_days: int = 7
) -> SignInReport:
    """See the module doc."""
    report = SignInReport(workspace, lookback_days)
    until = now if now.tzinfo else now.replace(tzinfo=UTC)  # a warehouse wants aware times
    names = (*SSO_ACTIONS, *NON_SSO_ACTIONS)
    params: dict[str, Any] = {f"a{i}": a for i, a in enumerate(names)}
    markers = ", ".join(f":{k}" for k in params)
    params |= {"ws": workspace_id, "since": until - timedelta(days=lookback_days), "until": until}
    try:
        rows = sql.fetch(SIGN_INS_SQL.format(actions=markers), params).as_dicts()
    except (NotFound, PermissionDenied, Unavailable) as exc:  # TableMissing is a NotFound
        cause = "permission" if isinstance(exc, PermissionDenied) else "missing"
        cause = str(getattr(exc, "cause", "") or cause)
        report.unseen.append({"api": AUDIT_TABLE, "cause": cause, "what": exc.what})
        return report
    per_user: dict[str, int] = defaultdict(int)
    for r in rows:
        action, n, method = str(r["action"]), int(r["sign_ins"]), r.get("method")
        if action == "login" and method:
            report.methods[str(method)] += n
        if action in SSO_ACTIONS or _sso_login(action, method):
            report.sso += n
            continue
        report.non_sso[action] += n
        per_user[str(r["principal"] or "unknown")] += n
    report.users = dict(per_user)
    if report.non_sso:
        report.findings.append(_finding(report, workspace_id))
    elif not report.sso:
        report.notes.append(
            f"no interactive sign-in in {AUDIT_TABLE} for {workspace} in {lookback_days} days:"
            " how people sign in is not judged"
        )
    return report


def _finding(report: SignInReport, workspace_id: str) -> dict[str, Any]:
    total, users = sum(report.non_sso.values()), report.users
    by_action = ", ".join(f"{a} {n}" for a, n in sorted(report.non_sso.items()))
    ranked = sorted(users.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "rule_id": NON_SSO_SIGN_IN,
        "resource": f"workspace/{report.workspace}#sign_ins",
        "message": f"{total} interactive sign-in(s) by {len(users)} user(s) did not go through"
        f" SSO in {report.window_days} days ({by_action}); {report.sso} through SSO",
        "evidence": {
            "workspace_id": workspace_id,
            "window_days": report.window_days,
            "non_sso_by_action": dict(sorted(report.non_sso.items())),
            "sso_sign_ins": report.sso,
            "users_total": len(users),
            "users": [{"user": mask_email(u), "sign_ins": n} for u, n in ranked[:20]],
            "login_methods": dict(sorted(report.methods.items())),
        },
    }


def into_identity(report: IdentityReport, signs: SignInReport) -> IdentityReport:
    """`lakecrew security identity`: the sign-in finding and an unreadable audit table (unseen,
    hiding the rule) added to the workspace's identity report; the notes as not checked."""
    for f in signs.findings:
        report.findings.append(
            IdentityFinding(f["rule_id"], f["resource"], f["message"], f["evidence"])
        )
    for u in signs.unseen:
        report.unseen.append(Unseen(u["api"], u["cause"], u["what"], (NON_SSO_SIGN_IN,)))
    report.not_checked = (*report.not_checked, *signs.notes)
    return report
