"""ToolBox: every crew capability as a typed tool, bound to one project.

The tool functions (read_tools.py, proposals.py) are plain typed functions over `AssistDeps`;
this module turns them into `ToolSpec`s (ports/agents.py) whose `call`:

1. checks the arguments against the declared params (unknown, missing or mistyped → an error
   result the model can read, never an exception);
2. runs the function; a LakecrewError becomes `{"error": one line}`;
3. masks the result with the one redactor (core/redact.py: secrets and PII keys, as reports and
   the ledger do) and wraps it as `{"tool", "data"}` — data, never instructions;
4. cuts it to `max_chars` (saying so) and records the call (tool, arguments, result size,
   seconds, error) for the run's ledger row.

The smolagents adapter, the MCP server and the tests all call tools through here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakecrew.core.errors import LakecrewError
from lakecrew.core.redact import redact, redact_text
from lakecrew.ports.agents import Param, ToolKind, ToolSpec

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@dataclass(frozen=True)
class ToolDef:
    """A tool function with what the model needs to know to call it."""

    name: str
    fn: Callable[..., Any]
    description: str
    params: tuple[Param, ...]
    returns: str
    kind: ToolKind = "read"


@dataclass(frozen=True)
class CallRecord:
    tool: str
    arguments: dict[str, Any]
    result_chars: int
    seconds: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "arguments": self.arguments,
            "result_chars": self.result_chars,
            "seconds": round(self.seconds, 4),
            "error": self.error,
        }


@dataclass
class ToolBox:
    """The tools of one project; `calls` is the trace of the current run."""

    defs: Sequence[ToolDef]
    max_chars: int = 8000
    calls: list[CallRecord] = field(default_factory=list)

    def specs(self, kinds: Sequence[ToolKind] = ("read", "proposal")) -> list[ToolSpec]:
        return [
            ToolSpec(d.name, d.description, d.params, d.returns, d.kind, self._bound(d))
            for d in self.defs
            if d.kind in kinds
        ]

    def names(self) -> list[str]:
        return [d.name for d in self.defs]

    def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool by name and parse its JSON (tests, scripted sequences, evaluation)."""
        for d in self.defs:
            if d.name == name:
                parsed: dict[str, Any] = json.loads(self._bound(d)(dict(arguments or {})))
                return parsed
        raise LakecrewError(f"no tool {name!r}", fix=f"one of {', '.join(self.names())}")

    def take_calls(self) -> list[CallRecord]:
        out, self.calls = self.calls, []
        return out

    def _bound(self, d: ToolDef) -> Callable[[Mapping[str, Any]], str]:
        def call(arguments: Mapping[str, Any]) -> str:
            start = time.perf_counter()
            args = {k: v for k, v in dict(arguments).items() if v is not None}
            error = check_arguments(d.params, args)
            result: Any
            if error is None:
                try:
                    result = {"tool": d.name, "data": redact(d.fn(**args))}
                except LakecrewError as e:
                    error = e.one_line()
            if error is not None:
                result = {"tool": d.name, "error": redact_text(error)}
            text = _fit(result, self.max_chars)
            self.calls.append(
                CallRecord(d.name, redact(args), len(text), time.perf_counter() - start, error)
            )
            return text

        return call


def check_arguments(params: Sequence[Param], args: Mapping[str, Any]) -> str | None:
    """The first problem with `args`, or None."""
    known = {p.name: p for p in params}
    for name in args:
        if name not in known:
            return f"unknown argument {name!r}; this tool takes: {', '.join(known) or 'none'}"
    for p in params:
        if p.name not in args:
            if p.required:
                return f"missing argument {p.name!r} ({p.type}): {p.description}"
            continue
        value = args[p.name]
        ok = isinstance(value, _PY_TYPES[p.type]) and not (
            p.type in ("integer", "number") and isinstance(value, bool)
        )
        if not ok:
            return f"argument {p.name!r} must be a {p.type}, got {type(value).__name__}"
    return None


def _fit(result: dict[str, Any], max_chars: int) -> str:
    """Compact JSON of `result` within `max_chars`: the longest list is halved until it fits
    (and `cut` says so); still too long, an error asking for a narrower request."""
    text = json.dumps(result, default=str, ensure_ascii=False)
    shortened = False
    for _ in range(40):
        if len(text) <= max_chars:
            return text
        longest = _longest_list(result)
        if longest is None or len(longest) <= 1:
            break
        del longest[max(1, len(longest) // 2) :]
        shortened = True
        result["cut"] = f"lists shortened to fit {max_chars} chars; narrow the request"
        text = json.dumps(result, default=str, ensure_ascii=False)
    if len(text) <= max_chars and shortened:
        return text
    return json.dumps(
        {"tool": result.get("tool"), "error": f"result over {max_chars} chars; narrow it"}
    )


def _longest_list(value: Any) -> list[Any] | None:
    best: list[Any] | None = None
    best_size = -1
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            size = len(json.dumps(v, default=str))
            if len(v) > 1 and size > best_size:
                best, best_size = v, size
            stack.extend(v)
    return best
