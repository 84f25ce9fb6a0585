"""Unity Catalog governance parts of a project (composition root for services/governance).

    uc = uc_ports(ctx)                      # Catalog + Grants + MaskFunctions of the backend
    plan = enforcement_plan(ctx)            # `lakecrew govern plan|apply`
    revoke_expired_grants(ctx, apply=True)  # the sweep's expiry step (phase >= 3)

The local backend's metastore implements all three ports. The Databricks adapter
(`adapters/databricks/catalog.py`) implements them too and is contract-tested over recorded
payloads, but a `backend: databricks` project still reads the local metastore here (the same
gap as the crew's estate scope: see ARCHITECTURE.md "Not built yet").
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lakecrew.ports.catalog import TableInfo
from lakecrew.services.crew.comms import Comms, build_notifications
from lakecrew.services.estate.config import ENVIRONMENTS
from lakecrew.services.governance import access as access_svc
from lakecrew.services.governance.compliance import (
    ComplianceReport,
    compliance_month,
    previous_month,
)
from lakecrew.services.governance.desired import TableWant, load_comment_proposals, wants_from_specs
from lakecrew.services.governance.enforce import EnforcementPlan, plan_enforcement
from lakecrew.services.governance.executor import ACCESS_SCOPE, CatalogExecutor
from lakecrew.services.governance.review import AccessReview, last_use, review
from lakecrew.services.policy.actions.catalog_base import UcPorts

if TYPE_CHECKING:
    from lakecrew.wiring.context import Context

REPORTS = "reports"


def uc_ports(ctx: Context) -> UcPorts:
    ms = ctx.metastore
    return UcPorts(ms, ms, ms)


def executor(ctx: Context) -> CatalogExecutor:
    return CatalogExecutor(uc_ports(ctx), ctx.ledger, ctx.clock)


def run_id(ctx: Context) -> str:
    return f"{ctx.clock.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def phase_of_catalog(ctx: Context, catalog: str) -> int:
    """The rollout phase of the environment a catalog belongs to (`<project>_<env>`); the
    lowest phase of all environments when the name says none (the safe side)."""
    env = catalog.rsplit("_", 1)[-1]
    if env in ENVIRONMENTS:
        return ctx.config.phase_for(env)
    return min(ctx.config.phase_for(e) for e in ENVIRONMENTS)


def spec_wants(ctx: Context) -> dict[str, TableWant]:
    """The governed state of every table every pipeline spec writes, in every environment."""
    from lakecrew.services.pipelines.loader import LoadedPipeline, load_pipeline_spec
    from lakecrew.wiring.pipelines import list_specs

    loaded: list[LoadedPipeline] = []
    for path in list_specs(ctx).values():
        for env in ENVIRONMENTS:
            try:
                loaded.append(load_pipeline_spec(path, env))
            except Exception:  # noqa: BLE001 - a spec without this environment has no tables there
                continue
    return wants_from_specs(loaded)


def enforcement_plan(ctx: Context, phase: int | None = None) -> EnforcementPlan:
    def phase_of(info: TableInfo) -> int:
        return phase if phase is not None else phase_of_catalog(ctx, info.catalog_name)

    return plan_enforcement(
        uc_ports(ctx), spec_wants(ctx), load_comment_proposals(ctx.layout.root), phase_of=phase_of
    )


def revoke_expired_grants(
    ctx: Context, *, apply: bool, phase: int | None = None
) -> access_svc.RevokeReport:
    """Revoke temporary grants past their expiry (phase >= 3 of the lowest environment, or
    `phase`), then notify their owners through the crew's outbox and the routed alerts."""
    now = ctx.clock.now()
    uc = uc_ports(ctx)
    expired = access_svc.expired_grants(ctx.ledger, uc.grants.list_grants(), now)
    use_phase = phase if phase is not None else min(ctx.config.phase_for(e) for e in ENVIRONMENTS)
    report = access_svc.revoke_expired(
        expired, executor(ctx), run_id(ctx), phase=use_phase, apply=apply
    )
    revoked = report.revoked
    if revoked:
        _notify(ctx, revoked, now)
    return report


def _notify(ctx: Context, rows: list[Any], now: Any) -> None:
    notes = build_notifications(
        ACCESS_SCOPE, rows[0].sweep_id, [], rows, severity_of={}, channel=ctx.notifier.name, now=now
    )
    comms = Comms(ctx.ledger, ctx.notifier)
    comms.enqueue(notes)
    comms.deliver(ACCESS_SCOPE, now)
    alerts = ctx.alerts
    if alerts is not None:
        alerts.store.put(alerts.router.immediate(access_svc.revocation_items(rows), now))
        alerts.tick(now, summaries=False)


def access_review(ctx: Context, *, window_days: int = 365, unused_days: int = 90) -> AccessReview:
    now = ctx.clock.now()
    ms = ctx.metastore
    use = last_use(ctx.sql, now - timedelta(days=window_days))
    return review(
        ms.list_grants(),
        ms.list_tables(),
        use,
        at=now,
        window_days=window_days,
        unused_days=unused_days,
    )


def archive_review(ctx: Context, rev: AccessReview) -> str:
    """Archive what the review covered (for the compliance report's "grants reviewed")."""
    from lakecrew.services.output_files import write_file

    by_cat: dict[str, int] = {}
    for g in rev.grants:
        cat = g.securable.split(".")[0]
        by_cat[cat] = by_cat.get(cat, 0) + 1
    body = {"at": rev.at.isoformat(), "grants_by_catalog": by_cat, "flags": rev.counts()}
    path = ctx.layout.state_dir / REPORTS / f"access-review-{rev.at:%Y%m%dT%H%M%S}.json"
    write_file(path, json.dumps(body, sort_keys=True).encode(), force=True)
    return str(path)


def archived(ctx: Context, prefix: str) -> list[dict[str, Any]]:
    """The archived reports whose file name starts with `prefix`; an unreadable one is a
    DataError naming it (a report must not silently leave a review out)."""
    from lakecrew.core.errors import DataError

    folder = ctx.layout.state_dir / REPORTS
    out = []
    for p in sorted(folder.glob(f"{prefix}*.json")) if folder.is_dir() else []:
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, ValueError) as exc:
            raise DataError(
                f"cannot read archived report ({type(exc).__name__})",
                where=str(p),
                fix="restore or remove the file",
            ) from None
    return out


def compliance(ctx: Context, month: str) -> ComplianceReport:
    """The month's report; archived (`.lakecrew/reports/compliance-YYYY-MM.json`) so the next
    month can show the trend of the catalog figures."""
    from lakecrew.services.output_files import write_file

    ms = ctx.metastore
    prev = ctx.layout.state_dir / REPORTS / f"compliance-{previous_month(month)}.json"
    previous = json.loads(prev.read_text()) if prev.is_file() else None
    report = compliance_month(
        month,
        tables=ms.list_tables(),
        grants=ms.list_grants(),
        findings=ctx.ledger.findings(),
        actions=ctx.ledger.actions(ACCESS_SCOPE),
        reviews=archived(ctx, "access-review-"),
        previous_archive=previous,
        now=ctx.clock.now(),
    )
    path = ctx.layout.state_dir / REPORTS / f"compliance-{month}.json"
    write_file(path, json.dumps(report.as_dict(), sort_keys=True).encode(), force=True)
    return report
