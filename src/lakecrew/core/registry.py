"""A small name → plugin registry, in the spirit of Cloud Custodian's `c7n/registry.py`.

One class serves every kind of plugin lakecrew has: resource types, rule checks and crew actions.
Each entry carries what a user or a reviewer needs to use it without reading code:

- a docstring with a YAML example (`registry_problems` fails on entries without one),
- a params schema: a pydantic model (unknown keys rejected) that validates the entry's params,
- for actions, whether the action is destructive (terminating, deleting, resizing down).

Example::

    CHECKS = Registry("check")

    @CHECKS.register("required_tags", params=RequiredTagsParams)
    def required_tags(resource, params, ctx):
        '''...docstring with a ```yaml example...'''
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from lakecrew.core.errors import ConfigError

T = TypeVar("T")


class NoParams(BaseModel):
    """The params schema of a plugin that takes no params."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered plugin: name, object, params schema and (actions) destructiveness."""

    name: str
    obj: T
    params: type[BaseModel]
    destructive: bool | None = None
    doc_text: str | None = None

    @property
    def doc(self) -> str:
        return self.doc_text or inspect.getdoc(self.obj) or ""

    def params_schema(self) -> dict[str, Any]:
        """The JSON schema of the entry's params (for `policy show` and docs)."""
        return self.params.model_json_schema()

    def validate_params(self, raw: dict[str, Any] | None, *, where: str | None = None) -> BaseModel:
        """Validate raw params against the schema; ConfigError with the first problem otherwise."""
        try:
            return self.params.model_validate(raw or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "(params)"
            raise ConfigError(
                f"params of {self.name!r}: {loc}: {err['msg']}",
                where=where,
                fix=f"see `lakecrew policy show` for the params of {self.name!r}",
            ) from None


class Registry(Generic[T]):
    """Name → plugin. `kind` names the plugin family in messages ("check", "action", ...)."""

    def __init__(self, kind: str, *, needs_destructive_flag: bool = False) -> None:
        self.kind = kind
        self.needs_destructive_flag = needs_destructive_flag
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self,
        name: str,
        *,
        params: type[BaseModel] = NoParams,
        destructive: bool | None = None,
    ) -> Callable[[T], T]:
        """Decorator: register `obj` under `name` (a second registration of a name is an error)."""
        if self.needs_destructive_flag and destructive is None:
            raise ValueError(f"{self.kind} {name!r}: say whether it is destructive")

        def deco(obj: T) -> T:
            self.add(name, obj, params=params, destructive=destructive)
            return obj

        return deco

    def add(
        self,
        name: str,
        obj: T,
        *,
        params: type[BaseModel] = NoParams,
        destructive: bool | None = None,
        doc: str | None = None,
    ) -> None:
        """Register `obj` without a decorator (instances pass their docstring as `doc`)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, obj, params, destructive, doc)

    def get(self, name: str, *, where: str | None = None) -> Entry[T]:
        """The entry called `name`; ConfigError listing the known names otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise ConfigError(
                f"unknown {self.kind} {name!r}", where=where, fix=f"use one of: {known}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries)


def registry_problems(registry: Registry[Any]) -> list[str]:
    """What each entry lacks: docstring, YAML example, params schema, destructive flag."""
    problems: list[str] = []
    for entry in registry:
        doc = entry.doc
        if not doc.strip():
            problems.append(f"{registry.kind} {entry.name}: no docstring")
        elif "```yaml" not in doc:
            problems.append(f"{registry.kind} {entry.name}: docstring has no ```yaml example")
        if not (isinstance(entry.params, type) and issubclass(entry.params, BaseModel)):
            problems.append(f"{registry.kind} {entry.name}: params schema is not a pydantic model")
        elif entry.params.model_config.get("extra") != "forbid":
            problems.append(f"{registry.kind} {entry.name}: params schema accepts unknown keys")
        if registry.needs_destructive_flag and entry.destructive is None:
            problems.append(f"{registry.kind} {entry.name}: destructive flag missing")
    return problems
