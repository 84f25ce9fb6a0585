"""Databricks SDK errors → lakecrew errors, with messages that never carry credentials.

`translate(exc, where=..., action=...)` maps the SDK's error classes (and the TimeoutError its
retry loop raises when its budget runs out) onto `lakecrew.core.errors`:

- NotFound / ResourceDoesNotExist                  → NotFound
- PermissionDenied / Unauthenticated               → PermissionDenied naming the call and the
  permission it needs (see `REQUIRED_PERMISSION`)
- ResourceConflict / AlreadyExists / InvalidState / Aborted → Conflict
- 429, 5xx, DeadlineExceeded, timeouts, connection errors   → Transient
- BadRequest / InvalidParameterValue               → UsageError
- NotImplemented (501)                             → Unavailable (feature not enabled)

`cause_of(exc)` classifies the answers one API gives whatever is retried (401, 403, 404, 501)
so a sweep can mark that API's kind unseen, with the reason, and read every other kind.

`PartialListing` is raised by a listing whose page failed after some objects were delivered, so
a sweep can say exactly how far it got and never claim a full sweep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import requests
from databricks.sdk import errors as sdk_errors

from lakecrew.core.errors import (
    Conflict,
    LakecrewError,
    NotFound,
    PermissionDenied,
    Transient,
    Unavailable,
    UsageError,
)

# What each call needs, as Databricks documents it (ACL levels / UC privileges / admin).
REQUIRED_PERMISSION: Mapping[str, str] = {
    "clusters.list": "CAN_ATTACH_TO on the clusters (workspace admins see all)",
    "clusters.get": "CAN_ATTACH_TO on the cluster",
    "clusters.update": "CAN_MANAGE on the cluster",
    "clusters.delete": "CAN_RESTART on the cluster",
    "clusters.resize": "CAN_MANAGE on the cluster",
    "clusters.start": "CAN_RESTART on the cluster",
    "cluster_policies.list": "workspace access (admins see all policies)",
    "cluster_policies.get": "CAN_USE on the policy",
    "cluster_policies.create": "workspace admin",
    "cluster_policies.edit": "workspace admin",
    "jobs.list": "CAN_VIEW on the jobs",
    "jobs.get": "CAN_VIEW on the job",
    "jobs.update": "CAN_MANAGE on the job",
    "jobs.reset": "CAN_MANAGE on the job",
    "warehouses.list": "CAN_USE on the warehouses",
    "warehouses.get": "CAN_USE on the warehouse",
    "warehouses.edit": "CAN_MANAGE on the warehouse",
    "instance_pools.list": "CAN_ATTACH_TO on the pools",
    "instance_pools.get": "CAN_ATTACH_TO on the pool",
    "instance_pools.edit": "CAN_MANAGE on the pool",
    "secrets.list_scopes": "workspace access",
    "secrets.list_acls": "MANAGE on the secret scope",
    "secrets.get_acl": "MANAGE on the secret scope",
    "workspace_conf.get_status": "workspace admin",
    "log_delivery.list": "the account admin role (account console API)",
    "statement_execution.execute_statement": "CAN_USE on the SQL warehouse, SELECT on the tables",
    "statement_execution.get_statement": "CAN_USE on the SQL warehouse",
    "tables.list": "USE_CATALOG and USE_SCHEMA on the parent catalog and schema",
    "tables.get": "USE_CATALOG, USE_SCHEMA and SELECT (or ownership) on the table",
    "tables.update": "ownership of the table (or MANAGE)",
    "tables.delete": "ownership of the table",
    "grants.get": "USE_CATALOG on the catalog (and ownership or MANAGE to see all grants)",
    "grants.update": "MANAGE on the securable (or ownership)",
    "registered_models.get": "USE_CATALOG, USE_SCHEMA and EXECUTE (or ownership) on the model",
    "permissions.get": "CAN_MANAGE on the object",
    "permissions.set": "CAN_MANAGE on the object",
}

_CONFLICT = (
    sdk_errors.ResourceConflict,
    sdk_errors.ResourceAlreadyExists,
    sdk_errors.AlreadyExists,
    sdk_errors.InvalidState,
    sdk_errors.Aborted,
)
_TRANSIENT = (
    sdk_errors.TooManyRequests,
    sdk_errors.RequestLimitExceeded,
    sdk_errors.TemporarilyUnavailable,
    sdk_errors.DeadlineExceeded,
    sdk_errors.InternalError,
    sdk_errors.DataLoss,
    sdk_errors.Unknown,
)
_SECRETISH = re.compile(
    r"(dapi[0-9a-f]{16,}|dose[0-9a-f]{16,}|Bearer\s+\S+|(?:token|secret|password)=\S+)", re.I
)


def clean_message(message: object, limit: int = 240) -> str:
    """The vendor message, first line only, without the SDK's config dump or anything secret."""
    text = str(message or "").split("\n", 1)[0]
    text = re.split(r"\.? Config: ", text, maxsplit=1)[0]
    text = _SECRETISH.sub("[redacted]", text)
    return text[:limit].strip() or "no message"


# PartialListing lives in core.errors so services (the sweep) can catch it; re-exported here.
class WarehouseUnavailable(Transient):
    """The configured SQL warehouse is stopped, stopping or deleted."""


def _status(exc: BaseException) -> int | None:
    """The HTTP status code behind an SDK error, when the SDK kept it."""
    for cls, code in (
        (sdk_errors.BadRequest, 400),
        (sdk_errors.Unauthenticated, 401),
        (sdk_errors.PermissionDenied, 403),
        (sdk_errors.NotFound, 404),
        (sdk_errors.ResourceConflict, 409),
        (sdk_errors.TooManyRequests, 429),
        (sdk_errors.InternalError, 500),
        (sdk_errors.NotImplemented, 501),
        (sdk_errors.TemporarilyUnavailable, 503),
        (sdk_errors.DeadlineExceeded, 504),
    ):
        if isinstance(exc, cls):
            return code
    return None


def is_server_error(exc: BaseException) -> bool:
    """True for 5xx answers that are safe to retry (500, 502, 503, 504)."""
    if isinstance(exc, sdk_errors.NotImplemented):
        return False
    status = _status(exc)
    return status is not None and status >= 500


# Why an API could not be read (core.errors.CAUSES), with what to tell the admin.
_CAUSE_TEXT: Mapping[str, tuple[str, str]] = {
    "not_authenticated": (
        "not authenticated (401)",
        "renew the token / OAuth secret of the auth profile or DATABRICKS_* variables",
    ),
    "permission": (
        "permission missing (403): it needs {needed}",
        "grant the lakecrew identity {needed}",
    ),
    "not_enabled": (
        "feature not enabled or API not available on this workspace ({status})",
        "enable the feature for the workspace (or its tier/cloud lacks it); rules needing it "
        "stay unseen until then",
    ),
}


def cause_of(exc: BaseException) -> str | None:
    """The CAUSES entry of an SDK error that one API answers whatever we retry (401, 403,
    404, 501), or None for anything else."""
    if isinstance(exc, sdk_errors.Unauthenticated):
        return "not_authenticated"
    if isinstance(exc, sdk_errors.PermissionDenied):
        return "permission"
    if isinstance(exc, sdk_errors.NotFound | sdk_errors.NotImplemented):
        return "not_enabled"
    return None


def unavailable_text(cause: str, action: str, exc: BaseException) -> tuple[str, str]:
    """(what, fix) for an API that answered `cause` to `action`."""
    what, fix = _CAUSE_TEXT[cause]
    status = "501 not implemented" if isinstance(exc, sdk_errors.NotImplemented) else "404"
    needed = REQUIRED_PERMISSION.get(action, "the permission this API needs")
    return (
        f"{action}: {what.format(status=status, needed=needed)} ({clean_message(exc, 160)})",
        fix.format(needed=needed),
    )


def unavailable_or_translated(exc: BaseException, *, where: str, action: str) -> LakecrewError:
    """`Unavailable` when the API answered that it is absent, not enabled or not permitted for
    `action` (the caller marks it unseen), else the one lakecrew error of `translate`."""
    cause = cause_of(exc)
    if cause is None:
        return translate(exc, where=where, action=action)
    what, fix = unavailable_text(cause, action, exc)
    return Unavailable(what, api=action, cause=cause, where=where, fix=fix)


def translate(exc: BaseException, *, where: str, action: str) -> LakecrewError:
    """One lakecrew error for a failed SDK call `action` (e.g. "clusters.update") on `where`."""
    if isinstance(exc, LakecrewError):
        return exc
    code = getattr(exc, "error_code", None)
    msg = clean_message(exc)
    detail = f"{msg} [{code}]" if code else msg
    if isinstance(exc, sdk_errors.Unauthenticated):
        return PermissionDenied(
            f"{action} was refused: not authenticated ({detail})",
            where=where,
            fix="check the token / OAuth client of the auth profile or DATABRICKS_* variables",
        )
    if isinstance(exc, sdk_errors.PermissionDenied):
        needed = REQUIRED_PERMISSION.get(action, "a permission on this object")
        return PermissionDenied(
            f"{action} was refused: permission denied ({detail}); it needs {needed}",
            where=where,
            fix=f"grant the lakecrew identity {needed}, or run with an identity that has it",
        )
    if isinstance(exc, sdk_errors.NotFound):
        return NotFound(f"{action}: not found ({detail})", where=where, fix="re-list to get ids")
    if isinstance(exc, _CONFLICT):
        return Conflict(f"{action}: conflict ({detail})", where=where, fix="re-read and retry")
    if isinstance(exc, _TRANSIENT) or is_server_error(exc):
        return Transient(f"{action}: temporary failure ({detail})", where=where, fix="retry later")
    if isinstance(exc, TimeoutError):
        cause = exc.__cause__
        reason = clean_message(cause) if cause is not None else "no answer"
        return Transient(
            f"{action}: gave up after the retry budget ({reason})",
            where=where,
            fix="retry later, or raise retry_timeout_seconds for this workspace",
        )
    if isinstance(exc, requests.RequestException | ConnectionError):
        return Transient(
            f"{action}: network failure ({type(exc).__name__})",
            where=where,
            fix="check the host and the network, then retry",
        )
    if isinstance(exc, sdk_errors.NotImplemented):
        return Unavailable(
            f"{action}: not available on this workspace (501, {detail})",
            api=action,
            cause="not_enabled",
            where=where,
            fix="the feature is not enabled for this workspace (or its tier/cloud lacks it)",
        )
    if isinstance(exc, sdk_errors.BadRequest | sdk_errors.InvalidParameterValue):
        return UsageError(f"{action}: rejected ({detail})", where=where)
    return LakecrewError(f"{action} failed ({type(exc).__name__}: {detail})", where=where)
