"""The promotion action with rollback, recorded in the crew ledger like every crew action.

`promote_model` moves an alias (e.g. champion) to a version and tags the approval; it is taken
by `lakecrew model promote` after the gates pass, not by a rule, so it is not a rule-engine
plugin. The registry hygiene actions (`archive_model_version`, `add_model_tags`) are plugins of
the rule engine (services/policy/actions/model_actions.py) that the crew's Executor takes in
the `(models)` sweep scope.

Protocol per action (as the Executor's): read the live state → already in the target? skip →
record `intent` with the before-state (durable) → change the registry → record `applied` with the
after-state. An `intent` left by a crash is completed on the next call (every change is a set of
an alias, tag or ACL to a fixed value: repeating it is harmless). Rollback records
`rolling_back`, restores the before-state, then `rolled_back`; it refuses when the live state no
longer equals the after-state unless forced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

from lakecrew.core.errors import Conflict, NotFound, UsageError
from lakecrew.core.findings import fingerprint
from lakecrew.ports.clock import Clock
from lakecrew.ports.ledger import ActionRow, LedgerStore
from lakecrew.ports.models import ModelStore as Registry
from lakecrew.services.mlops.hygiene import ALIAS_CHANGED_TAG, MODELS_SCOPE

State = dict[str, Any]


@dataclass(frozen=True)
class ModelAction:
    """Base: one action on one model (or model version)."""

    name: ClassVar[str]
    kind: ClassVar[str]
    model: str
    version: str | None
    target: Mapping[str, Any]

    @property
    def resource_id(self) -> str:
        return f"{self.model}/{self.version}" if self.version else self.model

    def live(self, reg: Registry) -> State:
        raise NotImplementedError

    def satisfied(self, live: State) -> bool:
        raise NotImplementedError

    def apply(self, reg: Registry, live: State, now: datetime, actor: str) -> None:
        raise NotImplementedError

    def restore(self, reg: Registry, before: State) -> None:
        raise NotImplementedError


def _version_tags(reg: Registry, model: str, version: str) -> dict[str, str]:
    for v in reg.list_versions(model):
        if v.version == version:
            return dict(v.tags)
    raise NotFound(f"{model} has no version {version}", fix="list versions with `lakecrew models`")


@dataclass(frozen=True)
class Promote(ModelAction):
    name: ClassVar[str] = "promote_model"
    kind: ClassVar[str] = "model_versions"

    def live(self, reg: Registry) -> State:
        alias = self.target["alias"]
        tags = _version_tags(reg, self.model, str(self.version))
        return {
            "alias": alias,
            "holder": reg.get_model(self.model).aliases.get(alias),
            "tags": {k: tags.get(k) for k in self.target["tags"]},
        }

    def satisfied(self, live: State) -> bool:
        return bool(live["holder"] == self.version)

    def apply(self, reg: Registry, live: State, now: datetime, actor: str) -> None:
        reg.set_alias(self.model, self.target["alias"], str(self.version))
        reg.set_version_tags(self.model, str(self.version), dict(self.target["tags"]))
        if live["holder"] and live["holder"] != self.version:
            reg.set_version_tags(self.model, live["holder"], {ALIAS_CHANGED_TAG: now.isoformat()})

    def restore(self, reg: Registry, before: State) -> None:
        if before["holder"]:
            reg.set_alias(self.model, before["alias"], before["holder"])
        else:
            reg.delete_alias(self.model, before["alias"])
        keep = {k: v for k, v in before["tags"].items() if v is not None}
        drop = [k for k, v in before["tags"].items() if v is None]
        reg.set_version_tags(self.model, str(self.version), keep, remove=drop)


ACTION_CLASSES: dict[str, type[ModelAction]] = {c.name: c for c in (Promote,)}


def action_from_row(row: ActionRow) -> ModelAction:
    target = json.loads(row.target_json)
    cls = ACTION_CLASSES.get(row.action)
    if cls is None:
        raise UsageError(f"action {row.action_id} ({row.action}) is not a model action")
    if cls.kind == "model_versions":
        model, version = row.resource_id.rsplit("/", 1)
        return cls(model, version, target)
    return cls(row.resource_id, None, target)


def _dump(state: Mapping[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)


class ModelActionRunner:
    """Applies and rolls back model actions through the registry, recorded in the ledger."""

    def __init__(self, registry: Registry, ledger: LedgerStore, clock: Clock) -> None:
        self.registry = registry
        self.ledger = ledger
        self.clock = clock

    def row_for(
        self, action: ModelAction, rule_id: str, sweep_id: str, owner: str, reason: str
    ) -> ActionRow:
        fp = fingerprint(MODELS_SCOPE, action.kind, action.resource_id, rule_id)
        target = _dump(action.target)
        digest = hashlib.sha256(f"{fp}|{action.name}|{target}".encode()).hexdigest()[:24]
        now = self.clock.now()
        return ActionRow(
            action_id=digest,
            sweep_id=sweep_id,
            workspace=MODELS_SCOPE,
            fingerprint=fp,
            rule_id=rule_id,
            action=action.name,
            kind=action.kind,
            resource_id=action.resource_id,
            target_json=target,
            status="planned",
            reason=reason,
            before_json=None,
            after_json=None,
            owner=owner,
            created_at=now,
            updated_at=now,
        )

    def existing(self, action_id: str) -> ActionRow | None:
        return next(
            (r for r in self.ledger.actions(MODELS_SCOPE) if r.action_id == action_id), None
        )

    def apply(self, action: ModelAction, row: ActionRow, actor: str) -> ActionRow:
        prior = self.existing(row.action_id)
        if prior is not None and prior.status == "applied":
            return prior
        live = self.action_live(action)
        if prior is not None and prior.status == "intent" and prior.before_json:
            before = json.loads(prior.before_json)  # complete a crashed intent (idempotent sets)
        elif action.satisfied(live):
            done = replace(
                row,
                status="skipped",
                reason="already in the target state",
                updated_at=self.clock.now(),
            )
            self.ledger.record_action(done)
            return done
        else:
            before = live
        intent = replace(
            row,
            status="intent",
            reason="changing the registry",
            before_json=_dump(before),
            updated_at=self.clock.now(),
        )
        self.ledger.record_action(intent)  # durable BEFORE the registry call
        action.apply(self.registry, live, self.clock.now(), actor)
        after = self.action_live(action)
        done = replace(
            intent,
            status="applied",
            reason=row.reason,
            after_json=_dump(after),
            updated_at=self.clock.now(),
        )
        self.ledger.record_action(done)
        return done

    def action_live(self, action: ModelAction) -> State:
        return action.live(self.registry)

    def rollback(self, row: ActionRow, *, force: bool = False) -> ActionRow:
        if row.status not in ("applied", "rolling_back"):
            raise UsageError(
                f"action {row.action_id} is {row.status}; only applied actions roll back"
            )
        action = action_from_row(row)
        before = json.loads(row.before_json or "{}")
        if row.status == "applied" and not force:
            live = self.action_live(action)
            if row.after_json and _dump(live) != _dump(json.loads(row.after_json)):
                raise Conflict(
                    f"{action.resource_id} changed after action {row.action_id}",
                    fix="inspect it with `lakecrew models`; pass --force to restore anyway",
                )
        pending = replace(
            row,
            status="rolling_back",
            updated_at=self.clock.now(),
            reason="restoring the before-state",
        )
        self.ledger.record_action(pending)
        action.restore(self.registry, before)
        done = replace(
            pending,
            status="rolled_back",
            updated_at=self.clock.now(),
            reason="before-state restored",
        )
        self.ledger.record_action(done)
        return done
