"""Findings (what broke which rule, where) and the context a rule evaluation needs.

A finding's evidence holds the values that broke the rule — never secret values: `mask_secrets`
replaces anything that looks like a credential before a finding is built.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any, Literal

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER: Mapping[str, int] = {"critical": 0, "warning": 1, "info": 2}

_SECRET_KEY = re.compile(
    r"(passw(or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|"
    r"conn(ection)?[_-]?str(ing)?)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"^(dapi[0-9a-f]{20,}|dose[0-9a-f]{20,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|xox[abpr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9]{20,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\..*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*)$|(://[^/\s:@]+:[^/\s@]+@)",
    re.DOTALL,
)
_SECRET_REF = re.compile(r"^\{\{\s*secrets/[^}]+\}\}$")


def looks_like_secret(value: str) -> bool:
    """True for literals shaped like tokens, keys, JWTs, private keys or passwords in URLs."""
    if _SECRET_REF.match(value.strip()):
        return False
    return bool(_SECRET_VALUE.search(value.strip()))


@lru_cache(maxsize=8192)  # key names repeat across every object (names only, never values)
def secret_key_name(key: str) -> bool:
    """True for keys whose name says they hold a credential (password, token, api_key, ...)."""
    return bool(_SECRET_KEY.search(key))


def redacted(value: Any) -> str:
    """The placeholder shown instead of a secret (its length only)."""
    return f"<redacted {len(str(value))} chars>"


def mask_secrets(value: Any, key: str = "") -> Any:
    """A copy of `value` with secret-looking strings (by key name or by shape) redacted."""
    if isinstance(value, Mapping):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v, key) for v in value]
    if isinstance(value, str):
        if _SECRET_REF.match(value.strip()):
            return value
        if (key and secret_key_name(key) and value) or looks_like_secret(value):
            return redacted(value)
    return value


def fingerprint(workspace: str, resource_type: str, resource_id: str, rule_id: str) -> str:
    """Stable id of (workspace, resource type, resource id, rule): same inputs, same fingerprint."""
    raw = "\x1f".join((workspace, resource_type, resource_id, rule_id)).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class Finding:
    """One resource breaking one rule."""

    rule_id: str
    sop_section: str
    severity: Severity
    workspace: str
    resource_type: str
    resource_id: str
    resource_name: str | None
    evidence: Mapping[str, Any]
    remediation: str
    fingerprint: str
    title: str = ""
    action: str | None = None
    min_phase: int = 1

    @cached_property
    def evidence_json(self) -> str:
        """The evidence as JSON text (sorted keys), built once: the ledger row, the ticket
        body and the notification line of a finding all quote it."""
        return json.dumps(self.evidence, sort_keys=True, default=str)


@dataclass(frozen=True)
class Approval:
    """An approval record (SOP 1.2.2 exceptions, 1.2.6 GPU/high-memory): who approved what."""

    kind: str
    approved_by: str
    reason: str
    workspace: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    resource_name_glob: str | None = None
    expires: datetime | None = None
    max_minutes: int | None = None

    def covers(
        self,
        kind: str,
        *,
        workspace: str,
        resource_type: str,
        resource_id: str,
        resource_name: str | None,
        now: datetime,
    ) -> bool:
        """True when this approval is of `kind`, unexpired and matches the resource."""
        from fnmatch import fnmatchcase

        if self.kind != kind or (self.expires is not None and self.expires <= now):
            return False
        if self.workspace not in (None, workspace):
            return False
        if self.resource_type not in (None, resource_type):
            return False
        if self.resource_id is not None and self.resource_id != resource_id:
            return False
        if self.resource_name_glob is not None:
            return resource_name is not None and fnmatchcase(resource_name, self.resource_name_glob)
        return True


@dataclass(frozen=True)
class EvaluationContext:
    """What rules may know beyond one REST object; the crew's Observer fills it.

    - `environment`: the workspace's environment (a key of the pack's `environments`).
    - `node_types`: extra node types (name → {memory_gb, cores, gpus}) over the pack's catalogue.
    - `approvals`: approval records beyond those in the pack.
    - `last_activity`: cluster_id → last job/command activity (aware UTC).
    - `facts`: free-form facts for registered checks, e.g. {"inventory": {...},
      "labels": {(resource_type, resource_id): [codes...]}, "month_to_date": {...}}.
    """

    workspace: str
    environment: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    node_types: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    approvals: tuple[Approval, ...] = ()
    last_activity: Mapping[str, datetime] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)
