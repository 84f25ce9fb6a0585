"""The crew action plugin: one class owns everything one action is and does.

An action class declares its `name`, its `params` schema (a pydantic model, unknown keys
rejected), whether it is `destructive`, its phase `floor` (SOP 3.3: the lowest rollout phase it
may run at; None = it never changes anything) and the resource `kinds` it acts on, and
implements:

- `target(res, situation, params)`: the state it will set, or None when nothing can change;
- `subjects(...)`: the (kind, resource, target) it acts on for one finding (default: the
  finding's own resource when its type is one of `kinds`);
- `refusal(res, workload, target)`: why acting now would disrupt a running workload, else None
  (checked when planning and again on the live object just before the call);
- `satisfied(kind, target, live)`: True when the live object is already in the target state
  (how a crashed intent is reconciled and an apply is skipped);
- `apply(ws, kind, object_id, target)`: the call through the Workspace port;
- `rollback(ws, kind, object_id, before)`: restore the saved before-state (default: a
  full-object restore through the port).

The Executor reaches an action's object through `ActionPorts` and three hooks whose defaults
use the Workspace (`current`, `perform` → `apply`, `undo` → `rollback`); an action on another
store overrides them (the model registry's actions, `model_actions.py`, act on `ports.models`).

Register it with `@action` and import its module in `actions/__init__.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from lakecrew.core.errors import NotFound, SafetyRefusal
from lakecrew.core.pack import Pack
from lakecrew.core.registry import NoParams, Registry
from lakecrew.core.resources import Resource
from lakecrew.ports.models import ModelStore
from lakecrew.ports.workspace import Change, ObjectKind, Workspace

Target = dict[str, Any]
Subject = tuple[str, Resource, Target]


class Params(BaseModel):
    """Base of action params schemas (unknown keys rejected, immutable)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Workload:
    """What the safety refusal sees of the workspace: its environment and busy clusters."""

    environment: str
    busy_clusters: frozenset[str] = frozenset()


def _nothing(kind: str, object_id: str) -> Resource | None:
    return None


@dataclass(frozen=True)
class Situation:
    """What an action sees when it plans one finding."""

    workload: Workload
    pack: Pack
    owner: str
    rule_id: str
    inventory_tags: Mapping[str, str] = field(default_factory=dict)
    related: Callable[[str, str], Resource | None] = _nothing
    """Reads another resource (kind, id) the action acts on, e.g. the jobs behind a spike."""


@dataclass(frozen=True)
class ActionPorts:
    """What the Executor acts through in one sweep scope: a workspace's objects, or the model
    registry's (scope `(models)`: registered models and model versions)."""

    name: str
    workspace: Workspace | None = None
    models: ModelStore | None = None

    @classmethod
    def of(cls, ws: Workspace) -> ActionPorts:
        return cls(ws.name, workspace=ws)

    def need_workspace(self, what: str) -> Workspace:
        if self.workspace is None:
            raise SafetyRefusal(
                f"{what} acts on a workspace object; scope {self.name} has no workspace",
                fix="sweep the workspace that holds it",
            )
        return self.workspace

    def need_models(self, what: str) -> ModelStore:
        if self.models is None:
            raise SafetyRefusal(
                f"{what} acts on the model registry; scope {self.name} has none",
                fix="model actions run in the `(models)` scope of a whole-estate sweep",
            )
        return self.models


class Action(ABC):
    """Base of every registered crew action (see the module docstring)."""

    name: ClassVar[str]
    params: ClassVar[type[BaseModel]] = NoParams
    destructive: ClassVar[bool]
    floor: ClassVar[int | None]
    kinds: ClassVar[tuple[str, ...]]

    def subjects(self, res: Resource, sit: Situation, params: BaseModel) -> list[Subject]:
        """(kind, resource acted on, target) for a finding on `res`."""
        if res.resource_type not in self.kinds:
            return []
        target = self.target(res, sit, params)
        return [] if target is None else [(res.resource_type, res, target)]

    @abstractmethod
    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        """The state this action will set on `res`, or None when there is nothing to change."""

    @abstractmethod
    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        """Why acting on `res` now is unsafe, else None."""

    @abstractmethod
    def satisfied(self, kind: str, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        """True when `live` (the object's REST JSON) is already in the target state."""

    @abstractmethod
    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        """Perform the action through the Workspace port."""

    def rollback(
        self, ws: Workspace, kind: str, object_id: str, before: Mapping[str, Any]
    ) -> Change:
        """Restore the before-state saved in the ledger (a full-object restore)."""
        return ws.restore(ObjectKind(kind), object_id, before)

    # ---- how the Executor reaches the object (defaults: the Workspace port) ----------------

    def current(self, ports: ActionPorts, kind: str, object_id: str) -> dict[str, Any] | None:
        """The object's live state as the ledger saves it; None when it no longer exists."""
        ws = ports.need_workspace(self.name)
        try:
            return dict(ws.get(ObjectKind(kind), object_id).data)
        except NotFound:
            return None

    def perform(
        self, ports: ActionPorts, kind: str, object_id: str, target: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """Take the action; returns the after-state."""
        return self.apply(ports.need_workspace(self.name), kind, object_id, target).after

    def undo(
        self, ports: ActionPorts, kind: str, object_id: str, before: Mapping[str, Any]
    ) -> None:
        """Put the saved before-state back."""
        self.rollback(ports.need_workspace(self.name), kind, object_id, before)


ACTIONS: Registry[type[Action]] = Registry("action", needs_destructive_flag=True)
A = TypeVar("A", bound=type[Action])


PARTS = ("subjects", "target", "refusal", "satisfied", "apply", "rollback")


def action_problems(cls: type[Action]) -> list[str]:
    """What an action class lacks to be registered (empty when it is complete)."""
    problems = [f"{cls.__name__} lacks `{a}`" for a in ("name", "destructive", "floor", "kinds")
                if not hasattr(cls, a)]  # fmt: skip
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    problems += [f"{cls.__name__} does not implement `{m}`" for m in missing]
    problems += [f"{cls.__name__}.{p} is not callable" for p in PARTS
                 if not callable(getattr(cls, p, None))]  # fmt: skip
    if not (isinstance(cls.params, type) and issubclass(cls.params, BaseModel)):
        problems.append(f"{cls.__name__}.params is not a pydantic model")
    floor = getattr(cls, "floor", 0)
    if floor is not None and floor not in (1, 2, 3, 4):
        problems.append(f"{cls.__name__}.floor {floor!r} is not a rollout phase 1-4 or None")
    if "```yaml" not in (cls.__doc__ or ""):
        problems.append(f"{cls.__name__} has no docstring with a ```yaml example")
    return problems


def action(cls: A) -> A:
    """Class decorator: register a complete Action under its `name` (TypeError otherwise)."""
    problems = action_problems(cls)
    if problems:
        raise TypeError("; ".join(problems))
    ACTIONS.add(cls.name, cls, params=cls.params, destructive=cls.destructive)
    return cls


def plugin(name: str) -> Action:
    """An instance of the registered action `name` (ConfigError listing the known ones)."""
    return ACTIONS.get(name).obj()


def current_tags(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The custom tags of a cluster, job or warehouse REST object."""
    if kind == "jobs":
        return dict((data.get("settings") or {}).get("tags") or {})
    if kind == "warehouses":
        pairs = (data.get("tags") or {}).get("custom_tags") or []
        return {str(p.get("key")): p.get("value") for p in pairs if isinstance(p, Mapping)}
    return dict(data.get("custom_tags") or {})
