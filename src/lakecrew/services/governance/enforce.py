"""Unity Catalog enforcement (SOP 1.3.1, phase 3): plan first, then apply with rollback.

For every table a pipeline spec writes, or the registry holds, the planner compares the live
table with its governed state (desired.py) and proposes one catalog action per difference:

- `set_table_owner` (rule table.owner_missing): the spec's owner (a table no spec writes keeps
  its owner; a registry owner is only filled in where there is none);
- `set_table_tags` (table.classification_missing): classification, steward and the spec's tags;
- `set_column_mask` (table.pii_unmasked): the mask of each PII column's kind (masks.py) on
  columns with none that the writer did not mask already — spec tables as their registration
  masks them (bronze), registry tables when Confidential or Restricted;
- `set_table_comment` (table.comment_missing): comments a steward approved.

Each action has the phase floor of its class (3): below it, the plan says so and nothing is
applied. A table that no longer exists is reported, not failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakecrew.core.errors import NotFound
from lakecrew.core.findings import fingerprint
from lakecrew.ports.catalog import TableInfo
from lakecrew.ports.ledger import ActionRow
from lakecrew.services.crew.plan import PlannedAction, action_id
from lakecrew.services.governance.desired import CommentProposal, TableWant, want_from_registry
from lakecrew.services.governance.executor import CATALOG_SCOPE, CatalogExecutor
from lakecrew.services.governance.masks import mask_for
from lakecrew.services.policy.actions import plugin
from lakecrew.services.policy.actions.catalog_base import UcPorts

_MASKED_LABELS = frozenset({"confidential", "restricted"})
_SKIP_CATALOGS = ("system", "lakecrew")


@dataclass(frozen=True)
class EnforcementPlan:
    """The actions considered, and the tables and proposals left alone (with why)."""

    actions: tuple[PlannedAction, ...]
    notes: tuple[str, ...] = ()
    applied: tuple[ActionRow, ...] = field(default=())

    @property
    def runnable(self) -> list[PlannedAction]:
        return [a for a in self.actions if a.status == "planned"]


def _planned(
    rule: str, name: str, kind: str, rid: str, target: dict[str, Any], owner: str, phase: int
) -> PlannedAction:
    fp = fingerprint(CATALOG_SCOPE, kind, rid, rule)
    floor = plugin(name).floor or 5
    ok = phase >= floor
    reason = "allowed at this phase" if ok else f"rollout phase {phase} < {floor}: plan only"
    return PlannedAction(
        action_id(fp, name, target),
        fp,
        rule,
        name,
        kind,
        rid,
        target,
        owner,
        "planned" if ok else "skipped",
        reason,
    )


def _table_actions(info: TableInfo, want: TableWant, phase: int) -> list[PlannedAction]:
    out = []
    owner = want.owner or info.owner
    spec = want.source != "registry"
    if want.owner and (info.owner != want.owner if spec else not info.owner.strip()):
        out.append(
            _planned(
                "table.owner_missing",
                "set_table_owner",
                "tables",
                info.full_name,
                {"owner": want.owner},
                owner,
                phase,
            )
        )
    missing = {k: v for k, v in want.tags.items() if info.tags.get(k) != v}
    if missing:
        out.append(
            _planned(
                "table.classification_missing",
                "set_table_tags",
                "tables",
                info.full_name,
                {"tags": missing},
                owner,
                phase,
            )
        )
    label = str(want.tags.get("classification") or info.tags.get("classification") or "")
    if spec or label.casefold() in _MASKED_LABELS:
        for column, kind in sorted(want.pii.items()):
            col = info.column(column)
            if col is None or col.mask or column in want.masked_at_write:
                continue
            fn = mask_for(kind, col.type_text)
            target = {
                "function": {
                    "full_name": fn.full_name,
                    "body": fn.body,
                    "param_type": fn.param_type,
                    "returns": fn.returns,
                }
            }
            out.append(
                _planned(
                    "table.pii_unmasked",
                    "set_column_mask",
                    "tables",
                    f"{info.full_name}#{col.name}",
                    target,
                    owner,
                    phase,
                )
            )
    return out


def plan_enforcement(
    uc: UcPorts,
    spec_wants: Mapping[str, TableWant],
    proposals: Sequence[CommentProposal],
    *,
    phase_of: Callable[[TableInfo], int],
    schemas: Sequence[tuple[str, str]] | None = None,
) -> EnforcementPlan:
    """Compare every registered table (and every spec table) with its governed state.

    `schemas`: list only these (catalog, schema) pairs (Unity Catalog lists tables per schema);
    None lists the whole metastore (the local one can)."""
    notes: list[str] = []
    actions: list[PlannedAction] = []
    listed = uc.catalog.list_tables() if schemas is None else []
    for cat, sch in schemas or ():
        try:
            listed += uc.catalog.list_tables(cat, sch)
        except NotFound:
            notes.append(f"schema {cat}.{sch} is not in the catalog (not deployed there?)")
    tables = {t.full_name: t for t in listed if t.catalog_name not in _SKIP_CATALOGS}
    for full, info in sorted(tables.items()):
        want = spec_wants.get(full) or want_from_registry(info)
        actions += _table_actions(info, want, phase_of(info))
    unregistered = sorted(set(spec_wants) - set(tables))
    if unregistered:
        shown = ", ".join(unregistered[:3]) + (" ..." if len(unregistered) > 3 else "")
        notes.append(
            f"{len(unregistered)} table(s) of pipeline specs are not registered "
            f"(their pipeline has not run in that environment): {shown}"
        )
    actions += _comment_actions(uc, tables, proposals, phase_of, notes)
    return EnforcementPlan(tuple(actions), tuple(notes))


def _comment_actions(
    uc: UcPorts,
    tables: Mapping[str, TableInfo],
    proposals: Iterable[CommentProposal],
    phase_of: Callable[[TableInfo], int],
    notes: list[str],
) -> list[PlannedAction]:
    out = []
    for p in proposals:
        table, _, column = p.resource_id.partition("#")
        info = tables.get(table)
        if info is None:
            notes.append(f"{p.resource_id}: comment proposal for a table that does not exist")
            continue
        if not p.approved_by:
            notes.append(f"{p.resource_id}: comment proposal awaits a steward's approval")
            continue
        current = info.comment if not column else getattr(info.column(column), "comment", None)
        if column and info.column(column) is None:
            notes.append(f"{p.resource_id}: comment proposal for a column that does not exist")
            continue
        if (current or "") != p.comment:
            out.append(
                _planned(
                    "table.comment_missing",
                    "set_table_comment",
                    "tables",
                    p.resource_id,
                    {"comment": p.comment, "approved_by": p.approved_by},
                    info.owner,
                    phase_of(info),
                )
            )
    return out


def proposal_plan(
    info: TableInfo, proposals: Mapping[str, tuple[str, float]], phase: int, min_confidence: float
) -> EnforcementPlan:
    """`lakecrew classify TABLE --apply`: the mask of each classifier proposal (column → (kind,
    confidence)) at or above `min_confidence` on a column not masked yet, as `set_column_mask`
    actions (phase 3, ledger, rollback) — the proposals a steward has not confirmed in a spec."""
    sure = {c: k for c, (k, conf) in proposals.items() if k != "none" and conf >= min_confidence}
    low = sorted(c for c, (k, conf) in proposals.items() if k != "none" and conf < min_confidence)
    want = TableWant(info.full_name, "classify", pii=sure)
    notes = [f"below --min-confidence {min_confidence}: {', '.join(low)}"] if low else []
    return EnforcementPlan(
        tuple(a for a in _table_actions(info, want, phase) if a.action == "set_column_mask"),
        tuple(notes),
    )


def apply_plan(plan: EnforcementPlan, executor: CatalogExecutor, sweep_id: str) -> EnforcementPlan:
    """Apply the plan's runnable actions (a table dropped meanwhile is a skipped row)."""
    scope = executor.scope(CATALOG_SCOPE)
    rows = tuple(executor.apply(pa, sweep_id, scope) for pa in plan.runnable)
    return EnforcementPlan(plan.actions, plan.notes, rows)
