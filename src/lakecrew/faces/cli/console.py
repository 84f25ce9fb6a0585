"""Output of the CLI: one place that renders results as text or JSON, errors, and progress.

- ``emit(state, Result(kind, items, meta), text=...)``: with ``--output json`` the envelope
  ``{"kind": ..., "items": [...], "meta": {...}}`` on stdout (sorted keys, ISO 8601 times in UTC,
  decimals as strings, maps as objects; the contract is in faces/cli/README.md and each kind's
  JSON Schema under faces/cli/schemas/); otherwise the ``text`` renderer writes through an
  :class:`~lakecrew.faces.cli.render.Out` (tables that wrap, tab-separated when piped).
- ``print_error(state, err)``: one line on stderr (a JSON object with ``--output json``).
- ``progress(state, description, total)``: a rich progress bar on stderr, silent with
  ``--output json`` or when stderr is not a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

from lakecrew.core.errors import LakecrewError
from lakecrew.faces.cli import schema_check
from lakecrew.faces.cli.jsonable import to_jsonable
from lakecrew.faces.cli.render import Col, Out, cell


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass
class CliState:
    """Global options, shared by every command through the click context."""

    project: Path
    output: OutputFormat = OutputFormat.TEXT
    debug: bool = False
    wide: bool = False

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.JSON


def stderr_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def dumps(value: Any) -> str:
    """Stable JSON text (sorted keys, two-space indent)."""
    return json.dumps(to_jsonable(value), sort_keys=True, indent=2, ensure_ascii=False)


@dataclass
class Result:
    """What a command returns: its ``kind`` (names the JSON Schema), the records it is about
    (``items``; one record for single-object commands) and everything else (``meta``)."""

    kind: str
    items: list[Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        return {"kind": self.kind, "items": to_jsonable(self.items), "meta": to_jsonable(self.meta)}


TextRenderer = Callable[[Out, Result], None]


def emit(state: CliState, result: Result, text: TextRenderer | None = None) -> None:
    """Render a command's result: the JSON envelope, or text (default: :func:`render_items`)."""
    if state.json:
        envelope = result.envelope()
        if schema_check.enabled():  # the test suite: every output against its JSON Schema
            schema_check.check(envelope)
        sys.stdout.write(dumps(envelope) + "\n")
        return
    (text or render_items)(Out(wide=state.wide), result)


def render_items(out: Out, result: Result) -> None:
    """Generic text: a table of the items (columns from their keys), then ``meta`` as lines;
    one item is shown as ``key: value`` lines."""
    items = [to_jsonable(i) for i in result.items]
    if len(items) == 1 and isinstance(items[0], dict):
        render_fields(out, items[0])
    elif items:
        keys = list(dict.fromkeys(k for i in items if isinstance(i, dict) for k in i))
        rows = [i if isinstance(i, dict) else {"value": i} for i in items]
        out.table([Col(k) for k in keys or ["value"]], rows)
    for key, value in to_jsonable(result.meta).items():
        out.note(f"{key}: {cell(value)}")


def render_fields(out: Out, data: dict[str, Any]) -> None:
    """One record as ``key: value`` lines (values rendered by :func:`cell`)."""
    for key, value in data.items():
        out.line(f"{key}: {cell(value)}")


def redact_text(text: str) -> str:
    """core.redact's ``redact_text``, imported when a warning or error is printed (compiling its
    patterns is ~15 ms that `lakecrew --help` and a successful command do not need)."""
    from lakecrew.core.redact import redact_text as redact

    return redact(text)


def warn(state: CliState, message: str) -> None:
    """A one-line warning on stderr (text mode only; JSON results carry their own warnings)."""
    if not state.json:
        stderr_console().print(f"warning: {redact_text(message)}", style="yellow", markup=False)


def print_error(state: CliState, err: LakecrewError) -> None:
    """The error as one line on stderr (or one JSON object with --output json)."""
    if state.json:
        payload: dict[str, Any] = {
            "error": {
                "type": type(err).__name__,
                "message": err.one_line(),
                "what": redact_text(err.what),
                "where": err.where and redact_text(err.where),
                "fix": err.fix and redact_text(err.fix),
                "exit_code": err.exit_code,
            }
        }
        problems = getattr(err, "problems", None)
        if problems:
            payload["error"]["problems"] = to_jsonable(list(problems))
        sys.stderr.write(json.dumps(payload, sort_keys=True) + "\n")
        return
    stderr_console().print(f"error: {err.one_line()}", style="red", markup=False)


def print_internal(state: CliState, exc: BaseException) -> None:
    """An unexpected exception, in one line (the traceback only with --debug)."""
    line = redact_text(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
    if state.json:
        sys.stderr.write(json.dumps({"error": {"type": "internal", "message": line}}) + "\n")
    else:
        stderr_console().print(line, style="red", markup=False)


class ProgressHandle:
    """What a command hands to a service as its progress callback(s)."""

    def __init__(self, progress: Progress | None, task: Any) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def update(
        self,
        *,
        completed: int | None = None,
        total: int | None = None,
        description: str | None = None,
    ) -> None:
        if self._progress is not None:
            self._progress.update(
                self._task, completed=completed, total=total, description=description
            )

    def report(self, done: int, total: int) -> None:
        """A ``Callable[[int, int], None]`` for services that report (done, total)."""
        self.update(completed=done, total=total)

    def step(self, label: str) -> None:
        """A ``Callable[[str], None]`` for services that report each finished item."""
        self.advance()


@contextmanager
def progress(
    state: CliState, description: str, total: int | None = None
) -> Iterator[ProgressHandle]:
    """A rich progress bar on stderr; a silent handle with --output json or without a TTY."""
    if state.json or not sys.stderr.isatty():
        yield ProgressHandle(None, None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    )
    with bar:
        yield ProgressHandle(bar, bar.add_task(description, total=total))
