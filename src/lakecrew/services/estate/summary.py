"""Estate summary: the registered workspaces, their resources, and list cost from billing.

Cost is ``usage_quantity × pricing.effective_list.default`` over ``system.billing.usage`` LEFT
JOINed to ``system.billing.list_prices`` (contract section 1.4, hardened form: the join also
matches cloud and usage unit; all record types are summed so corrections net out). Usage rows
without a price are counted, not dropped silently. Usage is attributed to workspaces through
``workspace_id`` in lakecrew.yaml; usage of ids not registered there is reported as unattributed.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lakecrew.core.errors import LakecrewError, NotFound
from lakecrew.ports.sql import SqlEngine
from lakecrew.ports.workspace import ObjectKind, WorkspaceReader
from lakecrew.services.estate.config import EstateConfig

# Kinds counted per workspace (secret ACLs are per scope and not an inventory of their own).
COUNTED_KINDS: tuple[ObjectKind, ...] = tuple(
    k for k in ObjectKind if k is not ObjectKind.SECRET_ACL
)

COST_BY_WORKSPACE_SQL = """
SELECT u.workspace_id AS workspace_id,
       SUM(u.usage_quantity * lp.pricing.effective_list.default) AS list_cost,
       COUNT_IF(lp.sku_name IS NULL) AS unpriced_records
FROM system.billing.usage u
LEFT JOIN system.billing.list_prices lp
  ON  u.sku_name = lp.sku_name
  AND u.cloud = lp.cloud
  AND u.usage_unit = lp.usage_unit
  AND lp.currency_code = :currency
  AND u.usage_end_time >= lp.price_start_time
  AND (lp.price_end_time IS NULL OR u.usage_end_time < lp.price_end_time)
GROUP BY u.workspace_id
""".strip()

CENT = Decimal("0.01")
ReaderFor = Callable[[str], WorkspaceReader]


def estate_summary(
    config: EstateConfig,
    reader_for: ReaderFor,
    sql: SqlEngine,
    *,
    on_workspace: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Summarise the estate: workspaces, resource counts, and list cost in USD.

    ``reader_for(name)`` gives a read-only view of a workspace; a workspace whose reader fails
    with a LakecrewError (no credentials, unreachable) is listed under ``unreachable`` with the
    one-line reason instead of failing the whole summary. ``on_workspace`` is called after each
    workspace (progress). Money values are Decimal, rounded to cents.
    """
    resources, unreachable = _count_resources(config, reader_for, on_workspace)
    return {
        "workspaces": [
            {
                "name": ws.name,
                "environment": ws.environment,
                "region": ws.region,
                "project": ws.project,
                "cost_center": ws.cost_center,
                "backend": ws.backend,
                "workspace_id": ws.workspace_id,
                "approved": ws.approved,
                "approval_status": ws.approval.status,
                "phase": config.phase_for(ws.environment),
            }
            for ws in config.workspaces
        ],
        "resources": resources,
        "unreachable": unreachable,
        **cost_summary(config, sql),
    }


def _count_resources(
    config: EstateConfig, reader_for: ReaderFor, on_workspace: Callable[[str], None] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    totals: dict[str, Any] = {kind.value: 0 for kind in COUNTED_KINDS}
    per_workspace: dict[str, dict[str, int]] = {}
    unreachable: dict[str, str] = {}
    for ws in config.workspaces:
        try:
            reader = reader_for(ws.name)
            counts = {kind.value: sum(1 for _ in reader.list(kind)) for kind in COUNTED_KINDS}
        except LakecrewError as exc:
            unreachable[ws.name] = exc.one_line()
        else:
            per_workspace[ws.name] = counts
            for kind, n in counts.items():
                totals[kind] += n
        if on_workspace is not None:
            on_workspace(ws.name)
    totals["per_workspace"] = per_workspace
    return totals, unreachable


def cost_summary(config: EstateConfig, sql: SqlEngine, *, currency: str = "USD") -> dict[str, Any]:
    """List cost over all of system.billing.usage, split by workspace, project and environment.

    When the billing tables do not exist yet (a fresh project), every cost is zero and
    ``billing_data`` is False.
    """
    try:
        rows = sql.fetch(COST_BY_WORKSPACE_SQL, {"currency": currency}).as_dicts()
        billing_data = True
    except NotFound:
        rows, billing_data = [], False
    by_id = {ws.workspace_id: ws for ws in config.workspaces if ws.workspace_id}
    by_workspace: dict[str, Decimal] = {}
    by_project: dict[str, Decimal] = {}
    by_env: dict[str, Decimal] = {}
    total = unattributed = Decimal(0)
    unpriced = 0
    for row in rows:
        cost = _decimal(row["list_cost"])
        unpriced += int(row["unpriced_records"] or 0)
        total += cost
        ws = by_id.get(str(row["workspace_id"]))
        if ws is None:
            unattributed += cost
            continue
        by_workspace[ws.name] = by_workspace.get(ws.name, Decimal(0)) + cost
        by_project[ws.project] = by_project.get(ws.project, Decimal(0)) + cost
        by_env[ws.environment] = by_env.get(ws.environment, Decimal(0)) + cost
    return {
        "cost_usd": _cents(total),
        "cost_by_workspace": {k: _cents(v) for k, v in sorted(by_workspace.items())},
        "cost_by_project": {k: _cents(v) for k, v in sorted(by_project.items())},
        "cost_by_environment": {k: _cents(v) for k, v in sorted(by_env.items())},
        "unattributed_cost_usd": _cents(unattributed),
        "unpriced_usage_records": unpriced,
        "billing_data": billing_data,
    }


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)
