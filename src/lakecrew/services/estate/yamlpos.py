"""YAML with line numbers: load a document and map any key path back to ``file:line``.

Used by lakecrew.yaml today and meant for the SOP pack and pipeline specs too. PyYAML's
``compose()`` keeps a start mark on every node; we record, for every key path
(``("workspaces", 0, "name")``), the line where that key (or sequence item) starts. A pydantic
error's ``loc`` is such a path, so ``validate_model`` can turn every validation error into a
``Problem`` saying what is wrong, at which line, and how to fix it.

Values are never echoed for unknown keys (they may be pasted secrets); other short scalar values
are quoted back so the user sees what was read.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml
from pydantic import BaseModel, ValidationError

from lakecrew.core.errors import ConfigError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_BYTES = 8 * 1024 * 1024  # a lakecrew.yaml, pack or spec is kilobytes; refuse before parsing
MAX_NODES = 200_000  # key paths after alias expansion (a "billion laughs" document is refused)
MAX_DEPTH = 64  # nesting levels


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file: what, where (``file:line``) and how to fix it."""

    what: str
    where: str
    fix: str | None = None

    def one_line(self) -> str:
        """``where: what — fix: fix`` (the same shape as LakecrewError.one_line)."""
        text = f"{self.where}: {self.what}"
        return f"{text} — fix: {self.fix}" if self.fix else text


class ConfigProblems(ConfigError):
    """A config file has one or more problems; the message has one line per problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("ConfigProblems needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        if len(self.problems) == 1:
            p = self.problems[0]
            super().__init__(p.what, where=p.where, fix=p.fix)
        else:
            lines = "\n".join(p.one_line() for p in self.problems)
            super().__init__(f"{len(self.problems)} problems:\n{lines}")


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML data plus the line (1-based) of every key path in it."""

    data: Any
    source: str
    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int:
        """Line of the longest prefix of ``loc`` present in the document (1 if none is)."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def where(self, loc: Sequence[str | int] = ()) -> str:
        """``source:line`` for a key path."""
        return f"{self.source}:{self.line_of(loc)}"


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_yaml_file(path: Path, *, source: str | None = None) -> YamlDocument:
    """Read and parse one YAML file; a missing or unreadable file is a ConfigError."""
    shown = source or display_path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise _too_big(shown, path.stat().st_size)
        with path.open("rb") as fh:  # bounded even for a device or a growing file
            raw = fh.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise _too_big(shown, len(raw))
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "file not found", where=shown, fix="create it (lakecrew init) or pass --project DIR"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read file ({type(exc).__name__})", where=shown, fix="check the file"
        ) from None
    return load_yaml(text, source=shown)


def load_yaml(text: str, *, source: str) -> YamlDocument:
    """Parse one YAML document (safe loader) and index the line of every key path.

    Syntax errors, several documents in one file and duplicate keys are ConfigProblems with
    the line they occur on.
    """
    if len(text) > MAX_BYTES:
        raise _too_big(source, len(text))
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ConfigProblems(
            [Problem("a NUL byte in the file", f"{source}:{line}", "save it as UTF-8 text")]
        )
    loader = _loader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ConfigProblems(
                [Problem("the YAML is nested too deeply to parse", f"{source}:1", _FLATTEN)]
            ) from None
        if node is None:
            return YamlDocument(data=None, source=source, lines={(): 1})
        _check_expansion(node, source)
        lines: dict[Loc, int] = {(): node.start_mark.line + 1}
        duplicates: list[Problem] = []
        _index(node, (), lines, duplicates, source, budget=_Budget())
        if duplicates:
            raise ConfigProblems(duplicates)
        data = loader.construct_document(node)
    except _BadDate as exc:
        raise ConfigProblems(
            [
                Problem(
                    str(exc.problem),
                    f"{source}:{exc.line}",
                    "write a real date (YYYY-MM-DD), or quote the value to keep it as text",
                )
            ]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = exc.problem or exc.context or "invalid YAML"
        raise ConfigProblems(
            [
                Problem(
                    f"invalid YAML: {reason}",
                    f"{source}:{line}",
                    "fix the YAML syntax (indentation, quotes, ':' after keys)",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigProblems(
            [Problem(f"invalid YAML: {exc}", f"{source}:1", "fix the YAML syntax")]
        ) from None
    finally:
        loader.dispose()
    return YamlDocument(data=data, source=source, lines=lines)


_FLATTEN = f"keep nesting under {MAX_DEPTH} levels"

C_NESTING_BOUND = 1_000
"""libyaml composes nodes recursively in C, where Python's recursion limit does not apply: it
parses a document only when its nesting cannot exceed this many levels."""


class _BadDate(yaml.constructor.ConstructorError):
    """A scalar YAML reads as a date or timestamp that does not exist (2025-13-12, 2025-02-30):
    PyYAML's constructor raises a bare ValueError with no line; this one carries it."""

    def __init__(self, node: yaml.Node, reason: str) -> None:
        problem = f"{node.value!r} is not a valid date ({reason})"
        super().__init__(None, None, problem, node.start_mark)
        self.line = node.start_mark.line + 1


def _timestamp(loader: Any, node: Any) -> Any:
    """PyYAML's own timestamp constructor (a scalar node); its ValueError becomes ``_BadDate``."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as exc:
        raise _BadDate(node, str(exc)) from None


class _SafeLoader(yaml.SafeLoader):
    """The safe loader, with dates that do not exist reported at their line."""


_SafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_C_LOADER: type[Any] | None = None
if getattr(yaml, "CSafeLoader", None) is not None:

    class _CSafeLoader(yaml.CSafeLoader):
        """libyaml's safe loader, with the same date check."""

    _CSafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
    _C_LOADER = _CSafeLoader


def _loader(text: str) -> yaml.SafeLoader:
    """libyaml's safe loader (same nodes, marks and values; ~4× faster) when the document's
    nesting is provably shallow, else the pure-Python one (which turns a document nested too
    deeply into a RecursionError, reported as a Problem). A level needs one more column of its
    line (block style) or one more '[' / '{' (flow style), so the longest line plus the flow
    openers bounds the depth."""
    if _C_LOADER is not None:
        longest = max((len(line) for line in text.splitlines()), default=0)
        if longest + text.count("[") + text.count("{") <= C_NESTING_BOUND:
            loader: yaml.SafeLoader = _C_LOADER(text)
            return loader
    return _SafeLoader(text)


def _too_big(source: str, size: int) -> ConfigProblems:
    return ConfigProblems(
        [
            Problem(
                f"the file is {size:,} bytes; the limit is {MAX_BYTES:,}",
                f"{source}:1",
                "split it, or check that this is the file you meant",
            )
        ]
    )


def _check_expansion(root: yaml.Node, source: str) -> None:
    """Refuse a document whose aliases expand past MAX_NODES values or MAX_DEPTH levels.

    Sizes are counted once per distinct node (aliases share nodes), so a "billion laughs"
    document is measured in microseconds without being expanded.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ConfigProblems(
                [Problem("the YAML is nested too deeply", _at(source, node), _FLATTEN)]
            )
        known = sizes.get(id(node))
        if known is not None and depths[id(node)] <= MAX_DEPTH - depth:
            return known
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [v for _, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise ConfigProblems(
                    [
                        Problem(
                            f"the YAML expands to more than {MAX_NODES:,} values (aliases or "
                            "anchors repeating each other?)",
                            _at(source, node),
                            "write the values out, or use fewer nested aliases",
                        )
                    ]
                )
        sizes[id(node)] = total
        depths[id(node)] = MAX_DEPTH - depth
        return total

    size(root, 0)


def _at(source: str, node: yaml.Node) -> str:
    return f"{source}:{node.start_mark.line + 1}"


def _index(
    node: yaml.Node,
    path: Loc,
    lines: dict[Loc, int],
    dups: list[Problem],
    source: str,
    *,
    budget: _Budget,
) -> None:
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise ConfigProblems(
            [
                Problem(
                    f"the YAML expands to more than {MAX_NODES:,} values (aliases/anchors "
                    "repeating each other?)",
                    f"{source}:{node.start_mark.line + 1}",
                    "write the values out, or use fewer nested aliases",
                )
            ]
        )
    if len(path) > MAX_DEPTH:
        raise ConfigProblems(
            [
                Problem(
                    "the YAML is nested too deeply",
                    f"{source}:{node.start_mark.line + 1}",
                    _FLATTEN,
                )
            ]
        )
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                dups.append(
                    Problem(
                        f"duplicate key {key!r} (first at line {seen[key]})",
                        f"{source}:{line}",
                        "keep only one of them",
                    )
                )
                continue
            seen[key] = line
            lines[(*path, key)] = line
            _index(value_node, (*path, key), lines, dups, source, budget=budget)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _index(item, (*path, i), lines, dups, source, budget=budget)


# --- pydantic errors -> problems -------------------------------------------------------------


def validate_model(model: type[M], doc: YamlDocument, *, what: str = "file") -> M:
    """Validate ``doc.data`` against ``model``; every error becomes a Problem with its line."""
    if doc.data is None:
        raise ConfigProblems(
            [Problem(f"the {what} is empty", doc.where(), "start from `lakecrew init`")]
        )
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigProblems(pydantic_problems(exc, doc, model)) from None


def pydantic_problems(
    exc: ValidationError, doc: YamlDocument, model: type[BaseModel]
) -> list[Problem]:
    """One Problem per pydantic error, located through the document's line index."""
    errors = exc.errors(include_url=False)
    misspelt = _misspelt_fields(errors, model, doc.data)
    located: list[tuple[int, Problem]] = []
    for err in errors:
        loc = _clean_loc(err["loc"])
        if err["type"] == "missing" and loc in misspelt:
            continue  # the unknown-key problem already says "did you mean ...?"
        located.append((doc.line_of(loc), _problem(err, loc, doc, model)))
    located.sort(key=lambda pair: pair[0])
    return _unique([p for _, p in located])


def _misspelt_fields(errors: Sequence[Any], model: type[BaseModel], data: Any = None) -> set[Loc]:
    """Locations of missing fields that an unknown key next to them probably meant."""
    found: set[Loc] = set()
    for err in errors:
        if err["type"] != "extra_forbidden":
            continue
        loc = _clean_loc(err["loc"])
        if not loc:
            continue
        parent, key = loc[:-1], str(loc[-1])
        for close in difflib.get_close_matches(key, _allowed_keys(model, parent, data), n=1):
            found.add((*parent, close))
    return found


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out: list[Problem] = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _clean_loc(loc: Sequence[Any]) -> Loc:
    """Drop pydantic's union/tag markers (e.g. ``literal['a']``, ``function-after[...]``)."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and "[" not in part):
            out.append(part)
    return tuple(out)


def dotted(loc: Sequence[str | int]) -> str:
    """``workspaces[0].name`` for ``("workspaces", 0, "name")``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _problem(err: Any, loc: Loc, doc: YamlDocument, model: type[BaseModel]) -> Problem:
    kind = err["type"]
    where = doc.where(loc)
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        allowed = sorted(_allowed_keys(model, loc[:-1], doc.data))
        return Problem(f"unknown key {key!r} in {dotted(loc[:-1])}", where, _key_fix(key, allowed))
    if kind == "missing":
        return Problem(
            f"missing required key {dotted(loc)}",
            doc.where(loc[:-1]),
            f"add '{loc[-1]}:' here" if loc else "add the missing key",
        )
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    hide = bool(ctx.get("hide_input"))
    shown = None if hide else _shown_input(err.get("input"), composite=kind.endswith("_type"))
    what = f"{dotted(loc)}: {msg}" + (f" (got {shown})" if shown else "")
    fix = ctx.get("fix") if isinstance(ctx.get("fix"), str) else _default_fix(kind)
    return Problem(what, where, fix)


_SECRET_WORDS = ("token", "secret", "password", "passwd", "pat", "api_key", "apikey", "credential")


def _key_fix(key: str, allowed: list[str]) -> str:
    if any(word in key.lower() for word in _SECRET_WORDS):
        return (
            "secrets never go in this file: remove it and keep credentials in a Databricks "
            "config profile (~/.databrickscfg) named by auth_profile, or in the environment"
        )
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}remove it or use one of: {', '.join(allowed)}" if allowed else "remove it"


def _shown_input(value: Any, *, composite: bool) -> str | None:
    """A short, safe rendering of the value read (scalars; containers only for type errors)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 60):
        return repr(value)
    if composite and isinstance(value, Mapping):
        return "a mapping"
    if composite and isinstance(value, list):
        return "a list"
    return None


def _default_fix(kind: str) -> str | None:
    if kind in ("literal_error", "enum"):
        return "use one of the listed values"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "give a value of the expected type (quote text that YAML reads as a number/bool)"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "use a value in the allowed range"
    if kind == "string_pattern_mismatch":
        return "use only the characters the pattern allows"
    return None


def _allowed_keys(model: type[BaseModel], loc: Loc, data: Any = None) -> list[str]:
    """Field names of the model found at ``loc`` inside ``model`` (empty if unknown).

    A model whose field holds a free mapping checked by another model chosen from the data
    (``source.options`` by ``source.type``) names it with a ``nested_model(field, data)``
    classmethod, so unknown keys there get a did-you-mean too.
    """
    current: Any = model
    value = data
    for part in loc:
        parent = current
        if isinstance(part, int):
            current = _item_type(current)
        elif isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part)
            current = info.annotation if info is not None else None
            hook = getattr(parent, "nested_model", None)
            chosen = hook(part, value) if callable(hook) else None
            current = chosen if chosen is not None else current
        else:
            return []
        value = _child(value, part)
        current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _child(value: Any, part: str | int) -> Any:
    if isinstance(part, int):
        return value[part] if isinstance(value, list) and part < len(value) else None
    return value.get(part) if isinstance(value, dict) else None


def _unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated down to the one model type inside, if there is one."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(inner[0]) if len(inner) == 1 else tp
    return tp


def _item_type(tp: Any) -> Any:
    tp = _unwrap(tp)
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (list, tuple, Sequence) and args:
        return args[0]
    return None
