"""`lakecrew --help`: the root group's help, drawn as typer draws it, without typer.rich_utils.

typer draws every --help through ``typer.rich_utils``, whose import loads rich.markdown
(markdown-it) and rich.traceback (pygments): about half of what `lakecrew --help` cost. The root's
help needs neither (its texts are rich markup, never Markdown), so this module draws it with the
same layout and styles from rich's console, panel and table alone. Every other command's --help
is typer's own. tests/unit/cli/test_lazy_commands.py compares the two renderings character for
character, in colour and without; a typer whose parameters lack what is used here makes
``draw`` raise ``AttributeError`` and the caller falls back to typer's renderer.
"""

from __future__ import annotations

import inspect
import os
from collections import defaultdict
from typing import Any

from rich.align import Align
from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme
from typer.core import TyperOption

# typer.rich_utils' styles (typer 0.29)
_THEME = {
    "option": "bold cyan",
    "switch": "bold green",
    "negative_option": "bold magenta",
    "negative_switch": "bold red",
    "types": "bold yellow",
    "types_sep": "dim",
    "usage": "yellow",
}
_BORDER = "dim"
_COMMAND = "bold cyan"
_DIM = "dim"
_PADDING = (0, 1)


class _Options(RegexHighlighter):
    highlights = [  # noqa: RUF012 - rich reads the patterns from this class attribute
        r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
        r"(?P<types>\<[^\>]+\>)",
        r"(?P<usage>Usage: )",
    ]


class _Negative(RegexHighlighter):
    highlights = [  # noqa: RUF012 - rich reads the patterns from this class attribute
        r"(^|\W)(?P<negative_switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<negative_option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
    ]


class _Types(RegexHighlighter):
    highlights = [  # noqa: RUF012 - rich reads the patterns from this class attribute
        r"^(?P<types_sep>(\[|<))",
        r"(?P<types_sep>\|)",
        r"(?P<types_sep>(\]|>))(\.\.\.)?$",
    ]


_options, _negative, _types = _Options(), _Negative(), _Types()


def _console() -> Console:
    width = os.getenv("TERMINAL_WIDTH")
    force = bool(os.getenv("GITHUB_ACTIONS") or os.getenv("FORCE_COLOR") or os.getenv("PY_COLORS"))
    return Console(
        theme=Theme(_THEME),
        highlighter=_options,
        color_system="auto",
        force_terminal=False if os.getenv("_TYPER_FORCE_DISABLE_TERMINAL") else force or None,
        width=int(width) if width else None,
    )


def _markup(text: str, style: str = "") -> Text:
    text = inspect.cleandoc(text)
    if "\033[" in text:
        return _options(Text.from_ansi(text, style=style))
    return _options(Text.from_markup(text, style=style))


def _help_text(help_text: str) -> Group:
    first, *rest = inspect.cleandoc(help_text).partition("\f")[0].split("\n\n")
    if not first.startswith("\b"):
        first = first.replace("\n", " ")
    parts: list[RenderableType] = [_markup(first.strip())]
    if rest:
        parts += [Text(""), _markup("\n\n".join(rest), style=_DIM)]
    return Group(*parts)


def _option_help(param: Any, ctx: Any) -> Columns:
    items: list[RenderableType] = []
    if param.help:
        paragraphs = [
            p.replace("\n", " ").strip() if not p.startswith("\b") else p.strip("\b\n") + "\n"
            for p in param.help.split("\n\n")
        ]
        items.append(_markup("\n".join(paragraphs).strip()))
    envvar = param.envvar
    if envvar is None and param.allow_from_autoenv and ctx.auto_envvar_prefix and param.name:
        envvar = f"{ctx.auto_envvar_prefix}_{param.name.upper()}"
    if envvar and param.show_envvar:
        shown = envvar if isinstance(envvar, str) else ", ".join(envvar)
        items.append(Text(f"[env var: {shown}]", style="dim yellow"))
    default = param._extract_default_help_str(ctx=ctx)
    show_is_str = isinstance(param.show_default, str)
    if show_is_str or (default is not None and (param.show_default or ctx.show_default)):
        text = param._get_default_string(
            ctx=ctx, show_default_is_str=show_is_str, default_value=default
        )
        if text:
            items.append(Text(f"[default: {text}]", style=_DIM))
    if param.required:
        items.append(Text("[required]", style="dim red"))
    return Columns(items)


def _options_panel(name: str, params: list[Any], ctx: Any) -> Panel | None:
    rows: list[list[RenderableType]] = []
    required: list[RenderableType] = []
    for param in params:
        opts = [o for o in param.opts if "--" in o], [o for o in param.opts if "--" not in o]
        second = [o for o in param.secondary_opts if "--" in o]
        second_short = [o for o in param.secondary_opts if "--" not in o]
        types = Text(style="bold yellow", overflow="fold")
        shown = param.display_type_rich(ctx=ctx)
        if shown is not None:
            types.append(shown)
        span = param._get_number_range_help_str()
        if span:
            types.append(f" [{span}]")
        required.append(Text("*", style="red") if param.required else "")
        rows.append(
            [
                _options(",".join(opts[0])),
                _options(",".join(opts[1])),
                _negative(",".join(second)),
                _negative(",".join(second_short)),
                _types(types),
                _option_help(param, ctx),
            ]
        )
    if not rows:
        return None
    table = Table(
        highlight=True, show_header=False, expand=True, box=None, padding=_PADDING, pad_edge=False
    )
    for mark, row in zip(required, rows, strict=True):
        table.add_row(*([mark, *row] if any(required) else row))
    return Panel(table, border_style=_BORDER, title=name, title_align="left")


def _commands_panel(name: str, commands: list[Any], width: int) -> Panel | None:
    table = Table(
        highlight=False, show_header=False, expand=True, box=None, padding=_PADDING, pad_edge=False
    )
    table.add_column(style=_COMMAND, no_wrap=True, width=width)
    table.add_column("Description", justify="left", no_wrap=False, ratio=10)
    deprecated = [Text("(deprecated) ", style="red") if c.deprecated else None for c in commands]
    for command, flag in zip(commands, deprecated, strict=True):
        first = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        first = first.replace("\b\n", "") if first.startswith("\b") else first
        row: list[RenderableType | None] = [
            Text(command.name or "", style=_DIM if command.deprecated else ""),
            _markup(first.strip()),
        ]
        table.add_row(*([*row, flag] if any(deprecated) else row))
    if not table.row_count:
        return None
    return Panel(table, border_style=_BORDER, title=name, title_align="left")


def draw(group: Any, ctx: Any) -> None:
    """Print ``group``'s help (a typer group whose parameters are all options) to stdout.

    Everything is built before anything is printed: a failure prints nothing."""
    parts: list[tuple[RenderableType | None, str | None]] = [
        (Padding(_options(group.get_usage(ctx)), 1), "bold")
    ]
    if group.help:
        parts.append((Padding(Align(_help_text(group.help), pad=False), (0, 1, 1, 1)), None))
    options: defaultdict[str, list[Any]] = defaultdict(list)
    for param in group.get_params(ctx):
        if not getattr(param, "hidden", False) and isinstance(param, TyperOption):
            options[getattr(param, "rich_help_panel", None) or "Options"].append(param)
    for name, params in sorted(options.items(), key=lambda item: item[0] != "Options"):
        parts.append((_options_panel(name, params, ctx), None))
    commands: defaultdict[str, list[Any]] = defaultdict(list)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            commands[getattr(command, "rich_help_panel", None) or "Commands"].append(command)
    width = max((len(c.name or "") for cs in commands.values() for c in cs), default=0)
    for name, listed in sorted(commands.items(), key=lambda item: item[0] != "Commands"):
        parts.append((_commands_panel(name, listed, width), None))
    if group.epilog:
        epilog = _markup("\n\n".join(group.epilog.split("\n\n")))
        parts.append((Padding(Align(epilog, pad=False), 1), None))
    console = _console()
    for renderable, style in parts:
        if renderable is not None:
            console.print(renderable, style=style)
