"""Security services wired to their adapters: the secret scanner over detect-secrets, the
identity checks over the Databricks SDK or an export folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from lakecrew.adapters.scan.detector import DetectSecretsDetector
from lakecrew.core.errors import UsageError
from lakecrew.services.security.identity import IdentityReport
from lakecrew.services.security.secret_docs import MAX_BYTES
from lakecrew.services.security.secret_scan import (
    SecretScan,
    folder_files,
    load_allowlist,
    load_baseline,
    scan_files,
)


def scan_path(
    path: Path,
    *,
    allowlist: Path | None = None,
    baseline: Path | None = None,
    max_bytes: int = MAX_BYTES,
) -> SecretScan:
    """`lakecrew secrets scan PATH`: a local folder, git checkout or exported file."""
    allow = load_allowlist(allowlist) if allowlist else None
    accepted = load_baseline(baseline) if baseline else frozenset()
    return scan_files(
        folder_files(path, max_bytes=max_bytes),
        DetectSecretsDetector(),
        allow=allow,
        baseline=accepted,
        max_bytes=max_bytes,
    )


def identity_report(
    project: Path,
    *,
    workspace: str | None,
    export: Path | None,
    environment: str | None,
    now: datetime,
) -> IdentityReport:
    """`lakecrew security identity`: a lakecrew.yaml databricks workspace, or an export folder."""
    from lakecrew.services.security.identity import check_identity

    if export is not None:
        from lakecrew.adapters.local.identity_export import IdentityExport

        if not export.is_dir():
            raise UsageError(
                f"{export} is not a folder", where="--export", fix="give the export folder"
            )
        return check_identity(
            IdentityExport(export, workspace or export.name), environment or "prod", now
        )
    if workspace is None:
        raise UsageError("give --workspace W or --export DIR", where="security identity")
    from lakecrew.wiring.context import Context

    with Context.open(project) as lc:
        ws = lc.config.workspace(workspace)
    if ws.backend != "databricks":
        raise UsageError(
            f"{workspace} is a local workspace: identity settings live in Databricks",
            where="--workspace",
            fix="check a backend: databricks workspace, or export its APIs and pass --export DIR",
        )
    from lakecrew.adapters.databricks import databricks_client
    from lakecrew.adapters.databricks.identity import DatabricksIdentity
    from lakecrew.services.estate.auth_check import check_workspace_auth

    check_workspace_auth(ws.name, ws.host, ws.auth_profile)
    reader = DatabricksIdentity(databricks_client(ws), ws.name)
    return check_identity(reader, environment or str(ws.environment), now)
