"""Text output of every command: cells, tables and lines (see faces/cli/README.md).

- On a terminal: rich tables that wrap to its width; a long value is folded onto more lines,
  never cut with "…". Columns marked ``wide`` appear only with ``--wide``.
- Piped or redirected (stdout not a terminal, like ``gh``): one line per row, the full values of
  every column separated by tabs, no header and no decoration (a titled table of a multi-table
  report is preceded by one ``# title`` line); notes go to stderr.
- Every value goes through :func:`cell`: NULL for None, ISO 8601 for times, compact JSON for
  maps and lists, ``0x…`` for bytes — never a Python repr.

``LAKECREW_FORCE_TTY=1`` (or a width, e.g. ``=100``) renders as on a terminal when piped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from rich.console import Console
from rich.table import Table

from lakecrew.faces.cli.jsonable import scalar_text, to_jsonable

NULL = "NULL"


def cell(value: Any) -> str:
    """One value as text: NULL, true/false, ISO times, compact JSON for maps and lists, 0x bytes."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Enum):
        return cell(value.value)
    text = scalar_text(value)
    if text is not None:
        return text
    if isinstance(value, Mapping | list | tuple | set | frozenset) or dataclasses.is_dataclass(
        value
    ):
        return json.dumps(to_jsonable(value), ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def money(value: Any, currency: str = "USD") -> str:
    """An amount with thousands separators and two decimals: ``$12,345.60`` (USD) or ``12,345.60
    EUR``."""
    if value is None:
        return NULL
    amount = Decimal(str(value))
    sign, text = ("-" if amount < 0 else ""), f"{abs(amount):,.2f}"
    return f"{sign}${text}" if currency == "USD" else f"{sign}{text} {currency}"


def percent(value: Any) -> str:
    """A percentage number (already ×100, the JSON convention) as ``12.5%``."""
    return NULL if value is None else f"{float(value):.1f}%"


@dataclass(frozen=True)
class Col:
    """A table column: the row key, its header, whether only ``--wide`` shows it, a formatter."""

    key: str
    header: str = ""
    wide: bool = False
    fmt: Callable[[Any], str] = cell
    justify: str = "left"

    @property
    def title(self) -> str:
        return self.header or self.key.replace("_", " ")


def _forced_width() -> int | None:
    raw = os.environ.get("LAKECREW_FORCE_TTY", "")
    if not raw or raw == "0":
        return None
    return int(raw) if raw.isdigit() and int(raw) > 1 else 0


class Out:
    """Where a command's text goes: a rich console on a terminal, plain tab-separated lines when
    piped. Text renderers receive one (``emit(state, result, text=renderer)``)."""

    def __init__(self, *, wide: bool = False, file: Any = None) -> None:
        forced = _forced_width()
        stream = file if file is not None else sys.stdout
        self.tty = forced is not None or stream.isatty()
        self.wide = wide
        width = forced or None
        self.console = Console(
            file=stream,
            soft_wrap=not self.tty,
            highlight=False,
            width=width,
            force_terminal=False if forced is not None else None,
        )

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """A line of prose (printed as is; never parsed as markup)."""
        self.console.print(text, markup=False, style=style if self.tty else None)

    def note(self, text: str) -> None:
        """A footer or hint: on the terminal after the table; on stderr when piped."""
        if self.tty:
            self.console.print(text, markup=False, style="dim")
        else:
            sys.stderr.write(text + "\n")

    def table(
        self,
        columns: Sequence[Col],
        rows: Iterable[Mapping[str, Any]],
        *,
        title: str | None = None,
    ) -> None:
        """Rows as a table (terminal) or as tab-separated full values (piped; all columns)."""
        if not self.tty:
            if title:
                self.console.file.write(f"# {title}\n")
            for row in rows:
                values = (_flat(c.fmt(row.get(c.key))) for c in columns)
                self.console.file.write("\t".join(values) + "\n")
            return
        shown = [c for c in columns if self.wide or not c.wide]
        table = Table(title=title, title_justify="left")
        for col in shown:
            table.add_column(col.title, overflow="fold", justify=col.justify)  # type: ignore[arg-type]
        for row in rows:
            table.add_row(*(c.fmt(row.get(c.key)) for c in shown))
        self.console.print(table)


def _flat(text: str) -> str:
    """A value on one TSV field: tabs and newlines become spaces."""
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
