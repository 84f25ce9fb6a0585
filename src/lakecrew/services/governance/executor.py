"""Applies and rolls back Unity Catalog actions through the metastore ports, crash-safely.

The same ledger protocol as the crew's Executor (services/crew/executor.py), for the catalog
actions of `services/policy/actions/` (`CatalogAction`): read the live state → already in the
target? skipped → record `intent` with the before-state (durable) → call → record `applied`
with the after-state. An intent a crash left is settled on the next run from the live state
(target reached → applied; still the before-state → planned again; anything else → failed,
never repeated blindly). Rollback records `rolling_back`, restores, then `rolled_back`, and is
refused when the object changed since the action unless forced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from lakecrew.core.errors import LakecrewError, SafetyRefusal
from lakecrew.ports.clock import Clock
from lakecrew.ports.ledger import ActionRow, LedgerStore
from lakecrew.services.crew.plan import PlannedAction, canonical
from lakecrew.services.policy.actions import plugin
from lakecrew.services.policy.actions.catalog_base import CatalogAction, State, UcPorts

CATALOG_SCOPE = "(catalog)"
ACCESS_SCOPE = "(access)"
SCOPES = (CATALOG_SCOPE, ACCESS_SCOPE)


def scope_for(base: str, workspace: str | None) -> str:
    """The ledger scope of `base` ((catalog) / (access)) for one workspace: the base itself for
    the project's own metastore, `(catalog:W)` for the Unity Catalog of databricks workspace W
    (so a rollback knows which catalog to restore)."""
    return base if workspace is None else f"{base[:-1]}:{workspace})"


def workspace_of_scope(scope: str) -> str | None:
    """The workspace a catalog/access scope names (None: the local metastore)."""
    inner = scope.strip("()")
    return inner.split(":", 1)[1] if ":" in inner else None


def is_catalog_scope(scope: str) -> bool:
    """True for `(catalog)`, `(access)` and their per-workspace forms."""
    return any(scope == b or scope.startswith(b[:-1] + ":") for b in SCOPES)


def catalog_action(name: str) -> CatalogAction:
    act = plugin(name)
    if not isinstance(act, CatalogAction):
        raise SafetyRefusal(f"{name} is not a Unity Catalog action", where=name)
    return act


def _dump(state: Mapping[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)


class CatalogExecutor:
    """Catalog actions with intent → applied rows in the crew ledger, and their rollback."""

    def __init__(
        self, uc: UcPorts, ledger: LedgerStore, clock: Clock, *, workspace: str | None = None
    ) -> None:
        self.uc = uc
        self.ledger = ledger
        self.clock = clock
        self.workspace = workspace  # None: the local metastore; else a databricks workspace

    def scope(self, base: str) -> str:
        """The ledger scope this executor records `base` actions under (`scope_for`)."""
        return scope_for(base, self.workspace)

    def live(self, row_or_pa: ActionRow | PlannedAction) -> State:
        target = (
            json.loads(row_or_pa.target_json)
            if isinstance(row_or_pa, ActionRow)
            else row_or_pa.target
        )
        return catalog_action(row_or_pa.action).live(self.uc, row_or_pa.resource_id, target)

    def apply(self, pa: PlannedAction, sweep_id: str, scope: str) -> ActionRow:
        """Re-read, record the intent, call, record the completion (or the failure)."""
        act = catalog_action(pa.action)
        now = self.clock.now()
        try:
            live = act.live(self.uc, pa.resource_id, pa.target)
        except LakecrewError as exc:
            return self._put(
                pa.row(
                    sweep_id,
                    scope,
                    now,
                    status="skipped",
                    reason=f"cannot read it: {exc.one_line()}",
                )
            )
        if act.satisfied(pa.kind, pa.target, live):
            return self._put(
                pa.row(sweep_id, scope, now, status="skipped", reason="already in the target state")
            )
        intent = pa.row(
            sweep_id,
            scope,
            now,
            status="intent",
            reason="calling the metastore",
            before_json=_dump(live),
        )
        self._put(intent)
        return self._complete(intent, act, pa.target)

    def _complete(
        self, intent: ActionRow, act: CatalogAction, target: Mapping[str, Any]
    ) -> ActionRow:
        try:
            act.put(self.uc, intent.resource_id, target)
            after = act.live(self.uc, intent.resource_id, target)
        except LakecrewError as exc:
            return self._put(
                replace(
                    intent,
                    status="failed",
                    updated_at=self.clock.now(),
                    reason=f"call failed: {exc.one_line()}",
                )
            )
        return self._put(
            replace(
                intent,
                status="applied",
                updated_at=self.clock.now(),
                reason="applied",
                after_json=_dump(after),
            )
        )

    def _put(self, row: ActionRow) -> ActionRow:
        self.ledger.record_action(row)
        return row

    def reconcile(self, rows: Sequence[ActionRow]) -> list[ActionRow]:
        """Settle the `intent` and `rolling_back` rows a killed run left."""
        out = []
        for row in rows:
            if row.status not in ("intent", "rolling_back"):
                continue
            act = catalog_action(row.action)
            target = json.loads(row.target_json)
            live = act.live(self.uc, row.resource_id, target)
            before = json.loads(row.before_json or "{}")
            now = self.clock.now()
            if row.status == "rolling_back":
                out.append(self._finish_rollback(row, act, before, live))
            elif act.satisfied(row.kind, target, live):
                out.append(
                    self._put(
                        replace(
                            row,
                            status="applied",
                            updated_at=now,
                            after_json=_dump(live),
                            reason="applied (confirmed after an interrupted run)",
                        )
                    )
                )
            elif canonical(live) == canonical(before):
                out.append(
                    self._put(
                        replace(
                            row,
                            status="planned",
                            updated_at=now,
                            reason="interrupted before the call; planned again",
                        )
                    )
                )
            else:
                out.append(
                    self._put(
                        replace(
                            row,
                            status="failed",
                            updated_at=now,
                            reason="reconcile: the object changed since the interrupted action",
                        )
                    )
                )
        return out

    def _finish_rollback(
        self, row: ActionRow, act: CatalogAction, before: State, live: State
    ) -> ActionRow:
        if canonical(live) != canonical(before):
            act.restore(self.uc, row.resource_id, before)
        return self._put(
            replace(
                row,
                status="rolled_back",
                updated_at=self.clock.now(),
                reason="rolled back: before-state restored",
            )
        )

    def rollback(self, row: ActionRow, *, force: bool = False) -> ActionRow:
        """Restore the before-state of an applied catalog action."""
        where = f"action {row.action_id} ({row.action} on {row.kind} {row.resource_id})"
        if row.status != "applied" or row.before_json is None:
            raise SafetyRefusal(
                f"only applied actions can be rolled back; this one is {row.status}",
                where=where,
                fix="list actions with `lakecrew actions`",
            )
        act = catalog_action(row.action)
        live = act.live(self.uc, row.resource_id, json.loads(row.target_json))
        if not force and canonical(live) != canonical(json.loads(row.after_json or "{}")):
            raise SafetyRefusal(
                "the object changed after the action; restoring would overwrite those changes",
                where=where,
                fix="inspect it, then re-run with --force to restore anyway",
            )
        pending = self._put(
            replace(
                row,
                status="rolling_back",
                updated_at=self.clock.now(),
                reason="restoring the before-state",
            )
        )
        return self._finish_rollback(pending, act, json.loads(row.before_json), live)
