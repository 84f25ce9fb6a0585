"""Identity and platform checks of one workspace (SOP 1.4.3, 1.4.2, 1.1.4, 1.2.8).

`check_identity(reader, environment, now, limits)` reads every API through the IdentityReader
port and returns an `IdentityReport`: findings (rule id, resource, message, evidence — never a
token value; token *ids* only) and `unseen` APIs with the rules they hide. An API the caller may
not read (403 on the token list) is unseen: its rules are not evaluated, and the report is
`partial` — "no findings" then does not mean "no tokens".

Rules (ids by prefix, as the compliance report counts them):

- ``security.token.no_expiry`` — a personal access token without an expiry;
- ``security.token.too_old`` — a token older than `limits.token_max_age_days` (90: the SOP's
  quarterly rotation);
- ``security.token.deactivated_owner`` — a token whose owner is a deactivated (or deleted) user;
- ``security.workspace_conf.<key>`` — a security-relevant workspace-conf key not at the SOP
  value (token lifetime limit, IP access lists and verbose audit logs on, DBFS browser off;
  notebook export and results download off in prod);
- ``security.network.no_ip_access_list`` — prod without an enabled ALLOW list;
- ``security.identity.unmanaged_group`` — a group not provisioned by SCIM from the identity
  provider (no ``externalId``; built-in ``admins``/``users`` excepted);
- ``security.identity.admin_count`` — more workspace admins than `limits.max_admins`;
- ``security.cluster.no_policy`` — a running or usable all-purpose cluster created outside any
  cluster policy;
- ``security.policy.gpu_broad_use`` — a GPU policy usable by a principal that is not an ML group;
- ``security.secret.rotation_overdue`` — a prod secret (scope metadata) not rotated for
  `limits.secret_max_age_days` (90: the SOP's quarterly rotation); `rotation_drafts` turns these
  into rotation tickets.

SSO / unified login is an *account* setting the workspace APIs do not expose: it is listed in
`not_checked`, never assumed. How people actually signed in is judged from the audit log by
`sign_ins.py` (``security.identity.non_sso_sign_in``; `lakecrew security audit` and the sweep).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from lakecrew.core.errors import Unavailable
from lakecrew.ports.identity import IdentityReader
from lakecrew.ports.tickets import TicketDraft

T = TypeVar("T")
BUILTIN_GROUPS = frozenset({"admins", "users", "account users"})
_GPU = re.compile(r"gpu|\bg[45]dn?\b|\bp[345]d?\b|nc\d+|nv\d+|a100|h100|t4|a10g", re.IGNORECASE)


@dataclass(frozen=True)
class IdentityLimits:
    """The SOP's limits (token age: quarterly rotation; admins: few named people)."""

    token_max_age_days: int = 90
    max_token_lifetime_days: int = 90
    max_admins: int = 5
    secret_max_age_days: int = 90
    ml_groups: re.Pattern[str] = re.compile(r"(^|[-_ ])(ml|mlops|data-science|ds)([-_ ]|$)", re.I)


#: workspace-conf key → (value the SOP expects, environments where it applies)
CONF_EXPECTED: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "enableTokensConfig": ("true", ("dev", "qa", "prod")),
    "enableIpAccessLists": ("true", ("prod",)),
    "enableVerboseAuditLogs": ("true", ("dev", "qa", "prod")),
    "enableDbfsFileBrowser": ("false", ("dev", "qa", "prod")),
    "enableExportNotebook": ("false", ("prod",)),
    "enableResultsDownloading": ("false", ("prod",)),
}
CONF_KEYS = (*CONF_EXPECTED, "maxTokenLifetimeDays")


@dataclass(frozen=True)
class IdentityFinding:
    rule_id: str
    resource: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unseen:
    api: str
    cause: str
    what: str
    hides: tuple[str, ...]


@dataclass
class IdentityReport:
    workspace: str
    environment: str
    findings: list[IdentityFinding] = field(default_factory=list)
    unseen: list[Unseen] = field(default_factory=list)
    not_checked: tuple[str, ...] = (
        "security.identity.sso setting (account-level; no documented API exposes it — the"
        " sign-ins themselves are judged from the audit log: security.identity.non_sso_sign_in)",
    )

    @property
    def partial(self) -> bool:
        return bool(self.unseen)


class _Run:
    def __init__(self, reader: IdentityReader, report: IdentityReport) -> None:
        self.reader, self.report = reader, report

    def read(self, fn: Callable[[], T], hides: tuple[str, ...]) -> T | None:
        try:
            return fn()
        except Unavailable as exc:
            self.report.unseen.append(Unseen(exc.api, exc.cause, exc.what, hides))
            return None

    def add(self, rule: str, resource: str, message: str, **evidence: Any) -> None:
        self.report.findings.append(IdentityFinding(rule, resource, message, evidence))


def check_identity(
    reader: IdentityReader,
    environment: str,
    now: datetime,
    limits: IdentityLimits | None = None,
    *,
    clusters: bool = True,
    policies: bool = True,
) -> IdentityReport:
    """Run every check (see the module doc); `clusters=False` leaves out the clusters-without-
    policy check (the crew's sweep lists clusters itself and judges them with the pack's
    `security.cluster.no_policy` rule: no second listing); `policies=False` the GPU-policy
    permissions check."""
    lim = limits or IdentityLimits()
    report = IdentityReport(reader.name, environment)
    run = _Run(reader, report)
    users = run.read(reader.users, ("security.token.deactivated_owner",))
    _tokens(run, users, now, lim)
    _conf(run, environment, lim)
    _network(run, environment)
    _groups(run, lim)
    if clusters:
        _clusters(run)
    if policies:
        _gpu_policies(run, lim)
    if environment == "prod":
        _rotation(run, now, lim)
    return report


def _rotation(run: _Run, now: datetime, lim: IdentityLimits) -> None:
    rule = "security.secret.rotation_overdue"
    secrets = run.read(run.reader.secret_metadata, (rule,))
    now_ms = int(now.timestamp() * 1000)
    for s in secrets or ():
        updated = s.get("last_updated_timestamp")
        if not updated:
            continue
        age = (now_ms - int(updated)) / 86_400_000
        if age > lim.secret_max_age_days:
            run.add(
                rule,
                f"secret/{s.get('scope')}/{s.get('key')}",
                f"secret {s.get('scope')}/{s.get('key')} was last rotated {int(age)} days ago"
                f" (limit {lim.secret_max_age_days})",
                age_days=int(age),
            )


def rotation_drafts(report: IdentityReport, owner: str) -> list[TicketDraft]:
    """One rotation ticket per overdue secret (upserted by fingerprint: no duplicates)."""
    drafts = []
    for f in report.findings:
        if f.rule_id != "security.secret.rotation_overdue":
            continue
        key = f"{report.workspace}\x1f{f.rule_id}\x1f{f.resource}"
        drafts.append(
            TicketDraft(
                fingerprint=hashlib.sha256(key.encode()).hexdigest()[:32],
                workspace=report.workspace,
                rule_id=f.rule_id,
                resource_id=f.resource,
                severity="high",
                owner=owner,
                title=f"Rotate {f.resource.removeprefix('secret/')} ({report.workspace})",
                body=f"{f.message}. SOP 1.4.2: production secrets are rotated quarterly. Put the"
                " new value with `databricks secrets put-secret`, then revoke the old credential.",
            )
        )
    return drafts


def _tokens(
    run: _Run, users: list[dict[str, Any]] | None, now: datetime, lim: IdentityLimits
) -> None:
    hides = (
        "security.token.no_expiry",
        "security.token.too_old",
        "security.token.deactivated_owner",
    )
    tokens = run.read(run.reader.tokens, hides)
    if tokens is None:
        return
    active = {str(u.get("id")): bool(u.get("active", True)) for u in users or ()}
    now_ms = int(now.timestamp() * 1000)
    for t in tokens:
        tid = f"token/{t.get('token_id')}"
        owner = t.get("created_by_username") or str(t.get("owner_id"))
        expiry = t.get("expiry_time")
        if expiry is None or int(expiry) <= 0:
            run.add("security.token.no_expiry", tid, f"token of {owner} never expires", owner=owner)
        created = t.get("creation_time")
        if created:
            age = (now_ms - int(created)) / 86_400_000
            if age > lim.token_max_age_days:
                run.add(
                    "security.token.too_old",
                    tid,
                    f"token of {owner} is {int(age)} days old (limit {lim.token_max_age_days})",
                    owner=owner,
                    age_days=int(age),
                )
        oid = str(t.get("owner_id"))
        if users is not None and (oid not in active or not active[oid]):
            state = "deactivated" if oid in active else "not a workspace user any more"
            run.add(
                "security.token.deactivated_owner",
                tid,
                f"token of {owner}, whose account is {state}",
                owner=owner,
            )


def _conf(run: _Run, env: str, lim: IdentityLimits) -> None:
    hides = tuple(f"security.workspace_conf.{k}" for k in CONF_KEYS)
    conf = run.read(lambda: run.reader.workspace_conf(CONF_KEYS), hides)
    if conf is None:
        return
    ws = f"workspace/{run.report.workspace}"
    for key, (want, envs) in CONF_EXPECTED.items():
        got = (conf.get(key) or "").strip().lower()
        if env in envs and got != want:
            shown = got or "unset"
            run.add(
                f"security.workspace_conf.{key}",
                ws,
                f"{key} is {shown}; the SOP wants {want}",
                value=shown,
            )
    life = conf.get("maxTokenLifetimeDays")
    days = int(life) if life and str(life).strip().isdigit() else 0
    if days <= 0 or days > lim.max_token_lifetime_days:
        run.add(
            "security.workspace_conf.maxTokenLifetimeDays",
            ws,
            f"new tokens may live {'forever' if days <= 0 else f'{days} days'}"
            f" (limit {lim.max_token_lifetime_days})",
            value=life or "unset",
        )


def _network(run: _Run, env: str) -> None:
    if env != "prod":
        return
    lists = run.read(run.reader.ip_access_lists, ("security.network.no_ip_access_list",))
    if lists is None:
        return
    allow = [
        x for x in lists if x.get("enabled") and str(x.get("list_type", "")).upper() == "ALLOW"
    ]
    if not allow:
        run.add(
            "security.network.no_ip_access_list",
            f"workspace/{run.report.workspace}",
            "prod workspace without an enabled ALLOW IP access list",
            lists=len(lists),
        )


def _groups(run: _Run, lim: IdentityLimits) -> None:
    hides = ("security.identity.unmanaged_group", "security.identity.admin_count")
    groups = run.read(run.reader.groups, hides)
    if groups is None:
        return
    for g in groups:
        name = str(g.get("displayName", ""))
        if name.lower() in BUILTIN_GROUPS:
            continue
        if not g.get("externalId"):
            run.add(
                "security.identity.unmanaged_group",
                f"group/{name}",
                f"group {name} is not provisioned from the identity provider (SCIM)",
            )
    admins = next((g for g in groups if str(g.get("displayName", "")).lower() == "admins"), None)
    members = len(admins.get("members") or []) if admins else 0
    if members > lim.max_admins:
        run.add(
            "security.identity.admin_count",
            "group/admins",
            f"{members} workspace admins (limit {lim.max_admins})",
            admins=members,
        )


def _clusters(run: _Run) -> None:
    clusters = run.read(run.reader.clusters, ("security.cluster.no_policy",))
    for c in clusters or ():
        source = str(c.get("cluster_source", "")).upper()
        if source in {"JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "MODELS", "SQL"}:
            continue
        if not c.get("policy_id"):
            run.add(
                "security.cluster.no_policy",
                f"cluster/{c.get('cluster_id')}",
                f"cluster {c.get('cluster_name', c.get('cluster_id'))} runs without a policy",
                creator=c.get("creator_user_name"),
            )


def _gpu_policies(run: _Run, lim: IdentityLimits) -> None:
    policies = run.read(run.reader.cluster_policies, ("security.policy.gpu_broad_use",))
    for p in policies or ():
        if not _is_gpu(p):
            continue
        pid = str(p.get("policy_id"))
        acl = run.read(
            partial(run.reader.policy_permissions, pid), ("security.policy.gpu_broad_use",)
        )
        for entry in (acl or {}).get("access_control_list", []):
            who = (
                entry.get("group_name")
                or entry.get("user_name")
                or entry.get("service_principal_name")
            )
            if not who or str(who).lower() == "admins":
                continue
            if not (entry.get("group_name") and lim.ml_groups.search(str(who))):
                run.add(
                    "security.policy.gpu_broad_use",
                    f"cluster_policy/{pid}",
                    f"GPU policy {p.get('name')} is usable by {who}, not an ML group",
                    principal=who,
                )


def _is_gpu(policy: Mapping[str, Any]) -> bool:
    definition = policy.get("definition") or ""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    try:
        node = json.loads(text).get("node_type_id", {}) if text else {}
    except ValueError:
        node = {}
    values = [str(node.get("value", ""))] + [str(v) for v in node.get("values", []) or []]
    return bool(_GPU.search(str(policy.get("name", "")))) or any(_GPU.search(v) for v in values)


def report_items(report: IdentityReport) -> list[dict[str, Any]]:
    """Findings as plain records (the CLI's items)."""
    return [
        {
            "workspace": report.workspace,
            "rule_id": f.rule_id,
            "resource": f.resource,
            "message": f.message,
            "evidence": dict(f.evidence),
        }
        for f in report.findings
    ]
