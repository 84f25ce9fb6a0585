"""The declarative value-filter language of SOP pack rules (after Cloud Custodian's value filters).

A filter is a tree of conditions over a REST-shaped object::

    filter:
      and:
        - {key: cluster_source, op: in, value: [UI, API]}
        - or:
            - {key: autotermination_minutes, op: absent}
            - {key: autotermination_minutes, op: eq, value: 0}

Keys are dotted paths: ``custom_tags.cost_center``, list indexes ``settings.tasks[0].max_retries``,
any element ``settings.tasks[*].max_retries`` (the condition holds if it holds for ANY element; no
elements → false), quoted keys for names with dots
``spark_conf["spark.databricks.cluster.profile"]``.
A key starting with ``$`` reads a *binding* instead of the object (``$env.spot_required``); a value
written exactly ``${pack.auto_termination.max_minutes}`` is replaced by that binding. Bindings are
resolved once, when the filter is compiled (see `compile_filter`).

Operators: eq ne lt le gt ge in not-in regex (anchored to the whole value) glob absent present
empty contains age. Missing values compare as None: ``ne``/``not-in`` hold, order comparisons
do not.
``age`` holds when a timestamp (epoch milliseconds, ISO 8601 text, or datetime) is older than the
duration in ``value`` ("30d", "12h", "45m", "90s"; a bare number means days) at the ``now``
passed to
`CompiledFilter.match`. ``ignore_case: true`` makes eq/ne/in/not-in/regex/glob/contains case-blind.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from lakecrew.core.errors import ConfigError

Op = Literal[
    "eq", "ne", "lt", "le", "gt", "ge", "in", "not-in", "regex", "glob",
    "absent", "present", "empty", "contains", "age",
]  # fmt: skip
NO_VALUE_OPS = frozenset({"absent", "present", "empty"})
Evidence = dict[str, Any]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
STAR = object()
_PATH_TOKEN = re.compile(r"""\[\*\]|\[(\d+)\]|\[["']([^"']+)["']\]|\.?([^.\[\]]+)""")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhms]?)\s*$")
_BINDING = re.compile(r"^\$\{([A-Za-z0-9_.\-]+)\}$")


def parse_path(path: str) -> tuple[Any, ...]:
    """``a.b[0].c[*]`` → ("a", "b", 0, "c", STAR); ValueError on a malformed path."""
    tokens: list[Any] = []
    pos = 0
    text = path[1:] if path.startswith("$") else path
    while pos < len(text):
        m = _PATH_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot parse path {path!r} at character {pos}")
        if m.group(0) == "[*]":
            tokens.append(STAR)
        elif m.group(1) is not None:
            tokens.append(int(m.group(1)))
        else:
            tokens.append(m.group(2) if m.group(2) is not None else m.group(3))
        pos = m.end()
    if not tokens:
        raise ValueError(f"empty path {path!r}")
    return tuple(tokens)


def resolve(doc: Any, tokens: Sequence[Any]) -> list[Any]:
    """All values at `tokens` in `doc` (one per `[*]` element; MISSING where a step is absent)."""
    current: list[Any] = [doc]
    for tok in tokens:
        nxt: list[Any] = []
        for node in current:
            if tok is STAR:
                if isinstance(node, list | tuple):
                    nxt.extend(node)
            elif isinstance(tok, int):
                ok = isinstance(node, list | tuple) and -len(node) <= tok < len(node)
                nxt.append(node[tok] if ok else MISSING)
            elif isinstance(node, Mapping):
                nxt.append(node.get(tok, MISSING))
            else:
                nxt.append(MISSING)
        current = nxt
    return current


def parse_duration(value: Any) -> timedelta:
    """ "30d" / "12h" / "45m" / "90s" / 7 (days) → timedelta; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return timedelta(days=float(value))
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30d, 12h, 45m, 90s)")
    unit = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds", "": "days"}[m.group(2)]
    return timedelta(**{unit: float(m.group(1))})


def to_datetime(value: Any) -> datetime | None:
    """Epoch milliseconds, ISO 8601 text or datetime → aware UTC datetime; None if not a time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool) or value is None or value is MISSING:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000.0, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


class Condition(BaseModel):
    """One test of the value at `key`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    op: Op
    value: Any = None
    ignore_case: bool = False

    @model_validator(mode="after")
    def _check(self) -> Condition:
        parse_path(self.key)
        if self.op not in NO_VALUE_OPS and self.value is None:
            raise ValueError(f"operator {self.op!r} needs a value")
        if self.op in ("in", "not-in") and not isinstance(self.value, list | str):
            raise ValueError(f"operator {self.op!r} needs a list value")
        if self.op == "regex" and isinstance(self.value, str) and not _BINDING.match(self.value):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r}: {exc}") from None
        if self.op == "age" and not (isinstance(self.value, str) and _BINDING.match(self.value)):
            parse_duration(self.value)
        return self


class AllOf(BaseModel):
    """All children hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    and_: list[FilterNode] = Field(alias="and", min_length=1)


class AnyOf(BaseModel):
    """At least one child holds."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    or_: list[FilterNode] = Field(alias="or", min_length=1)


class NotOf(BaseModel):
    """The child does not hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    not_: FilterNode = Field(alias="not")


def _node_kind(raw: Any) -> str:
    if isinstance(raw, BaseModel):
        return {AllOf: "and", AnyOf: "or", NotOf: "not"}.get(type(raw), "cond")
    if isinstance(raw, Mapping):
        for kind in ("and", "or", "not"):
            if kind in raw:
                return kind
    return "cond"


FilterNode = Annotated[
    Union[  # noqa: UP007 - pydantic tagged union
        Annotated[AllOf, Tag("and")],
        Annotated[AnyOf, Tag("or")],
        Annotated[NotOf, Tag("not")],
        Annotated[Condition, Tag("cond")],
    ],
    Discriminator(_node_kind),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


Matcher = Callable[[Any, datetime], Evidence | None]


class CompiledFilter:
    """A filter compiled once (bindings resolved, regexes and paths pre-parsed)."""

    def __init__(self, fn: Matcher, keys: tuple[str, ...]) -> None:
        self._fn = fn
        self.keys = keys

    def match(self, doc: Any, now: datetime | None = None) -> Evidence | None:
        """Evidence (key → offending value) if the filter holds for `doc`, else None."""
        return self._fn(doc, now or datetime.now(UTC))


def _binding(bindings: Mapping[str, Any], dotted: str) -> Any:
    values = resolve(bindings, parse_path(dotted))
    if not values or values[0] is MISSING:
        raise ConfigError(
            f"filter refers to {dotted!r}, which is not defined",
            fix="use $env.<field> or $pack.<field> of a field the pack defines",
        )
    return values[0]


def _substitute(value: Any, bindings: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and (m := _BINDING.match(value)):
        return _binding(bindings, m.group(1))
    if isinstance(value, list):
        return [_substitute(v, bindings) for v in value]
    return value


def _fold(v: Any, ignore_case: bool) -> Any:
    return v.casefold() if ignore_case and isinstance(v, str) else v


def _test_fn(cond: Condition, value: Any) -> Callable[[Any, datetime], bool]:
    op, ic = cond.op, cond.ignore_case
    if op in ("eq", "ne"):
        want = _fold(value, ic)
        if op == "eq":
            return lambda v, _n: _fold(None if v is MISSING else v, ic) == want
        return lambda v, _n: _fold(None if v is MISSING else v, ic) != want
    if op in ("lt", "le", "gt", "ge"):
        cmp: Callable[[Any, Any], Any] = {
            "lt": lambda a, b: a < b,
            "le": lambda a, b: a <= b,
            "gt": lambda a, b: a > b,
            "ge": lambda a, b: a >= b,
        }[op]

        def order(v: Any, _n: datetime) -> bool:
            if v is MISSING or v is None or isinstance(v, bool) != isinstance(value, bool):
                return False
            try:
                return bool(cmp(v, value))
            except TypeError:
                return False

        return order
    if op in ("in", "not-in"):
        members = {_fold(x, ic) for x in (value if isinstance(value, list) else [value])}
        if op == "in":
            return lambda v, _n: _hashable(_fold(None if v is MISSING else v, ic)) in members
        return lambda v, _n: _hashable(_fold(None if v is MISSING else v, ic)) not in members
    if op in ("regex", "glob"):
        pattern = fnmatch.translate(str(value)) if op == "glob" else str(value)
        rx = re.compile(pattern, re.IGNORECASE if ic else 0)
        return lambda v, _n: isinstance(v, str) and rx.fullmatch(v) is not None
    if op == "absent":
        return lambda v, _n: v is MISSING or v is None
    if op == "present":
        return lambda v, _n: v is not MISSING and v is not None
    if op == "empty":
        return lambda v, _n: _is_empty(v)
    if op == "contains":
        return lambda v, _n: _contains(v, value, ic)
    age = parse_duration(value)

    def older(v: Any, now: datetime) -> bool:
        ts = to_datetime(v)
        return ts is not None and now - ts > age

    return older


def _hashable(v: Any) -> Any:
    return v if isinstance(v, str | int | float | bool | type(None)) else repr(v)


def _is_empty(v: Any) -> bool:
    if v is MISSING or v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    if isinstance(v, list | tuple | dict | set):
        return len(v) == 0
    return False


def _contains(v: Any, item: Any, ic: bool) -> bool:
    if isinstance(v, str) and isinstance(item, str):
        return _fold(item, ic) in _fold(v, ic)
    if isinstance(v, list | tuple | set):
        return any(_fold(x, ic) == _fold(item, ic) for x in v)
    if isinstance(v, Mapping):
        return any(_fold(k, ic) == _fold(item, ic) for k in v)
    return False


def _compile_condition(cond: Condition, bindings: Mapping[str, Any]) -> Matcher:
    value = _substitute(cond.value, bindings)
    test = _test_fn(cond, value)
    key = cond.key
    if key.startswith("$"):
        constant = resolve(bindings, parse_path(key))[0]
        holds = test(constant, datetime.now(UTC)) if cond.op != "age" else None
        if holds is not None:
            result: Evidence | None = {} if holds else None
            return lambda _doc, _now: result
    tokens = parse_path(key)
    fanout = STAR in tokens
    if not fanout and len(tokens) == 1:
        single = tokens[0]

        def leaf1(doc: Any, now: datetime) -> Evidence | None:
            v = doc.get(single, MISSING) if isinstance(doc, Mapping) else MISSING
            return {key: None if v is MISSING else v} if test(v, now) else None

        return leaf1

    def leaf(doc: Any, now: datetime) -> Evidence | None:
        values = resolve(doc, tokens)
        hits = [v for v in values if test(v, now)]
        if not hits:
            return None
        shown = [None if v is MISSING else v for v in hits]
        return {key: shown if fanout else shown[0]}

    return leaf


def _keys(node: Any) -> list[str]:
    if isinstance(node, Condition):
        return [node.key]
    children = (
        node.and_
        if isinstance(node, AllOf)
        else node.or_
        if isinstance(node, AnyOf)
        else [node.not_]
    )
    return [k for child in children for k in _keys(child)]


def _compile(node: Any, bindings: Mapping[str, Any]) -> Matcher:
    if isinstance(node, Condition):
        return _compile_condition(node, bindings)
    if isinstance(node, AllOf):
        parts = [_compile(c, bindings) for c in node.and_]

        def all_of(doc: Any, now: datetime) -> Evidence | None:
            evidence: Evidence = {}
            for part in parts:
                got = part(doc, now)
                if got is None:
                    return None
                evidence.update(got)
            return evidence

        return all_of
    if isinstance(node, AnyOf):
        parts = [_compile(c, bindings) for c in node.or_]

        def any_of(doc: Any, now: datetime) -> Evidence | None:
            evidence: Evidence | None = None
            for part in parts:
                got = part(doc, now)
                if got is not None:
                    evidence = {**(evidence or {}), **got}
            return evidence

        return any_of
    inner = _compile(node.not_, bindings)
    shown = [(k, parse_path(k)) for k in _keys(node.not_) if not k.startswith("$")]

    def not_of(doc: Any, now: datetime) -> Evidence | None:
        if inner(doc, now) is not None:
            return None
        evidence: Evidence = {}
        for key, tokens in shown:
            vals = [None if v is MISSING else v for v in resolve(doc, tokens)]
            evidence[key] = vals if STAR in tokens else (vals[0] if vals else None)
        return evidence

    return not_of


def parse_filter(raw: Any) -> AllOf | AnyOf | NotOf | Condition:
    """Validate a raw (YAML-loaded) filter; pydantic ValidationError on bad input."""
    from pydantic import TypeAdapter

    adapter: TypeAdapter[AllOf | AnyOf | NotOf | Condition] = TypeAdapter(FilterNode)
    return adapter.validate_python(raw)


def compile_filter(node: Any, bindings: Mapping[str, Any] | None = None) -> CompiledFilter:
    """Compile a filter (model or raw dict) once; `bindings` feed ``$x.y`` keys and ``${x.y}``."""
    model = node if isinstance(node, BaseModel) else parse_filter(node)
    return CompiledFilter(_compile(model, bindings or {}), tuple(_keys(model)))
