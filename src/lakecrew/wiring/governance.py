"""Unity Catalog governance parts of a project (composition root for services/governance).

    uc = uc_ports(ctx, workspace)           # Catalog + Grants + MaskFunctions of the backend
    plan = enforcement_plan(ctx, workspace=W)   # `lakecrew govern plan|apply [--workspace W]`
    revoke_expired_grants(ctx, apply=True)  # the sweep's expiry step (phase >= 3)

Without a workspace (or for a local one) the project's SQLite metastore implements the three
ports. For a `backend: databricks` workspace it is Unity Catalog through
`adapters/databricks/catalog.py` (SDK + SQL on the workspace's `warehouse_id`); Unity Catalog
lists tables per schema, so the plan and the review cover the (catalog, schema) pairs the
pipeline specs write plus any `--schema` given. Its actions are recorded under the ledger
scope `(catalog:W)` / `(access:W)` so `lakecrew rollback` restores them in the same catalog.
Group membership for the review: SCIM through the SDK on Databricks; locally the export folder
`.lakecrew/identity/` (`users.json`, `groups.json`), when present.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lakecrew.core.errors import UsageError
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
from lakecrew.services.governance.executor import ACCESS_SCOPE, CatalogExecutor, scope_for
from lakecrew.services.governance.groups import Membership, read_members
from lakecrew.services.governance.review import AccessReview, last_use, review
from lakecrew.services.policy.actions.catalog_base import UcPorts

if TYPE_CHECKING:
    from lakecrew.ports.sql import SqlEngine
    from lakecrew.wiring.context import Context

REPORTS = "reports"


def remote(ctx: Context, workspace: str | None) -> str | None:
    """`workspace` when it is a databricks one (its Unity Catalog), else None (the metastore)."""
    if workspace is None or ctx.config.workspace(workspace).backend != "databricks":
        return None
    return workspace


def uc_ports(ctx: Context, workspace: str | None = None) -> UcPorts:
    """The metastore, or the Unity Catalog of databricks workspace `workspace` (which needs a
    `warehouse_id`: tags, comments and masks change through SQL)."""
    name = remote(ctx, workspace)
    if name is None:
        ms = ctx.metastore
        return UcPorts(ms, ms, ms)
    from lakecrew.adapters.databricks import databricks_catalog

    ws = ctx.config.workspace(name)
    if not ws.warehouse_id:
        raise UsageError(
            f"workspace {name} has no warehouse_id",
            where="lakecrew.yaml",
            fix="set warehouse_id: Unity Catalog tags, comments and masks change through SQL",
        )
    cat = databricks_catalog(ctx.workspace(name), ws.warehouse_id)
    return UcPorts(cat, cat, cat)


def executor(ctx: Context, workspace: str | None = None) -> CatalogExecutor:
    name = remote(ctx, workspace)
    return CatalogExecutor(uc_ports(ctx, name), ctx.ledger, ctx.clock, workspace=name)


def governed_schemas(
    ctx: Context, workspace: str | None, extra: Sequence[str] = ()
) -> list[tuple[str, str]] | None:
    """The (catalog, schema) pairs to list on Unity Catalog: those the specs write plus
    `extra` (`catalog.schema`); None for the metastore (it lists everything)."""
    name = remote(ctx, workspace)
    if name is None:
        return None
    env = ctx.config.workspace(name).environment
    pairs = {
        (cat, sch)
        for cat, sch, _ in (t.split(".") for t in spec_wants(ctx))
        if cat.rsplit("_", 1)[-1] in (env, cat)  # a `<project>_<env>` catalog of another env: no
    }
    for s in extra:
        parts = s.lower().split(".")
        if len(parts) != 2 or not all(parts):
            raise UsageError(f"--schema {s!r}", where="--schema", fix="give catalog.schema")
        pairs.add((parts[0], parts[1]))
    return sorted((c, s) for c, s in pairs)


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
    """The governed state of every table the project's pipeline specs write (``specs_in_use``:
    its own, and the demo specs it ran), in every environment."""
    from lakecrew.services.pipelines.loader import LoadedPipeline, load_pipeline_spec
    from lakecrew.wiring.pipelines import specs_in_use

    loaded: list[LoadedPipeline] = []
    for path in specs_in_use(ctx).values():
        for env in ENVIRONMENTS:
            try:
                loaded.append(load_pipeline_spec(path, env))
            except Exception:  # noqa: BLE001 - a spec without this environment has no tables there
                continue
    return wants_from_specs(loaded)


def enforcement_plan(
    ctx: Context,
    phase: int | None = None,
    *,
    workspace: str | None = None,
    schemas: Sequence[str] = (),
) -> EnforcementPlan:
    def phase_of(info: TableInfo) -> int:
        if phase is not None:
            return phase
        if remote(ctx, workspace) is not None:
            return ctx.config.phase_for(ctx.config.workspace(str(workspace)).environment)
        return phase_of_catalog(ctx, info.catalog_name)

    listed = governed_schemas(ctx, workspace, schemas)
    plan = plan_enforcement(
        uc_ports(ctx, workspace),
        spec_wants(ctx),
        load_comment_proposals(ctx.layout.root),
        phase_of=phase_of,
        schemas=listed,
    )
    if listed == []:
        from dataclasses import replace

        note = "no schema to list on Unity Catalog: no pipeline spec writes one; pass --schema"
        plan = replace(plan, notes=(*plan.notes, note))
    return plan


def revoke_expired_grants(
    ctx: Context, *, apply: bool, phase: int | None = None, workspace: str | None = None
) -> access_svc.RevokeReport:
    """Revoke temporary grants past their expiry (phase >= 3 of the lowest environment — or of
    the databricks workspace's environment —, or `phase`), then notify their owners through
    the crew's outbox and the routed alerts. Unity Catalog grants carry no expiry: there the
    ledger's temporary grants are the whole list."""
    now = ctx.clock.now()
    ex = executor(ctx, workspace)
    listed = ex.uc.grants.list_grants() if ex.workspace is None else []
    expired = access_svc.expired_grants(ctx.ledger, listed, now, scope=ex.scope(ACCESS_SCOPE))
    if phase is not None:
        use_phase = phase
    elif ex.workspace is not None:
        use_phase = ctx.config.phase_for(ctx.config.workspace(ex.workspace).environment)
    else:
        use_phase = min(ctx.config.phase_for(e) for e in ENVIRONMENTS)
    report = access_svc.revoke_expired(expired, ex, run_id(ctx), phase=use_phase, apply=apply)
    revoked = report.revoked
    if revoked:
        _notify(ctx, revoked, now, ex.scope(ACCESS_SCOPE))
    return report


def revoke_expired_everywhere(ctx: Context, *, phase: int | None = None) -> list[str]:
    """The whole-estate sweep's expiry step: the project's metastore, then the Unity Catalog of
    every databricks workspace W whose ledger scope `(access:W)` holds an expired temporary
    grant (UC keeps no expiry: the ledger is the whole list; a workspace with none is not
    called). Returns one line per catalog that had anything to revoke, for the sweep's notes."""
    lines = [_revoke_line("the project's metastore", revoke_expired_grants(
        ctx, apply=True, phase=phase))]  # fmt: skip
    now = ctx.clock.now()
    for ws in ctx.config.workspaces:
        scope = scope_for(ACCESS_SCOPE, ws.name)
        if ws.backend != "databricks" or not access_svc.expired_grants(
            ctx.ledger, [], now, scope=scope
        ):
            continue
        where = f"Unity Catalog of {ws.name}"
        if not ws.warehouse_id:
            lines.append(f"expired temporary grants in {where} not revoked: no warehouse_id")
            continue
        report = revoke_expired_grants(ctx, apply=True, phase=phase, workspace=ws.name)
        lines.append(_revoke_line(where, report))
    return [line for line in lines if line]


def _revoke_line(where: str, report: access_svc.RevokeReport) -> str:
    """'' when nothing expired; else how many were revoked, skipped or failed (or why not)."""
    n = len(report.planned)
    if not n:
        return ""
    if not report.applied:
        return f"{n} expired temporary grant(s) in {where} not revoked: phase {report.phase} < 3"
    counts = Counter(r.status for r in report.rows)
    done = ", ".join(f"{k} {status}" for status, k in sorted(counts.items()))
    see = " (see `lakecrew actions --status failed`)" if counts["failed"] else ""
    return f"expired temporary grants in {where}: {done}{see}"


def _notify(ctx: Context, rows: list[Any], now: Any, scope: str) -> None:
    notes = build_notifications(
        scope, rows[0].sweep_id, [], rows, severity_of={}, channel=ctx.notifier.name, now=now
    )
    comms = Comms(ctx.ledger, ctx.notifier)
    comms.enqueue(notes)
    comms.deliver(scope, now)
    alerts = ctx.alerts
    if alerts is not None:
        alerts.store.put(
            alerts.router.immediate(access_svc.revocation_items(rows, scope=scope), now)
        )
        alerts.tick(now, summaries=False)


def group_directory(ctx: Context, workspace: str | None) -> Any:
    """SCIM users and groups: the SDK for a databricks workspace, else the project's export
    folder `.lakecrew/identity/` (None when there is none)."""
    name = remote(ctx, workspace)
    if name is not None:
        from lakecrew.adapters.databricks.identity import DatabricksIdentity

        return DatabricksIdentity(ctx.workspace(name).client, name)  # type: ignore[attr-defined]
    folder = ctx.layout.state_dir / "identity"
    if not (folder / "groups.json").is_file():
        return None
    from lakecrew.adapters.local.identity_export import IdentityExport

    return IdentityExport(folder, "local")


def list_schemas(
    uc: UcPorts, schemas: Sequence[tuple[str, str]]
) -> tuple[list[TableInfo], list[tuple[str, str]]]:
    """The tables of each schema, and the schemas Unity Catalog does not have (NotFound)."""
    from lakecrew.core.errors import NotFound

    tables: list[TableInfo] = []
    missing: list[tuple[str, str]] = []
    for cat, sch in schemas:
        try:
            tables += uc.catalog.list_tables(cat, sch)
        except NotFound:
            missing.append((cat, sch))
    return tables, missing


def _uc_grants(uc: UcPorts, tables: list[TableInfo], schemas: list[tuple[str, str]]) -> list[Any]:
    """Direct grants on every listed table, schema and catalog (UC reads them per securable)."""
    names = sorted({c for c, _ in schemas}) + [f"{c}.{s}" for c, s in schemas]
    return [g for n in names + [t.full_name for t in tables] for g in uc.grants.list_grants(n)]


def access_review(
    ctx: Context,
    *,
    window_days: int = 365,
    unused_days: int = 90,
    workspace: str | None = None,
    schemas: Sequence[str] = (),
) -> AccessReview:
    now = ctx.clock.now()
    listed = governed_schemas(ctx, workspace, schemas)
    uc = uc_ports(ctx, workspace)
    sql: SqlEngine = ctx.sql
    missing: list[tuple[str, str]] = []
    containers: frozenset[str] | None = None  # UC: grants are read on listed schemas only
    if listed is None:
        tables, grants = uc.catalog.list_tables(), uc.grants.list_grants()
        ms = ctx.metastore
        containers = frozenset(n.lower() for n in [*ms.list_catalogs(), *ms.list_schemas()])
    else:
        tables, missing = list_schemas(uc, listed)
        listed = [p for p in listed if p not in missing]
        grants = _uc_grants(uc, tables, listed)
        engine = ctx.workspace_sql(str(workspace))
        assert engine is not None  # uc_ports refused a workspace without a warehouse
        sql = engine
    use = last_use(sql, now - timedelta(days=window_days), join_in_engine=listed is None)
    members: Membership = read_members(group_directory(ctx, workspace))
    rev = review(
        grants,
        tables,
        use,
        at=now,
        window_days=window_days,
        unused_days=unused_days,
        members=members,
        containers=containers,
    )
    if listed is not None and missing:
        from dataclasses import replace

        gone = ", ".join(f"{c}.{s}" for c, s in missing)
        rev = replace(rev, notes=(*rev.notes, f"schema(s) not in Unity Catalog: {gone}"))
    return rev


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


def compliance_source(ctx: Context, workspace: str | None) -> str | None:
    """The databricks workspace whose Unity Catalog the report reads: `workspace` when given
    (None for a local one: the metastore), else the estate scope's (`Context.estate_uc`: the
    first databricks workspace with a `warehouse_id`), else None (the project's metastore)."""
    if workspace is not None:
        return remote(ctx, workspace)
    found = ctx.warehouse_workspaces()
    return found[0].name if found else None


def compliance(ctx: Context, month: str, *, workspace: str | None = None) -> ComplianceReport:
    """The month's report; archived (`.lakecrew/reports/compliance-YYYY-MM.json`) so the next
    month can show the trend of the catalog figures. Catalog figures come from the Unity
    Catalog of `compliance_source` — every table with its tags (UC REST listings, tags from
    `system.information_schema` on the warehouse) and the direct grants on every catalog,
    schema and table (its `*_privileges` views: three statements, whatever the number of
    tables) — and the revocations from its `(access:W)` ledger scope; else from the
    project's metastore (the same grants through its Grants port)."""
    from lakecrew.services.output_files import write_file

    name = compliance_source(ctx, workspace)
    uc = uc_ports(ctx, name)
    prev = ctx.layout.state_dir / REPORTS / f"compliance-{previous_month(month)}.json"
    previous = json.loads(prev.read_text()) if prev.is_file() else None
    report = compliance_month(
        month,
        tables=uc.catalog.list_tables(),
        grants=uc.grants.list_grants(),
        findings=ctx.ledger.findings(),
        actions=ctx.ledger.actions(scope_for(ACCESS_SCOPE, name)),
        reviews=archived(ctx, "access-review-"),
        previous_archive=previous,
        now=ctx.clock.now(),
    )
    if name is not None:
        warehouse = ctx.config.workspace(name).warehouse_id
        report.notes.insert(
            0,
            f"catalog figures from the Unity Catalog of {name} (tags and grants from "
            f"system.information_schema on warehouse {warehouse})",
        )
    path = ctx.layout.state_dir / REPORTS / f"compliance-{month}.json"
    write_file(path, json.dumps(report.as_dict(), sort_keys=True).encode(), force=True)
    return report
