"""Security services wired to their adapters: the secret scanner over detect-secrets, the
identity checks over the Databricks SDK or an export folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from lakecrew.adapters.scan.detector import DetectSecretsDetector
from lakecrew.core.errors import UsageError
from lakecrew.services.security.audit_delivery import AuditDeliveryReport
from lakecrew.services.security.identity import IdentityReport
from lakecrew.services.security.secret_docs import MAX_BYTES
from lakecrew.services.security.secret_scan import (
    SecretScan,
    folder_files,
    load_allowlist,
    load_baseline,
    scan_files,
)
from lakecrew.services.security.sign_ins import NON_SSO_SIGN_IN, SignInReport


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


def scan_workspace(
    project: Path,
    workspace: str,
    root: str,
    *,
    allowlist: Path | None = None,
    baseline: Path | None = None,
    max_bytes: int = MAX_BYTES,
) -> SecretScan:
    """`lakecrew secrets scan --workspace W [--root /Repos]`: notebooks and files exported
    through W's Workspace API (SOURCE / AUTO), scanned like a local folder; objects the API
    would not export are listed as skipped with the reason."""
    from dataclasses import replace

    from lakecrew.adapters.databricks.workspace_export import WorkspaceExport
    from lakecrew.services.security.secret_docs import Skipped
    from lakecrew.wiring.context import Context

    with Context.open(project) as lc:
        ws = lc.config.workspace(workspace)
        if ws.backend != "databricks":
            raise UsageError(
                f"{workspace} is a local workspace: its notebooks are not in Databricks",
                where="--workspace",
                fix="scan a folder: lakecrew secrets scan PATH",
            )
        client = lc.workspace(workspace).client  # type: ignore[attr-defined]
        export = WorkspaceExport(client, root, max_bytes=max_bytes)
        allow = load_allowlist(allowlist) if allowlist else None
        accepted = load_baseline(baseline) if baseline else frozenset()
        done = scan_files(
            export.files(),
            DetectSecretsDetector(),
            allow=allow,
            baseline=accepted,
            max_bytes=max_bytes,
        )
    extra = tuple(Skipped(name, reason) for name, reason in export.skipped)
    return replace(done, skipped=(*done.skipped, *extra))


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
        report = check_identity(
            IdentityExport(export, workspace or export.name), environment or "prod", now
        )
        why = "an export folder holds no audit rows: run `lakecrew security audit`"
        report.not_checked = (*report.not_checked, f"{NON_SSO_SIGN_IN} ({why})")
        return report
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
    report = check_identity(reader, environment or str(ws.environment), now)
    if not (ws.warehouse_id and ws.workspace_id):
        why = "no warehouse_id and workspace_id to read system.access.audit with"
        report.not_checked = (*report.not_checked, f"{NON_SSO_SIGN_IN} ({why})")
        return report
    from lakecrew.services.security.sign_ins import check_sign_ins, into_identity

    with Context.open(project) as lc:
        engine = lc.workspace_sql(workspace)
        assert engine is not None  # a databricks workspace with a warehouse_id
        signs = check_sign_ins(engine, ws.name, str(ws.workspace_id), now)
    return into_identity(report, signs)


def audit_report(
    project: Path,
    *,
    workspace: str,
    now: datetime,
    max_gap_hours: float,
    log_delivery: Path | None,
    lookback_days: int = 7,
) -> tuple[AuditDeliveryReport, SignInReport]:
    """`lakecrew security audit`: audit rows of one workspace (and log delivery, if exported),
    and its interactive sign-ins of the last `lookback_days` (SSO or not)."""
    import json

    from lakecrew.services.security.audit_delivery import check_audit_delivery
    from lakecrew.services.security.sign_ins import check_sign_ins
    from lakecrew.wiring.context import Context

    configs = None
    if log_delivery is not None:
        try:
            doc = json.loads(log_delivery.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(
                f"not a log-delivery JSON export ({exc.__class__.__name__})",
                where=str(log_delivery),
                fix="save GET /api/2.0/accounts/<id>/log-delivery as JSON",
            ) from None
        configs = doc if isinstance(doc, list) else doc.get("log_delivery_configurations", [])
    with Context.open(project) as lc:
        ws = lc.config.workspace(workspace)
        if not ws.workspace_id:
            raise UsageError(
                f"{workspace} has no workspace_id", where="lakecrew.yaml", fix="set workspace_id"
            )
        engine = lc.workspace_sql(workspace)
        if engine is None:
            raise UsageError(
                f"{workspace} has no warehouse_id to read system.access.audit with",
                where="lakecrew.yaml",
                fix="set the workspace's warehouse_id",
            )
        delivery = check_audit_delivery(
            engine,
            workspace,
            str(ws.workspace_id),
            now,
            max_gap_hours=max_gap_hours,
            lookback_days=lookback_days,
            log_delivery=configs,
            delivery=lc.log_delivery,
        )
        signs = check_sign_ins(
            engine, workspace, str(ws.workspace_id), now, lookback_days=lookback_days
        )
        return delivery, signs


def forward_findings(
    project: Path,
    channel: str,
    workspace: str,
    environment: str,
    findings: list[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """Queue findings for a configured channel (a SIEM) in the durable outbox and drain it once."""
    from lakecrew.services.notify.outbox import Dispatcher
    from lakecrew.services.security.forward import forward, security_notification
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.notify import LazyChannels, notify_secrets, outbox_store

    with Context.open(project) as lc:
        config = lc.config.notifications
        if config is None or channel not in config.channels:
            raise UsageError(
                f"no notification channel {channel!r}",
                where=str(lc.layout.config_path),
                fix="add it under notifications.channels (type: splunk_hec or siem_file)",
            )
        store = outbox_store(lc)
        note = security_notification(workspace, environment, findings)
        queued = forward(store, channel, note, now)
        channels = LazyChannels(config, notify_secrets(lc), lc.layout.root)
        drained = Dispatcher(store, {channel: channels[channel]}).drain(now)
    return {"channel": channel, "queued": queued, **drained.as_dict()}


def rotation_tickets(project: Path, report: IdentityReport, now: datetime) -> int:
    """Upsert one rotation ticket per overdue secret into the project's ticket sink."""
    from lakecrew.services.security.identity import rotation_drafts
    from lakecrew.wiring.context import Context

    with Context.open(project) as lc:
        known = {w.name: w.owner for w in lc.config.workspaces}
        drafts = rotation_drafts(report, known.get(report.workspace, "security-operations"))
        return len(lc.tickets.upsert_many(drafts, now)) if drafts else 0
