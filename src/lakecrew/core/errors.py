"""The one error tree of lakecrew.

Every error says what failed, where (file:line, table, resource id), why, and how to fix it, in
one line. Adapters translate vendor errors into these classes; faces map them to exit codes.
Messages must never contain secrets or patient identifiers: pass identifiers of *objects*
(table names, resource ids), never row values.
"""

from __future__ import annotations


class LakecrewError(Exception):
    """Root of every error lakecrew raises on purpose."""

    exit_code: int = 1
    retryable: bool = False

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """`where: what — fix: how`, credential-shaped parts redacted (core/redact.py)."""
        from lakecrew.core.redact import redact_text

        parts = [f"{self.where}: {self.what}" if self.where else self.what]
        if self.fix:
            parts.append(f"fix: {self.fix}")
        return redact_text(" — ".join(parts))


class UsageError(LakecrewError):
    """The command was called wrongly (exit code 2)."""

    exit_code = 2


class ConfigError(LakecrewError):
    """lakecrew.yaml, an SOP pack or a pipeline spec is invalid."""

    exit_code = 2


class DataError(LakecrewError):
    """Input data is malformed (truncated file, wrong type, bad encoding, schema drift)."""


class SchemaMismatch(DataError):
    """Data does not fit a table's schema (including casts that would silently lose data)."""


class NotFound(LakecrewError):
    """A workspace object, table or record does not exist."""


class UnknownName(NotFound):
    """A name the user typed (workspace, rule, pipeline) names nothing known: a usage error
    (exit 2) whose message says "did you mean" when a known name is close."""

    exit_code = 2

    def __init__(
        self,
        kind: str,
        name: str,
        known: list[str],
        *,
        where: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.name = name
        self.known = known
        listed = ", ".join(known[:6]) + (f" (and {len(known) - 6} more)" if len(known) > 6 else "")
        default = f"use one of: {listed}" if known else f"no {kind} is defined yet"
        super().__init__(
            f"unknown {kind} {name!r}{did_you_mean(name, known)}", where=where, fix=fix or default
        )


def did_you_mean(value: str, known: list[str]) -> str:
    """`` (did you mean 'x'?)`` naming the closest known name, or an empty string."""
    import difflib

    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class TableMissing(NotFound):
    """A table (or its schema) does not exist: a query or read names one that is not there.

    Callers that treat "no table yet" as "no facts" catch this type, never the message text.
    """


class ColumnMissing(NotFound):
    """A table exists but lacks a column (or struct field) the query reads — typically a system
    table of an older release, before Databricks added that column. `column` names it."""

    def __init__(
        self, what: str, *, column: str, where: str | None = None, fix: str | None = None
    ) -> None:
        self.column = column
        super().__init__(what, where=where, fix=fix)


class PermissionDenied(LakecrewError):
    """The identity in use lacks a permission; the message names it."""


class Conflict(LakecrewError):
    """A concurrent change won (commit conflict, lock held by another run)."""

    retryable = True


class Transient(LakecrewError):
    """A temporary failure (timeout, 429, 5xx); safe to retry."""

    retryable = True


class SafetyRefusal(LakecrewError):
    """An action was refused by a safety rule (phase gate, blast radius, running workload)."""


class Unreachable(Transient):
    """The host of a workspace cannot be reached at all (DNS, refused, timed out): every call
    to it would fail the same way, so the run stops with one line instead of trying each API."""


# Why one API (a listing, the workspace conf) could not be read, as PartialListing.cause /
# Unavailable.cause: the identity is not authenticated, lacks a permission, the feature is not
# enabled (404/501), the answer was malformed (bad JSON, truncated, page-token loop), or it kept
# failing (429/5xx past the retry budget).
CAUSES = ("not_authenticated", "permission", "not_enabled", "malformed", "failed")


class Unavailable(LakecrewError):
    """One API of a workspace cannot be read (see CAUSES); the other APIs may still answer."""

    def __init__(
        self,
        what: str,
        *,
        api: str,
        cause: str,
        where: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.api = api
        self.cause = cause
        super().__init__(what, where=where, fix=fix)


class PartialListing(Transient):
    """A listing stopped at a failed page: `delivered` objects were yielded before it.

    `page` is the 1-based number of the page (request) that failed, when the listing knows it;
    `cause` says why (one of CAUSES); `api` is the call, e.g. "clusters.list".
    """

    def __init__(
        self,
        what: str,
        *,
        kind: str,
        delivered: int,
        page: int | None = None,
        where: str | None = None,
        fix: str | None = None,
        cause: str = "failed",
        api: str | None = None,
    ) -> None:
        self.kind = kind
        self.delivered = delivered
        self.page = page
        self.cause = cause
        self.api = api
        super().__init__(what, where=where, fix=fix)
