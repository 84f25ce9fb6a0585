"""Load SOP packs from YAML: the default pack, then organisation overlays, with file:line errors.

Layering (`load_pack([default, overlay, ...])`):
- mappings merge key by key (an overlay changes a threshold without repeating the rest);
- `rules` merge by `id`: an overlay entry with a known id patches that rule's fields (severity,
  min_phase, `enabled: false` + `reason`, params...); a new id adds a complete rule. Setting
  `filter` drops an inherited `check` and vice versa; a filter is replaced whole, never merged;
- `approvals` are appended; every other list (required_tags, tag_values...) is replaced.
Each value remembers the file:line that set it (`LoadedPack.origin`), for `policy show`.

YAML line numbers come from services/estate/yamlpos.py (shared with lakecrew.yaml).
"""

from __future__ import annotations

import copy
import difflib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lakecrew.core.errors import ConfigError, UnknownName
from lakecrew.core.filters import compile_filter, parse_path
from lakecrew.core.pack import PACK_VERSION, Pack
from lakecrew.core.resource_fields import FIELDS, NESTED
from lakecrew.core.resources import RESOURCE_TYPES
from lakecrew.services.estate.yamlpos import (
    ConfigProblems,
    Loc,
    Problem,
    YamlDocument,
    load_yaml,
    load_yaml_file,
    pydantic_problems,
)
from lakecrew.services.policy.actions import ACTIONS
from lakecrew.services.policy.checks import CHECKS

DEFAULT_PACK = "default"
APPENDED_LISTS = frozenset({("approvals",)})


@dataclass(frozen=True)
class LayerChange:
    """What an overlay did: `kind` is override, add or disable."""

    path: str
    kind: str
    where: str


@dataclass(frozen=True)
class LoadedPack:
    """A validated pack and where each of its values came from."""

    pack: Pack
    sources: tuple[str, ...]
    origins: Mapping[Loc, str]
    changes: tuple[LayerChange, ...] = ()

    def origin(self, loc: Sequence[str | int]) -> str:
        """file:line that set the value at `loc` (the closest enclosing one that is known)."""
        return _where(self.origins, tuple(loc), self.sources[0] if self.sources else "?")

    def rule_index(self, rule_id: str) -> int:
        for i, rule in enumerate(self.pack.rules):
            if rule.id == rule_id:
                return i
        raise UnknownName(
            "rule",
            rule_id,
            sorted(r.id for r in self.pack.rules),
            where=", ".join(self.sources),
            fix="list the rule ids with `lakecrew policy rules`",
        )


def _where(origins: Mapping[Loc, str], loc: Loc, fallback: str) -> str:
    """Walk `loc` through the known paths, skipping pydantic's union tags; deepest origin wins."""
    path: Loc = ()
    found = origins.get((), fallback)
    for part in loc:
        if (*path, part) in origins:
            path = (*path, part)
            found = origins[path]
    return found


class _MergedDocument(YamlDocument):
    """A YamlDocument whose locations come from several files (for pydantic_problems)."""

    def __init__(self, data: Any, origins: Mapping[Loc, str], fallback: str) -> None:
        super().__init__(data=data, source=fallback, lines={})
        object.__setattr__(self, "_origins", origins)

    def line_of(self, loc: Sequence[str | int]) -> int:
        where = self.where(loc)
        tail = where.rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else 1

    def where(self, loc: Sequence[str | int] = ()) -> str:
        origins: Mapping[Loc, str] = object.__getattribute__(self, "_origins")
        return _where(origins, tuple(loc), self.source)


def default_pack_text() -> str:
    """The default SOP pack shipped with lakecrew (package data)."""
    return (
        resources.files("lakecrew.services.policy")
        .joinpath("default_pack.yaml")
        .read_text(encoding="utf-8")
    )


@functools.cache
def _default_document() -> YamlDocument:
    """The shipped pack parsed once per process: it is package data, and merging deep-copies
    the documents it reads, never changing them (every command, sweep and agent loads it)."""
    return load_yaml(default_pack_text(), source="default_pack.yaml")


def _read(source: str | Path) -> YamlDocument:
    if str(source) == DEFAULT_PACK:
        return _default_document()
    return load_yaml_file(Path(source))


def _origins_of(doc: YamlDocument) -> dict[Loc, str]:
    return {loc: f"{doc.source}:{line}" for loc, line in doc.lines.items()}


def _precheck(doc: YamlDocument) -> None:
    """Per-file checks the merged view cannot locate: shape, version, duplicate rule ids."""
    data = doc.data
    if not isinstance(data, dict):
        raise ConfigProblems(
            [
                Problem(
                    "a pack file must be a mapping",
                    doc.where(),
                    "start from the default pack (lakecrew policy show)",
                )
            ]
        )
    if data.get("version") != PACK_VERSION:
        raise ConfigProblems(
            [
                Problem(
                    f"pack version {data.get('version')!r} is not supported (this lakecrew reads "
                    f"version {PACK_VERSION})",
                    doc.where(("version",)),
                    f"set `version: {PACK_VERSION}` (migrate the file if it is older)",
                )
            ]
        )
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise ConfigProblems([Problem("`rules` must be a list", doc.where(("rules",)), None)])
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or not isinstance(rule.get("id"), str):
            problems.append(
                Problem(
                    "every rule needs an `id`", doc.where(("rules", i)), "add `id: <area>.<name>`"
                )
            )
            continue
        if rule["id"] in seen:
            problems.append(
                Problem(
                    f"duplicate rule id {rule['id']!r} (first at line {seen[rule['id']]})",
                    doc.where(("rules", i, "id")),
                    "rename one, or patch the rule in one place",
                )
            )
        seen.setdefault(rule["id"], doc.line_of(("rules", i)))
    if problems:
        raise ConfigProblems(problems)


def _drop(origins: dict[Loc, str], prefix: Loc) -> None:
    for loc in [k for k in origins if k[: len(prefix)] == prefix and len(k) > len(prefix)]:
        del origins[loc]


def _copy_origins(origins: dict[Loc, str], doc: YamlDocument, src: Loc, dst: Loc) -> None:
    for loc, line in doc.lines.items():
        if loc[: len(src)] == src:
            origins[(*dst, *loc[len(src) :])] = f"{doc.source}:{line}"


def _merge_map(
    base: dict[str, Any],
    over: Mapping[str, Any],
    path: Loc,
    doc: YamlDocument,
    *,
    origins: dict[Loc, str],
    changes: list[LayerChange],
) -> None:
    for key, value in over.items():
        here = (*path, key)
        if key in base and isinstance(base[key], dict) and isinstance(value, dict):
            origins[here] = doc.where(here)
            _merge_map(base[key], value, here, doc, origins=origins, changes=changes)
            continue
        if here in APPENDED_LISTS and isinstance(base.get(key), list) and isinstance(value, list):
            start = len(base[key])
            base[key].extend(copy.deepcopy(value))
            for i in range(len(value)):
                _copy_origins(origins, doc, (*here, i), (*here, start + i))
            changes.append(LayerChange(_dotted(here), "add", doc.where(here)))
            continue
        _drop(origins, here)
        base[key] = copy.deepcopy(value)
        _copy_origins(origins, doc, here, here)
        changes.append(LayerChange(_dotted(here), "override", doc.where(here)))


def _merge_rules(
    merged: dict[str, Any], doc: YamlDocument, origins: dict[Loc, str], changes: list[LayerChange]
) -> None:
    rules: list[dict[str, Any]] = merged.setdefault("rules", [])
    index = {r.get("id"): i for i, r in enumerate(rules) if isinstance(r, dict)}
    for k, rule in enumerate(doc.data.get("rules", [])):
        src: Loc = ("rules", k)
        if rule["id"] not in index:
            index[rule["id"]] = len(rules)
            rules.append(copy.deepcopy(rule))
            _copy_origins(origins, doc, src, ("rules", index[rule["id"]]))
            changes.append(LayerChange(f"rules[{rule['id']}]", "add", doc.where(src)))
            continue
        i = index[rule["id"]]
        base = rules[i]
        for a, b in (("filter", "check"), ("check", "filter")):
            if a in rule and b in base:
                del base[b]
                _drop(origins, ("rules", i, b))
        for key, value in rule.items():
            if key == "id":
                continue
            dst: Loc = ("rules", i, key)
            if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "filter":
                sub = YamlDocument(
                    data=None,
                    source=doc.source,
                    lines={loc[2:]: line for loc, line in doc.lines.items() if loc[:2] == src},
                )
                _merge_map(
                    base,
                    {key: value},
                    ("rules", i),
                    _Shifted(sub, ("rules", i)),
                    origins=origins,
                    changes=[],
                )
            else:
                _drop(origins, dst)
                base[key] = copy.deepcopy(value)
                _copy_origins(origins, doc, (*src, key), dst)
        origins[("rules", i)] = doc.where(src)  # the rule was last set here
        kind = "disable" if rule.get("enabled") is False else "override"
        changes.append(LayerChange(f"rules[{rule['id']}]", kind, doc.where(src)))


class _Shifted(YamlDocument):
    """A view of part of a document re-rooted at `prefix` (used to merge inside one rule)."""

    def __init__(self, inner: YamlDocument, prefix: Loc) -> None:
        shifted = {(*prefix, *loc): line for loc, line in inner.lines.items()}
        super().__init__(data=None, source=inner.source, lines=shifted)


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


def merge_documents(
    docs: Sequence[YamlDocument],
) -> tuple[dict[str, Any], dict[Loc, str], list[LayerChange]]:
    """Merge pack documents in order; returns (data, origins, changes by the overlays)."""
    merged: dict[str, Any] = copy.deepcopy(docs[0].data)
    origins = _origins_of(docs[0])
    changes: list[LayerChange] = []
    for doc in docs[1:]:
        top = {k: v for k, v in doc.data.items() if k != "rules"}
        _merge_map(merged, top, (), doc, origins=origins, changes=changes)
        _merge_rules(merged, doc, origins, changes)
    return merged, origins, [c for c in changes if c.path != "version"]


def load_pack(sources: Sequence[str | Path] = (DEFAULT_PACK,)) -> LoadedPack:
    """Load, layer and validate packs ("default" is the shipped pack); ConfigProblems otherwise."""
    return load_documents([_read(s) for s in sources])


def load_pack_text(text: str, *, source: str = "pack.yaml", base: bool = True) -> LoadedPack:
    """Like load_pack for in-memory text, layered over the default pack when `base`."""
    docs = [_read(DEFAULT_PACK)] if base else []
    return load_documents([*docs, load_yaml(text, source=source)])


def load_documents(docs: Sequence[YamlDocument]) -> LoadedPack:
    """Validate each document, merge them in order and validate the result."""
    for doc in docs:
        _precheck(doc)
    data, origins, changes = merge_documents(docs)
    view = _MergedDocument(data, origins, docs[-1].source)
    try:
        pack = Pack.model_validate(data)
    except ValidationError as exc:
        raise ConfigProblems(pydantic_problems(exc, view, Pack)) from None
    problems = semantic_problems(pack, view)
    if problems:
        raise ConfigProblems(problems)
    return LoadedPack(pack, tuple(d.source for d in docs), origins, tuple(changes))


def semantic_problems(pack: Pack, view: YamlDocument) -> list[Problem]:
    """Registry look-ups and filter compilation, each problem at its rule's file:line."""
    problems: list[Problem] = []
    for i, rule in enumerate(pack.rules):
        loc: Loc = ("rules", i)
        steps: list[tuple[str, Any]] = [
            ("resource_type", lambda r=rule: RESOURCE_TYPES.get(r.resource_type))
        ]
        if rule.check is not None:
            steps.append(
                ("check", lambda c=rule.check: CHECKS.get(c.name).validate_params(c.params))
            )
        if rule.action is not None:
            steps.append(
                ("action", lambda a=rule.action: ACTIONS.get(a.name).validate_params(a.params))
            )
        if rule.filter is not None:
            steps.append(("filter", lambda r=rule: check_filter_fields(r.resource_type, r.filter)))
            steps.append(
                (
                    "filter",
                    lambda r=rule: [
                        compile_filter(r.filter, pack.bindings(env))
                        for env in r.environments or list(pack.environments)
                    ],
                )
            )
        for part, step in steps:
            try:
                step()
            except ConfigError as exc:
                problems.append(
                    Problem(f"rule {rule.id}: {exc.what}", view.where((*loc, part)), exc.fix)
                )
    return problems


def check_filter_fields(resource_type: str, node: Any) -> None:
    """Refuse a filter key naming a field the resource type does not have (core/resource_fields):
    a misspelt key reads as missing, and `ne`/`not-in`/`absent` then hold for every resource."""
    known = FIELDS.get(resource_type)
    if known is None:
        return
    data = node.model_dump(by_alias=True) if hasattr(node, "model_dump") else node
    for key in _filter_keys(data):
        if key.startswith("$"):
            continue
        try:
            path = parse_path(key)
        except ValueError:
            continue  # compile_filter reports it
        fields, where = known, ""
        if (resource_type, str(path[0])) in NESTED and len(path) > 1:
            fields, where, path = NESTED[(resource_type, str(path[0]))], f"{path[0]}.", path[1:]
        name = path[0]
        if isinstance(name, str) and name not in fields:
            close = difflib.get_close_matches(name, sorted(fields), n=1, cutoff=0.6)
            raise ConfigError(
                f"filter key {key!r}: {resource_type} have no field {where}{name!r}",
                fix=(f"did you mean {where}{close[0]!r}?" if close else "check the field name")
                + f" (fields of {resource_type}{' ' + where[:-1] if where else ''}: "
                + ", ".join(sorted(fields)[:12])
                + ", ...)",
            )


def _filter_keys(node: Any) -> list[str]:
    if isinstance(node, dict):
        keys = [node["key"]] if isinstance(node.get("key"), str) else []
        return keys + [k for v in node.values() for k in _filter_keys(v)]
    if isinstance(node, list):
        return [k for v in node for k in _filter_keys(v)]
    return []


def explain_rule(loaded: LoadedPack, rule_id: str) -> dict[str, Any]:
    """Every field of a rule with its value and the file:line that set it (`policy show RULE`)."""
    i = loaded.rule_index(rule_id)
    rule = loaded.pack.rules[i]
    fields: dict[str, Any] = {}
    for name, value in rule.model_dump(mode="json", by_alias=True, exclude_none=True).items():
        fields[name] = {"value": value, "from": loaded.origin(("rules", i, name))}
    out: dict[str, Any] = {"rule": rule_id, "fields": fields}
    if rule.check is not None:
        entry = CHECKS.get(rule.check.name)
        out["check_doc"] = entry.doc
        out["check_params_schema"] = entry.params_schema()
    if rule.action is not None:
        act = ACTIONS.get(rule.action.name)
        out["action_doc"] = act.doc
        out["action_destructive"] = act.destructive
    out["changed_by_overlays"] = [
        c.__dict__ for c in loaded.changes if c.path == f"rules[{rule_id}]"
    ]
    return out


@dataclass(frozen=True)
class ValidationReport:
    """What `lakecrew policy validate` prints: sources, counts, disabled rules, overlay changes."""

    sources: tuple[str, ...]
    rules: int
    enabled: int
    disabled: dict[str, str] = field(default_factory=dict)
    changes: tuple[LayerChange, ...] = ()


def validate(sources: Sequence[str | Path] = (DEFAULT_PACK,)) -> ValidationReport:
    """Load the packs (raising ConfigProblems on any problem) and summarise the result."""
    loaded = load_pack(sources)
    rules = loaded.pack.rules
    return ValidationReport(
        loaded.sources,
        len(rules),
        sum(r.enabled for r in rules),
        {r.id: r.reason or "" for r in rules if not r.enabled},
        loaded.changes,
    )
